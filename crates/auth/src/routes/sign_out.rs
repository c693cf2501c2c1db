//! `POST /sign-out` (upstream `routes/sign-out.ts`).

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::body::{self, MediaTypes, Validator};
use crate::cookies;
use crate::error::ApiResult;
use crate::state::AppState;

pub async fn sign_out(
    req: HttpRequest,
    state: web::Data<AppState>,
    bytes: web::Bytes,
) -> ApiResult<HttpResponse> {
    let body = body::read(&req, &bytes, &state, MediaTypes::Json)?;
    let mut v = Validator::optional_object(body.as_ref())?;
    v.opt_string("callbackURL");
    v.opt_bool("disableRedirect");
    v.finish()?;

    if let Some(token) = cookies::session_token(&req, &state.config, &state.cookies) {
        // Upstream ignores failures here: the cookies are cleared either way.
        if let Err(e) = state.sessions.delete(&token).await {
            tracing::warn!(error = %e, "deleting the session on sign-out failed");
        }
    }
    Ok(super::json_with_cookies(
        &json!({ "success": true }),
        cookies::expire_session_cookies(&req, &state.cookies),
    ))
}
