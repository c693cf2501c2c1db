//! Better Auth's endpoints under the base path, one module per upstream route file.

pub mod body;
mod ok_error;
pub(crate) mod session;
mod sign_in;
mod sign_out;
mod sign_up;

use actix_web::http::header::{HeaderValue, SET_COOKIE, USER_AGENT};
use actix_web::{web, HttpRequest, HttpResponse, HttpResponseBuilder, ResponseError};
use serde::Serialize;

use crate::config::Config;
use crate::crypto::random;
use crate::error::ApiError;
use crate::models::{Session, Timestamp};

/// Registers every endpoint. A known path with another method is a 404 with an empty body,
/// as upstream's router answers (there is no 405).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/sign-up/email").route(web::post().to(sign_up::sign_up_email)))
        .service(resource("/sign-in/email").route(web::post().to(sign_in::sign_in_email)))
        .service(resource("/sign-out").route(web::post().to(sign_out::sign_out)))
        .service(
            resource("/get-session")
                .route(web::get().to(session::get_session))
                .route(web::post().to(session::post_get_session)),
        )
        .service(resource("/ok").route(web::get().to(ok_error::ok)))
        .service(resource("/error").route(web::get().to(ok_error::error_page)))
        .configure(crate::plugins::jwt::configure);
}

pub(crate) fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(not_found))
}

/// Empty 404, no content type: unknown paths and wrong methods.
pub async fn not_found() -> HttpResponse {
    HttpResponse::NotFound().finish()
}

/// A JSON 200 carrying `Set-Cookie` headers, one per cookie.
pub(crate) fn json_with_cookies(body: &impl Serialize, cookies: Vec<String>) -> HttpResponse {
    let mut builder = HttpResponse::Ok();
    add_cookies(&mut builder, cookies);
    builder.json(body)
}

/// An error answer that still carries `Set-Cookie` headers (e.g. expiring a stale cookie).
pub(crate) fn error_with_cookies(error: &ApiError, cookies: Vec<String>) -> HttpResponse {
    let mut response = error.error_response();
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(SET_COOKIE, value);
        }
    }
    response
}

fn add_cookies(builder: &mut HttpResponseBuilder, cookies: Vec<String>) {
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            builder.append_header((SET_COOKIE, value));
        }
    }
}

/// A new session row for a user. "Don't remember" sessions live one day, as upstream.
fn new_session(req: &HttpRequest, config: &Config, user_id: &str, remember: bool) -> Session {
    let now = Timestamp::now();
    let lifetime = if remember {
        config.session.expires_in
    } else {
        86_400
    };
    Session {
        id: random::id(),
        token: random::session_token(),
        user_id: user_id.to_owned(),
        expires_at: now.plus_seconds(lifetime),
        created_at: now,
        updated_at: now,
        // X-Forwarded-For only counts behind a configured trusted proxy.
        ip_address: Some(
            crate::client_ip::client_ip(
                req.peer_addr().map(|a| a.ip()),
                req.headers(),
                &config.trusted_proxies,
            )
            .map(|ip| ip.to_string())
            .unwrap_or_default(),
        ),
        user_agent: Some(
            req.headers()
                .get(USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned(),
        ),
    }
}
