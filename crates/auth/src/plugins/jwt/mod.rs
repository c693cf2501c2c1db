//! The jwt plugin (upstream `packages/better-auth/src/plugins/jwt/`): `GET /token`,
//! `GET /jwks` and the `set-auth-jwt` header on `/get-session`.

pub mod config;
pub mod keys;
mod signer;

use actix_web::http::header::CACHE_CONTROL;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

pub use signer::{signing_row, JwtSigner};

use std::sync::Arc;

use actix_web::http::header::{HeaderName, HeaderValue};

use super::{After, Event, Plugin};
use crate::config::ConfigError;
use crate::error::ApiResult;
use crate::rate_limit::Rule;
use crate::routes::session;
use crate::state::AppState;

/// How long API consumers may cache `/jwks`. New keys are published when they are made,
/// and verifiers refetch on an unknown `kid`, so a few minutes is safe.
const JWKS_MAX_AGE: u32 = 300;

/// The plugin. Its options (`[plugins.jwt]`, or the earlier top-level `[jwt]`, and
/// `BETTER_AUTH_JWT_*`) are read by `config::take_options` into `Config::jwt`; by the time
/// the plugin table reaches here only `enabled` is left in it.
pub struct JwtPlugin;

pub fn plugin(table: Option<&toml::Table>) -> Result<Arc<dyn Plugin>, ConfigError> {
    super::options::<super::NoOptions>("jwt", table)?;
    Ok(Arc::new(JwtPlugin))
}

#[async_trait::async_trait(?Send)]
impl Plugin for JwtPlugin {
    fn id(&self) -> &'static str {
        "jwt"
    }

    fn exposed_headers(&self) -> &'static [&'static str] {
        &["set-auth-jwt"]
    }

    fn routes(&self, api: &mut crate::routes::Api) {
        use crate::routes::api::schema::*;
        use crate::routes::Doc;
        let e = api.endpoint("/token", Rule::Default).get(
            token,
            Doc::new(
                "getJSONWebToken",
                "A JWT for the signed-in user, for your APIs",
            )
            .ok(object(&[("token", string())], &["token"]))
            .signed_in(),
        );
        api.add(e);
        let key = object(
            &[
                ("kid", string()),
                ("kty", string()),
                ("alg", string()),
                ("crv", string()),
                ("x", string()),
            ],
            &["kid", "kty"],
        );
        let e = api.endpoint("/jwks", Rule::Default).get(
            jwks,
            Doc::new("getJSONWebKeySet", "The public keys that verify the JWTs")
                .ok(object(&[("keys", array(key))], &["keys"])),
        );
        api.add(e);
    }

    /// `set-auth-jwt` on get-session: the same JWT as /token, for a live session.
    async fn after(&self, state: &AppState, after: &mut After<'_>) -> ApiResult<()> {
        if !state.config.jwt.set_jwt_header {
            return Ok(());
        }
        let read = after.events.iter().find_map(|e| match e {
            Event::SessionRead(current) => Some(current),
            _ => None,
        });
        if let Some(current) = read {
            let jwt = state.jwt.token_for(&state.store, &current.user).await?;
            if let Ok(value) = HeaderValue::from_str(&jwt) {
                after
                    .headers
                    .insert(HeaderName::from_static("set-auth-jwt"), value);
            }
        }
        Ok(())
    }
}

/// `GET /token` → `{"token": "<JWT>"}` for the signed-in user, else 401.
async fn token(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let auth = session::require_cached(&req, &state).await?;
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
