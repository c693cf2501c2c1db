//! OAuth state as upstream keeps it with a database (`state.ts`, `oauth2/state.ts`): a
//! `verification` row `auth-state:<state>` holding the flow's JSON (callback URLs, PKCE
//! verifier, nonce, link target) for 10 minutes, and a signed `state` cookie (5 minutes)
//! that binds the flow to the browser that started it.

use actix_web::HttpRequest;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::cookies::{self, encode_uri_component};
use crate::crypto::random;
use crate::models::Timestamp;
use crate::state::AppState;

const STATE_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";
const LIFETIME_MS: i64 = 600_000;
const COOKIE_MAX_AGE: i64 = 300;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkTarget {
    pub email: String,
    pub user_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encrypted_session_token: Option<String>,
}

/// The JSON stored with a state, in upstream's key order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StateData {
    /// `additionalData` from the request, spread first as upstream does.
    #[serde(flatten)]
    pub additional: Map<String, Value>,
    #[serde(rename = "callbackURL")]
    pub callback_url: String,
    #[serde(rename = "codeVerifier")]
    pub code_verifier: String,
    #[serde(rename = "errorURL", skip_serializing_if = "Option::is_none")]
    pub error_url: Option<String>,
    #[serde(rename = "newUserURL", skip_serializing_if = "Option::is_none")]
    pub new_user_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<LinkTarget>,
    #[serde(rename = "expiresAt")]
    pub expires_at: i64,
    #[serde(rename = "requestSignUp", skip_serializing_if = "Option::is_none")]
    pub request_sign_up: Option<bool>,
    #[serde(rename = "idTokenNonce", skip_serializing_if = "Option::is_none")]
    pub id_token_nonce: Option<String>,
    #[serde(rename = "oauthState", skip_serializing_if = "Option::is_none")]
    pub oauth_state: Option<String>,
}

impl StateData {
    pub fn new(callback_url: String) -> Self {
        Self {
            additional: Map::new(),
            callback_url,
            code_verifier: random::string_from(STATE_ALPHABET, 128),
            error_url: None,
            new_user_url: None,
            link: None,
            expires_at: Timestamp::now().millis() + LIFETIME_MS,
            request_sign_up: None,
            id_token_nonce: None,
            oauth_state: None,
        }
    }
}

/// A random nonce for ID token binding.
pub fn new_nonce() -> String {
    random::string_from(STATE_ALPHABET, 32)
}

fn cookie_name(state: &AppState) -> String {
    if state.config.secure_cookies() {
        "__Secure-better-auth.state".into()
    } else {
        "better-auth.state".into()
    }
}

/// Stores the flow and returns `(state, Set-Cookie)`.
pub async fn generate(
    state: &AppState,
    mut data: StateData,
) -> Result<(String, String), crate::store::StorageError> {
    let value = random::string_from(STATE_ALPHABET, 32);
    data.oauth_state = Some(value.clone());
    let json = serde_json::to_string(&data).unwrap_or_default();
    state
        .verifications
        .create(
            &format!("auth-state:{value}"),
            &json,
            Timestamp::now().plus_seconds(LIFETIME_MS / 1000),
        )
        .await?;
    let signed = encode_uri_component(&state.config.secrets.sign(&value));
    let cookie = state
        .cookies
        .set_cookie(&cookie_name(state), &signed, Some(COOKIE_MAX_AGE));
    Ok((value, cookie))
}

/// Why a callback's state was refused: the redirect `error` code, and the flow's own
/// error URL when the state could be read.
#[derive(Debug)]
pub struct StateError {
    pub code: &'static str,
    pub error_url: Option<String>,
}

/// Checks and uses up a state: the row must exist, the signed cookie must name the same
/// state (unless `skip_state_cookie_check`), and it must not have expired. The row is
/// deleted before the checks, so a state works once, and a state presented with the wrong
/// cookie is gone too (stricter than upstream, which keeps it for another try until it
/// expires: a captured state can't be replayed).
pub async fn parse(
    req: &HttpRequest,
    state: &AppState,
    value: &str,
) -> Result<(StateData, String), StateError> {
    let fail = |code, error_url| StateError { code, error_url };
    let identifier = format!("auth-state:{value}");
    // The delete is the gate: of two callbacks racing with one state only one gets it.
    let row = match state.verifications.take(&identifier).await {
        Ok(Some(row)) => row,
        Ok(None) => return Err(fail("state_mismatch", None)),
        Err(e) => {
            tracing::error!(error = %e, "using up OAuth state failed");
            return Err(fail("internal_server_error", None));
        }
    };
    let data: StateData = match serde_json::from_str(&row.value) {
        Ok(d) => d,
        Err(_) => return Err(fail("internal_server_error", None)),
    };
    let error_url = data.error_url.clone();
    if data
        .oauth_state
        .as_deref()
        .is_some_and(|s| !crate::crypto::constant_time_eq(s, value))
    {
        return Err(fail("state_mismatch", error_url));
    }
    let name = cookie_name(state);
    if !state.config.social.skip_state_cookie_check {
        let from_cookie = cookies::get(req, &name);
        let verified = from_cookie
            .as_deref()
            .and_then(|signed| state.config.secrets.verify(signed));
        if !verified.is_some_and(|v| crate::crypto::constant_time_eq(v, value)) {
            return Err(fail("state_mismatch", error_url));
        }
    }
    if data.expires_at < Timestamp::now().millis() {
        return Err(fail("state_mismatch", error_url));
    }
    Ok((data, state.cookies.expire(&name)))
}
