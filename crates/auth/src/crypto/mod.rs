//! Cryptographic building blocks: random ids and tokens, password hashes, signed cookie values.

pub mod email_token;
pub mod password;
pub mod random;
pub mod secrets;
pub mod signing;
pub mod symmetric;

/// Compares secrets (tokens) without leaking where they differ through timing.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}
