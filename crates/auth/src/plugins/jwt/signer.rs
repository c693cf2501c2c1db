//! Signs JWTs with the current key and serves the public JWKS, both from memory.
//!
//! The decrypted signing key and the serialised `/jwks` body are cached; they are re-read
//! from the database every [`RELOAD_AFTER`] so that a key made or rotated by another
//! replica (or `better-auth-server keys rotate`) is published and used here within seconds,
//! without a restart. One small query per interval; the key is decrypted only when it changed.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use actix_web::web::Bytes;
use serde_json::{json, Map, Value};

use super::keys::{self, SigningKey};
use crate::config::{Config, JwtAlgorithm, JwtConfig};
use crate::crypto::secrets::Secrets;
use crate::error::ApiError;
use crate::models::{Timestamp, User};
use crate::store::jwks::JwkRow;
use crate::store::Store;

const RELOAD_AFTER: Duration = Duration::from_secs(5);

struct Cached<T> {
    value: T,
    valid_until: Instant,
}

impl<T: Clone> Cached<T> {
    fn fresh(slot: &RwLock<Option<Cached<T>>>) -> Option<T> {
        let guard = slot.read().ok()?;
        let cached = guard.as_ref()?;
        (Instant::now() < cached.valid_until).then(|| cached.value.clone())
    }

    /// Keeps `value` for [`RELOAD_AFTER`], or less when it goes stale sooner (`until`).
    fn put(slot: &RwLock<Option<Cached<T>>>, value: T, until: Option<Timestamp>) {
        let mut ttl = RELOAD_AFTER;
        if let Some(until) = until {
            let left = (until.0 - chrono::Utc::now())
                .to_std()
                .unwrap_or(Duration::ZERO);
            ttl = ttl.min(left);
        }
        if let Ok(mut guard) = slot.write() {
            *guard = Some(Cached {
                value,
                valid_until: Instant::now() + ttl,
            });
        }
    }
}

/// Upstream's choice of signing key among `rows` (newest first): the newest live key of
/// the configured algorithm (rows without `alg` count as EdDSA), else the newest live key.
/// None in HS256 mode, which signs with the shared secret.
pub fn signing_row(rows: &[JwkRow], algorithm: JwtAlgorithm, now: Timestamp) -> Option<&JwkRow> {
    if algorithm == JwtAlgorithm::Hs256 {
        return None;
    }
    let live = || rows.iter().filter(move |r| r.is_live(now));
    live()
        .find(|r| r.alg.as_deref().unwrap_or("EdDSA") == algorithm.name())
        .or_else(|| live().next())
}

pub struct JwtSigner {
    config: JwtConfig,
    secrets: Secrets,
    /// HS256 mode: the shared key, no database key.
    shared: Option<Arc<SigningKey>>,
    current: RwLock<Option<Cached<Arc<SigningKey>>>>,
    /// The serialised `/jwks` body: `Bytes`, so serving it copies nothing.
    jwks_body: RwLock<Option<Cached<Bytes>>>,
    /// One key lookup or creation at a time in this process.
    refresh: tokio::sync::Mutex<()>,
    /// Ed25519 tokens signed during the current second, by claims. Ed25519 is
    /// deterministic and `iat` counts seconds, so a hit is exactly the token signing would
    /// give again: a client polling get-session costs one signature per second, not one
    /// per request.
    recent_tokens: std::sync::Mutex<RecentTokens>,
}

#[derive(Default)]
struct RecentTokens {
    second: i64,
    kid: String,
    tokens: HashMap<String, Arc<str>>,
}

/// Enough for every user active within one second on a busy server.
const RECENT_TOKENS_MAX: usize = 4096;

impl JwtSigner {
    pub fn new(config: &Config) -> Self {
        let shared = config
            .jwt
            .hs256_secret
            .as_ref()
            .filter(|_| config.jwt.algorithm == JwtAlgorithm::Hs256)
            .map(|s| Arc::new(SigningKey::shared_secret(s.as_bytes())));
        Self {
            config: config.jwt.clone(),
            secrets: config.secrets.clone(),
            shared,
            current: RwLock::new(None),
            jwks_body: RwLock::new(None),
            refresh: tokio::sync::Mutex::new(()),
            recent_tokens: std::sync::Mutex::new(RecentTokens::default()),
        }
    }

    /// A new key of the configured algorithm, generated on the blocking pool (RSA is slow).
    async fn new_row(&self, now: Timestamp) -> Result<JwkRow, ApiError> {
        let expires = self.config.rotation_interval.map(|r| now.plus_seconds(r));
        let (algorithm, secrets) = (self.config.algorithm, self.secrets.clone());
        tokio::task::spawn_blocking(move || keys::new_row(algorithm, &secrets, now, expires))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .map_err(|e| ApiError::Internal(e.to_string()))
    }

    fn pick<'a>(&self, rows: &'a [JwkRow], now: Timestamp) -> Option<&'a JwkRow> {
        signing_row(rows, self.config.algorithm, now)
    }

    /// The key to sign with, creating the first one when there is none.
    async fn signing_key(&self, store: &Store) -> Result<Arc<SigningKey>, ApiError> {
        if let Some(shared) = &self.shared {
            return Ok(shared.clone());
        }
        let now = Timestamp::now();
        let usable = |k: &Arc<SigningKey>| k.expires_at.is_none_or(|e| e > now);
        if let Some(key) = Cached::fresh(&self.current).filter(usable) {
            return Ok(key);
        }
        let _guard = self.refresh.lock().await;
        if let Some(key) = Cached::fresh(&self.current).filter(usable) {
            return Ok(key);
        }
        let mut rows = store.jwks().list().await?;
        if self.pick(&rows, now).is_none() {
            let row = self.new_row(now).await?;
            if store.jwks().insert_if_none_live(&row, now).await? {
                tracing::info!("created a JWT signing key");
            }
            self.forget_jwks();
            rows = store.jwks().list().await?;
        }
        let row = self.pick(&rows, now).ok_or_else(|| {
            ApiError::Internal("no live JWT signing key after creating one".into())
        })?;
        // Decrypt only when the key changed.
        let previous = self
            .current
            .read()
            .ok()
            .and_then(|g| g.as_ref().map(|c| c.value.clone()));
        let key = match previous {
            Some(p) if p.kid == row.id => p,
            _ => {
                // A key we did not sign with before (made here or by another replica):
                // publish it in our /jwks at once, before our first token with it goes out.
                self.forget_jwks();
                Arc::new(
                    keys::signing_key(&self.secrets, row)
                        .map_err(|e| ApiError::Internal(e.to_string()))?,
                )
            }
        };
        Cached::put(&self.current, key.clone(), key.expires_at);
        Ok(key)
    }

    /// The claims upstream puts in a session JWT: `iat`, the user object, `sub`, `exp`,
    /// `iss`, `aud`, in that order, plus configured fields and static claims.
    pub fn claims(&self, user: &User, now_seconds: i64) -> Result<Map<String, Value>, ApiError> {
        let Value::Object(user_json) =
            serde_json::to_value(user).map_err(|e| ApiError::Internal(e.to_string()))?
        else {
            return Err(ApiError::Internal("user is not an object".into()));
        };
        let mut claims = Map::new();
        claims.insert("iat".into(), json!(now_seconds));
        let subject = user_json
            .get(&self.config.subject_field)
            .and_then(Value::as_str)
            .unwrap_or(&user.id)
            .to_owned();
        for (k, v) in user_json {
            if self
                .config
                .user_fields
                .as_ref()
                .is_none_or(|f| f.contains(&k))
            {
                claims.insert(k, v);
            }
        }
        for (k, v) in &self.config.claims {
            claims.insert(k.clone(), v.clone());
        }
        claims.insert("sub".into(), json!(subject));
        claims.insert("exp".into(), json!(now_seconds + self.config.expires_in));
        claims.insert("iss".into(), json!(self.config.issuer));
        let aud = match self.config.audience.as_slice() {
            [one] => json!(one),
            many => json!(many),
        };
        claims.insert("aud".into(), aud);
        Ok(claims)
    }

    /// A signed JWT for this user. Header `{alg, kid}` only, as upstream.
    pub async fn token_for(&self, store: &Store, user: &User) -> Result<String, ApiError> {
        let key = self.signing_key(store).await?;
        let now = chrono::Utc::now().timestamp();
        let claims = self.claims(user, now)?;
        if !key.is_deterministic() {
            return key
                .sign(&claims)
                .map_err(|e| ApiError::Internal(format!("signing a JWT: {e}")));
        }
        let payload =
            serde_json::to_string(&claims).map_err(|e| ApiError::Internal(e.to_string()))?;
        if let Some(token) = self.recent_token(now, &key.kid, &payload) {
            return Ok(token.to_string());
        }
        let token: Arc<str> = key
            .sign_ed25519_payload(&payload)
            .ok_or_else(|| ApiError::Internal("not an Ed25519 key".into()))?
            .into();
        if let Ok(mut recent) = self.recent_tokens.lock() {
            if recent.second != now
                || recent.kid != key.kid
                || recent.tokens.len() >= RECENT_TOKENS_MAX
            {
                recent.tokens.clear();
                recent.second = now;
                recent.kid.clone_from(&key.kid);
            }
            recent.tokens.insert(payload, token.clone());
        }
        Ok(token.to_string())
    }

    fn recent_token(&self, now: i64, kid: &str, payload: &str) -> Option<Arc<str>> {
        let recent = self.recent_tokens.lock().ok()?;
        if recent.second != now || recent.kid != kid {
            return None;
        }
        recent.tokens.get(payload).cloned()
    }

    fn forget_jwks(&self) {
        if let Ok(mut g) = self.jwks_body.write() {
            *g = None;
        }
    }

    /// `{"keys":[...]}`: keys not yet past `expiresAt + gracePeriod`. The first key is
    /// created here when the table is empty, as upstream does.
    pub async fn jwks_body(&self, store: &Store) -> Result<Bytes, ApiError> {
        if let Some(body) = Cached::fresh(&self.jwks_body) {
            return Ok(body);
        }
        if self.shared.is_none() {
            self.signing_key(store).await?;
        }
        let now = Timestamp::now();
        let grace = self.config.grace_period;
        let mut keys = Vec::new();
        // The body changes when the first published, expiring key leaves its grace period.
        let mut first_removal: Option<Timestamp> = None;
        for row in store.jwks().list().await? {
            if !row.is_published(now, grace) {
                continue;
            }
            let end = row.published_until(grace);
            keys.push(Value::Object(
                keys::public_entry(&row).map_err(|e| ApiError::Internal(e.to_string()))?,
            ));
            if let Some(end) = end {
                first_removal = Some(first_removal.map_or(end, |f| f.min(end)));
            }
        }
        let body = Bytes::from(json!({ "keys": keys }).to_string());
        Cached::put(&self.jwks_body, body.clone(), first_removal);
        Ok(body)
    }

    /// `keys rotate`: a new signing key now; the old ones stay published for the grace period.
    pub async fn rotate(&self, store: &Store) -> Result<String, ApiError> {
        if self.shared.is_some() {
            return Err(ApiError::Internal(
                "the JWT algorithm is HS256: tokens are signed with the shared secret, there is no key to rotate".into(),
            ));
        }
        let now = Timestamp::now();
        let row = self.new_row(now).await?;
        store.jwks().rotate(&row, now).await?;
        if let Ok(mut g) = self.current.write() {
            *g = None;
        }
        self.forget_jwks();
        Ok(row.id)
    }
}
