//! actix-web support: the [`AuthUser`] extractor, the [`require_auth`] middleware, and
//! RFC 6750 error responses (`401` + `WWW-Authenticate: Bearer ...`).
//!
//! Register the verifier as app data: `App::new().app_data(web::Data::new(verifier))`.

use std::future::Future;
use std::pin::Pin;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use serde_json::json;

use crate::{Claims, Verifier, VerifyError};

const REALM: &str = "better-auth-api";

/// Why a request was not let in.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no bearer token")]
    Missing,
    #[error("{0}")]
    Invalid(VerifyError),
    #[error("no Verifier registered as app data")]
    NotConfigured,
}

impl From<VerifyError> for AuthError {
    fn from(e: VerifyError) -> Self {
        match e {
            VerifyError::Missing => AuthError::Missing,
            other => AuthError::Invalid(other),
        }
    }
}

impl ResponseError for AuthError {
    fn status_code(&self) -> StatusCode {
        match self {
            AuthError::NotConfigured => StatusCode::INTERNAL_SERVER_ERROR,
            AuthError::Invalid(VerifyError::AuthServerUnavailable(_)) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    /// The client learns only that the token is missing or invalid; the precise reason
    /// goes to the log.
    fn error_response(&self) -> HttpResponse<BoxBody> {
        let status = self.status_code();
        if status != StatusCode::UNAUTHORIZED {
            tracing::error!(error = %self, "cannot verify bearer tokens");
            return HttpResponse::build(status)
                .json(json!({"code": "VERIFIER_UNAVAILABLE", "message": "Token verification is unavailable"}));
        }
        let (challenge, body) = match self {
            // RFC 6750 §3.1: no error code when the request had no credentials at all.
            AuthError::Missing => (
                format!("Bearer realm=\"{REALM}\""),
                json!({"code": "MISSING_TOKEN", "message": "A bearer token is required"}),
            ),
            _ => {
                tracing::info!(reason = %self, "bearer token refused");
                (
                    format!(
                        "Bearer realm=\"{REALM}\", error=\"invalid_token\", \
                         error_description=\"The access token is invalid or expired\""
                    ),
                    json!({"code": "INVALID_TOKEN", "message": "The access token is invalid or expired"}),
                )
            }
        };
        HttpResponse::Unauthorized()
            .insert_header((WWW_AUTHENTICATE, challenge))
            .json(body)
    }
}

/// The token of `Authorization: Bearer <token>`.
pub fn bearer_token(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

fn verifier(req: &HttpRequest) -> Option<Verifier> {
    req.app_data::<web::Data<Verifier>>()
        .map(|v| v.get_ref().clone())
        .or_else(|| req.app_data::<Verifier>().cloned())
}

async fn authenticate(req: &HttpRequest) -> Result<Claims, AuthError> {
    if let Some(claims) = req.extensions().get::<Claims>() {
        return Ok(claims.clone());
    }
    let verifier = verifier(req).ok_or(AuthError::NotConfigured)?;
    let token = bearer_token(req).ok_or(AuthError::Missing)?;
    Ok(verifier.verify(token).await?)
}

/// The verified caller. As a handler argument it answers `401` by itself when the token
/// is missing or invalid.
#[derive(Debug, Clone)]
pub struct AuthUser(pub Claims);

impl std::ops::Deref for AuthUser {
    type Target = Claims;
    fn deref(&self) -> &Claims {
        &self.0
    }
}

impl FromRequest for AuthUser {
    type Error = AuthError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { authenticate(&req).await.map(AuthUser) })
    }
}

/// Middleware for a whole scope: `web::scope("/api").wrap(from_fn(require_auth))`.
/// Verified claims are stored in the request extensions for [`AuthUser`] to pick up.
pub async fn require_auth(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    match authenticate(req.request()).await {
        Ok(claims) => {
            req.extensions_mut().insert(claims);
            Ok(next.call(req).await?.map_into_boxed_body())
        }
        Err(e) => Ok(req.into_response(e.error_response())),
    }
}
