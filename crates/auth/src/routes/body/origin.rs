//! The origin check that runs on every state-changing request
//! (`api/middlewares/origin-check.ts`) and the login CSRF check of sign-in and sign-up.

use actix_web::http::header::{COOKIE, ORIGIN, REFERER};
use actix_web::HttpRequest;
use serde_json::Value;

use crate::error::{ApiError, ApiResult, UrlField};
use crate::state::AppState;

/// The request's `Origin`, or the origin of its `Referer`.
fn request_origin(req: &HttpRequest) -> Option<String> {
    let header = |name| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    header(ORIGIN).or_else(|| header(REFERER))
}

/// Requests carrying cookies need a trusted Origin (CSRF); redirect-like fields must point
/// to trusted origins or safe relative paths, cookies or not.
pub(super) fn origin_check(
    req: &HttpRequest,
    body: Option<&Value>,
    state: &AppState,
) -> ApiResult<()> {
    if req.headers().contains_key(COOKIE) {
        check_request_origin(req, state)?;
    }
    let Some(Value::Object(map)) = body else {
        return Ok(());
    };
    for field in [
        UrlField::CallbackUrl,
        UrlField::RedirectTo,
        UrlField::ErrorCallbackUrl,
        UrlField::NewUserCallbackUrl,
    ] {
        match map.get(field.body_key()) {
            None | Some(Value::Null) => {}
            Some(Value::String(url)) if url.is_empty() => {}
            Some(Value::String(url)) => {
                if !state.origins.is_trusted_callback(url) {
                    return Err(ApiError::InvalidUrlField(field));
                }
            }
            Some(_) => return Err(ApiError::UrlFieldNotString(field)),
        }
    }
    Ok(())
}

fn check_request_origin(req: &HttpRequest, state: &AppState) -> ApiResult<()> {
    match request_origin(req) {
        None => Err(ApiError::MissingOrNullOrigin),
        Some(o) if o == "null" => Err(ApiError::MissingOrNullOrigin),
        Some(o) if state.origins.is_trusted(&o) => Ok(()),
        Some(_) => Err(ApiError::InvalidOrigin),
    }
}

/// Login CSRF protection for sign-in and sign-up (`formCsrfMiddleware`): a cross-site
/// top-level navigation is refused, and an Origin, when sent, must be trusted.
pub fn form_csrf_check(req: &HttpRequest, state: &AppState) -> ApiResult<()> {
    if req.headers().contains_key(COOKIE) {
        return Ok(()); // already checked by the origin check
    }
    let fetch = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase)
    };
    let site = fetch("sec-fetch-site");
    let mode = fetch("sec-fetch-mode");
    let has_metadata = site.is_some() || mode.is_some() || fetch("sec-fetch-dest").is_some();
    if has_metadata {
        if site.as_deref() == Some("cross-site") && mode.as_deref() == Some("navigate") {
            return Err(ApiError::CrossSiteNavigationLoginBlocked);
        }
        return check_request_origin(req, state);
    }
    if request_origin(req).is_some() {
        return check_request_origin(req, state);
    }
    Ok(())
}

/// `originCheck(getter)` on GET endpoints: a callback URL in the query must be trusted.
pub fn check_callback_url(state: &AppState, url: Option<&str>) -> ApiResult<()> {
    match url {
        Some(url) if !url.is_empty() && !state.origins.is_trusted_callback(url) => {
            Err(ApiError::InvalidUrlField(UrlField::CallbackUrl))
        }
        _ => Ok(()),
    }
}
