//! Starts the real server on a random port against a fresh SQLite file or a fresh
//! PostgreSQL schema, and talks to it over HTTP.

use std::net::TcpListener;

use better_auth_server::config::{Config, ConfigArgs};
use better_auth_server::{build_state, open_database, server};
use reqwest::header::{HeaderMap, CONTENT_TYPE, COOKIE, SET_COOKIE};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use serde_json::Value;

pub const SECRET: &str = "integration-test-secret-0123456789abcdef";
/// A web app origin the tests trust, like a Next.js dev server.
pub const APP_ORIGIN: &str = "http://localhost:3000";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// `TEST_DATABASE_URL`, or `None` (the PostgreSQL tests then say they skip). With
/// `BETTER_AUTH_REQUIRE_POSTGRES=1` (set by CI) a missing URL fails instead.
pub fn postgres_url() -> Option<String> {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("BETTER_AUTH_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "BETTER_AUTH_REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is not set"
            );
            eprintln!("TEST_DATABASE_URL is not set: skipping a PostgreSQL test");
            None
        }
    }
}

/// A database URL for a new, empty place to put tables: a SQLite file in `dir`, or a new
/// PostgreSQL schema selected through the connection's `search_path`.
pub async fn fresh_database_url(backend: Backend, dir: &std::path::Path) -> Option<String> {
    match backend {
        Backend::Sqlite => Some(format!("sqlite://{}/auth.db?mode=rwc", dir.display())),
        Backend::Postgres => {
            let base = postgres_url()?;
            let schema = format!(
                "t_{}",
                better_auth_server::crypto::random::id().to_lowercase()
            );
            let admin = sea_orm::Database::connect(&base)
                .await
                .expect("connect to PostgreSQL");
            admin
                .execute_unprepared(&format!("create schema \"{schema}\""))
                .await
                .expect("create schema");
            admin.close().await.ok();
            let sep = if base.contains('?') { '&' } else { '?' };
            Some(format!("{base}{sep}options=-c%20search_path%3D{schema}"))
        }
    }
}

/// The `[plugins.*]` tables of a TOML text.
pub fn plugin_tables(toml: &str) -> toml::Table {
    let mut all: toml::Table = toml::from_str(toml).expect("TOML");
    match all.remove("plugins") {
        Some(toml::Value::Table(t)) => t,
        _ => toml::Table::new(),
    }
}

pub struct TestServer {
    /// `http://127.0.0.1:<port>/api/auth`
    pub url: String,
    pub origin: String,
    pub db: DatabaseConnection,
    pub state: actix_web::web::Data<better_auth_server::state::AppState>,
    pub client: reqwest::Client,
    handle: actix_web::dev::ServerHandle,
    database_url: String,
    /// Holds the SQLite file while this server or a sibling uses it.
    db_dir: std::sync::Arc<tempfile::TempDir>,
    _dir: tempfile::TempDir,
    /// The published OpenAPI document, as the contract test reads it (built on first use).
    contract: std::sync::OnceLock<crate::contract::Contract>,
}

impl TestServer {
    pub async fn start(backend: Backend) -> Option<TestServer> {
        Self::start_with(backend, |_| {}).await
    }

    /// Starts a server after `tweak` has adjusted the loaded configuration.
    pub async fn start_with(
        backend: Backend,
        tweak: impl FnOnce(&mut Config),
    ) -> Option<TestServer> {
        Self::start_with_toml(backend, "", tweak).await
    }

    /// Starts a server with this TOML configuration file (plugins, additional fields ...).
    pub async fn start_with_toml(
        backend: Backend,
        toml: &str,
        tweak: impl FnOnce(&mut Config),
    ) -> Option<TestServer> {
        let db_dir = std::sync::Arc::new(tempfile::tempdir().expect("tempdir"));
        let database_url = fresh_database_url(backend, db_dir.path()).await?;
        let file = db_dir.path().join("auth.toml");
        std::fs::write(&file, toml).expect("config file");
        Some(
            Self::start_on(database_url, db_dir, move |c| {
                *c = Self::reload(c, &file);
                tweak(c);
            })
            .await,
        )
    }

    /// A server in stateless mode (`DATABASE_URL=none`): an in-memory store of its own;
    /// `sibling` gives a restarted one (same secret, empty memory).
    pub async fn start_stateless(tweak: impl FnOnce(&mut Config)) -> TestServer {
        let db_dir = std::sync::Arc::new(tempfile::tempdir().expect("tempdir"));
        Self::start_on("none".into(), db_dir, tweak).await
    }

    /// The configuration `c` was loaded from, with a TOML file added.
    fn reload(c: &Config, file: &std::path::Path) -> Config {
        Config::load(&ConfigArgs {
            config: Some(file.to_owned()),
            data_dir: Some(c.data_dir.clone()),
            database_url: Some(c.database_url.clone()),
            base_url: Some(c.origin()),
            secret: Some(SECRET.into()),
            trusted_origins: Some(APP_ORIGIN.into()),
            rate_limit_enabled: Some(false),
            ..ConfigArgs::default()
        })
        .expect("config with the TOML file")
    }

    /// Another server on this one's database (a replica, or the same deployment restarted
    /// with other settings).
    pub async fn sibling(&self, tweak: impl FnOnce(&mut Config)) -> TestServer {
        Self::start_on(self.database_url.clone(), self.db_dir.clone(), tweak).await
    }

    async fn start_on(
        database_url: String,
        db_dir: std::sync::Arc<tempfile::TempDir>,
        tweak: impl FnOnce(&mut Config),
    ) -> TestServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let origin = format!("http://127.0.0.1:{port}");
        let args = ConfigArgs {
            data_dir: Some(dir.path().to_owned()),
            database_url: Some(database_url.clone()),
            base_url: Some(origin.clone()),
            secret: Some(SECRET.into()),
            trusted_origins: Some(APP_ORIGIN.into()),
            // Most tests sign in more often than 3 times in 10 s from one address; the
            // rate-limit tests turn it on.
            rate_limit_enabled: Some(false),
            ..ConfigArgs::default()
        };
        let mut config = Config::load(&args).expect("config");
        tweak(&mut config);
        let db = open_database(&config, true).await.expect("database");
        let state =
            actix_web::web::Data::new(build_state(config, db.clone()).await.expect("state"));
        let running = server(state.clone(), listener).expect("server");
        let handle = running.handle();
        actix_web::rt::spawn(running);
        TestServer {
            url: format!("{origin}/api/auth"),
            origin,
            db,
            state,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            handle,
            database_url,
            db_dir,
            _dir: dir,
            contract: std::sync::OnceLock::new(),
        }
    }

    pub fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }

    pub async fn get(&self, path: &str, cookie: Option<&str>) -> Resp {
        let mut req = self.client.get(format!("{}{path}", self.url));
        if let Some(c) = cookie {
            req = req.header(COOKIE, c);
        }
        self.checked(
            "GET",
            path,
            Resp::from(req.send().await.expect("request")).await,
        )
    }

    /// The contract test (`contract.rs`): the answer must match the published document.
    fn checked(&self, method: &str, path: &str, resp: Resp) -> Resp {
        let contract = self.contract.get_or_init(|| {
            crate::contract::Contract::new(&better_auth_server::plugins::open_api::document(
                &self.state,
            ))
        });
        if let Err(mismatch) = contract.check(method, path, &resp) {
            panic!("contract: {mismatch}");
        }
        resp
    }

    /// A JSON POST as the browser client sends it (same-origin `Origin` when a cookie goes along).
    pub async fn post(&self, path: &str, body: Value, cookie: Option<&str>) -> Resp {
        let mut req = self
            .client
            .post(format!("{}{path}", self.url))
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_string());
        if let Some(c) = cookie {
            req = req.header(COOKIE, c).header("origin", &self.origin);
        }
        self.checked(
            "POST",
            path,
            Resp::from(req.send().await.expect("request")).await,
        )
    }

    pub fn raw(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, format!("{}{path}", self.url))
    }

    /// A request with exactly this content type (or none) and body.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        content_type: Option<&str>,
        body: String,
    ) -> Resp {
        let name = method.as_str().to_owned();
        let mut req = self.raw(method, path).body(body);
        if let Some(ct) = content_type {
            req = req.header(CONTENT_TYPE, ct);
        }
        self.checked(
            &name,
            path,
            Resp::from(req.send().await.expect("request")).await,
        )
    }

    pub async fn sign_up(&self, email: &str, password: &str) -> Resp {
        let resp = self
            .post(
                "/sign-up/email",
                serde_json::json!({"name": "Test User", "email": email, "password": password}),
                None,
            )
            .await;
        assert_eq!(resp.status, 200, "sign-up failed: {}", resp.text);
        resp
    }

    /// Runs SQL and returns the rows as JSON-ish strings: enough for assertions.
    pub async fn query_one(&self, sql: &str) -> Option<sea_orm::QueryResult> {
        self.db
            .query_one_raw(Statement::from_string(self.backend(), sql.to_owned()))
            .await
            .expect("query")
    }

    /// After a test wrote sessions or users behind the server's back (as a TypeScript
    /// server sharing the database would, which sends no invalidations).
    pub fn forget_cached_sessions(&self) {
        if let Some(cache) = self.state.store.cache() {
            cache.flush();
        }
    }

    pub async fn execute(&self, sql: &str) {
        self.db.execute_unprepared(sql).await.expect("execute");
    }

    pub async fn count(&self, table: &str) -> i64 {
        let row = self
            .query_one(&format!("select count(*) as n from \"{table}\""))
            .await
            .expect("row");
        row.try_get::<i64>("", "n").expect("count")
    }
}

pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
}

impl Resp {
    pub async fn from(r: reqwest::Response) -> Resp {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.expect("body");
        Resp {
            status,
            headers,
            text,
        }
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }

    /// The whole `Set-Cookie` line for a cookie name.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.set_cookies()
            .into_iter()
            .find(|c| c.starts_with(&format!("{name}=")))
    }

    /// `name=value` of a set cookie, ready for a `Cookie` header.
    pub fn cookie_pair(&self, name: &str) -> String {
        let line = self
            .set_cookie(name)
            .unwrap_or_else(|| panic!("no Set-Cookie for {name}: {:?}", self.set_cookies()));
        line.split(';').next().expect("pair").to_owned()
    }

    /// `{"code", "message"}` of an error response.
    pub fn error(&self) -> (u16, String, String) {
        let body = self.json();
        (
            self.status,
            body["code"].as_str().unwrap_or_default().to_owned(),
            body["message"].as_str().unwrap_or_default().to_owned(),
        )
    }
}

/// Runs each scenario against SQLite and PostgreSQL.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[actix_web::test] async fn $name() { super::$name($crate::harness::Backend::Sqlite).await } )*
        }
        mod postgres {
            $( #[actix_web::test] async fn $name() { super::$name($crate::harness::Backend::Postgres).await } )*
        }
    };
}
