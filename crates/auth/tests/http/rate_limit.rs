//! Rate limiting as upstream (rules, 429 + X-Retry-After), client addresses behind trusted
//! proxies only, and counters shared through the database by several servers.

use better_auth_server::config::{Limit, RateLimitStorage};
use reqwest::Method;
use serde_json::json;

use crate::harness::{Backend, Resp, TestServer};
use crate::on_both_databases;

async fn sign_in(srv: &TestServer, forwarded_for: Option<&str>) -> Resp {
    let mut req = srv
        .raw(Method::POST, "/sign-in/email")
        .header("content-type", "application/json")
        .body(json!({"email": "nobody@example.com", "password": "wrong-password"}).to_string());
    if let Some(ip) = forwarded_for {
        req = req.header("x-forwarded-for", ip);
    }
    Resp::from(req.send().await.unwrap()).await
}

fn assert_refused(resp: &Resp) {
    assert_eq!(resp.status, 429, "{}", resp.text);
    let retry: u64 = resp.header("x-retry-after").unwrap().parse().unwrap();
    assert!((1..=10).contains(&retry), "X-Retry-After {retry}");
    // better-auth 1.7.29 `rateLimitResponse` (earlier releases sent no type: text/plain).
    assert_eq!(resp.header("content-type"), Some("application/json"));
    assert_eq!(
        resp.json(),
        json!({"message": "Too many requests. Please try again later."})
    );
}

async fn sign_in_allows_three_per_window_then_refuses(b: Backend) {
    let Some(srv) = TestServer::start_with(b, |c| c.rate_limit.enabled = true).await else {
        return;
    };
    for _ in 0..3 {
        assert_eq!(sign_in(&srv, None).await.status, 401);
    }
    assert_refused(&sign_in(&srv, None).await);
    // Another path has its own counter (and the default 100 per 10 s).
    assert_eq!(srv.get("/get-session", None).await.status, 200);
    // Spoofed X-Forwarded-For from a direct client changes nothing.
    assert_refused(&sign_in(&srv, Some("198.51.100.1")).await);
    srv.stop().await;
}

async fn default_and_custom_rules_apply_to_every_path(b: Backend) {
    let Some(srv) = TestServer::start_with(b, |c| {
        c.rate_limit.enabled = true;
        c.rate_limit.default = Limit { window: 10, max: 5 };
        c.rate_limit.rules = vec![better_auth_server::config::RateLimitRule {
            path: "/ok".into(),
            limit: None,
        }];
    })
    .await
    else {
        return;
    };
    for _ in 0..5 {
        assert_eq!(srv.get("/get-session", None).await.status, 200);
    }
    assert_refused(&srv.get("/get-session", None).await);
    // Exempted by the custom rule.
    for _ in 0..8 {
        assert_eq!(srv.get("/ok", None).await.status, 200);
    }
    srv.stop().await;
}

async fn forwarded_for_counts_only_behind_a_trusted_proxy(b: Backend) {
    let Some(srv) = TestServer::start_with(b, |c| {
        c.rate_limit.enabled = true;
        c.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await
    else {
        return;
    };
    // Behind our proxy each client has its own counter.
    for _ in 0..3 {
        assert_eq!(sign_in(&srv, Some("198.51.100.1")).await.status, 401);
    }
    assert_refused(&sign_in(&srv, Some("198.51.100.1")).await);
    assert_eq!(sign_in(&srv, Some("198.51.100.2")).await.status, 401);
    // A client cannot prepend its way out: the right-most untrusted hop counts.
    assert_refused(&sign_in(&srv, Some("203.0.113.5, 198.51.100.1")).await);

    // The session records the client, not the proxy.
    let up = srv
        .raw(Method::POST, "/sign-up/email")
        .header("content-type", "application/json")
        .header("x-forwarded-for", "192.0.2.44")
        .body(
            json!({"name": "P", "email": "proxy@example.com", "password": "password123"})
                .to_string(),
        );
    let up = Resp::from(up.send().await.unwrap()).await;
    assert_eq!(up.status, 200, "{}", up.text);
    let row = srv
        .query_one(r#"select "ipAddress" from "session""#)
        .await
        .unwrap();
    assert_eq!(
        row.try_get::<String>("", "ipAddress").unwrap(),
        "192.0.2.44"
    );
    srv.stop().await;
}

async fn database_counters_are_shared_by_replicas(b: Backend) {
    let enable = |c: &mut better_auth_server::config::Config| {
        c.rate_limit.enabled = true;
        c.rate_limit.storage = RateLimitStorage::Database;
    };
    let Some(a) = TestServer::start_with(b, enable).await else {
        return;
    };
    let replica = a.sibling(enable).await;
    assert_eq!(sign_in(&a, None).await.status, 401);
    assert_eq!(sign_in(&replica, None).await.status, 401);
    assert_eq!(sign_in(&a, None).await.status, 401);
    assert_refused(&sign_in(&replica, None).await);
    assert_refused(&sign_in(&a, None).await);
    // Upstream's row: key "<ip>|<path>", the count, lastRequest in ms.
    let row = a
        .query_one(r#"select "key", "count", "lastRequest" from "rateLimit""#)
        .await
        .unwrap();
    assert_eq!(
        row.try_get::<String>("", "key").unwrap(),
        "127.0.0.1|/sign-in/email"
    );
    assert!(row.try_get::<i32>("", "count").unwrap() > 3);
    let last: i64 = row.try_get("", "lastRequest").unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    assert!((now - 20_000..=now).contains(&last), "{last} vs {now}");
    replica.stop().await;
    a.stop().await;
}

async fn concurrent_requests_cannot_share_the_last_slot(b: Backend) {
    let enable = |c: &mut better_auth_server::config::Config| {
        c.rate_limit.enabled = true;
        c.rate_limit.storage = RateLimitStorage::Database;
    };
    let Some(a) = TestServer::start_with(b, enable).await else {
        return;
    };
    let replica = a.sibling(enable).await;
    let requests = (0..12).map(|i| {
        let srv = if i % 2 == 0 { &a } else { &replica };
        sign_in(srv, None)
    });
    let statuses: Vec<u16> = futures_util::future::join_all(requests)
        .await
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        9,
        "{statuses:?}"
    );
    replica.stop().await;
    a.stop().await;
}

async fn turned_off_nothing_is_refused(b: Backend) {
    let Some(srv) = TestServer::start(b).await else {
        return;
    };
    assert!(!srv.state.config.rate_limit.enabled);
    for _ in 0..6 {
        assert_eq!(sign_in(&srv, None).await.status, 401);
    }
    srv.stop().await;
}

on_both_databases!(
    sign_in_allows_three_per_window_then_refuses,
    default_and_custom_rules_apply_to_every_path,
    forwarded_for_counts_only_behind_a_trusted_proxy,
    database_counters_are_shared_by_replicas,
    concurrent_requests_cannot_share_the_last_slot,
    turned_off_nothing_is_refused,
);
