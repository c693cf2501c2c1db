//! The username plugin over HTTP: sign-up and update-user rules, sign-in/username,
//! is-username-available, normalisation, and hostile input.

use serde_json::json;

use crate::harness::{Backend, TestServer};
use crate::on_both_databases;

async fn start(b: Backend, toml: &str) -> Option<TestServer> {
    TestServer::start_with_toml(b, toml, |c| {
        c.plugins = better_auth_server::plugins::from_config(
            Some("username"),
            &crate::harness::plugin_tables(toml),
        )
        .unwrap();
    })
    .await
}

fn sign_up_body(email: &str, extra: serde_json::Value) -> serde_json::Value {
    let mut body = json!({"name": "U", "email": email, "password": "password-123"});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    body
}

async fn username_rules_on_sign_up(b: Backend) {
    let Some(srv) = start(b, "").await else {
        return;
    };
    let r = srv
        .post(
            "/sign-up/email",
            sign_up_body("a@example.com", json!({"username": "Alice.B_1"})),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let user = &r.json()["user"];
    assert_eq!(user["username"], "alice.b_1", "normalised to lower case");
    assert_eq!(user["displayUsername"], "Alice.B_1", "display name as sent");
    let keys: Vec<&str> = user
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "name",
            "email",
            "emailVerified",
            "image",
            "createdAt",
            "updatedAt",
            "username",
            "displayUsername",
            "id"
        ],
        "upstream's key order"
    );
    for (username, code) in [
        ("ALICE.b_1", "USERNAME_IS_ALREADY_TAKEN"),
        ("ab", "USERNAME_TOO_SHORT"),
        (&"x".repeat(31), "USERNAME_TOO_LONG"),
        ("bad name", "INVALID_USERNAME"),
        ("nul\u{0}byte", "INVALID_USERNAME"),
        ("émile", "INVALID_USERNAME"),
    ] {
        let r = srv
            .post(
                "/sign-up/email",
                sign_up_body("b@example.com", json!({"username": username})),
                None,
            )
            .await;
        assert_eq!(r.status, 400, "{username:?}: {}", r.text);
        assert_eq!(r.json()["code"], code, "{username:?}");
    }
    assert_eq!(
        srv.count("user").await,
        1,
        "no user made by a refused sign-up"
    );
    // A display name alone that is a valid username becomes the username too.
    let r = srv
        .post(
            "/sign-up/email",
            sign_up_body("c@example.com", json!({"displayUsername": "Carol_C"})),
            None,
        )
        .await;
    assert_eq!(r.json()["user"]["username"], "carol_c", "{}", r.text);
    // Wrong types are validation errors, not 500s.
    let r = srv
        .post(
            "/sign-up/email",
            sign_up_body("d@example.com", json!({"username": 5})),
            None,
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(
        r.json()["message"],
        "[body.username] Invalid input: expected string, received number"
    );
    let r = srv
        .post(
            "/sign-up/email",
            sign_up_body("d@example.com", json!({"username": "x".repeat(5000)})),
            None,
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    srv.stop().await;
}

async fn sign_in_with_username(b: Backend) {
    let Some(srv) = start(b, "").await else {
        return;
    };
    srv.post(
        "/sign-up/email",
        sign_up_body("a@example.com", json!({"username": "alice"})),
        None,
    )
    .await;
    let r = srv
        .post(
            "/sign-in/username",
            json!({"username": "ALICE", "password": "password-123", "callbackURL": "/home"}),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let body = r.json();
    assert_eq!(body["redirect"], true);
    assert_eq!(body["url"], "/home");
    assert_eq!(body["user"]["username"], "alice");
    assert_eq!(r.header("location"), Some("/home"));
    let cookie = r.cookie_pair("better-auth.session_token");
    let session = srv.get("/get-session", Some(&cookie)).await.json();
    assert_eq!(session["user"]["email"], "a@example.com");

    let wrong = srv
        .post(
            "/sign-in/username",
            json!({"username": "alice", "password": "wrong-password"}),
            None,
        )
        .await;
    let unknown = srv
        .post(
            "/sign-in/username",
            json!({"username": "nobody", "password": "password-123"}),
            None,
        )
        .await;
    for r in [&wrong, &unknown] {
        assert_eq!(
            r.error(),
            (
                401,
                "INVALID_USERNAME_OR_PASSWORD".into(),
                "Invalid username or password".into()
            )
        );
    }
    let r = srv
        .post(
            "/sign-in/username",
            json!({"username": "a!", "password": "password-123"}),
            None,
        )
        .await;
    assert_eq!(
        r.error(),
        (
            422,
            "USERNAME_TOO_SHORT".into(),
            "Username is too short".into()
        )
    );
    let r = srv
        .post("/sign-in/username", json!({"username": 1}), None)
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["message"],
        "[body.username] Invalid input: expected string, received number; \
         [body.password] Invalid input: expected string, received undefined"
    );

    for (name, available) in [("alice", false), ("ALICE", false), ("bob", true)] {
        let r = srv
            .post("/is-username-available", json!({"username": name}), None)
            .await;
        assert_eq!(r.json(), json!({"available": available}), "{name}");
    }
    let r = srv
        .post("/is-username-available", json!({"username": ""}), None)
        .await;
    assert_eq!(
        r.error(),
        (422, "INVALID_USERNAME".into(), "Username is invalid".into())
    );
    srv.stop().await;
}

async fn update_user_username(b: Backend) {
    let Some(srv) = start(b, "[plugins.username]\nmin_username_length = 4\n").await else {
        return;
    };
    srv.post(
        "/sign-up/email",
        sign_up_body("a@example.com", json!({"username": "alice"})),
        None,
    )
    .await;
    let r = srv
        .post(
            "/sign-up/email",
            sign_up_body("b@example.com", json!({"username": "bobby"})),
            None,
        )
        .await;
    let cookie = r.cookie_pair("better-auth.session_token");
    // 1.7.29: without a session, a taken username is not revealed: 401 first.
    let r = srv
        .post("/update-user", json!({"username": "alice"}), None)
        .await;
    assert_eq!(r.status, 401, "{}", r.text);
    let r = srv
        .post("/update-user", json!({"username": "ALICE"}), Some(&cookie))
        .await;
    assert_eq!(r.json()["code"], "USERNAME_IS_ALREADY_TAKEN", "{}", r.text);
    let r = srv
        .post("/update-user", json!({"username": "bob"}), Some(&cookie))
        .await;
    assert_eq!(
        r.json()["code"],
        "USERNAME_TOO_SHORT",
        "the configured minimum"
    );
    let r = srv
        .post(
            "/update-user",
            json!({"username": "Robert", "displayUsername": "Bob R."}),
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let user = srv.get("/get-session", Some(&cookie)).await.json()["user"].clone();
    assert_eq!(user["username"], "robert");
    assert_eq!(user["displayUsername"], "Bob R.");
    // Its own username again is not "taken".
    let r = srv
        .post("/update-user", json!({"username": "robert"}), Some(&cookie))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    srv.stop().await;
}

on_both_databases!(
    username_rules_on_sign_up,
    sign_in_with_username,
    update_user_username
);
