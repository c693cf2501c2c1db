//! The one-time-token plugin (upstream `plugins/one-time-token`): `GET
//! /one-time-token/generate` gives a signed-in user a token that `POST
//! /one-time-token/verify` exchanges, once and within `expires_in` minutes, for that session
//! (cookie set). Tokens are verification values `one-time-token:<token>` (in Redis when it
//! holds verification values), stored plain or hashed as upstream.

use std::sync::Arc;

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{After, Plugin};
use crate::config::ConfigError;
use crate::crypto::random;
use crate::error::{ApiError, ApiResult};
use crate::models::{Session, Timestamp};
use crate::rate_limit::Rule;
use crate::routes::body::{Body, RequestBody, Validator};
use crate::routes::{json_with_cookies, session, session_cookie};
use crate::state::AppState;

/// `[plugins.one_time_token]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OneTimeTokenOptions {
    /// Minutes a token lives (upstream `expiresIn`, 3).
    pub expires_in: i64,
    /// `plain` (default) or `hashed` (SHA-256, base64url).
    pub store_token: StoreToken,
    /// Refuse `generate` from clients (upstream `disableClientRequest`): every request here
    /// is a client's, so generation is off.
    pub disable_client_request: bool,
    /// `verify` does not set the session cookie.
    pub disable_set_session_cookie: bool,
    /// Every new session's answer carries a token in `set-ott`.
    pub set_ott_header_on_new_session: bool,
}

#[derive(Debug, Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StoreToken {
    #[default]
    Plain,
    Hashed,
}

impl Default for OneTimeTokenOptions {
    fn default() -> Self {
        OneTimeTokenOptions {
            expires_in: 3,
            store_token: StoreToken::Plain,
            disable_client_request: false,
            disable_set_session_cookie: false,
            set_ott_header_on_new_session: false,
        }
    }
}

pub struct OneTimeTokenPlugin {
    options: OneTimeTokenOptions,
}

pub fn plugin(table: Option<&toml::Table>) -> Result<Arc<dyn Plugin>, ConfigError> {
    let options: OneTimeTokenOptions = super::options("one-time-token", table)?;
    if options.expires_in <= 0 {
        return Err(ConfigError::Invalid(
            "plugins.one_time_token.expires_in must be a positive number of minutes".into(),
        ));
    }
    Ok(Arc::new(OneTimeTokenPlugin { options }))
}

impl OneTimeTokenPlugin {
    fn identifier(&self, token: &str) -> String {
        let stored = match self.options.store_token {
            StoreToken::Plain => token.to_owned(),
            StoreToken::Hashed => URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes())),
        };
        format!("one-time-token:{stored}")
    }

    /// A new token for a session.
    async fn generate(&self, state: &AppState, session: &Session) -> ApiResult<String> {
        let token = random::string_from(random::ALPHANUMERIC, 32);
        let expires_at = Timestamp::now().plus_seconds(self.options.expires_in * 60);
        state
            .verifications
            .create(&self.identifier(&token), &session.token, expires_at)
            .await?;
        Ok(token)
    }
}

#[async_trait::async_trait(?Send)]
impl Plugin for OneTimeTokenPlugin {
    fn id(&self) -> &'static str {
        "one-time-token"
    }

    fn exposed_headers(&self) -> &'static [&'static str] {
        &["set-ott"]
    }

    fn routes(&self, api: &mut crate::routes::Api) {
        use crate::routes::api::schema::*;
        use crate::routes::Doc;
        let e = api.endpoint("/one-time-token/generate", Rule::Default).get(
            generate,
            Doc::new(
                "generateOneTimeToken",
                "A single-use token for the signed-in session",
            )
            .ok(object(&[("token", string())], &["token"]))
            .signed_in(),
        );
        api.add(e);
        let e = api.endpoint("/one-time-token/verify", Rule::Default).post(
            verify,
            Doc::new(
                "verifyOneTimeToken",
                "Uses a one-time token: its session, signed in here",
            )
            .ok(session_and_user()),
        );
        api.add(e);
    }

    /// `set-ott` on answers that made a session, when asked for.
    async fn after(&self, state: &AppState, after: &mut After<'_>) -> ApiResult<()> {
        if !self.options.set_ott_header_on_new_session {
            return Ok(());
        }
        let Some((session, _)) = after.new_session() else {
            return Ok(());
        };
        let session = session.clone();
        let token = self.generate(state, &session).await?;
        // Exposed to browsers with the other plugins' headers (`exposed_headers`).
        if let Ok(value) = HeaderValue::from_str(&token) {
            after
                .headers
                .insert(HeaderName::from_static("set-ott"), value);
        }
        Ok(())
    }
}

/// `{token}` for the signed-in user's session.
async fn generate(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let plugin = state.config.plugins.of::<OneTimeTokenPlugin>()?;
    let auth = session::require(&req, &state).await?;
    if plugin.options.disable_client_request {
        return Err(ApiError::BadRequestMessage("Client requests are disabled"));
    }
    let token = plugin.generate(&state, &auth.current.session).await?;
    Ok(json_with_cookies(
        &json!({ "token": token }),
        auth.set_cookies,
    ))
}

/// `{token}`
pub struct TokenBody {
    token: String,
}

impl RequestBody for TokenBody {
    fn read(v: &mut Validator<'_>) -> Option<Self> {
        let token = v.string("token");
        Some(Self {
            token: token?.to_owned(),
        })
    }
}

/// Uses a token up and answers its session `{session, user}`, with the session cookie.
async fn verify(
    req: HttpRequest,
    state: web::Data<AppState>,
    Body(body): Body<TokenBody>,
) -> ApiResult<HttpResponse> {
    let plugin = state.config.plugins.of::<OneTimeTokenPlugin>()?;
    let Some(value) = state
        .verifications
        .take(&plugin.identifier(&body.token))
        .await?
    else {
        return Err(ApiError::BadRequestMessage("Invalid token"));
    };
    // An expired verification value counts as none (upstream reads only live ones).
    if value.expires_at < Timestamp::now() {
        return Err(ApiError::BadRequestMessage("Invalid token"));
    }
    let Some(found) = state.sessions.find(&value.value).await? else {
        return Err(ApiError::BadRequestMessage("Session not found"));
    };
    // Upstream sets the cookie before it checks the expiry, and keeps it on the error.
    let cookies = if plugin.options.disable_set_session_cookie {
        Vec::new()
    } else {
        session_cookie(&req, &state, &found.session, &found.user)
    };
    if found.session.expires_at < Timestamp::now() {
        return Err(ApiError::BadRequestMessage("Session expired").with_cookies(cookies));
    }
    Ok(json_with_cookies(&found, cookies))
}
