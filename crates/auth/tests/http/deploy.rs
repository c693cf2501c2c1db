//! Deployment: several server processes on one database behave as one server; readiness,
//! Prometheus metrics, JSON logs without secrets, graceful shutdown on SIGTERM/SIGINT,
//! concurrent migrations, and a replica killed under load.
//!
//! These tests run the real binary (`CARGO_BIN_EXE_better-auth-server`) as separate
//! processes, as a deployment does.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use jsonwebtoken::jwk::JwkSet;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::{json, Value};

use crate::cli::{command, free_port, run_ok, wait_until_up, Running};
use crate::harness::{fresh_database_url, Backend, TestServer, SECRET};
use crate::on_both_databases;

/// The public URL the replicas share (a load balancer would serve it).
const PUBLIC_URL: &str = "http://localhost:3001";
const SESSION_COOKIE: &str = "better-auth.session_token";

struct Replica {
    process: Running,
    port: u16,
    /// `http://127.0.0.1:<port>/api/auth`
    url: String,
    log: PathBuf,
}

impl Replica {
    /// `serve` on `database_url`, rate limits off unless `env` says otherwise.
    fn spawn(dir: &Path, name: &str, database_url: &str, env: &[(&str, &str)]) -> Replica {
        let port = free_port();
        let data = dir.join(name);
        std::fs::create_dir_all(&data).unwrap();
        let log = dir.join(format!("{name}-{port}.log"));
        let mut cmd = command(&data);
        cmd.env("DATABASE_URL", database_url)
            .env("BETTER_AUTH_SECRET", SECRET)
            .env("BETTER_AUTH_URL", PUBLIC_URL)
            .env("HOST", "127.0.0.1")
            .env("PORT", port.to_string())
            .env("BETTER_AUTH_RATE_LIMIT_ENABLED", "false");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Replica {
            process: Running(child),
            port,
            url: format!("http://127.0.0.1:{port}/api/auth"),
            log,
        }
    }

    async fn ready(&self) {
        wait_until_up(&format!("{}/readyz", self.url)).await;
    }

    fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.process.0.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to end by itself; panics after `limit`.
    fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.process.0.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not stop within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    path: &str,
    body: Value,
    cookie: Option<&str>,
) -> reqwest::Result<reqwest::Response> {
    let mut req = client
        .post(format!("{url}{path}"))
        .header("origin", PUBLIC_URL)
        .json(&body);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    req.send().await
}

async fn get(
    client: &reqwest::Client,
    url: &str,
    path: &str,
    cookie: Option<&str>,
) -> reqwest::Result<reqwest::Response> {
    let mut req = client.get(format!("{url}{path}"));
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    req.send().await
}

/// The `better-auth.session_token=...` pair of a response.
fn session_cookie(r: &reqwest::Response) -> String {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{SESSION_COOKIE}=")))
        .and_then(|c| c.split(';').next())
        .unwrap_or_else(|| panic!("no session cookie: {:?}", r.headers()))
        .to_owned()
}

async fn session_of(client: &reqwest::Client, url: &str, cookie: &str) -> Value {
    let r = get(client, url, "/get-session", Some(cookie))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

async fn sign_up(client: &reqwest::Client, url: &str, email: &str) -> String {
    let r = post(
        client,
        url,
        "/sign-up/email",
        json!({"name": "Replica User", "email": email, "password": "password123"}),
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    session_cookie(&r)
}

async fn jwt(client: &reqwest::Client, url: &str, cookie: &str) -> String {
    let r = get(client, url, "/token", Some(cookie)).await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    body["token"].as_str().unwrap().to_owned()
}

fn kid(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

async fn jwks(client: &reqwest::Client, url: &str) -> JwkSet {
    get(client, url, "/jwks", None)
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

/// Two replicas started together on an empty PostgreSQL schema: migrations do not race, the
/// first JWT key is made once, sessions, sign-out and password reset tokens work across
/// them, and a key rotation is signed with and published by both.
#[actix_web::test]
async fn replicas_on_one_postgres_behave_as_one_server() {
    let dir = tempfile::tempdir().unwrap();
    let Some(db_url) = fresh_database_url(Backend::Postgres, dir.path()).await else {
        return;
    };
    let mail = [("BETTER_AUTH_MAIL_TRANSPORT", "log")];
    let a = Replica::spawn(dir.path(), "a", &db_url, &mail);
    let b = Replica::spawn(dir.path(), "b", &db_url, &mail);
    a.ready().await;
    b.ready().await;
    let db = Database::connect(&db_url).await.unwrap();
    let client = client();

    // Both replicas need the first signing key at the same moment: one row.
    let first_jwks = join_all((0..8).map(|i| {
        let url = if i % 2 == 0 { &a.url } else { &b.url };
        get(&client, url, "/jwks", None)
    }))
    .await;
    for r in first_jwks {
        assert_eq!(r.unwrap().status(), 200);
    }
    assert_eq!(count(&db, r#"select count(*) as n from "jwks""#).await, 1);

    // Sign up on A, the session works on B; sign out on B, A no longer accepts it.
    let first = sign_up(&client, &a.url, "replica@example.com").await;
    assert_eq!(
        session_of(&client, &b.url, &first).await["user"]["email"],
        "replica@example.com"
    );
    let r = post(
        &client,
        &b.url,
        "/sign-in/email",
        json!({"email": "replica@example.com", "password": "password123"}),
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let second = session_cookie(&r);
    let r = post(&client, &b.url, "/sign-out", json!({}), Some(&first))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(session_of(&client, &a.url, &first).await, Value::Null);
    assert_eq!(
        session_of(&client, &a.url, &second).await["user"]["email"],
        "replica@example.com"
    );

    // JWTs: one key, then a rotation by a third process (`keys rotate`). Each replica
    // picks the new key up within seconds and publishes it before signing with it.
    let before = jwt(&client, &a.url, &second).await;
    assert_eq!(kid(&before), kid(&jwt(&client, &b.url, &second).await));
    let new_kid = run_ok(&dir.path().join("cli"), &db_url, &["keys", "rotate"])
        .trim()
        .to_owned();
    let deadline = Instant::now() + Duration::from_secs(20);
    let (from_a, from_b) = loop {
        let (ta, tb) = (
            jwt(&client, &a.url, &second).await,
            jwt(&client, &b.url, &second).await,
        );
        if kid(&ta) == new_kid && kid(&tb) == new_kid {
            break (ta, tb);
        }
        assert!(
            Instant::now() < deadline,
            "the replicas did not pick up the rotated key"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    for url in [&a.url, &b.url] {
        let set = jwks(&client, url).await;
        for token in [&before, &from_a, &from_b] {
            crate::jwt::verify(&set, token, PUBLIC_URL, &[PUBLIC_URL])
                .unwrap_or_else(|e| panic!("token from a replica against {url}/jwks: {e}"));
        }
    }

    // A password reset token issued through A is used on B, and only once.
    let r = post(
        &client,
        &a.url,
        "/request-password-reset",
        json!({"email": "replica@example.com"}),
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    let token = loop {
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                r#"select "identifier" from "verification" where "identifier" like 'reset-password:%'"#,
            ))
            .await
            .unwrap();
        if let Some(row) = row {
            let id: String = row.try_get("", "identifier").unwrap();
            break id.trim_start_matches("reset-password:").to_owned();
        }
        assert!(Instant::now() < deadline, "no reset token was stored");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let reset = |url: String| {
        let client = client.clone();
        let token = token.clone();
        async move {
            post(
                &client,
                &url,
                "/reset-password",
                json!({"newPassword": "a-new-password-456", "token": token}),
                None,
            )
            .await
            .unwrap()
        }
    };
    assert_eq!(reset(b.url.clone()).await.status(), 200);
    let again = reset(a.url.clone()).await;
    assert_eq!(again.status(), 400);
    assert_eq!(
        again.json::<Value>().await.unwrap()["code"],
        "INVALID_TOKEN"
    );
    let r = post(
        &client,
        &a.url,
        "/sign-in/email",
        json!({"email": "replica@example.com", "password": "a-new-password-456"}),
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200, "{}", a.logs());
}

/// Rate limits with `database` storage count requests to every replica together.
#[actix_web::test]
async fn rate_limits_are_shared_by_replicas() {
    let dir = tempfile::tempdir().unwrap();
    let Some(db_url) = fresh_database_url(Backend::Postgres, dir.path()).await else {
        return;
    };
    let env = [
        ("BETTER_AUTH_RATE_LIMIT_ENABLED", "true"),
        ("BETTER_AUTH_RATE_LIMIT_STORAGE", "database"),
    ];
    let a = Replica::spawn(dir.path(), "a", &db_url, &env);
    let b = Replica::spawn(dir.path(), "b", &db_url, &env);
    a.ready().await;
    b.ready().await;
    let client = client();
    let mut statuses = Vec::new();
    // Sign-in allows 3 attempts per 10 s and client: two on A, one on B, then B refuses.
    for url in [&a.url, &b.url, &a.url, &b.url] {
        let r = post(
            &client,
            url,
            "/sign-in/email",
            json!({"email": "nobody@example.com", "password": "password123"}),
            None,
        )
        .await
        .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 429]);
}

/// Several `migrate up` at once on an empty database: all succeed, the schema is made once.
async fn concurrent_migrations(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(url) = fresh_database_url(b, dir.path()).await else {
        return;
    };
    let children: Vec<_> = (0..4)
        .map(|i| {
            command(&dir.path().join(format!("m{i}")))
                .env("DATABASE_URL", &url)
                .env("BETTER_AUTH_SECRET", SECRET)
                .args(["migrate", "up"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let db = better_auth_server::store::connect(&url).await.unwrap();
    assert_eq!(
        count(&db, "select count(*) as n from seaql_migrations").await,
        3
    );
    assert_eq!(count(&db, r#"select count(*) as n from "user""#).await, 0);
    // A server (which migrates at start) on the migrated database changes nothing.
    let srv = Replica::spawn(dir.path(), "s", &url, &[]);
    srv.ready().await;
    assert_eq!(
        count(&db, "select count(*) as n from seaql_migrations").await,
        3
    );
}

/// A sign-up whose body is still arriving when the signal comes completes; new connections
/// are refused meanwhile; the process exits 0.
async fn stops_gracefully_on(signal: &str) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/auth.db?mode=rwc", dir.path().display());
    let mut srv = Replica::spawn(
        dir.path(),
        "s",
        &url,
        &[("BETTER_AUTH_SHUTDOWN_TIMEOUT", "10")],
    );
    srv.ready().await;
    let body =
        json!({"name": "Late", "email": "late@example.com", "password": "password123"}).to_string();
    let mut stream = TcpStream::connect(("127.0.0.1", srv.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(
        stream,
        "POST /api/auth/sign-up/email HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        srv.port,
        body.len()
    )
    .unwrap();
    stream.write_all(&body.as_bytes()[..10]).unwrap();
    stream.flush().unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    srv.signal(signal);
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(("127.0.0.1", srv.port)).is_ok() {
        assert!(
            Instant::now() < deadline,
            "still accepting connections after {signal}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        srv.process.0.try_wait().unwrap().is_none(),
        "the server must wait for the request in flight"
    );
    stream.write_all(&body.as_bytes()[10..]).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("late@example.com"), "{response}");
    let status = srv.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "{status:?}\n{}", srv.logs());
}

#[actix_web::test]
async fn sigterm_finishes_requests_in_flight_then_exits() {
    stops_gracefully_on("TERM").await;
}

#[actix_web::test]
async fn sigint_is_as_graceful_as_sigterm() {
    stops_gracefully_on("INT").await;
}

/// The value of the first sample of `name` whose labels include all of `labels`.
fn sample(metrics: &str, name: &str, labels: &[&str]) -> Option<f64> {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.split(['{', ' '])
                .next()
                .is_some_and(|metric| metric == name)
        })
        .find(|l| labels.iter().all(|label| l.contains(label)))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// readyz, the healthcheck subcommand, metrics on their own port labelled by route
/// pattern, JSON logs, and no password, secret or token in either.
#[actix_web::test]
async fn readiness_metrics_and_logs() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/auth.db?mode=rwc", dir.path().display());
    let metrics_port = free_port();
    let metrics_addr = format!("127.0.0.1:{metrics_port}");
    let mut srv = Replica::spawn(
        dir.path(),
        "s",
        &url,
        &[
            ("BETTER_AUTH_METRICS_ADDR", metrics_addr.as_str()),
            ("BETTER_AUTH_LOG_FORMAT", "json"),
            ("RUST_LOG", "debug"),
        ],
    );
    srv.ready().await;
    let client = client();

    let r = get(&client, &srv.url, "/readyz", None).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"status": "ok"}));
    let healthcheck = |port: u16| {
        command(&dir.path().join("h"))
            .env("DATABASE_URL", &url)
            .env("BETTER_AUTH_SECRET", SECRET)
            .env("HOST", "0.0.0.0")
            .env("PORT", port.to_string())
            .arg("healthcheck")
            .stderr(Stdio::null())
            .status()
            .unwrap()
    };
    assert!(healthcheck(srv.port).success());
    assert!(!healthcheck(free_port()).success(), "nothing listens there");

    let password = "correct-horse-battery-staple";
    let r = post(
        &client,
        &srv.url,
        "/sign-up/email",
        json!({"name": "M", "email": "metrics@example.com", "password": password}),
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let cookie = session_cookie(&r);
    let r = post(
        &client,
        &srv.url,
        "/sign-in/email",
        json!({"email": "metrics@example.com", "password": "wrong-password-1"}),
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 401);
    let reset_token = "SECRETRESETTOKEN0123456789";
    get(
        &client,
        &srv.url,
        &format!("/reset-password/{reset_token}?callbackURL=/reset"),
        None,
    )
    .await
    .unwrap();
    let r = get(&client, &srv.url, "/get-session", Some(&cookie))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("set-auth-jwt"));

    let public = get(
        &client,
        &format!("http://127.0.0.1:{}", srv.port),
        "/metrics",
        None,
    )
    .await
    .unwrap();
    assert_eq!(public.status(), 404, "metrics are not on the public port");
    let metrics = get(&client, &format!("http://{metrics_addr}"), "/metrics", None)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let requests = "better_auth_http_requests_total";
    assert_eq!(
        sample(
            &metrics,
            requests,
            &[
                r#"route="/api/auth/sign-up/email""#,
                r#"status="200""#,
                r#"method="POST""#
            ]
        ),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        sample(
            &metrics,
            requests,
            &[r#"route="/api/auth/reset-password/{token}""#]
        ),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        sample(&metrics, "better_auth_sign_in_failures_total", &[]),
        Some(1.0)
    );
    assert_eq!(sample(&metrics, "better_auth_jwks_keys", &[]), Some(1.0));
    assert_eq!(
        sample(&metrics, "better_auth_password_hashing_queue_depth", &[]),
        Some(0.0)
    );
    assert!(
        sample(
            &metrics,
            "better_auth_http_request_duration_seconds_count",
            &[r#"route="/api/auth/get-session""#]
        )
        .is_some_and(|n| n >= 1.0),
        "{metrics}"
    );
    assert!(!metrics.contains(reset_token), "no raw paths in labels");

    srv.signal("TERM");
    assert!(srv.wait_exit(Duration::from_secs(15)).success());
    let logs = srv.logs();
    assert!(logs.lines().count() > 3, "{logs}");
    for line in logs.lines().filter(|l| !l.trim().is_empty()) {
        let parsed: Result<Value, _> = serde_json::from_str(line);
        assert!(parsed.is_ok(), "not a JSON log line: {line}");
    }
    let session_token = cookie
        .split_once('=')
        .map(|(_, v)| v.split('.').next().unwrap_or(v))
        .unwrap();
    for secret in [password, SECRET, session_token, reset_token] {
        assert!(!logs.contains(secret), "{secret:?} in the logs:\n{logs}");
    }
}

/// Readiness follows the database; liveness (`/ok`) does not.
async fn readyz_answers_503_without_a_database(b: Backend) {
    let Some(srv) = TestServer::start(b).await else {
        return;
    };
    assert_eq!(srv.get("/readyz", None).await.status, 200);
    srv.db.clone().close().await.unwrap();
    let r = srv.get("/readyz", None).await;
    assert_eq!(
        r.error(),
        (
            503,
            "DATABASE_UNAVAILABLE".into(),
            "The database is not reachable".into()
        )
    );
    assert_eq!(srv.get("/ok", None).await.status, 200);
    srv.stop().await;
}

on_both_databases!(concurrent_migrations, readyz_answers_503_without_a_database);

/// A bounded load over two replicas: one is killed (-9) mid-run. The survivor answers every
/// request without a 5xx, no session is lost, and after both restart every session works.
#[actix_web::test]
async fn a_replica_killed_under_load_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let Some(db_url) = fresh_database_url(Backend::Postgres, dir.path()).await else {
        return;
    };
    let mut a = Replica::spawn(dir.path(), "a", &db_url, &[]);
    let mut b = Replica::spawn(dir.path(), "b", &db_url, &[]);
    a.ready().await;
    b.ready().await;
    let client = client();
    let killed = Arc::new(AtomicBool::new(false));
    let stop_at = Instant::now() + Duration::from_secs(4);

    let mut workers = Vec::new();
    for w in 0..6 {
        let (client, killed) = (client.clone(), killed.clone());
        let (a_url, b_url) = (a.url.clone(), b.url.clone());
        workers.push(tokio::spawn(async move {
            let mut sessions = Vec::new();
            let mut failures = Vec::new();
            let mut n = 0;
            while Instant::now() < stop_at {
                n += 1;
                // Alternate; once B is gone the load balancer sends everything to A.
                let use_b = n % 2 == w % 2 && !killed.load(Ordering::SeqCst);
                let (first, other) = if use_b {
                    (&b_url, &a_url)
                } else {
                    (&a_url, &b_url)
                };
                let email = format!("load-{w}-{n}@example.com");
                let body = json!({"name": "Load", "email": email, "password": "password123"});
                let cookie = match post(&client, first, "/sign-up/email", body, None).await {
                    Ok(r) if r.status() == 200 => session_cookie(&r),
                    // B may die with our request in it: the client sees a broken connection.
                    Err(_) if use_b && killed.load(Ordering::SeqCst) => continue,
                    unexpected => {
                        failures.push(format!("sign-up on {first}: {unexpected:?}"));
                        continue;
                    }
                };
                sessions.push((email.clone(), cookie.clone()));
                let check_on = if killed.load(Ordering::SeqCst) {
                    &a_url
                } else {
                    other
                };
                match get(&client, check_on, "/get-session", Some(&cookie)).await {
                    Ok(r) if r.status() == 200 => {
                        let body: Value = r.json().await.unwrap_or_default();
                        if body["user"]["email"] != email.as_str() {
                            failures.push(format!("session of {email} lost: {body}"));
                        }
                    }
                    Err(_) if check_on == &b_url && killed.load(Ordering::SeqCst) => {}
                    unexpected => {
                        failures.push(format!("get-session on {check_on}: {unexpected:?}"))
                    }
                }
            }
            (sessions, failures)
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    killed.store(true, Ordering::SeqCst);
    b.process.0.kill().unwrap();
    b.process.0.wait().unwrap();

    let mut sessions = Vec::new();
    for worker in workers {
        let (s, failures) = worker.await.unwrap();
        assert!(failures.is_empty(), "{failures:#?}\n{}", a.logs());
        sessions.extend(s);
    }
    assert!(sessions.len() >= 10, "only {} sign-ups", sessions.len());

    // Restart both: every session is still there, on either replica.
    a.signal("TERM");
    assert!(a.wait_exit(Duration::from_secs(40)).success());
    let a = Replica::spawn(dir.path(), "a2", &db_url, &[]);
    let b = Replica::spawn(dir.path(), "b2", &db_url, &[]);
    a.ready().await;
    b.ready().await;
    for (i, (email, cookie)) in sessions.iter().enumerate() {
        let url = if i % 2 == 0 { &a.url } else { &b.url };
        assert_eq!(
            session_of(&client, url, cookie).await["user"]["email"],
            email.as_str()
        );
    }
}
