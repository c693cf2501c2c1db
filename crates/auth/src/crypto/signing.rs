//! Signed cookie values as better-call makes them (`crypto.ts`):
//! `value + "." + base64(HMAC-SHA256(secret, value))`, standard alphabet with padding.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Length of a base64-encoded SHA-256 MAC with padding.
const SIGNATURE_LEN: usize = 44;

fn mac(secret: &str) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    match HmacSha256::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    }
}

/// `value.signature`
pub fn sign(secret: &str, value: &str) -> String {
    let mut m = mac(secret);
    m.update(value.as_bytes());
    let signature = STANDARD.encode(m.finalize().into_bytes());
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
    let mut m = mac(secret);
    m.update(value.as_bytes());
    m.verify_slice(&expected).ok()?;
    Some(value)
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
