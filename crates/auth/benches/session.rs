//! The get-session path without HTTP: verify the cookie, then read session + user in one
//! query. SQLite in a temp dir, PostgreSQL when TEST_DATABASE_URL is set, and sessions in
//! Redis when one answers at 127.0.0.1:6379 (keys under a random prefix, deleted after).
//!
//!     cargo bench -p better-auth-server --bench session

#![allow(
    clippy::expect_used,
    reason = "a benchmark that cannot set up has nothing to measure"
)]

use better_auth_server::config::{RedisConfig, SessionConfig};
use better_auth_server::crypto::{random, signing};
use better_auth_server::models::{Session, Timestamp, User};
use better_auth_server::secondary_storage::Redis;
use better_auth_server::store::session_storage::SessionStore;
use better_auth_server::store::Store;
use criterion::{criterion_group, criterion_main, Criterion};
use sea_orm::ConnectionTrait;

const SECRET: &str = "bench-secret-0123456789abcdef0123456789";

/// Sessions (in the table, or in `redis`) with one user and one session; returns the signed
/// cookie value.
async fn seeded(url: &str, redis: Option<Redis>) -> (SessionStore, String) {
    let db = better_auth_server::store::connect(url)
        .await
        .expect("connect");
    <migration::Migrator as migration::MigratorTrait>::up(&db, None)
        .await
        .expect("migrate");
    let store = Store::new(db).await.expect("store");
    let now = Timestamp::now();
    let user_id = random::id();
    let user = User {
        id: user_id.clone(),
        extra: Default::default(),
        hidden: Default::default(),
        name: "Bench".into(),
        email: format!("{user_id}@example.com").to_lowercase(),
        email_verified: false,
        image: None,
        created_at: now,
        updated_at: now,
    };
    let b = if store.backend() == sea_orm::DbBackend::Sqlite {
        "0"
    } else {
        "false"
    };
    store
        .connection()
        .execute_unprepared(&format!(
            "insert into \"user\" (\"id\", \"name\", \"email\", \"emailVerified\", \"createdAt\", \"updatedAt\")
             values ('{}', 'Bench', '{}', {b}, '{}', '{}')",
            user.id,
            user.email,
            now.to_iso(),
            now.to_iso()
        ))
        .await
        .expect("seed user");
    let session = Session {
        id: random::id(),
        extra: Default::default(),
        hidden: Default::default(),
        token: random::session_token(),
        expires_at: now.plus_seconds(7 * 86_400),
        created_at: now,
        updated_at: now,
        ip_address: Some(String::new()),
        user_agent: Some(String::new()),
        user_id,
    };
    let config = SessionConfig {
        expires_in: 604_800,
        update_age: 86_400,
        disable_refresh: false,
        defer_refresh: false,
        fresh_age: 86_400,
        store_session_in_database: false,
        memory_cache: better_auth_server::store::session_cache::CacheSettings {
            enabled: false,
            max_entries: 1,
            ttl: std::time::Duration::from_secs(1),
        },
        cookie_cache: better_auth_server::config::CookieCacheConfig {
            enabled: false,
            max_age: 300,
            strategy: better_auth_server::config::CookieCacheStrategy::Compact,
            version: "1".into(),
            refresh_update_age: None,
        },
    };
    let sessions = SessionStore::new(store, redis, &config);
    sessions
        .create(&session, &user)
        .await
        .expect("seed session");
    (sessions, signing::sign(SECRET, &session.token))
}

fn lookup(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut targets = vec![(
        "SQLite",
        format!("sqlite://{}/bench.db?mode=rwc", dir.path().display()),
    )];
    if let Ok(url) = std::env::var("TEST_DATABASE_URL") {
        let schema = format!("bench_{}", random::id().to_lowercase());
        runtime.block_on(async {
            let admin = sea_orm::Database::connect(&url).await.expect("connect");
            admin
                .execute_unprepared(&format!("create schema {schema}"))
                .await
                .expect("schema");
        });
        let sep = if url.contains('?') { '&' } else { '?' };
        targets.push((
            "PostgreSQL",
            format!("{url}{sep}options=-c%20search_path%3D{schema}"),
        ));
    }
    let prefix = format!("bench-{}:", random::id().to_lowercase());
    let redis = runtime.block_on(async {
        let config = RedisConfig {
            url: "redis://127.0.0.1:6379".into(),
            prefix: prefix.clone(),
            ca_file: None,
        };
        tokio::time::timeout(std::time::Duration::from_secs(3), Redis::connect(&config))
            .await
            .ok()
            .and_then(Result::ok)
    });
    let mut targets: Vec<(&str, String, Option<Redis>)> =
        targets.into_iter().map(|(n, u)| (n, u, None)).collect();
    if let Some(redis) = &redis {
        targets.push((
            "Redis",
            format!("sqlite://{}/redis.db?mode=rwc", dir.path().display()),
            Some(redis.clone()),
        ));
    }
    for (name, url, redis) in targets {
        let (sessions, cookie) = runtime.block_on(seeded(&url, redis));
        c.bench_function(
            &format!("get-session lookup: cookie + session/user read ({name})"),
            |b| {
                b.iter(|| {
                    runtime.block_on(async {
                        let token = signing::verify(SECRET, &cookie).expect("signed");
                        sessions.find(token).await.expect("read").expect("found")
                    })
                })
            },
        );
    }

    if let Some(redis) = redis {
        // Only this run's keys (the shared Redis is not ours to flush).
        runtime.block_on(async {
            let mut conn = redis.connection();
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(format!("{prefix}*"))
                .query_async(&mut conn)
                .await
                .unwrap_or_default();
            for key in keys {
                let _: redis::RedisResult<i64> =
                    redis::cmd("DEL").arg(key).query_async(&mut conn).await;
            }
        });
    }
}

criterion_group!(benches, lookup);
criterion_main!(benches);
