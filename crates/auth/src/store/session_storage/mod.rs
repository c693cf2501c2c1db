//! Where sessions live: the `session` table, or Redis when `REDIS_URL` is set (upstream's
//! `secondaryStorage`; the table is then only written with `session.storeSessionInDatabase`).
//! Every session read and write of the endpoints goes through `SessionStore`.
//!
//! Redis keeps upstream's 1.7 format so that a TypeScript server on the same Redis shares
//! sessions with us (`internal-adapter.ts`):
//! - `<token>` -> `{"session": {...}, "user": {...}}`, expiring with the session;
//! - `active-sessions-<userId>` -> `[{"token": ..., "expiresAt": <ms>}]` sorted by expiry,
//!   expiring with the furthest session;
//! - `revoked-sessions-before-<userId>` -> ms (text): written when a user is signed out
//!   everywhere; a session created before it is no session (1.7.25's guard for sessions
//!   missing from the list).
//!
//! Stricter than upstream: the list is changed by one Lua script per change (upstream reads,
//! edits and writes it back, so concurrent sign-ins of one user can drop entries), and a
//! refresh or a user update never writes back a session deleted meanwhile (`SET .. XX`).

use serde_json::{Map, Value};

use super::{StorageError, Store};
use crate::config::SessionConfig;
use crate::models::{Session, SessionWithUser, Timestamp, User};
use crate::secondary_storage::Redis;

mod redis_sessions;

use redis_sessions::{parse, revoked, RedisSessions};

type Result<T> = std::result::Result<T, StorageError>;

/// What a session write changed, for the memory caches.
enum Changed<'a> {
    Session(&'a str),
    UserSessions(&'a str),
}

/// The one session-storage interface of the endpoints.
#[derive(Clone)]
pub struct SessionStore {
    store: Store,
    redis: Option<RedisSessions>,
}

impl SessionStore {
    pub fn new(store: Store, redis: Option<Redis>, config: &SessionConfig) -> Self {
        let redis = redis.map(|redis| {
            RedisSessions::new(
                redis,
                config.store_session_in_database,
                config.expires_in.max(86_400),
            )
        });
        SessionStore { store, redis }
    }

    /// Readiness: Redis answers when sessions are kept there.
    pub async fn ping(&self) -> Result<()> {
        if let Some(r) = &self.redis {
            let _: String = r.command(redis::cmd("PING")).await?;
        }
        Ok(())
    }

    /// True when session rows are written to the `session` table.
    pub fn in_database(&self) -> bool {
        self.redis.as_ref().is_none_or(|r| r.in_database)
    }

    /// The session to insert in a transaction that creates one (sign-up, social sign-up,
    /// change-password): `None` when sessions are not kept in the table. `publish` follows
    /// the commit.
    pub fn row<'a>(&self, session: &'a Session) -> Option<&'a Session> {
        self.in_database().then_some(session)
    }

    /// After a transaction that wrote `row(session)` committed: the Redis copy.
    pub async fn publish(&self, session: &Session, user: &User) -> Result<()> {
        match &self.redis {
            Some(r) => r.put(session, user).await,
            None => Ok(()),
        }
    }

    pub async fn create(&self, session: &Session, user: &User) -> Result<()> {
        if self.in_database() {
            self.store.session_rows().create(session).await?;
        }
        self.publish(session, user).await
    }

    /// The session with this token and its user (expired ones included: callers decide),
    /// from the memory cache when it holds it.
    pub async fn find(&self, token: &str) -> Result<Option<SessionWithUser>> {
        let Some(cache) = self.store.cache() else {
            return self.find_stored(token).await;
        };
        let key = super::session_cache::key(token);
        if let Some(found) = cache.get(&key) {
            return Ok(Some(found));
        }
        let generation = cache.generation();
        let found = self.find_stored(token).await?;
        if let Some(found) = &found {
            cache.fill(key, found, generation);
        }
        Ok(found)
    }

    async fn find_stored(&self, token: &str) -> Result<Option<SessionWithUser>> {
        if let Some(r) = &self.redis {
            let mut call = r.find.key(r.redis.key(token));
            call.arg(r.redis.key(""));
            let found: Vec<String> = r.invoke(call).await?;
            if let Some(raw) = found.first() {
                let revoked_before = found.get(1).and_then(|t| t.parse::<f64>().ok());
                return Ok(parse(raw)
                    .map(|v| v.0)
                    .filter(|s| !revoked(&s.session, revoked_before)));
            }
            if !r.in_database {
                return Ok(None);
            }
        }
        Ok(self.store.find_session_with_user(token).await?)
    }

    /// The cached copy of this session goes (here and on the other replicas).
    fn session_changed(&self, token: &str) {
        if let Some(cache) = self.store.cache() {
            cache.invalidate_session(token);
        }
    }

    /// The cached sessions of this user go.
    fn user_sessions_changed(&self, user_id: &str) {
        if let Some(cache) = self.store.cache() {
            cache.invalidate_user(user_id);
        }
    }

    /// Runs a session write, then drops what it changed from the memory caches: also after
    /// a failure, since part of the write may have happened.
    async fn invalidating<T>(
        &self,
        changed: Changed<'_>,
        write: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        let result = write.await;
        match changed {
            Changed::Session(token) => self.session_changed(token),
            Changed::UserSessions(user_id) => self.user_sessions_changed(user_id),
        }
        result
    }

    /// Extends a session; false when it no longer exists.
    pub async fn refresh(
        &self,
        token: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<bool> {
        self.invalidating(
            Changed::Session(token),
            self.refresh_stored(token, expires_at, now),
        )
        .await
    }

    /// Writes declared session fields (update-session); false when the session is gone.
    pub async fn update_fields(
        &self,
        token: &str,
        fields: &Map<String, Value>,
        now: Timestamp,
    ) -> Result<bool> {
        self.invalidating(
            Changed::Session(token),
            self.update_fields_stored(token, fields, now),
        )
        .await
    }

    /// Signs one session out.
    pub async fn delete(&self, token: &str) -> Result<()> {
        self.invalidating(Changed::Session(token), self.delete_stored(token))
            .await
    }

    /// Deletes the session with `token` only if it belongs to `user_id`.
    pub async fn delete_of_user(&self, token: &str, user_id: &str) -> Result<()> {
        self.invalidating(
            Changed::Session(token),
            self.delete_of_user_stored(token, user_id),
        )
        .await
    }

    /// Signs a user out everywhere.
    pub async fn delete_all_of_user(&self, user_id: &str) -> Result<()> {
        self.invalidating(
            Changed::UserSessions(user_id),
            self.delete_all_of_user_stored(user_id),
        )
        .await
    }

    /// After a transaction that deleted a user's session rows (password reset, delete-user,
    /// change-password): the Redis copies of sessions created before `before` go too.
    /// Without Redis nothing is left to do: that Store write invalidated the user's cached
    /// sessions already.
    pub async fn forget_user(&self, user_id: &str, before: Timestamp) -> Result<()> {
        if self.redis.is_none() {
            return Ok(());
        }
        self.invalidating(
            Changed::UserSessions(user_id),
            self.forget_user_stored(user_id, before),
        )
        .await
    }

    /// Deletes a user with their sessions and accounts (one transaction), then the Redis
    /// copies of their sessions.
    pub async fn delete_user(&self, user_id: &str) -> Result<()> {
        self.store.users().delete(user_id).await?;
        self.forget_user(user_id, Timestamp::now()).await
    }

    /// Signs a user out everywhere except the session with `keep_token`.
    pub async fn delete_others(&self, user_id: &str, keep_token: &str) -> Result<()> {
        self.invalidating(
            Changed::UserSessions(user_id),
            self.delete_others_stored(user_id, keep_token),
        )
        .await
    }

    /// Extends a session; false when it no longer exists.
    async fn refresh_stored(
        &self,
        token: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<bool> {
        let rows = self.store.session_rows();
        let row = rows.refresh(token, expires_at, now);
        self.rewrite_stored(token, row, Some(expires_at), |s| {
            s.insert("expiresAt".into(), expires_at.to_iso().into());
            s.insert("updatedAt".into(), now.to_iso().into());
        })
        .await
    }

    /// Writes declared session fields (update-session); false when the session is gone.
    async fn update_fields_stored(
        &self,
        token: &str,
        fields: &Map<String, Value>,
        now: Timestamp,
    ) -> Result<bool> {
        let rows = self.store.session_rows();
        let row = rows.update_fields(token, fields, now);
        self.rewrite_stored(token, row, None, |s| {
            s.extend(fields.clone());
            s.insert("updatedAt".into(), now.to_iso().into());
        })
        .await
    }

    /// A session's row written (when the table is used), then its Redis copy edited in
    /// place; true when either still had the session.
    async fn rewrite_stored(
        &self,
        token: &str,
        row: impl std::future::Future<Output = std::result::Result<bool, sea_orm::DbErr>>,
        expires_at: Option<Timestamp>,
        edit: impl FnOnce(&mut Map<String, Value>),
    ) -> Result<bool> {
        let in_db = self.in_database() && row.await?;
        let Some(r) = &self.redis else {
            return Ok(in_db);
        };
        Ok(r.rewrite_session(token, expires_at, edit).await? || in_db)
    }

    /// Signs one session out.
    async fn delete_stored(&self, token: &str) -> Result<()> {
        if let Some(r) = &self.redis {
            let raw = r.get(r.redis.key(token)).await?;
            match raw.as_deref().and_then(parse) {
                Some((found, _)) => {
                    r.remove(&found.session.user_id, true, &[token], None)
                        .await?
                }
                None => {
                    let mut del = redis::cmd("DEL");
                    del.arg(r.redis.key(token));
                    let _: i64 = r.command(del).await?;
                }
            }
        }
        if self.in_database() {
            self.store.session_rows().delete(token).await?;
        }
        Ok(())
    }

    /// Deletes the session with `token` only if it belongs to `user_id`.
    async fn delete_of_user_stored(&self, token: &str, user_id: &str) -> Result<()> {
        if let Some(r) = &self.redis {
            let raw = r.get(r.redis.key(token)).await?;
            if raw
                .as_deref()
                .and_then(parse)
                .is_some_and(|(found, _)| found.session.user_id == user_id)
            {
                r.remove(user_id, true, &[token], None).await?;
            }
        }
        if self.in_database() {
            self.store
                .session_rows()
                .delete_of_user(token, user_id)
                .await?;
        }
        Ok(())
    }

    /// Signs a user out everywhere.
    async fn delete_all_of_user_stored(&self, user_id: &str) -> Result<()> {
        self.store
            .session_rows()
            .delete_all_of_user(self.store.connection(), user_id)
            .await?;
        self.forget_user_stored(user_id, Timestamp::now()).await
    }

    /// After a transaction that deleted a user's session rows (password reset, delete-user,
    /// change-password): the Redis copies of sessions created before `before` go too.
    async fn forget_user_stored(&self, user_id: &str, before: Timestamp) -> Result<()> {
        match &self.redis {
            Some(r) => r.remove(user_id, false, &[], Some(before)).await,
            None => Ok(()),
        }
    }

    /// Signs a user out everywhere except the session with `keep_token`.
    async fn delete_others_stored(&self, user_id: &str, keep_token: &str) -> Result<()> {
        if let Some(r) = &self.redis {
            r.remove(user_id, false, &[keep_token], None).await?;
        }
        if self.in_database() {
            self.store
                .session_rows()
                .delete_others(user_id, keep_token)
                .await?;
        }
        Ok(())
    }

    /// A user's live sessions: by creation time from the table, by expiry from Redis (the
    /// order of upstream's list).
    pub async fn list(&self, user_id: &str) -> Result<Vec<Session>> {
        let now = Timestamp::now();
        let Some(r) = &self.redis else {
            let mut sessions = self.store.session_rows().list_for_user(user_id).await?;
            sessions.retain(|s| s.expires_at > now);
            return Ok(sessions);
        };
        let tokens = r.listed_tokens(user_id, now).await?;
        if tokens.is_empty() {
            return Ok(Vec::new());
        }
        let mut keys: Vec<String> = tokens.iter().map(|t| r.redis.key(t)).collect();
        keys.push(r.revoked_key(user_id));
        let mut mget = redis::cmd("MGET");
        mget.arg(keys);
        let mut values: Vec<Option<String>> = r.command(mget).await?;
        let revoked_before = values.pop().flatten().and_then(|t| t.parse::<f64>().ok());
        Ok(values
            .iter()
            .flatten()
            .filter_map(|raw| parse(raw))
            .map(|(found, _)| found.session)
            .filter(|s| s.expires_at > now && s.user_id == user_id && !revoked(s, revoked_before))
            .collect())
    }

    /// After the user row changed (committed): the copies kept with each session in Redis
    /// follow, as upstream's `refreshUserSessions`. Best effort, as upstream: a failure is
    /// logged and the change stands.
    pub async fn user_updated(&self, user_id: &str) {
        let Some(r) = &self.redis else {
            return;
        };
        let result = match self.store.users().find_by_id(user_id).await {
            Ok(Some(user)) => r.rewrite_user(&user).await,
            Ok(None) => Ok(()),
            Err(e) => Err(e.into()),
        };
        // The row's own invalidation came before this rewrite: a lookup in between may
        // have cached the old copy from Redis.
        self.user_sessions_changed(user_id);
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not update the user kept with their sessions");
        }
    }
}
