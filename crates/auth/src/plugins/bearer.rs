//! The bearer plugin (upstream `packages/better-auth/src/plugins/bearer/index.ts`):
//! `Authorization: Bearer <token>` or `<token>.<signature>` works wherever the session cookie
//! does, and responses that set the session cookie also carry `set-auth-token`.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue, AUTHORIZATION, SET_COOKIE};
use actix_web::middleware::Next;
use actix_web::{web, HttpRequest};
use percent_encoding::percent_decode_str;

use crate::config::Config;
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

/// After every endpoint: a response that sets a live session cookie also gets
/// `set-auth-token: <token>.<signature>` for clients that keep bearer tokens.
pub async fn set_auth_token(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let cookie_name = req
        .app_data::<web::Data<AppState>>()
        .map(|s| format!("{}=", s.cookies.session_token));
    let mut res = next.call(req).await?;
    let Some(prefix) = cookie_name else {
        return Ok(res);
    };
    let signed = res
        .headers()
        .get_all(SET_COOKIE)
        .filter_map(|v| v.to_str().ok())
        .filter(|c| !c.contains("Max-Age=0"))
        .find_map(|c| c.strip_prefix(prefix.as_str()))
        .and_then(|rest| rest.split(';').next())
        .filter(|v| !v.is_empty())
        .and_then(|v| percent_decode_str(v).decode_utf8().ok())
        .and_then(|v| HeaderValue::from_str(&v).ok());
    if let Some(value) = signed {
        res.headers_mut()
            .insert(HeaderName::from_static("set-auth-token"), value);
    }
    Ok(res)
}
