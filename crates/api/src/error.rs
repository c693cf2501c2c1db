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
            K::MissingRequiredClaim(c) => VerifyError::MissingClaim(c.clone()),
            _ => VerifyError::Malformed(e.to_string()),
        }
    }
}
