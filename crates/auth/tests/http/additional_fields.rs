//! `[user.additional_fields]` and `[session.additional_fields]` over HTTP: sign-up,
//! get-session, update-user, update-session, list-sessions and the JWT.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

use crate::harness::{Backend, TestServer};
use crate::on_both_databases;

const SESSION: &str = "better-auth.session_token";

const FIELDS: &str = r#"
[user.additional_fields.plan]
type = "string"
required = false
default = "free"
[user.additional_fields.age]
type = "number"
required = false
[user.additional_fields.newsletter]
type = "boolean"
required = false
default = false
[user.additional_fields.birthday]
type = "date"
required = false
[user.additional_fields.tags]
type = "string[]"
required = false
[user.additional_fields.prefs]
type = "json"
required = false
[user.additional_fields.secretNote]
type = "string"
required = false
input = false
[user.additional_fields.internalScore]
type = "number"
required = false
returned = false
[session.additional_fields.device]
type = "string"
required = false
"#;

fn jwt_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

async fn fields_through_every_endpoint(b: Backend) {
    let Some(srv) = TestServer::start_with_toml(b, FIELDS, |_| {}).await else {
        return;
    };
    let r = srv
        .post(
            "/sign-up/email",
            json!({
                "name": "F", "email": "f@example.com", "password": "password-123",
                "age": 41, "tags": ["a", "b"], "prefs": {"theme": "dark"},
                "birthday": "1985-03-04T00:00:00.000Z", "internalScore": 7,
            }),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let user = r.json()["user"].clone();
    assert_eq!(user["plan"], "free", "default");
    assert_eq!(user["age"], 41);
    assert_eq!(user["newsletter"], false);
    assert_eq!(user["tags"], json!(["a", "b"]));
    assert_eq!(user["prefs"], json!({"theme": "dark"}));
    assert_eq!(user["birthday"], "1985-03-04T00:00:00.000Z");
    assert_eq!(user["secretNote"], Value::Null);
    assert!(user.get("internalScore").is_none(), "returned: false");
    let keys: Vec<&str> = user
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        &keys[6..],
        [
            "plan",
            "age",
            "newsletter",
            "birthday",
            "tags",
            "prefs",
            "secretNote",
            "id"
        ],
        "declared order, id last"
    );
    let row = srv
        .query_one(r#"select cast("internalScore" as bigint) as s from "user""#)
        .await
        .unwrap();
    assert_eq!(
        row.try_get::<Option<i64>>("", "s").unwrap(),
        Some(7),
        "stored"
    );

    let cookie = r.cookie_pair(SESSION);
    let session = srv.get("/get-session", Some(&cookie)).await.json();
    assert_eq!(session["user"]["tags"], json!(["a", "b"]));
    assert!(session["user"].get("internalScore").is_none());
    assert_eq!(session["session"]["device"], Value::Null);

    // The JWT carries the returned fields, as upstream's payload (the whole user).
    let token = srv.get("/token", Some(&cookie)).await.json()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let claims = jwt_claims(&token);
    assert_eq!(claims["plan"], "free");
    assert_eq!(claims["age"], 41);
    assert!(claims.get("internalScore").is_none());

    let r = srv
        .post(
            "/update-user",
            json!({"plan": "pro", "age": 42}),
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let user = srv.get("/get-session", Some(&cookie)).await.json()["user"].clone();
    assert_eq!(
        (user["plan"].clone(), user["age"].clone()),
        (json!("pro"), json!(42))
    );

    let r = srv
        .post(
            "/update-session",
            json!({"device": "laptop"}),
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["session"]["device"], "laptop");
    // Read back through the session lookup (and its memory cache), not only the list.
    let current = srv.get("/get-session", Some(&cookie)).await.json();
    assert_eq!(current["session"]["device"], "laptop");
    let sessions = srv.get("/list-sessions", Some(&cookie)).await.json();
    assert_eq!(sessions[0]["device"], "laptop");
    let r = srv
        .post("/update-session", json!({"other": 1}), Some(&cookie))
        .await;
    assert_eq!(r.json()["message"], "No fields to update");
    srv.stop().await;
}

/// Values of the wrong type get a 400 in zod's words. Stricter than upstream, whose
/// `parseInputData` checks presence and `input` but not types (the database then refuses or
/// coerces); documented in the README.
async fn bad_values_are_refused(b: Backend) {
    let Some(srv) = TestServer::start_with_toml(b, FIELDS, |_| {}).await else {
        return;
    };
    let sign_up = |extra: Value| {
        let mut body = json!({"name": "F", "email": "f@example.com", "password": "password-123"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    let r = srv
        .post("/sign-up/email", sign_up(json!({"secretNote": "x"})), None)
        .await;
    assert_eq!(
        r.error(),
        (
            400,
            "FIELD_NOT_ALLOWED".into(),
            "secretNote is not allowed to be set".into()
        )
    );
    let r = srv
        .post(
            "/sign-up/email",
            sign_up(json!({"age": "forty", "newsletter": "yes", "tags": [1]})),
            None,
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(
        r.json()["message"],
        "[body.age] Invalid input: expected number, received string; \
         [body.newsletter] Invalid input: expected boolean, received string; \
         [body.tags] Invalid input: expected string, received number (item 0)"
    );
    let r = srv
        .post("/sign-up/email", sign_up(json!({"birthday": "soon"})), None)
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    let r = srv
        .post("/sign-up/email", sign_up(json!({"age": 1.5})), None)
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(srv.count("user").await, 0, "nothing half-written");
    srv.stop().await;

    let required = "[user.additional_fields.code]\ntype = \"string\"\n";
    let Some(srv) = TestServer::start_with_toml(b, required, |_| {}).await else {
        return;
    };
    let r = srv.post("/sign-up/email", sign_up(json!({})), None).await;
    assert_eq!(
        r.error(),
        (400, "MISSING_FIELD".into(), "code is required".into())
    );
    let r = srv
        .post("/sign-up/email", sign_up(json!({"code": "X1"})), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    srv.stop().await;
}

on_both_databases!(fields_through_every_endpoint, bad_values_are_refused);
