//! get-session: the refresh rule, expiry, `disableRefresh`, "don't remember" (spec §2.1).

use serde_json::json;

use crate::harness::{Backend, TestServer};
use crate::on_both_databases;

/// Sets a session's `expiresAt` to now + `seconds`, in the backend's own encoding.
async fn set_expiry(srv: &TestServer, token: &str, seconds: i64) {
    let t = chrono::Utc::now() + chrono::Duration::seconds(seconds);
    let value = match srv.backend() {
        sea_orm::DbBackend::Sqlite => format!("'{}'", t.format("%Y-%m-%dT%H:%M:%S%.3fZ")),
        _ => format!("'{}'::timestamptz", t.to_rfc3339()),
    };
    srv.execute(&format!(
        "update \"session\" set \"expiresAt\" = {value} where \"token\" = '{token}'"
    ))
    .await;
    // Written behind the server's back: its memory cache would keep the old expiry.
    srv.forget_cached_sessions();
}

/// POST /get-session (upstream's deferSessionRefresh form): the same no-cache headers as GET.
async fn post_get_session_is_not_cacheable(b: Backend) {
    let Some(srv) = TestServer::start(b).await else {
        return;
    };
    let r = srv.post("/get-session", json!({}), None).await;
    assert_eq!(r.status, 405, "{}", r.text);
    assert_eq!(
        r.json()["code"],
        "METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED"
    );
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.header("pragma"), Some("no-cache"));
    let r = srv.get("/get-session", None).await;
    assert_eq!(r.header("cache-control"), Some("no-store"));
    srv.stop().await;
}

fn expires_in_days(body: &serde_json::Value) -> f64 {
    let t = chrono::DateTime::parse_from_rfc3339(body["session"]["expiresAt"].as_str().unwrap())
        .unwrap();
    (t.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_seconds() as f64 / 86_400.0
}

async fn refresh_after_update_age(b: Backend) {
    let Some(srv) = TestServer::start(b).await else {
        return;
    };
    let up = srv.sign_up("fay@example.com", "password123").await;
    let token = up.json()["token"].as_str().unwrap().to_owned();
    let cookie = up.cookie_pair("better-auth.session_token");

    // Two days into a seven-day session: older than updateAge (1 day), so refresh is due.
    set_expiry(&srv, &token, 5 * 86_400).await;
    let no_refresh = srv
        .get("/get-session?disableRefresh=true", Some(&cookie))
        .await;
    assert!(no_refresh.set_cookies().is_empty());
    assert!(expires_in_days(&no_refresh.json()) < 5.01);

    let refreshed = srv.get("/get-session", Some(&cookie)).await;
    let body = refreshed.json();
    assert_eq!(
        body["session"]["token"],
        token.as_str(),
        "refresh keeps the token"
    );
    assert!(
        expires_in_days(&body) > 6.99,
        "expiresAt pushed to now + 7 days"
    );
    let line = refreshed.set_cookie("better-auth.session_token").unwrap();
    assert!(line.contains("Max-Age=604800"), "{line}");
    // The database row moved too.
    let again = srv.get("/get-session", Some(&cookie)).await;
    assert!(expires_in_days(&again.json()) > 6.99);
    assert!(again.set_cookies().is_empty());
    srv.stop().await;
}

async fn expired_session_is_removed(b: Backend) {
    let Some(srv) = TestServer::start(b).await else {
        return;
    };
    let up = srv.sign_up("gus@example.com", "password123").await;
    let token = up.json()["token"].as_str().unwrap().to_owned();
    let cookie = up.cookie_pair("better-auth.session_token");
    set_expiry(&srv, &token, -10).await;
    let r = srv.get("/get-session", Some(&cookie)).await;
    assert_eq!(r.text, "null");
    assert!(r
        .set_cookie("better-auth.session_token")
        .unwrap()
        .contains("Max-Age=0"));
    assert_eq!(srv.count("session").await, 0);
    srv.stop().await;
}

async fn dont_remember_sessions_are_not_refreshed(b: Backend) {
    let Some(srv) = TestServer::start(b).await else {
        return;
    };
    srv.sign_up("hal@example.com", "password123").await;
    let r = srv
        .post(
            "/sign-in/email",
            json!({"email": "hal@example.com", "password": "password123", "rememberMe": false}),
            None,
        )
        .await;
    let token = r.json()["token"].as_str().unwrap().to_owned();
    let cookie = format!(
        "{}; {}",
        r.cookie_pair("better-auth.session_token"),
        r.cookie_pair("better-auth.dont_remember")
    );
    set_expiry(&srv, &token, 3600).await;
    let s = srv.get("/get-session", Some(&cookie)).await;
    assert!(s.set_cookies().is_empty());
    assert!(expires_in_days(&s.json()) < 0.05);
    srv.stop().await;
}

async fn forged_or_foreign_cookies_are_no_session(b: Backend) {
    let Some(srv) = TestServer::start(b).await else {
        return;
    };
    let up = srv.sign_up("ida@example.com", "password123").await;
    let token = up.json()["token"].as_str().unwrap().to_owned();
    for cookie in [
        format!("better-auth.session_token={token}"),
        format!("better-auth.session_token={token}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA%3D"),
        "better-auth.session_token=garbage".to_owned(),
        format!(
            "other.session_token={}",
            up.cookie_pair("better-auth.session_token")
                .split('=')
                .nth(1)
                .unwrap()
        ),
    ] {
        let r = srv.get("/get-session", Some(&cookie)).await;
        assert_eq!((r.status, r.text.as_str()), (200, "null"), "{cookie}");
    }
    // A session cookie signed with another secret is not ours.
    let foreign =
        better_auth_server::crypto::signing::sign("another-secret-0123456789abcdef0123456", &token);
    let cookie = format!(
        "better-auth.session_token={}",
        better_auth_server::cookies::encode_uri_component(&foreign)
    );
    assert_eq!(srv.get("/get-session", Some(&cookie)).await.text, "null");
    srv.stop().await;
}

/// Concurrent lookups share queries (store::session_batch): each request still gets its own
/// user, and a sign-out is seen by every request that follows it.
async fn concurrent_lookups_get_their_own_sessions(b: Backend) {
    let Some(srv) = TestServer::start(b).await else {
        return;
    };
    let mut cookies = Vec::new();
    for i in 0..12 {
        let up = srv
            .sign_up(&format!("batch{i}@example.com"), "password123")
            .await;
        cookies.push(up.cookie_pair("better-auth.session_token"));
    }
    let lookups = (0..240).map(|n| {
        let (i, cookie) = (n % cookies.len(), &cookies[n % cookies.len()]);
        let srv = &srv;
        async move { (i, srv.get("/get-session", Some(cookie)).await) }
    });
    for (i, resp) in futures_util::future::join_all(lookups).await {
        assert_eq!(resp.status, 200, "{}", resp.text);
        assert_eq!(
            resp.json()["user"]["email"],
            format!("batch{i}@example.com")
        );
    }
    let out = srv.post("/sign-out", json!({}), Some(&cookies[0])).await;
    assert_eq!(out.status, 200, "{}", out.text);
    let after = (0..20).map(|_| srv.get("/get-session", Some(&cookies[0])));
    for resp in futures_util::future::join_all(after).await {
        assert_eq!(resp.text, "null");
    }
    srv.stop().await;
}

/// `session.defer_session_refresh` (upstream's `deferSessionRefresh`, for read replicas):
/// reads never write; GET answers `needsRefresh` and POST, as the client then sends it,
/// refreshes; an expired row is deleted by POST only.
async fn deferred_refresh_writes_only_on_post(b: Backend) {
    let Some(srv) = TestServer::start_with(b, |c| c.session.defer_refresh = true).await else {
        return;
    };
    let up = srv.sign_up("dee@example.com", "password123").await;
    let token = up.json()["token"].as_str().unwrap().to_owned();
    let cookie = up.cookie_pair("better-auth.session_token");
    let fresh = srv.get("/get-session", Some(&cookie)).await.json();
    assert_eq!(fresh["needsRefresh"], false, "{fresh}");

    set_expiry(&srv, &token, 5 * 86_400).await;
    for _ in 0..2 {
        let read = srv.get("/get-session", Some(&cookie)).await;
        let body = read.json();
        assert_eq!(body["needsRefresh"], true, "{body}");
        assert!(expires_in_days(&body) < 5.01, "GET wrote nothing");
        assert!(read.set_cookie("better-auth.session_token").is_none());
    }
    // Routes behind the session middleware read the same way.
    let listed = srv.get("/list-sessions", Some(&cookie)).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert!(listed.set_cookie("better-auth.session_token").is_none());

    let refreshed = srv.post("/get-session", json!({}), Some(&cookie)).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.text);
    assert_eq!(refreshed.header("cache-control"), Some("no-store"));
    let body = refreshed.json();
    assert!(body.get("needsRefresh").is_none(), "{body}");
    assert!(expires_in_days(&body) > 6.99);
    let line = refreshed.set_cookie("better-auth.session_token").unwrap();
    assert!(line.contains("Max-Age=604800"), "{line}");
    let after = srv.get("/get-session", Some(&cookie)).await.json();
    assert_eq!(after["needsRefresh"], false, "{after}");
    assert!(expires_in_days(&after) > 6.99);

    set_expiry(&srv, &token, -10).await;
    let read = srv.get("/get-session", Some(&cookie)).await;
    assert_eq!(read.text, "null");
    assert!(read
        .set_cookie("better-auth.session_token")
        .is_some_and(|c| c.contains("Max-Age=0")));
    assert_eq!(srv.count("session").await, 1, "GET deletes nothing");
    let cleaned = srv.post("/get-session", json!({}), Some(&cookie)).await;
    assert_eq!(cleaned.text, "null");
    assert_eq!(srv.count("session").await, 0);
    srv.stop().await;
}

/// A session deleted between its read and its refresh (a concurrent sign-out on another
/// replica): upstream's 401 FAILED_TO_GET_SESSION, cookies expired; not a session, not null.
async fn a_session_gone_during_its_refresh_is_a_401(b: Backend) {
    let Some(srv) = TestServer::start(b).await else {
        return;
    };
    let up = srv.sign_up("ray@example.com", "password123").await;
    let token = up.json()["token"].as_str().unwrap().to_owned();
    let cookie = up.cookie_pair("better-auth.session_token");
    set_expiry(&srv, &token, 5 * 86_400).await;
    // The memory cache now holds the session, due for a refresh; the row then goes
    // behind the server's back, so the next read finds it and its refresh does not.
    let read = srv
        .get("/get-session?disableRefresh=true", Some(&cookie))
        .await;
    assert_eq!(read.json()["session"]["token"], token.as_str());
    srv.execute(&format!(
        "delete from \"session\" where \"token\" = '{token}'"
    ))
    .await;
    let r = srv.get("/get-session", Some(&cookie)).await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(r.json()["code"], "FAILED_TO_GET_SESSION");
    assert!(r
        .set_cookie("better-auth.session_token")
        .is_some_and(|c| c.contains("Max-Age=0")));
    srv.stop().await;
}

on_both_databases!(
    concurrent_lookups_get_their_own_sessions,
    refresh_after_update_age,
    expired_session_is_removed,
    dont_remember_sessions_are_not_refreshed,
    forged_or_foreign_cookies_are_no_session,
    post_get_session_is_not_cacheable,
    deferred_refresh_writes_only_on_post,
    a_session_gone_during_its_refresh_is_a_401,
);
