//! Social sign-in without a provider round trip: the stored state (row and cookie, as
//! upstream keeps them), callback refusals, and the account endpoints. The full flows
//! against a real OpenID Provider are in `tests/oidc` (Node, oidc-provider).

use serde_json::json;

use better_auth_server::oauth::config::{
    AccountLinkingConfig, ClaimNames, ProviderConfig, ProviderKind,
};

use crate::harness::{Backend, TestServer, APP_ORIGIN};
use crate::on_both_databases;

/// A generic provider with explicit endpoints (no discovery, no ID token keys).
pub(crate) fn provider() -> ProviderConfig {
    ProviderConfig {
        id: "example".into(),
        kind: ProviderKind::Oidc,
        client_id: "client-1".into(),
        client_secret: Some("secret-1".into()),
        scopes: vec!["email".into()],
        disable_default_scope: false,
        discovery_url: None,
        authorization_url: Some("https://idp.example/authorize?tenant=t1".parse().unwrap()),
        token_url: Some("https://idp.example/token".parse().unwrap()),
        userinfo_url: Some("https://idp.example/userinfo".parse().unwrap()),
        emails_url: None,
        jwks_url: None,
        issuer: None,
        tenant_id: "common".into(),
        pkce: true,
        basic_auth: false,
        prompt: None,
        claims: ClaimNames {
            id: None,
            email: "email".into(),
            email_verified: "email_verified".into(),
            name: "name".into(),
            image: "picture".into(),
        },
        disable_sign_up: false,
        disable_implicit_sign_up: false,
        override_user_info: false,
        disable_id_token_nonce: false,
    }
}

async fn start(b: Backend) -> Option<TestServer> {
    TestServer::start_with(b, |c| {
        c.social.providers.push(provider());
        c.social.linking = AccountLinkingConfig {
            enabled: true,
            trusted_providers: Vec::new(),
            allow_different_emails: false,
            update_user_info_on_link: false,
            allow_unlinking_all: false,
            require_local_email_verified: true,
            disable_implicit_linking: false,
        };
    })
    .await
}

async fn state_is_stored_as_upstream_stores_it(b: Backend) {
    let Some(srv) = start(b).await else { return };
    let resp = srv
        .post(
            "/sign-in/social",
            json!({
                "provider": "example",
                "callbackURL": format!("{APP_ORIGIN}/dashboard"),
                "errorCallbackURL": format!("{APP_ORIGIN}/error"),
                "additionalData": {"plan": "pro", "callbackURL": "https://evil.example"},
            }),
            None,
        )
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    let body = resp.json();
    let url = url::Url::parse(body["url"].as_str().unwrap()).unwrap();
    assert_eq!(resp.header("location"), Some(url.as_str()));
    let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    // The configured endpoint's own parameters stay.
    assert_eq!(q["tenant"], "t1");
    assert_eq!(q["scope"], "email");
    assert!(!q.contains_key("nonce"), "no ID token keys, no nonce");
    let state = &q["state"];

    let row = srv
        .query_one(&format!(
            r#"select "value" from "verification" where "identifier" = 'auth-state:{state}'"#
        ))
        .await
        .expect("state row");
    let value: String = row.try_get("", "value").unwrap();
    let data: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&value).unwrap();
    let keys: Vec<&str> = data.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "plan",
            "callbackURL",
            "codeVerifier",
            "errorURL",
            "expiresAt",
            "oauthState"
        ]
    );
    assert_eq!(data["callbackURL"], format!("{APP_ORIGIN}/dashboard"));
    assert_eq!(data["oauthState"], state.as_str());
    let verifier = data["codeVerifier"].as_str().unwrap();
    assert_eq!(verifier.len(), 128);
    assert_eq!(
        q["code_challenge"],
        better_auth_server::oauth::code_challenge(verifier)
    );
    let expires = data["expiresAt"].as_i64().unwrap() - chrono::Utc::now().timestamp_millis();
    assert!((590_000..=600_000).contains(&expires), "{expires}");

    // The cookie names the state, signed.
    let cookie = resp.cookie_pair("better-auth.state");
    let signed = percent_encoding::percent_decode_str(cookie.split_once('=').unwrap().1)
        .decode_utf8()
        .unwrap()
        .into_owned();
    assert!(signed.starts_with(&format!("{state}.")));

    // Without the cookie the callback is refused, and (stricter than upstream, which keeps
    // it for its browser) the state is used up: a captured state can't be replayed.
    let refused = srv
        .get(&format!("/callback/example?state={state}&code=c"), None)
        .await;
    assert_eq!(refused.status, 302);
    assert_eq!(
        refused.header("location"),
        Some(format!("{APP_ORIGIN}/error?error=state_mismatch").as_str())
    );
    assert_eq!(srv.count("verification").await, 0);

    // With the cookie, the state is used up even when the flow then fails (the provider
    // said no).
    let resp = srv
        .post(
            "/sign-in/social",
            json!({"provider": "example", "errorCallbackURL": format!("{APP_ORIGIN}/error")}),
            None,
        )
        .await;
    let url = url::Url::parse(resp.json()["url"].as_str().unwrap()).unwrap();
    let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    let state = &q["state"];
    let cookie = resp.cookie_pair("better-auth.state");
    let denied = srv
        .get(
            &format!(
                "/callback/example?state={state}&error=access_denied&error_description=no+way"
            ),
            Some(&cookie),
        )
        .await;
    assert_eq!(
        denied.header("location"),
        Some(format!("{APP_ORIGIN}/error?error=access_denied&error_description=no+way").as_str())
    );
    assert!(denied
        .set_cookie("better-auth.state")
        .unwrap()
        .contains("Max-Age=0"));
    let replay = srv
        .get(
            &format!("/callback/example?state={state}&code=c"),
            Some(&cookie),
        )
        .await;
    assert_eq!(
        replay.header("location"),
        Some(format!("{}/error?error=state_mismatch", srv.url).as_str())
    );
}

async fn callback_refusals(b: Backend) {
    let Some(srv) = start(b).await else { return };
    let none = srv.get("/callback/example?code=x", None).await;
    assert_eq!(none.status, 302);
    assert_eq!(
        none.header("location"),
        Some(format!("{}/error?error=state_not_found", srv.url).as_str())
    );
    let twice = srv.get("/callback/example?state=a&state=b", None).await;
    assert_eq!(
        twice.header("location"),
        Some(format!("{}/error?error=invalid_callback_request", srv.url).as_str())
    );
    let unknown = srv
        .get(
            "/callback/example?state=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA&code=x",
            None,
        )
        .await;
    assert_eq!(
        unknown.header("location"),
        Some(format!("{}/error?error=state_mismatch", srv.url).as_str())
    );
    let posted = srv
        .send(
            reqwest::Method::POST,
            "/callback/example?iss=https%3A%2F%2Fidp.example",
            Some("application/x-www-form-urlencoded"),
            "state=s1&code=c1&ignored=1".into(),
        )
        .await;
    assert_eq!(posted.status, 302);
    assert_eq!(
        posted.header("location"),
        Some(
            format!(
                "{}/callback/example?code=c1&state=s1&iss=https%3A%2F%2Fidp.example",
                srv.url
            )
            .as_str()
        )
    );
    let unknown_provider = srv
        .post("/sign-in/social", json!({"provider": "nope"}), None)
        .await;
    assert_eq!(
        unknown_provider.error(),
        (
            404,
            "PROVIDER_NOT_FOUND".into(),
            "Provider not found".into()
        )
    );
    let no_id_token = srv
        .post(
            "/sign-in/social",
            json!({"provider": "example", "idToken": {"token": "x.y.z"}}),
            None,
        )
        .await;
    assert_eq!(no_id_token.error().1, "ID_TOKEN_NOT_SUPPORTED");
    let bad = srv
        .post(
            "/sign-in/social",
            json!({"provider": "example", "idToken": {"nonce": 1}}),
            None,
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(
        bad.json()["message"],
        "[body.idToken.token] Invalid input: expected string, received undefined; \
         [body.idToken.nonce] Invalid input: expected string, received number"
    );
}

async fn account_endpoints(b: Backend) {
    let Some(srv) = start(b).await else { return };
    let up = srv.sign_up("acc@example.com", "password123").await;
    let cookie = up.cookie_pair("better-auth.session_token");
    let user_id = up.json()["user"]["id"].as_str().unwrap().to_owned();

    let list = srv.get("/list-accounts", Some(&cookie)).await;
    assert_eq!(list.status, 200);
    let accounts = list.json();
    let account = &accounts[0];
    let keys: Vec<&str> = account
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "id",
            "accountId",
            "providerId",
            "userId",
            "createdAt",
            "updatedAt",
            "scopes"
        ]
    );
    assert_eq!(account["providerId"], "credential");
    assert_eq!(account["accountId"], user_id.as_str());
    assert_eq!(account["scopes"], json!([]));
    assert_eq!(srv.get("/list-accounts", None).await.status, 401);

    let account_id = account["id"].as_str().unwrap();
    let last = srv
        .post(
            "/unlink-account",
            json!({"accountId": account_id}),
            Some(&cookie),
        )
        .await;
    assert_eq!(
        last.error(),
        (
            400,
            "FAILED_TO_UNLINK_LAST_ACCOUNT".into(),
            "You can't unlink your last account".into()
        )
    );

    let anonymous = srv
        .post("/get-access-token", json!({"accountId": account_id}), None)
        .await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.text, "");
    let credential = srv
        .post(
            "/get-access-token",
            json!({"accountId": account_id}),
            Some(&cookie),
        )
        .await;
    assert_eq!(
        credential.error(),
        (
            400,
            "PROVIDER_NOT_SUPPORTED".into(),
            "Provider credential is not supported.".into()
        )
    );
    let strict = srv
        .post(
            "/refresh-token",
            json!({"accountId": account_id, "providerId": "x"}),
            Some(&cookie),
        )
        .await;
    assert_eq!(strict.error().1, "VALIDATION_ERROR");
    let info = srv
        .get(
            &format!("/account-info?accountId={account_id}"),
            Some(&cookie),
        )
        .await;
    assert_eq!(info.error().1, "PROVIDER_NOT_CONFIGURED");

    // link-social needs a session, then starts a flow that carries the link target.
    assert_eq!(
        srv.post("/link-social", json!({"provider": "example"}), None)
            .await
            .status,
        401
    );
    let link = srv
        .post(
            "/link-social",
            json!({"provider": "example", "callbackURL": "/settings"}),
            Some(&cookie),
        )
        .await;
    assert_eq!(link.status, 200, "{}", link.text);
    let url = url::Url::parse(link.json()["url"].as_str().unwrap()).unwrap();
    let state = url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let row = srv
        .query_one(&format!(
            r#"select "value" from "verification" where "identifier" = 'auth-state:{state}'"#
        ))
        .await
        .unwrap();
    let value: String = row.try_get("", "value").unwrap();
    let data: serde_json::Value = serde_json::from_str(&value).unwrap();
    assert_eq!(data["link"]["userId"], user_id.as_str());
    assert_eq!(data["link"]["email"], "acc@example.com");
    assert!(
        data["link"]["encryptedSessionToken"]
            .as_str()
            .unwrap()
            .len()
            > 64
    );
}

on_both_databases!(
    state_is_stored_as_upstream_stores_it,
    callback_refusals,
    account_endpoints
);
