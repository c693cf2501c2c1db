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

use redis::AsyncCommands;
use serde_json::{Map, Value};

use super::{StorageError, Store};
use crate::config::SessionConfig;
use crate::models::{Session, SessionWithUser, Timestamp, User};
use crate::secondary_storage::Redis;

type Result<T> = std::result::Result<T, StorageError>;

/// Shared by both scripts: the list's live entries and how to store it back. Entries that
/// do not parse are dropped, as upstream's `safeJSONParse` would.
const LIST_FUNCTIONS: &str = r#"
local function live_entries(key, now, skip)
  local out = {}
  local raw = redis.call('GET', key)
  if not raw then return out end
  local ok, list = pcall(cjson.decode, raw)
  if not ok or type(list) ~= 'table' then return out end
  for _, e in ipairs(list) do
    if type(e) == 'table' and type(e.token) == 'string' then
      local exp = tonumber(e.expiresAt)
      if exp and exp > now and not skip[e.token] then
        table.insert(out, {token = e.token, expiresAt = exp})
      end
    end
  end
  return out
end
local function save_list(key, list, now)
  if #list == 0 then redis.call('DEL', key) return end
  table.sort(list, function(a, b) return a.expiresAt < b.expiresAt end)
  local ttl = math.floor((list[#list].expiresAt - now) / 1000)
  if ttl > 0 then
    redis.call('SET', key, cjson.encode(list), 'EX', ttl)
  else
    redis.call('DEL', key)
  end
end
"#;

/// KEYS: session key, list key. ARGV: value, token, expiresAt ms, now ms, "1" to write only
/// over a session that still exists (refresh). Returns 1 when written.
const PUT: &str = r#"
local now = tonumber(ARGV[4])
local exp = tonumber(ARGV[3])
if ARGV[5] == '1' and redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local ttl = math.floor((exp - now) / 1000)
if ttl <= 0 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ttl)
local list = live_entries(KEYS[2], now, {[ARGV[2]] = true})
table.insert(list, {token = ARGV[2], expiresAt = exp})
save_list(KEYS[2], list, now)
return 1
"#;

/// KEYS: list key, revoked-before key. ARGV: now ms, key prefix, "only" or "except",
/// revoked-before ms ("" for none) and its TTL, tokens. Deletes the named sessions ("only")
/// or every listed session but the named ones ("except"); with a revoked-before time, keeps
/// the later of it and the stored one. The session keys are built here from the list, so
/// this needs one Redis (not a cluster).
const REMOVE: &str = r#"
local now = tonumber(ARGV[1])
local prefix = ARGV[2]
local only = ARGV[3] == 'only'
local revoked = tonumber(ARGV[4])
if revoked then
  local before = tonumber(redis.call('GET', KEYS[2]) or '') or 0
  if before > revoked then revoked = before end
  redis.call('SET', KEYS[2], string.format('%d', revoked), 'EX', tonumber(ARGV[5]))
end
local named = {}
for i = 6, #ARGV do named[ARGV[i]] = true end
local keep = {}
for _, e in ipairs(live_entries(KEYS[1], now, {})) do
  if (only and named[e.token]) or (not only and not named[e.token]) then
    redis.call('DEL', prefix .. e.token)
  else
    table.insert(keep, e)
  end
end
if only then
  for token, _ in pairs(named) do redis.call('DEL', prefix .. token) end
end
save_list(KEYS[1], keep, now)
return #keep
"#;

/// KEYS: session key. ARGV: key prefix. The stored value and, when it names a user, that
/// user's revoked-before time: one round trip per lookup.
const FIND: &str = r#"
local value = redis.call('GET', KEYS[1])
if not value then return {} end
local ok, stored = pcall(cjson.decode, value)
if ok and type(stored) == 'table' and type(stored.session) == 'table'
    and type(stored.session.userId) == 'string' then
  local before = redis.call('GET', ARGV[1] .. 'revoked-sessions-before-' .. stored.session.userId)
  if before then return {value, before} end
end
return {value}
"#;

/// The one session-storage interface of the endpoints.
#[derive(Clone)]
pub struct SessionStore {
    store: Store,
    redis: Option<RedisSessions>,
}

#[derive(Clone)]
struct RedisSessions {
    redis: Redis,
    /// Upstream's `session.storeSessionInDatabase`: rows are written too, and read when a
    /// token is not in Redis.
    in_database: bool,
    /// How long a revoked-before mark is kept (upstream: the longer of a session's life and
    /// a day).
    revoked_ttl: i64,
    put: redis::Script,
    remove: redis::Script,
    find: redis::Script,
}

impl SessionStore {
    pub fn new(store: Store, redis: Option<Redis>, config: &SessionConfig) -> Self {
        let redis = redis.map(|redis| RedisSessions {
            redis,
            in_database: config.store_session_in_database,
            revoked_ttl: config.expires_in.max(86_400),
            put: redis::Script::new(&format!("{LIST_FUNCTIONS}{PUT}")),
            remove: redis::Script::new(&format!("{LIST_FUNCTIONS}{REMOVE}")),
            find: redis::Script::new(FIND),
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

    /// Extends a session; false when it no longer exists.
    pub async fn refresh(
        &self,
        token: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<bool> {
        let result = self.refresh_stored(token, expires_at, now).await;
        // Also after a failure: part of the write may have happened.
        self.session_changed(token);
        result
    }

    /// Writes declared session fields (update-session); false when the session is gone.
    pub async fn update_fields(
        &self,
        token: &str,
        fields: &Map<String, Value>,
        now: Timestamp,
    ) -> Result<bool> {
        let result = self.update_fields_stored(token, fields, now).await;
        // Also after a failure: part of the write may have happened.
        self.session_changed(token);
        result
    }

    /// Signs one session out.
    pub async fn delete(&self, token: &str) -> Result<()> {
        let result = self.delete_stored(token).await;
        // Also after a failure: part of the write may have happened.
        self.session_changed(token);
        result
    }

    /// Deletes the session with `token` only if it belongs to `user_id`.
    pub async fn delete_of_user(&self, token: &str, user_id: &str) -> Result<()> {
        let result = self.delete_of_user_stored(token, user_id).await;
        // Also after a failure: part of the write may have happened.
        self.session_changed(token);
        result
    }

    /// Signs a user out everywhere.
    pub async fn delete_all_of_user(&self, user_id: &str) -> Result<()> {
        let result = self.delete_all_of_user_stored(user_id).await;
        // Also after a failure: part of the write may have happened.
        self.user_sessions_changed(user_id);
        result
    }

    /// After a transaction that deleted a user's session rows (password reset, delete-user,
    /// change-password): the Redis copies of sessions created before `before` go too.
    pub async fn forget_user(&self, user_id: &str, before: Timestamp) -> Result<()> {
        let result = self.forget_user_stored(user_id, before).await;
        // Also after a failure: part of the write may have happened.
        self.user_sessions_changed(user_id);
        result
    }

    /// Signs a user out everywhere except the session with `keep_token`.
    pub async fn delete_others(&self, user_id: &str, keep_token: &str) -> Result<()> {
        let result = self.delete_others_stored(user_id, keep_token).await;
        // Also after a failure: part of the write may have happened.
        self.user_sessions_changed(user_id);
        result
    }

    /// Extends a session; false when it no longer exists.
    async fn refresh_stored(
        &self,
        token: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<bool> {
        let in_db = self.in_database()
            && self
                .store
                .session_rows()
                .refresh(token, expires_at, now)
                .await?;
        let Some(r) = &self.redis else {
            return Ok(in_db);
        };
        let raw = r.get(r.redis.key(token)).await?;
        let Some((found, mut value)) = raw.as_deref().and_then(parse) else {
            return Ok(in_db);
        };
        // Fields a TypeScript server added (plugins' session columns) are kept.
        if let Some(s) = value.get_mut("session").and_then(Value::as_object_mut) {
            s.insert("expiresAt".into(), expires_at.to_iso().into());
            s.insert("updatedAt".into(), now.to_iso().into());
        }
        let written = r
            .run_put(
                &value.to_string(),
                token,
                &found.session.user_id,
                expires_at,
                true,
            )
            .await?;
        Ok(written || in_db)
    }

    /// Writes declared session fields (update-session); false when the session is gone.
    async fn update_fields_stored(
        &self,
        token: &str,
        fields: &Map<String, Value>,
        now: Timestamp,
    ) -> Result<bool> {
        let in_db = self.in_database()
            && self
                .store
                .session_rows()
                .update_fields(token, fields, now)
                .await?;
        let Some(r) = &self.redis else {
            return Ok(in_db);
        };
        let raw = r.get(r.redis.key(token)).await?;
        let Some((found, mut value)) = raw.as_deref().and_then(parse) else {
            return Ok(in_db);
        };
        if let Some(s) = value.get_mut("session").and_then(Value::as_object_mut) {
            s.extend(fields.clone());
            s.insert("updatedAt".into(), now.to_iso().into());
        }
        let written = r
            .run_put(
                &value.to_string(),
                token,
                &found.session.user_id,
                found.session.expires_at,
                true,
            )
            .await?;
        Ok(written || in_db)
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
        self.forget_user(user_id, Timestamp::now()).await
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
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not update the user kept with their sessions");
        }
    }
}

impl RedisSessions {
    /// Fields of the stored user that we do not model (a TypeScript server's plugin columns)
    /// are kept.
    async fn rewrite_user(&self, user: &User) -> Result<()> {
        for token in self.listed_tokens(&user.id, Timestamp::now()).await? {
            let key = self.redis.key(&token);
            let raw = self.get(key.clone()).await?;
            let Some((_, mut value)) = raw.as_deref().and_then(parse) else {
                continue;
            };
            let mut merged = value
                .get("user")
                .cloned()
                .unwrap_or_else(|| Value::Object(Default::default()));
            if let (Some(old), Value::Object(new)) = (
                merged.as_object_mut(),
                serde_json::to_value(user).unwrap_or_default(),
            ) {
                old.extend(new);
            }
            value["user"] = merged;
            // XX: a session signed out meanwhile stays signed out; KEEPTTL: same expiry.
            let mut set = redis::cmd("SET");
            set.arg(&key)
                .arg(value.to_string())
                .arg("XX")
                .arg("KEEPTTL");
            let _: Option<String> = self.command(set).await?;
        }
        Ok(())
    }

    // Every Redis call goes through `Redis::run` (its circuit breaker).
    async fn get(&self, key: String) -> Result<Option<String>> {
        Ok(self
            .redis
            .run(|mut c| async move { c.get(key).await })
            .await?)
    }

    async fn command<T: redis::FromRedisValue>(&self, cmd: redis::Cmd) -> Result<T> {
        Ok(self
            .redis
            .run(|mut c| async move { cmd.query_async(&mut c).await })
            .await?)
    }

    async fn invoke<T: redis::FromRedisValue>(
        &self,
        call: redis::ScriptInvocation<'_>,
    ) -> Result<T> {
        Ok(self
            .redis
            .run(|mut c| async move { call.invoke_async(&mut c).await })
            .await?)
    }

    fn list_key(&self, user_id: &str) -> String {
        self.redis.key(&format!("active-sessions-{user_id}"))
    }

    async fn put(&self, session: &Session, user: &User) -> Result<()> {
        let value = serde_json::json!({ "session": session, "user": user }).to_string();
        self.run_put(
            &value,
            &session.token,
            &session.user_id,
            session.expires_at,
            false,
        )
        .await?;
        Ok(())
    }

    async fn run_put(
        &self,
        value: &str,
        token: &str,
        user_id: &str,
        expires_at: Timestamp,
        only_existing: bool,
    ) -> Result<bool> {
        let mut call = self.put.key(self.redis.key(token));
        call.key(self.list_key(user_id))
            .arg(value)
            .arg(token)
            .arg(expires_at.millis())
            .arg(Timestamp::now().millis())
            .arg(if only_existing { "1" } else { "0" });
        let written: i64 = self.invoke(call).await?;
        Ok(written == 1)
    }

    fn revoked_key(&self, user_id: &str) -> String {
        self.redis
            .key(&format!("revoked-sessions-before-{user_id}"))
    }

    /// `only`: delete the named tokens; otherwise every listed token but the named ones.
    /// `revoked_before`: also mark every session of the user created before it as revoked.
    async fn remove(
        &self,
        user_id: &str,
        only: bool,
        tokens: &[&str],
        revoked_before: Option<Timestamp>,
    ) -> Result<()> {
        let mut call = self.remove.key(self.list_key(user_id));
        call.key(self.revoked_key(user_id))
            .arg(Timestamp::now().millis())
            .arg(self.redis.key(""))
            .arg(if only { "only" } else { "except" })
            .arg(
                revoked_before
                    .map(|t| t.millis().to_string())
                    .unwrap_or_default(),
            )
            .arg(self.revoked_ttl);
        for token in tokens {
            call.arg(*token);
        }
        let _: i64 = self.invoke(call).await?;
        Ok(())
    }

    /// The tokens of upstream's `active-sessions-<userId>` list that have not expired.
    async fn listed_tokens(&self, user_id: &str, now: Timestamp) -> Result<Vec<String>> {
        #[derive(serde::Deserialize)]
        struct Entry {
            token: String,
            #[serde(rename = "expiresAt")]
            expires_at: f64,
        }
        let raw = self.get(self.list_key(user_id)).await?;
        let entries: Vec<Entry> = raw
            .and_then(|r| serde_json::from_str(&r).ok())
            .unwrap_or_default();
        let mut tokens: Vec<String> = Vec::new();
        for e in entries {
            if e.expires_at > now.millis() as f64 && !tokens.contains(&e.token) {
                tokens.push(e.token);
            }
        }
        Ok(tokens)
    }
}

/// Upstream 1.7.25: a session created before the user's revoked-before time is revoked.
fn revoked(session: &Session, revoked_before: Option<f64>) -> bool {
    revoked_before.is_some_and(|before| (session.created_at.millis() as f64) < before)
}

/// A stored `{session, user}`, typed and as JSON (to keep fields we do not model). A value
/// that does not parse counts as no session, as upstream's `safeJSONParse`.
fn parse(raw: &str) -> Option<(SessionWithUser, Value)> {
    let value: Value = serde_json::from_str(raw).ok()?;
    let typed = serde_json::from_value(value.clone()).ok()?;
    Some((typed, value))
}
