//! `GET /get-session` (upstream `routes/session.ts` `getSession`).

use actix_web::http::header::{HeaderValue, CACHE_CONTROL, PRAGMA};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::body::{self, AnyRecord, Body, NoSchema, RequestBody, Validator};
use crate::cookie_cache::{self, CacheRead};
use crate::cookies;
use crate::error::{ApiError, ApiResult};
use crate::models::{SessionWithUser, Timestamp};
use crate::state::AppState;

/// The live session behind the request's cookie and the cookies to send back (a refresh,
/// or expiries for a stale cookie). `None` means "signed out".
pub struct Lookup {
    pub session: Option<SessionWithUser>,
    pub set_cookies: Vec<String>,
    /// A deferred read (`session.defer_session_refresh`) of a session that is due for a
    /// refresh; `None` when the read could not have refreshed anyway.
    pub needs_refresh: Option<bool>,
    /// The session was gone when its refresh was written (a concurrent sign-out).
    pub lost_in_refresh: bool,
}

impl Lookup {
    fn answer(session: Option<SessionWithUser>, set_cookies: Vec<String>) -> Self {
        Lookup {
            session,
            set_cookies,
            needs_refresh: None,
            lost_in_refresh: false,
        }
    }
}

/// What a read may do besides reading.
#[derive(Clone, Copy)]
struct Read {
    /// Not `disableRefresh`.
    allow_refresh: bool,
    /// A valid cookie cache may answer.
    from_cookie_cache: bool,
    /// Storage writes (the refresh, deleting an expired row): every read, except under
    /// upstream's `deferSessionRefresh`, where only `POST /get-session` writes.
    writes: bool,
}

/// Reads and, when due, refreshes the session (Better Auth's refresh rule: when
/// `expiresAt - expiresIn + updateAge <= now`, push `expiresAt` to `now + expiresIn`).
/// From storage (in stateless mode, from the cookie, which is the session's authority): what
/// upstream's `sensitiveSessionMiddleware` and every write need.
pub async fn lookup(req: &HttpRequest, state: &AppState, allow_refresh: bool) -> ApiResult<Lookup> {
    lookup_with(req, state, allow_refresh, false).await
}

/// Like `lookup`, but a valid cookie cache answers without storage when `from_cookie_cache`
/// (get-session without `disableCookieCache`, and upstream's `sessionMiddleware` routes).
pub async fn lookup_with(
    req: &HttpRequest,
    state: &AppState,
    allow_refresh: bool,
    from_cookie_cache: bool,
) -> ApiResult<Lookup> {
    let read = Read {
        allow_refresh,
        from_cookie_cache,
        writes: !state.config.session.defer_refresh,
    };
    read_session(req, state, read).await
}

async fn read_session(req: &HttpRequest, state: &AppState, read: Read) -> ApiResult<Lookup> {
    let cache_enabled = state.config.session.cookie_cache.enabled;
    // Cache cookies are dropped while the cache is off (a server that had it on).
    let mut set_cookies = if cache_enabled {
        Vec::new()
    } else {
        cookie_cache::clean(req, &state.cookies)
    };
    let Some(token) = cookies::session_token(req, &state.config, &state.cookies) else {
        return Ok(Lookup::answer(None, set_cookies));
    };
    // Stateless mode: the cookie is the authority on the session (upstream's
    // `getAuthoritativeSessionFromCtx` without a server-side store).
    let from_cookie_cache = read.from_cookie_cache || state.config.stateless;
    if cache_enabled && from_cookie_cache {
        match cookie_cache::read(req, &state.config, &state.cookies, &token) {
            CacheRead::Valid {
                found,
                expires_at_ms,
            } => {
                state.metrics.cookie_cache_hits.inc();
                set_cookies.extend(refresh_cache(req, state, &found, expires_at_ms));
                return Ok(Lookup::answer(Some(*found), set_cookies));
            }
            CacheRead::Refused => {
                state.metrics.cookie_cache_refused.inc();
                set_cookies.push(state.cookies.expire(&state.cookies.session_data));
            }
            CacheRead::Absent => {}
        }
    }
    let signed_out = |mut set_cookies: Vec<String>| {
        set_cookies.extend(cookies::expire_session_cookies(req, &state.cookies));
        Lookup::answer(None, set_cookies)
    };
    let now = Timestamp::now();
    let Some(mut found) = state.sessions.find(&token).await? else {
        return Ok(signed_out(set_cookies));
    };
    if found.session.expires_at < now {
        if read.writes {
            state.sessions.delete(&token).await?;
        }
        return Ok(signed_out(set_cookies));
    }

    let session_config = &state.config.session;
    let refresh_due = found
        .session
        .expires_at
        .plus_seconds(session_config.update_age - session_config.expires_in)
        <= now;
    let remember = !cookies::dont_remember(req, &state.config, &state.cookies);
    if !remember || !read.allow_refresh {
        // Upstream answers a "don't remember" session and `disableRefresh` as read: nothing
        // refreshed, no cache cookie written.
        return Ok(Lookup::answer(Some(found), set_cookies));
    }
    let refresh_due = refresh_due && !session_config.disable_refresh;
    if !refresh_due || !read.writes {
        // Upstream rewrites the cache on the other reads from storage.
        set_cookies.extend(cookie_cache::issue(
            req,
            &state.config,
            &state.cookies,
            &found.session,
            &found.user,
            true,
        ));
        let mut answer = Lookup::answer(Some(found), set_cookies);
        if !read.writes {
            answer.needs_refresh = Some(refresh_due);
        }
        return Ok(answer);
    }

    let expires_at = now.plus_seconds(session_config.expires_in);
    if !state.sessions.refresh(&token, expires_at, now).await? {
        // Deleted between the read and the update (e.g. a concurrent sign-out): upstream
        // expires the cookies and answers 401 FAILED_TO_GET_SESSION.
        let mut gone = signed_out(set_cookies);
        gone.lost_in_refresh = true;
        return Ok(gone);
    }
    found.session.expires_at = expires_at;
    found.session.updated_at = now;
    set_cookies.extend(super::session_cookies(
        req,
        state,
        &found.session,
        &found.user,
        true,
    ));
    Ok(Lookup::answer(Some(found), set_cookies))
}

/// Stateless mode's `refreshCache`: a believed cookie close to its end is written again
/// (with the token cookie and the account cookie), so that a session in use does not end
/// with its cache.
fn refresh_cache(
    req: &HttpRequest,
    state: &AppState,
    found: &SessionWithUser,
    expires_at_ms: i64,
) -> Vec<String> {
    let Some(update_age) = state.config.session.cookie_cache.refresh_update_age else {
        return Vec::new();
    };
    if expires_at_ms - Timestamp::now().millis() >= update_age * 1000 {
        return Vec::new();
    }
    let remember = !cookies::dont_remember(req, &state.config, &state.cookies);
    // Upstream writes the refreshed cache as a remembered one, then the token cookie alone
    // (the "don't remember" marker stays as it is).
    let mut set = cookie_cache::issue(
        req,
        &state.config,
        &state.cookies,
        &found.session,
        &found.user,
        true,
    );
    set.push(cookies::session_token_cookie(
        &state.config,
        &state.cookies,
        &found.session.token,
        remember,
    ));
    // Upstream's `setCookieCache` writes the provider account cookie again with the cache,
    // so that it lives as long as the session does.
    if let Some(account) = cookie_cache::account::read(req, &state.config, &state.cookies) {
        set.extend(cookie_cache::account::issue(
            req,
            &state.config,
            &state.cookies,
            &account,
        ));
    }
    set
}

pub async fn get_session(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let writes = !state.config.session.defer_refresh;
    answer_session(&req, &state, writes).await
}

/// `POST /get-session`: with `session.defer_session_refresh`, the read that may write (the
/// client sends it when a GET answered `needsRefresh: true`); upstream's 405 otherwise.
pub async fn post_get_session(
    req: HttpRequest,
    state: web::Data<AppState>,
    _: Body<NoSchema>,
) -> HttpResponse {
    use actix_web::ResponseError;
    if !state.config.session.defer_refresh {
        let mut response = ApiError::DeferSessionRequired.error_response();
        no_store(&mut response);
        return response;
    }
    answer_session(&req, &state, true).await
}

/// The get-session answer (`disableRefresh` and `disableCookieCache` from the query):
/// `{session, user}` (with `needsRefresh` on a deferred read), or `null`; never cached.
async fn answer_session(req: &HttpRequest, state: &AppState, writes: bool) -> HttpResponse {
    use actix_web::ResponseError;
    let read = Read {
        allow_refresh: !body::query_flag(req, "disableRefresh"),
        from_cookie_cache: !body::query_flag(req, "disableCookieCache"),
        writes,
    };
    let found = match read_session(req, state, read).await {
        Ok(found) if found.lost_in_refresh => {
            Err(ApiError::FailedToGetSession.with_cookies(found.set_cookies))
        }
        other => other,
    };
    let mut response = match found {
        Err(e) => e.error_response(),
        Ok(found) => {
            if let Some(current) = &found.session {
                crate::plugins::record(req, crate::plugins::Event::SessionRead(current.clone()));
            }
            match (&found.session, found.needs_refresh) {
                (Some(current), Some(needs_refresh)) => super::json_with_cookies(
                    &json!({
                        "session": current.session,
                        "user": current.user,
                        "needsRefresh": needs_refresh,
                    }),
                    found.set_cookies,
                ),
                _ => super::json_with_cookies(&found.session, found.set_cookies),
            }
        }
    };
    no_store(&mut response);
    response
}

/// Upstream's get-session answers are never cached: `Cache-Control: no-store`,
/// `Pragma: no-cache`.
fn no_store(response: &mut HttpResponse) {
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
}

/// The signed-in user, for endpoints behind upstream's `sensitiveSessionMiddleware` (read
/// from storage) or, through `require_cached`, its `sessionMiddleware`.
pub struct Authenticated {
    pub current: SessionWithUser,
    /// Cookies from a refresh during the lookup; the response carries them.
    pub set_cookies: Vec<String>,
}

/// The session from storage: every endpoint that writes or reveals more than the session.
pub async fn require(req: &HttpRequest, state: &AppState) -> ApiResult<Authenticated> {
    authenticated(lookup(req, state, true).await?)
}

/// The session, from a valid cookie cache when there is one (upstream's `sessionMiddleware`
/// on read-only routes such as the jwt plugin's `/token`).
pub async fn require_cached(req: &HttpRequest, state: &AppState) -> ApiResult<Authenticated> {
    authenticated(lookup_with(req, state, true, true).await?)
}

fn authenticated(found: Lookup) -> ApiResult<Authenticated> {
    match found.session {
        Some(current) => Ok(Authenticated {
            current,
            set_cookies: found.set_cookies,
        }),
        // A stale cookie is expired with the 401, as upstream's session middleware does.
        None => Err(ApiError::Unauthorized.with_cookies(found.set_cookies)),
    }
}

/// `freshSessionMiddleware`: the session must be younger than `session.freshAge`.
pub fn is_fresh(state: &AppState, current: &SessionWithUser) -> bool {
    let fresh_age = state.config.session.fresh_age;
    fresh_age == 0 || current.session.created_at.plus_seconds(fresh_age) > Timestamp::now()
}

/// `GET /list-sessions`: the user's live sessions (fresh session required).
pub async fn list_sessions(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let auth = require(&req, &state).await?;
    if !is_fresh(&state, &auth.current) {
        return Err(ApiError::SessionNotFresh);
    }
    let sessions = state.sessions.list(&auth.current.user.id).await?;
    Ok(super::json_with_cookies(&sessions, auth.set_cookies))
}

/// `POST /revoke-session {token}`: one of the user's sessions; the cookies go too when it
/// is the current one. Someone else's token is silently left alone (upstream).
/// `{token}`: the body of `/revoke-session`.
pub struct TokenBody {
    pub token: String,
}

impl RequestBody for TokenBody {
    fn read(v: &mut Validator<'_>) -> Option<Self> {
        let token = v.string("token");
        Some(Self {
            token: token?.to_owned(),
        })
    }
}

pub async fn revoke_session(
    req: HttpRequest,
    state: web::Data<AppState>,
    Body(body): Body<TokenBody>,
) -> ApiResult<HttpResponse> {
    let token = body.token.as_str();
    let auth = require(&req, &state).await?;
    state
        .sessions
        .delete_of_user(token, &auth.current.user.id)
        .await?;
    let mut set = auth.set_cookies;
    if crate::crypto::constant_time_eq(token, &auth.current.session.token) {
        set = cookies::expire_session_cookies(&req, &state.cookies);
    }
    Ok(super::json_with_cookies(&json!({ "status": true }), set))
}

/// `POST /revoke-sessions`: signs the user out everywhere, this device included.
pub async fn revoke_sessions(
    req: HttpRequest,
    state: web::Data<AppState>,
    _: Body<NoSchema>,
) -> ApiResult<HttpResponse> {
    let auth = require(&req, &state).await?;
    state
        .sessions
        .delete_all_of_user(&auth.current.user.id)
        .await?;
    Ok(super::json_with_cookies(
        &json!({ "status": true }),
        cookies::expire_session_cookies(&req, &state.cookies),
    ))
}

/// `POST /revoke-other-sessions`: everywhere but here.
pub async fn revoke_other_sessions(
    req: HttpRequest,
    state: web::Data<AppState>,
    _: Body<NoSchema>,
) -> ApiResult<HttpResponse> {
    let auth = require(&req, &state).await?;
    state
        .sessions
        .delete_others(&auth.current.user.id, &auth.current.session.token)
        .await?;
    Ok(super::json_with_cookies(
        &json!({ "status": true }),
        auth.set_cookies,
    ))
}

/// `POST /update-session`: writes the session's declared fields (`input: true` ones;
/// upstream `routes/update-session.ts`) and answers `{session}`.
pub async fn update_session(
    req: HttpRequest,
    state: web::Data<AppState>,
    Body(AnyRecord(fields)): Body<AnyRecord>,
) -> ApiResult<HttpResponse> {
    let auth = require(&req, &state).await?;
    let schema = &state.store.schema().session;
    let values = crate::schema::validate_input(schema, &fields, false)?;
    if values.is_empty() {
        return Err(ApiError::BadRequestMessage("No fields to update"));
    }
    let now = Timestamp::now();
    let token = auth.current.session.token.clone();
    if !state.sessions.update_fields(&token, &values, now).await? {
        return Err(ApiError::FailedToGetSession
            .with_cookies(cookies::expire_session_cookies(&req, &state.cookies)));
    }
    let mut session = auth.current.session;
    let mut split = (
        std::mem::take(&mut session.extra),
        std::mem::take(&mut session.hidden),
    );
    crate::schema::merge_changes(schema, &mut split, values);
    (session.extra, session.hidden) = split;
    session.updated_at = now;
    let mut set = auth.set_cookies;
    set.extend(super::session_cookie(
        &req,
        &state,
        &session,
        &auth.current.user,
    ));
    Ok(super::json_with_cookies(
        &json!({ "session": session }),
        set,
    ))
}
