//! [`Verifier`]: checks a bearer token and returns its claims.

use std::sync::Arc;

use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};

use crate::claims::{Claims, TokenKind};
use crate::config::{ConfigError, VerifierConfig};
use crate::error::{clip, VerifyError};
use crate::jwks::JwksCache;
use crate::session::SessionCache;

/// Cheap to clone; share one per process.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

struct Inner {
    config: VerifierConfig,
    jwks: JwksCache,
    sessions: Option<SessionCache>,
    hs256: Option<DecodingKey>,
}

fn is_hmac(alg: Algorithm) -> bool {
    matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
}

impl Verifier {
    pub fn new(config: VerifierConfig) -> Result<Self, ConfigError> {
        config.check()?;
        let http = reqwest::Client::builder()
            .timeout(config.http_timeout)
            .build()
            .map_err(|e| ConfigError::Invalid(format!("HTTP client: {e}")))?;
        let sessions = config
            .session_url
            .clone()
            .map(|url| SessionCache::new(url, config.session_cache_ttl, http.clone()));
        let hs256 = config
            .hs256_secret
            .as_ref()
            .map(|s| DecodingKey::from_secret(s.as_bytes()));
        Ok(Self {
            inner: Arc::new(Inner {
                jwks: JwksCache::new(config.clone(), http),
                config,
                sessions,
                hs256,
            }),
        })
    }

    pub fn config(&self) -> &VerifierConfig {
        &self.inner.config
    }

    /// How many times `/jwks` was fetched (for metrics and tests).
    pub fn jwks_fetches(&self) -> u64 {
        self.inner
            .jwks
            .fetches
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Verifies a bearer token: a JWT from the auth server, or (when enabled) an HS256 JWT
    /// or an opaque session token.
    pub async fn verify(&self, token: &str) -> Result<Claims, VerifyError> {
        let token = token.trim();
        if token.is_empty() {
            return Err(VerifyError::Missing);
        }
        if token.split('.').count() != 3 {
            return match &self.inner.sessions {
                Some(sessions) => sessions.verify(token, &self.inner.config).await,
                None => Err(VerifyError::Malformed("not a JWT".into())),
            };
        }
        let header =
            decode_header(token).map_err(|e| VerifyError::Malformed(clip(&e.to_string())))?;
        if is_hmac(header.alg) {
            // A shared secret is only ever used for tokens that name no published key:
            // an HS* token with a kid is the algorithm-confusion attack.
            return match (&self.inner.hs256, &header.kid, header.alg) {
                (Some(secret), None, Algorithm::HS256) => {
                    self.validate(token, secret, Algorithm::HS256, TokenKind::SharedSecret)
                }
                _ => Err(VerifyError::AlgorithmNotAllowed(format!(
                    "{:?}",
                    header.alg
                ))),
            };
        }
        let kid = header.kid.ok_or(VerifyError::MissingKid)?;
        let key = self.inner.jwks.key(&kid).await?;
        if header.alg != key.algorithm {
            return Err(VerifyError::AlgorithmNotAllowed(format!(
                "{:?}",
                header.alg
            )));
        }
        self.validate(token, &key.decoding, key.algorithm, TokenKind::Jwt)
    }

    fn validate(
        &self,
        token: &str,
        key: &DecodingKey,
        algorithm: Algorithm,
        kind: TokenKind,
    ) -> Result<Claims, VerifyError> {
        let config = &self.inner.config;
        let mut validation = Validation::new(algorithm);
        validation.leeway = config.leeway.as_secs();
        validation.validate_nbf = true;
        validation.set_issuer(&[&config.issuer]);
        validation.set_audience(&config.audiences);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let mut claims = decode::<Claims>(token, key, &validation)?.claims;
        let now = chrono::Utc::now().timestamp();
        if claims
            .iat
            .is_some_and(|iat| iat > now + config.leeway.as_secs() as i64)
        {
            return Err(VerifyError::IssuedInFuture);
        }
        claims.kind = kind;
        Ok(claims)
    }
}
