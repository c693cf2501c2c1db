//! Origin/CSRF checks (spec §7) and CORS for a web app on another origin.

use serde_json::json;

use crate::harness::{Backend, Resp, TestServer, APP_ORIGIN};
use crate::on_both_databases;

async fn cookie_requests_need_a_trusted_origin(b: Backend) {
    let Some(srv) = TestServer::start(b).await else {
        return;
    };
    let up = srv.sign_up("jo@example.com", "password123").await;
    let cookie = up.cookie_pair("better-auth.session_token");
    let sign_out = |origin: Option<&'static str>| {
        let mut req = srv
            .raw(reqwest::Method::POST, "/sign-out")
            .header("cookie", &cookie)
            .header("content-type", "application/json")
            .body("{}");
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        async move { Resp::from(req.send().await.unwrap()).await }
    };
    assert_eq!(
        sign_out(None).await.error(),
        (
            403,
            "MISSING_OR_NULL_ORIGIN".into(),
            "Missing or null Origin".into()
        )
    );
    assert_eq!(
        sign_out(Some("null")).await.error().1,
        "MISSING_OR_NULL_ORIGIN"
    );
    assert_eq!(
        sign_out(Some("http://evil.example")).await.error(),
        (403, "INVALID_ORIGIN".into(), "Invalid origin".into())
    );
    assert_eq!(
        srv.count("session").await,
        1,
        "refused sign-outs change nothing"
    );
    assert_eq!(sign_out(Some(APP_ORIGIN)).await.status, 200);
    assert_eq!(srv.count("session").await, 0);
    srv.stop().await;
}

async fn callback_urls_must_be_trusted(b: Backend) {
    let Some(srv) = TestServer::start(b).await else {
        return;
    };
    srv.sign_up("kim@example.com", "password123").await;
    for (url, ok) in [
        ("/dashboard", true),
        ("http://localhost:3000/welcome", true),
        ("https://evil.example/steal", false),
        ("//evil.example", false),
    ] {
        let r = srv
            .post(
                "/sign-in/email",
                json!({"email": "kim@example.com", "password": "password123", "callbackURL": url}),
                None,
            )
            .await;
        if ok {
            assert_eq!(r.status, 200, "{url}: {}", r.text);
        } else {
            assert_eq!(
                r.error(),
                (
                    403,
                    "INVALID_CALLBACK_URL".into(),
                    "Invalid callbackURL".into()
                ),
                "{url}"
            );
        }
    }
    let r = srv
        .post(
            "/sign-in/email",
            json!({"email": "kim@example.com", "password": "password123", "callbackURL": 5}),
            None,
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["message"],
        "Invalid callbackURL: expected a string"
    );
    srv.stop().await;
}

async fn login_csrf_is_blocked(b: Backend) {
    let Some(srv) = TestServer::start(b).await else {
        return;
    };
    srv.sign_up("lou@example.com", "password123").await;
    let attempt = |headers: &'static [(&'static str, &'static str)]| {
        let mut req = srv
            .raw(reqwest::Method::POST, "/sign-in/email")
            .header("content-type", "application/x-www-form-urlencoded")
            .body("email=lou%40example.com&password=password123");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        async move { Resp::from(req.send().await.unwrap()).await }
    };
    let nav = attempt(&[
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-mode", "navigate"),
        ("origin", "http://evil.example"),
    ])
    .await;
    assert_eq!(nav.error().1, "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED");
    let evil = attempt(&[("origin", "http://evil.example")]).await;
    assert_eq!(evil.error().1, "INVALID_ORIGIN");
    let same = attempt(&[
        ("sec-fetch-site", "same-site"),
        ("sec-fetch-mode", "cors"),
        ("origin", APP_ORIGIN),
    ])
    .await;
    assert_eq!(same.status, 200, "{}", same.text);
    srv.stop().await;
}

async fn cors_for_trusted_origins_only(b: Backend) {
    let Some(srv) = TestServer::start(b).await else {
        return;
    };
    let preflight = |origin: &'static str| {
        let req = srv
            .raw(reqwest::Method::OPTIONS, "/sign-in/email")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type");
        async move { Resp::from(req.send().await.unwrap()).await }
    };
    let ok = preflight(APP_ORIGIN).await;
    assert!(ok.status < 300);
    assert_eq!(ok.header("access-control-allow-origin"), Some(APP_ORIGIN));
    assert_eq!(ok.header("access-control-allow-credentials"), Some("true"));
    assert!(ok
        .header("access-control-allow-methods")
        .unwrap()
        .contains("POST"));
    let evil = preflight("http://evil.example").await;
    assert!(evil.header("access-control-allow-origin").is_none());

    let r = srv
        .raw(reqwest::Method::GET, "/get-session")
        .header("origin", APP_ORIGIN)
        .send()
        .await
        .unwrap();
    let r = Resp::from(r).await;
    assert_eq!(r.header("access-control-allow-origin"), Some(APP_ORIGIN));
    let exposed = r
        .header("access-control-expose-headers")
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        exposed.contains("set-auth-token") && exposed.contains("set-auth-jwt"),
        "{exposed}"
    );

    // Without Origin it is not a CORS request: no CORS headers (as from Better Auth),
    // except `Vary` for caches; a response carrying set-auth-token exposes it, as upstream.
    let plain = srv.get("/ok", None).await;
    for name in [
        "access-control-allow-origin",
        "access-control-allow-credentials",
        "access-control-expose-headers",
    ] {
        assert!(plain.header(name).is_none(), "{name} on a non-CORS request");
    }
    assert!(plain.header("vary").unwrap().contains("Origin"));
    let up = srv
        .send(
            reqwest::Method::POST,
            "/sign-up/email",
            Some("application/json"),
            json!({"email": "plain@example.com", "password": "password123", "name": "P"})
                .to_string(),
        )
        .await;
    assert_eq!(up.status, 200, "{}", up.text);
    assert!(up.header("set-auth-token").is_some());
    assert_eq!(
        up.header("access-control-expose-headers"),
        Some("set-auth-token")
    );
    assert!(up.header("access-control-allow-credentials").is_none());
    let cookie = up.cookie_pair("better-auth.session_token");
    let session = srv.get("/get-session", Some(&cookie)).await;
    assert!(session.header("set-auth-jwt").is_some());
    assert_eq!(
        session.header("access-control-expose-headers"),
        Some("set-auth-jwt")
    );
    srv.stop().await;
}

async fn https_base_url_uses_secure_cookies(b: Backend) {
    let Some(srv) = TestServer::start_with(b, |c| {
        c.base_url = url::Url::parse("https://auth.example.com/api/auth").unwrap();
    })
    .await
    else {
        return;
    };
    let up = srv.sign_up("max@example.com", "password123").await;
    let line = up.set_cookie("__Secure-better-auth.session_token").unwrap();
    assert!(
        line.ends_with("; Max-Age=604800; Path=/; HttpOnly; Secure; SameSite=Lax"),
        "{line}"
    );
    assert!(up.set_cookie("better-auth.session_token").is_none());
    let cookie = up.cookie_pair("__Secure-better-auth.session_token");
    assert_ne!(srv.get("/get-session", Some(&cookie)).await.text, "null");
    srv.stop().await;
}

on_both_databases!(
    cookie_requests_need_a_trusted_origin,
    callback_urls_must_be_trusted,
    login_csrf_is_blocked,
    cors_for_trusted_origins_only,
    https_base_url_uses_secure_cookies,
);
