//! Verify better-auth-server JWTs in a Rust API, with no database and no call to the auth
//! server per request.
//!
//! ```no_run
//! # async fn run(token: &str) -> Result<(), Box<dyn std::error::Error>> {
//! use better_auth_api::{Verifier, VerifierConfig};
//! let verifier = Verifier::new(VerifierConfig::for_auth_server("http://localhost:3001")?)?;
//! let claims = verifier.verify(token).await?;
//! println!("user {} <{}>", claims.sub, claims.email.as_deref().unwrap_or(""));
//! # Ok(()) }
//! ```
//!
//! Keys come from the auth server's `/api/auth/jwks`, cached by `kid` for the time its
//! `Cache-Control` allows, refetched on an unknown `kid` at most once per
//! [`VerifierConfig::min_refetch_interval`], and kept while the auth server is down. The
//! algorithm always comes from the published key, never from the token.

mod claims;
mod config;
mod error;
mod jwks;
mod session;
mod verifier;

#[cfg(feature = "actix")]
pub mod actix;

pub use claims::{Audience, Claims, TokenKind};
pub use config::{ConfigError, VerifierConfig};
pub use error::VerifyError;
pub use jsonwebtoken::Algorithm;
pub use verifier::Verifier;
