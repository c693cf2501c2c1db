//! How a [`crate::Verifier`] checks tokens.

use std::time::Duration;

use jsonwebtoken::Algorithm;
use url::Url;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid URL {0:?}: {1}")]
    Url(String, url::ParseError),
    #[error("{0}")]
    Invalid(String),
}

#[derive(Debug, Clone)]
pub struct VerifierConfig {
    /// Where the public keys are: `<auth server>/api/auth/jwks`.
    pub jwks_url: Url,
    /// Expected `iss` (Better Auth's default: the auth server's origin).
    pub issuer: String,
    /// Accepted `aud` values; a token must name at least one.
    pub audiences: Vec<String>,
    /// Clock skew allowed on `exp`, `nbf` and `iat`.
    pub leeway: Duration,
    /// Algorithms accepted from published keys (never HS*: secrets are not published).
    pub algorithms: Vec<Algorithm>,
    /// At most one JWKS fetch per this interval when tokens name unknown kids.
    pub min_refetch_interval: Duration,
    /// Key cache lifetime when `/jwks` sends no `Cache-Control: max-age`.
    pub default_max_age: Duration,
    /// Upper bound on the key cache lifetime, whatever `Cache-Control` says.
    pub max_cache_age: Duration,
    pub http_timeout: Duration,
    /// Opt-in fallback: HS256 tokens without `kid`, signed with this shared secret.
    pub hs256_secret: Option<String>,
    /// Opt-in fallback: opaque session tokens checked with this `get-session` URL.
    pub session_url: Option<Url>,
    /// How long a session-token answer is reused.
    pub session_cache_ttl: Duration,
}

impl VerifierConfig {
    /// Better Auth's defaults for a server at `base_url`: keys from `/api/auth/jwks`,
    /// issuer and audience = its origin.
    pub fn for_auth_server(base_url: &str) -> Result<Self, ConfigError> {
        let url = Url::parse(base_url).map_err(|e| ConfigError::Url(base_url.to_owned(), e))?;
        let origin = url.origin().ascii_serialization();
        let jwks = format!("{origin}/api/auth/jwks");
        let jwks_url = Url::parse(&jwks).map_err(|e| ConfigError::Url(jwks, e))?;
        Ok(Self::from_jwks_url(jwks_url, &origin, &origin))
    }

    pub fn from_jwks_url(jwks_url: Url, issuer: &str, audience: &str) -> Self {
        Self {
            jwks_url,
            issuer: issuer.to_owned(),
            audiences: vec![audience.to_owned()],
            leeway: Duration::from_secs(5),
            algorithms: vec![
                Algorithm::EdDSA,
                Algorithm::ES256,
                Algorithm::RS256,
                Algorithm::PS256,
            ],
            min_refetch_interval: Duration::from_secs(30),
            default_max_age: Duration::from_secs(300),
            max_cache_age: Duration::from_secs(86_400),
            http_timeout: Duration::from_secs(5),
            hs256_secret: None,
            session_url: None,
            session_cache_ttl: Duration::from_secs(30),
        }
    }

    pub fn audiences(mut self, audiences: &[&str]) -> Self {
        self.audiences = audiences.iter().map(|a| (*a).to_owned()).collect();
        self
    }

    pub fn issuer(mut self, issuer: &str) -> Self {
        self.issuer = issuer.to_owned();
        self
    }

    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    pub fn min_refetch_interval(mut self, interval: Duration) -> Self {
        self.min_refetch_interval = interval;
        self
    }

    pub fn max_cache_age(mut self, age: Duration) -> Self {
        self.max_cache_age = age;
        self
    }

    /// Accept HS256 tokens signed with a shared secret (the weaker, opt-in choice).
    pub fn with_hs256_secret(mut self, secret: &str) -> Self {
        self.hs256_secret = Some(secret.to_owned());
        self
    }

    /// Accept opaque Better Auth session tokens (`token` or `token.signature`), checked
    /// against the auth server's `get-session` and cached briefly.
    pub fn with_session_tokens(mut self) -> Result<Self, ConfigError> {
        let url = self
            .jwks_url
            .join("get-session")
            .map_err(|e| ConfigError::Url(self.jwks_url.to_string(), e))?;
        self.session_url = Some(url);
        Ok(self)
    }

    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        if self.audiences.is_empty() {
            return Err(ConfigError::Invalid(
                "at least one audience is required".into(),
            ));
        }
        if self
            .algorithms
            .iter()
            .any(|a| matches!(a, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512))
        {
            return Err(ConfigError::Invalid(
                "HS* cannot come from a JWKS; use with_hs256_secret for the shared-secret fallback"
                    .into(),
            ));
        }
        if self.hs256_secret.as_ref().is_some_and(|s| s.len() < 32) {
            return Err(ConfigError::Invalid(
                "the HS256 secret must have at least 32 characters".into(),
            ));
        }
        Ok(())
    }
}
