//! The anonymous plugin (upstream `plugins/anonymous`): `POST /sign-in/anonymous` makes a
//! user with `isAnonymous: true` and a placeholder address; `POST /delete-anonymous-user`;
//! and when an anonymous user signs in or up another way, the anonymous user is deleted
//! (the after hook below), unless `disable_delete_anonymous_user`.

mod routes;

use std::sync::Arc;

use actix_web::http::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{After, Plugin};
use crate::config::ConfigError;
use crate::error::{ApiResult, PluginError};
use crate::models::{SessionWithUser, Timestamp};
use crate::schema::migrate::SchemaMigration;
use crate::schema::{Field, FieldType, SchemaPart};
use crate::state::AppState;

pub const ANONYMOUS_USERS_CANNOT_SIGN_IN_AGAIN_ANONYMOUSLY: PluginError = PluginError::new(
    StatusCode::BAD_REQUEST,
    "ANONYMOUS_USERS_CANNOT_SIGN_IN_AGAIN_ANONYMOUSLY",
    "Anonymous users cannot sign in again anonymously",
);
pub const FAILED_TO_CREATE_USER: PluginError = PluginError::new(
    StatusCode::INTERNAL_SERVER_ERROR,
    "FAILED_TO_CREATE_USER",
    "Failed to create user",
);
pub const USER_IS_NOT_ANONYMOUS: PluginError = PluginError::new(
    StatusCode::FORBIDDEN,
    "USER_IS_NOT_ANONYMOUS",
    "User is not anonymous",
);
pub const DELETE_ANONYMOUS_USER_DISABLED: PluginError = PluginError::new(
    StatusCode::BAD_REQUEST,
    "DELETE_ANONYMOUS_USER_DISABLED",
    "Deleting anonymous users is disabled",
);

/// `[plugins.anonymous]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnonymousOptions {
    /// `temp-<id>@<domain>` addresses instead of `<id>@anonymous.placeholder.invalid`.
    pub email_domain_name: Option<String>,
    /// The name anonymous users get (upstream's `generateName` callback; "Anonymous").
    pub name: Option<String>,
    /// Keep the anonymous user when it signs in another way, and refuse
    /// delete-anonymous-user.
    pub disable_delete_anonymous_user: bool,
}

pub struct AnonymousPlugin {
    options: AnonymousOptions,
}

pub fn plugin(table: Option<&toml::Table>) -> Result<Arc<dyn Plugin>, ConfigError> {
    let options: AnonymousOptions = super::options("anonymous", table)?;
    if let Some(domain) = &options.email_domain_name {
        if !crate::routes::body::is_valid_email(&format!("temp-x@{domain}")) {
            return Err(ConfigError::Invalid(format!(
                "plugins.anonymous.email_domain_name: {domain:?} does not make valid addresses"
            )));
        }
    }
    Ok(Arc::new(AnonymousPlugin { options }))
}

/// Whether a user is anonymous (the column is a boolean; upstream reads it truthy).
pub fn is_anonymous(user: &crate::models::User) -> bool {
    user.field("isAnonymous")
        .is_some_and(|v| v == &Value::Bool(true))
}

impl AnonymousPlugin {
    /// The request's own session, if its user is anonymous.
    async fn anonymous_session(
        &self,
        state: &AppState,
        req: &actix_web::HttpRequest,
    ) -> ApiResult<Option<SessionWithUser>> {
        let Some(token) = crate::cookies::session_token(req, &state.config, &state.cookies) else {
            return Ok(None);
        };
        Ok(state
            .sessions
            .find(&token)
            .await?
            .filter(|s| s.session.expires_at > Timestamp::now() && is_anonymous(&s.user)))
    }
}

/// The routes after which an anonymous user who signed in another way is deleted.
const LINKING_ROUTES: [&str; 9] = [
    "/sign-in",
    "/sign-up",
    "/callback",
    "/magic-link/verify",
    "/email-otp/verify-email",
    "/one-tap/callback",
    "/passkey/verify-authentication",
    "/phone-number/verify",
    "/verify-email",
];

#[async_trait::async_trait(?Send)]
impl Plugin for AnonymousPlugin {
    fn id(&self) -> &'static str {
        "anonymous"
    }

    fn routes(&self, api: &mut crate::routes::Api) {
        routes::configure(api);
    }

    fn schema(&self) -> Vec<SchemaMigration> {
        vec![SchemaMigration {
            name: "plugin_anonymous_0001".into(),
            part: SchemaPart {
                user: vec![Field::new("isAnonymous", FieldType::Boolean)
                    .optional()
                    .no_input()
                    .default_value(json!(false))],
                ..SchemaPart::default()
            },
        }]
    }

    /// Upstream's after hook: the request came with an anonymous user's session and made a
    /// session for another, non-anonymous user: the anonymous user is deleted.
    async fn after(&self, state: &AppState, after: &mut After<'_>) -> ApiResult<()> {
        if self.options.disable_delete_anonymous_user
            || !LINKING_ROUTES.iter().any(|r| after.route.starts_with(r))
        {
            return Ok(());
        }
        let Some((_, new_user)) = after.new_session() else {
            return Ok(());
        };
        if is_anonymous(new_user) {
            return Ok(());
        }
        let new_user_id = new_user.id.clone();
        // Only now a storage read: the request's own session, if anonymous.
        let Some(anonymous) = self.anonymous_session(state, after.request).await? else {
            return Ok(());
        };
        if new_user_id == anonymous.user.id {
            return Ok(());
        }
        // Upstream logs a failed clean-up and answers the sign-in all the same.
        if let Err(e) = state.sessions.delete_user(&anonymous.user.id).await {
            tracing::error!(error = %e, "could not delete the anonymous user after linking");
        }
        Ok(())
    }
}
