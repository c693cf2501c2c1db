//! Why a token was refused. Precise, for logs; clients only ever see "invalid token".

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("no bearer token")]
    Missing,
    #[error("malformed token: {0}")]
    Malformed(String),
    #[error("token header has no kid")]
    MissingKid,
    #[error("kid {0:?} is not published by the auth server")]
    UnknownKid(String),
    #[error("algorithm {0} is not accepted for this key")]
    AlgorithmNotAllowed(String),
    #[error("signature does not verify")]
    InvalidSignature,
    #[error("token expired")]
    Expired,
    #[error("token not valid yet (nbf)")]
    NotYetValid,
    #[error("token issued in the future (iat)")]
    IssuedInFuture,
    #[error("wrong issuer")]
    InvalidIssuer,
    #[error("wrong audience")]
    InvalidAudience,
    #[error("required claim {0} is missing")]
    MissingClaim(String),
    #[error("session token is not valid")]
    InvalidSession,
    #[error("auth server unreachable and no cached key: {0}")]
    AuthServerUnavailable(String),
}

/// Longest part of a request-supplied value (a `kid`, a parse error quoting the token) that
/// goes into an error, and so into a log line: a crafted header must not write 60 KB a
/// request to the log.
pub const LOGGED_VALUE_MAX: usize = 48;

/// `value` bounded to `LOGGED_VALUE_MAX` characters, with a marker saying how much was cut.
pub fn clip(value: &str) -> String {
    match value.char_indices().nth(LOGGED_VALUE_MAX) {
        None => value.to_owned(),
        Some((at, _)) => format!("{}…[{} more bytes cut]", &value[..at], value.len() - at),
    }
}

impl From<jsonwebtoken::errors::Error> for VerifyError {
    fn from(e: jsonwebtoken::errors::Error) -> Self {
        use jsonwebtoken::errors::ErrorKind as K;
        match e.kind() {
            K::InvalidSignature => VerifyError::InvalidSignature,
            K::ExpiredSignature => VerifyError::Expired,
            K::ImmatureSignature => VerifyError::NotYetValid,
            K::InvalidIssuer => VerifyError::InvalidIssuer,
            K::InvalidAudience => VerifyError::InvalidAudience,
            K::InvalidAlgorithm => VerifyError::AlgorithmNotAllowed("mismatch".into()),
            K::MissingRequiredClaim(c) => VerifyError::MissingClaim(clip(c)),
            _ => VerifyError::Malformed(clip(&e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_bounds_by_characters_and_says_so() {
        assert_eq!(clip("short-kid"), "short-kid");
        assert_eq!(
            clip(&"k".repeat(50)),
            format!("{}…[2 more bytes cut]", "k".repeat(48))
        );
        let multibyte = "é".repeat(100);
        assert!(clip(&multibyte).starts_with(&"é".repeat(LOGGED_VALUE_MAX)));
    }
}
