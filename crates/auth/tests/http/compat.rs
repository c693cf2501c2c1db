//! Compatibility with the TypeScript server: its rows, cookies and password hashes work on
//! ours; our stored values use its encodings; our schema is the one its migrator creates.

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use serde_json::{json, Value};

use crate::harness::{fresh_database_url, Backend, TestServer};
use crate::on_both_databases;

const ROWS: &str = include_str!("../fixtures/better-auth-1.7.25-rows.json");
pub(crate) const SQLITE_DDL: &str = include_str!("../fixtures/better-auth-1.7.25.sqlite.sql");
pub(crate) const POSTGRES_DDL: &str = include_str!("../fixtures/better-auth-1.7.25.postgres.sql");
/// Added by upstream's migrator with `rateLimit.storage = "database"`.
pub(crate) const RATE_LIMIT_DDL: &str =
    include_str!("../fixtures/better-auth-1.7.25-ratelimit.sql");

fn sql_literal(backend: DbBackend, column: &str, v: &Value) -> String {
    let is_date = column.ends_with("At");
    match v {
        Value::Null => "null".into(),
        Value::Number(n) if column == "emailVerified" => match backend {
            DbBackend::Sqlite => n.to_string(),
            _ => (n.as_i64() != Some(0)).to_string(),
        },
        Value::Number(n) => n.to_string(),
        Value::String(s) if is_date && backend == DbBackend::Postgres => {
            format!("'{s}'::timestamptz")
        }
        Value::String(s) => format!("'{}'", s.replace('\'', "''")),
        other => panic!("unexpected fixture value {other}"),
    }
}

/// Inserts a fixture row exactly as the TypeScript server wrote it.
async fn insert_row(srv: &TestServer, table: &str, row: &Value) {
    let obj = row.as_object().unwrap();
    let columns: Vec<String> = obj.keys().map(|k| format!("\"{k}\"")).collect();
    let values: Vec<String> = obj
        .iter()
        .map(|(k, v)| sql_literal(srv.backend(), k, v))
        .collect();
    srv.execute(&format!(
        "insert into \"{table}\" ({}) values ({})",
        columns.join(", "),
        values.join(", ")
    ))
    .await;
}

async fn typescript_rows_and_cookie_work_here(b: Backend) {
    let fixture: Value = serde_json::from_str(ROWS).unwrap();
    let secret = fixture["secret"].as_str().unwrap().to_owned();
    let Some(srv) = TestServer::start_with(b, |c| {
        c.secrets = better_auth_server::crypto::secrets::Secrets::single(secret)
    })
    .await
    else {
        return;
    };
    let mut session = fixture["session"].clone();
    // The recorded session has expired by now; only its expiry is moved forward.
    let expires = chrono::Utc::now() + chrono::Duration::days(6);
    session["expiresAt"] = json!(expires.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string());
    insert_row(&srv, "user", &fixture["user"]).await;
    insert_row(&srv, "account", &fixture["account"]).await;
    insert_row(&srv, "session", &session).await;

    let cookie = fixture["cookie"].as_str().unwrap();
    let r = srv.get("/get-session", Some(cookie)).await;
    let body = r.json();
    assert_eq!(
        body["session"]["id"], fixture["session"]["id"],
        "{}",
        r.text
    );
    let user = &body["user"];
    for key in ["id", "name", "email", "image", "createdAt", "updatedAt"] {
        assert_eq!(user[key], fixture["user"][key], "{key}");
    }
    assert_eq!(user["emailVerified"], false);

    // Its scrypt password hash verifies here and is left as it is (the TypeScript server
    // sharing the database must still read it).
    let r = srv
        .post(
            "/sign-in/email",
            json!({"email": "ann@example.com", "password": fixture["password"]}),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let stored = stored_password(&srv, "ann@example.com").await;
    assert_eq!(stored, fixture["account"]["password"].as_str().unwrap());
    srv.stop().await;
}

async fn stored_password(srv: &TestServer, email: &str) -> String {
    let row = srv
        .query_one(&format!(
            "select a.\"password\" as p from \"account\" a join \"user\" u on u.\"id\" = a.\"userId\" where u.\"email\" = '{email}'"
        ))
        .await
        .unwrap();
    row.try_get::<String>("", "p").unwrap()
}

async fn scrypt_hashes_are_upgraded_when_asked(b: Backend) {
    let fixture: Value = serde_json::from_str(ROWS).unwrap();
    let Some(srv) = TestServer::start_with(b, |c| c.password.rehash_on_sign_in = true).await else {
        return;
    };
    let mut user = fixture["user"].clone();
    user["email"] = json!("old@example.com");
    insert_row(&srv, "user", &user).await;
    insert_row(&srv, "account", &fixture["account"]).await;
    let password = fixture["password"].as_str().unwrap();
    let r = srv
        .post(
            "/sign-in/email",
            json!({"email": "old@example.com", "password": password}),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(stored_password(&srv, "old@example.com")
        .await
        .starts_with("$argon2id$"));
    let again = srv
        .post(
            "/sign-in/email",
            json!({"email": "old@example.com", "password": password}),
            None,
        )
        .await;
    assert_eq!(again.status, 200, "the upgraded hash verifies");
    srv.stop().await;
}

async fn hashing_modes(b: Backend) {
    let Some(srv) = TestServer::start(b).await else {
        return;
    };
    srv.sign_up("argon@example.com", "password123").await;
    let h = stored_password(&srv, "argon@example.com").await;
    assert!(h.starts_with("$argon2id$v=19$m=12288,t=3,p=1$"), "{h}");
    srv.stop().await;

    let Some(srv) = TestServer::start_with(b, |c| {
        c.password.hashing = better_auth_server::config::PasswordHashing::Scrypt
    })
    .await
    else {
        return;
    };
    srv.sign_up("scrypt@example.com", "password123").await;
    let h = stored_password(&srv, "scrypt@example.com").await;
    let re = regex::Regex::new("^[0-9a-f]{32}:[0-9a-f]{128}$").unwrap();
    assert!(re.is_match(&h), "Better Auth's scrypt format: {h}");
    let r = srv
        .post(
            "/sign-in/email",
            json!({"email": "scrypt@example.com", "password": "password123"}),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    srv.stop().await;
}

async fn stored_values_use_better_auth_encodings(b: Backend) {
    let Some(srv) = TestServer::start(b).await else {
        return;
    };
    srv.sign_up("enc@example.com", "password123").await;
    match srv.backend() {
        DbBackend::Sqlite => {
            let row = srv
                .query_one(
                    "select typeof(\"emailVerified\") as tb, \"emailVerified\" as b, typeof(\"createdAt\") as td, \
                     \"createdAt\" as d from \"user\"",
                )
                .await
                .unwrap();
            assert_eq!(row.try_get::<String>("", "tb").unwrap(), "integer");
            assert_eq!(row.try_get::<i64>("", "b").unwrap(), 0);
            assert_eq!(row.try_get::<String>("", "td").unwrap(), "text");
            let d = row.try_get::<String>("", "d").unwrap();
            let re = regex::Regex::new(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$").unwrap();
            assert!(re.is_match(&d), "{d}");
            let s = srv
                .query_one(
                    "select typeof(\"expiresAt\") as t, \"ipAddress\" as ip from \"session\"",
                )
                .await
                .unwrap();
            assert_eq!(s.try_get::<String>("", "t").unwrap(), "text");
            assert_eq!(s.try_get::<String>("", "ip").unwrap(), "127.0.0.1");
        }
        _ => {
            let row = srv
                .query_one(
                    "select pg_typeof(\"emailVerified\")::text as tb, pg_typeof(\"createdAt\")::text as td from \"user\"",
                )
                .await
                .unwrap();
            assert_eq!(row.try_get::<String>("", "tb").unwrap(), "boolean");
            assert_eq!(
                row.try_get::<String>("", "td").unwrap(),
                "timestamp with time zone"
            );
        }
    }
    srv.stop().await;
}

const TABLES: [&str; 6] = [
    "user",
    "session",
    "account",
    "verification",
    "jwks",
    "rateLimit",
];

/// Columns, indexes and foreign keys of the six tables, one sorted line each.
async fn describe(db: &DatabaseConnection) -> Vec<String> {
    describe_tables(db, &TABLES).await
}

/// Columns, indexes and foreign keys of these tables, one sorted line each.
pub(crate) async fn describe_tables(db: &DatabaseConnection, tables: &[&str]) -> Vec<String> {
    let backend = db.get_database_backend();
    let mut queries = Vec::new();
    match backend {
        DbBackend::Sqlite => {
            for t in tables {
                queries.push(format!(
                    "select 'col {t} ' || name || ' ' || type || ' ' || \"notnull\" || ' ' || coalesce(dflt_value, '-') || ' ' || pk as line from pragma_table_info('{t}')"
                ));
                queries.push(format!(
                    "select 'idx {t} ' || l.name || ' ' || l.\"unique\" || ' ' || i.name as line from pragma_index_list('{t}') l, pragma_index_info(l.name) i"
                ));
                queries.push(format!(
                    "select 'fk {t} ' || \"from\" || ' ' || \"table\" || '.' || \"to\" || ' ' || on_delete as line from pragma_foreign_key_list('{t}')"
                ));
            }
        }
        _ => {
            let list = tables
                .iter()
                .map(|t| format!("'{t}'"))
                .collect::<Vec<_>>()
                .join(",");
            queries.push(format!(
                "select 'col ' || table_name || ' ' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' || coalesce(column_default, '-') as line \
                 from information_schema.columns where table_schema = current_schema() and table_name in ({list})"
            ));
            queries.push(format!(
                "select 'idx ' || tablename || ' ' || indexname || ' ' || replace(indexdef, current_schema() || '.', '') as line \
                 from pg_indexes where schemaname = current_schema() and tablename in ({list})"
            ));
            queries.push(format!(
                "select 'con ' || c.conrelid::regclass::text || ' ' || c.conname || ' ' || pg_get_constraintdef(c.oid) as line \
                 from pg_constraint c join pg_class t on t.oid = c.conrelid \
                 where c.connamespace = current_schema()::regnamespace and t.relname in ({list})"
            ));
        }
    }
    let mut lines = Vec::new();
    for q in queries {
        for row in db
            .query_all_raw(Statement::from_string(backend, q))
            .await
            .unwrap()
        {
            lines.push(row.try_get::<String>("", "line").unwrap());
        }
    }
    lines.sort();
    lines
}

pub(crate) async fn run_ddl(db: &DatabaseConnection, ddl: &str) {
    let without_comments: String = ddl
        .lines()
        .filter(|l| !l.starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    for stmt in without_comments
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        db.execute_unprepared(stmt)
            .await
            .unwrap_or_else(|e| panic!("{stmt}: {e}"));
    }
}

async fn schema_matches_better_auth(b: Backend) {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let Some(upstream_url) = fresh_database_url(b, dir_a.path()).await else {
        return;
    };
    let ours_url = fresh_database_url(b, dir_b.path()).await.unwrap();
    let upstream = better_auth_server::store::connect(&upstream_url)
        .await
        .unwrap();
    let ours = better_auth_server::store::connect(&ours_url).await.unwrap();
    run_ddl(
        &upstream,
        if b == Backend::Sqlite {
            SQLITE_DDL
        } else {
            POSTGRES_DDL
        },
    )
    .await;
    run_ddl(&upstream, RATE_LIMIT_DDL).await;
    Migrator::up(&ours, None).await.unwrap();
    let (expected, actual) = (describe(&upstream).await, describe(&ours).await);
    assert!(
        expected.len() > 40,
        "introspection found the tables: {expected:#?}"
    );
    assert_eq!(actual, expected);

    // Our migrations on the database Better Auth made: nothing changes, nothing fails.
    Migrator::up(&upstream, None).await.unwrap();
    assert_eq!(describe(&upstream).await, expected);
}

/// A database in the shape older Better Auth versions made (jwks without `alg`/`crv`, as
/// before 1.7, and without `expiresAt`, as before 1.4): `migrate` adds the missing columns,
/// keeps the rows, and ends with exactly the current schema. A missing required column
/// without a default is refused, not invented.
async fn older_better_auth_schema_is_completed(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(url) = fresh_database_url(b, dir.path()).await else {
        return;
    };
    let db = better_auth_server::store::connect(&url).await.unwrap();
    let ddl = if b == Backend::Sqlite {
        SQLITE_DDL
    } else {
        POSTGRES_DDL
    };
    run_ddl(&db, ddl).await;
    run_ddl(&db, RATE_LIMIT_DDL).await;
    let current = describe(&db).await;
    for column in ["crv", "alg", "expiresAt"] {
        db.execute_unprepared(&format!(r#"alter table "jwks" drop column "{column}""#))
            .await
            .unwrap();
    }
    db.execute_unprepared(
        r#"insert into "jwks" ("id", "publicKey", "privateKey", "createdAt") values ('k1', '{}', '"x"', '2025-01-01T00:00:00.000Z')"#,
    )
    .await
    .unwrap();
    Migrator::up(&db, None).await.unwrap();
    assert_eq!(describe(&db).await, current);
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            r#"select "id", "alg" from "jwks""#,
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get::<String>("", "id").unwrap(), "k1");
    assert_eq!(row.try_get::<Option<String>>("", "alg").unwrap(), None);

    // `user.email` is required, unique and has no default: refused with a message.
    let dir2 = tempfile::tempdir().unwrap();
    let url2 = fresh_database_url(b, dir2.path()).await.unwrap();
    let db2 = better_auth_server::store::connect(&url2).await.unwrap();
    db2.execute_unprepared(
        r#"create table "user" ("id" text not null primary key, "name" text not null)"#,
    )
    .await
    .unwrap();
    let err = Migrator::up(&db2, None).await.unwrap_err().to_string();
    assert!(
        err.contains(r#"table "user" has no column "email""#),
        "{err}"
    );
}

on_both_databases!(
    older_better_auth_schema_is_completed,
    typescript_rows_and_cookie_work_here,
    scrypt_hashes_are_upgraded_when_asked,
    hashing_modes,
    stored_values_use_better_auth_encodings,
    schema_matches_better_auth,
);
