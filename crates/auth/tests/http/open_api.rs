//! The open-api plugin: the document it serves describes every endpoint of the server as
//! configured (plugins included), with bodies taken from the endpoints' own validation; the
//! reference page renders it without any other host; the contract checker (`contract.rs`)
//! refuses answers the document does not describe.

use reqwest::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_TYPE};
use serde_json::{json, Value};

use crate::contract::Contract;
use crate::harness::{Backend, Resp, TestServer};
use crate::on_both_databases;

const PLUGINS: &str = r#"
[plugins.username]
[plugins.anonymous]
[plugins.multi-session]
[plugins.one-time-token]
[plugins.last-login-method]
[plugins.open-api]

[user.additional_fields.plan]
type = "string"
required = false
default_value = "free"

[user.additional_fields.secret_score]
type = "number"
required = false
returned = false
"#;

async fn the_document_describes_every_endpoint(b: Backend) {
    let Some(srv) = TestServer::start_with_toml(b, PLUGINS, |_| {}).await else {
        return;
    };
    let r = srv.get("/open-api/generate-schema", None).await;
    assert_eq!(r.status, 200);
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.1.1");
    assert_eq!(doc["servers"][0]["url"], srv.url.as_str());
    let paths = doc["paths"].as_object().cloned().unwrap_or_default();
    for (method, path) in [
        ("post", "/sign-up/email"),
        ("get", "/get-session"),
        ("post", "/get-session"),
        ("get", "/reset-password/{token}"),
        ("get", "/callback/{id}"),
        ("post", "/callback/{id}"),
        ("get", "/token"),
        ("get", "/jwks"),
        ("post", "/sign-in/username"),
        ("post", "/sign-in/anonymous"),
        ("get", "/multi-session/list-device-sessions"),
        ("post", "/one-time-token/verify"),
        ("get", "/open-api/generate-schema"),
        ("get", "/reference"),
    ] {
        assert!(paths[path][method].is_object(), "{method} {path} missing");
    }
    // Operation ids are unique.
    let mut ids: Vec<&str> = paths
        .values()
        .flat_map(|item| item.as_object().into_iter().flat_map(|m| m.values()))
        .filter_map(|op| op["operationId"].as_str())
        .collect();
    let count = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), count);

    // Bodies come from the endpoints' validation: sign-up's required fields, its form
    // variant, the declared user fields clients may set.
    let sign_up = &paths["/sign-up/email"]["post"]["requestBody"];
    let schema = &sign_up["content"]["application/json"]["schema"];
    assert_eq!(schema["required"], json!(["name", "email", "password"]));
    assert_eq!(schema["properties"]["email"]["format"], "email");
    assert_eq!(schema["properties"]["plan"]["type"], "string");
    assert!(schema["properties"]["username"].is_object());
    assert!(sign_up["content"]["application/x-www-form-urlencoded"].is_object());
    let reset = &paths["/reset-password/{token}"]["get"]["parameters"];
    assert_eq!(reset[0]["in"], "path");
    assert_eq!(reset[0]["name"], "token");
    assert!(reset.as_array().is_some_and(|p| p
        .iter()
        .any(|q| q["name"] == "callbackURL" && q["in"] == "query")));
    // The models: declared fields returned, `returned: false` ones not.
    let user = &doc["components"]["schemas"]["User"]["properties"];
    assert!(user["plan"].is_object() && user["username"].is_object());
    assert!(user["secret_score"].is_null());
    // The session's ways in, and the operations that need one.
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["cookieAuth"]["name"], "better-auth.session_token");
    assert_eq!(schemes["bearerAuth"]["scheme"], "bearer");
    assert_eq!(
        paths["/list-sessions"]["get"]["security"],
        json!([{"cookieAuth": []}, {"bearerAuth": []}])
    );
    assert!(paths["/sign-in/email"]["post"]["security"].is_null());
    srv.stop().await;
}

async fn the_reference_page_works_offline(b: Backend) {
    let Some(srv) = TestServer::start_with_toml(b, PLUGINS, |_| {}).await else {
        return;
    };
    let page = srv.get("/reference", None).await;
    assert_eq!(page.status, 200);
    assert!(page
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/html")));
    assert!(page
        .text
        .contains(r#"<script src="/api/auth/reference/redoc.standalone.js" nonce="#));
    // Nothing but this server's script and the page's own, nonce-marked, may run or load.
    let policy = page.header("content-security-policy").unwrap_or_default();
    assert!(
        policy.starts_with("default-src 'none'; script-src 'self' 'nonce-"),
        "{policy}"
    );
    assert!(policy.contains("img-src 'self' data:"), "{policy}");
    assert!(page.text.contains("\"/sign-up/email\""));
    // Every URL the page loads is this server's.
    assert!(!page.text.contains("cdn") && !page.text.contains("https://"));

    let gz = srv
        .raw(reqwest::Method::GET, "/reference/redoc.standalone.js")
        .header(ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .expect("script");
    assert_eq!(gz.status(), 200);
    assert_eq!(
        gz.headers()
            .get(CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok()),
        Some("gzip")
    );
    let plain = srv.get("/reference/redoc.standalone.js", None).await;
    assert!(plain.header("content-encoding").is_none());
    assert!(plain.text.len() > 900_000 && plain.text.contains("Redoc"));

    let hidden = TestServer::start_with_toml(
        b,
        "[plugins.open-api]\ndisable_default_reference = true\n",
        |_| {},
    )
    .await
    .expect("server");
    assert_eq!(hidden.get("/reference", None).await.status, 404);
    assert_eq!(
        hidden.get("/open-api/generate-schema", None).await.status,
        200
    );
    hidden.stop().await;
    srv.stop().await;
}

/// The checker itself: a body the schema refuses, an undocumented status.
#[test]
fn the_contract_refuses_what_the_document_does_not_say() {
    let doc = json!({
        "components": {"schemas": {"Thing": {"type": "object", "required": ["a"]}}},
        "paths": {"/x/{id}": {"get": {"responses": {
            "200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}}
        }}}},
    });
    let contract = Contract::new(&doc);
    let resp = |status: u16, body: Value| {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(CONTENT_TYPE, "application/json".parse().expect("header"));
        Resp {
            status,
            headers,
            text: body.to_string(),
        }
    };
    assert!(contract
        .check("GET", "/x/1?y=2", &resp(200, json!({"a": 1})))
        .is_ok());
    let wrong = contract.check("GET", "/x/1", &resp(200, json!({"b": 1})));
    assert!(wrong.is_err_and(|e| e.contains("\"a\" is a required property")));
    assert!(contract
        .check("GET", "/x/1", &resp(418, json!({})))
        .is_err());
    // Not in the document: not checked (unrouted 404s).
    assert!(contract
        .check("GET", "/nowhere", &resp(404, json!({})))
        .is_ok());
}

on_both_databases!(
    the_document_describes_every_endpoint,
    the_reference_page_works_offline,
);
