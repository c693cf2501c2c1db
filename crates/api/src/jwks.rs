//! The JWKS cache: keys by `kid`, refreshed per `Cache-Control`, refetched on an unknown
//! `kid` at most once per interval (single flight), kept when the auth server is down.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey};
use reqwest::header::CACHE_CONTROL;
use serde_json::Value;

use crate::config::VerifierConfig;
use crate::error::{clip, VerifyError};

pub(crate) struct Key {
    pub algorithm: Algorithm,
    pub decoding: DecodingKey,
}

#[derive(Default)]
struct KeySet {
    keys: HashMap<String, Arc<Key>>,
    fresh_until: Option<Instant>,
    last_attempt: Option<Instant>,
}

pub(crate) struct JwksCache {
    config: VerifierConfig,
    http: reqwest::Client,
    set: RwLock<KeySet>,
    fetch: tokio::sync::Mutex<()>,
    pub fetches: AtomicU64,
}

/// The algorithm a published key is for: its `alg`, else what its type implies.
fn key_algorithm(jwk: &Jwk) -> Option<Algorithm> {
    if let Some(alg) = jwk.common.key_algorithm {
        return match alg {
            KeyAlgorithm::EdDSA => Some(Algorithm::EdDSA),
            KeyAlgorithm::ES256 => Some(Algorithm::ES256),
            KeyAlgorithm::ES384 => Some(Algorithm::ES384),
            KeyAlgorithm::RS256 => Some(Algorithm::RS256),
            KeyAlgorithm::RS384 => Some(Algorithm::RS384),
            KeyAlgorithm::RS512 => Some(Algorithm::RS512),
            KeyAlgorithm::PS256 => Some(Algorithm::PS256),
            KeyAlgorithm::PS384 => Some(Algorithm::PS384),
            KeyAlgorithm::PS512 => Some(Algorithm::PS512),
            _ => None,
        };
    }
    match &jwk.algorithm {
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
            Some(Algorithm::EdDSA)
        }
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => {
            Some(Algorithm::ES256)
        }
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P384 => {
            Some(Algorithm::ES384)
        }
        AlgorithmParameters::RSA(_) => Some(Algorithm::RS256),
        _ => None,
    }
}

/// `max-age` from `Cache-Control`; `no-store`/`no-cache` mean "revalidate every time".
fn max_age(header: Option<&str>) -> Option<Duration> {
    let header = header?;
    let mut age = None;
    for directive in header.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return Some(Duration::ZERO);
        }
        if let Some(v) = lower.strip_prefix("max-age=") {
            age = v.trim_matches('"').parse().ok().map(Duration::from_secs);
        }
    }
    age
}

impl JwksCache {
    pub fn new(config: VerifierConfig, http: reqwest::Client) -> Self {
        Self {
            config,
            http,
            set: RwLock::new(KeySet::default()),
            fetch: tokio::sync::Mutex::new(()),
            fetches: AtomicU64::new(0),
        }
    }

    /// The key for `kid`, from memory when possible.
    pub async fn key(&self, kid: &str) -> Result<Arc<Key>, VerifyError> {
        let (cached, fresh) = {
            let set = self
                .set
                .read()
                .map_err(|_| VerifyError::AuthServerUnavailable("cache poisoned".into()))?;
            let fresh = set.fresh_until.is_some_and(|t| Instant::now() < t);
            (set.keys.get(kid).cloned(), fresh)
        };
        match cached {
            Some(key) if fresh => Ok(key),
            Some(key) => {
                // Stale: one request refreshes, the others go on with the cached key; a
                // down auth server must not fail (or stall) requests.
                if let Ok(single_flight) = self.fetch.try_lock() {
                    if let Err(e) = self.refresh(single_flight).await {
                        tracing::warn!(error = %e, "JWKS refresh failed; using cached keys");
                    }
                }
                Ok(self.lookup(kid).unwrap_or(key))
            }
            None => {
                // Unknown kid: wait for the fetch in flight, if any, then look again.
                self.refresh(self.fetch.lock().await).await?;
                self.lookup(kid)
                    .ok_or_else(|| VerifyError::UnknownKid(clip(kid)))
            }
        }
    }

    fn lookup(&self, kid: &str) -> Option<Arc<Key>> {
        self.set.read().ok()?.keys.get(kid).cloned()
    }

    /// Fetches `/jwks` unless another fetch happened within the minimum interval. Holding
    /// the fetch lock makes it the only fetch in flight.
    async fn refresh(
        &self,
        _single_flight: tokio::sync::MutexGuard<'_, ()>,
    ) -> Result<(), VerifyError> {
        let recent = self
            .set
            .read()
            .ok()
            .and_then(|s| s.last_attempt)
            .is_some_and(|t| t.elapsed() < self.config.min_refetch_interval);
        if recent {
            return Ok(());
        }
        if let Ok(mut set) = self.set.write() {
            set.last_attempt = Some(Instant::now());
        }
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let (keys, age) = self.fetch_keys().await?;
        if let Ok(mut set) = self.set.write() {
            set.keys = keys;
            set.fresh_until = Some(Instant::now() + age);
        }
        Ok(())
    }

    async fn fetch_keys(&self) -> Result<(HashMap<String, Arc<Key>>, Duration), VerifyError> {
        let unavailable = |e: String| VerifyError::AuthServerUnavailable(e);
        let response = self
            .http
            .get(self.config.jwks_url.clone())
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| unavailable(e.to_string()))?;
        let age = max_age(
            response
                .headers()
                .get(CACHE_CONTROL)
                .and_then(|v| v.to_str().ok()),
        )
        .unwrap_or(self.config.default_max_age)
        .min(self.config.max_cache_age);
        let body: Value = response
            .json()
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        let mut keys = HashMap::new();
        for raw in body["keys"].as_array().into_iter().flatten() {
            // One unreadable or unsupported key does not hide the others.
            let Ok(jwk) = serde_json::from_value::<Jwk>(raw.clone()) else {
                continue;
            };
            let (Some(kid), Some(algorithm)) = (jwk.common.key_id.clone(), key_algorithm(&jwk))
            else {
                continue;
            };
            if !self.config.algorithms.contains(&algorithm) {
                continue;
            }
            if let Ok(decoding) = DecodingKey::from_jwk(&jwk) {
                keys.insert(
                    kid,
                    Arc::new(Key {
                        algorithm,
                        decoding,
                    }),
                );
            }
        }
        Ok((keys, age))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control() {
        assert_eq!(
            max_age(Some("public, max-age=300")),
            Some(Duration::from_secs(300))
        );
        assert_eq!(max_age(Some("no-store")), Some(Duration::ZERO));
        assert_eq!(max_age(Some("public")), None);
        assert_eq!(max_age(None), None);
    }
}
