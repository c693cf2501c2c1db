//! Sign-up, sign-in and sign-out: shapes, cookies, errors (spec core-endpoints §1).

use serde_json::json;

use crate::harness::{Backend, TestServer};
use crate::on_both_databases;

const ISO: &str = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$";

fn assert_iso(v: &serde_json::Value) {
    let re = regex::Regex::new(ISO).unwrap();
    assert!(
        re.is_match(v.as_str().unwrap_or_default()),
        "not an ISO date: {v}"
    );
}

async fn sign_up_then_session_then_sign_out(b: Backend) {
    let Some(srv) = TestServer::start(b).await else {
        return;
    };
    let resp = srv
        .sign_up("Ann.Lee@Example.COM", "correct horse battery")
        .await;
    let body = resp.json();
    let token = body["token"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 32);
    let user = &body["user"];
    assert_eq!(
        user["email"], "ann.lee@example.com",
        "emails are stored lower-cased"
    );
    assert_eq!(user["emailVerified"], false);
    assert_eq!(user["image"], serde_json::Value::Null);
    assert_eq!(user["id"].as_str().unwrap().len(), 32);
    assert_iso(&user["createdAt"]);
    assert_iso(&user["updatedAt"]);
    let keys: Vec<_> = user.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys.len(), 7, "{keys:?}");

    let line = resp.set_cookie("better-auth.session_token").unwrap();
    assert!(
        line.ends_with("; Max-Age=604800; Path=/; HttpOnly; SameSite=Lax"),
        "{line}"
    );
    let cookie = resp.cookie_pair("better-auth.session_token");
    assert!(cookie.starts_with(&format!("better-auth.session_token={token}.")));
    assert!(
        cookie.ends_with("%3D"),
        "signature is URL-encoded base64 with padding: {cookie}"
    );

    let s = srv.get("/get-session", Some(&cookie)).await;
    assert_eq!(s.status, 200);
    assert_eq!(s.header("cache-control"), Some("no-store"));
    let sb = s.json();
    assert_eq!(sb["session"]["token"], token.as_str());
    assert_eq!(sb["session"]["userId"], user["id"]);
    assert_eq!(sb["user"], *user);
    assert_iso(&sb["session"]["expiresAt"]);
    assert!(
        s.set_cookies().is_empty(),
        "a fresh session is not refreshed"
    );

    let out = srv.post("/sign-out", json!({}), Some(&cookie)).await;
    assert_eq!(out.status, 200);
    assert_eq!(out.json(), json!({"success": true}));
    assert_eq!(
        out.set_cookie("better-auth.session_token").unwrap(),
        "better-auth.session_token=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax"
    );
    assert!(out.set_cookie("better-auth.session_data").is_some());
    assert!(out.set_cookie("better-auth.dont_remember").is_some());
    assert_eq!(
        srv.count("session").await,
        0,
        "sign-out deletes the session row"
    );

    let after = srv.get("/get-session", Some(&cookie)).await;
    assert_eq!(after.status, 200);
    assert_eq!(after.text, "null");
    srv.stop().await;
}

async fn sign_in_with_and_without_remember_me(b: Backend) {
    let Some(srv) = TestServer::start(b).await else {
        return;
    };
    srv.sign_up("bob@example.com", "password123").await;

    let r = srv
        .post(
            "/sign-in/email",
            json!({"email": "BOB@example.com", "password": "password123"}),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let body = r.json();
    assert_eq!(body["redirect"], false);
    assert!(body.get("url").is_none());
    assert_eq!(body["user"]["email"], "bob@example.com");
    assert!(r.set_cookie("better-auth.dont_remember").is_none());

    let r = srv
        .post(
            "/sign-in/email",
            json!({"email": "bob@example.com", "password": "password123", "rememberMe": false, "callbackURL": "/dashboard"}),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    let body = r.json();
    assert_eq!(body["redirect"], true);
    assert_eq!(body["url"], "/dashboard");
    assert_eq!(r.header("location"), Some("/dashboard"));
    let session_line = r.set_cookie("better-auth.session_token").unwrap();
    assert!(
        !session_line.contains("Max-Age"),
        "browser-session cookie: {session_line}"
    );
    let marker = r.set_cookie("better-auth.dont_remember").unwrap();
    assert!(
        marker.starts_with("better-auth.dont_remember=true."),
        "{marker}"
    );
    let cookie = format!(
        "{}; {}",
        r.cookie_pair("better-auth.session_token"),
        r.cookie_pair("better-auth.dont_remember")
    );
    let s = srv.get("/get-session", Some(&cookie)).await.json();
    let expires =
        chrono::DateTime::parse_from_rfc3339(s["session"]["expiresAt"].as_str().unwrap()).unwrap();
    let hours =
        (expires.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_minutes() as f64 / 60.0;
    assert!(
        (23.0..=24.1).contains(&hours),
        "don't-remember sessions last one day, got {hours}h"
    );

    // Form-encoded sign-in, as a plain HTML form posts it.
    let form = "email=bob%40example.com&password=password123";
    let r = srv
        .send(
            reqwest::Method::POST,
            "/sign-in/email",
            Some("application/x-www-form-urlencoded"),
            form.into(),
        )
        .await;
    assert_eq!(r.status, 200);
    srv.stop().await;
}

async fn credential_errors_do_not_reveal_accounts(b: Backend) {
    let Some(srv) = TestServer::start(b).await else {
        return;
    };
    srv.sign_up("carol@example.com", "password123").await;
    let wrong = srv
        .post(
            "/sign-in/email",
            json!({"email": "carol@example.com", "password": "nope-nope"}),
            None,
        )
        .await;
    let unknown = srv
        .post(
            "/sign-in/email",
            json!({"email": "nobody@example.com", "password": "nope-nope"}),
            None,
        )
        .await;
    assert_eq!(
        wrong.error(),
        (
            401,
            "INVALID_EMAIL_OR_PASSWORD".into(),
            "Invalid email or password".into()
        )
    );
    assert_eq!(wrong.text, unknown.text);
    assert_eq!(wrong.status, unknown.status);
    assert!(wrong.set_cookies().is_empty());

    // The unknown address costs a hash too. The fastest of several runs estimates the
    // intrinsic cost; medians would mostly measure the other tests running in parallel.
    let mut fastest = [f64::MAX, f64::MAX];
    for _ in 0..7 {
        for (i, email) in ["carol@example.com", "nobody@example.com"]
            .iter()
            .enumerate()
        {
            let t = std::time::Instant::now();
            srv.post(
                "/sign-in/email",
                json!({"email": email, "password": "nope-nope"}),
                None,
            )
            .await;
            fastest[i] = fastest[i].min(t.elapsed().as_secs_f64());
        }
    }
    let [known, unknown] = fastest;
    assert!(
        unknown > known / 2.0 && unknown < known * 2.0,
        "unknown email {unknown:.4}s vs wrong password {known:.4}s"
    );
    srv.stop().await;
}

async fn sign_up_errors(b: Backend) {
    let Some(srv) = TestServer::start(b).await else {
        return;
    };
    srv.sign_up("dave@example.com", "password123").await;
    let dup = srv
        .post(
            "/sign-up/email",
            json!({"name": "D", "email": "DAVE@example.com", "password": "password123"}),
            None,
        )
        .await;
    assert_eq!(
        dup.error(),
        (
            422,
            "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL".into(),
            "User already exists. Use another email.".into()
        )
    );
    let short = srv
        .post(
            "/sign-up/email",
            json!({"name": "E", "email": "e@example.com", "password": "1234567"}),
            None,
        )
        .await;
    assert_eq!(
        short.error(),
        (
            400,
            "PASSWORD_TOO_SHORT".into(),
            "Password too short".into()
        )
    );
    let long = srv
        .post(
            "/sign-up/email",
            json!({"name": "E", "email": "e@example.com", "password": "x".repeat(129)}),
            None,
        )
        .await;
    assert_eq!(
        long.error(),
        (400, "PASSWORD_TOO_LONG".into(), "Password too long".into())
    );
    let invalid = srv
        .post(
            "/sign-up/email",
            json!({"name": 1, "email": "bad", "password": ""}),
            None,
        )
        .await;
    assert_eq!(
        invalid.error(),
        (
            400,
            "VALIDATION_ERROR".into(),
            "[body.name] Invalid input: expected string, received number; [body.email] Invalid email address; \
             [body.password] Too small: expected string to have >=1 characters"
                .into()
        )
    );
    let bad_email = srv
        .post(
            "/sign-in/email",
            json!({"email": "not-an-email", "password": "x"}),
            None,
        )
        .await;
    assert_eq!(
        bad_email.error(),
        (400, "INVALID_EMAIL".into(), "Invalid email".into())
    );
    let bad_flag = srv
        .post(
            "/sign-in/email",
            json!({"email": "dave@example.com", "password": "x", "rememberMe": "no"}),
            None,
        )
        .await;
    assert_eq!(
        bad_flag.error().2,
        "[body.rememberMe] Invalid input: expected boolean, received string"
    );
    assert_eq!(srv.count("user").await, 1, "failed sign-ups write nothing");
    assert_eq!(srv.count("account").await, 1);
    srv.stop().await;
}

async fn concurrent_sign_ups_with_one_email_create_one_user(b: Backend) {
    let Some(srv) = TestServer::start(b).await else {
        return;
    };
    let body = json!({"name": "Race", "email": "race@example.com", "password": "password123"});
    let (a, c) = tokio::join!(
        srv.post("/sign-up/email", body.clone(), None),
        srv.post("/sign-up/email", body.clone(), None)
    );
    let mut statuses = [a.status, c.status];
    statuses.sort();
    assert_eq!(statuses, [200, 422], "{} / {}", a.text, c.text);
    assert_eq!(srv.count("user").await, 1);
    assert_eq!(srv.count("account").await, 1);
    assert_eq!(srv.count("session").await, 1);
    srv.stop().await;
}

async fn router_answers_like_better_call(b: Backend) {
    let Some(srv) = TestServer::start(b).await else {
        return;
    };
    for (method, path) in [
        (reqwest::Method::GET, "/sign-up/email"),
        (reqwest::Method::POST, "/sign-up/email/"),
        (reqwest::Method::GET, "/does-not-exist"),
        (reqwest::Method::DELETE, "/get-session"),
    ] {
        let r = srv.raw(method.clone(), path).send().await.unwrap();
        assert_eq!(r.status(), 404, "{method} {path}");
        assert!(r.headers().get("content-type").is_none());
        assert_eq!(r.text().await.unwrap(), "");
    }
    let r = srv
        .send(
            reqwest::Method::POST,
            "/sign-up/email",
            Some("text/plain"),
            "hello".into(),
        )
        .await;
    assert_eq!(
        r.error(),
        (
            415,
            "UNSUPPORTED_MEDIA_TYPE".into(),
            "Content-Type \"text/plain\" is not allowed. Allowed types: application/x-www-form-urlencoded, application/json".into()
        )
    );
    let r = srv
        .send(
            reqwest::Method::POST,
            "/sign-in/email",
            Some("application/json"),
            "{not json".into(),
        )
        .await;
    assert_eq!(
        r.error(),
        (
            400,
            "BAD_REQUEST".into(),
            "Invalid JSON in request body".into()
        )
    );
    let empty = srv
        .send(reqwest::Method::POST, "/sign-up/email", None, String::new())
        .await;
    assert_eq!(
        empty.error().2,
        "[body] Invalid input: expected object, received undefined; [body] Invalid input: expected record, received undefined"
    );
    let ok = srv.get("/ok", None).await;
    assert_eq!(ok.json(), json!({"ok": true}));
    let page = srv.get("/error?error=<script>", None).await;
    assert!(page.text.contains("UNKNOWN") && !page.text.contains("<script>"));
    let huge = format!("{{\"email\":\"{}\"}}", "a".repeat(200_000));
    let big = srv
        .send(
            reqwest::Method::POST,
            "/sign-in/email",
            Some("application/json"),
            huge,
        )
        .await;
    assert_eq!(
        big.error(),
        (
            413,
            "PAYLOAD_TOO_LARGE".into(),
            "Request body is too large".into()
        ),
        "oversized bodies are refused with the error body"
    );
    srv.stop().await;
}

on_both_databases!(
    sign_up_then_session_then_sign_out,
    sign_in_with_and_without_remember_me,
    credential_errors_do_not_reveal_accounts,
    sign_up_errors,
    concurrent_sign_ups_with_one_email_create_one_user,
    router_answers_like_better_call,
);
