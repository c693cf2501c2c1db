//! `POST /sign-out` (upstream `routes/sign-out.ts`).

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::body::{Body, RequestBody, Shape, Validator};
use crate::cookies;
use crate::error::ApiResult;
use crate::state::AppState;

/// The optional body of `/sign-out`: validated as upstream, not used (we never redirect).
pub struct SignOut;

impl RequestBody for SignOut {
    const SHAPE: Shape = Shape::OptionalObject;

    fn read(v: &mut Validator<'_>) -> Option<Self> {
        v.opt_string("callbackURL");
        v.opt_bool("disableRedirect");
        v.opt_string("state");
        Some(SignOut)
    }
}

pub async fn sign_out(
    req: HttpRequest,
    state: web::Data<AppState>,
    _: Body<SignOut>,
) -> ApiResult<HttpResponse> {
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
