//! Secondary storage in Redis: `REDIS_URL` and its TLS and prefix settings.

use super::*;

/// Environment and flags for Redis.
#[derive(Debug, Clone, Default, Args)]
pub struct RedisArgs {
    /// Redis as secondary storage (`redis://[:password@]host:6379[/db]`): rate limits go
    /// there by default. Off when unset.
    #[arg(long, env = "REDIS_URL", hide_env_values = true, global = true)]
    pub redis_url: Option<String>,
    /// A prefix for every key we write (default none, as upstream), to share one Redis
    /// between deployments.
    #[arg(long, env = "BETTER_AUTH_REDIS_PREFIX", global = true)]
    pub redis_prefix: Option<String>,
    /// PEM certificates that `rediss://` trusts instead of the system's roots (a private CA).
    #[arg(long, env = "BETTER_AUTH_REDIS_CA_FILE", global = true)]
    pub redis_ca_file: Option<PathBuf>,
}

impl RedisArgs {
    pub(crate) fn without_empty_values(&self) -> RedisArgs {
        RedisArgs {
            redis_url: keep(&self.redis_url),
            redis_prefix: self.redis_prefix.clone().filter(|s| !s.is_empty()),
            redis_ca_file: self
                .redis_ca_file
                .clone()
                .filter(|p| !p.as_os_str().is_empty()),
        }
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct RedisConfig {
    pub url: String,
    /// Put before every key; empty by default so that a TypeScript server without a prefix
    /// counts together with us.
    pub prefix: String,
    /// For `rediss://`: trust these PEM certificates instead of the system's roots.
    pub ca_file: Option<PathBuf>,
}

impl std::fmt::Debug for RedisConfig {
    // The URL may carry a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &redact_url(&self.url))
            .field("prefix", &self.prefix)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

pub(crate) fn redis_config(
    args: &RedisArgs,
    file_url: Option<String>,
    file_prefix: Option<String>,
) -> Result<Option<RedisConfig>, ConfigError> {
    let Some(url) = args
        .redis_url
        .clone()
        .or(file_url)
        .filter(|s| !s.trim().is_empty())
    else {
        return Ok(None);
    };
    let scheme_ok = Url::parse(url.trim())
        .is_ok_and(|u| matches!(u.scheme(), "redis" | "rediss" | "redis+unix" | "unix"));
    if !scheme_ok {
        // Not echoed: an unparsable URL cannot be redacted and may hold a password.
        return Err(ConfigError::Invalid(
            "REDIS_URL must look like redis[s]://[:password@]host:port[/db]".into(),
        ));
    }
    Ok(Some(RedisConfig {
        url: url.trim().to_owned(),
        prefix: args
            .redis_prefix
            .clone()
            .or(file_prefix)
            .unwrap_or_default(),
        ca_file: args.redis_ca_file.clone(),
    }))
}
