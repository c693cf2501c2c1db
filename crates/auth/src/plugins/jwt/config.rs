//! The jwt plugin's options: `BETTER_AUTH_JWT_*` and the `[plugins.jwt]` table (or, as
//! earlier releases read it, the top-level `[jwt]` table).

use serde::Deserialize;
use url::Url;

use crate::config::*;
use crate::crypto::secrets::Secrets;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileJwt {
    pub(crate) issuer: Option<String>,
    pub(crate) audience: Option<Vec<String>>,
    /// Upstream's `jwt.expirationTime`.
    #[serde(alias = "expiration_time")]
    pub(crate) expiration: Option<TimeSpan>,
    pub(crate) user_fields: Option<Vec<String>>,
    pub(crate) claims: Option<toml::Table>,
    pub(crate) subject_field: Option<String>,
    pub(crate) algorithm: Option<JwtAlgorithm>,
    pub(crate) hs256_secret: Option<String>,
    pub(crate) rotation_interval: Option<TimeSpan>,
    pub(crate) grace_period: Option<TimeSpan>,
    pub(crate) set_jwt_header: Option<bool>,
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

/// The jwt options: the keys of `[plugins.jwt]` besides `enabled` (taken out of the plugin
/// table here, which is left with `enabled` alone), or the top-level `[jwt]` table; both
/// at once is an error, so that no option is silently ignored.
pub(crate) fn take_options(
    plugins: &mut toml::Table,
    top_level: Option<FileJwt>,
) -> Result<FileJwt, ConfigError> {
    let mut from_plugins = None;
    for (key, value) in plugins.iter_mut() {
        let toml::Value::Table(table) = value else {
            continue; // plugins::from_config names the key
        };
        if crate::plugins::canonical(key) != "jwt" {
            continue;
        }
        let enabled = table.remove("enabled");
        let options = std::mem::take(table);
        if let Some(enabled) = enabled {
            table.insert("enabled".into(), enabled);
        }
        if !options.is_empty() {
            let parsed: FileJwt = toml::Value::Table(options)
                .try_into()
                .map_err(|e| ConfigError::Invalid(format!("plugins.{key}: {e}")))?;
            from_plugins = Some(parsed);
        }
    }
    match (from_plugins, top_level) {
        (Some(_), Some(_)) => Err(ConfigError::Invalid(
            "jwt options are in both [plugins.jwt] and [jwt]: keep them in [plugins.jwt]".into(),
        )),
        (Some(options), None) | (None, Some(options)) => Ok(options),
        (None, None) => Ok(FileJwt::default()),
    }
}

pub(crate) fn jwt_config(
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
    let expires_in = TimeSpan::pick(
        args.jwt_expiration.as_deref(),
        "jwt expiration",
        file.expiration.as_ref(),
        "jwt.expiration",
    )?
    .unwrap_or(900);
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
