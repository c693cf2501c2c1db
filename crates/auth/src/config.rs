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

mod fields;

/// The secret Better Auth falls back to in development; never acceptable for us.
const UPSTREAM_DEFAULT_SECRET: &str = "better-auth-secret-12345678901234567890";
const MIN_SECRET_LEN: usize = 32;
const SECRET_FILE: &str = "secret";

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

/// How new password hashes are made. Both kinds always verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum PasswordHashing {
    /// argon2id (m=12 MiB, t=3, p=1, one of OWASP's minimum configurations), the default.
    Argon2id,
    /// Better Auth's own scrypt format, for a database shared with a TypeScript server.
    Scrypt,
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
    /// `username,anonymous,multi-session,one-time-token,last-login-method`); options go in
    /// `[plugins.<id>]` tables.
    #[arg(long, env = "BETTER_AUTH_PLUGINS", global = true)]
    pub plugins: Option<String>,
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
    #[serde(default)]
    jwt: FileJwt,
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

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRateLimit {
    enabled: Option<bool>,
    window: Option<u64>,
    max: Option<u64>,
    storage: Option<RateLimitStorage>,
    #[serde(default)]
    rules: Vec<FileRateLimitRule>,
}

/// `[[rate_limit.rules]]`: `path` exact or glob (`/sign-in/*`); `enabled = false` exempts it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRateLimitRule {
    path: String,
    window: Option<u64>,
    max: Option<u64>,
    enabled: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FilePassword {
    hashing: Option<PasswordHashing>,
    min_length: Option<usize>,
    max_length: Option<usize>,
    rehash_on_sign_in: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSession {
    expires_in: Option<i64>,
    update_age: Option<i64>,
    disable_refresh: Option<bool>,
    fresh_age: Option<i64>,
    store_session_in_database: Option<bool>,
    #[serde(default)]
    additional_fields: toml::Table,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileVerification {
    store_in_database: Option<bool>,
}

/// Seconds, or a time string as Better Auth takes them (`15m`, `1h`, `7d`, `2 weeks`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum TimeSpan {
    Seconds(i64),
    Text(String),
}

impl TimeSpan {
    fn seconds(&self, setting: &str) -> Result<i64, ConfigError> {
        match self {
            TimeSpan::Seconds(s) => Ok(*s),
            TimeSpan::Text(t) => parse_time_span(t).ok_or_else(|| {
                ConfigError::Invalid(format!("{setting}: cannot read {t:?} as a duration"))
            }),
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

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileJwt {
    issuer: Option<String>,
    audience: Option<Vec<String>>,
    expiration: Option<TimeSpan>,
    user_fields: Option<Vec<String>>,
    claims: Option<toml::Table>,
    subject_field: Option<String>,
    algorithm: Option<JwtAlgorithm>,
    hs256_secret: Option<String>,
    rotation_interval: Option<TimeSpan>,
    grace_period: Option<TimeSpan>,
    set_jwt_header: Option<bool>,
}

/// How JWTs are signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
pub enum JwtAlgorithm {
    /// Ed25519 keys in the `jwks` table, published at `/jwks` (Better Auth's default).
    #[serde(rename = "EdDSA")]
    #[value(name = "EdDSA")]
    EdDsa,
    /// ECDSA P-256 keys in the `jwks` table.
    #[serde(rename = "ES256")]
    #[value(name = "ES256")]
    Es256,
    /// RSA 2048 keys in the `jwks` table, PKCS#1 v1.5 signatures.
    #[serde(rename = "RS256")]
    #[value(name = "RS256")]
    Rs256,
    /// RSA 2048 keys in the `jwks` table, PSS signatures.
    #[serde(rename = "PS256")]
    #[value(name = "PS256")]
    Ps256,
    /// A shared secret: for backends that cannot fetch a JWKS. Weaker: every verifier can
    /// also mint tokens. Never published.
    #[serde(rename = "HS256")]
    #[value(name = "HS256")]
    Hs256,
}

impl JwtAlgorithm {
    pub fn name(self) -> &'static str {
        match self {
            JwtAlgorithm::EdDsa => "EdDSA",
            JwtAlgorithm::Es256 => "ES256",
            JwtAlgorithm::Rs256 => "RS256",
            JwtAlgorithm::Ps256 => "PS256",
            JwtAlgorithm::Hs256 => "HS256",
        }
    }
}

/// The jwt plugin (`/token`, `/jwks`, `set-auth-jwt`).
#[derive(Debug, Clone)]
pub struct JwtConfig {
    pub issuer: String,
    /// One entry is written as a string `aud`, several as an array.
    pub audience: Vec<String>,
    /// Token lifetime in seconds (upstream `expirationTime`, default 15 minutes).
    pub expires_in: i64,
    /// User fields copied into the claims; `None` copies the whole user object (upstream).
    pub user_fields: Option<Vec<String>>,
    /// Static claims added to every token (the configuration form of `definePayload`).
    pub claims: serde_json::Map<String, serde_json::Value>,
    /// The user field whose value becomes `sub` (default `id`).
    pub subject_field: String,
    pub algorithm: JwtAlgorithm,
    pub hs256_secret: Option<String>,
    /// New keys expire after this many seconds and are replaced on demand (rotation).
    pub rotation_interval: Option<i64>,
    /// Retired keys stay in `/jwks` this long after they expire (default 30 days).
    pub grace_period: i64,
    /// Add `set-auth-jwt` to `/get-session` responses (upstream `disableSettingJwtHeader`).
    pub set_jwt_header: bool,
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
    /// Sessions older than this are not "fresh" (`session.freshAge`; 0 disables the check):
    /// list-sessions and password-less delete-user need a fresh one.
    pub fresh_age: i64,
    /// With Redis: also keep sessions in the `session` table (upstream
    /// `session.storeSessionInDatabase`, default false: Redis only).
    pub store_session_in_database: bool,
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

/// Everything the server needs, validated.
#[derive(Clone)]
pub struct Config {
    /// The current secret signs and encrypts; older rotation secrets verify and decrypt.
    pub secrets: Secrets,
    /// Public origin plus base path, e.g. `http://localhost:3001/api/auth`.
    pub base_url: Url,
    pub base_path: String,
    pub database_url: String,
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
        let database_url = match args.database_url.clone().or(file.database_url) {
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
        let session = SessionConfig {
            expires_in: file.session.expires_in.unwrap_or(604_800),
            update_age: file.session.update_age.unwrap_or(86_400),
            disable_refresh: file.session.disable_refresh.unwrap_or(false),
            fresh_age: file.session.fresh_age.unwrap_or(86_400),
            store_session_in_database: file.session.store_session_in_database.unwrap_or(false),
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
        let plugins = crate::plugins::from_config(args.plugins.as_deref(), &file.plugins)?;
        let additional_fields = fields::additional_fields(
            std::mem::take(&mut file.user.additional_fields),
            std::mem::take(&mut file.session.additional_fields),
        )?;
        let jwt = jwt_config(args, file.jwt, &base_url, &secrets)?;
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

fn jwt_config(
    args: &ConfigArgs,
    file: FileJwt,
    base_url: &Url,
    secrets: &Secrets,
) -> Result<JwtConfig, ConfigError> {
    let origin = base_url.origin().ascii_serialization();
    let audience = match &args.jwt_audience {
        Some(list) => list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        None => file.audience.unwrap_or_default(),
    };
    let expires_in = match (&args.jwt_expiration, &file.expiration) {
        (Some(text), _) => TimeSpan::Text(text.clone()).seconds("jwt expiration")?,
        (None, Some(span)) => span.seconds("jwt.expiration")?,
        (None, None) => 900,
    };
    if expires_in <= 0 {
        return Err(ConfigError::Invalid(
            "jwt expiration must be positive".into(),
        ));
    }
    let claims = match file.claims {
        Some(table) => serde_json::to_value(table)
            .ok()
            .and_then(|v| v.as_object().cloned())
            .ok_or_else(|| ConfigError::Invalid("jwt.claims must be a table".into()))?,
        None => serde_json::Map::new(),
    };
    let algorithm = args
        .jwt_algorithm
        .or(file.algorithm)
        .unwrap_or(JwtAlgorithm::EdDsa);
    let hs256_secret = args.jwt_hs256_secret.clone().or(file.hs256_secret);
    if algorithm == JwtAlgorithm::Hs256 {
        match &hs256_secret {
            None => {
                return Err(ConfigError::Invalid(
                    "jwt algorithm HS256 needs BETTER_AUTH_JWT_HS256_SECRET".into(),
                ))
            }
            Some(s) if s.chars().count() < MIN_SECRET_LEN => {
                return Err(ConfigError::Invalid(format!(
                    "the HS256 secret must have at least {MIN_SECRET_LEN} characters"
                )))
            }
            Some(s) if secrets.all().any(|c| c == s) => {
                return Err(ConfigError::Invalid(
                    "the HS256 secret must differ from BETTER_AUTH_SECRET (verifiers could forge cookies)".into(),
                ))
            }
            Some(_) => {}
        }
    }
    let rotation_interval = file
        .rotation_interval
        .map(|s| s.seconds("jwt.rotation_interval"))
        .transpose()?;
    if rotation_interval.is_some_and(|r| r < 60) {
        return Err(ConfigError::Invalid(
            "jwt.rotation_interval must be at least 60 seconds".into(),
        ));
    }
    Ok(JwtConfig {
        issuer: args
            .jwt_issuer
            .clone()
            .or(file.issuer)
            .unwrap_or_else(|| origin.clone()),
        audience: if audience.is_empty() {
            vec![origin]
        } else {
            audience
        },
        expires_in,
        user_fields: file.user_fields,
        claims,
        subject_field: file.subject_field.unwrap_or_else(|| "id".into()),
        algorithm,
        hs256_secret,
        rotation_interval,
        grace_period: file
            .grace_period
            .map(|s| s.seconds("jwt.grace_period"))
            .transpose()?
            .unwrap_or(2_592_000),
        set_jwt_header: file.set_jwt_header.unwrap_or(true),
    })
}

// ---- Account lifecycle and mail (email verification, password reset, change email,
// delete user): Better Auth's `emailAndPassword`, `emailVerification` and `user` options.

/// Environment and flags for the account lifecycle and mail settings.
#[derive(Debug, Clone, Default, Args)]
pub struct AccountArgs {
    /// Refuse sign-in until the email address is verified (`requireEmailVerification`).
    #[arg(long, env = "BETTER_AUTH_REQUIRE_EMAIL_VERIFICATION", global = true)]
    pub require_email_verification: Option<bool>,
    /// How mail leaves: none (mail features off), log (prints links; development) or smtp.
    #[arg(long, env = "BETTER_AUTH_MAIL_TRANSPORT", global = true)]
    pub mail_transport: Option<MailTransport>,
    /// Sender address, e.g. `Example <no-reply@example.com>`.
    #[arg(long, env = "BETTER_AUTH_MAIL_FROM", global = true)]
    pub mail_from: Option<String>,
    /// Directory with template overrides (`<kind>.subject`, `<kind>.txt`, `<kind>.html`).
    #[arg(long, env = "BETTER_AUTH_MAIL_TEMPLATES", global = true)]
    pub mail_templates: Option<PathBuf>,
    /// SMTP server host name.
    #[arg(long, env = "SMTP_HOST", global = true)]
    pub smtp_host: Option<String>,
    /// SMTP port (default: 587 for starttls, 465 for tls, 25 for none).
    #[arg(long, env = "SMTP_PORT", global = true)]
    pub smtp_port: Option<u16>,
    /// SMTP connection security: starttls (default), tls or none.
    #[arg(long, env = "SMTP_SECURITY", global = true)]
    pub smtp_security: Option<SmtpSecurity>,
    /// SMTP user name.
    #[arg(long, env = "SMTP_USERNAME", global = true)]
    pub smtp_username: Option<String>,
    /// SMTP password. Prefer the environment variable over the flag.
    #[arg(long, env = "SMTP_PASSWORD", hide_env_values = true, global = true)]
    pub smtp_password: Option<String>,
    /// PEM file of extra CA certificates to trust for the SMTP server (a private relay).
    #[arg(long, env = "SMTP_CA_FILE", global = true)]
    pub smtp_ca_file: Option<PathBuf>,
}

impl AccountArgs {
    fn without_empty_values(&self) -> AccountArgs {
        AccountArgs {
            require_email_verification: self.require_email_verification,
            mail_transport: self.mail_transport,
            mail_from: keep(&self.mail_from),
            mail_templates: self
                .mail_templates
                .clone()
                .filter(|p| !p.as_os_str().is_empty()),
            smtp_host: keep(&self.smtp_host),
            smtp_port: self.smtp_port,
            smtp_security: self.smtp_security,
            smtp_username: keep(&self.smtp_username),
            smtp_password: keep(&self.smtp_password),
            smtp_ca_file: self
                .smtp_ca_file
                .clone()
                .filter(|p| !p.as_os_str().is_empty()),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileAccount {
    require_email_verification: Option<bool>,
    auto_sign_in: Option<bool>,
    reset_password_token_expires_in: Option<TimeSpan>,
    revoke_sessions_on_password_reset: Option<bool>,
    #[serde(default)]
    account_linking: crate::oauth::config::FileAccountLinking,
    encrypt_oauth_tokens: Option<bool>,
    skip_state_cookie_check: Option<bool>,
    update_account_on_sign_in: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEmailVerification {
    send_on_sign_up: Option<bool>,
    send_on_sign_in: Option<bool>,
    auto_sign_in_after_verification: Option<bool>,
    expires_in: Option<TimeSpan>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileUser {
    change_email: Option<bool>,
    update_email_without_verification: Option<bool>,
    send_change_email_confirmation: Option<bool>,
    delete_user: Option<bool>,
    delete_user_verification: Option<bool>,
    delete_token_expires_in: Option<TimeSpan>,
    #[serde(default)]
    additional_fields: toml::Table,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileMail {
    transport: Option<MailTransport>,
    from: Option<String>,
    app_name: Option<String>,
    template_dir: Option<PathBuf>,
    #[serde(default)]
    smtp: FileSmtp,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSmtp {
    host: Option<String>,
    port: Option<u16>,
    security: Option<SmtpSecurity>,
    username: Option<String>,
    password: Option<String>,
    ca_file: Option<PathBuf>,
}

/// Sign-up, sign-in and password reset options (upstream `emailAndPassword.*`).
#[derive(Debug, Clone)]
pub struct AccountConfig {
    /// Sign-in refuses unverified users (403 EMAIL_NOT_VERIFIED); sign-up then creates no
    /// session and answers an existing address like a new one.
    pub require_email_verification: bool,
    /// Sign-up signs the new user in (`autoSignIn`, default true).
    pub auto_sign_in: bool,
    /// Lifetime of a password reset token in seconds (default 1 hour).
    pub reset_password_token_expires_in: i64,
    /// A password reset signs the user out everywhere.
    pub revoke_sessions_on_password_reset: bool,
}

/// Upstream `emailVerification.*`.
#[derive(Debug, Clone)]
pub struct EmailVerificationConfig {
    /// Default: `require_email_verification`.
    pub send_on_sign_up: bool,
    /// Send a new link when an unverified user is refused at sign-in.
    pub send_on_sign_in: bool,
    /// Following the link signs the user in.
    pub auto_sign_in_after_verification: bool,
    /// Lifetime of a verification link in seconds (default 1 hour).
    pub expires_in: i64,
}

/// Upstream `user.changeEmail` and `user.deleteUser`.
#[derive(Debug, Clone)]
pub struct UserConfig {
    pub change_email_enabled: bool,
    /// An unverified user's address changes at once (then a link verifies the new one).
    pub update_email_without_verification: bool,
    /// A verified user first confirms the change from the current address.
    pub send_change_email_confirmation: bool,
    pub delete_user_enabled: bool,
    /// delete-user mails a confirmation link instead of deleting right away.
    pub delete_user_verification: bool,
    pub delete_token_expires_in: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum MailTransport {
    /// No mail: the features that need it answer as upstream without a sender callback.
    None,
    /// Print each mail, links included, to the log. Development only.
    Log,
    Smtp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS (required).
    Starttls,
    /// TLS from the first byte (SMTPS).
    Tls,
    /// No encryption: only for a relay on localhost or tests.
    None,
}

#[derive(Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Extra trusted CA certificates (PEM) besides the webpki roots.
    pub ca_file: Option<PathBuf>,
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct MailConfig {
    pub transport: MailTransport,
    pub from: String,
    /// Shown in the built-in templates.
    pub app_name: String,
    pub template_dir: Option<PathBuf>,
    pub smtp: SmtpConfig,
}

impl MailConfig {
    /// Whether mail can be sent (upstream: a sender callback is configured).
    pub fn enabled(&self) -> bool {
        self.transport != MailTransport::None
    }
}

fn account_config(
    args: &AccountArgs,
    account: FileAccount,
    verification: FileEmailVerification,
    user: FileUser,
    mail: FileMail,
) -> Result<
    (
        AccountConfig,
        EmailVerificationConfig,
        UserConfig,
        MailConfig,
    ),
    ConfigError,
> {
    let span = |v: Option<TimeSpan>, name: &str, default: i64| -> Result<i64, ConfigError> {
        let seconds = v.map(|s| s.seconds(name)).transpose()?.unwrap_or(default);
        if seconds <= 0 {
            return Err(ConfigError::Invalid(format!("{name} must be positive")));
        }
        Ok(seconds)
    };
    let require = args
        .require_email_verification
        .or(account.require_email_verification)
        .unwrap_or(false);
    let account_config = AccountConfig {
        require_email_verification: require,
        auto_sign_in: account.auto_sign_in.unwrap_or(true),
        reset_password_token_expires_in: span(
            account.reset_password_token_expires_in,
            "account.reset_password_token_expires_in",
            3_600,
        )?,
        revoke_sessions_on_password_reset: account
            .revoke_sessions_on_password_reset
            .unwrap_or(false),
    };
    let verification_config = EmailVerificationConfig {
        send_on_sign_up: verification.send_on_sign_up.unwrap_or(require),
        send_on_sign_in: verification.send_on_sign_in.unwrap_or(false),
        auto_sign_in_after_verification: verification
            .auto_sign_in_after_verification
            .unwrap_or(false),
        expires_in: span(
            verification.expires_in,
            "email_verification.expires_in",
            3_600,
        )?,
    };
    let user_config = UserConfig {
        change_email_enabled: user.change_email.unwrap_or(false),
        update_email_without_verification: user.update_email_without_verification.unwrap_or(false),
        send_change_email_confirmation: user.send_change_email_confirmation.unwrap_or(false),
        delete_user_enabled: user.delete_user.unwrap_or(false),
        delete_user_verification: user.delete_user_verification.unwrap_or(false),
        delete_token_expires_in: span(
            user.delete_token_expires_in,
            "user.delete_token_expires_in",
            86_400,
        )?,
    };
    let transport = args
        .mail_transport
        .or(mail.transport)
        .unwrap_or(MailTransport::None);
    let security = args
        .smtp_security
        .or(mail.smtp.security)
        .unwrap_or(SmtpSecurity::Starttls);
    let smtp = SmtpConfig {
        host: args
            .smtp_host
            .clone()
            .or(mail.smtp.host)
            .unwrap_or_default(),
        port: args.smtp_port.or(mail.smtp.port).unwrap_or(match security {
            SmtpSecurity::Starttls => 587,
            SmtpSecurity::Tls => 465,
            SmtpSecurity::None => 25,
        }),
        security,
        username: args.smtp_username.clone().or(mail.smtp.username),
        password: args.smtp_password.clone().or(mail.smtp.password),
        ca_file: args.smtp_ca_file.clone().or(mail.smtp.ca_file),
    };
    if transport == MailTransport::Smtp && smtp.host.is_empty() {
        return Err(ConfigError::Invalid(
            "mail transport smtp needs SMTP_HOST (mail.smtp.host)".into(),
        ));
    }
    if smtp.username.is_some() != smtp.password.is_some() {
        return Err(ConfigError::Invalid(
            "SMTP_USERNAME and SMTP_PASSWORD go together".into(),
        ));
    }
    let from = args
        .mail_from
        .clone()
        .or(mail.from)
        .unwrap_or_else(|| "Better Auth <no-reply@localhost>".into());
    let mail_config = MailConfig {
        transport,
        from,
        app_name: mail.app_name.unwrap_or_else(|| "Better Auth".into()),
        template_dir: args.mail_templates.clone().or(mail.template_dir),
        smtp,
    };
    Ok((
        account_config,
        verification_config,
        user_config,
        mail_config,
    ))
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

/// Appends the base path when the URL has none, as Better Auth does.
fn full_base_url(text: &str, base_path: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(text).map_err(|_| ConfigError::BaseUrl(text.to_owned()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ConfigError::BaseUrl(text.to_owned()));
    }
    let mut url = url;
    if url.path() == "/" || url.path().is_empty() {
        url.set_path(base_path);
    }
    Ok(url)
}

fn rate_limit_config(
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

/// `10.0.0.1`, `10.0.0.0/8`, `::1`: single addresses become /32 or /128 networks.
fn parse_trusted_proxies(list: Vec<String>) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    list.iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<ipnet::IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    ConfigError::Invalid(format!("trusted proxy {s:?} is not an IP or CIDR"))
                })
        })
        .collect()
}

fn check_secret(secret: &str, allow_weak: bool) -> Result<(), ConfigError> {
    if secret == UPSTREAM_DEFAULT_SECRET && !allow_weak {
        return Err(ConfigError::DefaultSecret);
    }
    let len = secret.chars().count();
    if len < MIN_SECRET_LEN {
        if !allow_weak {
            return Err(ConfigError::WeakSecret(len));
        }
        tracing::warn!("using a secret shorter than {MIN_SECRET_LEN} characters: development only");
    }
    Ok(())
}

fn ensure_dir(dir: &Path) -> Result<(), ConfigError> {
    std::fs::create_dir_all(dir).map_err(|source| ConfigError::DataDir {
        path: dir.to_owned(),
        source,
    })
}

/// Reads `<data_dir>/secret`, or creates it (64 hex chars, mode 0600) on first start.
fn load_or_create_dev_secret(data_dir: &Path) -> Result<String, ConfigError> {
    ensure_dir(data_dir)?;
    let path = data_dir.join(SECRET_FILE);
    let io_err = |source| ConfigError::DataDir {
        path: path.clone(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            tracing::warn!(
                path = %path.display(),
                "BETTER_AUTH_SECRET is not set: using the development secret kept in the data \
                 directory. Production must set its own secret."
            );
            return Ok(text.trim().to_owned());
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err(e)),
    }
    let secret = hex::encode(crate::crypto::random::bytes::<32>());
    write_private_file(&path, &secret).map_err(io_err)?;
    tracing::warn!(
        path = %path.display(),
        "BETTER_AUTH_SECRET is not set: generated a development secret and kept it in the data \
         directory. Production must set its own secret."
    );
    Ok(secret)
}

#[cfg(unix)]
fn write_private_file(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())?;
    file.write_all(b"\n")
}

#[cfg(not(unix))]
fn write_private_file(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, format!("{contents}\n"))
}

// ---- Running in production: shutdown, metrics, log format.

/// Environment and flags for operating the server.
#[derive(Debug, Clone, Default, Args)]
pub struct DeployArgs {
    /// Seconds that in-flight requests get to finish after SIGTERM/SIGINT (default 30).
    #[arg(long, env = "BETTER_AUTH_SHUTDOWN_TIMEOUT", global = true)]
    pub shutdown_timeout: Option<u64>,
    /// Serve Prometheus metrics at `GET /metrics` on this address (e.g. `127.0.0.1:9464`);
    /// off by default, and never on the public port.
    #[arg(long, env = "BETTER_AUTH_METRICS_ADDR", global = true)]
    pub metrics_addr: Option<String>,
    /// Log lines as `text` (default) or `json` (one object per line).
    #[arg(long, env = "BETTER_AUTH_LOG_FORMAT", global = true)]
    pub log_format: Option<LogFormat>,
    /// Seconds a request body may take to arrive in full before the server answers 408 and
    /// closes the connection (default 15).
    #[arg(long, env = "BETTER_AUTH_BODY_TIMEOUT", global = true)]
    pub body_timeout: Option<u64>,
    /// Seconds a new connection may take to send its request line and headers (default 5).
    #[arg(long, env = "BETTER_AUTH_HEAD_TIMEOUT", global = true)]
    pub head_timeout: Option<u64>,
    /// Seconds an idle keep-alive connection stays open (default 5; 0 turns keep-alive off).
    #[arg(long, env = "BETTER_AUTH_KEEP_ALIVE", global = true)]
    pub keep_alive: Option<u64>,
    /// Open connections each worker thread accepts (default 25000); beyond it new
    /// connections wait in the listen backlog.
    #[arg(long, env = "BETTER_AUTH_MAX_CONNECTIONS", global = true)]
    pub max_connections: Option<usize>,
}

impl DeployArgs {
    fn without_empty_values(&self) -> DeployArgs {
        DeployArgs {
            shutdown_timeout: self.shutdown_timeout,
            metrics_addr: keep(&self.metrics_addr),
            log_format: self.log_format,
            body_timeout: self.body_timeout,
            head_timeout: self.head_timeout,
            keep_alive: self.keep_alive,
            max_connections: self.max_connections,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

fn deploy_config(
    args: &DeployArgs,
    file_timeout: Option<u64>,
    file_metrics: Option<String>,
) -> Result<(u64, Option<std::net::SocketAddr>), ConfigError> {
    let timeout = args.shutdown_timeout.or(file_timeout).unwrap_or(30);
    let metrics = args
        .metrics_addr
        .clone()
        .or(file_metrics)
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            s.trim().parse().map_err(|_| {
                ConfigError::Invalid(format!(
                    "metrics address {s:?} must be host:port, e.g. 127.0.0.1:9464"
                ))
            })
        })
        .transpose()?;
    Ok((timeout, metrics))
}

/// `[connections]` in the TOML file (seconds; the environment wins).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConnections {
    body_timeout: Option<u64>,
    head_timeout: Option<u64>,
    keep_alive: Option<u64>,
    max_connections: Option<usize>,
}

/// What a client connection may hold: a slow client gets these, then it is cut off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Time for the whole request body to arrive (after the headers): then 408 and close.
    pub body_timeout: Duration,
    /// Time for the request line and headers of a new connection (actix's request timeout).
    pub head_timeout: Duration,
    /// Idle time of a keep-alive connection; zero turns keep-alive off.
    pub keep_alive: Duration,
    /// Connections per worker thread.
    pub max_connections: usize,
}

fn connection_limits(
    args: &DeployArgs,
    file: &FileConnections,
) -> Result<ConnectionLimits, ConfigError> {
    let seconds = |arg: Option<u64>, file: Option<u64>, default: u64, name: &str| {
        let s = arg.or(file).unwrap_or(default);
        if s > 3600 {
            return Err(ConfigError::Invalid(format!(
                "connections.{name} must be at most 3600 seconds"
            )));
        }
        Ok(Duration::from_secs(s))
    };
    let limits = ConnectionLimits {
        body_timeout: seconds(args.body_timeout, file.body_timeout, 15, "body_timeout")?,
        head_timeout: seconds(args.head_timeout, file.head_timeout, 5, "head_timeout")?,
        keep_alive: seconds(args.keep_alive, file.keep_alive, 5, "keep_alive")?,
        max_connections: args
            .max_connections
            .or(file.max_connections)
            .unwrap_or(25_000),
    };
    if limits.body_timeout.is_zero() || limits.head_timeout.is_zero() || limits.max_connections == 0
    {
        return Err(ConfigError::Invalid(
            "connections.body_timeout, head_timeout and max_connections must be above 0".into(),
        ));
    }
    Ok(limits)
}

// ---- Secondary storage in Redis.

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
    fn without_empty_values(&self) -> RedisArgs {
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

fn redis_config(
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

#[cfg(test)]
mod tests {
    use super::*;

    fn args(dir: &Path) -> ConfigArgs {
        ConfigArgs {
            data_dir: Some(dir.to_owned()),
            ..ConfigArgs::default()
        }
    }

    #[test]
    fn redis_url_makes_redis_the_rate_limit_storage() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = args(dir.path());
        a.secret = Some("x".repeat(32));
        assert_eq!(
            Config::load(&a).unwrap().rate_limit.storage,
            RateLimitStorage::Memory
        );
        a.rate_limit_storage = Some(RateLimitStorage::Redis);
        assert!(
            matches!(Config::load(&a), Err(ConfigError::Invalid(m)) if m.contains("REDIS_URL"))
        );
        a.rate_limit_storage = None;
        a.redis.redis_url = Some("redis://:hunter2@127.0.0.1:6379/0".into());
        let c = Config::load(&a).unwrap();
        assert_eq!(c.rate_limit.storage, RateLimitStorage::Redis);
        assert_eq!(c.redis.as_ref().unwrap().prefix, "");
        assert!(!format!("{c:?}").contains("hunter2"));
        a.rate_limit_storage = Some(RateLimitStorage::Database);
        assert_eq!(
            Config::load(&a).unwrap().rate_limit.storage,
            RateLimitStorage::Database
        );
        a.redis.redis_url = Some("http://:hunter2@x".into());
        let err = Config::load(&a).unwrap_err().to_string();
        assert!(
            err.contains("REDIS_URL") && !err.contains("hunter2"),
            "{err}"
        );
        // Upstream's name for it, in the file.
        let file: FileRateLimit = toml::from_str(r#"storage = "secondary-storage""#).unwrap();
        assert_eq!(file.storage, Some(RateLimitStorage::Redis));
    }

    #[test]
    fn generates_and_keeps_a_private_dev_secret() {
        let dir = tempfile::tempdir().unwrap();
        let first = Config::load(&args(dir.path())).unwrap();
        let second = Config::load(&args(dir.path())).unwrap();
        assert_eq!(first.secrets.current(), second.secrets.current());
        assert_eq!(first.secrets.current().len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("secret"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(first.database_url.starts_with("sqlite://"));
        assert_eq!(first.base_url.as_str(), "http://localhost:3001/api/auth");
        assert_eq!(first.port, 3001);
    }

    #[test]
    fn refuses_short_and_default_secrets_unless_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = args(dir.path());
        a.secret = Some("short".into());
        assert!(matches!(Config::load(&a), Err(ConfigError::WeakSecret(5))));
        a.allow_weak_secret = Some(true);
        assert!(Config::load(&a).is_ok());
        a.allow_weak_secret = None;
        a.secret = Some(UPSTREAM_DEFAULT_SECRET.into());
        assert!(matches!(Config::load(&a), Err(ConfigError::DefaultSecret)));
    }

    #[test]
    fn flags_beat_file_and_file_beats_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("auth.toml");
        std::fs::write(
            &file,
            "port = 4000\nhost = \"0.0.0.0\"\nbase_url = \"https://auth.example.com\"\n\
             trusted_origins = [\"https://app.example.com\"]\n[password]\nmin_length = 10\n",
        )
        .unwrap();
        let mut a = args(dir.path());
        a.config = Some(file);
        a.port = Some(5000);
        a.trusted_origins = Some("http://localhost:3000, *.example.org".into());
        let c = Config::load(&a).unwrap();
        assert_eq!(c.port, 5000);
        assert_eq!(c.host, "0.0.0.0");
        assert_eq!(c.password.min_length, 10);
        assert!(c.secure_cookies());
        assert_eq!(c.origin(), "https://auth.example.com");
        assert_eq!(
            c.trusted_origins,
            vec![
                "https://app.example.com",
                "http://localhost:3000",
                "*.example.org"
            ]
        );
    }

    #[test]
    fn time_spans() {
        assert_eq!(parse_time_span("15m"), Some(900));
        assert_eq!(parse_time_span("1 hour"), Some(3600));
        assert_eq!(parse_time_span("7d"), Some(604_800));
        assert_eq!(parse_time_span("30"), Some(30));
        assert_eq!(parse_time_span("2 weeks"), Some(1_209_600));
        assert_eq!(parse_time_span("soon"), None);
    }

    #[test]
    fn jwt_settings() {
        let dir = tempfile::tempdir().unwrap();
        let c = Config::load(&args(dir.path())).unwrap();
        assert_eq!(c.jwt.issuer, "http://localhost:3001");
        assert_eq!(c.jwt.audience, vec!["http://localhost:3001"]);
        assert_eq!(c.jwt.expires_in, 900);
        assert_eq!(c.jwt.algorithm, JwtAlgorithm::EdDsa);

        let file = dir.path().join("auth.toml");
        std::fs::write(
            &file,
            "[jwt]\nexpiration = \"1h\"\naudience = [\"https://api.example.com\", \"https://b.example.com\"]\n\
             user_fields = [\"email\"]\nclaims = { tier = \"gold\" }\n",
        )
        .unwrap();
        let mut a = args(dir.path());
        a.config = Some(file);
        let c = Config::load(&a).unwrap();
        assert_eq!(c.jwt.expires_in, 3600);
        assert_eq!(c.jwt.audience.len(), 2);
        assert_eq!(c.jwt.claims["tier"], "gold");

        a.jwt_algorithm = Some(JwtAlgorithm::Hs256);
        assert!(Config::load(&a).is_err(), "HS256 needs its own secret");
        a.jwt_hs256_secret = Some(c.secrets.current().to_owned());
        assert!(Config::load(&a).is_err(), "never the cookie secret");
        a.jwt_hs256_secret = Some("hs256-shared-secret-0123456789abcdef".into());
        assert!(Config::load(&a).is_ok());
    }

    #[test]
    fn empty_values_mean_unset() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = args(dir.path());
        a.database_url = Some(String::new());
        a.base_url = Some(" ".into());
        let c = Config::load(&a).unwrap();
        assert!(c.database_url.starts_with("sqlite://"));
        assert_eq!(c.origin(), "http://localhost:3001");
    }

    #[test]
    fn account_and_mail_settings() {
        let dir = tempfile::tempdir().unwrap();
        let defaults = Config::load(&args(dir.path())).unwrap();
        assert!(!defaults.mail.enabled());
        assert!(!defaults.account.require_email_verification);
        assert!(defaults.account.auto_sign_in);
        assert!(!defaults.email_verification.send_on_sign_up);
        assert_eq!(defaults.email_verification.expires_in, 3_600);
        assert_eq!(defaults.user.delete_token_expires_in, 86_400);
        assert_eq!(defaults.session.fresh_age, 86_400);

        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            r#"
[account]
require_email_verification = true
reset_password_token_expires_in = "30m"
[email_verification]
expires_in = 600
[user]
delete_user = true
[mail]
transport = "smtp"
from = "Acme <auth@acme.test>"
[mail.smtp]
host = "smtp.acme.test"
security = "tls"
username = "u"
password = "p"
"#,
        )
        .unwrap();
        let mut a = args(dir.path());
        a.config = Some(path);
        let c = Config::load(&a).unwrap();
        assert!(c.account.require_email_verification);
        assert!(
            c.email_verification.send_on_sign_up,
            "follows requireEmailVerification"
        );
        assert_eq!(c.account.reset_password_token_expires_in, 1_800);
        assert_eq!(c.email_verification.expires_in, 600);
        assert!(c.user.delete_user_enabled);
        assert_eq!(c.mail.transport, MailTransport::Smtp);
        assert_eq!(c.mail.smtp.port, 465, "the port follows the security");
        assert!(
            !format!("{c:?}").contains("\"p\""),
            "the SMTP password stays out of logs"
        );

        a.accounts.smtp_port = Some(2525);
        a.accounts.smtp_security = Some(SmtpSecurity::Starttls);
        let c = Config::load(&a).unwrap();
        assert_eq!(
            (c.mail.smtp.port, c.mail.smtp.security),
            (2525, SmtpSecurity::Starttls)
        );
        a.accounts.mail_transport = Some(MailTransport::Smtp);
        a.accounts.smtp_host = None;
        a.config = None;
        assert!(Config::load(&a).is_err(), "smtp without a host");
    }

    #[test]
    fn unknown_file_keys_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("auth.toml");
        std::fs::write(&file, "prot = 1\n").unwrap();
        let mut a = args(dir.path());
        a.config = Some(file);
        assert!(matches!(
            Config::load(&a),
            Err(ConfigError::ParseFile { .. })
        ));
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let dir = tempfile::tempdir().unwrap();
        let c = Config::load(&args(dir.path())).unwrap();
        assert!(!format!("{c:?}").contains(c.secrets.current()));
    }
}
