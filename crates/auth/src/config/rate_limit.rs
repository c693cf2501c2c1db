//! Rate limiting: `BETTER_AUTH_RATE_LIMIT_*` and `[rate_limit]` with its custom rules.

use super::*;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileRateLimit {
    pub(crate) enabled: Option<bool>,
    pub(crate) window: Option<u64>,
    pub(crate) max: Option<u64>,
    pub(crate) storage: Option<RateLimitStorage>,
    #[serde(default)]
    pub(crate) rules: Vec<FileRateLimitRule>,
}

/// `[[rate_limit.rules]]`: `path` exact or glob (`/sign-in/*`); `enabled = false` exempts it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileRateLimitRule {
    pub(crate) path: String,
    pub(crate) window: Option<u64>,
    pub(crate) max: Option<u64>,
    pub(crate) enabled: Option<bool>,
}

/// Where rate-limit counters are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum RateLimitStorage {
    /// In this process (Better Auth's default). Each replica counts on its own.
    Memory,
    /// The `rateLimit` table, as upstream's `storage: "database"`: shared by replicas.
    Database,
    /// Redis (`REDIS_URL`), as upstream's `storage: "secondary-storage"`: shared by replicas.
    #[serde(alias = "secondary-storage")]
    #[value(alias = "secondary-storage")]
    Redis,
}

/// At most `max` requests per `window` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub window: u64,
    pub max: u64,
}

/// A custom rule: an exact path or a glob after the base path; `None` exempts the path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitRule {
    pub path: String,
    pub limit: Option<Limit>,
}

#[derive(Debug, Clone)]
pub struct RateLimitConfig {
    pub enabled: bool,
    /// For every path without a special or custom rule (upstream: 100 per 10 s).
    pub default: Limit,
    pub storage: RateLimitStorage,
    /// Checked before the built-in rules, first match wins.
    pub rules: Vec<RateLimitRule>,
}

pub(crate) fn rate_limit_config(
    args: &ConfigArgs,
    file: FileRateLimit,
    have_redis: bool,
) -> Result<RateLimitConfig, ConfigError> {
    let limit = |window: Option<u64>, max: Option<u64>, what: &str| {
        let limit = Limit {
            window: window.unwrap_or(10),
            max: max.unwrap_or(100),
        };
        if limit.window == 0 || limit.max == 0 {
            return Err(ConfigError::Invalid(format!(
                "{what}: window and max must be at least 1"
            )));
        }
        Ok(limit)
    };
    let default = limit(file.window, file.max, "rate_limit")?;
    let mut rules = Vec::new();
    for rule in file.rules {
        if !rule.path.starts_with('/') {
            return Err(ConfigError::Invalid(format!(
                "rate_limit.rules: path {:?} must start with /",
                rule.path
            )));
        }
        let limit = match rule.enabled {
            Some(false) => None,
            _ => Some(limit(
                rule.window.or(Some(default.window)),
                rule.max.or(Some(default.max)),
                &rule.path,
            )?),
        };
        rules.push(RateLimitRule {
            path: rule.path,
            limit,
        });
    }
    // Upstream: "secondary-storage" is the default when a secondary storage exists.
    let storage = args
        .rate_limit_storage
        .or(file.storage)
        .unwrap_or(if have_redis {
            RateLimitStorage::Redis
        } else {
            RateLimitStorage::Memory
        });
    if storage == RateLimitStorage::Redis && !have_redis {
        return Err(ConfigError::Invalid(
            "rate limit storage `redis` needs REDIS_URL (or redis_url in the config file)".into(),
        ));
    }
    Ok(RateLimitConfig {
        enabled: args.rate_limit_enabled.or(file.enabled).unwrap_or(true),
        default,
        storage,
        rules,
    })
}
