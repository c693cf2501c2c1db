//! What a verified token says: the standard claims and Better Auth's user fields.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `aud` is a string or a list of strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

/// How the caller proved who they are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// A JWT signed with a key from the auth server's JWKS.
    #[default]
    Jwt,
    /// A JWT signed with the shared HS256 secret (opt-in fallback).
    SharedSecret,
    /// An opaque Better Auth session token checked with the auth server (opt-in fallback).
    Session,
}

/// The claims of a verified token. Better Auth puts the user object in its JWTs, so the
/// usual user fields are typed; anything else (plugin fields, static claims) is in `extra`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id (or the configured subject field).
    pub sub: String,
    pub iss: String,
    pub aud: Audience,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(
        rename = "emailVerified",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub email_verified: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
    /// Not a claim: how this token was verified.
    #[serde(skip_deserializing, default)]
    pub kind: TokenKind,
}

impl Claims {
    /// The user's id: the `id` claim, else `sub`.
    pub fn user_id(&self) -> &str {
        self.id.as_deref().unwrap_or(&self.sub)
    }
}
