//! What every handler shares.

use crate::config::Config;
use crate::cookies::CookieNames;
use crate::crypto::password::PasswordHasher;
use crate::mail::Mailer;
use crate::metrics::Metrics;
use crate::oauth::OAuth;
use crate::origins::TrustedOrigins;
use crate::plugins::jwt::JwtSigner;
use crate::rate_limit::RateLimiter;
use crate::secondary_storage::Redis;
use crate::store::session_storage::SessionStore;
use crate::store::verification_storage::VerificationStore;
use crate::store::Store;

pub struct AppState {
    pub config: Config,
    pub store: Store,
    /// Sessions: the table, or Redis when configured. Endpoints read and write sessions
    /// only through this.
    pub sessions: SessionStore,
    /// Single-use values (reset, deletion, OAuth state): the table, or Redis when configured.
    pub verifications: VerificationStore,
    pub hasher: PasswordHasher,
    pub cookies: CookieNames,
    pub origins: TrustedOrigins,
    pub jwt: JwtSigner,
    pub rate_limiter: RateLimiter,
    pub mailer: Mailer,
    /// Social sign-in providers (HTTP client, discovery and JWKS caches).
    pub oauth: OAuth,
    pub metrics: Metrics,
}

impl AppState {
    pub fn new(
        config: Config,
        store: Store,
        hasher: PasswordHasher,
        mailer: Mailer,
        metrics: Metrics,
        redis: Option<Redis>,
    ) -> Self {
        let mut rate_limiter = RateLimiter::new(&config.rate_limit);
        if let Some(redis) = &redis {
            rate_limiter.use_redis(redis.clone());
        }
        Self {
            verifications: VerificationStore::new(
                store.clone(),
                redis.clone(),
                config.store_verification_in_database,
            ),
            sessions: SessionStore::new(store.clone(), redis, &config.session),
            cookies: CookieNames::new(config.secure_cookies()),
            origins: TrustedOrigins::new(&config),
            jwt: JwtSigner::new(&config),
            rate_limiter,
            oauth: OAuth::new(&config.social),
            config,
            store,
            hasher,
            mailer,
            metrics,
        }
    }
}
