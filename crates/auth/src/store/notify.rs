//! Session-cache invalidations between replicas: PostgreSQL `LISTEN`/`NOTIFY`, or Redis
//! pub/sub when `REDIS_URL` is set. SQLite has one process: nothing to send.
//!
//! A message is `<scope>|<replica>|<invalidation>`: the scope (the PostgreSQL schema, or
//! the Redis key prefix) keeps deployments sharing one server apart, and a replica skips
//! its own messages (it applied them already). Each process has one listening connection,
//! reconnected after a failure; the cache is flushed after every reconnect because
//! notifications sent meanwhile are lost.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use tokio::sync::mpsc;

use super::session_cache::{Invalidation, SessionCache};
use crate::secondary_storage::Redis;

/// The Redis channel (after the key prefix).
pub const CHANNEL: &str = "better_auth_session_cache";

/// The PostgreSQL channel of a schema: deployments in other schemas of the same database
/// neither hear nor wake each other.
pub fn pg_channel(schema: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = hex::encode(Sha256::digest(schema.as_bytes()));
    format!("{CHANNEL}_{}", &digest[..16])
}

/// How a process reaches the others.
pub enum Transport {
    Postgres(DatabaseConnection),
    Redis(Redis),
}

/// Starts sending and receiving invalidations for `cache`; returns it shared. The cache
/// stores nothing until the listener is connected (waited for here, up to two seconds).
pub async fn start(mut cache: SessionCache, transport: Transport) -> Arc<SessionCache> {
    let (outbox, inbox) = mpsc::unbounded_channel();
    cache.send_to(outbox);
    let cache = Arc::new(cache);
    let replica = crate::crypto::random::id();
    match transport {
        Transport::Postgres(db) => {
            let scope = current_schema(&db).await;
            tokio::spawn(send_postgres(
                db.clone(),
                inbox,
                scope.clone(),
                replica.clone(),
            ));
            tokio::spawn(listen_postgres(db, cache.clone(), scope, replica));
        }
        Transport::Redis(redis) => {
            let scope = redis.key("");
            tokio::spawn(send_redis(
                redis.clone(),
                inbox,
                scope.clone(),
                replica.clone(),
            ));
            tokio::spawn(listen_redis(redis, cache.clone(), scope, replica));
        }
    }
    let started = std::time::Instant::now();
    while !cache.is_hearing() && started.elapsed() < Duration::from_secs(2) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    cache
}

async fn current_schema(db: &DatabaseConnection) -> String {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "select current_schema()::text as s",
        ))
        .await;
    match row {
        Ok(Some(r)) => r.try_get::<String>("", "s").unwrap_or_default(),
        _ => String::new(),
    }
}

/// `scope|replica|message`, or `None` for another scope's or our own message.
fn parse(payload: &str, scope: &str, replica: &str) -> Option<Invalidation> {
    let mut parts = payload.splitn(3, '|');
    let (s, r, m) = (parts.next()?, parts.next()?, parts.next()?);
    (s == scope && r != replica).then(|| Invalidation::decode(m))?
}

async fn send_postgres(
    db: DatabaseConnection,
    mut inbox: mpsc::UnboundedReceiver<Invalidation>,
    scope: String,
    replica: String,
) {
    let channel = pg_channel(&scope);
    while let Some(what) = inbox.recv().await {
        let payload = format!("{scope}|{replica}|{}", what.encode());
        let notify = Statement::from_sql_and_values(
            DbBackend::Postgres,
            "select pg_notify($1, $2)",
            [channel.as_str().into(), payload.into()],
        );
        if let Err(e) = db.execute_raw(notify).await {
            // The others keep the entry until its TTL: said loudly, not hidden.
            tracing::warn!(error = %e, "could not notify the other replicas of a session change");
        }
    }
}

async fn listen_postgres(
    db: DatabaseConnection,
    cache: Arc<SessionCache>,
    scope: String,
    replica: String,
) {
    use sea_orm::sqlx::postgres::PgListener;
    let pool = db.get_postgres_connection_pool().clone();
    loop {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "session cache: cannot listen for invalidations; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Err(e) = listener.listen(&pg_channel(&scope)).await {
            tracing::warn!(error = %e, "session cache: LISTEN failed; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        cache.set_hearing(true);
        loop {
            match listener.try_recv().await {
                Ok(Some(n)) => {
                    if let Some(what) = parse(n.payload(), &scope, &replica) {
                        cache.received(&what);
                    }
                }
                // The connection was lost: a new listener below, and until it listens
                // nothing is stored (what is held is dropped).
                Ok(None) => {
                    tracing::warn!("session cache: the listening connection was lost; flushed");
                    cache.set_hearing(false);
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "session cache: listening failed; reconnecting");
                    cache.set_hearing(false);
                    break;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn send_redis(
    redis: Redis,
    mut inbox: mpsc::UnboundedReceiver<Invalidation>,
    scope: String,
    replica: String,
) {
    let channel = redis.key(CHANNEL);
    while let Some(what) = inbox.recv().await {
        let payload = format!("{scope}|{replica}|{}", what.encode());
        let mut publish = redis::cmd("PUBLISH");
        publish.arg(&channel).arg(payload);
        let sent: redis::RedisResult<i64> = redis
            .run(|mut c| async move { publish.query_async(&mut c).await })
            .await;
        if let Err(e) = sent {
            tracing::warn!(error = %e, "could not notify the other replicas of a session change");
        }
    }
}

async fn listen_redis(redis: Redis, cache: Arc<SessionCache>, scope: String, replica: String) {
    let channel = redis.key(CHANNEL);
    loop {
        let mut pubsub = match redis.client().get_async_pubsub().await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "session cache: cannot subscribe for invalidations; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Err(e) = pubsub.subscribe(&channel).await {
            tracing::warn!(error = %e, "session cache: SUBSCRIBE failed; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        cache.set_hearing(true);
        let mut messages = pubsub.on_message();
        while let Some(message) = messages.next().await {
            if let Ok(payload) = message.get_payload::<String>() {
                if let Some(what) = parse(&payload, &scope, &replica) {
                    cache.received(&what);
                }
            }
        }
        cache.set_hearing(false);
        tracing::warn!("session cache: the subscription was lost; reconnecting");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_of_other_scopes_and_our_own_are_skipped() {
        assert_eq!(
            parse("public|r2|u:abc", "public", "r1"),
            Some(Invalidation::User("abc".into()))
        );
        assert_eq!(parse("public|r1|u:abc", "public", "r1"), None);
        assert_eq!(parse("other|r2|u:abc", "public", "r1"), None);
        assert_eq!(parse("garbage", "public", "r1"), None);
    }
}
