//! Every error a handler can return, and the one place that turns it into HTTP.
//!
//! Codes, messages and statuses follow Better Auth (`packages/core/src/error/codes.ts` and the
//! call sites in `packages/better-auth/src/api/routes/*.ts`): clients compare `error.code`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Zod-style validation failure; the message lists the issues (`[body.email] Invalid email address`).
    #[error("{0}")]
    Validation(String),
    #[error("Invalid JSON in request body")]
    InvalidJson,
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    #[error("Invalid email")]
    InvalidEmail,
    #[error("Invalid email or password")]
    InvalidEmailOrPassword,
    #[error("Password too short")]
    PasswordTooShort,
    #[error("Password too long")]
    PasswordTooLong,
    #[error("User already exists. Use another email.")]
    UserAlreadyExists,
    #[error("Failed to create user")]
    FailedToCreateUser,
    #[error("Failed to create session")]
    FailedToCreateSession,
    #[error("Unauthorized")]
    Unauthorized,
    /// update-session found its session gone: 401 `FAILED_TO_GET_SESSION`.
    #[error("Failed to get session")]
    FailedToGetSession,
    #[error("Invalid origin")]
    InvalidOrigin,
    #[error("Missing or null Origin")]
    MissingOrNullOrigin,
    #[error("Cross-site navigation login blocked")]
    CrossSiteNavigationLoginBlocked,
    /// A redirect-like body or query field failed the trusted-origin check.
    #[error("Invalid {0}")]
    InvalidUrlField(UrlField),
    /// A redirect-like field that is not a string.
    #[error("Invalid {0}: expected a string")]
    UrlFieldNotString(UrlField),
    #[error("POST method requires deferSessionRefresh to be enabled in session config")]
    DeferSessionRequired,
    #[error("Request body is too large")]
    PayloadTooLarge,
    /// The body did not arrive within `connections.body_timeout`.
    #[error("The request body did not arrive in time")]
    RequestTimeout,
    #[error("Email not verified")]
    EmailNotVerified,
    #[error("Verification email isn't enabled")]
    VerificationEmailNotEnabled,
    #[error("Email is already verified")]
    EmailAlreadyVerified,
    #[error("Email mismatch")]
    EmailMismatch,
    /// A verification link's token (verify-email): 401.
    #[error("Invalid token")]
    InvalidToken,
    /// A password reset token: 400.
    #[error("Invalid token")]
    InvalidResetToken,
    /// A delete-account token: 404.
    #[error("Invalid token")]
    InvalidDeleteToken,
    #[error("Token expired")]
    TokenExpired,
    /// The user a verification link names is gone: 401.
    #[error("User not found")]
    UserNotFound,
    /// The user a reset token names is gone: 400.
    #[error("User not found")]
    ResetUserNotFound,
    #[error("Invalid user")]
    InvalidUser,
    #[error("Invalid password")]
    InvalidPassword,
    #[error("Credential account not found")]
    CredentialAccountNotFound,
    #[error("Reset password isn't enabled")]
    ResetPasswordDisabled,
    #[error("Email can not be updated")]
    EmailCanNotBeUpdated,
    #[error("Change email is disabled")]
    ChangeEmailDisabled,
    #[error("Session expired. Re-authenticate to perform this action.")]
    SessionExpired,
    #[error("Session is not fresh")]
    SessionNotFresh,
    #[error("Failed to get user info")]
    FailedToGetUserInfo,
    #[error("Not found")]
    NotFoundWithCode,
    /// Upstream's `APIError.fromStatus("NOT_FOUND")`: 404 with an empty JSON body.
    #[error("Not Found")]
    NotFoundEmpty,
    /// Errors upstream throws with a message and no code (`No fields to update`,
    /// `Email is the same`, change-email's `Verification email isn't enabled`).
    #[error("{0}")]
    BadRequestMessage(&'static str),
    /// Another error whose answer still carries `Set-Cookie` headers (upstream keeps the
    /// cookies set before a throw, e.g. the expiry of a stale session cookie on a 401).
    #[error("{error}")]
    WithCookies {
        error: Box<ApiError>,
        cookies: Vec<String>,
    },
    /// Social sign-in and linked accounts (upstream `BASE_ERROR_CODES` and `routes/account.ts`).
    #[error("{0}")]
    Social(SocialError),
    /// Upstream's `FIELD_NOT_ALLOWED`: a client set a declared field with `input: false`.
    #[error("{0} is not allowed to be set")]
    FieldNotAllowed(String),
    /// Upstream's `MISSING_FIELD`: a required declared field is missing on create.
    #[error("{0} is required")]
    MissingField(String),
    /// A plugin's error, as the plugin's error table defines it (code, message, status).
    #[error("{}", .0.message)]
    Plugin(PluginError),
    /// Storage failure: logged, answered as an opaque 500.
    #[error("database error: {0}")]
    Database(#[from] sea_orm::DbErr),
    /// Anything else that should never happen (hashing pool gone, bad stored hash...).
    #[error("internal error: {0}")]
    Internal(String),
    /// Readiness: the database did not answer in time (a load balancer then routes elsewhere).
    #[error("The database is not reachable")]
    DatabaseUnavailable,
    /// Sessions are in Redis and Redis failed: a 503, the client may retry.
    #[error("Session storage is not reachable")]
    SessionStorageUnavailable(String),
}

impl From<crate::store::StorageError> for ApiError {
    fn from(e: crate::store::StorageError) -> Self {
        use crate::store::StorageError;
        match e {
            StorageError::Database(e) => ApiError::Database(e),
            StorageError::Redis(e) => ApiError::SessionStorageUnavailable(e.to_string()),
        }
    }
}

/// An entry of a plugin's error table (`plugins/<name>/errors.rs`): each one has its own
/// status, fixed where the table defines it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PluginError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: &'static str,
}

impl PluginError {
    pub const fn new(status: StatusCode, code: &'static str, message: &'static str) -> Self {
        PluginError {
            status,
            code,
            message,
        }
    }
}

impl From<PluginError> for ApiError {
    fn from(e: PluginError) -> Self {
        ApiError::Plugin(e)
    }
}

impl From<crate::schema::InputIssue> for ApiError {
    fn from(issue: crate::schema::InputIssue) -> Self {
        use crate::schema::InputIssue;
        match issue {
            InputIssue::NotAllowed(field) => ApiError::FieldNotAllowed(field),
            InputIssue::Missing(field) => ApiError::MissingField(field),
            InputIssue::Invalid(issues) => ApiError::Validation(issues.join("; ")),
        }
    }
}

/// Errors of the social sign-in and account endpoints, with upstream's statuses and codes.
#[derive(Debug, thiserror::Error)]
pub enum SocialError {
    #[error("Provider not found")]
    ProviderNotFound,
    #[error("id_token not supported")]
    IdTokenNotSupported,
    #[error("Invalid token")]
    InvalidIdToken,
    #[error("Failed to get user info")]
    FailedToGetUserInfo,
    #[error("User email not found")]
    UserEmailNotFound,
    /// Sign-in with an ID token refused by the linking rules; the message is the reason.
    #[error("{0}")]
    OAuthLink(String),
    #[error("Social account already linked")]
    SocialAccountAlreadyLinked,
    #[error("Account not linked - linking not allowed")]
    LinkingNotAllowed,
    #[error("Account not linked - different emails not allowed")]
    LinkingDifferentEmailsNotAllowed,
    #[error("Account not linked - unable to create account")]
    LinkingFailed,
    #[error("You can't unlink your last account")]
    FailedToUnlinkLastAccount,
    #[error("Account not found")]
    AccountNotFound,
    #[error("Provider {0} is not supported.")]
    ProviderNotSupported(String),
    #[error("Failed to get a valid access token")]
    FailedToGetAccessToken,
    #[error("Refresh token not found")]
    RefreshTokenNotFound,
    #[error("Failed to refresh access token")]
    FailedToRefreshAccessToken,
    #[error("Access token not found")]
    AccessTokenNotFound,
    #[error("Account is not associated with a configured social provider.")]
    ProviderNotConfigured,
    /// `ctx.error("UNAUTHORIZED")` without a body (the token endpoints without a session).
    #[error("Unauthorized")]
    UnauthorizedEmpty,
}

impl SocialError {
    fn parts(&self) -> (StatusCode, Option<&'static str>, String) {
        use SocialError::*;
        let msg = self.to_string();
        let (status, code) = match self {
            ProviderNotFound => (StatusCode::NOT_FOUND, "PROVIDER_NOT_FOUND"),
            IdTokenNotSupported => (StatusCode::NOT_FOUND, "ID_TOKEN_NOT_SUPPORTED"),
            InvalidIdToken => (StatusCode::UNAUTHORIZED, "INVALID_TOKEN"),
            FailedToGetUserInfo => (StatusCode::UNAUTHORIZED, "FAILED_TO_GET_USER_INFO"),
            UserEmailNotFound => (StatusCode::UNAUTHORIZED, "USER_EMAIL_NOT_FOUND"),
            OAuthLink(_) => (StatusCode::UNAUTHORIZED, "OAUTH_LINK_ERROR"),
            SocialAccountAlreadyLinked => (StatusCode::CONFLICT, "SOCIAL_ACCOUNT_ALREADY_LINKED"),
            LinkingNotAllowed => (StatusCode::UNAUTHORIZED, "LINKING_NOT_ALLOWED"),
            LinkingDifferentEmailsNotAllowed => (
                StatusCode::UNAUTHORIZED,
                "LINKING_DIFFERENT_EMAILS_NOT_ALLOWED",
            ),
            LinkingFailed => (StatusCode::EXPECTATION_FAILED, "LINKING_FAILED"),
            FailedToUnlinkLastAccount => (StatusCode::BAD_REQUEST, "FAILED_TO_UNLINK_LAST_ACCOUNT"),
            AccountNotFound => (StatusCode::BAD_REQUEST, "ACCOUNT_NOT_FOUND"),
            ProviderNotSupported(_) => (StatusCode::BAD_REQUEST, "PROVIDER_NOT_SUPPORTED"),
            FailedToGetAccessToken => (StatusCode::BAD_REQUEST, "FAILED_TO_GET_ACCESS_TOKEN"),
            RefreshTokenNotFound => (StatusCode::BAD_REQUEST, "REFRESH_TOKEN_NOT_FOUND"),
            FailedToRefreshAccessToken => {
                (StatusCode::BAD_REQUEST, "FAILED_TO_REFRESH_ACCESS_TOKEN")
            }
            AccessTokenNotFound => (StatusCode::BAD_REQUEST, "ACCESS_TOKEN_NOT_FOUND"),
            ProviderNotConfigured => (StatusCode::BAD_REQUEST, "PROVIDER_NOT_CONFIGURED"),
            UnauthorizedEmpty => return (StatusCode::UNAUTHORIZED, None, msg),
        };
        (status, Some(code), msg)
    }
}

impl From<SocialError> for ApiError {
    fn from(e: SocialError) -> Self {
        ApiError::Social(e)
    }
}

/// The redirect-like fields the origin check validates, with upstream's labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlField {
    CallbackUrl,
    RedirectTo,
    ErrorCallbackUrl,
    NewUserCallbackUrl,
}

impl UrlField {
    pub fn body_key(self) -> &'static str {
        match self {
            UrlField::CallbackUrl => "callbackURL",
            UrlField::RedirectTo => "redirectTo",
            UrlField::ErrorCallbackUrl => "errorCallbackURL",
            UrlField::NewUserCallbackUrl => "newUserCallbackURL",
        }
    }

    fn code(self) -> &'static str {
        match self {
            UrlField::CallbackUrl => "INVALID_CALLBACK_URL",
            UrlField::RedirectTo => "INVALID_REDIRECT_URL",
            UrlField::ErrorCallbackUrl => "INVALID_ERROR_CALLBACK_URL",
            UrlField::NewUserCallbackUrl => "INVALID_NEW_USER_CALLBACK_URL",
        }
    }

    /// The label upstream uses in messages (`Invalid redirectURL` for `redirectTo`).
    fn label(self) -> &'static str {
        match self {
            UrlField::RedirectTo => "redirectURL",
            other => other.body_key(),
        }
    }
}

impl std::fmt::Display for UrlField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// Better Auth's error body: `{"message": ..., "code": ...}` in that key order.
#[derive(Serialize)]
struct ErrorBody<'a> {
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'a str>,
}

impl ApiError {
    /// Status, code and client-facing message. Internal details never reach the client.
    fn parts(&self) -> (StatusCode, Option<&'static str>, String) {
        use ApiError::*;
        let msg = self.to_string();
        match self {
            Validation(m) => (StatusCode::BAD_REQUEST, Some("VALIDATION_ERROR"), m.clone()),
            InvalidJson => (StatusCode::BAD_REQUEST, Some("BAD_REQUEST"), msg),
            UnsupportedMediaType(m) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Some("UNSUPPORTED_MEDIA_TYPE"),
                m.clone(),
            ),
            InvalidEmail => (StatusCode::BAD_REQUEST, Some("INVALID_EMAIL"), msg),
            InvalidEmailOrPassword => (
                StatusCode::UNAUTHORIZED,
                Some("INVALID_EMAIL_OR_PASSWORD"),
                msg,
            ),
            PasswordTooShort => (StatusCode::BAD_REQUEST, Some("PASSWORD_TOO_SHORT"), msg),
            PasswordTooLong => (StatusCode::BAD_REQUEST, Some("PASSWORD_TOO_LONG"), msg),
            UserAlreadyExists => (
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL"),
                msg,
            ),
            FailedToCreateUser => (
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("FAILED_TO_CREATE_USER"),
                msg,
            ),
            FailedToCreateSession => (
                StatusCode::BAD_REQUEST,
                Some("FAILED_TO_CREATE_SESSION"),
                msg,
            ),
            Unauthorized => (StatusCode::UNAUTHORIZED, Some("UNAUTHORIZED"), msg),
            FailedToGetSession => (StatusCode::UNAUTHORIZED, Some("FAILED_TO_GET_SESSION"), msg),
            InvalidOrigin => (StatusCode::FORBIDDEN, Some("INVALID_ORIGIN"), msg),
            MissingOrNullOrigin => (StatusCode::FORBIDDEN, Some("MISSING_OR_NULL_ORIGIN"), msg),
            CrossSiteNavigationLoginBlocked => (
                StatusCode::FORBIDDEN,
                Some("CROSS_SITE_NAVIGATION_LOGIN_BLOCKED"),
                "Cross-site navigation login blocked. This request appears to be a CSRF attack."
                    .to_owned(),
            ),
            InvalidUrlField(field) => (StatusCode::FORBIDDEN, Some(field.code()), msg),
            // Upstream throws these without a code.
            UrlFieldNotString(_) => (StatusCode::BAD_REQUEST, None, msg),
            PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                Some("PAYLOAD_TOO_LARGE"),
                msg,
            ),
            RequestTimeout => (StatusCode::REQUEST_TIMEOUT, Some("REQUEST_TIMEOUT"), msg),
            DeferSessionRequired => (
                StatusCode::METHOD_NOT_ALLOWED,
                Some("METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED"),
                msg,
            ),
            EmailNotVerified => (StatusCode::FORBIDDEN, Some("EMAIL_NOT_VERIFIED"), msg),
            VerificationEmailNotEnabled => (
                StatusCode::BAD_REQUEST,
                Some("VERIFICATION_EMAIL_NOT_ENABLED"),
                msg,
            ),
            EmailAlreadyVerified => (StatusCode::BAD_REQUEST, Some("EMAIL_ALREADY_VERIFIED"), msg),
            EmailMismatch => (StatusCode::BAD_REQUEST, Some("EMAIL_MISMATCH"), msg),
            InvalidToken => (StatusCode::UNAUTHORIZED, Some("INVALID_TOKEN"), msg),
            InvalidResetToken => (StatusCode::BAD_REQUEST, Some("INVALID_TOKEN"), msg),
            InvalidDeleteToken => (StatusCode::NOT_FOUND, Some("INVALID_TOKEN"), msg),
            TokenExpired => (StatusCode::UNAUTHORIZED, Some("TOKEN_EXPIRED"), msg),
            UserNotFound => (StatusCode::UNAUTHORIZED, Some("USER_NOT_FOUND"), msg),
            ResetUserNotFound => (StatusCode::BAD_REQUEST, Some("USER_NOT_FOUND"), msg),
            InvalidUser => (StatusCode::UNAUTHORIZED, Some("INVALID_USER"), msg),
            InvalidPassword => (StatusCode::BAD_REQUEST, Some("INVALID_PASSWORD"), msg),
            CredentialAccountNotFound => (
                StatusCode::BAD_REQUEST,
                Some("CREDENTIAL_ACCOUNT_NOT_FOUND"),
                msg,
            ),
            ResetPasswordDisabled => (
                StatusCode::BAD_REQUEST,
                Some("RESET_PASSWORD_DISABLED"),
                msg,
            ),
            EmailCanNotBeUpdated => (
                StatusCode::BAD_REQUEST,
                Some("EMAIL_CAN_NOT_BE_UPDATED"),
                msg,
            ),
            ChangeEmailDisabled => (StatusCode::BAD_REQUEST, Some("CHANGE_EMAIL_DISABLED"), msg),
            SessionExpired => (StatusCode::BAD_REQUEST, Some("SESSION_EXPIRED"), msg),
            SessionNotFresh => (StatusCode::FORBIDDEN, Some("SESSION_NOT_FRESH"), msg),
            FailedToGetUserInfo => (StatusCode::NOT_FOUND, Some("FAILED_TO_GET_USER_INFO"), msg),
            NotFoundWithCode => (StatusCode::NOT_FOUND, Some("NOT_FOUND"), msg),
            NotFoundEmpty => (StatusCode::NOT_FOUND, None, msg),
            BadRequestMessage(m) => (StatusCode::BAD_REQUEST, None, (*m).to_owned()),
            WithCookies { error, .. } => error.parts(),
            Social(e) => e.parts(),
            DatabaseUnavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                Some("DATABASE_UNAVAILABLE"),
                msg,
            ),
            SessionStorageUnavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                Some("SESSION_STORAGE_UNAVAILABLE"),
                msg,
            ),
            FieldNotAllowed(_) => (StatusCode::BAD_REQUEST, Some("FIELD_NOT_ALLOWED"), msg),
            MissingField(_) => (StatusCode::BAD_REQUEST, Some("MISSING_FIELD"), msg),
            Plugin(e) => (e.status, Some(e.code), msg),
            Database(_) | Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                Some("INTERNAL_SERVER_ERROR"),
                "Internal Server Error".to_owned(),
            ),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.parts().0
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::WithCookies { error, cookies } = self {
            let mut response = error.error_response();
            for cookie in cookies {
                if let Ok(value) = actix_web::http::header::HeaderValue::from_str(cookie) {
                    response
                        .headers_mut()
                        .append(actix_web::http::header::SET_COOKIE, value);
                }
            }
            return response;
        }
        let (status, code, message) = self.parts();
        if matches!(
            self,
            ApiError::NotFoundEmpty | ApiError::Social(SocialError::UnauthorizedEmpty)
        ) {
            return HttpResponse::build(status)
                .content_type("application/json")
                .finish();
        }
        if status.is_server_error() {
            // The Display of these variants carries the cause; it never contains secrets
            // (database errors do not echo bound parameters).
            match self {
                ApiError::SessionStorageUnavailable(cause) => {
                    tracing::error!(error = %cause, "request failed: session storage")
                }
                _ => tracing::error!(error = %self, "request failed"),
            }
        }
        HttpResponse::build(status).json(ErrorBody {
            message: &message,
            code,
        })
    }
}

impl ApiError {
    /// This error, answered with these cookies set (none: the error unchanged).
    pub fn with_cookies(self, cookies: Vec<String>) -> ApiError {
        if cookies.is_empty() {
            return self;
        }
        ApiError::WithCookies {
            error: Box::new(self),
            cookies,
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// actix answers an over-long body itself (413, plain text); this gives it our error body.
pub fn payload_too_large<B>(
    res: actix_web::dev::ServiceResponse<B>,
) -> actix_web::Result<actix_web::middleware::ErrorHandlerResponse<B>> {
    let response = res
        .into_response(ApiError::PayloadTooLarge.error_response())
        .map_into_right_body();
    Ok(actix_web::middleware::ErrorHandlerResponse::Response(
        response,
    ))
}
