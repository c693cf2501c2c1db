//! The bearer plugin (upstream `packages/better-auth/src/plugins/bearer/index.ts`):
//! `Authorization: Bearer <token>` or `<token>.<signature>` works wherever the session cookie
//! does, and responses that set the session cookie also carry `set-auth-token`.

use std::sync::Arc;

use actix_web::http::header::{HeaderName, HeaderValue, AUTHORIZATION};
use actix_web::HttpRequest;
use percent_encoding::percent_decode_str;

use super::{After, Plugin};
use crate::config::{Config, ConfigError};
use crate::error::ApiResult;
use crate::state::AppState;

/// The session token from `Authorization: Bearer ...`, if present and acceptable: a signed
/// value must carry a valid signature (base64 or base64url); a raw token is taken as is,
/// like upstream without `requireSignature`.
pub fn session_token(req: &HttpRequest, config: &Config) -> Option<String> {
    let header = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, value) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let value = value.trim();
    let value = if value.contains('%') {
        percent_decode_str(value).decode_utf8().ok()?.into_owned()
    } else {
        value.to_owned()
    };
    if value.is_empty() {
        return None;
    }
    if !value.contains('.') {
        return Some(value);
    }
    if let Some(token) = config.secrets.verify(&value) {
        return Some(token.to_owned());
    }
    // A base64url signature (without padding) is accepted too.
    let (token, signature) = value.rsplit_once('.')?;
    let mut standard = signature.replace('-', "+").replace('_', "/");
    while standard.len() % 4 != 0 {
        standard.push('=');
    }
    config
        .secrets
        .verify(&format!("{token}.{standard}"))
        .map(str::to_owned)
}

/// The plugin: no options.
pub struct BearerPlugin;

pub fn plugin(table: Option<&toml::Table>) -> Result<Arc<dyn Plugin>, ConfigError> {
    super::options::<super::NoOptions>("bearer", table)?;
    Ok(Arc::new(BearerPlugin))
}

#[async_trait::async_trait(?Send)]
impl Plugin for BearerPlugin {
    fn id(&self) -> &'static str {
        "bearer"
    }

    fn exposed_headers(&self) -> &'static [&'static str] {
        &["set-auth-token"]
    }

    fn session_token(&self, req: &HttpRequest, config: &Config) -> Option<String> {
        session_token(req, config)
    }

    /// A response that sets a live session cookie also gets `set-auth-token:
    /// <token>.<signature>` for clients that keep bearer tokens.
    async fn after(&self, state: &AppState, after: &mut After<'_>) -> ApiResult<()> {
        let name = &state.cookies.session_token;
        let signed = after
            .sets_cookie(name)
            .find(|c| !c.contains("Max-Age=0"))
            .and_then(|c| c[name.len() + 1..].split(';').next())
            .filter(|v| !v.is_empty())
            .and_then(|v| {
                percent_decode_str(v)
                    .decode_utf8()
                    .ok()
                    .map(|v| v.into_owned())
            })
            .and_then(|v| HeaderValue::from_str(&v).ok());
        if let Some(value) = signed {
            after
                .headers
                .insert(HeaderName::from_static("set-auth-token"), value);
        }
        Ok(())
    }
}
