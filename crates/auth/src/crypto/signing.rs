//! Signed cookie values as better-call makes them (`crypto.ts`):
//! `value + "." + base64(HMAC-SHA256(secret, value))`, standard alphabet with padding.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Length of a base64-encoded SHA-256 MAC with padding.
const SIGNATURE_LEN: usize = 44;

fn mac(key: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    }
}

/// HMAC-SHA256 of `data` under `key`.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut m = mac(key);
    m.update(data);
    m.finalize().into_bytes().into()
}

/// Whether `tag` is the HMAC-SHA256 of `data` under `key` (constant-time comparison).
pub fn verify_hmac_sha256(key: &[u8], data: &[u8], tag: &[u8]) -> bool {
    let mut m = mac(key);
    m.update(data);
    m.verify_slice(tag).is_ok()
}

/// `value.signature`
pub fn sign(secret: &str, value: &str) -> String {
    let signature = STANDARD.encode(hmac_sha256(secret.as_bytes(), value.as_bytes()));
    format!("{value}.{signature}")
}

/// The value of a signed string, if its signature is right (constant-time comparison).
pub fn verify<'a>(secret: &str, signed: &'a str) -> Option<&'a str> {
    let dot = signed.rfind('.')?;
    if dot < 1 {
        return None;
    }
    let (value, signature) = (&signed[..dot], &signed[dot + 1..]);
    if signature.len() != SIGNATURE_LEN || !signature.ends_with('=') {
        return None;
    }
    let expected = STANDARD.decode(signature).ok()?;
    verify_hmac_sha256(secret.as_bytes(), value.as_bytes(), &expected).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// From the real `better-auth` 1.7.25 server, secret below, sign-up response cookie.
    const SECRET: &str = "test-secret-0123456789abcdef0123456789abcdef";
    const SIGNED: &str =
        "6v4UMCinUbRgPWrrU7vlkREjj5BvaIIG.gsBh9wJLx8ZezNplJYYM9PWVTUQebwLoQSbKWdGRiX0=";

    #[test]
    fn matches_the_typescript_server() {
        assert_eq!(sign(SECRET, "6v4UMCinUbRgPWrrU7vlkREjj5BvaIIG"), SIGNED);
        assert_eq!(
            verify(SECRET, SIGNED),
            Some("6v4UMCinUbRgPWrrU7vlkREjj5BvaIIG")
        );
    }

    #[test]
    fn rejects_tampering_and_malformed_values() {
        assert_eq!(verify("another-secret-0123456789abcdef0123", SIGNED), None);
        let tampered = SIGNED.replacen('6', "7", 1);
        assert_eq!(verify(SECRET, &tampered), None);
        assert_eq!(verify(SECRET, "nodot"), None);
        assert_eq!(
            verify(SECRET, ".gsBh9wJLx8ZezNplJYYM9PWVTUQebwLoQSbKWdGRiX0="),
            None
        );
        assert_eq!(verify(SECRET, "abc.short="), None);
        assert_eq!(
            verify(SECRET, "abc.!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!="),
            None
        );
    }
}
