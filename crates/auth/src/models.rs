//! The user and session objects as Better Auth serialises them.
//!
//! Field order follows what the TypeScript server emits (adapter output order), so that
//! responses compare equal byte-for-byte modulo ids and times.

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Serialize, Serializer};

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

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub name: String,
    pub email: String,
    pub email_verified: bool,
    pub image: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub id: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub expires_at: Timestamp,
    pub token: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub user_id: String,
    pub id: String,
}

/// `{"session": ..., "user": ...}`: the body of `/get-session`.
#[derive(Debug, Clone, Serialize)]
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
