//! The jwt plugin (upstream `packages/better-auth/src/plugins/jwt/`): `GET /token`,
//! `GET /jwks` and the `set-auth-jwt` header on `/get-session`.

pub mod keys;
mod signer;

use actix_web::http::header::CACHE_CONTROL;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

pub use signer::{signing_row, JwtSigner};

use crate::error::ApiResult;
use crate::rate_limit::Rule;
use crate::routes::session;
use crate::state::AppState;

/// How long API consumers may cache `/jwks`. New keys are published when they are made,
/// and verifiers refetch on an unknown `kid`, so a few minutes is safe.
const JWKS_MAX_AGE: u32 = 300;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(crate::routes::resource("/token", Rule::Default).route(web::get().to(token)))
        .service(crate::routes::resource("/jwks", Rule::Default).route(web::get().to(jwks)));
}

/// `GET /token` → `{"token": "<JWT>"}` for the signed-in user, else 401.
async fn token(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let auth = session::require(&req, &state).await?;
    let jwt = state
        .jwt
        .token_for(&state.store, &auth.current.user)
        .await?;
    Ok(crate::routes::json_with_cookies(
        &json!({ "token": jwt }),
        auth.set_cookies,
    ))
}

/// `GET /jwks` → the public keys.
async fn jwks(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let body = state.jwt.jwks_body(&state.store).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((CACHE_CONTROL, format!("public, max-age={JWKS_MAX_AGE}")))
        .body(body))
}
