//! Passwords, sessions and verification values: `[password]`, `[session]`,
//! `[verification]`, and time spans as Better Auth writes them (`15m`, `7d`).

use super::*;

/// How new password hashes are made. Both kinds always verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum PasswordHashing {
    /// argon2id (m=12 MiB, t=3, p=1, one of OWASP's minimum configurations), the default.
    Argon2id,
    /// Better Auth's own scrypt format, for a database shared with a TypeScript server.
    Scrypt,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FilePassword {
    pub(crate) hashing: Option<PasswordHashing>,
    pub(crate) min_length: Option<usize>,
    pub(crate) max_length: Option<usize>,
    pub(crate) rehash_on_sign_in: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileSession {
    #[serde(default)]
    pub(crate) memory_cache: FileMemoryCache,
    #[serde(default)]
    pub(crate) cookie_cache: FileCookieCache,
    pub(crate) expires_in: Option<i64>,
    pub(crate) update_age: Option<i64>,
    pub(crate) disable_refresh: Option<bool>,
    pub(crate) defer_session_refresh: Option<bool>,
    pub(crate) fresh_age: Option<i64>,
    pub(crate) store_session_in_database: Option<bool>,
    #[serde(default)]
    pub(crate) additional_fields: toml::Table,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileVerification {
    pub(crate) store_in_database: Option<bool>,
}

/// Seconds, or a time string as Better Auth takes them (`15m`, `1h`, `7d`, `2 weeks`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum TimeSpan {
    Seconds(i64),
    Text(String),
}

impl TimeSpan {
    pub(crate) fn seconds(&self, setting: &str) -> Result<i64, ConfigError> {
        match self {
            TimeSpan::Seconds(s) => Ok(*s),
            TimeSpan::Text(t) => parse_time_span(t).ok_or_else(|| {
                ConfigError::Invalid(format!("{setting}: cannot read {t:?} as a duration"))
            }),
        }
    }
    /// Flags and environment before the file: the flag's text if given, else the file's
    /// span; `None` when neither is set.
    pub(crate) fn pick(
        flag: Option<&str>,
        flag_name: &str,
        file: Option<&TimeSpan>,
        file_key: &str,
    ) -> Result<Option<i64>, ConfigError> {
        match (flag, file) {
            (Some(text), _) => TimeSpan::Text(text.to_owned()).seconds(flag_name).map(Some),
            (None, Some(span)) => span.seconds(file_key).map(Some),
            (None, None) => Ok(None),
        }
    }
}

/// `"15m"` → 900. Units as upstream's `utils/time.ts`: s, m, h, d, w, y and their long forms.
pub fn parse_time_span(text: &str) -> Option<i64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: i64 = number.parse().ok()?;
    let unit_seconds = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "s" | "sec" | "secs" | "second" | "seconds" => 1,
        "m" | "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3_600,
        "d" | "day" | "days" => 86_400,
        "w" | "week" | "weeks" => 604_800,
        "y" | "yr" | "yrs" | "year" | "years" => 31_557_600,
        _ => return None,
    };
    n.checked_mul(unit_seconds)
}

#[derive(Debug, Clone)]
pub struct PasswordConfig {
    pub hashing: PasswordHashing,
    pub min_length: usize,
    pub max_length: usize,
    /// Re-hash a verified scrypt password with argon2id. Off by default: a TypeScript server
    /// sharing the database could no longer verify it.
    pub rehash_on_sign_in: bool,
}

#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Session lifetime in seconds (Better Auth `session.expiresIn`).
    pub expires_in: i64,
    /// Refresh the expiry when the session is older than this (`session.updateAge`).
    pub update_age: i64,
    pub disable_refresh: bool,
    /// Upstream's `deferSessionRefresh` (for read replicas): session reads never write; a
    /// GET `/get-session` answers `needsRefresh` and the client's `POST /get-session` does
    /// the refresh.
    pub defer_refresh: bool,
    /// Sessions older than this are not "fresh" (`session.freshAge`; 0 disables the check):
    /// list-sessions and password-less delete-user need a fresh one.
    pub fresh_age: i64,
    /// With Redis: also keep sessions in the `session` table (upstream
    /// `session.storeSessionInDatabase`, default false: Redis only).
    pub store_session_in_database: bool,
    /// The in-process cache of session lookups.
    pub memory_cache: crate::store::session_cache::CacheSettings,
    /// Upstream's cookie cache: the session in the `session_data` cookie.
    pub cookie_cache: CookieCacheConfig,
}

/// `[session.memory_cache]`: the in-process session cache (`store/session_cache.rs`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileMemoryCache {
    pub(crate) enabled: Option<bool>,
    pub(crate) max_entries: Option<u64>,
    pub(crate) ttl: Option<TimeSpan>,
}

/// On by default; 100 000 entries; 5 seconds (short, so that a TypeScript server sharing
/// the database, which sends no invalidations, is followed within seconds).
pub(crate) fn memory_cache(
    file: &FileMemoryCache,
    enabled: Option<bool>,
    ttl: Option<&str>,
) -> Result<crate::store::session_cache::CacheSettings, ConfigError> {
    let ttl = TimeSpan::pick(
        ttl,
        "BETTER_AUTH_SESSION_CACHE_TTL",
        file.ttl.as_ref(),
        "session.memory_cache.ttl",
    )?
    .unwrap_or(5);
    if !(1..=3600).contains(&ttl) {
        return Err(ConfigError::Invalid(
            "session.memory_cache.ttl must be 1 to 3600 seconds".into(),
        ));
    }
    Ok(crate::store::session_cache::CacheSettings {
        enabled: enabled.or(file.enabled).unwrap_or(true),
        max_entries: file.max_entries.unwrap_or(100_000).max(1),
        ttl: Duration::from_secs(ttl as u64),
    })
}

/// How the `session_data` cookie is sealed (upstream `session.cookieCache.strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum CookieCacheStrategy {
    /// base64url JSON with an HMAC-SHA256 signature (upstream's default).
    Compact,
    /// A JWT signed with HS256 and the secret.
    Jwt,
    /// A JWT encrypted with `dir` + `A256CBC-HS512` under a key derived from the secret.
    Jwe,
}

/// `session.cookie_cache` (upstream `session.cookieCache`).
#[derive(Debug, Clone)]
pub struct CookieCacheConfig {
    /// Off by default, as upstream with a database.
    pub enabled: bool,
    /// Seconds a cache cookie is believed (upstream `maxAge`, default 5 minutes).
    pub max_age: i64,
    pub strategy: CookieCacheStrategy,
    /// A cookie of another version is ignored: change it to drop every cached session.
    pub version: String,
    /// Stateless mode only (upstream `refreshCache`): a believed cookie with less than this
    /// many seconds left is written again, so that an active session never ends.
    pub refresh_update_age: Option<i64>,
}

/// Flags and environment for the cookie cache.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CookieCacheArgs {
    /// Keep the session in the `session_data` cookie (upstream `session.cookieCache`), so
    /// that Next.js `getCookieCache` can read it and get-session can answer without storage.
    #[arg(long, env = "BETTER_AUTH_COOKIE_CACHE", global = true)]
    pub cookie_cache: Option<bool>,
    /// compact (default), jwt or jwe.
    #[arg(long, env = "BETTER_AUTH_COOKIE_CACHE_STRATEGY", global = true)]
    pub cookie_cache_strategy: Option<CookieCacheStrategy>,
    /// How long a cache cookie is believed (seconds or `5m`; default 5 minutes).
    #[arg(long, env = "BETTER_AUTH_COOKIE_CACHE_MAX_AGE", global = true)]
    pub cookie_cache_max_age: Option<String>,
}

impl CookieCacheArgs {
    pub(crate) fn without_empty_values(&self) -> CookieCacheArgs {
        CookieCacheArgs {
            cookie_cache: self.cookie_cache,
            cookie_cache_strategy: self.cookie_cache_strategy,
            cookie_cache_max_age: keep(&self.cookie_cache_max_age),
        }
    }
}

/// `[session.cookie_cache]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileCookieCache {
    pub(crate) enabled: Option<bool>,
    pub(crate) max_age: Option<TimeSpan>,
    pub(crate) strategy: Option<CookieCacheStrategy>,
    pub(crate) version: Option<String>,
    pub(crate) refresh_cache: Option<bool>,
}

/// Upstream's defaults: off, `compact`, 5 minutes; without a database (stateless mode) on,
/// `jwe`, the session lifetime, refreshed when a fifth of it is left.
pub(crate) fn cookie_cache(
    file: &FileCookieCache,
    args: &CookieCacheArgs,
    stateless: bool,
    session_expires_in: i64,
) -> Result<CookieCacheConfig, ConfigError> {
    let max_age = TimeSpan::pick(
        args.cookie_cache_max_age.as_deref(),
        "BETTER_AUTH_COOKIE_CACHE_MAX_AGE",
        file.max_age.as_ref(),
        "session.cookie_cache.max_age",
    )?
    .unwrap_or(if stateless { session_expires_in } else { 300 });
    // Upstream reads 0 as "unset" (`maxAge || 300`); browsers cap Max-Age at 400 days.
    if !(1..=34_560_000).contains(&max_age) {
        return Err(ConfigError::Invalid(
            "session.cookie_cache.max_age must be 1 to 34560000 seconds".into(),
        ));
    }
    let version = file.version.clone().unwrap_or_else(|| "1".to_owned());
    if version.is_empty() {
        return Err(ConfigError::Invalid(
            "session.cookie_cache.version must not be empty".into(),
        ));
    }
    let refresh = file.refresh_cache.unwrap_or(stateless);
    if refresh && !stateless {
        tracing::warn!(
            "session.cookie_cache.refresh_cache is for stateless mode (DATABASE_URL=none); \
             ignored with a database, as upstream does"
        );
    }
    let enabled = args.cookie_cache.or(file.enabled).unwrap_or(stateless);
    if stateless && !enabled {
        return Err(ConfigError::Invalid(
            "DATABASE_URL=none keeps sessions in the cookie cache: it cannot be turned off".into(),
        ));
    }
    Ok(CookieCacheConfig {
        enabled,
        max_age,
        strategy: args
            .cookie_cache_strategy
            .or(file.strategy)
            .unwrap_or(if stateless {
                CookieCacheStrategy::Jwe
            } else {
                CookieCacheStrategy::Compact
            }),
        version,
        refresh_update_age: (refresh && stateless).then_some(max_age / 5),
    })
}
