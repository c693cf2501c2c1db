//! One typed configuration, resolved once at start-up.
//!
//! Precedence (highest first): command-line flag, environment variable, TOML file
//! (`--config`), built-in default. The environment names are the ones Better Auth
//! deployments already use (`BETTER_AUTH_SECRET`, `BETTER_AUTH_URL`, ...).

use std::path::{Path, PathBuf};

use clap::Args;
use serde::Deserialize;
use url::Url;

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
    /// argon2id (m=19 MiB, t=2, p=1): OWASP's minimum, the default.
    Argon2id,
    /// Better Auth's own scrypt format, for a database shared with a TypeScript server.
    Scrypt,
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
    /// The secret. Prefer the environment variable over the flag (process lists are public).
    #[arg(
        long,
        env = "BETTER_AUTH_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub secret: Option<String>,
}

/// The optional TOML file. Unknown keys are an error so that typos do not go unnoticed.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
struct FileConfig {
    secret: Option<String>,
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
}

/// Everything the server needs, validated.
#[derive(Clone)]
pub struct Config {
    pub secret: String,
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
        let file = match &args.config {
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
        let secret = match configured_secret {
            Some(secret) => secret,
            None => load_or_create_dev_secret(&data_dir)?,
        };
        check_secret(&secret, allow_weak)?;

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
        };
        // Max-Age above 400 days is refused by better-call and by browsers.
        if !(60..=34_560_000).contains(&session.expires_in) || session.update_age < 0 {
            return Err(ConfigError::Invalid(
                "session.expires_in must be 60..=34560000 seconds and update_age >= 0".into(),
            ));
        }

        Ok(Config {
            secret,
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
    fn generates_and_keeps_a_private_dev_secret() {
        let dir = tempfile::tempdir().unwrap();
        let first = Config::load(&args(dir.path())).unwrap();
        let second = Config::load(&args(dir.path())).unwrap();
        assert_eq!(first.secret, second.secret);
        assert_eq!(first.secret.len(), 64);
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
        assert!(!format!("{c:?}").contains(&c.secret));
    }
}
