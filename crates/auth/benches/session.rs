//! The get-session path without HTTP: verify the cookie, then read session + user in one
//! query. SQLite in a temp dir, and PostgreSQL when TEST_DATABASE_URL is set.
//!
//!     cargo bench -p better-auth-server --bench session

#![allow(
    clippy::expect_used,
    reason = "a benchmark that cannot set up has nothing to measure"
)]

use better_auth_server::crypto::{random, signing};
use better_auth_server::store::Store;
use criterion::{criterion_group, criterion_main, Criterion};
use sea_orm::ConnectionTrait;

const SECRET: &str = "bench-secret-0123456789abcdef0123456789";

/// A store with one user and one session; returns the signed cookie value.
async fn seeded(url: &str) -> (Store, String) {
    let db = better_auth_server::store::connect(url)
        .await
        .expect("connect");
    <migration::Migrator as migration::MigratorTrait>::up(&db, None)
        .await
        .expect("migrate");
    let store = Store::new(db).await.expect("store");
    let (user_id, token) = (random::id(), random::session_token());
    let (now, later) = match store.backend() {
        sea_orm::DbBackend::Sqlite => ("'2026-11-26T00:00:00.000Z'", "'2099-01-01T00:00:00.000Z'"),
        _ => ("now()", "now() + interval '7 days'"),
    };
    let sql = [
        format!("insert into \"user\" values ('{user_id}', 'Bench', '{user_id}@example.com', false, null, {now}, {now})"),
        format!("insert into \"session\" values ('{}', {later}, '{token}', {now}, {now}, '', '', '{user_id}')", random::id()),
    ];
    for s in sql {
        let s = if store.backend() == sea_orm::DbBackend::Sqlite {
            s.replace("false", "0")
        } else {
            s
        };
        store
            .connection()
            .execute_unprepared(&s)
            .await
            .expect("seed");
    }
    (store, signing::sign(SECRET, &token))
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
    for (name, url) in targets {
        let (store, cookie) = runtime.block_on(seeded(&url));
        c.bench_function(
            &format!("get-session lookup: cookie + session/user query ({name})"),
            |b| {
                b.iter(|| {
                    runtime.block_on(async {
                        let token = signing::verify(SECRET, &cookie).expect("signed");
                        store
                            .find_session_with_user(token)
                            .await
                            .expect("query")
                            .expect("found")
                    })
                })
            },
        );
    }
}

criterion_group!(benches, lookup);
criterion_main!(benches);
