//! The multi-session plugin (upstream `plugins/multi-session`): every session a browser
//! signs into is also kept in a signed cookie `<session cookie>_multi-<token, lower case>`,
//! up to `maximum_sessions`; `GET /multi-session/list-device-sessions`,
//! `POST /multi-session/set-active`, `POST /multi-session/revoke` (`routes.rs`); sign-out
//! ends them all.

mod routes;

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::HttpRequest;
use serde::Deserialize;

use super::{After, Plugin};
use crate::config::ConfigError;
use crate::cookies::{self, encode_uri_component};
use crate::error::{ApiResult, PluginError};
use crate::state::AppState;

pub const INVALID_SESSION_TOKEN: PluginError = PluginError::new(
    StatusCode::UNAUTHORIZED,
    "INVALID_SESSION_TOKEN",
    "Invalid session token",
);

/// `[plugins.multi_session]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MultiSessionOptions {
    pub maximum_sessions: usize,
}

impl Default for MultiSessionOptions {
    fn default() -> Self {
        MultiSessionOptions {
            maximum_sessions: 5,
        }
    }
}

pub struct MultiSessionPlugin {
    options: MultiSessionOptions,
}

pub fn plugin(table: Option<&toml::Table>) -> Result<Arc<dyn Plugin>, ConfigError> {
    let options: MultiSessionOptions = super::options("multi-session", table)?;
    Ok(Arc::new(MultiSessionPlugin { options }))
}

const MARKER: &str = "_multi-";

/// `<session cookie>_multi-<token>`
fn cookie_name(state: &AppState, token: &str) -> String {
    format!(
        "{}{MARKER}{}",
        state.cookies.session_token,
        token.to_lowercase()
    )
}

/// The request's multi-session cookies whose signatures hold: `(cookie name, token)`.
fn signed_tokens(state: &AppState, req: &HttpRequest) -> Vec<(String, String)> {
    cookies::request_cookies(req)
        .filter(|(name, _)| name.contains(MARKER))
        .filter_map(|(name, _)| {
            let value = cookies::get(req, name)?;
            let token = state.config.secrets.verify(&value)?;
            Some((name.to_owned(), token.to_owned()))
        })
        .collect()
}

/// The `Set-Cookie` of a multi-session cookie: signed like the session cookie, with its
/// attributes.
fn set_multi_cookie(state: &AppState, token: &str) -> String {
    let signed = encode_uri_component(&state.config.secrets.sign(token));
    state.cookies.set_cookie(
        &cookie_name(state, token),
        &signed,
        Some(state.config.session.expires_in),
    )
}

#[async_trait::async_trait(?Send)]
impl Plugin for MultiSessionPlugin {
    fn id(&self) -> &'static str {
        "multi-session"
    }

    fn routes(&self, api: &mut crate::routes::Api) {
        routes::configure(api);
    }

    /// Upstream's two after hooks: a new session gets its `_multi-` cookie (the same user's
    /// earlier ones in this browser are replaced, and nothing is added past the maximum);
    /// sign-out expires every `_multi-` cookie and ends those sessions.
    async fn after(&self, state: &AppState, after: &mut After<'_>) -> ApiResult<()> {
        if after.route == "/sign-out" {
            let tokens = signed_tokens(state, after.request);
            for (name, token) in &tokens {
                after.add_cookie(&state.cookies.expire(name));
                state.sessions.delete(token).await?;
            }
            return Ok(());
        }
        let Some((session, user)) = after.new_session() else {
            return Ok(());
        };
        let (token, user_id) = (session.token.clone(), user.id.clone());
        let name = cookie_name(state, &token);
        let sets_session = after
            .sets_cookie(&state.cookies.session_token)
            .next()
            .is_some();
        if after.sets_cookie(&name).next().is_some() || cookies::get(after.request, &name).is_some()
        {
            return Ok(());
        }
        let listed = cookies::request_cookies(after.request)
            .filter(|(n, _)| n.contains(MARKER))
            .count();
        let existing = signed_tokens(state, after.request);
        let mut replaced = 0;
        for (cookie, old) in &existing {
            let same_user = state
                .sessions
                .find(old)
                .await?
                .is_some_and(|s| s.user.id == user_id);
            if same_user {
                after.add_cookie(&state.cookies.expire(cookie));
                state.sessions.delete(old).await?;
                replaced += 1;
            }
        }
        if listed.saturating_sub(replaced) + usize::from(sets_session)
            > self.options.maximum_sessions
        {
            return Ok(());
        }
        after.add_cookie(&set_multi_cookie(state, &token));
        Ok(())
    }
}
