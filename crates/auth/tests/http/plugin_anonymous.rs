//! The anonymous plugin over HTTP: sign-in, 1.7.29's origin checks, linking on a later
//! sign-up or sign-in, delete-anonymous-user.

use reqwest::Method;
use serde_json::json;

use crate::harness::{Backend, Resp, TestServer};
use crate::on_both_databases;

const COOKIE: &str = "better-auth.session_token";

async fn start(b: Backend, toml: &str) -> Option<TestServer> {
    TestServer::start_with_toml(b, toml, |c| {
        c.plugins = better_auth_server::plugins::from_config(
            Some("anonymous"),
            &crate::harness::plugin_tables(toml),
        )
        .unwrap();
    })
    .await
}

async fn anonymous(srv: &TestServer, headers: &[(&str, &str)]) -> Resp {
    let mut req = srv.raw(Method::POST, "/sign-in/anonymous");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    Resp::from(req.send().await.unwrap()).await
}

async fn sign_in_and_link(b: Backend) {
    let Some(srv) = start(b, "").await else {
        return;
    };
    let r = anonymous(&srv, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let body = r.json();
    let user = &body["user"];
    assert_eq!(user["isAnonymous"], true);
    assert_eq!(user["name"], "Anonymous");
    let email = user["email"].as_str().unwrap();
    assert!(email.ends_with("@anonymous.placeholder.invalid"), "{email}");
    assert_eq!(body["token"].as_str().unwrap().len(), 32);
    let cookie = r.cookie_pair(COOKIE);
    let anon_id = user["id"].as_str().unwrap().to_owned();

    // Once anonymous, not again.
    let again = srv
        .raw(Method::POST, "/sign-in/anonymous")
        .header("cookie", &cookie)
        .header("origin", &srv.origin)
        .send()
        .await
        .unwrap();
    let again = Resp::from(again).await;
    assert_eq!(
        again.error(),
        (
            400,
            "ANONYMOUS_USERS_CANNOT_SIGN_IN_AGAIN_ANONYMOUSLY".into(),
            "Anonymous users cannot sign in again anonymously".into()
        )
    );

    // Signing up from the anonymous session: the anonymous user is gone.
    let r = srv
        .post(
            "/sign-up/email",
            json!({"name": "Real", "email": "real@example.com", "password": "password-123"}),
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["user"]["isAnonymous"], false);
    let gone = srv
        .query_one(&format!(
            r#"select count(*) as n from "user" where "id" = '{anon_id}'"#
        ))
        .await
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap();
    assert_eq!(gone, 0, "the anonymous user was deleted");
    assert_eq!(srv.get("/get-session", Some(&cookie)).await.text, "null");
    srv.stop().await;
}

async fn origin_checks_as_1_7_29(b: Backend) {
    let Some(srv) = start(b, "").await else {
        return;
    };
    let untrusted = anonymous(&srv, &[("origin", "https://evil.example")]).await;
    assert_eq!(untrusted.error().0, 403);
    assert_eq!(untrusted.error().1, "INVALID_ORIGIN");
    let null = anonymous(&srv, &[("origin", "null")]).await;
    assert_eq!(null.error().1, "MISSING_OR_NULL_ORIGIN");
    let navigation = anonymous(
        &srv,
        &[
            ("sec-fetch-site", "cross-site"),
            ("sec-fetch-mode", "navigate"),
        ],
    )
    .await;
    assert_eq!(navigation.error().1, "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED");
    assert_eq!(srv.count("user").await, 0);
    assert_eq!(
        anonymous(&srv, &[("origin", &srv.origin)]).await.status,
        200
    );
    srv.stop().await;
}

async fn delete_anonymous_user(b: Backend) {
    let Some(srv) = start(
        b,
        "[plugins.anonymous]\nemail_domain_name = \"example.org\"\n",
    )
    .await
    else {
        return;
    };
    let r = anonymous(&srv, &[]).await;
    let email = r.json()["user"]["email"].as_str().unwrap().to_owned();
    assert!(
        email.starts_with("temp-") && email.ends_with("@example.org"),
        "{email}"
    );
    let cookie = r.cookie_pair(COOKIE);
    let r = srv
        .post("/delete-anonymous-user", json!({}), Some(&cookie))
        .await;
    assert_eq!(r.json(), json!({"success": true}), "{}", r.text);
    assert!(r
        .set_cookie(COOKIE)
        .is_some_and(|c| c.contains("Max-Age=0")));
    assert_eq!(srv.count("user").await, 0);
    assert_eq!(srv.count("session").await, 0);

    let real = srv.sign_up("real@example.com", "password-123").await;
    let r = srv
        .post(
            "/delete-anonymous-user",
            json!({}),
            Some(&real.cookie_pair(COOKIE)),
        )
        .await;
    assert_eq!(
        r.error(),
        (
            403,
            "USER_IS_NOT_ANONYMOUS".into(),
            "User is not anonymous".into()
        )
    );
    let r = srv.post("/delete-anonymous-user", json!({}), None).await;
    assert_eq!(r.status, 401);
    srv.stop().await;

    let Some(srv) = start(
        b,
        "[plugins.anonymous]\ndisable_delete_anonymous_user = true\n",
    )
    .await
    else {
        return;
    };
    let r = anonymous(&srv, &[]).await;
    let cookie = r.cookie_pair(COOKIE);
    let r = srv
        .post("/delete-anonymous-user", json!({}), Some(&cookie))
        .await;
    assert_eq!(r.json()["code"], "DELETE_ANONYMOUS_USER_DISABLED");
    // And linking keeps the anonymous user.
    srv.post(
        "/sign-up/email",
        json!({"name": "R", "email": "r@example.com", "password": "password-123"}),
        Some(&cookie),
    )
    .await;
    assert_eq!(srv.count("user").await, 2);
    srv.stop().await;
}

on_both_databases!(
    sign_in_and_link,
    origin_checks_as_1_7_29,
    delete_anonymous_user
);
