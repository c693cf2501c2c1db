//! Password hashes: argon2id for new hashes, Better Auth's scrypt format still verified.
//!
//! Hashing is CPU- and memory-heavy, so it runs on Tokio's blocking pool behind a semaphore
//! sized to the cores: a flood of sign-ins queues here instead of starving the async workers
//! that answer `get-session`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::rngs::OsRng;
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;
use unicode_normalization::UnicodeNormalization;

use crate::config::PasswordHashing;
use crate::error::ApiError;

/// OWASP's minimum for argon2id: 19 MiB, 2 passes, 1 lane.
const ARGON2_MEMORY_KIB: u32 = 19 * 1024;
const ARGON2_ITERATIONS: u32 = 2;
const ARGON2_LANES: u32 = 1;

/// Better Auth's scrypt parameters (`@better-auth/utils` `password.node.ts`): N=2^14, r=16, p=1.
const SCRYPT_LOG_N: u8 = 14;
const SCRYPT_R: u32 = 16;
const SCRYPT_P: u32 = 1;
const SCRYPT_KEY_LEN: usize = 64;

/// What a successful verification says about the stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    Yes { legacy_scrypt: bool },
    No,
}

fn argon2() -> Result<Argon2<'static>, ApiError> {
    let params = Params::new(ARGON2_MEMORY_KIB, ARGON2_ITERATIONS, ARGON2_LANES, None)
        .map_err(|e| ApiError::Internal(format!("argon2 params: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Better Auth normalises passwords to NFKC before hashing; we do the same for both formats.
fn normalize(password: &str) -> String {
    password.nfkc().collect()
}

/// Hashes a password in the given format (blocking; call through [`PasswordHasher`]).
pub fn hash_blocking(password: &str, mode: PasswordHashing) -> Result<String, ApiError> {
    let password = normalize(password);
    match mode {
        PasswordHashing::Argon2id => {
            let salt = SaltString::generate(&mut OsRng);
            argon2()?
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| ApiError::Internal(format!("argon2 hash: {e}")))
        }
        PasswordHashing::Scrypt => {
            let salt = hex::encode(crate::crypto::random::bytes::<16>());
            let key = scrypt_key(&password, &salt)?;
            Ok(format!("{salt}:{}", hex::encode(key)))
        }
    }
}

/// Checks a password against a stored hash of either format (blocking).
pub fn verify_blocking(password: &str, stored: &str) -> Result<Verified, ApiError> {
    let password = normalize(password);
    if stored.starts_with("$argon2") {
        let parsed = PasswordHash::new(stored)
            .map_err(|e| ApiError::Internal(format!("stored argon2 hash unreadable: {e}")))?;
        // The parameters come from the stored hash, so older or stronger settings still verify.
        let ok = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        return Ok(if ok {
            Verified::Yes {
                legacy_scrypt: false,
            }
        } else {
            Verified::No
        });
    }
    // Better Auth's format: "<salt hex>:<key hex>", the salt being the hex *text*.
    let (salt, key_hex) = stored
        .split_once(':')
        .ok_or_else(|| ApiError::Internal("stored password hash has an unknown format".into()))?;
    let expected = hex::decode(key_hex)
        .map_err(|_| ApiError::Internal("stored scrypt key is not hex".into()))?;
    let actual = scrypt_key(&password, salt)?;
    Ok(if bool::from(actual.as_slice().ct_eq(&expected)) {
        Verified::Yes {
            legacy_scrypt: true,
        }
    } else {
        Verified::No
    })
}

fn scrypt_key(password: &str, salt: &str) -> Result<[u8; SCRYPT_KEY_LEN], ApiError> {
    let params = scrypt::Params::new(SCRYPT_LOG_N, SCRYPT_R, SCRYPT_P, SCRYPT_KEY_LEN)
        .map_err(|e| ApiError::Internal(format!("scrypt params: {e}")))?;
    let mut key = [0u8; SCRYPT_KEY_LEN];
    scrypt::scrypt(password.as_bytes(), salt.as_bytes(), &params, &mut key)
        .map_err(|e| ApiError::Internal(format!("scrypt: {e}")))?;
    Ok(key)
}

/// Runs hashing on the blocking pool, at most `permits` at a time.
#[derive(Clone)]
pub struct PasswordHasher {
    mode: PasswordHashing,
    permits: Arc<Semaphore>,
    queued: Arc<AtomicUsize>,
    /// A hash of a random password in the configured format: verified against when the email
    /// is unknown, so that both failures cost the same time.
    dummy_hash: Arc<str>,
}

impl PasswordHasher {
    pub fn new(mode: PasswordHashing, permits: usize) -> Result<Self, ApiError> {
        let dummy = hex::encode(crate::crypto::random::bytes::<16>());
        Ok(Self {
            mode,
            permits: Arc::new(Semaphore::new(permits.max(1))),
            queued: Arc::new(AtomicUsize::new(0)),
            dummy_hash: hash_blocking(&dummy, mode)?.into(),
        })
    }

    pub fn mode(&self) -> PasswordHashing {
        self.mode
    }

    /// Requests waiting for or holding a hashing slot.
    pub fn queue_depth(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    async fn run<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        F: FnOnce() -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        self.queued.fetch_add(1, Ordering::Relaxed);
        let result = async {
            let _permit = self
                .permits
                .acquire()
                .await
                .map_err(|_| ApiError::Internal("hashing pool closed".into()))?;
            tokio::task::spawn_blocking(work)
                .await
                .map_err(|e| ApiError::Internal(format!("hashing task failed: {e}")))?
        }
        .await;
        self.queued.fetch_sub(1, Ordering::Relaxed);
        result
    }

    pub async fn hash(&self, password: &str) -> Result<String, ApiError> {
        let password = password.to_owned();
        let mode = self.mode;
        self.run(move || hash_blocking(&password, mode)).await
    }

    pub async fn verify(&self, password: &str, stored: &str) -> Result<Verified, ApiError> {
        let password = password.to_owned();
        let stored = stored.to_owned();
        self.run(move || verify_blocking(&password, &stored)).await
    }

    /// Burns the same time as a real verification; always fails.
    pub async fn verify_dummy(&self, password: &str) -> Result<Verified, ApiError> {
        let password = password.to_owned();
        let stored = self.dummy_hash.clone();
        self.run(move || verify_blocking(&password, &stored).map(|_| Verified::No))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Produced by the real `better-auth` 1.7 package:
    /// `(await import("better-auth/crypto")).hashPassword("correct horse battery staple")`.
    const BETTER_AUTH_SCRYPT_VECTOR: &str = include_str!("../../tests/vectors/scrypt-hash.txt");

    #[test]
    fn argon2id_roundtrip_with_owasp_parameters() {
        let h = hash_blocking("hunter22hunter22", PasswordHashing::Argon2id).unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert_eq!(
            verify_blocking("hunter22hunter22", &h).unwrap(),
            Verified::Yes {
                legacy_scrypt: false
            }
        );
        assert_eq!(
            verify_blocking("hunter22hunter2", &h).unwrap(),
            Verified::No
        );
    }

    #[test]
    fn scrypt_roundtrip_in_better_auth_format() {
        let h = hash_blocking("pässword-ﬁ", PasswordHashing::Scrypt).unwrap();
        let (salt, key) = h.split_once(':').unwrap();
        assert_eq!(salt.len(), 32);
        assert_eq!(key.len(), 128);
        // NFKC: the "ﬁ" ligature and "fi" are the same password.
        assert!(matches!(
            verify_blocking("pässword-fi", &h).unwrap(),
            Verified::Yes {
                legacy_scrypt: true
            }
        ));
    }

    #[test]
    fn verifies_a_hash_made_by_the_typescript_package() {
        let stored = BETTER_AUTH_SCRYPT_VECTOR.trim();
        assert!(matches!(
            verify_blocking("correct horse battery staple", stored).unwrap(),
            Verified::Yes {
                legacy_scrypt: true
            }
        ));
        assert_eq!(
            verify_blocking("correct horse battery stapler", stored).unwrap(),
            Verified::No
        );
    }

    #[test]
    fn unknown_format_is_an_error_not_a_panic() {
        assert!(verify_blocking("x", "plaintext").is_err());
        assert!(verify_blocking("x", "abc:zz").is_err());
    }
}
