//! The plugins' and additional fields' schema against what upstream's migrator writes
//! (DDL captured from better-auth 1.7.29 with the same plugins and fields,
//! `tests/fixtures/better-auth-1.7.29-plugins.*.sql`), and the plugin migrations through the
//! command line: status, down, enabling a plugin later, a database the TypeScript server
//! already migrated.

use better_auth_server::config::{Config, ConfigArgs};
use better_auth_server::schema;
use migration::{Migrator, MigratorTrait};

use crate::compat::{describe_tables, run_ddl, POSTGRES_DDL, RATE_LIMIT_DDL, SQLITE_DDL};
use crate::harness::{fresh_database_url, Backend, SECRET};
use crate::on_both_databases;

const PLUGINS_SQLITE: &str = include_str!("../fixtures/better-auth-1.7.29-plugins.sqlite.sql");
const PLUGINS_POSTGRES: &str = include_str!("../fixtures/better-auth-1.7.29-plugins.postgres.sql");

/// The fields the fixtures were captured with, as our TOML says them.
pub const FIELDS_TOML: &str = r#"
[plugins.last_login_method]
store_in_database = true

[user.additional_fields.plan]
type = "string"
required = false
default = "free"
[user.additional_fields.age]
type = "number"
required = false
[user.additional_fields.newsletter]
type = "boolean"
required = false
default = false
[user.additional_fields.birthday]
type = "date"
required = false
[user.additional_fields.prefs]
type = "json"
required = false
[user.additional_fields.tags]
type = "string[]"
required = false
[user.additional_fields.scores]
type = "number[]"
required = false
[user.additional_fields.code]
type = "string"
unique = true
required = false
[user.additional_fields.secretNote]
type = "string"
input = false
required = false
returned = false
[user.additional_fields.must]
type = "string"
required = true
default = "m"
[user.additional_fields.big]
type = "number"
bigint = true
required = false
[user.additional_fields.idx]
type = "string"
required = false
index = true

[session.additional_fields.device]
type = "string"
required = false
"#;

const PLUGINS: &str = "username,anonymous,multi-session,one-time-token,last-login-method";
const TABLES: [&str; 2] = ["user", "session"];

fn config(dir: &std::path::Path, url: &str, plugins: &str, toml: &str) -> Config {
    let file = dir.join("auth.toml");
    std::fs::write(&file, toml).unwrap();
    Config::load(&ConfigArgs {
        config: Some(file),
        data_dir: Some(dir.to_owned()),
        database_url: Some(url.to_owned()),
        secret: Some(SECRET.into()),
        plugins: Some(plugins.into()),
        ..ConfigArgs::default()
    })
    .unwrap()
}

async fn upstream_database(
    b: Backend,
    dir: &std::path::Path,
) -> Option<sea_orm::DatabaseConnection> {
    let url = fresh_database_url(b, dir).await?;
    let db = better_auth_server::store::connect(&url).await.unwrap();
    let (core, plugins) = match b {
        Backend::Sqlite => (SQLITE_DDL, PLUGINS_SQLITE),
        Backend::Postgres => (POSTGRES_DDL, PLUGINS_POSTGRES),
    };
    run_ddl(&db, core).await;
    run_ddl(&db, RATE_LIMIT_DDL).await;
    run_ddl(&db, plugins).await;
    Some(db)
}

async fn plugin_columns_match_upstream(b: Backend) {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let Some(upstream) = upstream_database(b, dir_a.path()).await else {
        return;
    };
    let url = fresh_database_url(b, dir_b.path()).await.unwrap();
    let config = config(dir_b.path(), &url, PLUGINS, FIELDS_TOML);
    let ours = better_auth_server::open_database(&config, true)
        .await
        .unwrap();
    let expected = describe_tables(&upstream, &TABLES).await;
    assert!(
        expected.iter().any(|l| l.contains("displayUsername")),
        "{expected:#?}"
    );
    assert_eq!(describe_tables(&ours, &TABLES).await, expected);

    // On the database the TypeScript server migrated: nothing changes, nothing fails.
    let upstream_url = match b {
        Backend::Sqlite => format!("sqlite://{}/auth.db?mode=rwc", dir_a.path().display()),
        Backend::Postgres => {
            // The same schema through our own connection.
            upstream_search_path_url(&upstream).await
        }
    };
    let on_upstream = config_for(dir_a.path(), &upstream_url);
    better_auth_server::open_database(&on_upstream, true)
        .await
        .unwrap();
    assert_eq!(describe_tables(&upstream, &TABLES).await, expected);
}

fn config_for(dir: &std::path::Path, url: &str) -> Config {
    config(dir, url, PLUGINS, FIELDS_TOML)
}

/// `TEST_DATABASE_URL` with the connection's current schema as search path.
async fn upstream_search_path_url(db: &sea_orm::DatabaseConnection) -> String {
    use sea_orm::{ConnectionTrait, Statement};
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "select current_schema() as s",
        ))
        .await
        .unwrap()
        .unwrap();
    let schema: String = row.try_get("", "s").unwrap();
    let base = crate::harness::postgres_url().unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-c%20search_path%3D{schema}")
}

/// Plugins enabled one at a time, as a deployment adds them: each start adds its columns,
/// `status` lists them, `down` undoes them newest first, disabling one drops nothing.
async fn plugin_migrations_up_status_down(b: Backend) {
    use sea_orm::ConnectionTrait;
    let dir = tempfile::tempdir().unwrap();
    let Some(url) = fresh_database_url(b, dir.path()).await else {
        return;
    };
    let core = config(dir.path(), &url, "", "");
    let db = better_auth_server::open_database(&core, true)
        .await
        .unwrap();
    let columns = |db: sea_orm::DatabaseConnection| async move {
        describe_tables(&db, &["user"])
            .await
            .into_iter()
            .filter(|l| l.starts_with("col "))
            .count()
    };
    let bare = columns(db.clone()).await;
    let username = config(dir.path(), &url, "username", "");
    better_auth_server::open_database(&username, true)
        .await
        .unwrap();
    assert_eq!(columns(db.clone()).await, bare + 2);
    let both = config(dir.path(), &url, "username,anonymous", "");
    better_auth_server::open_database(&both, true)
        .await
        .unwrap();
    assert_eq!(columns(db.clone()).await, bare + 3);
    let migrations = both.plugins.migrations();
    let status = schema::migrate::status(&db, &migrations).await.unwrap();
    let names: Vec<(&str, bool)> = status
        .iter()
        .map(|s| (s.name.as_str(), s.applied))
        .collect();
    assert_eq!(
        names,
        [
            ("plugin_username_0001", true),
            ("plugin_anonymous_0001", true)
        ]
    );
    // Disabling a plugin drops nothing.
    better_auth_server::open_database(&core, true)
        .await
        .unwrap();
    assert_eq!(columns(db.clone()).await, bare + 3);
    // Down: anonymous first, then username; the core stays.
    assert_eq!(schema::migrate::down(&db, &migrations, 1).await.unwrap(), 1);
    assert_eq!(columns(db.clone()).await, bare + 2);
    assert_eq!(schema::migrate::down(&db, &migrations, 5).await.unwrap(), 1);
    assert_eq!(columns(db.clone()).await, bare);
    assert!(Migrator::get_pending_migrations(&db)
        .await
        .unwrap()
        .is_empty());
    db.execute_unprepared(r#"select "id" from "user""#)
        .await
        .unwrap();
}

/// A plugin migration whose second step fails leaves nothing of itself behind on SQLite
/// (whose column names ignore case, so `DISPLAYUSERNAME` makes adding `displayUsername`
/// fail after `username` was added), and applies whole once the obstacle is gone.
#[tokio::test]
async fn a_failed_plugin_migration_leaves_nothing_half_applied() {
    use sea_orm::ConnectionTrait;
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database_url(Backend::Sqlite, dir.path())
        .await
        .unwrap();
    let db = better_auth_server::open_database(&config(dir.path(), &url, "", ""), true)
        .await
        .unwrap();
    db.execute_unprepared(r#"alter table "user" add column "DISPLAYUSERNAME" text"#)
        .await
        .unwrap();
    let user_columns = |db: sea_orm::DatabaseConnection| async move {
        describe_tables(&db, &["user"])
            .await
            .into_iter()
            .filter(|l| l.starts_with("col "))
            .collect::<Vec<_>>()
    };
    let before = user_columns(db.clone()).await;
    let username = config(dir.path(), &url, "username", "");
    assert!(better_auth_server::open_database(&username, true)
        .await
        .is_err());
    assert_eq!(user_columns(db.clone()).await, before);
    let status = schema::migrate::status(&db, &username.plugins.migrations())
        .await
        .unwrap();
    assert!(status.iter().all(|s| !s.applied), "{status:?}");

    db.execute_unprepared(r#"alter table "user" drop column "DISPLAYUSERNAME""#)
        .await
        .unwrap();
    better_auth_server::open_database(&username, true)
        .await
        .unwrap();
    assert_eq!(user_columns(db.clone()).await.len(), before.len() + 1);
}

/// Every pooled SQLite connection the server is handed knows the columns the migration
/// just added. A connection opened before it keeps the schema it loaded: SQLite then
/// prepares `"username"` as a string literal and sqlx keeps the result column named
/// `"username"` (quotes included) even after SQLite re-prepares the statement, so the
/// value read by name is missing (the user answered `username: null` now and then).
#[tokio::test]
async fn every_pooled_connection_sees_the_migrated_columns() {
    use sea_orm::{ConnectionTrait, TransactionTrait};
    for _ in 0..10 {
        let dir = tempfile::tempdir().unwrap();
        let url = fresh_database_url(Backend::Sqlite, dir.path())
            .await
            .unwrap();
        let username = config(dir.path(), &url, "username", "");
        let db = better_auth_server::open_database(&username, true)
            .await
            .unwrap();
        // Hold several connections at once so that the pool hands out every one it has.
        let mut held = Vec::new();
        for _ in 0..8 {
            let tx = db.begin().await.unwrap();
            let stmt = sea_orm::Statement::from_string(
                tx.get_database_backend(),
                r#"select "id", "username" from "user" union all select 1, 2"#,
            );
            let row = tx.query_one_raw(stmt).await.unwrap().unwrap();
            assert_eq!(row.column_names(), ["id", "username"]);
            held.push(tx);
        }
        for tx in held {
            tx.rollback().await.unwrap();
        }
        db.close().await.unwrap();
    }
}

/// Configuration errors name the key.
#[test]
fn unknown_plugins_and_options_are_errors_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let load = |plugins: &str, toml: &str| {
        let file = dir.path().join("auth.toml");
        std::fs::write(&file, toml).unwrap();
        Config::load(&ConfigArgs {
            config: Some(file),
            data_dir: Some(dir.path().to_owned()),
            secret: Some(SECRET.into()),
            plugins: Some(plugins.into()),
            ..ConfigArgs::default()
        })
        .map(|c| c.plugins.ids())
        .map_err(|e| e.to_string())
    };
    let err = load("username,nope", "").unwrap_err();
    assert!(
        err.contains("BETTER_AUTH_PLUGINS") && err.contains("nope"),
        "{err}"
    );
    let err = load("", "[plugins.username]\nmin_length = 2\n").unwrap_err();
    assert!(
        err.contains("plugins.username") && err.contains("min_length"),
        "{err}"
    );
    let err = load("", "[plugins.nope]\n").unwrap_err();
    assert!(err.contains("plugins") && err.contains("nope"), "{err}");
    let err = load("", "[user.additional_fields.age]\ntype = \"integer\"\n").unwrap_err();
    assert!(err.contains("user.additional_fields.age"), "{err}");
    assert_eq!(load("", "").unwrap(), ["jwt", "bearer"]);
    assert_eq!(
        load(
            "multi_session, Username",
            "[plugins.jwt]\nenabled = false\n"
        )
        .unwrap(),
        ["bearer", "username", "multi-session"]
    );
    assert_eq!(
        load(
            "",
            "[plugins.anonymous]\nemail_domain_name = \"example.com\"\n"
        )
        .unwrap(),
        ["jwt", "bearer", "anonymous"]
    );
}

on_both_databases!(
    plugin_columns_match_upstream,
    plugin_migrations_up_status_down
);
