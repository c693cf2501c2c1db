//! Upstream's session cookie cache: the session and its user sealed into the `session_data`
//! cookie (`cookies/index.ts` `setCookieCache` / `decodeCookieCache`), so that a Next.js
//! `proxy.ts` can read them with `getCookieCache` without calling us, and get-session can
//! answer without storage while the cookie is younger than `max_age`.
//!
//! The cookie is bound to the signed session token: a cache for another session, of another
//! version, expired, or not sealed with one of our secrets is ignored (and expired), and the
//! session is read from storage as if there were no cache.

pub mod account;
mod chunks;
mod seal;

use actix_web::HttpRequest;
use serde_json::{Map, Value};

use crate::config::Config;
use crate::cookies::CookieNames;
use crate::crypto::constant_time_eq;
use crate::models::{Session, SessionWithUser, Timestamp, User};

pub use seal::{open, seal, Opened};

/// What the request's cache cookie says about a session token.
pub enum CacheRead {
    /// No `session_data` cookie (or chunks).
    Absent,
    /// A cache for this session, sealed by us (or a TypeScript server with our secret),
    /// current: the session and user as they were when it was written, and when the cookie
    /// stops counting (ms).
    Valid {
        found: Box<SessionWithUser>,
        expires_at_ms: i64,
    },
    /// A cookie that must not be believed: unreadable, tampered with, another session's,
    /// another version, or expired.
    Refused,
}

/// Reads the cache cookie for the request's (verified) session token.
pub fn read(req: &HttpRequest, config: &Config, names: &CookieNames, token: &str) -> CacheRead {
    let Some(value) = chunks::read(req, &names.session_data) else {
        return CacheRead::Absent;
    };
    let settings = &config.session.cookie_cache;
    let now = Timestamp::now();
    let Some(opened) = open(settings.strategy, &config.secrets, &value, now.millis()) else {
        return CacheRead::Refused;
    };
    let expires_at_ms = opened.expires_at_ms;
    let Some(cached) = opened.decode() else {
        return CacheRead::Refused;
    };
    let believed = constant_time_eq(&cached.found.session.token, token)
        && cached.version == settings.version
        && expires_at_ms >= now.millis()
        && cached.found.session.expires_at >= now;
    if believed {
        CacheRead::Valid {
            found: Box::new(cached.found),
            expires_at_ms,
        }
    } else {
        CacheRead::Refused
    }
}

/// The cookies that write (or rewrite) the cache for a session, expiring chunks the request
/// carried that the new value does not use. None when the cache is off. A "don't remember"
/// session gets a browser-session cookie, as its token cookie.
pub fn issue(
    req: &HttpRequest,
    config: &Config,
    names: &CookieNames,
    session: &Session,
    user: &User,
    remember: bool,
) -> Vec<String> {
    let settings = &config.session.cookie_cache;
    if !settings.enabled {
        return Vec::new();
    }
    let Some(payload) = payload(session, user, &settings.version) else {
        return Vec::new();
    };
    let max_age = remember.then_some(settings.max_age);
    let now = Timestamp::now().millis();
    let value = seal(settings.strategy, &config.secrets, payload, max_age, now);
    chunks::write(req, names, &names.session_data, &value, max_age)
}

/// Expiries for the cache cookies a request carries (upstream clears them when the cache
/// is off).
pub fn clean(req: &HttpRequest, names: &CookieNames) -> Vec<String> {
    chunks::clean(req, names, &names.session_data)
}

/// Upstream's `CookieCachePayload`: `{session, user, updatedAt, version}`, the session and
/// user as the API returns them (declared `returned: false` fields left out).
fn payload(session: &Session, user: &User, version: &str) -> Option<Map<String, Value>> {
    let mut payload = Map::new();
    payload.insert("session".into(), serde_json::to_value(session).ok()?);
    payload.insert("user".into(), serde_json::to_value(user).ok()?);
    payload.insert("updatedAt".into(), Timestamp::now().millis().into());
    payload.insert("version".into(), version.into());
    Some(payload)
}

/// A decoded payload.
struct Cached {
    found: SessionWithUser,
    version: String,
}

impl Opened {
    /// The session, user and version, when the payload has upstream's shape (a cookie
    /// without `version` is version "1", as upstream reads it).
    fn decode(self) -> Option<Cached> {
        let mut payload = self.payload;
        payload.get("updatedAt")?.as_f64()?;
        let version = match payload.get("version") {
            None | Some(Value::Null) => "1".to_owned(),
            Some(Value::String(v)) => v.clone(),
            Some(_) => return None,
        };
        let session = serde_json::from_value(payload.remove("session")?).ok()?;
        let user = serde_json::from_value(payload.remove("user")?).ok()?;
        Some(Cached {
            found: SessionWithUser { session, user },
            version,
        })
    }
}
