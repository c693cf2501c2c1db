//! The user and session objects as Better Auth serialises them.
//!
//! Field order follows what the TypeScript server emits (adapter output order), so that
//! responses compare equal byte-for-byte modulo ids and times.

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// An instant with millisecond precision, written as JavaScript's `toISOString()`:
/// `2026-11-26T15:04:28.033Z` (the client revives at most 7 fraction digits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(pub DateTime<Utc>);

impl Timestamp {
    pub fn now() -> Self {
        Timestamp(Utc::now().trunc_subsecs(3))
    }

    /// Milliseconds since the Unix epoch.
    pub fn millis(self) -> i64 {
        self.0.timestamp_millis()
    }

    pub fn plus_seconds(self, seconds: i64) -> Self {
        Timestamp(self.0 + chrono::Duration::seconds(seconds))
    }

    pub fn to_iso(self) -> String {
        self.0.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
    }

    /// Parses the ISO text Better Auth writes to SQLite (and any RFC 3339 variant).
    pub fn parse_iso(text: &str) -> Option<Self> {
        DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| Timestamp(t.with_timezone(&Utc).trunc_subsecs(3)))
            .or_else(|| {
                // `YYYY-MM-DD HH:MM:SS[.fff]` as SQLite's own functions write it.
                chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
                    .ok()
                    .map(|n| Timestamp(n.and_utc().trunc_subsecs(3)))
            })
    }

    pub fn from_millis(ms: i64) -> Option<Self> {
        DateTime::from_timestamp_millis(ms).map(Timestamp)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_iso())
    }
}

/// Reads what `Serialize` writes (and `JSON.stringify` of a `Date`): sessions kept in Redis.
impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Timestamp::parse_iso(&text)
            .ok_or_else(|| serde::de::Error::custom("not an ISO 8601 instant"))
    }
}

/// A user as upstream returns it: the core fields, then the fields plugins and
/// `additional_fields` add (`extra`, in schema order), then `id`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub name: String,
    pub email: String,
    pub email_verified: bool,
    #[serde(default)]
    pub image: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Declared fields that are returned to clients (and, read back from Redis, whatever a
    /// TypeScript server stored beside them).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
    pub id: String,
    /// Declared fields with `returned: false`: loaded for the server, never answered.
    #[serde(skip)]
    pub hidden: Map<String, Value>,
}

/// A session, likewise with the declared fields between the core ones and `id`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub expires_at: Timestamp,
    pub token: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    #[serde(default)]
    pub ip_address: Option<String>,
    #[serde(default)]
    pub user_agent: Option<String>,
    pub user_id: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
    pub id: String,
    #[serde(skip)]
    pub hidden: Map<String, Value>,
}

impl User {
    /// A declared field's value, returned or not.
    pub fn field(&self, name: &str) -> Option<&Value> {
        self.extra.get(name).or_else(|| self.hidden.get(name))
    }
}

impl Session {
    pub fn field(&self, name: &str) -> Option<&Value> {
        self.extra.get(name).or_else(|| self.hidden.get(name))
    }
}

/// `{"session": ..., "user": ...}`: the body of `/get-session`, and the value upstream keeps
/// under a session token in secondary storage.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionWithUser {
    pub session: Session,
    pub user: User,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_format_matches_javascript() {
        let t = Timestamp::parse_iso("2026-11-26T15:04:28.033Z").unwrap();
        assert_eq!(t.to_iso(), "2026-11-26T15:04:28.033Z");
        let t = Timestamp::parse_iso("2026-11-26T15:04:28Z").unwrap();
        assert_eq!(t.to_iso(), "2026-11-26T15:04:28.000Z");
        let t = Timestamp::parse_iso("2026-11-26 15:04:28.5").unwrap();
        assert_eq!(t.to_iso(), "2026-11-26T15:04:28.500Z");
        assert_eq!(Timestamp::now().0.timestamp_subsec_nanos() % 1_000_000, 0);
    }
}
