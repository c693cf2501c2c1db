//! Stateless mode (`DATABASE_URL=none`, upstream's Better Auth without a database): the
//! session lives in the `jwe` cookie cache, which is the authority on it; the rest lives in
//! memory until the process ends. A restarted server still knows the session from the
//! cookie, refreshes it before it ends, and never answers 5xx for what it forgot.

use better_auth_server::config::CookieCacheStrategy;
use serde_json::json;

use crate::harness::TestServer;

const DATA: &str = "better-auth.session_data";

fn jar(set_cookies: &[String]) -> String {
    set_cookies
        .iter()
        .filter(|c| !c.contains("Max-Age=0"))
        .map(|c| c.split(';').next().unwrap_or_default().to_owned())
        .collect::<Vec<_>>()
        .join("; ")
}

#[actix_web::test]
async fn sessions_outlive_the_process_in_the_cookie() {
    let srv = TestServer::start_stateless(|_| {}).await;
    let settings = &srv.state.config.session.cookie_cache;
    assert!(srv.state.config.stateless);
    assert!(settings.enabled);
    assert_eq!(settings.strategy, CookieCacheStrategy::Jwe);
    assert_eq!(settings.max_age, srv.state.config.session.expires_in);

    let up = srv.sign_up("memory@example.com", "password123").await;
    assert_eq!(up.status, 200, "{}", up.text);
    let data = up.set_cookie(DATA).expect("session cache");
    assert!(data.contains("Max-Age=604800"), "{data}");
    let cookie = jar(&up.set_cookies());

    // Restarted: nothing in memory, the cookie still carries the session.
    let restarted = srv.sibling(|_| {}).await;
    srv.stop().await;
    assert_eq!(restarted.count("session").await, 0);
    let found = restarted.get("/get-session", Some(&cookie)).await;
    assert_eq!(found.json()["user"]["email"], "memory@example.com");
    assert_eq!(restarted.get("/token", Some(&cookie)).await.status, 200);
    // What needs the forgotten rows is refused, not a server error.
    for (path, body) in [
        ("/update-user", json!({"name": "New"})),
        (
            "/change-password",
            json!({"currentPassword": "password123", "newPassword": "password456"}),
        ),
        ("/revoke-other-sessions", json!({})),
    ] {
        let r = restarted.post(path, body, Some(&cookie)).await;
        assert!(r.status < 500, "{path}: {} {}", r.status, r.text);
    }
    assert!(restarted.get("/list-sessions", Some(&cookie)).await.status < 500);
    // Signing out ends it: the cookies go.
    let out = restarted.post("/sign-out", json!({}), Some(&cookie)).await;
    assert_eq!(out.status, 200, "{}", out.text);
    assert!(out
        .set_cookie(DATA)
        .is_some_and(|c| c.contains("Max-Age=0")));
    restarted.stop().await;
}

#[actix_web::test]
async fn an_active_session_is_refreshed_before_its_cache_ends() {
    use std::time::Duration;
    use tokio::time::{sleep_until, Instant};
    // Deadlines from the moments the caches were written, not fixed sleeps: a loaded
    // machine may take a second between two requests.
    let short = |c: &mut better_auth_server::config::Config| {
        c.session.cookie_cache.max_age = 8;
        c.session.cookie_cache.refresh_update_age = Some(5);
    };
    let srv = TestServer::start_stateless(short).await;
    let up = srv.sign_up("refresh@example.com", "password123").await;
    // The first cache ends by then.
    let old_ends = Instant::now() + Duration::from_secs(8);
    let old = jar(&up.set_cookies());
    // More than update_age of the cache left: answered, nothing rewritten.
    let early = srv.get("/get-session", Some(&old)).await;
    assert!(early.set_cookies().is_empty(), "{:?}", early.set_cookies());
    sleep_until(old_ends - Duration::from_millis(4500)).await;
    // Less than update_age left: a new cache and token cookie.
    let new_ends = Instant::now() + Duration::from_secs(8);
    let late = srv.get("/get-session", Some(&old)).await;
    assert_eq!(late.json()["user"]["email"], "refresh@example.com");
    let renewed = late.set_cookie(DATA).expect("cache rewritten");
    assert!(renewed.contains("Max-Age=8"), "{renewed}");
    assert!(late.set_cookie("better-auth.session_token").is_some());
    let new = jar(&late.set_cookies());
    sleep_until(old_ends + Duration::from_millis(300)).await;
    // On a restarted server (no rows), the old cache has ended, the renewed one answers.
    let restarted = srv.sibling(short).await;
    srv.stop().await;
    assert_eq!(restarted.get("/get-session", Some(&old)).await.text, "null");
    let found = restarted.get("/get-session", Some(&new)).await;
    assert!(
        Instant::now() < new_ends,
        "the machine was too slow to tell"
    );
    assert_eq!(found.json()["user"]["email"], "refresh@example.com");
    restarted.stop().await;
}
