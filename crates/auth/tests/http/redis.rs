//! Redis as secondary storage (`REDIS_URL`): rate-limit counters shared by replicas, in
//! upstream's key format. Needs the Redis at 127.0.0.1:6379 (`TEST_REDIS_URL` to change);
//! skips without it unless `BETTER_AUTH_REQUIRE_REDIS=1` (CI), where a missing Redis fails.
//!
//! Every test writes under its own random key prefix and deletes only those keys: other
//! tests and programs share the Redis.

use std::process::Stdio;
use std::time::Duration;

use better_auth_server::config::{Limit, RateLimitRule, RateLimitStorage, RedisConfig};
use serde_json::json;

use crate::cli::{command, free_port, wait_until_up, Running};
use crate::harness::{fresh_database_url, Backend, TestServer, SECRET};

const SIGN_IN: &str = "/sign-in/email";

/// The Redis URL when Redis answers PING; `None` (skip) only when it is not required.
pub(crate) async fn redis_url() -> Option<String> {
    let url = std::env::var("TEST_REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "redis://127.0.0.1:6379".to_owned());
    let answer = async {
        let client = redis::Client::open(url.as_str())?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING").query_async::<String>(&mut conn).await
    };
    match tokio::time::timeout(Duration::from_secs(3), answer).await {
        Ok(Ok(_)) => Some(url),
        failure => {
            assert!(
                std::env::var("BETTER_AUTH_REQUIRE_REDIS").as_deref() != Ok("1"),
                "BETTER_AUTH_REQUIRE_REDIS=1 but Redis at {url} does not answer: {failure:?}"
            );
            eprintln!("Redis at {url} does not answer: skipping a Redis test");
            None
        }
    }
}

/// A direct connection for looking at (and cleaning up) one test's keys.
pub(crate) struct Keys {
    conn: redis::aio::MultiplexedConnection,
    pub prefix: String,
}

impl Keys {
    pub async fn new(url: &str) -> Keys {
        let client = redis::Client::open(url).unwrap();
        Keys {
            conn: client.get_multiplexed_async_connection().await.unwrap(),
            prefix: format!(
                "test-{}:",
                better_auth_server::crypto::random::id().to_lowercase()
            ),
        }
    }

    pub async fn list(&self) -> Vec<String> {
        let mut keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}*", self.prefix))
            .query_async(&mut self.conn.clone())
            .await
            .unwrap();
        keys.sort();
        keys
    }

    pub async fn set(&self, key: &str, value: &str, seconds: u64) {
        let _: () = redis::cmd("SET")
            .arg(key)
            .arg(value)
            .arg("EX")
            .arg(seconds)
            .query_async(&mut self.conn.clone())
            .await
            .unwrap();
    }

    /// The value and the TTL in milliseconds.
    pub async fn get(&self, key: &str) -> (Option<String>, i64) {
        let mut c = self.conn.clone();
        let value = redis::cmd("GET")
            .arg(key)
            .query_async(&mut c)
            .await
            .unwrap();
        let ttl = redis::cmd("PTTL")
            .arg(key)
            .query_async(&mut c)
            .await
            .unwrap();
        (value, ttl)
    }

    pub async fn clean(&self) {
        for key in self.list().await {
            let _: i64 = redis::cmd("DEL")
                .arg(&key)
                .query_async(&mut self.conn.clone())
                .await
                .unwrap();
        }
    }
}

fn with_redis(url: &str, prefix: &str, c: &mut better_auth_server::config::Config) {
    c.redis = Some(RedisConfig {
        url: url.to_owned(),
        prefix: prefix.to_owned(),
        ca_file: None,
    });
    c.rate_limit.enabled = true;
    c.rate_limit.storage = RateLimitStorage::Redis;
}

async fn sign_in(server: &TestServer) -> crate::harness::Resp {
    server
        .post(
            SIGN_IN,
            json!({"email": "nobody@example.com", "password": "password123"}),
            None,
        )
        .await
}

/// Two servers with their own counters in memory but one Redis: the 4th sign-in within
/// 10 s is refused whichever replica gets it; the counter is upstream's key and value.
#[actix_web::test]
async fn replicas_share_sign_in_limits_through_redis() {
    let Some(url) = redis_url().await else { return };
    let keys = Keys::new(&url).await;
    let a = TestServer::start_with(Backend::Sqlite, |c| with_redis(&url, &keys.prefix, c))
        .await
        .unwrap();
    let b = a.sibling(|c| with_redis(&url, &keys.prefix, c)).await;
    let mut statuses = Vec::new();
    for server in [&a, &b, &a] {
        statuses.push(sign_in(server).await.status);
    }
    let refused = sign_in(&b).await;
    assert_eq!(statuses, [401, 401, 401]);
    assert_eq!(refused.status, 429);
    let retry: u64 = refused.header("x-retry-after").unwrap().parse().unwrap();
    assert!((1..=10).contains(&retry), "X-Retry-After {retry}");
    assert_eq!(
        refused.text,
        r#"{"message":"Too many requests. Please try again later."}"#
    );
    // Other paths have their own counters.
    assert_eq!(b.get("/ok", None).await.status, 200);

    let key = format!("{}127.0.0.1|{SIGN_IN}", keys.prefix);
    let mut listed = keys.list().await;
    listed.retain(|k| k != &format!("{}127.0.0.1|/ok", keys.prefix));
    assert_eq!(listed, std::slice::from_ref(&key));
    let (value, ttl) = keys.get(&key).await;
    // Upstream's increment counts refused requests too; the TTL is never extended.
    assert_eq!(value.as_deref(), Some("4"));
    assert!(ttl > 0 && ttl <= 10_000, "TTL {ttl} ms");
    keys.clean().await;
    a.stop().await;
    b.stop().await;
}

/// A fixed window: after the counter's TTL the same client may again.
#[actix_web::test]
async fn the_window_expires_in_redis() {
    let Some(url) = redis_url().await else { return };
    let keys = Keys::new(&url).await;
    let tweak = |c: &mut better_auth_server::config::Config| {
        with_redis(&url, &keys.prefix, c);
        c.rate_limit.rules = vec![RateLimitRule {
            path: "/ok".into(),
            limit: Some(Limit { window: 1, max: 2 }),
        }];
    };
    let a = TestServer::start_with(Backend::Sqlite, tweak)
        .await
        .unwrap();
    assert_eq!(a.get("/ok", None).await.status, 200);
    assert_eq!(a.get("/ok", None).await.status, 200);
    let refused = a.get("/ok", None).await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.header("x-retry-after"), Some("1"));
    let key = format!("{}127.0.0.1|/ok", keys.prefix);
    let (_, ttl) = keys.get(&key).await;
    assert!(ttl > 0 && ttl <= 1_000, "TTL {ttl} ms");
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert_eq!(keys.get(&key).await.0, None, "the counter expired");
    assert_eq!(a.get("/ok", None).await.status, 200);
    keys.clean().await;
    a.stop().await;
}

fn spawn(
    dir: &std::path::Path,
    name: &str,
    db_url: &str,
    env: &[(&str, &str)],
) -> (Running, String) {
    let port = free_port();
    let data = dir.join(name);
    std::fs::create_dir_all(&data).unwrap();
    let mut cmd = command(&data);
    cmd.env("DATABASE_URL", db_url)
        .env("BETTER_AUTH_SECRET", SECRET)
        .env("BETTER_AUTH_URL", "http://localhost:3001")
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env_remove("BETTER_AUTH_RATE_LIMIT_STORAGE")
        .env("BETTER_AUTH_RATE_LIMIT_ENABLED", "true");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join(format!("{name}.log"))).unwrap())
        .spawn()
        .unwrap();
    (Running(child), format!("http://127.0.0.1:{port}/api/auth"))
}

/// The binary as deployed: `REDIS_URL` alone makes Redis the rate-limit and session storage
/// of every replica process (on PostgreSQL).
#[actix_web::test]
async fn redis_url_makes_replica_processes_count_together() {
    let Some(url) = redis_url().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let Some(db_url) = fresh_database_url(Backend::Postgres, dir.path()).await else {
        return;
    };
    let keys = Keys::new(&url).await;
    let env = [
        ("REDIS_URL", url.as_str()),
        ("BETTER_AUTH_REDIS_PREFIX", keys.prefix.as_str()),
    ];
    // One after the other: both would race to migrate the empty schema (that is fine, but
    // not what this test is about).
    let (_a, a) = spawn(dir.path(), "a", &db_url, &env);
    wait_until_up(&format!("{a}/readyz")).await;
    let (_b, b) = spawn(dir.path(), "b", &db_url, &env);
    wait_until_up(&format!("{b}/readyz")).await;
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for base in [&a, &b, &a, &b] {
        let r = client
            .post(format!("{base}{SIGN_IN}"))
            .json(&json!({"email": "nobody@example.com", "password": "password123"}))
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 429]);
    let key = format!("{}127.0.0.1|{SIGN_IN}", keys.prefix);
    assert_eq!(keys.get(&key).await.0.as_deref(), Some("4"));

    // Sessions are in Redis too: made on one process, live on the other, ended from either.
    let up = client
        .post(format!("{a}/sign-up/email"))
        .header("origin", "http://localhost:3001")
        .json(&json!({"email": "procs@example.com", "password": "password123", "name": "P"}))
        .send()
        .await
        .unwrap();
    assert_eq!(up.status(), 200);
    let token = up.json::<serde_json::Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let session_on = |base: String| {
        let client = client.clone();
        let token = token.clone();
        async move {
            client
                .get(format!("{base}/get-session"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };
    assert_eq!(
        session_on(b.clone()).await["user"]["email"],
        "procs@example.com"
    );
    assert!(keys
        .get(&format!("{}{token}", keys.prefix))
        .await
        .0
        .is_some());
    let out = client
        .post(format!("{b}/sign-out"))
        .header("origin", "http://localhost:3001")
        .bearer_auth(&token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 200);
    assert!(session_on(a.clone()).await.is_null());
    keys.clean().await;
}

/// A configured but unreachable Redis stops the start with a clear message (no password).
#[actix_web::test]
async fn an_unreachable_redis_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}/auth.db?mode=rwc", dir.path().display());
    let closed = format!("redis://:hunter2-secret@127.0.0.1:{}", free_port());
    let (mut running, _) = spawn(dir.path(), "a", &db_url, &[("REDIS_URL", closed.as_str())]);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = running.0.try_wait().unwrap() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "still running");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(!status.success());
    let log = std::fs::read_to_string(dir.path().join("a.log")).unwrap();
    assert!(log.contains("redis"), "{log}");
    assert!(!log.contains("hunter2-secret"), "{log}");
}

/// A Redis of this test's own (`redis-server` on a free port, nothing on disk), so that it
/// can be stopped without disturbing the shared one.
pub(crate) fn private_redis(dir: &std::path::Path) -> Option<(Running, String, u16)> {
    let port = free_port();
    redis_on_port(dir, port).map(|(running, url)| (running, url, port))
}

pub(crate) fn redis_on_port(dir: &std::path::Path, port: u16) -> Option<(Running, String)> {
    let child = std::process::Command::new("redis-server")
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--save", "", "--appendonly", "no", "--dir"])
        .arg(dir)
        .stdout(Stdio::null())
        .spawn();
    match child {
        Ok(child) => Some((Running(child), format!("redis://127.0.0.1:{port}"))),
        Err(e) => {
            assert!(
                std::env::var("BETTER_AUTH_REQUIRE_REDIS").as_deref() != Ok("1"),
                "BETTER_AUTH_REQUIRE_REDIS=1 but redis-server cannot start: {e}"
            );
            eprintln!("no redis-server ({e}): skipping");
            None
        }
    }
}

/// Redis going away while the server runs: requests are let through (and logged), not
/// answered 500 or 429; when Redis is back, limits apply again.
#[actix_web::test]
async fn requests_pass_while_redis_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let Some((mut redis_server, url, port)) = private_redis(dir.path()) else {
        return;
    };
    wait_for_redis(&url).await;
    let a = TestServer::start_with(Backend::Sqlite, |c| with_redis(&url, "", c))
        .await
        .unwrap();
    for _ in 0..3 {
        assert_eq!(sign_in(&a).await.status, 401);
    }
    assert_eq!(sign_in(&a).await.status, 429);
    redis_server.0.kill().unwrap();
    redis_server.0.wait().unwrap();
    let started = std::time::Instant::now();
    for _ in 0..3 {
        assert_eq!(sign_in(&a).await.status, 401, "let through without Redis");
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "no long stalls"
    );
    // Redis back on the same port (empty): the counting starts again and limits apply.
    let (_back, url_back) = redis_on_port(dir.path(), port).unwrap();
    wait_for_redis(&url_back).await;
    let mut statuses = Vec::new();
    // Within a few seconds: the connection reconnects and the circuit breaker probes once
    // a second.
    for _ in 0..40 {
        let status = sign_in(&a).await.status;
        statuses.push(status);
        if status == 429 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(statuses.last(), Some(&429), "limited again: {statuses:?}");
    a.stop().await;
}

/// Waits (up to 10 s) until a Redis just started answers.
pub(crate) async fn wait_for_redis(url: &str) {
    let up = async {
        loop {
            if let Ok(c) = redis::Client::open(url) {
                if c.get_multiplexed_async_connection().await.is_ok() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), up)
        .await
        .expect("redis-server up");
}

/// A Redis of this test's own that speaks only TLS, with a fresh certificate for 127.0.0.1
/// signed by a fresh CA (`ca.pem` in `dir`, made by `openssl`). `None` (skip) without openssl or a
/// TLS-capable redis-server, unless `BETTER_AUTH_REQUIRE_REDIS=1`.
pub(crate) async fn private_tls_redis(dir: &std::path::Path) -> Option<(Running, String)> {
    let required = std::env::var("BETTER_AUTH_REQUIRE_REDIS").as_deref() == Ok("1");
    // A CA and a leaf it signed (webpki refuses a self-signed CA used as the server's).
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    let openssl = |args: &[&str]| {
        std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let made = openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=test-ca",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]) && openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "key.pem",
        "-out",
        "leaf.csr",
    ]) && openssl(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        "leaf.ext",
        "-out",
        "cert.pem",
    ]);
    if !made {
        assert!(
            !required,
            "BETTER_AUTH_REQUIRE_REDIS=1 but openssl cannot make a certificate"
        );
        eprintln!("no openssl: skipping a Redis TLS test");
        return None;
    }
    let port = free_port();
    let child = std::process::Command::new("redis-server")
        .args([
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
            "--tls-port",
            &port.to_string(),
        ])
        .arg("--tls-cert-file")
        .arg(dir.join("cert.pem"))
        .arg("--tls-key-file")
        .arg(dir.join("key.pem"))
        .args([
            "--tls-auth-clients",
            "no",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
        ])
        .arg(dir)
        .stdout(Stdio::null())
        .spawn()
        .ok()?;
    let running = Running(child);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "TLS redis-server up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Some((running, format!("rediss://127.0.0.1:{port}")))
}
