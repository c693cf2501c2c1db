//! The last-login-method plugin (upstream `plugins/last-login-method`): after a sign-in
//! that sets the session cookie, a cookie readable by scripts,
//! `better-auth.last_used_login_method=<method>`; with `store_in_database`, the method in
//! `user.lastLoginMethod` too. The method follows from the route as upstream's
//! `defaultResolveMethod` reads it (`/sign-in/email` and `/sign-up/email`: `email`,
//! `/callback/:id`: the provider id, ...); `methods` adds routes of your own.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{After, Plugin, UserFields};
use crate::config::ConfigError;
use crate::error::ApiResult;
use crate::schema::migrate::SchemaMigration;
use crate::schema::{Field, FieldType, SchemaPart};
use crate::state::AppState;

/// `[plugins.last_login_method]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LastLoginMethodOptions {
    pub cookie_name: String,
    /// Seconds (upstream `maxAge`, 30 days).
    pub max_age: i64,
    pub store_in_database: bool,
    /// Route -> method for routes upstream's default does not name (upstream's
    /// `customResolveMethod` callback), e.g. `{ "/sign-in/username" = "username" }`.
    pub methods: BTreeMap<String, String>,
}

impl Default for LastLoginMethodOptions {
    fn default() -> Self {
        LastLoginMethodOptions {
            cookie_name: "better-auth.last_used_login_method".into(),
            max_age: 2_592_000,
            store_in_database: false,
            methods: BTreeMap::new(),
        }
    }
}

pub struct LastLoginMethodPlugin {
    options: LastLoginMethodOptions,
}

pub fn plugin(table: Option<&toml::Table>) -> Result<Arc<dyn Plugin>, ConfigError> {
    let options: LastLoginMethodOptions = super::options("last-login-method", table)?;
    Ok(Arc::new(LastLoginMethodPlugin { options }))
}

impl LastLoginMethodPlugin {
    /// Upstream's `defaultResolveMethod`, after the configured routes.
    fn method(&self, route: &str, provider: Option<&str>) -> Option<String> {
        if let Some(m) = self.options.methods.get(route) {
            return Some(m.clone());
        }
        let m = if route.starts_with("/callback/") {
            return provider.map(str::to_owned);
        } else if route == "/one-tap/callback" {
            "google"
        } else if route == "/sign-in/email" || route == "/sign-up/email" {
            "email"
        } else if route.contains("siwe") {
            "siwe"
        } else if route.contains("/passkey/verify-authentication") {
            "passkey"
        } else if route.starts_with("/magic-link/verify") {
            "magic-link"
        } else if route == "/sign-in/email-otp" {
            "email-otp"
        } else {
            return None;
        };
        Some(m.to_owned())
    }
}

#[async_trait::async_trait(?Send)]
impl Plugin for LastLoginMethodPlugin {
    fn id(&self) -> &'static str {
        "last-login-method"
    }

    fn schema(&self) -> Vec<SchemaMigration> {
        if !self.options.store_in_database {
            return Vec::new();
        }
        vec![SchemaMigration {
            name: "plugin_last_login_method_0001".into(),
            part: SchemaPart {
                user: vec![Field::new("lastLoginMethod", FieldType::String)
                    .optional()
                    .no_input()],
                ..SchemaPart::default()
            },
        }]
    }

    /// A user made by a sign-in route starts with its method (upstream's user create hook).
    async fn user_fields(&self, _state: &AppState, f: &mut UserFields<'_>) -> ApiResult<()> {
        if !self.options.store_in_database || !f.create {
            return Ok(());
        }
        let provider = f.request.match_info().get("id");
        if let Some(method) = self.method(f.route, provider) {
            f.values
                .insert("lastLoginMethod".into(), Value::String(method));
        }
        Ok(())
    }

    async fn after(&self, state: &AppState, after: &mut After<'_>) -> ApiResult<()> {
        let provider = after.request.match_info().get("id").map(str::to_owned);
        let Some(method) = self.method(after.route, provider.as_deref()) else {
            return Ok(());
        };
        if self.options.store_in_database {
            if let Some((_, user)) = after.new_session() {
                let mut fields = Map::new();
                fields.insert("lastLoginMethod".into(), Value::String(method.clone()));
                // Upstream logs a failure here and answers the sign-in all the same.
                if let Err(e) = state.store.users().update_fields(&user.id, &fields).await {
                    tracing::error!(error = %e, "could not store the last login method");
                } else {
                    state.sessions.user_updated(&user.id).await;
                }
            }
        }
        if after
            .sets_cookie(&state.cookies.session_token)
            .next()
            .is_some()
        {
            let cookie = state.cookies.set_cookie_with(
                &self.options.cookie_name,
                &method,
                Some(self.options.max_age),
                false,
            );
            after.add_cookie(&cookie);
        }
        Ok(())
    }
}
