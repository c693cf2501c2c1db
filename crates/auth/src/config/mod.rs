//! One typed configuration, resolved once at start-up.
//!
//! Precedence (highest first): command-line flag, environment variable, TOML file
//! (`--config`), built-in default. The environment names are the ones Better Auth
//! deployments already use (`BETTER_AUTH_SECRET`, `BETTER_AUTH_URL`, ...).

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use serde::Deserialize;
use url::Url;

use crate::crypto::secrets::Secrets;

mod account;
mod deploy;
mod fields;
mod mail;
mod rate_limit;
mod redis;
mod server;
mod session;

pub use account::*;
pub use deploy::*;
pub use mail::*;
pub use rate_limit::*;
pub use redis::*;
pub(crate) use server::*;
pub use session::*;

pub use crate::plugins::jwt::config::*;

/// `DATABASE_URL` value asking for stateless mode.
pub const STATELESS_DATABASE_URL: &str = "none";
/// The in-process database of stateless mode (upstream's memory adapter).
pub const MEMORY_DATABASE_URL: &str = "sqlite::memory:";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    ReadFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {source}")]
    ParseFile {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("invalid base URL {0:?}: must be an absolute http(s) URL")]
    BaseUrl(String),
    #[error(
        "BETTER_AUTH_SECRET is too short ({0} characters, at least {MIN_SECRET_LEN} required); \
         set BETTER_AUTH_ALLOW_WEAK_SECRET=true to allow it in development"
    )]
    WeakSecret(usize),
    #[error("BETTER_AUTH_SECRET is Better Auth's public default secret; set a random one")]
    DefaultSecret,
    #[error("cannot create or read the data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid setting {0}")]
    Invalid(String),
}

/// An empty or blank value (`DATABASE_URL=` in a compose file) means "not set".
fn keep(value: &Option<String>) -> Option<String> {
    value.clone().filter(|s| !s.trim().is_empty())
}

/// Settings shared by every subcommand: flags with environment fallbacks.
#[derive(Debug, Clone, Default, Args)]
pub struct ConfigArgs {
    /// TOML configuration file (lower precedence than flags and environment).
    #[arg(long, env = "BETTER_AUTH_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Database URL: sqlite://path or postgres://... (default: SQLite file in the data directory).
    #[arg(long, env = "DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Directory for the SQLite database and the generated development secret.
    #[arg(long, env = "BETTER_AUTH_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Public base URL of this server (cookies, trusted origins, JWT issuer).
    #[arg(long, env = "BETTER_AUTH_URL", global = true)]
    pub base_url: Option<String>,
    /// Allow a secret shorter than 32 characters (development only).
    #[arg(long, env = "BETTER_AUTH_ALLOW_WEAK_SECRET", global = true)]
    pub allow_weak_secret: Option<bool>,
    /// Comma-separated extra trusted origins (globs `*`, `?` as Better Auth).
    #[arg(long, env = "BETTER_AUTH_TRUSTED_ORIGINS", global = true)]
    pub trusted_origins: Option<String>,
    /// Password hashing for new hashes: argon2id (default) or scrypt.
    #[arg(long, env = "BETTER_AUTH_PASSWORD_HASHING", global = true)]
    pub password_hashing: Option<PasswordHashing>,
    /// Address to listen on.
    #[arg(long, env = "HOST", global = true)]
    pub host: Option<String>,
    /// Port to listen on.
    #[arg(long, env = "PORT", global = true)]
    pub port: Option<u16>,
    /// JWT `iss` (default: the base URL's origin).
    #[arg(long, env = "BETTER_AUTH_JWT_ISSUER", global = true)]
    pub jwt_issuer: Option<String>,
    /// JWT `aud`, comma-separated for several (default: the base URL's origin).
    #[arg(long, env = "BETTER_AUTH_JWT_AUDIENCE", global = true)]
    pub jwt_audience: Option<String>,
    /// JWT lifetime: seconds or a time string such as `15m`, `1h`, `7d` (default 15m).
    #[arg(long, env = "BETTER_AUTH_JWT_EXPIRATION", global = true)]
    pub jwt_expiration: Option<String>,
    /// JWT algorithm: EdDSA (default), ES256, RS256, PS256 (keys in the jwks table) or
    /// HS256 (shared secret, opt-in).
    #[arg(long, env = "BETTER_AUTH_JWT_ALGORITHM", global = true)]
    pub jwt_algorithm: Option<JwtAlgorithm>,
    /// Shared secret for HS256 JWTs (never the cookie secret; at least 32 characters).
    #[arg(
        long,
        env = "BETTER_AUTH_JWT_HS256_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub jwt_hs256_secret: Option<String>,
    /// The secret. Prefer the environment variable over the flag (process lists are public).
    #[arg(
        long,
        env = "BETTER_AUTH_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub secret: Option<String>,
    /// Rotating secrets as Better Auth takes them: `"2:newest,1:older"`, first entry current.
    /// `BETTER_AUTH_SECRET`, if also set, stays valid as the legacy secret.
    #[arg(
        long,
        env = "BETTER_AUTH_SECRETS",
        hide_env_values = true,
        global = true
    )]
    pub secrets: Option<String>,
    /// Rate limiting (default on): `false` turns it off.
    #[arg(long, env = "BETTER_AUTH_RATE_LIMIT_ENABLED", global = true)]
    pub rate_limit_enabled: Option<bool>,
    /// Where rate-limit counters live: `memory` (one process), `database` or `redis` (shared
    /// by replicas; `secondary-storage` is upstream's name for it). Default: `redis` when
    /// `REDIS_URL` is set, `memory` otherwise.
    #[arg(long, env = "BETTER_AUTH_RATE_LIMIT_STORAGE", global = true)]
    pub rate_limit_storage: Option<RateLimitStorage>,
    /// Comma-separated IPs or CIDRs of reverse proxies whose `X-Forwarded-For` is believed.
    #[arg(long, env = "BETTER_AUTH_TRUSTED_PROXIES", global = true)]
    pub trusted_proxies: Option<String>,
    /// Comma-separated plugin ids to enable besides jwt and bearer (upstream's ids:
    /// `username,anonymous,multi-session,one-time-token,last-login-method,open-api`); options go in
    /// `[plugins.<id>]` tables.
    #[arg(long, env = "BETTER_AUTH_PLUGINS", global = true)]
    pub plugins: Option<String>,
    /// The in-process session cache (default on); `false` for a database shared with a
    /// TypeScript server that must see its sign-outs at once.
    #[arg(long, env = "BETTER_AUTH_SESSION_CACHE", global = true)]
    pub session_cache: Option<bool>,
    /// How long a cached session lookup is answered (seconds or `5s`, `1m`; default 5 s).
    #[arg(long, env = "BETTER_AUTH_SESSION_CACHE_TTL", global = true)]
    pub session_cache_ttl: Option<String>,
    #[command(flatten)]
    pub cookie_cache: CookieCacheArgs,
    #[command(flatten)]
    pub accounts: AccountArgs,
    #[command(flatten)]
    pub deploy: DeployArgs,
    #[command(flatten)]
    pub redis: RedisArgs,
}

impl ConfigArgs {
    /// An empty environment variable (`DATABASE_URL=` in a compose file) means "not set".
    fn without_empty_values(&self) -> ConfigArgs {
        ConfigArgs {
            config: self.config.clone().filter(|p| !p.as_os_str().is_empty()),
            database_url: keep(&self.database_url),
            data_dir: self.data_dir.clone().filter(|p| !p.as_os_str().is_empty()),
            base_url: keep(&self.base_url),
            allow_weak_secret: self.allow_weak_secret,
            trusted_origins: keep(&self.trusted_origins),
            password_hashing: self.password_hashing,
            host: keep(&self.host),
            port: self.port,
            jwt_issuer: keep(&self.jwt_issuer),
            jwt_audience: keep(&self.jwt_audience),
            jwt_expiration: keep(&self.jwt_expiration),
            jwt_algorithm: self.jwt_algorithm,
            jwt_hs256_secret: keep(&self.jwt_hs256_secret),
            secret: keep(&self.secret),
            secrets: keep(&self.secrets),
            rate_limit_enabled: self.rate_limit_enabled,
            rate_limit_storage: self.rate_limit_storage,
            trusted_proxies: keep(&self.trusted_proxies),
            plugins: keep(&self.plugins),
            session_cache: self.session_cache,
            session_cache_ttl: keep(&self.session_cache_ttl),
            cookie_cache: self.cookie_cache.without_empty_values(),
            accounts: self.accounts.without_empty_values(),
            deploy: self.deploy.without_empty_values(),
            redis: self.redis.without_empty_values(),
        }
    }
}

/// The optional TOML file. Unknown keys are an error so that typos do not go unnoticed.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
struct FileConfig {
    secret: Option<String>,
    secrets: Option<String>,
    trusted_proxies: Option<Vec<String>>,
    #[serde(default)]
    rate_limit: FileRateLimit,
    base_url: Option<String>,
    database_url: Option<String>,
    data_dir: Option<PathBuf>,
    host: Option<String>,
    port: Option<u16>,
    trusted_origins: Option<Vec<String>>,
    allow_weak_secret: Option<bool>,
    #[serde(default)]
    password: FilePassword,
    #[serde(default)]
    session: FileSession,
    #[serde(default)]
    verification: FileVerification,
    /// The jwt options' earlier place (now `[plugins.jwt]`).
    jwt: Option<FileJwt>,
    #[serde(default)]
    account: FileAccount,
    #[serde(default)]
    email_verification: FileEmailVerification,
    #[serde(default)]
    user: FileUser,
    #[serde(default)]
    mail: FileMail,
    #[serde(default)]
    social_providers: Vec<crate::oauth::config::FileSocialProvider>,
    shutdown_timeout: Option<u64>,
    metrics_addr: Option<String>,
    #[serde(default)]
    connections: FileConnections,
    redis_url: Option<String>,
    redis_prefix: Option<String>,
    /// `[plugins.<id>]`: each plugin parses its own table.
    #[serde(default)]
    plugins: toml::Table,
}

/// Everything the server needs, validated.
#[derive(Clone)]
pub struct Config {
    /// The current secret signs and encrypts; older rotation secrets verify and decrypt.
    pub secrets: Secrets,
    /// Public origin plus base path, e.g. `http://localhost:3001/api/auth`.
    pub base_url: Url,
    pub base_path: String,
    pub database_url: String,
    /// `DATABASE_URL=none` (and no Redis): upstream's stateless mode. The session cookie
    /// cache is the authority on sessions; users and accounts live in memory only.
    pub stateless: bool,
    pub data_dir: PathBuf,
    pub host: String,
    pub port: u16,
    pub trusted_origins: Vec<String>,
    pub password: PasswordConfig,
    pub session: SessionConfig,
    /// With Redis: also keep verification values (reset, deletion, OAuth state) in the
    /// `verification` table (upstream `verification.storeInDatabase`, default false).
    pub store_verification_in_database: bool,
    pub jwt: JwtConfig,
    pub rate_limit: RateLimitConfig,
    /// Reverse proxies whose `X-Forwarded-For` names the client (rate limits, session IPs).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub account: AccountConfig,
    pub email_verification: EmailVerificationConfig,
    pub user: UserConfig,
    pub mail: MailConfig,
    /// Social sign-in providers and account linking.
    pub social: crate::oauth::config::SocialConfig,
    /// Seconds in-flight requests get to finish after SIGTERM/SIGINT.
    pub shutdown_timeout: u64,
    /// Where Prometheus metrics are served (`GET /metrics`); off when `None`.
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Secondary storage (upstream's `secondaryStorage`); off when `None`.
    pub redis: Option<RedisConfig>,
    /// Timeouts and limits of client connections.
    pub connections: ConnectionLimits,
    /// The enabled plugins (jwt and bearer unless turned off).
    pub plugins: crate::plugins::Plugins,
    /// `[user.additional_fields]` and `[session.additional_fields]`.
    pub additional_fields: crate::schema::SchemaPart,
}

impl std::fmt::Debug for Config {
    // Hand-written so that the secret can never end up in a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("secret", &"<redacted>")
            .field("base_url", &self.base_url.as_str())
            .field("database_url", &redact_url(&self.database_url))
            .field("data_dir", &self.data_dir)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("trusted_origins", &self.trusted_origins)
            .field("password", &self.password)
            .field("session", &self.session)
            .field("jwt.issuer", &self.jwt.issuer)
            .field("jwt.audience", &self.jwt.audience)
            .field("jwt.algorithm", &self.jwt.algorithm)
            .field("rate_limit", &self.rate_limit)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("account", &self.account)
            .field("email_verification", &self.email_verification)
            .field("user", &self.user)
            .field("mail", &self.mail)
            .field("social", &self.social)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("metrics_addr", &self.metrics_addr)
            .field("redis", &self.redis)
            .field("connections", &self.connections)
            .field("plugins", &self.plugins)
            .field("additional_fields", &self.additional_fields)
            .finish()
    }
}

/// Hides a password in a database URL for logging.
pub fn redact_url(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

impl Config {
    /// Resolves flags, environment, file and defaults. Generates and keeps a development
    /// secret in the data directory when none is configured.
    pub fn load(args: &ConfigArgs) -> Result<Config, ConfigError> {
        let args = &args.without_empty_values();
        let mut file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let data_dir = args
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("./data"));
        let base_url_text = args
            .base_url
            .clone()
            .or(file.base_url)
            .unwrap_or_else(|| "http://localhost:3001".to_owned());
        let base_path = "/api/auth".to_owned();
        let base_url = full_base_url(&base_url_text, &base_path)?;

        let mut trusted_origins = file.trusted_origins.unwrap_or_default();
        if let Some(env_list) = &args.trusted_origins {
            trusted_origins.extend(
                env_list
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
            );
        }

        let allow_weak = args
            .allow_weak_secret
            .or(file.allow_weak_secret)
            .unwrap_or(false);
        let configured_secret = args.secret.clone().or(file.secret);
        let requested_database = args.database_url.clone().or(file.database_url);
        // `DATABASE_URL=none`: upstream's stateless mode (no database option): sessions live
        // in the cookie cache, everything else in memory until the process ends.
        let stateless = requested_database.as_deref() == Some(STATELESS_DATABASE_URL);
        let database_url = match requested_database {
            Some(_) if stateless => MEMORY_DATABASE_URL.to_owned(),
            Some(url) => url,
            None => {
                ensure_dir(&data_dir)?;
                format!("sqlite://{}?mode=rwc", data_dir.join("auth.db").display())
            }
        };
        let secrets = match args.secrets.clone().or(file.secrets) {
            Some(list) => Secrets::rotating(&list, configured_secret)
                .map_err(|e| ConfigError::Invalid(e.to_string()))?,
            None => Secrets::single(match configured_secret {
                Some(secret) => secret,
                None => load_or_create_dev_secret(&data_dir)?,
            }),
        };
        for secret in secrets.all() {
            check_secret(secret, allow_weak)?;
        }
        let redis = redis_config(&args.redis, file.redis_url, file.redis_prefix)?;
        let rate_limit = rate_limit_config(args, file.rate_limit, redis.is_some())?;
        let trusted_proxies = parse_trusted_proxies(
            args.trusted_proxies
                .as_deref()
                .map(|list| list.split(',').map(str::to_owned).collect())
                .or(file.trusted_proxies)
                .unwrap_or_default(),
        )?;

        let password = PasswordConfig {
            hashing: args
                .password_hashing
                .or(file.password.hashing)
                .unwrap_or(PasswordHashing::Argon2id),
            min_length: file.password.min_length.unwrap_or(8),
            max_length: file.password.max_length.unwrap_or(128),
            rehash_on_sign_in: file.password.rehash_on_sign_in.unwrap_or(false),
        };
        if password.min_length == 0 || password.min_length > password.max_length {
            return Err(ConfigError::Invalid(
                "password.min_length must be between 1 and password.max_length".into(),
            ));
        }
        let expires_in = file.session.expires_in.unwrap_or(604_800);
        let session = SessionConfig {
            expires_in,
            update_age: file.session.update_age.unwrap_or(86_400),
            disable_refresh: file.session.disable_refresh.unwrap_or(false),
            defer_refresh: file.session.defer_session_refresh.unwrap_or(false),
            fresh_age: file.session.fresh_age.unwrap_or(86_400),
            store_session_in_database: file.session.store_session_in_database.unwrap_or(false),
            memory_cache: memory_cache(
                &file.session.memory_cache,
                args.session_cache,
                args.session_cache_ttl.as_deref(),
            )?,
            cookie_cache: cookie_cache(
                &file.session.cookie_cache,
                &args.cookie_cache,
                stateless && redis.is_none(),
                expires_in,
            )?,
        };
        // Max-Age above 400 days is refused by better-call and by browsers.
        if !(60..=34_560_000).contains(&session.expires_in) || session.update_age < 0 {
            return Err(ConfigError::Invalid(
                "session.expires_in must be 60..=34560000 seconds and update_age >= 0".into(),
            ));
        }

        let (shutdown_timeout, metrics_addr) =
            deploy_config(&args.deploy, file.shutdown_timeout, file.metrics_addr)?;
        let connections = connection_limits(&args.deploy, &file.connections)?;
        let jwt_options = take_options(&mut file.plugins, file.jwt.take())?;
        let plugins = crate::plugins::from_config(args.plugins.as_deref(), &file.plugins)?;
        crate::routes::check_routes(&plugins)?;
        let additional_fields = fields::additional_fields(
            std::mem::take(&mut file.user.additional_fields),
            std::mem::take(&mut file.session.additional_fields),
        )?;
        let jwt = jwt_config(args, jwt_options, &base_url, &secrets)?;
        let social = crate::oauth::config::social_config(
            file.social_providers,
            crate::oauth::config::FileAccountSocial {
                account_linking: std::mem::take(&mut file.account.account_linking),
                encrypt_oauth_tokens: file.account.encrypt_oauth_tokens,
                skip_state_cookie_check: file.account.skip_state_cookie_check,
                update_account_on_sign_in: file.account.update_account_on_sign_in,
            },
        )?;
        let (account, email_verification, user, mail) = account_config(
            &args.accounts,
            file.account,
            file.email_verification,
            file.user,
            file.mail,
        )?;

        Ok(Config {
            secrets,
            rate_limit,
            trusted_proxies,
            base_url,
            base_path,
            database_url,
            stateless: stateless && redis.is_none(),
            data_dir,
            host: args
                .host
                .clone()
                .or(file.host)
                .unwrap_or_else(|| "127.0.0.1".into()),
            port: args.port.or(file.port).unwrap_or(3001),
            trusted_origins,
            password,
            session,
            store_verification_in_database: file.verification.store_in_database.unwrap_or(false),
            jwt,
            account,
            email_verification,
            user,
            mail,
            social,
            shutdown_timeout,
            metrics_addr,
            redis,
            connections,
            plugins,
            additional_fields,
        })
    }

    /// `scheme://host[:port]` of the base URL.
    pub fn origin(&self) -> String {
        self.base_url.origin().ascii_serialization()
    }

    /// Cookies get the `__Secure-` prefix and `Secure` when served over https.
    pub fn secure_cookies(&self) -> bool {
        self.base_url.scheme() == "https"
    }
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile {
        path: path.to_owned(),
        source,
    })?;
    toml::from_str(&text).map_err(|source| ConfigError::ParseFile {
        path: path.to_owned(),
        source: Box::new(source),
    })
}

#[cfg(test)]
mod tests;
