//! The session cookie cache (`session_data`, upstream `session.cookieCache`): written on
//! sign-in, believed by get-session and `/token` without storage while valid, ignored (and
//! expired) when tampered with, expired, another session's, another version or sealed
//! with a secret we do not hold; chunked when large; rotated secrets still open it.

use better_auth_server::config::{Config, CookieCacheStrategy};
use better_auth_server::cookie_cache;
use better_auth_server::crypto::secrets::Secrets;
use serde_json::{json, Map, Value};

use crate::harness::{Backend, TestServer, SECRET};
use crate::on_both_databases;

const DATA: &str = "better-auth.session_data";
const TOKEN: &str = "better-auth.session_token";
const STRATEGIES: [CookieCacheStrategy; 3] = [
    CookieCacheStrategy::Compact,
    CookieCacheStrategy::Jwt,
    CookieCacheStrategy::Jwe,
];

/// The cookie cache on with this strategy; the memory cache off, so that every lookup the
/// cookie does not answer reaches storage.
fn cache(strategy: CookieCacheStrategy, max_age: i64) -> impl Fn(&mut Config) + Clone {
    move |c: &mut Config| {
        c.session.memory_cache.enabled = false;
        c.session.cookie_cache.enabled = true;
        c.session.cookie_cache.strategy = strategy;
        c.session.cookie_cache.max_age = max_age;
    }
}

/// The `Cookie` header a browser sends after these `Set-Cookie` lines (expiries dropped).
fn jar(set_cookies: &[String]) -> String {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for line in set_cookies {
        let pair = line.split(';').next().unwrap_or_default();
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        pairs.retain(|(n, _)| n != name);
        if !line.contains("Max-Age=0") {
            pairs.push((name.to_owned(), value.to_owned()));
        }
    }
    pairs
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// `jar` with one cookie's value replaced (or added).
fn with_cookie(jar: &str, name: &str, value: &str) -> String {
    let mut pairs: Vec<String> = jar
        .split("; ")
        .filter(|p| !p.starts_with(&format!("{name}=")))
        .map(str::to_owned)
        .collect();
    pairs.push(format!("{name}={value}"));
    pairs.join("; ")
}

/// `jar` after these `Set-Cookie` lines (each replaces its cookie).
fn merged(jar: &str, set_cookies: &[String]) -> String {
    set_cookies.iter().fold(jar.to_owned(), |jar, line| {
        let pair = line.split(';').next().unwrap_or_default();
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        with_cookie(&jar, name, value)
    })
}

fn cookie_value(jar: &str, name: &str) -> String {
    jar.split("; ")
        .find_map(|p| p.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} in {jar}"))
        .to_owned()
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A cache payload as upstream writes it, for this get-session body.
fn payload(found: &Value, version: &str) -> Map<String, Value> {
    let value = json!({
        "session": found["session"],
        "user": found["user"],
        "updatedAt": now_ms(),
        "version": version,
    });
    value.as_object().cloned().unwrap_or_default()
}

async fn delete_session_rows(srv: &TestServer) {
    srv.execute(r#"delete from "session""#).await;
}

async fn signed_in_email(srv: &TestServer, cookie: &str) -> Option<String> {
    let r = srv.get("/get-session", Some(cookie)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["user"]["email"].as_str().map(str::to_owned)
}

async fn a_valid_cache_answers_without_storage(b: Backend) {
    for strategy in STRATEGIES {
        let Some(srv) = TestServer::start_with(b, cache(strategy, 300)).await else {
            return;
        };
        let up = srv.sign_up("cached@example.com", "password123").await;
        assert!(
            up.set_cookie(DATA).is_some(),
            "{strategy:?}: {:?}",
            up.set_cookies()
        );
        let cookie = jar(&up.set_cookies());

        let hits = srv.state.metrics.cookie_cache_hits.get();
        let first = srv.get("/get-session", Some(&cookie)).await;
        assert_eq!(first.json()["user"]["email"], "cached@example.com");
        assert_eq!(first.header("cache-control"), Some("no-store"));
        // Answered from the cookie: nothing rewritten.
        assert!(first.set_cookies().is_empty(), "{:?}", first.set_cookies());
        assert_eq!(srv.state.metrics.cookie_cache_hits.get(), hits + 1);

        // The row is gone (as a TypeScript server's sign-out would leave it for us): the
        // cookie still answers until max_age, as upstream documents; storage does not.
        delete_session_rows(&srv).await;
        assert_eq!(
            signed_in_email(&srv, &cookie).await.as_deref(),
            Some("cached@example.com"),
            "{strategy:?}"
        );
        assert!(srv
            .get("/get-session", Some(&cookie))
            .await
            .header("set-auth-jwt")
            .is_some());
        assert_eq!(srv.get("/token", Some(&cookie)).await.status, 200);

        // disableCookieCache reads storage: signed out, every session cookie expired.
        let fresh = srv
            .get("/get-session?disableCookieCache=true", Some(&cookie))
            .await;
        assert_eq!(fresh.text, "null");
        assert!(fresh
            .set_cookie(DATA)
            .is_some_and(|c| c.contains("Max-Age=0")));
        // Writes never believe the cookie.
        let r = srv
            .post("/update-user", json!({"name": "x"}), Some(&cookie))
            .await;
        assert_eq!(r.status, 401, "{strategy:?}: {}", r.text);
        srv.stop().await;
    }
}

/// update-user and change-email write the cache again with the user as now stored (upstream
/// sets it with `updatedUser` / the new address), so get-session answered from the cookie
/// shows the change at once.
async fn writes_reissue_the_cache_with_the_new_user(b: Backend) {
    for strategy in STRATEGIES {
        let config = cache(strategy, 300);
        let Some(srv) = TestServer::start_with(b, move |c: &mut Config| {
            config(c);
            c.user.change_email_enabled = true;
            c.user.update_email_without_verification = true;
        })
        .await
        else {
            return;
        };
        let up = srv.sign_up("before@example.com", "password123").await;
        let mut cookie = jar(&up.set_cookies());
        let updated = srv
            .post("/update-user", json!({"name": "New Name"}), Some(&cookie))
            .await;
        assert_eq!(updated.status, 200, "{strategy:?}: {}", updated.text);
        cookie = merged(&cookie, &updated.set_cookies());
        let hits = srv.state.metrics.cookie_cache_hits.get();
        let r = srv.get("/get-session", Some(&cookie)).await;
        assert_eq!(srv.state.metrics.cookie_cache_hits.get(), hits + 1);
        assert_eq!(r.json()["user"]["name"], "New Name", "{strategy:?}");

        let moved = srv
            .post(
                "/change-email",
                json!({"newEmail": "after@example.com"}),
                Some(&cookie),
            )
            .await;
        assert_eq!(moved.status, 200, "{strategy:?}: {}", moved.text);
        cookie = merged(&cookie, &moved.set_cookies());
        let r = srv.get("/get-session", Some(&cookie)).await;
        assert_eq!(srv.state.metrics.cookie_cache_hits.get(), hits + 2);
        assert_eq!(
            r.json()["user"]["email"],
            "after@example.com",
            "{strategy:?}"
        );
        srv.stop().await;
    }
}

/// Reads from storage write the cache again, except where upstream answers the session as
/// read: a "don't remember" session and `disableRefresh`.
async fn reads_as_read_write_no_cache(b: Backend) {
    let Some(srv) = TestServer::start_with(b, cache(CookieCacheStrategy::Compact, 300)).await
    else {
        return;
    };
    let up = srv.sign_up("reader@example.com", "password123").await;
    let remembered = jar(&up.set_cookies());
    let read = srv
        .get("/get-session?disableCookieCache=true", Some(&remembered))
        .await;
    assert_eq!(read.json()["user"]["email"], "reader@example.com");
    assert!(read.set_cookie(DATA).is_some(), "{:?}", read.set_cookies());
    let as_read = srv
        .get(
            "/get-session?disableCookieCache=true&disableRefresh=true",
            Some(&remembered),
        )
        .await;
    assert_eq!(as_read.json()["user"]["email"], "reader@example.com");
    assert!(
        as_read.set_cookies().is_empty(),
        "{:?}",
        as_read.set_cookies()
    );

    let signed_in = srv
        .post(
            "/sign-in/email",
            json!({"email": "reader@example.com", "password": "password123", "rememberMe": false}),
            None,
        )
        .await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.text);
    let forgotten = jar(&signed_in.set_cookies());
    let read = srv
        .get("/get-session?disableCookieCache=true", Some(&forgotten))
        .await;
    assert_eq!(read.json()["user"]["email"], "reader@example.com");
    assert!(read.set_cookies().is_empty(), "{:?}", read.set_cookies());
    srv.stop().await;
}

async fn refused_cookies_fall_back_to_storage(b: Backend) {
    for strategy in STRATEGIES {
        let Some(srv) = TestServer::start_with(b, cache(strategy, 300)).await else {
            return;
        };
        let a = jar(&srv
            .sign_up("a@example.com", "password123")
            .await
            .set_cookies());
        let b_jar = jar(&srv
            .sign_up("b@example.com", "password123")
            .await
            .set_cookies());
        let found = srv
            .get("/get-session?disableCookieCache=true", Some(&a))
            .await
            .json();
        let secrets = Secrets::single(SECRET.to_owned());
        let seal = |payload, secrets: &Secrets, now| {
            cookie_cache::seal(strategy, secrets, payload, Some(300), now)
        };
        let data = cookie_value(&a, DATA);
        let mut tampered = data.clone().into_bytes();
        let middle = tampered.len() / 2;
        tampered[middle] = if tampered[middle] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap_or_default();
        let cases: Vec<(&str, String)> = vec![
            ("tampered", tampered),
            ("another session's", cookie_value(&b_jar, DATA)),
            (
                "another version",
                seal(payload(&found, "0"), &secrets, now_ms()),
            ),
            (
                "another secret",
                seal(
                    payload(&found, "1"),
                    &Secrets::single("another-secret-0123456789abcdef0123".into()),
                    now_ms(),
                ),
            ),
            (
                "expired",
                seal(payload(&found, "1"), &secrets, now_ms() - 3_600_000),
            ),
            ("garbage", "%%%not-a-cookie".into()),
            ("five dots", "a.b.c.d.e".into()),
            ("huge", "A".repeat(8000)),
        ];
        // The control: a cookie sealed here with the server's secret and version is believed.
        let good = seal(payload(&found, "1"), &secrets, now_ms());

        // With the row present, a refused cookie is expired and storage answers (a, not b).
        for (case, value) in &cases {
            let r = srv
                .get("/get-session", Some(&with_cookie(&a, DATA, value)))
                .await;
            assert_eq!(r.status, 200, "{strategy:?} {case}: {}", r.text);
            assert_eq!(
                r.json()["user"]["email"],
                "a@example.com",
                "{strategy:?} {case}"
            );
            assert!(
                r.set_cookies()
                    .iter()
                    .any(|c| c.starts_with(&format!("{DATA}=; Max-Age=0"))),
                "{strategy:?} {case}: {:?}",
                r.set_cookies()
            );
        }
        // Without it, only the believed cookie still answers.
        delete_session_rows(&srv).await;
        assert_eq!(
            signed_in_email(&srv, &with_cookie(&a, DATA, &good))
                .await
                .as_deref(),
            Some("a@example.com"),
            "{strategy:?}"
        );
        for (case, value) in &cases {
            assert_eq!(
                signed_in_email(&srv, &with_cookie(&a, DATA, value)).await,
                None,
                "{strategy:?} {case}"
            );
        }
        srv.stop().await;
    }
}

async fn the_cache_expires_and_goes_with_sign_out(b: Backend) {
    let Some(srv) = TestServer::start_with(b, cache(CookieCacheStrategy::Compact, 3)).await else {
        return;
    };
    let cookie = jar(&srv
        .sign_up("short@example.com", "password123")
        .await
        .set_cookies());
    // A deadline from the moment the cache was written, not a fixed sleep.
    let ends = tokio::time::Instant::now() + std::time::Duration::from_secs(3);
    assert!(srv
        .get("/get-session", Some(&cookie))
        .await
        .set_cookies()
        .is_empty());
    tokio::time::sleep_until(ends + std::time::Duration::from_millis(200)).await;
    // Past max_age: storage answers and writes a new cache.
    let refreshed = srv.get("/get-session", Some(&cookie)).await;
    assert_eq!(refreshed.json()["user"]["email"], "short@example.com");
    // The expired cookie is expired, then the new one written (upstream's order).
    let data: Vec<String> = refreshed
        .set_cookies()
        .into_iter()
        .filter(|c| c.starts_with(&format!("{DATA}=")))
        .collect();
    assert_eq!(data.len(), 2, "{data:?}");
    assert!(data[0].contains("Max-Age=0;"), "{data:?}");
    assert!(data[1].contains("Max-Age=3;"), "{data:?}");
    // Sign-out expires it with the token.
    let out = srv.post("/sign-out", json!({}), Some(&cookie)).await;
    for name in [TOKEN, DATA] {
        assert!(
            out.set_cookie(name)
                .is_some_and(|c| c.contains("Max-Age=0")),
            "{name}: {:?}",
            out.set_cookies()
        );
    }
    srv.stop().await;
}

async fn large_caches_are_chunked(b: Backend) {
    let toml = "[user.additional_fields.bio]\ntype = \"string\"\nrequired = false\n";
    let Some(srv) =
        TestServer::start_with_toml(b, toml, cache(CookieCacheStrategy::Jwe, 300)).await
    else {
        return;
    };
    let bio = "long biography ".repeat(600);
    let up = srv
        .post(
            "/sign-up/email",
            json!({"email": "big@example.com", "password": "password123", "name": "Big", "bio": bio}),
            None,
        )
        .await;
    assert_eq!(up.status, 200, "{}", up.text);
    let names: Vec<String> = up
        .set_cookies()
        .iter()
        .filter_map(|c| c.split('=').next().map(str::to_owned))
        .filter(|n| n.starts_with(DATA))
        .collect();
    assert!(names.len() >= 2, "{names:?}");
    let numbered: Vec<String> = (0..names.len()).map(|i| format!("{DATA}.{i}")).collect();
    assert_eq!(names, numbered);
    assert!(up.set_cookies().iter().all(|c| c.len() <= 4050));
    let cookie = jar(&up.set_cookies());
    delete_session_rows(&srv).await;
    let r = srv.get("/get-session", Some(&cookie)).await;
    assert_eq!(r.json()["user"]["bio"], bio.as_str());
    srv.stop().await;
}

/// `BETTER_AUTH_SECRETS`: a cache sealed with a rotated-out secret still opens while that
/// secret is configured (JWE picks it by `kid`), and stops opening once it is removed.
async fn rotated_secrets_still_open_caches(b: Backend) {
    const NEW: &str = "rotated-secret-0123456789abcdef0123456789";
    for strategy in STRATEGIES {
        let rotating = move |c: &mut Config| {
            cache(strategy, 300)(c);
            c.secrets =
                Secrets::rotating(&format!("2:{NEW},1:{SECRET}"), None).unwrap_or_else(|e| {
                    panic!("{e}");
                });
        };
        let Some(srv) = TestServer::start_with(b, rotating).await else {
            return;
        };
        let cookie = jar(&srv
            .sign_up("rot@example.com", "password123")
            .await
            .set_cookies());
        let found = srv
            .get("/get-session?disableCookieCache=true", Some(&cookie))
            .await
            .json();
        let old = Secrets::single(SECRET.to_owned());
        let sealed_with_old =
            cookie_cache::seal(strategy, &old, payload(&found, "1"), Some(300), now_ms());
        let cookie = with_cookie(&cookie, DATA, &sealed_with_old);
        delete_session_rows(&srv).await;
        assert_eq!(
            signed_in_email(&srv, &cookie).await.as_deref(),
            Some("rot@example.com"),
            "{strategy:?}"
        );
        let only_new = srv
            .sibling(move |c: &mut Config| {
                cache(strategy, 300)(c);
                c.secrets = Secrets::rotating(&format!("2:{NEW}"), None).unwrap_or_else(|e| {
                    panic!("{e}");
                });
            })
            .await;
        assert_eq!(
            signed_in_email(&only_new, &cookie).await,
            None,
            "{strategy:?}"
        );
        only_new.stop().await;
        srv.stop().await;
    }
}

/// Cookies recorded from the real Better Auth 1.7.29 (`tests/dropin/record-cookie-cache.mjs`)
/// open here at the time they were made, and not once expired or altered.
#[test]
fn upstream_cookies_open() {
    let text = include_str!("../fixtures/better-auth-1.7.29-cookie-cache.json");
    let vectors: Value = serde_json::from_str(text).unwrap_or_default();
    let secrets = Secrets::single(vectors["secret"].as_str().unwrap_or_default().to_owned());
    let list = vectors["cookies"].as_array().cloned().unwrap_or_default();
    assert_eq!(list.len(), 3);
    for v in list {
        let strategy = match v["strategy"].as_str() {
            Some("compact") => CookieCacheStrategy::Compact,
            Some("jwt") => CookieCacheStrategy::Jwt,
            _ => CookieCacheStrategy::Jwe,
        };
        let value = v["value"].as_str().unwrap_or_default();
        let made = v["madeAt"].as_i64().unwrap_or_default();
        let opened = cookie_cache::open(strategy, &secrets, value, made)
            .unwrap_or_else(|| panic!("{strategy:?} does not open"));
        assert_eq!(opened.payload["user"]["email"], v["email"], "{strategy:?}");
        assert_eq!(
            opened.payload["session"]["token"], v["token"],
            "{strategy:?}"
        );
        assert_eq!(opened.payload["version"], "1");
        let max_age = v["maxAge"].as_i64().unwrap_or_default();
        assert!((opened.expires_at_ms - (made + max_age * 1000)).abs() < 2000);
        // Long after: the JWT forms are refused when opened (the compact form carries its
        // expiry for get-session to check).
        if strategy != CookieCacheStrategy::Compact {
            let later = made + (max_age + 60) * 1000;
            assert!(cookie_cache::open(strategy, &secrets, value, later).is_none());
        }
        let mut altered = value.to_owned();
        altered.insert(value.len() / 2, 'x');
        assert!(cookie_cache::open(strategy, &secrets, &altered, made).is_none());
        let other = Secrets::single("another-secret-0123456789abcdef0123".into());
        assert!(cookie_cache::open(strategy, &other, value, made).is_none());
    }
}

on_both_databases!(
    reads_as_read_write_no_cache,
    writes_reissue_the_cache_with_the_new_user,
    a_valid_cache_answers_without_storage,
    refused_cookies_fall_back_to_storage,
    the_cache_expires_and_goes_with_sign_out,
    large_caches_are_chunked,
    rotated_secrets_still_open_caches,
);
