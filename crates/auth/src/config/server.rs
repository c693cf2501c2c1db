//! Where the server is and its secrets: base URL, trusted proxies, the secret rules and
//! the development secret kept in the data directory.

use super::*;

/// The secret Better Auth falls back to in development; never acceptable for us.
pub(crate) const UPSTREAM_DEFAULT_SECRET: &str = "better-auth-secret-12345678901234567890";
pub(crate) const MIN_SECRET_LEN: usize = 32;
pub(crate) const SECRET_FILE: &str = "secret";

/// Appends the base path when the URL has none, as Better Auth does.
pub(crate) fn full_base_url(text: &str, base_path: &str) -> Result<Url, ConfigError> {
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

/// `10.0.0.1`, `10.0.0.0/8`, `::1`: single addresses become /32 or /128 networks.
pub(crate) fn parse_trusted_proxies(list: Vec<String>) -> Result<Vec<ipnet::IpNet>, ConfigError> {
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

pub(crate) fn check_secret(secret: &str, allow_weak: bool) -> Result<(), ConfigError> {
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

pub(crate) fn ensure_dir(dir: &Path) -> Result<(), ConfigError> {
    std::fs::create_dir_all(dir).map_err(|source| ConfigError::DataDir {
        path: dir.to_owned(),
        source,
    })
}

/// Reads `<data_dir>/secret`, or creates it (64 hex chars, mode 0600) on first start.
pub(crate) fn load_or_create_dev_secret(data_dir: &Path) -> Result<String, ConfigError> {
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
pub(crate) fn write_private_file(path: &Path, contents: &str) -> std::io::Result<()> {
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
pub(crate) fn write_private_file(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, format!("{contents}\n"))
}
