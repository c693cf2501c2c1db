//! Encryption of stored secrets exactly as Better Auth does it (`crypto/index.ts`
//! `symmetricEncrypt`): XChaCha20-Poly1305, key = SHA-256(secret), a random 24-byte nonce
//! prepended, lowercase hex of `nonce || ciphertext || tag`. Used for JWKS private keys.

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};

const NONCE_LEN: usize = 24;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecryptError {
    #[error("encrypted value is not hex or too short")]
    Malformed,
    #[error("decryption failed: wrong secret or corrupted value")]
    Failed,
    #[error("value was encrypted with versioned secret {0}, which is not configured")]
    UnknownSecretVersion(String),
}

fn cipher(secret: &str) -> XChaCha20Poly1305 {
    let key = Sha256::digest(secret.as_bytes());
    XChaCha20Poly1305::new(&key)
}

pub fn encrypt(secret: &str, plaintext: &str) -> String {
    let nonce_bytes = crate::crypto::random::bytes::<NONCE_LEN>();
    let nonce = XNonce::from_slice(&nonce_bytes);
    // Encryption with a valid key and nonce cannot fail for in-memory buffers.
    let sealed = cipher(secret)
        .encrypt(nonce, plaintext.as_bytes())
        .unwrap_or_default();
    let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
    out.extend_from_slice(&nonce_bytes);
    out.extend_from_slice(&sealed);
    hex::encode(out)
}

pub fn decrypt(secret: &str, data: &str) -> Result<String, DecryptError> {
    // `$ba$<version>$<hex>` is written when Better Auth runs with rotating secrets.
    if let Some(rest) = data.strip_prefix("$ba$") {
        let version = rest.split('$').next().unwrap_or_default();
        return Err(DecryptError::UnknownSecretVersion(version.to_owned()));
    }
    let bytes = hex::decode(data).map_err(|_| DecryptError::Malformed)?;
    if bytes.len() < NONCE_LEN + 16 {
        return Err(DecryptError::Malformed);
    }
    let (nonce, sealed) = bytes.split_at(NONCE_LEN);
    let plain = cipher(secret)
        .decrypt(XNonce::from_slice(nonce), sealed)
        .map_err(|_| DecryptError::Failed)?;
    String::from_utf8(plain).map_err(|_| DecryptError::Failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_wrong_secret() {
        let secret = "a-secret-that-is-long-enough-0123456789";
        let sealed = encrypt(secret, "hello");
        assert_eq!(sealed.len(), (24 + 5 + 16) * 2);
        assert_eq!(decrypt(secret, &sealed).unwrap(), "hello");
        assert_eq!(
            decrypt("another-secret-0123456789abcdef0123", &sealed),
            Err(DecryptError::Failed)
        );
        assert_eq!(decrypt(secret, "zz"), Err(DecryptError::Malformed));
        assert!(
            matches!(decrypt(secret, "$ba$2$00"), Err(DecryptError::UnknownSecretVersion(v)) if v == "2")
        );
    }
}
