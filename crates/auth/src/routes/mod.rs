//! Better Auth's endpoints under the base path, one module per upstream route file.

mod accounts;
pub mod body;
mod email_verification;
mod ok_error;
mod password;
pub(crate) mod session;
mod sign_in;
mod sign_out;
mod sign_up;
mod social;
mod update_user;

use actix_web::http::header::{HeaderValue, LOCATION, SET_COOKIE, USER_AGENT};
use actix_web::{web, HttpRequest, HttpResponse, HttpResponseBuilder};
use serde::Serialize;

use crate::config::Config;
use crate::cookies;
use crate::crypto::random;
use crate::models::{Session, Timestamp};
use crate::state::AppState;

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
        .service(
            resource("/send-verification-email")
                .route(web::post().to(email_verification::send_verification_email)),
        )
        .service(resource("/verify-email").route(web::get().to(email_verification::verify_email)))
        .service(
            resource("/request-password-reset")
                .route(web::post().to(password::request_password_reset)),
        )
        .service(
            resource("/reset-password/{token}")
                .route(web::get().to(password::reset_password_callback)),
        )
        .service(resource("/reset-password").route(web::post().to(password::reset_password)))
        .service(resource("/verify-password").route(web::post().to(password::verify_password)))
        .service(resource("/update-user").route(web::post().to(update_user::update_user)))
        .service(resource("/change-password").route(web::post().to(update_user::change_password)))
        .service(resource("/change-email").route(web::post().to(update_user::change_email)))
        .service(resource("/delete-user").route(web::post().to(update_user::delete_user)))
        .service(
            resource("/delete-user/callback")
                .route(web::get().to(update_user::delete_user_callback)),
        )
        .service(resource("/list-sessions").route(web::get().to(session::list_sessions)))
        .service(resource("/revoke-session").route(web::post().to(session::revoke_session)))
        .service(resource("/revoke-sessions").route(web::post().to(session::revoke_sessions)))
        .service(
            resource("/revoke-other-sessions")
                .route(web::post().to(session::revoke_other_sessions)),
        )
        .service(resource("/update-session").route(web::post().to(session::update_session)))
        .service(resource("/ok").route(web::get().to(ok_error::ok)))
        .service(resource("/error").route(web::get().to(ok_error::error_page)))
        .service(resource("/readyz").route(web::get().to(crate::health::ready)))
        .configure(crate::plugins::jwt::configure)
        .configure(social_routes);
}

/// Social sign-in and linked accounts.
fn social_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/sign-in/social").route(web::post().to(social::sign_in_social)))
        .service(
            resource("/callback/{id}")
                .route(web::get().to(social::callback_get))
                .route(web::post().to(social::callback_post)),
        )
        .service(resource("/link-social").route(web::post().to(social::link_social)))
        .service(resource("/list-accounts").route(web::get().to(accounts::list_accounts)))
        .service(resource("/unlink-account").route(web::post().to(accounts::unlink_account)))
        .service(resource("/get-access-token").route(web::post().to(accounts::get_access_token)))
        .service(resource("/refresh-token").route(web::post().to(accounts::refresh_token)))
        .service(resource("/account-info").route(web::get().to(accounts::account_info)));
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

/// `ctx.redirect(url)`: a 302 to `location`, empty body (labelled JSON, as upstream's
/// thrown redirect is), with the cookies set so far.
pub(crate) fn redirect(location: &str, cookies: Vec<String>) -> HttpResponse {
    let mut builder = HttpResponse::Found();
    builder.content_type("application/json");
    add_cookies(&mut builder, cookies);
    if let Ok(value) = HeaderValue::from_bytes(location.as_bytes()) {
        builder.insert_header((LOCATION, value));
    }
    builder.finish()
}

/// Puts the session cookie (again) as upstream's `setSessionCookie` does: a request that
/// carried the "don't remember" marker keeps a browser-session cookie.
pub(crate) fn session_cookie(req: &HttpRequest, state: &AppState, token: &str) -> Vec<String> {
    let remember = !cookies::dont_remember(req, &state.config, &state.cookies);
    cookies::session_cookies(&state.config, &state.cookies, token, remember)
}

/// The base URL without a trailing slash, for links in mails.
pub(crate) fn base_url(state: &AppState) -> &str {
    state.config.base_url.as_str().trim_end_matches('/')
}

/// `new URL(target, baseURL)` with `searchParams.set(key, value)`: absolute result.
pub(crate) fn resolve_with_param(
    state: &AppState,
    target: &str,
    key: &str,
    value: &str,
) -> Option<String> {
    let mut url = state.config.base_url.join(target).ok()?;
    let mut pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    match pairs.iter().position(|(k, _)| k == key) {
        Some(i) => {
            pairs[i].1 = value.to_owned();
            let mut seen = 0;
            pairs.retain(|(k, _)| {
                if k == key {
                    seen += 1;
                    seen == 1
                } else {
                    true
                }
            });
        }
        None => pairs.push((key.to_owned(), value.to_owned())),
    }
    url.query_pairs_mut().clear().extend_pairs(pairs);
    Some(url.to_string())
}

/// Upstream's `appendQueryParams(url, {key: value})`: relative URLs stay relative.
pub(crate) fn append_query_param(target: &str, key: &str, value: &str) -> Option<String> {
    const REFERENCE: &str = "http://reference.invalid";
    let relative = target.starts_with('/');
    let mut url = if relative {
        url::Url::parse(REFERENCE).ok()?.join(target).ok()?
    } else {
        url::Url::parse(target).ok()?
    };
    let added: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair(key, value)
        .finish();
    let query = match url.query() {
        Some(q) if !q.is_empty() => {
            let sep = if q.ends_with('&') { "" } else { "&" };
            format!("{q}{sep}{added}")
        }
        _ => added,
    };
    url.set_query(Some(&query));
    if relative {
        Some(url[url::Position::BeforePath..].to_owned())
    } else {
        Some(url.to_string())
    }
}

/// A session could not be stored: 503 when Redis is away (retry later), otherwise
/// upstream's FAILED_TO_CREATE_SESSION.
fn session_not_created(e: crate::store::StorageError) -> crate::error::ApiError {
    use crate::store::StorageError;
    match e {
        StorageError::Redis(_) => e.into(),
        StorageError::Database(_) => {
            tracing::error!(error = %e, "creating a session failed");
            crate::error::ApiError::FailedToCreateSession
        }
    }
}
