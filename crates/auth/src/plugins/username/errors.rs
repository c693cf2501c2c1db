//! The username plugin's error table (upstream `USERNAME_ERROR_CODES`), each entry with the
//! status upstream answers it with.

use actix_web::http::StatusCode;

use crate::error::PluginError;

const BAD: StatusCode = StatusCode::BAD_REQUEST;
const UNPROCESSABLE: StatusCode = StatusCode::UNPROCESSABLE_ENTITY;

pub const INVALID_USERNAME_OR_PASSWORD: PluginError = PluginError::new(
    StatusCode::UNAUTHORIZED,
    "INVALID_USERNAME_OR_PASSWORD",
    "Invalid username or password",
);
pub const EMAIL_NOT_VERIFIED: PluginError = PluginError::new(
    StatusCode::FORBIDDEN,
    "EMAIL_NOT_VERIFIED",
    "Email not verified",
);
pub const USERNAME_IS_ALREADY_TAKEN: PluginError = PluginError::new(
    BAD,
    "USERNAME_IS_ALREADY_TAKEN",
    "Username is already taken. Please try another.",
);
pub const USERNAME_TOO_SHORT: PluginError =
    PluginError::new(BAD, "USERNAME_TOO_SHORT", "Username is too short");
pub const USERNAME_TOO_LONG: PluginError =
    PluginError::new(BAD, "USERNAME_TOO_LONG", "Username is too long");
pub const INVALID_USERNAME: PluginError =
    PluginError::new(BAD, "INVALID_USERNAME", "Username is invalid");
pub const INVALID_DISPLAY_USERNAME: PluginError = PluginError::new(
    BAD,
    "INVALID_DISPLAY_USERNAME",
    "Display username is invalid",
);
pub const USERNAME_IS_IMMUTABLE: PluginError =
    PluginError::new(BAD, "USERNAME_IS_IMMUTABLE", "Username cannot be updated");
/// The same three rules as answered by sign-in/username and is-username-available.
pub const SIGN_IN_USERNAME_TOO_SHORT: PluginError =
    PluginError::new(UNPROCESSABLE, "USERNAME_TOO_SHORT", "Username is too short");
pub const SIGN_IN_USERNAME_TOO_LONG: PluginError =
    PluginError::new(UNPROCESSABLE, "USERNAME_TOO_LONG", "Username is too long");
pub const SIGN_IN_INVALID_USERNAME: PluginError =
    PluginError::new(UNPROCESSABLE, "INVALID_USERNAME", "Username is invalid");
