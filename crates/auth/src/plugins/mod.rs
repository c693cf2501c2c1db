//! Better Auth plugins, one folder each, and the extension points through which the core
//! calls them. A plugin is enabled by `BETTER_AUTH_PLUGINS` or a `[plugins.<id>]` TOML table
//! (each plugin parses its own options from its table); jwt and bearer are on by default.
//!
//! The extension points, all optional (a plugin implements what it needs):
//! 1. `routes`: its endpoints, each declared through `routes::Api` with its rate-limit rule
//!    (so no spelling of a path escapes it) and what it answers (the OpenAPI document).
//! 2. `schema`: the fields it adds to `user` and `session` and the tables it owns, as named
//!    migrations (applied when it is enabled; `schema::migrate`).
//! 3. `session_token`: a session token carried by the request other than in the cookie
//!    (bearer's `Authorization` header).
//! 4. `user_fields`: checks and completes the declared user fields written on sign-up,
//!    social sign-up and update-user (username's rules, last-login-method's column).
//! 5. `before_session`: before a session is created for a user; an error refuses the sign-in.
//! 6. `after`: after an endpoint answered, with what happened (a session created, a session
//!    read), the matched route and the response's headers: cookies and headers to add,
//!    cleanup (upstream's `hooks.after`: multi-session, last-login-method, anonymous
//!    linking, jwt's `set-auth-jwt`, bearer's `set-auth-token`).
//! 7. `exposed_headers`: the response headers it adds that a browser app must be able to
//!    read (`Access-Control-Expose-Headers`, on CORS answers and on answers that carry them).
//!
//! Adding a plugin: its folder, and one line in `REGISTRY` below.

pub mod anonymous;
pub mod bearer;
pub mod jwt;
pub mod last_login_method;
pub mod multi_session;
pub mod one_time_token;
pub mod open_api;
pub mod username;

use std::any::Any;
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderMap, HeaderValue, SET_COOKIE};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpRequest, ResponseError};
use serde_json::{Map, Value};

use crate::config::{Config, ConfigError};
use crate::error::ApiResult;
use crate::models::{Session, SessionWithUser, User};
use crate::schema::migrate::SchemaMigration;
use crate::schema::SchemaPart;
use crate::state::AppState;

/// The concrete plugin behind a `dyn Plugin`, for handlers that need their plugin's options
/// (`Plugins::of::<T>()`); every plugin has it through the blanket impl. Call it on the
/// `dyn Plugin`, not on an `Arc` of it, which is `Any` itself.
pub trait AsAny {
    fn as_any(&self) -> &dyn Any;
}

impl<T: Any> AsAny for T {
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// One plugin. See the module documentation for the extension points.
#[async_trait::async_trait(?Send)]
pub trait Plugin: AsAny + Send + Sync + 'static {
    /// Upstream's plugin id (`username`, `multi-session`).
    fn id(&self) -> &'static str;

    /// Declares the plugin's endpoints (registered and described for the OpenAPI document).
    fn routes(&self, _api: &mut crate::routes::Api) {}

    fn schema(&self) -> Vec<SchemaMigration> {
        Vec::new()
    }

    fn session_token(&self, _req: &HttpRequest, _config: &Config) -> Option<String> {
        None
    }

    async fn user_fields(&self, _state: &AppState, _fields: &mut UserFields<'_>) -> ApiResult<()> {
        Ok(())
    }

    async fn before_session(
        &self,
        _state: &AppState,
        _req: &HttpRequest,
        _user: &User,
    ) -> ApiResult<()> {
        Ok(())
    }

    async fn after(&self, _state: &AppState, _after: &mut After<'_>) -> ApiResult<()> {
        Ok(())
    }

    fn exposed_headers(&self) -> &'static [&'static str] {
        &[]
    }
}

/// The declared user fields about to be written (extension point 4).
pub struct UserFields<'a> {
    /// The endpoint's route under the base path (`/sign-up/email`, `/callback/{id}`).
    pub route: &'a str,
    pub request: &'a HttpRequest,
    /// A new user (sign-up) or an update of `current`.
    pub create: bool,
    pub current: Option<&'a User>,
    /// Declared fields and their values; plugins may change, add or remove them.
    pub values: &'a mut Map<String, Value>,
}

/// What an endpoint did, recorded for the after hooks (upstream's `ctx.context.newSession`
/// and `ctx.context.session`).
#[derive(Clone, Debug)]
pub enum Event {
    /// A session was created and its cookie set.
    SessionCreated { session: Session, user: User },
    /// The request's session was read and answered (get-session).
    SessionRead(SessionWithUser),
}

/// Records an event of this request for the after hooks (a session created twice, as when
/// a new session's cookie is set again, counts once).
pub fn record(req: &HttpRequest, event: Event) {
    let mut extensions = req.extensions_mut();
    match extensions.get_mut::<Vec<Event>>() {
        Some(events) => {
            let seen = |e: &Event| match (e, &event) {
                (
                    Event::SessionCreated { session: a, .. },
                    Event::SessionCreated { session: b, .. },
                ) => a.token == b.token,
                _ => false,
            };
            if !events.iter().any(seen) {
                events.push(event);
            }
        }
        None => {
            extensions.insert(vec![event]);
        }
    }
}

/// The context of the after hooks (extension point 6).
pub struct After<'a> {
    pub request: &'a HttpRequest,
    /// The matched route under the base path (`/sign-in/email`, `/callback/{id}`).
    pub route: &'a str,
    pub events: &'a [Event],
    /// The response's headers: read `Set-Cookie`, add cookies and headers.
    pub headers: &'a mut HeaderMap,
}

impl After<'_> {
    /// The session this request created, if any.
    pub fn new_session(&self) -> Option<(&Session, &User)> {
        self.events.iter().rev().find_map(|e| match e {
            Event::SessionCreated { session, user } => Some((session, user)),
            _ => None,
        })
    }

    /// The response's `Set-Cookie` lines for the cookie `name` (expiring ones included).
    pub fn sets_cookie<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s str> + 's {
        self.headers
            .get_all(SET_COOKIE)
            .filter_map(|v| v.to_str().ok())
            .filter(move |c| {
                c.strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with('='))
            })
    }

    pub fn add_cookie(&mut self, cookie: &str) {
        if let Ok(value) = HeaderValue::from_str(cookie) {
            self.headers.append(SET_COOKIE, value);
        }
    }
}

/// The enabled plugins, in registry order.
#[derive(Clone, Default)]
pub struct Plugins {
    list: Vec<Arc<dyn Plugin>>,
}

impl std::fmt::Debug for Plugins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.list.iter().map(|p| p.id()))
            .finish()
    }
}

impl Plugins {
    pub fn ids(&self) -> Vec<&'static str> {
        self.list.iter().map(|p| p.id()).collect()
    }

    pub fn is_enabled(&self, id: &str) -> bool {
        self.list.iter().any(|p| p.id() == id)
    }

    pub fn get<T: 'static>(&self) -> Option<&T> {
        self.list
            .iter()
            // `(**p)`: the plugin itself; `p.as_any()` would be the `Arc` (it is `Any` too).
            .find_map(|p| (**p).as_any().downcast_ref::<T>())
    }

    /// A plugin's own options, for its routes (registered only when it is enabled).
    pub fn of<T: 'static>(&self) -> ApiResult<&T> {
        self.get::<T>().ok_or_else(|| {
            crate::error::ApiError::Internal(format!(
                "{} route without its plugin",
                std::any::type_name::<T>()
            ))
        })
    }

    /// Each plugin's endpoints, tagged with its name as upstream's document tags them
    /// (`Username`, `Multi-session`).
    pub fn configure(&self, api: &mut crate::routes::Api) {
        for plugin in &self.list {
            let id = plugin.id();
            let mut tag: String = id.chars().take(1).flat_map(char::to_uppercase).collect();
            tag.push_str(&id[id.chars().next().map_or(0, char::len_utf8)..]);
            api.set_tag(tag);
            plugin.routes(api);
        }
    }

    /// The migrations of the enabled plugins, in registry order.
    pub fn migrations(&self) -> Vec<SchemaMigration> {
        self.list.iter().flat_map(|p| p.schema()).collect()
    }

    /// What the enabled plugins add to `user` and `session`, in registry order.
    pub fn schema_parts(&self) -> Vec<SchemaPart> {
        self.migrations().into_iter().map(|m| m.part).collect()
    }

    /// The headers the enabled plugins expose, in registry order (jwt's before bearer's,
    /// as upstream names them).
    pub fn exposed_headers(&self) -> Vec<&'static str> {
        self.list
            .iter()
            .flat_map(|p| p.exposed_headers().iter().copied())
            .collect()
    }

    pub fn session_token(&self, req: &HttpRequest, config: &Config) -> Option<String> {
        self.list.iter().find_map(|p| p.session_token(req, config))
    }

    pub async fn user_fields(
        &self,
        state: &AppState,
        fields: &mut UserFields<'_>,
    ) -> ApiResult<()> {
        for plugin in &self.list {
            plugin.user_fields(state, fields).await?;
        }
        Ok(())
    }

    pub async fn before_session(
        &self,
        state: &AppState,
        req: &HttpRequest,
        user: &User,
    ) -> ApiResult<()> {
        for plugin in &self.list {
            plugin.before_session(state, req, user).await?;
        }
        Ok(())
    }
}

/// Builds a plugin from its `[plugins.<id>]` table.
type Build = fn(Option<&toml::Table>) -> Result<Arc<dyn Plugin>, ConfigError>;

/// A plugin this server has: its id and how to build it from its TOML table (`None`: no
/// table, upstream's defaults).
struct Registration {
    id: &'static str,
    on_by_default: bool,
    build: Build,
}

/// Every plugin, in the order their fields appear in users and sessions (upstream: the
/// order of the `plugins` array; a TypeScript server sharing the database should list them
/// in this order too).
const REGISTRY: &[Registration] = &[
    Registration {
        id: "jwt",
        on_by_default: true,
        build: jwt::plugin,
    },
    Registration {
        id: "bearer",
        on_by_default: true,
        build: bearer::plugin,
    },
    Registration {
        id: "username",
        on_by_default: false,
        build: username::plugin,
    },
    Registration {
        id: "anonymous",
        on_by_default: false,
        build: anonymous::plugin,
    },
    Registration {
        id: "multi-session",
        on_by_default: false,
        build: multi_session::plugin,
    },
    Registration {
        id: "one-time-token",
        on_by_default: false,
        build: one_time_token::plugin,
    },
    Registration {
        id: "last-login-method",
        on_by_default: false,
        build: last_login_method::plugin,
    },
    Registration {
        id: "open-api",
        on_by_default: false,
        build: open_api::plugin,
    },
];

/// Every registered plugin on, with default options (tests over the whole route catalog).
#[cfg(test)]
pub(crate) fn all() -> Plugins {
    let ids: Vec<&str> = REGISTRY.iter().map(|r| r.id).collect();
    from_config(Some(&ids.join(",")), &toml::Table::new()).expect("every plugin with defaults")
}

/// `last_login_method`, `Last-Login-Method` -> `last-login-method`.
pub(crate) fn canonical(id: &str) -> String {
    id.trim().to_ascii_lowercase().replace('_', "-")
}

/// The enabled plugins from `BETTER_AUTH_PLUGINS` (comma-separated ids) and the
/// `[plugins.<id>]` tables (`enabled = false` turns one off, default ones included).
pub fn from_config(env_list: Option<&str>, tables: &toml::Table) -> Result<Plugins, ConfigError> {
    let find = |id: &str, key: &str| {
        REGISTRY
            .iter()
            .find(|r| r.id == canonical(id))
            .ok_or_else(|| {
                let known: Vec<&str> = REGISTRY.iter().map(|r| r.id).collect();
                ConfigError::Invalid(format!(
                    "{key}: unknown plugin {id:?} (known: {})",
                    known.join(", ")
                ))
            })
    };
    let mut wanted: Vec<&'static str> = REGISTRY
        .iter()
        .filter(|r| r.on_by_default)
        .map(|r| r.id)
        .collect();
    for id in env_list
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.trim().is_empty())
    {
        wanted.push(find(id, "BETTER_AUTH_PLUGINS")?.id);
    }
    let mut options: Vec<(&'static str, toml::Table)> = Vec::new();
    for (key, value) in tables {
        let registration = find(key, "plugins")?;
        let toml::Value::Table(table) = value else {
            return Err(ConfigError::Invalid(format!(
                "plugins.{key} must be a table"
            )));
        };
        let mut table = table.clone();
        match table.remove("enabled") {
            None | Some(toml::Value::Boolean(true)) => wanted.push(registration.id),
            Some(toml::Value::Boolean(false)) => wanted.retain(|w| *w != registration.id),
            Some(_) => {
                return Err(ConfigError::Invalid(format!(
                    "plugins.{key}.enabled must be true or false"
                )))
            }
        }
        options.push((registration.id, table));
    }
    let mut list = Vec::new();
    for registration in REGISTRY.iter().filter(|r| wanted.contains(&r.id)) {
        let table = options
            .iter()
            .find(|(id, _)| *id == registration.id)
            .map(|(_, t)| t);
        list.push((registration.build)(table)?);
    }
    Ok(Plugins { list })
}

/// The options of a plugin that has none (`[plugins.<id>]` takes only `enabled`).
#[derive(Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoOptions {}

/// Parses a plugin's options from its table with serde, naming the key on an error
/// (unknown options included: every options struct denies unknown fields).
pub fn options<T: serde::de::DeserializeOwned + Default>(
    id: &str,
    table: Option<&toml::Table>,
) -> Result<T, ConfigError> {
    match table {
        None => Ok(T::default()),
        Some(t) => toml::Value::Table(t.clone())
            .try_into()
            .map_err(|e| ConfigError::Invalid(format!("plugins.{}: {e}", id.replace('-', "_")))),
    }
}

/// The middleware that runs the after hooks of every enabled plugin, once per request,
/// after the endpoint answered.
pub async fn after_hooks(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let mut res = next.call(req).await?;
    let request = res.request().clone();
    let events: Vec<Event> = request
        .extensions_mut()
        .remove::<Vec<Event>>()
        .unwrap_or_default();
    let pattern = request.match_pattern().unwrap_or_default();
    let route = pattern
        .strip_prefix(state.config.base_path.as_str())
        .unwrap_or(&pattern)
        .to_owned();
    let mut after = After {
        request: &request,
        route: &route,
        events: &events,
        headers: res.headers_mut(),
    };
    for plugin in &state.config.plugins.list {
        if let Err(e) = plugin.after(&state, &mut after).await {
            return Ok(res.into_response(e.error_response()).map_into_right_body());
        }
    }
    Ok(res.map_into_left_body())
}
