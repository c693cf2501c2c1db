//! Sessions read from memory: an in-process cache of session + user by token (moka: bounded
//! by entries, entries live `ttl`), in front of the table or Redis.
//!
//! Correct before fast:
//! - Every write that changes what an entry answers invalidates it here: `SessionStore`'s
//!   session writes (sign-out, revoke, refresh, update-session, sign out everywhere) and the
//!   `Store`'s user writes (update-user, email changes, deletion), once committed.
//! - Invalidations reach the other replicas: PostgreSQL `NOTIFY` (one `LISTEN` connection
//!   per process) or, with Redis, its pub/sub (`notify.rs`). After the listener reconnects
//!   the whole cache is flushed: notifications may have been missed meanwhile.
//! - A read that missed stores what it read only if no invalidation arrived while it read
//!   (a generation counter), so a revocation that raced a read is never undone.
//! - Keys are SHA-256 of the token: no session token is held as a key or sent to another
//!   replica.
//!
//! A TypeScript server sharing the database sends no notifications: mixed deployments keep
//! the TTL short or turn the cache off.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;
use prometheus::{IntCounter, IntGauge};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use crate::models::{SessionWithUser, Timestamp};

/// An invalidation, local or from another replica.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Invalidation {
    /// One session, by key (hex SHA-256 of its token).
    Session(String),
    /// Every session of a user.
    User(String),
    /// Everything (a replica lost its listener and flushed).
    All,
}

impl Invalidation {
    /// The text sent between replicas: `s:<key>`, `u:<user id>`, `*`.
    pub fn encode(&self) -> String {
        match self {
            Invalidation::Session(key) => format!("s:{key}"),
            Invalidation::User(id) => format!("u:{id}"),
            Invalidation::All => "*".into(),
        }
    }

    pub fn decode(text: &str) -> Option<Self> {
        match text.split_once(':') {
            Some(("s", key)) if !key.is_empty() => Some(Invalidation::Session(key.to_owned())),
            Some(("u", id)) if !id.is_empty() => Some(Invalidation::User(id.to_owned())),
            _ if text == "*" => Some(Invalidation::All),
            _ => None,
        }
    }
}

/// The cache's counters, registered with the metrics.
#[derive(Clone)]
pub struct CacheCounters {
    pub hits: IntCounter,
    pub misses: IntCounter,
    pub sent: IntCounter,
    pub received: IntCounter,
    pub flushes: IntCounter,
    pub entries: IntGauge,
}

/// Settings: `[session.memory_cache]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheSettings {
    pub enabled: bool,
    pub max_entries: u64,
    pub ttl: Duration,
}

pub struct SessionCache {
    entries: Cache<Key, Arc<SessionWithUser>>,
    /// Bumped by every invalidation: a read that saw it move does not store what it read.
    generation: AtomicU64,
    /// Invalidations to send to the other replicas (none on SQLite).
    outbox: Option<mpsc::UnboundedSender<Invalidation>>,
    /// False while the replica cannot hear the others (listener not connected): nothing is
    /// stored then, since an invalidation could be missed.
    hearing: AtomicBool,
    counters: CacheCounters,
}

/// The key of a token: its SHA-256.
pub type Key = [u8; 32];

pub fn key(token: &str) -> Key {
    Sha256::digest(token.as_bytes()).into()
}

impl SessionCache {
    pub fn new(settings: CacheSettings, counters: CacheCounters) -> Self {
        SessionCache {
            entries: Cache::builder()
                .max_capacity(settings.max_entries)
                .time_to_live(settings.ttl)
                .support_invalidation_closures()
                .build(),
            generation: AtomicU64::new(0),
            outbox: None,
            hearing: AtomicBool::new(true),
            counters,
        }
    }

    /// Invalidations go to the other replicas through this channel (`notify.rs`).
    pub fn send_to(&mut self, outbox: mpsc::UnboundedSender<Invalidation>) {
        self.outbox = Some(outbox);
        self.hearing = AtomicBool::new(false);
    }

    /// The listener is connected (`true`) or lost (`false`: everything held is dropped).
    pub fn set_hearing(&self, hearing: bool) {
        if !hearing {
            self.hearing.store(false, Ordering::Release);
            self.flush();
        } else {
            // Whatever was stored before could have missed a notification.
            self.flush();
            self.hearing.store(true, Ordering::Release);
        }
    }

    /// The current generation, taken before a read that may fill the cache.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// A live cached session.
    pub fn get(&self, key: &Key) -> Option<SessionWithUser> {
        match self.entries.get(key) {
            Some(found) if found.session.expires_at > Timestamp::now() => {
                self.counters.hits.inc();
                Some((*found).clone())
            }
            _ => {
                self.counters.misses.inc();
                None
            }
        }
    }

    /// Stores what a read found, unless an invalidation arrived since `generation`.
    pub fn fill(&self, key: Key, found: &SessionWithUser, generation: u64) {
        if self.generation() != generation || !self.hearing.load(Ordering::Acquire) {
            return;
        }
        self.entries.insert(key, Arc::new(found.clone()));
        // The check again after the insert: an invalidation between the first check and
        // the insert must not leave this entry behind.
        if self.generation() != generation || !self.hearing.load(Ordering::Acquire) {
            self.entries.invalidate(&key);
        }
        self.counters.entries.set(self.entries.entry_count() as i64);
    }

    /// Invalidates here and tells the other replicas.
    pub fn invalidate(&self, what: Invalidation) {
        self.apply(&what);
        if let Some(outbox) = &self.outbox {
            if outbox.send(what).is_ok() {
                self.counters.sent.inc();
            }
        }
    }

    pub fn invalidate_session(&self, token: &str) {
        self.invalidate(Invalidation::Session(hex::encode(key(token))));
    }

    pub fn invalidate_user(&self, user_id: &str) {
        self.invalidate(Invalidation::User(user_id.to_owned()));
    }

    /// An invalidation from another replica.
    pub fn received(&self, what: &Invalidation) {
        self.counters.received.inc();
        self.apply(what);
    }

    /// Drops every entry (the listener reconnected: notifications may have been lost).
    pub fn flush(&self) {
        self.counters.flushes.inc();
        self.apply(&Invalidation::All);
    }

    fn apply(&self, what: &Invalidation) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        match what {
            Invalidation::Session(hex_key) => {
                let mut k: Key = [0; 32];
                if hex::decode_to_slice(hex_key, &mut k).is_ok() {
                    self.entries.invalidate(&k);
                }
            }
            Invalidation::User(id) => {
                let id = id.clone();
                // Entries of this user stored before now are not answered any more.
                if self
                    .entries
                    .invalidate_entries_if(move |_, v| v.user.id == id)
                    .is_err()
                {
                    self.entries.invalidate_all();
                }
            }
            Invalidation::All => self.entries.invalidate_all(),
        }
        self.counters.entries.set(self.entries.entry_count() as i64);
    }

    pub fn is_hearing(&self) -> bool {
        self.hearing.load(Ordering::Acquire)
    }

    pub fn entry_count(&self) -> u64 {
        self.entries.run_pending_tasks();
        self.entries.entry_count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{Session, User};

    fn counters() -> CacheCounters {
        let c = |n: &str| IntCounter::new(n, "test").unwrap();
        CacheCounters {
            hits: c("h"),
            misses: c("m"),
            sent: c("s"),
            received: c("r"),
            flushes: c("f"),
            entries: IntGauge::new("e", "test").unwrap(),
        }
    }

    fn session_with_user(i: usize) -> SessionWithUser {
        let now = Timestamp::now();
        let user_id = crate::crypto::random::id();
        SessionWithUser {
            session: Session {
                expires_at: now.plus_seconds(600),
                token: crate::crypto::random::session_token(),
                created_at: now,
                updated_at: now,
                ip_address: Some("203.0.113.7".into()),
                user_agent: Some(
                    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/140".into(),
                ),
                user_id: user_id.clone(),
                extra: Default::default(),
                id: crate::crypto::random::id(),
                hidden: Default::default(),
            },
            user: User {
                name: format!("User Number {i}"),
                email: format!("user{i}@example.com"),
                email_verified: true,
                image: None,
                created_at: now,
                updated_at: now,
                extra: Default::default(),
                id: user_id,
                hidden: Default::default(),
            },
        }
    }

    fn rss_kib() -> u64 {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            })
            .unwrap_or(0)
    }

    /// The memory 100,000 cached sessions take (docs/performance.md quotes it).
    #[test]
    #[cfg(target_os = "linux")]
    fn a_hundred_thousand_sessions_fit_in_a_modest_rss() {
        let settings = CacheSettings {
            enabled: true,
            max_entries: 100_000,
            ttl: Duration::from_secs(600),
        };
        let cache = SessionCache::new(settings, counters());
        let entries: Vec<(Key, SessionWithUser)> = (0..100_000)
            .map(|i| {
                let s = session_with_user(i);
                (key(&s.session.token), s)
            })
            .collect();
        let before = rss_kib();
        for (k, s) in &entries {
            cache.fill(*k, s, cache.generation());
        }
        assert_eq!(cache.entry_count(), 100_000);
        let grown = rss_kib().saturating_sub(before);
        eprintln!("100000 cached sessions: +{} MiB RSS", grown / 1024);
        assert!(grown < 200 * 1024, "{grown} KiB");
        // Hits answer; a user invalidation drops exactly that user's entries.
        let (k, s) = &entries[7];
        assert!(cache.get(k).is_some());
        cache.invalidate_user(&s.user.id);
        assert!(cache.get(k).is_none());
        assert!(cache.get(&entries[8].0).is_some());
    }

    fn small_cache() -> SessionCache {
        let settings = CacheSettings {
            enabled: true,
            max_entries: 100,
            ttl: Duration::from_secs(600),
        };
        SessionCache::new(settings, counters())
    }

    /// A read that began before an invalidation (of anything) must not store what it read:
    /// it may be the state the invalidation replaced.
    #[test]
    fn a_fill_older_than_an_invalidation_stores_nothing() {
        let cache = small_cache();
        let s = session_with_user(1);
        let k = key(&s.session.token);
        let before = cache.generation();
        cache.invalidate_user("someone-else");
        cache.fill(k, &s, before);
        assert!(cache.get(&k).is_none());
        cache.fill(k, &s, cache.generation());
        assert!(cache.get(&k).is_some());
        cache.invalidate_session(&s.session.token);
        assert!(cache.get(&k).is_none());
    }

    /// With replicas, nothing is stored until the listener hears (notifications could be
    /// missed), and losing it drops what was held.
    #[test]
    fn nothing_is_cached_while_not_hearing() {
        let mut cache = small_cache();
        let (outbox, _inbox) = mpsc::unbounded_channel();
        cache.send_to(outbox);
        let s = session_with_user(2);
        let k = key(&s.session.token);
        cache.fill(k, &s, cache.generation());
        assert!(cache.get(&k).is_none());
        cache.set_hearing(true);
        cache.fill(k, &s, cache.generation());
        assert!(cache.get(&k).is_some());
        cache.set_hearing(false);
        assert!(cache.get(&k).is_none());
    }

    #[test]
    fn invalidations_round_trip_as_text() {
        for i in [
            Invalidation::Session("ab12".into()),
            Invalidation::User("u1".into()),
            Invalidation::All,
        ] {
            assert_eq!(Invalidation::decode(&i.encode()), Some(i));
        }
        assert_eq!(Invalidation::decode("x:1"), None);
        assert_eq!(Invalidation::decode("s:"), None);
    }
}
