//! Better Auth's endpoints under the base path, one module per upstream route file.

mod accounts;
pub mod api;
pub mod body;
mod email_verification;
mod endpoints;
mod ok_error;
pub(crate) mod password;
pub(crate) mod session;
pub(crate) mod sign_in;
mod sign_out;
mod sign_up;
mod social;
mod update_user;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderValue, SET_COOKIE, USER_AGENT};
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, HttpRequest, HttpResponse, HttpResponseBuilder};
use serde::Serialize;
use serde_json::Map;

use crate::config::Config;
use crate::cookies;
use crate::crypto::random;
use crate::error::{ApiError, ApiResult};
use crate::models::{Session, Timestamp, User};
use crate::rate_limit::{self, Route, Rule, UNMATCHED};
use crate::state::AppState;

pub use api::{Answer, Api, Doc, Operation};

/// Registers every endpoint. A known path with another method is a 404 with an empty body,
/// as upstream's router answers (there is no 405).
pub fn configure(cfg: &mut web::ServiceConfig, plugins: &crate::plugins::Plugins) {
    let mut api = Api::register(cfg);
    endpoints::declare(&mut api, plugins);
    // Last: whatever matched nothing above shares one rate-limit bucket per client.
    cfg.service(resource(UNMATCHED.pattern, UNMATCHED.rule).to(not_found));
}

/// Every endpoint declared, described only (nothing registered).
fn described(plugins: &crate::plugins::Plugins) -> Api<'static> {
    let mut api = Api::describe();
    endpoints::declare(&mut api, plugins);
    api
}

/// Every endpoint's operations, for the OpenAPI document.
pub fn catalog(plugins: &crate::plugins::Plugins) -> Vec<Operation> {
    described(plugins).operations()
}

/// A start-up error when two endpoints (the core's and a plugin's, or a configured path
/// such as `plugins.open_api.path`) claim one path.
pub fn check_routes(plugins: &crate::plugins::Plugins) -> Result<(), crate::config::ConfigError> {
    match described(plugins).duplicate_patterns().as_slice() {
        [] => Ok(()),
        taken => Err(crate::config::ConfigError::Invalid(format!(
            "two endpoints at {}: change the configured path",
            taken.join(", ")
        ))),
    }
}

/// An endpoint under the base path, with its rate-limit rule. Every route is registered
/// through here (`Api::add`, and the catch-all), so the limiter runs on the route that was matched (whatever spelling of
/// the path reached it) and keys on its pattern. A known path with another method is a
/// 404 that counts against the same rule.
pub(crate) fn resource(
    pattern: &'static str,
    rule: Rule,
) -> actix_web::Resource<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let route = Route { pattern, rule };
    web::resource(pattern)
        .wrap(from_fn(move |req: ServiceRequest, next: Next<BoxBody>| {
            rate_limit::limit(route, req, next)
        }))
        .default_service(web::to(not_found))
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

/// Every way of signing in ends here: the plugins' checks, a new session (with the
/// declared session fields' defaults), stored, and recorded for the after hooks. Returns the
/// session and its cookies.
pub(crate) async fn start_session(
    req: &HttpRequest,
    state: &AppState,
    user: &User,
    remember: bool,
) -> ApiResult<(Session, Vec<String>)> {
    let session = prepare_session(req, state, user, remember).await?;
    state
        .sessions
        .create(&session, user)
        .await
        .map_err(session_not_created)?;
    session_started(req, &session, user);
    let cookies = session_cookies(req, state, &session, user, remember);
    Ok((session, cookies))
}

/// The plugins' checks and the new session row, for flows that store the row in their own
/// transaction (sign-up, social sign-up, change-password); they call `session_started`
/// (directly or through `session_cookie`) once it is stored.
pub(crate) async fn prepare_session(
    req: &HttpRequest,
    state: &AppState,
    user: &User,
    remember: bool,
) -> ApiResult<Session> {
    state
        .config
        .plugins
        .before_session(state, req, user)
        .await?;
    let mut session = new_session(req, &state.config, &user.id, remember);
    let fields = &state.store.schema().session;
    let defaults =
        crate::schema::validate_input(fields, &Map::new(), true).map_err(ApiError::from)?;
    (session.extra, session.hidden) = crate::schema::split_returned(fields, defaults);
    Ok(session)
}

/// The declared user fields a client sent (additional fields and plugins' fields as plain
/// keys of the body), checked as upstream's `parseUserInput` (defaults, `input: false`,
/// required), type-checked, then completed by the plugins (username's rules, ...).
pub(crate) async fn client_user_fields(
    req: &HttpRequest,
    state: &AppState,
    route: &str,
    body: &Map<String, serde_json::Value>,
    current: Option<&User>,
) -> ApiResult<Map<String, serde_json::Value>> {
    let create = current.is_none();
    let mut values = crate::schema::validate_input(&state.store.schema().user, body, create)?;
    let mut fields = crate::plugins::UserFields {
        route,
        request: req,
        create,
        current,
        values: &mut values,
    };
    state.config.plugins.user_fields(state, &mut fields).await?;
    Ok(values)
}

/// Records a stored new session for the after hooks (upstream's `ctx.context.newSession`).
pub(crate) fn session_started(req: &HttpRequest, session: &Session, user: &User) {
    crate::plugins::record(
        req,
        crate::plugins::Event::SessionCreated {
            session: session.clone(),
            user: user.clone(),
        },
    );
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
        extra: Default::default(),
        hidden: Default::default(),
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

/// Puts the session cookie (again) as upstream's `setSessionCookie` does: a request that
/// carried the "don't remember" marker keeps a browser-session cookie.
/// Like upstream's `setSessionCookie`, the session counts as this request's new session for
/// the after hooks (multi-session adds its cookie).
pub(crate) fn session_cookie(
    req: &HttpRequest,
    state: &AppState,
    session: &Session,
    user: &User,
) -> Vec<String> {
    session_started(req, session, user);
    let remember = !cookies::dont_remember(req, &state.config, &state.cookies);
    session_cookies(req, state, session, user, remember)
}

/// The signed token cookie (and "don't remember" marker) and, with the cookie cache on,
/// the cache of the session and user (upstream `setSessionCookie`).
pub(crate) fn session_cookies(
    req: &HttpRequest,
    state: &AppState,
    session: &Session,
    user: &User,
    remember: bool,
) -> Vec<String> {
    let mut set = cookies::session_cookies(&state.config, &state.cookies, &session.token, remember);
    set.extend(crate::cookie_cache::issue(
        req,
        &state.config,
        &state.cookies,
        session,
        user,
        remember,
    ));
    set
}

/// The base URL without a trailing slash, for links in mails.
pub(crate) fn base_url(state: &AppState) -> &str {
    state.config.base_url.as_str().trim_end_matches('/')
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Upstream's `getDefaultSpecialRules` (`api/rate-limiter`), matched on the request path
    /// under the base path: the reference the declared rules are held to.
    fn upstream_rule(path: &str) -> Rule {
        let credentials = ["/sign-in", "/sign-up", "/change-password", "/change-email"];
        let mail = [
            "/request-password-reset",
            "/send-verification-email",
            "/email-otp/send-verification-otp",
            "/email-otp/request-password-reset",
        ];
        if credentials.iter().any(|p| path.starts_with(p)) {
            Rule::Credentials
        } else if mail.contains(&path) || path.starts_with("/forget-password") {
            Rule::Mail
        } else {
            Rule::Default
        }
    }

    /// `/reset-password/{token}` -> `/reset-password/x`: a path the pattern matches.
    fn sample_path(pattern: &str) -> String {
        let mut path = String::new();
        let mut in_param = false;
        for c in pattern.chars() {
            match (c, in_param) {
                ('{', _) => in_param = true,
                ('}', _) => {
                    in_param = false;
                    path.push('x');
                }
                (c, false) => path.push(c),
                (_, true) => {}
            }
        }
        path
    }

    #[test]
    fn no_two_endpoints_share_a_pattern() {
        assert!(check_routes(&crate::plugins::all()).is_ok());
    }

    /// Rules are declared by hand where each endpoint is registered; this holds every route
    /// of the core and of every plugin to upstream's rule for its path, so that a new
    /// endpoint cannot get a looser budget than the TypeScript server gives it.
    #[test]
    fn every_route_declares_upstreams_rate_limit_rule() {
        let operations = catalog(&crate::plugins::all());
        assert!(operations.len() > 40, "{} operations", operations.len());
        for op in &operations {
            let path = sample_path(op.path);
            assert_eq!(
                op.rule,
                upstream_rule(&path),
                "{} {} ({path})",
                op.method,
                op.path
            );
        }
        // The strict rules are in use at all (the comparison is not vacuous).
        for (path, rule) in [
            ("/sign-in/email", Rule::Credentials),
            ("/request-password-reset", Rule::Mail),
        ] {
            assert!(
                operations
                    .iter()
                    .any(|op| op.path == path && op.rule == rule),
                "{path}"
            );
        }
    }
}
