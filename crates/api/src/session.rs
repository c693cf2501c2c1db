//! Opt-in fallback for opaque Better Auth session tokens (`token` or `token.signature`):
//! asked of the auth server's `get-session` (bearer plugin) and cached briefly.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::header::AUTHORIZATION;
use serde_json::Value;
use sha2::{Digest, Sha256};
use url::Url;

use crate::claims::{Audience, Claims, TokenKind};
use crate::config::VerifierConfig;
use crate::error::VerifyError;

/// Entries kept at most; beyond that the cache starts over (a flood of made-up tokens
/// must not grow memory without bound).
const MAX_ENTRIES: usize = 10_000;

pub(crate) struct SessionCache {
    url: Url,
    ttl: Duration,
    http: reqwest::Client,
    /// SHA-256 of the token → claims and when to forget them. Tokens themselves are not kept.
    entries: Mutex<HashMap<String, (Claims, Instant)>>,
}

impl SessionCache {
    pub fn new(url: Url, ttl: Duration, http: reqwest::Client) -> Self {
        Self {
            url,
            ttl,
            http,
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub async fn verify(
        &self,
        token: &str,
        config: &VerifierConfig,
    ) -> Result<Claims, VerifyError> {
        let key = hex::encode(Sha256::digest(token.as_bytes()));
        if let Some((claims, until)) = self.entries.lock().ok().and_then(|m| m.get(&key).cloned()) {
            if Instant::now() < until && claims.exp > chrono::Utc::now().timestamp() {
                return Ok(claims);
            }
        }
        let response = self
            .http
            .get(self.url.clone())
            .header(AUTHORIZATION, format!("Bearer {token}"))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| VerifyError::AuthServerUnavailable(e.to_string()))?;
        let body: Value = response
            .json()
            .await
            .map_err(|e| VerifyError::AuthServerUnavailable(e.to_string()))?;
        let claims = claims_from_session(&body, config).ok_or(VerifyError::InvalidSession)?;
        if let Ok(mut map) = self.entries.lock() {
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
            map.insert(key, (claims.clone(), Instant::now() + self.ttl));
        }
        Ok(claims)
    }
}

/// `{"session", "user"}` from get-session as claims shaped like the JWT's.
fn claims_from_session(body: &Value, config: &VerifierConfig) -> Option<Claims> {
    let user = body.get("user")?.as_object()?;
    let expires = body.get("session")?.get("expiresAt")?.as_str()?;
    let exp = chrono::DateTime::parse_from_rfc3339(expires)
        .ok()?
        .timestamp();
    if exp <= chrono::Utc::now().timestamp() {
        return None;
    }
    let mut extra = user.clone();
    let mut take = |k: &str| extra.remove(k);
    let text = |v: Option<Value>| v.and_then(|v| v.as_str().map(str::to_owned));
    let id = text(take("id"))?;
    Some(Claims {
        sub: id.clone(),
        iss: config.issuer.clone(),
        aud: Audience::One(config.audiences.first()?.clone()),
        exp,
        iat: None,
        nbf: None,
        email: text(take("email")),
        name: text(take("name")),
        email_verified: take("emailVerified").and_then(|v| v.as_bool()),
        image: text(take("image")),
        id: Some(id),
        extra,
        kind: TokenKind::Session,
    })
}
