//! The bearer plugin: `Authorization: Bearer` works where the cookie does; `set-auth-token`.

use reqwest::Method;
use serde_json::json;

use crate::harness::{Backend, Resp, TestServer};
use crate::on_both_databases;

async fn with_bearer(srv: &TestServer, method: Method, path: &str, token: &str) -> Resp {
    let req = srv
        .raw(method, path)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body("{}");
    Resp::from(req.send().await.unwrap()).await
}

async fn bearer_tokens_work_like_the_cookie(b: Backend) {
    let Some(srv) = TestServer::start(b).await else {
        return;
    };
    let up = srv.sign_up("bearer@example.com", "password123").await;
    let raw = up.json()["token"].as_str().unwrap().to_owned();
    let signed = up
        .header("set-auth-token")
        .expect("set-auth-token on sign-up")
        .to_owned();
    let cookie_value = up.cookie_pair("better-auth.session_token");
    let decoded = percent_encoding::percent_decode_str(cookie_value.split_once('=').unwrap().1)
        .decode_utf8()
        .unwrap();
    assert_eq!(
        signed, decoded,
        "set-auth-token is the decoded signed cookie value"
    );
    assert!(signed.starts_with(&format!("{raw}.")));

    for token in [signed.as_str(), raw.as_str()] {
        let s = with_bearer(&srv, Method::GET, "/get-session", token).await;
        assert_eq!(s.json()["user"]["email"], "bearer@example.com", "{token}");
        assert_eq!(
            with_bearer(&srv, Method::GET, "/token", token).await.status,
            200
        );
    }
    // base64url signature without padding, as some clients re-encode it.
    let (t, sig) = signed.rsplit_once('.').unwrap();
    let url_safe = format!(
        "{t}.{}",
        sig.replace('+', "-")
            .replace('/', "_")
            .trim_end_matches('=')
    );
    assert_ne!(
        with_bearer(&srv, Method::GET, "/get-session", &url_safe)
            .await
            .text,
        "null"
    );

    let forged = format!("{raw}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    assert_eq!(
        with_bearer(&srv, Method::GET, "/get-session", &forged)
            .await
            .text,
        "null"
    );
    assert_eq!(
        with_bearer(&srv, Method::GET, "/token", &forged)
            .await
            .status,
        401
    );

    let signin = srv
        .post(
            "/sign-in/email",
            json!({"email": "bearer@example.com", "password": "password123"}),
            None,
        )
        .await;
    assert!(signin.header("set-auth-token").is_some());
    let failed = srv
        .post(
            "/sign-in/email",
            json!({"email": "bearer@example.com", "password": "wrong-one"}),
            None,
        )
        .await;
    assert!(failed.header("set-auth-token").is_none());

    // No cookie, so no Origin needed: sign-out with the bearer token ends that session.
    let out = with_bearer(&srv, Method::POST, "/sign-out", &signed).await;
    assert_eq!(out.status, 200, "{}", out.text);
    assert!(
        out.header("set-auth-token").is_none(),
        "expiring cookies carry no token"
    );
    assert_eq!(
        with_bearer(&srv, Method::GET, "/get-session", &signed)
            .await
            .text,
        "null"
    );
    srv.stop().await;
}

on_both_databases!(bearer_tokens_work_like_the_cookie);
