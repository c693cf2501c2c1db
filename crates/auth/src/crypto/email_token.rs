//! Email verification tokens as Better Auth makes them (`routes/email-verification.ts`
//! `createEmailVerificationToken`, `crypto/jwt.ts` `signJWT`): an HS256 JWT signed with the
//! server secret, header `{"alg":"HS256"}`, claims `{email, updateTo?, requestType?,
//! userId, iat, exp}`. They are not stored: a TypeScript server sharing the secret accepts
//! ours and we accept its.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};

/// What a link asks for, beyond verifying `email`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestType {
    /// Sent to the current address: approving it sends a verification to the new address.
    ChangeEmailConfirmation,
    /// Sent to the new address: following it moves the account there.
    ChangeEmailVerification,
}

impl RequestType {
    fn as_str(self) -> &'static str {
        match self {
            RequestType::ChangeEmailConfirmation => "change-email-confirmation",
            RequestType::ChangeEmailVerification => "change-email-verification",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Claims {
    pub email: String,
    pub update_to: Option<String>,
    pub request_type: Option<String>,
    pub user_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    Expired,
    Invalid,
}

pub fn create(
    secret: &str,
    email: &str,
    update_to: Option<&str>,
    request_type: Option<RequestType>,
    user_id: &str,
    expires_in: i64,
) -> Result<String, jsonwebtoken::errors::Error> {
    let now = chrono::Utc::now().timestamp();
    // Key order as jose writes upstream's payload.
    let mut claims = Map::new();
    claims.insert("email".into(), email.to_lowercase().into());
    if let Some(update_to) = update_to {
        claims.insert("updateTo".into(), update_to.to_lowercase().into());
    }
    if let Some(rt) = request_type {
        claims.insert("requestType".into(), rt.as_str().into());
    }
    claims.insert("userId".into(), user_id.into());
    claims.insert("iat".into(), now.into());
    claims.insert("exp".into(), (now + expires_in).into());
    let mut header = Header::new(Algorithm::HS256);
    header.typ = None;
    jsonwebtoken::encode(
        &header,
        &Value::Object(claims),
        &EncodingKey::from_secret(secret.as_bytes()),
    )
}

pub fn verify(secret: &str, token: &str) -> Result<Claims, TokenError> {
    let mut validation = Validation::new(Algorithm::HS256);
    // jose: no clock tolerance; `exp` is checked when present.
    validation.leeway = 0;
    validation.required_spec_claims.clear();
    validation.validate_aud = false;
    match jsonwebtoken::decode::<Claims>(
        token,
        &DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    ) {
        Ok(data) => Ok(data.claims),
        Err(e) if matches!(e.kind(), ErrorKind::ExpiredSignature) => Err(TokenError::Expired),
        Err(_) => Err(TokenError::Invalid),
    }
}

/// Tries each secret (the current one first); with rotation, links mailed before the
/// switch keep working until they expire. Upstream checks the current secret only.
pub fn verify_any<'a>(
    secrets: impl IntoIterator<Item = &'a str>,
    token: &str,
) -> Result<Claims, TokenError> {
    let mut outcome = Err(TokenError::Invalid);
    for secret in secrets {
        match verify(secret, token) {
            Ok(claims) => return Ok(claims),
            Err(TokenError::Expired) => outcome = Err(TokenError::Expired),
            Err(TokenError::Invalid) => {}
        }
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    const SECRET: &str = "test-secret-0123456789abcdef0123456789abcdef";

    #[test]
    fn round_trip_with_upstream_shape() {
        let token = create(
            SECRET,
            "Ann@Example.com",
            Some("New@Example.com"),
            Some(RequestType::ChangeEmailVerification),
            "u1",
            3600,
        )
        .unwrap();
        let mut parts = token.split('.');
        let header = parts.next().unwrap();
        let payload = parts.next().unwrap();
        let decode = |s: &str| {
            String::from_utf8(
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(s)
                    .unwrap(),
            )
            .unwrap()
        };
        assert_eq!(decode(header), r#"{"alg":"HS256"}"#);
        assert!(decode(payload).starts_with(
            r#"{"email":"ann@example.com","updateTo":"new@example.com","requestType":"change-email-verification","userId":"u1","iat":"#
        ));
        let claims = verify(SECRET, &token).unwrap();
        assert_eq!(claims.email, "ann@example.com");
        assert_eq!(claims.update_to.as_deref(), Some("new@example.com"));
        assert_eq!(claims.user_id.as_deref(), Some("u1"));
        assert_eq!(
            verify("another-secret-0123456789abcdef0123", &token).unwrap_err(),
            TokenError::Invalid
        );
        assert_eq!(verify(SECRET, "garbage").unwrap_err(), TokenError::Invalid);
    }

    #[test]
    fn rotated_secrets_keep_verifying() {
        let token = create(
            "old-secret-0123456789abcdef0123456789",
            "a@example.com",
            None,
            None,
            "u1",
            60,
        )
        .unwrap();
        let claims = verify_any([SECRET, "old-secret-0123456789abcdef0123456789"], &token).unwrap();
        assert_eq!(claims.user_id.as_deref(), Some("u1"));
        assert_eq!(
            verify_any([SECRET], &token).unwrap_err(),
            TokenError::Invalid
        );
    }

    #[test]
    fn expired_tokens_are_told_apart() {
        let token = create(SECRET, "a@example.com", None, None, "u1", -10).unwrap();
        assert_eq!(verify(SECRET, &token).unwrap_err(), TokenError::Expired);
    }
}
