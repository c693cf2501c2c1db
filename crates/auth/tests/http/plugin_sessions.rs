//! multi-session, one-time-token and last-login-method over HTTP: the cookies they set,
//! forged and reused values, limits.

use std::collections::BTreeMap;

use reqwest::header::{COOKIE, SET_COOKIE};
use serde_json::json;

use crate::harness::{Backend, Resp, TestServer};
use crate::on_both_databases;

const SESSION: &str = "better-auth.session_token";

async fn start(b: Backend, plugins: &str, toml: &str) -> Option<TestServer> {
    TestServer::start_with_toml(b, toml, |c| {
        c.plugins = better_auth_server::plugins::from_config(
            Some(plugins),
            &crate::harness::plugin_tables(toml),
        )
        .unwrap();
    })
    .await
}

/// A browser's cookie jar.
#[derive(Default)]
struct Jar(BTreeMap<String, String>);

impl Jar {
    fn take(&mut self, r: &Resp) {
        for line in r.headers.get_all(SET_COOKIE) {
            let line = line.to_str().unwrap();
            let pair = line.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if line.contains("Max-Age=0") {
                self.0.remove(name);
            } else {
                self.0.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn multi(&self) -> Vec<&String> {
        self.0.keys().filter(|k| k.contains("_multi-")).collect()
    }
}

async fn send(
    srv: &TestServer,
    jar: &mut Jar,
    path: &str,
    body: Option<serde_json::Value>,
) -> Resp {
    let mut req = match &body {
        Some(b) => srv
            .raw(reqwest::Method::POST, path)
            .header("content-type", "application/json")
            .header("origin", &srv.origin)
            .body(b.to_string()),
        None => srv.raw(reqwest::Method::GET, path),
    };
    if !jar.0.is_empty() {
        req = req.header(COOKIE, jar.header());
    }
    let r = Resp::from(req.send().await.unwrap()).await;
    jar.take(&r);
    r
}

async fn account_switching(b: Backend) {
    let Some(srv) = start(
        b,
        "multi-session",
        "[plugins.multi_session]\nmaximum_sessions = 2\n",
    )
    .await
    else {
        return;
    };
    for email in ["a@example.com", "b@example.com", "c@example.com"] {
        srv.sign_up(email, "password-123").await;
    }
    let mut jar = Jar::default();
    let sign_in = |email: &'static str| json!({"email": email, "password": "password-123"});
    send(
        &srv,
        &mut jar,
        "/sign-in/email",
        Some(sign_in("a@example.com")),
    )
    .await;
    send(
        &srv,
        &mut jar,
        "/sign-in/email",
        Some(sign_in("b@example.com")),
    )
    .await;
    assert_eq!(jar.multi().len(), 2, "{:?}", jar.0.keys());
    let cookie_name = jar.multi()[0].clone();
    assert!(cookie_name.starts_with("better-auth.session_token_multi-"));
    let token = cookie_name.rsplit('-').next().unwrap();
    assert_eq!(
        token,
        token.to_lowercase(),
        "the token in the name is lower case"
    );

    let list = send(&srv, &mut jar, "/multi-session/list-device-sessions", None).await;
    let emails: Vec<String> = list
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["user"]["email"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(emails.len(), 2, "{}", list.text);
    assert!(emails.contains(&"a@example.com".to_owned()));

    // Past the maximum no third cookie is added.
    send(
        &srv,
        &mut jar,
        "/sign-in/email",
        Some(sign_in("c@example.com")),
    )
    .await;
    assert_eq!(jar.multi().len(), 2);
    // Signing in as a again replaces a's earlier session instead of adding one.
    let before = srv.count("session").await;
    send(
        &srv,
        &mut jar,
        "/sign-in/email",
        Some(sign_in("a@example.com")),
    )
    .await;
    assert_eq!(
        srv.count("session").await,
        before,
        "a's older session ended"
    );
    assert_eq!(jar.multi().len(), 2);

    // Set-active: the session of one of the browser's cookies becomes the session cookie.
    let a_token = {
        let list = send(&srv, &mut jar, "/multi-session/list-device-sessions", None).await;
        list.json()
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["user"]["email"] == "b@example.com")
            .map(|s| s["session"]["token"].as_str().unwrap().to_owned())
            .unwrap()
    };
    let r = send(
        &srv,
        &mut jar,
        "/multi-session/set-active",
        Some(json!({"sessionToken": a_token})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["user"]["email"], "b@example.com");
    let session = send(&srv, &mut jar, "/get-session", None).await;
    assert_eq!(session.json()["user"]["email"], "b@example.com");

    // A token this browser holds no signed cookie for, or a forged cookie: refused.
    let r = send(
        &srv,
        &mut jar,
        "/multi-session/set-active",
        Some(json!({"sessionToken": "x".repeat(32)})),
    )
    .await;
    assert_eq!(
        r.error(),
        (
            401,
            "INVALID_SESSION_TOKEN".into(),
            "Invalid session token".into()
        )
    );
    let mut forged = Jar::default();
    forged.0.insert(
        format!("better-auth.session_token_multi-{}", a_token.to_lowercase()),
        format!("{a_token}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA%3D"),
    );
    let r = send(
        &srv,
        &mut forged,
        "/multi-session/set-active",
        Some(json!({"sessionToken": a_token})),
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.text);
    let r = send(
        &srv,
        &mut forged,
        "/multi-session/list-device-sessions",
        None,
    )
    .await;
    assert_eq!(r.json(), json!([]));

    // Revoke the active one: the next becomes active.
    let r = send(
        &srv,
        &mut jar,
        "/multi-session/revoke",
        Some(json!({"sessionToken": a_token})),
    )
    .await;
    assert_eq!(r.json(), json!({"status": true}), "{}", r.text);
    let session = send(&srv, &mut jar, "/get-session", None).await;
    assert_eq!(session.json()["user"]["email"], "a@example.com");

    // Sign-out ends every session of the browser and clears the cookies.
    let r = send(&srv, &mut jar, "/sign-out", Some(json!({}))).await;
    assert_eq!(r.status, 200);
    assert!(jar.multi().is_empty(), "{:?}", jar.0.keys());
    assert!(!jar.0.contains_key(SESSION));
    srv.stop().await;
}

async fn one_time_tokens(b: Backend) {
    let Some(srv) = start(b, "one-time-token", "").await else {
        return;
    };
    let up = srv.sign_up("a@example.com", "password-123").await;
    let cookie = up.cookie_pair(SESSION);
    assert_eq!(srv.get("/one-time-token/generate", None).await.status, 401);
    let r = srv.get("/one-time-token/generate", Some(&cookie)).await;
    let token = r.json()["token"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 32);
    let stored = srv
        .query_one(&format!(
            r#"select "value" from "verification" where "identifier" = 'one-time-token:{token}'"#
        ))
        .await
        .expect("stored plain, as upstream's default");
    assert_eq!(
        stored.try_get::<String>("", "value").unwrap(),
        up.json()["token"].as_str().unwrap()
    );
    let r = srv
        .post("/one-time-token/verify", json!({"token": token}), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["user"]["email"], "a@example.com");
    assert!(r.set_cookie(SESSION).is_some(), "the session cookie is set");
    let reuse = srv
        .post("/one-time-token/verify", json!({"token": token}), None)
        .await;
    assert_eq!(reuse.status, 400);
    assert_eq!(reuse.json(), json!({"message": "Invalid token"}));
    // Expired.
    let r = srv.get("/one-time-token/generate", Some(&cookie)).await;
    let token = r.json()["token"].as_str().unwrap().to_owned();
    srv.execute(&format!(
        r#"update "verification" set "expiresAt" = '2020-01-01T00:00:00.000Z' where "identifier" = 'one-time-token:{token}'"#
    ))
    .await;
    let r = srv
        .post("/one-time-token/verify", json!({"token": token}), None)
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    let r = srv
        .post("/one-time-token/verify", json!({"token": ["x"]}), None)
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], "VALIDATION_ERROR");
    srv.stop().await;

    let Some(srv) = start(
        b,
        "one-time-token",
        "[plugins.one_time_token]\nstore_token = \"hashed\"\n",
    )
    .await
    else {
        return;
    };
    let cookie = srv
        .sign_up("a@example.com", "password-123")
        .await
        .cookie_pair(SESSION);
    let token = srv
        .get("/one-time-token/generate", Some(&cookie))
        .await
        .json()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        srv.query_one(&format!(
            r#"select 1 as x from "verification" where "identifier" = 'one-time-token:{token}'"#
        ))
        .await
        .is_none(),
        "not stored plain"
    );
    let r = srv
        .post("/one-time-token/verify", json!({"token": token}), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    srv.stop().await;

    // `set-ott` on a new session, readable by a browser app on a trusted origin and named
    // in the answer's exposed headers without one, beside bearer's `set-auth-token`.
    let Some(srv) = start(
        b,
        "one-time-token",
        "[plugins.one_time_token]\nset_ott_header_on_new_session = true\n",
    )
    .await
    else {
        return;
    };
    srv.sign_up("a@example.com", "password-123").await;
    for origin in [Some(srv.origin.clone()), None] {
        let mut req = srv
            .raw(reqwest::Method::POST, "/sign-in/email")
            .header("content-type", "application/json")
            .body(json!({"email": "a@example.com", "password": "password-123"}).to_string());
        if let Some(origin) = &origin {
            req = req.header("origin", origin);
        }
        let r = Resp::from(req.send().await.unwrap()).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let exposed = r
            .header("access-control-expose-headers")
            .unwrap_or_default();
        assert!(
            exposed.contains("set-ott") && exposed.contains("set-auth-token"),
            "{origin:?}: {exposed}"
        );
        let ott = r.header("set-ott").expect("set-ott").to_owned();
        let verified = srv
            .post("/one-time-token/verify", json!({"token": ott}), None)
            .await;
        assert_eq!(verified.status, 200, "{}", verified.text);
        assert_eq!(verified.json()["user"]["email"], "a@example.com");
    }
    srv.stop().await;
}

async fn last_login_method(b: Backend) {
    let toml = "[plugins.last_login_method]\nstore_in_database = true\n";
    let Some(srv) = start(b, "last-login-method,username", toml).await else {
        return;
    };
    let r = srv
        .post(
            "/sign-up/email",
            json!({"name": "A", "email": "a@example.com", "password": "password-123", "username": "anna"}),
            None,
        )
        .await;
    assert_eq!(r.json()["user"]["lastLoginMethod"], "email", "{}", r.text);
    let cookie = r
        .set_cookie("better-auth.last_used_login_method")
        .expect("the cookie after sign-up");
    assert_eq!(
        cookie, "better-auth.last_used_login_method=email; Max-Age=2592000; Path=/; SameSite=Lax",
        "readable by scripts (no HttpOnly)"
    );
    // Upstream's default names no method for /sign-in/username: no cookie.
    let r = srv
        .post(
            "/sign-in/username",
            json!({"username": "anna", "password": "password-123"}),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.set_cookie("better-auth.last_used_login_method").is_none());
    // A failed sign-in sets nothing.
    let r = srv
        .post(
            "/sign-in/email",
            json!({"email": "a@example.com", "password": "wrong-password"}),
            None,
        )
        .await;
    assert!(r.set_cookie("better-auth.last_used_login_method").is_none());
    srv.stop().await;

    let toml = "[plugins.last_login_method]\nstore_in_database = true\nmethods = { \"/sign-in/username\" = \"username\" }\n";
    let Some(srv) = start(b, "last-login-method,username", toml).await else {
        return;
    };
    srv.post(
        "/sign-up/email",
        json!({"name": "A", "email": "a@example.com", "password": "password-123", "username": "anna"}),
        None,
    )
    .await;
    let r = srv
        .post(
            "/sign-in/username",
            json!({"username": "anna", "password": "password-123"}),
            None,
        )
        .await;
    assert!(r
        .set_cookie("better-auth.last_used_login_method")
        .is_some_and(|c| c.starts_with("better-auth.last_used_login_method=username;")));
    let row = srv
        .query_one(r#"select "lastLoginMethod" as m from "user""#)
        .await
        .unwrap();
    assert_eq!(row.try_get::<String>("", "m").unwrap(), "username");
    srv.stop().await;
}

on_both_databases!(account_switching, one_time_tokens, last_login_method);
