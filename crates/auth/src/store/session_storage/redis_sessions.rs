//! Sessions in Redis, in upstream's format (see the module above): the Lua scripts that
//! change a user's session list atomically and the reads and writes around them.

use redis::AsyncCommands;
use serde_json::Value;

use super::Result;
use crate::models::{Session, SessionWithUser, Timestamp, User};
use crate::secondary_storage::Redis;

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

#[derive(Clone)]
pub(super) struct RedisSessions {
    pub(super) redis: Redis,
    /// Upstream's `session.storeSessionInDatabase`: rows are written too, and read when a
    /// token is not in Redis.
    pub(super) in_database: bool,
    /// How long a revoked-before mark is kept (upstream: the longer of a session's life and
    /// a day).
    pub(super) revoked_ttl: i64,
    pub(super) put: redis::Script,
    pub(super) remove: redis::Script,
    pub(super) find: redis::Script,
}

impl RedisSessions {
    pub(super) fn new(redis: Redis, in_database: bool, revoked_ttl: i64) -> Self {
        RedisSessions {
            redis,
            in_database,
            revoked_ttl,
            put: redis::Script::new(&format!("{LIST_FUNCTIONS}{PUT}")),
            remove: redis::Script::new(&format!("{LIST_FUNCTIONS}{REMOVE}")),
            find: redis::Script::new(FIND),
        }
    }

    /// Fields of the stored user that we do not model (a TypeScript server's plugin columns)
    /// are kept.
    pub(super) async fn rewrite_user(&self, user: &User) -> Result<()> {
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
    pub(super) async fn get(&self, key: String) -> Result<Option<String>> {
        Ok(self
            .redis
            .run(|mut c| async move { c.get(key).await })
            .await?)
    }

    pub(super) async fn command<T: redis::FromRedisValue>(&self, cmd: redis::Cmd) -> Result<T> {
        Ok(self
            .redis
            .run(|mut c| async move { cmd.query_async(&mut c).await })
            .await?)
    }

    pub(super) async fn invoke<T: redis::FromRedisValue>(
        &self,
        call: redis::ScriptInvocation<'_>,
    ) -> Result<T> {
        Ok(self
            .redis
            .run(|mut c| async move { call.invoke_async(&mut c).await })
            .await?)
    }

    pub(super) fn list_key(&self, user_id: &str) -> String {
        self.redis.key(&format!("active-sessions-{user_id}"))
    }

    pub(super) async fn put(&self, session: &Session, user: &User) -> Result<()> {
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

    /// Rewrites a stored session in place (only if it is still there), keeping the fields
    /// a TypeScript server added; `expires_at` moves its expiry. False when it is gone.
    pub(super) async fn rewrite_session(
        &self,
        token: &str,
        expires_at: Option<Timestamp>,
        edit: impl FnOnce(&mut serde_json::Map<String, Value>),
    ) -> Result<bool> {
        let raw = self.get(self.redis.key(token)).await?;
        let Some((found, mut value)) = raw.as_deref().and_then(parse) else {
            return Ok(false);
        };
        if let Some(session) = value.get_mut("session").and_then(Value::as_object_mut) {
            edit(session);
        }
        let expires_at = expires_at.unwrap_or(found.session.expires_at);
        self.run_put(
            &value.to_string(),
            token,
            &found.session.user_id,
            expires_at,
            true,
        )
        .await
    }

    pub(super) async fn run_put(
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

    pub(super) fn revoked_key(&self, user_id: &str) -> String {
        self.redis
            .key(&format!("revoked-sessions-before-{user_id}"))
    }

    /// `only`: delete the named tokens; otherwise every listed token but the named ones.
    /// `revoked_before`: also mark every session of the user created before it as revoked.
    pub(super) async fn remove(
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
    pub(super) async fn listed_tokens(&self, user_id: &str, now: Timestamp) -> Result<Vec<String>> {
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
pub(super) fn revoked(session: &Session, revoked_before: Option<f64>) -> bool {
    revoked_before.is_some_and(|before| (session.created_at.millis() as f64) < before)
}

/// A stored `{session, user}`, typed and as JSON (to keep fields we do not model). A value
/// that does not parse counts as no session, as upstream's `safeJSONParse`.
pub(super) fn parse(raw: &str) -> Option<(SessionWithUser, Value)> {
    let value: Value = serde_json::from_str(raw).ok()?;
    let typed = serde_json::from_value(value.clone()).ok()?;
    Some((typed, value))
}
