//! `GET /get-session` (upstream `routes/session.ts` `getSession`).

use actix_web::http::header::{CACHE_CONTROL, PRAGMA};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::body::{self, AnyRecord, Body, NoSchema, RequestBody, Validator};
use crate::cookies;
use crate::error::{ApiError, ApiResult};
use crate::models::{SessionWithUser, Timestamp};
use crate::state::AppState;

/// The live session behind the request's cookie and the cookies to send back (a refresh,
/// or expiries for a stale cookie). `None` means "signed out".
pub struct Lookup {
    pub session: Option<SessionWithUser>,
    pub set_cookies: Vec<String>,
}

/// Reads and, when due, refreshes the session (Better Auth's refresh rule: when
/// `expiresAt - expiresIn + updateAge <= now`, push `expiresAt` to `now + expiresIn`).
pub async fn lookup(req: &HttpRequest, state: &AppState, allow_refresh: bool) -> ApiResult<Lookup> {
    let signed_out = |set_cookies| Lookup {
        session: None,
        set_cookies,
    };
    let Some(token) = cookies::session_token(req, &state.config, &state.cookies) else {
        return Ok(signed_out(Vec::new()));
    };
    let now = Timestamp::now();
    let Some(mut found) = state.sessions.find(&token).await? else {
        return Ok(signed_out(cookies::expire_session_cookies(
            req,
            &state.cookies,
        )));
    };
    if found.session.expires_at < now {
        state.sessions.delete(&token).await?;
        return Ok(signed_out(cookies::expire_session_cookies(
            req,
            &state.cookies,
        )));
    }

    let session_config = &state.config.session;
    let refresh_due = found
        .session
        .expires_at
        .plus_seconds(session_config.update_age - session_config.expires_in)
        <= now;
    if !refresh_due
        || !allow_refresh
        || session_config.disable_refresh
        || cookies::dont_remember(req, &state.config, &state.cookies)
    {
        return Ok(Lookup {
            session: Some(found),
            set_cookies: Vec::new(),
        });
    }

    let expires_at = now.plus_seconds(session_config.expires_in);
    if !state.sessions.refresh(&token, expires_at, now).await? {
        // Deleted between the read and the update (e.g. a concurrent sign-out).
        return Ok(signed_out(cookies::expire_session_cookies(
            req,
            &state.cookies,
        )));
    }
    found.session.expires_at = expires_at;
    found.session.updated_at = now;
    Ok(Lookup {
        session: Some(found),
        set_cookies: cookies::session_cookies(&state.config, &state.cookies, &token, true),
    })
}

pub async fn get_session(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let allow_refresh = !body::query_flag(&req, "disableRefresh");
    let found = lookup(&req, &state, allow_refresh).await?;
    if let Some(current) = &found.session {
        crate::plugins::record(&req, crate::plugins::Event::SessionRead(current.clone()));
    }
    let mut response = super::json_with_cookies(&found.session, found.set_cookies);
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, "no-store".parse().map_err(internal)?);
    headers.insert(PRAGMA, "no-cache".parse().map_err(internal)?);
    Ok(response)
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(e.to_string())
}

/// `POST /get-session` exists upstream only for `deferSessionRefresh`, which we do not
/// offer: same answer as upstream without that option (after the origin check).
pub async fn post_get_session(_: Body<NoSchema>) -> ApiResult<HttpResponse> {
    Err(ApiError::DeferSessionRequired)
}

/// The signed-in user, for endpoints behind upstream's `sessionMiddleware` and
/// `sensitiveSessionMiddleware` (the same here: there is no cookie cache to bypass).
pub struct Authenticated {
    pub current: SessionWithUser,
    /// Cookies from a refresh during the lookup; the response carries them.
    pub set_cookies: Vec<String>,
}

pub async fn require(req: &HttpRequest, state: &AppState) -> ApiResult<Authenticated> {
    let found = lookup(req, state, true).await?;
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
    super::session_started(&req, &session, &auth.current.user);
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
