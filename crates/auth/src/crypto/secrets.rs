//! The server's secrets, with rotation as Better Auth configures it
//! (`BETTER_AUTH_SECRETS="2:new,1:old"`, first entry current; `BETTER_AUTH_SECRET` kept as
//! the legacy secret).
//!
//! The current secret signs cookies and encrypts stored keys (`$ba$<version>$<hex>`, as
//! upstream writes them). Unlike upstream, which checks cookie signatures with the current
//! secret only (a rotation there signs everyone out), every configured secret still
//! verifies: rotating the secret keeps sessions alive until the old one is removed.

use crate::crypto::{signing, symmetric, symmetric::DecryptError};

#[derive(Clone)]
pub struct Secrets {
    /// The signing and encrypting secret, with its version when rotation is configured.
    current: Versioned,
    /// Older rotation versions: verify and decrypt only.
    older: Vec<Versioned>,
    /// `BETTER_AUTH_SECRET` next to a rotation list: verifies, decrypts unversioned values.
    legacy: Option<String>,
}

#[derive(Clone)]
struct Versioned {
    version: Option<u32>,
    value: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretsError {
    #[error("BETTER_AUTH_SECRETS: expected \"<version>:<secret>\" entries, got {0:?}")]
    Entry(String),
    #[error("BETTER_AUTH_SECRETS: version {0} appears twice")]
    Duplicate(u32),
    #[error("BETTER_AUTH_SECRETS is empty")]
    Empty,
}

impl Secrets {
    /// One secret, no rotation.
    pub fn single(secret: String) -> Self {
        Self {
            current: Versioned {
                version: None,
                value: secret,
            },
            older: Vec::new(),
            legacy: None,
        }
    }

    /// `"2:new,1:old"`: the first entry is current. `legacy` is `BETTER_AUTH_SECRET`, if set.
    pub fn rotating(list: &str, legacy: Option<String>) -> Result<Self, SecretsError> {
        let mut entries = Vec::new();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (version, value) = entry
                .split_once(':')
                .and_then(|(v, s)| Some((v.trim().parse::<u32>().ok()?, s.trim())))
                .filter(|(_, s)| !s.is_empty())
                .ok_or_else(|| SecretsError::Entry(redact(entry)))?;
            if entries
                .iter()
                .any(|e: &Versioned| e.version == Some(version))
            {
                return Err(SecretsError::Duplicate(version));
            }
            entries.push(Versioned {
                version: Some(version),
                value: value.to_owned(),
            });
        }
        let mut entries = entries.into_iter();
        let current = entries.next().ok_or(SecretsError::Empty)?;
        Ok(Self {
            current,
            older: entries.collect(),
            legacy,
        })
    }

    /// The secret that signs and encrypts.
    pub fn current(&self) -> &str {
        &self.current.value
    }

    /// Every secret, current first: for checking the length rules at start-up.
    pub fn all(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.current.value.as_str())
            .chain(self.older.iter().map(|v| v.value.as_str()))
            .chain(self.legacy.as_deref())
    }

    /// `value.signature` with the current secret.
    pub fn sign(&self, value: &str) -> String {
        signing::sign(self.current(), value)
    }

    /// The value of a signed string if any configured secret signed it.
    pub fn verify<'a>(&self, signed: &'a str) -> Option<&'a str> {
        self.all()
            .find_map(|secret| signing::verify(secret, signed))
    }

    /// Encrypts with the current secret; versioned as `$ba$<v>$<hex>` under rotation.
    pub fn encrypt(&self, plaintext: &str) -> String {
        let sealed = symmetric::encrypt(self.current(), plaintext);
        match self.current.version {
            Some(v) => format!("$ba${v}${sealed}"),
            None => sealed,
        }
    }

    /// Decrypts a value written by us or by Better Auth with any configured secret.
    pub fn decrypt(&self, data: &str) -> Result<String, DecryptError> {
        if let Some(rest) = data.strip_prefix("$ba$") {
            let (version, sealed) = rest.split_once('$').ok_or(DecryptError::Malformed)?;
            let secret = version
                .parse::<u32>()
                .ok()
                .and_then(|v| self.versioned(v))
                .ok_or_else(|| DecryptError::UnknownSecretVersion(version.to_owned()))?;
            return symmetric::decrypt(secret, sealed);
        }
        // Unversioned: written before rotation, with the legacy (or only) secret.
        let unversioned = self.legacy.as_deref().unwrap_or(self.current());
        symmetric::decrypt(unversioned, data)
    }

    fn versioned(&self, version: u32) -> Option<&str> {
        std::iter::once(&self.current)
            .chain(&self.older)
            .find(|v| v.version == Some(version))
            .map(|v| v.value.as_str())
    }
}

/// An invalid entry is reported without its secret part.
fn redact(entry: &str) -> String {
    match entry.split_once(':') {
        Some((version, _)) => format!("{version}:<redacted>"),
        None => "<redacted>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = "old-secret-0123456789abcdef0123456789";
    const NEW: &str = "new-secret-0123456789abcdef0123456789";

    #[test]
    fn parses_upstream_format() {
        let s = Secrets::rotating(&format!("2:{NEW}, 1:{OLD}"), None).unwrap();
        assert_eq!(s.current(), NEW);
        assert_eq!(s.all().count(), 2);
        assert_eq!(
            Secrets::rotating("nope", None).err(),
            Some(SecretsError::Entry("<redacted>".into()))
        );
        assert_eq!(
            Secrets::rotating("x:abc", None).err(),
            Some(SecretsError::Entry("x:<redacted>".into()))
        );
        assert_eq!(
            Secrets::rotating("1:a,1:b", None).err(),
            Some(SecretsError::Duplicate(1))
        );
        assert_eq!(
            Secrets::rotating(" , ", None).err(),
            Some(SecretsError::Empty)
        );
    }

    #[test]
    fn old_secrets_verify_and_decrypt_new_one_signs_and_encrypts() {
        let before = Secrets::single(OLD.into());
        let cookie = before.sign("token");
        let sealed = before.encrypt("key");

        let after = Secrets::rotating(&format!("2:{NEW},1:{OLD}"), Some(OLD.into())).unwrap();
        assert_eq!(after.verify(&cookie), Some("token"));
        assert_eq!(after.decrypt(&sealed).unwrap(), "key");
        let resealed = after.encrypt("key");
        assert!(resealed.starts_with("$ba$2$"));
        assert_eq!(after.decrypt(&resealed).unwrap(), "key");
        assert_eq!(after.sign("token"), signing::sign(NEW, "token"));

        // Once the old secret is removed, what it made no longer works.
        let later = Secrets::rotating(&format!("2:{NEW}"), None).unwrap();
        assert_eq!(later.verify(&cookie), None);
        assert!(later.decrypt(&sealed).is_err());
        assert_eq!(later.decrypt(&resealed).unwrap(), "key");
        assert_eq!(
            later.decrypt("$ba$1$00"),
            Err(DecryptError::UnknownSecretVersion("1".into()))
        );
        assert_eq!(later.decrypt("$ba$1"), Err(DecryptError::Malformed));
    }
}
