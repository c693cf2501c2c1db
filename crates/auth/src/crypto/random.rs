//! Random ids and tokens in Better Auth's alphabets (`packages/core/src/utils/id.ts`,
//! `@better-auth/utils` `random.ts`): uniform characters by rejection sampling.

use rand::rngs::OsRng;
use rand::RngCore;

pub const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// `N` bytes from the operating system's CSPRNG.
pub fn bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    OsRng.fill_bytes(&mut out);
    out
}

/// A string of `len` characters drawn uniformly from `alphabet` (at most 256 symbols).
pub fn string_from(alphabet: &[u8], len: usize) -> String {
    // Bytes at or above the largest multiple of the alphabet size are rejected so that
    // every character is equally likely.
    let limit = 256 - (256 % alphabet.len());
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        OsRng.fill_bytes(&mut buf);
        for &b in &buf {
            if (b as usize) < limit {
                out.push(alphabet[b as usize % alphabet.len()] as char);
                if out.len() == len {
                    break;
                }
            }
        }
    }
    out
}

/// Row id: 32 alphanumeric characters, like `generateId()`.
pub fn id() -> String {
    string_from(ALPHANUMERIC, 32)
}

/// Session token: 32 alphanumeric characters.
pub fn session_token() -> String {
    string_from(ALPHANUMERIC, 32)
}

/// Password reset token: 24 alphanumeric characters (`generateId(24)`).
pub fn reset_token() -> String {
    string_from(ALPHANUMERIC, 24)
}

/// Account deletion token: 32 characters `0-9a-z` (`generateRandomString(32, "0-9", "a-z")`).
pub fn delete_token() -> String {
    string_from(b"0123456789abcdefghijklmnopqrstuvwxyz", 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_upstream_shape_and_differ() {
        let a = id();
        let b = id();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }

    #[test]
    fn every_symbol_appears() {
        let s = string_from(b"ab", 200);
        assert!(s.contains('a') && s.contains('b'));
    }
}
