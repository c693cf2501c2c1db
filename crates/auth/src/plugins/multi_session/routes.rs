//! `GET /multi-session/list-device-sessions`, `POST /multi-session/set-active`,
//! `POST /multi-session/revoke`.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::{cookie_name, signed_tokens, INVALID_SESSION_TOKEN};
use crate::cookies;
use crate::error::{ApiError, ApiResult};
use crate::models::{SessionWithUser, Timestamp};
use crate::rate_limit::Rule;
use crate::routes::body::{Body, RequestBody, Validator};
use crate::routes::{json_with_cookies, session, session_cookie, Api, Doc};
use crate::state::AppState;

pub fn configure(api: &mut Api) {
    use crate::routes::api::schema::*;
    let e = api
        .endpoint("/multi-session/list-device-sessions", Rule::Default)
        .get(
            list_device_sessions,
            Doc::new(
                "listDeviceSessions",
                "The sessions signed in in this browser",
            )
            .ok(array(session_and_user())),
        );
    api.add(e);
    let e = api
        .endpoint("/multi-session/set-active", Rule::Default)
        .post(
            set_active,
            Doc::new(
                "setActiveSession",
                "Makes one of this browser's sessions the active one",
            )
            .ok(session_and_user()),
        );
    api.add(e);
    let e = api.endpoint("/multi-session/revoke", Rule::Default).post(
        revoke,
        Doc::new("revokeDeviceSession", "Ends one of this browser's sessions")
            .ok(status())
            .signed_in(),
    );
    api.add(e);
}

/// `{sessionToken}`
pub struct SessionTokenBody {
    session_token: String,
}

impl RequestBody for SessionTokenBody {
    fn read(v: &mut Validator<'_>) -> Option<Self> {
        let token = v.string("sessionToken");
        Some(Self {
            session_token: token?.to_owned(),
        })
    }
}

/// The live sessions behind the request's `_multi-` cookies, one per user, in cookie order.
async fn live_sessions(state: &AppState, req: &HttpRequest) -> ApiResult<Vec<SessionWithUser>> {
    let now = Timestamp::now();
    let mut out: Vec<SessionWithUser> = Vec::new();
    for (_, token) in signed_tokens(state, req) {
        if let Some(found) = state.sessions.find(&token).await? {
            if found.session.expires_at > now && !out.iter().any(|s| s.user.id == found.user.id) {
                out.push(found);
            }
        }
    }
    Ok(out)
}

async fn list_device_sessions(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(live_sessions(&state, &req).await?))
}

/// The session of a `_multi-` cookie this browser holds becomes the active one.
async fn set_active(
    req: HttpRequest,
    state: web::Data<AppState>,
    Body(body): Body<SessionTokenBody>,
) -> ApiResult<HttpResponse> {
    let name = cookie_name(&state, &body.session_token);
    let token = cookies::get(&req, &name)
        .and_then(|v| state.config.secrets.verify(&v).map(str::to_owned))
        .ok_or(ApiError::from(INVALID_SESSION_TOKEN))?;
    let found = state
        .sessions
        .find(&token)
        .await?
        .filter(|s| s.session.expires_at >= Timestamp::now());
    let Some(found) = found else {
        return Err(
            ApiError::from(INVALID_SESSION_TOKEN).with_cookies(vec![state.cookies.expire(&name)])
        );
    };
    Ok(json_with_cookies(
        &found,
        session_cookie(&req, &state, &found.session, &found.user),
    ))
}

/// Ends one of this browser's sessions; when it was the active one, the next live one
/// becomes active (or the browser is signed out).
async fn revoke(
    req: HttpRequest,
    state: web::Data<AppState>,
    Body(body): Body<SessionTokenBody>,
) -> ApiResult<HttpResponse> {
    let auth = session::require(&req, &state).await?;
    let name = cookie_name(&state, &body.session_token);
    let token = cookies::get(&req, &name)
        .and_then(|v| state.config.secrets.verify(&v).map(str::to_owned))
        .ok_or(ApiError::from(INVALID_SESSION_TOKEN))?;
    state.sessions.delete(&token).await?;
    let mut set = vec![state.cookies.expire(&name)];
    if crate::crypto::constant_time_eq(&auth.current.session.token, &token) {
        let next = live_sessions(&state, &req)
            .await?
            .into_iter()
            .find(|s| s.session.token != token);
        match next {
            Some(next) => {
                set.extend(session_cookie(&req, &state, &next.session, &next.user));
            }
            None => set.extend(cookies::expire_session_cookies(&req, &state.cookies)),
        }
    }
    Ok(json_with_cookies(&json!({ "status": true }), set))
}
