//! The username plugin (upstream `plugins/username`): `user.username` (unique, normalised)
//! and `user.displayUsername`, checked on sign-up and update-user; `POST /sign-in/username`
//! and `POST /is-username-available` (`routes.rs`).

mod errors;
mod routes;

use std::sync::Arc;

use regex::Regex;
use serde::Deserialize;
use serde_json::Value;

use super::{Plugin, UserFields};
use crate::config::ConfigError;
use crate::error::{ApiError, ApiResult};
use crate::models::User;
use crate::schema::migrate::SchemaMigration;
use crate::schema::{Field, FieldType, SchemaPart};
use crate::state::AppState;

pub use errors::*;

/// `[plugins.username]`: upstream's options; callbacks become patterns.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UsernameOptions {
    pub min_username_length: usize,
    pub max_username_length: usize,
    /// `false`: usernames are stored as sent (upstream `usernameNormalization: false`);
    /// otherwise lower-cased.
    pub username_normalization: bool,
    /// `false`: no `displayUsername` field (upstream `displayUsername: false`).
    pub display_username: bool,
    /// Replaces upstream's `usernameValidator` callback: the whole username must match.
    pub username_pattern: String,
    /// Replaces upstream's `displayUsernameValidator` callback (none by default).
    pub display_username_pattern: Option<String>,
    /// Upstream's `validationOrder`: `pre-normalization` (default) or `post-normalization`.
    pub validation_order: ValidationOrder,
    /// Upstream's `immutableUsername`: update-user may not change a set username.
    pub immutable_username: bool,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ValidationOrder {
    pub username: Order,
    pub display_username: Order,
}

#[derive(Debug, Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Order {
    #[default]
    PreNormalization,
    PostNormalization,
}

impl Default for UsernameOptions {
    fn default() -> Self {
        UsernameOptions {
            min_username_length: 3,
            max_username_length: 30,
            username_normalization: true,
            display_username: true,
            username_pattern: "^[a-zA-Z0-9_.]+$".into(),
            display_username_pattern: None,
            validation_order: ValidationOrder::default(),
            immutable_username: false,
        }
    }
}

pub struct UsernamePlugin {
    options: UsernameOptions,
    pattern: Regex,
    display_pattern: Option<Regex>,
}

pub fn plugin(table: Option<&toml::Table>) -> Result<Arc<dyn Plugin>, ConfigError> {
    let options: UsernameOptions = super::options("username", table)?;
    // Anchored: the whole value must match, as the options say (a pattern without `^...$`
    // would otherwise accept any name containing one allowed character).
    let compile = |key: &str, p: &str| {
        Regex::new(&format!("^(?:{p})$"))
            .map_err(|e| ConfigError::Invalid(format!("plugins.username.{key}: {e}")))
    };
    let pattern = compile("username_pattern", &options.username_pattern)?;
    let display_pattern = options
        .display_username_pattern
        .as_deref()
        .map(|p| compile("display_username_pattern", p))
        .transpose()?;
    Ok(Arc::new(UsernamePlugin {
        options,
        pattern,
        display_pattern,
    }))
}

impl UsernamePlugin {
    fn normalize(&self, username: &str) -> String {
        if self.options.username_normalization {
            username.to_lowercase()
        } else {
            username.to_owned()
        }
    }

    /// Upstream's `validateUsernameValue`: length (JavaScript units), then the pattern.
    fn problem(&self, username: &str) -> Option<Problem> {
        let checked = match self.options.validation_order.username {
            Order::PreNormalization => username.to_owned(),
            Order::PostNormalization => self.normalize(username),
        };
        let len = checked.encode_utf16().count();
        if len < self.options.min_username_length {
            Some(Problem::TooShort)
        } else if len > self.options.max_username_length {
            Some(Problem::TooLong)
        } else if !self.pattern.is_match(&checked) {
            Some(Problem::Invalid)
        } else {
            None
        }
    }

    fn display_ok(&self, display: &str) -> bool {
        self.display_pattern
            .as_ref()
            .is_none_or(|p| p.is_match(display))
    }

    /// The user with this username (normalised as stored).
    async fn find_user(&self, state: &AppState, username: &str) -> ApiResult<Option<User>> {
        let normalized = Value::String(self.normalize(username));
        Ok(state
            .store
            .users()
            .find_by_field("username", &normalized)
            .await?)
    }

    async fn owner(&self, state: &AppState, username: &str) -> ApiResult<Option<String>> {
        Ok(self.find_user(state, username).await?.map(|u| u.id))
    }
}

#[async_trait::async_trait(?Send)]
impl Plugin for UsernamePlugin {
    fn id(&self) -> &'static str {
        "username"
    }

    fn routes(&self, api: &mut crate::routes::Api) {
        routes::configure(api);
    }

    fn schema(&self) -> Vec<SchemaMigration> {
        let mut user = vec![Field::new("username", FieldType::String)
            .optional()
            .unique()];
        if self.options.display_username {
            user.push(Field::new("displayUsername", FieldType::String).optional());
        }
        vec![SchemaMigration {
            name: "plugin_username_0001".into(),
            part: SchemaPart {
                user,
                ..SchemaPart::default()
            },
        }]
    }

    /// Upstream's before hooks on `/sign-up/email` and `/update-user` and its database
    /// hooks on user create/update: the username's rules, one owner per username, the
    /// display name defaulting to the username, normalisation.
    async fn user_fields(&self, state: &AppState, f: &mut UserFields<'_>) -> ApiResult<()> {
        let with_display = self.options.display_username;
        // Sign-up with only a display name that is a valid username: it is the username too.
        if f.create && with_display && !f.values.contains_key("username") {
            if let Some(Value::String(display)) = f.values.get("displayUsername") {
                if self.problem(display).is_none() {
                    let display = display.clone();
                    f.values.insert("username".into(), Value::String(display));
                }
            }
        }
        let username = match f.values.get("username") {
            Some(Value::String(u)) => Some(u.clone()),
            _ => None,
        };
        if let Some(username) = &username {
            if let Some(problem) = self.problem(username) {
                return Err(problem.on_write().into());
            }
            let normalized = self.normalize(username);
            if let Some(current) = f.current {
                let stored = current.field("username").and_then(Value::as_str);
                if self.options.immutable_username && stored.is_some_and(|s| s != normalized) {
                    return Err(USERNAME_IS_IMMUTABLE.into());
                }
            }
            let owner = self.owner(state, username).await?;
            if owner.is_some_and(|id| f.current.is_none_or(|c| c.id != id)) {
                return Err(USERNAME_IS_ALREADY_TAKEN.into());
            }
        }
        if with_display {
            if let Some(Value::String(display)) = f.values.get("displayUsername") {
                if !self.display_ok(display) {
                    return Err(INVALID_DISPLAY_USERNAME.into());
                }
            }
            if f.create && !f.values.contains_key("displayUsername") {
                if let Some(username) = &username {
                    f.values
                        .insert("displayUsername".into(), Value::String(username.clone()));
                }
            }
        }
        if let Some(username) = username {
            f.values
                .insert("username".into(), Value::String(self.normalize(&username)));
        }
        Ok(())
    }
}

/// What is wrong with a username.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    TooShort,
    TooLong,
    Invalid,
}

impl Problem {
    /// On sign-up and update-user: 400.
    fn on_write(self) -> crate::error::PluginError {
        match self {
            Problem::TooShort => USERNAME_TOO_SHORT,
            Problem::TooLong => USERNAME_TOO_LONG,
            Problem::Invalid => INVALID_USERNAME,
        }
    }

    /// On sign-in and is-username-available: 422.
    fn on_read(self) -> crate::error::PluginError {
        match self {
            Problem::TooShort => SIGN_IN_USERNAME_TOO_SHORT,
            Problem::TooLong => SIGN_IN_USERNAME_TOO_LONG,
            Problem::Invalid => SIGN_IN_INVALID_USERNAME,
        }
    }
}

impl From<Problem> for ApiError {
    fn from(p: Problem) -> Self {
        p.on_read().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_custom_pattern_must_match_the_whole_username() {
        let table: toml::Table = toml::from_str(r#"username_pattern = "[a-z]+""#).unwrap();
        let built = plugin(Some(&table)).unwrap();
        let plugin = (*built).as_any().downcast_ref::<UsernamePlugin>().unwrap();
        assert_eq!(plugin.problem("alice"), None);
        assert_eq!(plugin.problem("alice!"), Some(Problem::Invalid));
        assert_eq!(plugin.problem("!!!a"), Some(Problem::Invalid));
    }
}
