//! Secret rotation (`BETTER_AUTH_SECRETS`): the newest secret signs and encrypts, older ones
//! still verify cookies and decrypt stored keys until they are removed.

use better_auth_server::config::Config;
use better_auth_server::crypto::secrets::Secrets;
use better_auth_server::crypto::signing;
use sea_orm::ConnectionTrait;

use crate::harness::{Backend, TestServer, SECRET};
use crate::on_both_databases;

const NEW: &str = "rotated-secret-0123456789abcdef0123456789";
const COOKIE: &str = "better-auth.session_token";

fn rotate_to(list: String, legacy: Option<&'static str>) -> impl FnOnce(&mut Config) {
    move |c: &mut Config| {
        c.secrets = Secrets::rotating(&list, legacy.map(str::to_owned)).unwrap();
    }
}

fn signed_value(cookie_pair: &str) -> String {
    let value = cookie_pair.split_once('=').unwrap().1;
    percent_encoding::percent_decode_str(value)
        .decode_utf8()
        .unwrap()
        .into_owned()
}

async fn jwk_private_keys(srv: &TestServer) -> Vec<String> {
    let rows = srv
        .db
        .query_all_raw(sea_orm::Statement::from_string(
            srv.backend(),
            r#"select "privateKey" from "jwks" order by "createdAt""#.to_owned(),
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|r| r.try_get::<String>("", "privateKey").unwrap())
        .collect()
}

async fn old_sessions_and_keys_survive_a_rotation(b: Backend) {
    let Some(before) = TestServer::start(b).await else {
        return;
    };
    let old_cookie = before
        .sign_up("rotate@example.com", "password123")
        .await
        .cookie_pair(COOKIE);
    // The first JWT key, encrypted with the old secret (unversioned, as upstream).
    assert_eq!(before.get("/token", Some(&old_cookie)).await.status, 200);

    // BETTER_AUTH_SECRETS="2:new,1:old", BETTER_AUTH_SECRET=old kept as the legacy secret.
    let during = before
        .sibling(rotate_to(format!("2:{NEW},1:{SECRET}"), Some(SECRET)))
        .await;
    before.stop().await;
    let session = during.get("/get-session", Some(&old_cookie)).await;
    assert_eq!(session.json()["user"]["email"], "rotate@example.com");
    // The key made under the old secret still signs.
    let token = during.get("/token", Some(&old_cookie)).await;
    assert_eq!(token.status, 200, "{}", token.text);
    // New cookies are signed with the new secret.
    let new_cookie = during
        .post(
            "/sign-in/email",
            serde_json::json!({"email": "rotate@example.com", "password": "password123"}),
            None,
        )
        .await
        .cookie_pair(COOKIE);
    assert!(signing::verify(NEW, &signed_value(&new_cookie)).is_some());
    assert!(signing::verify(SECRET, &signed_value(&new_cookie)).is_none());
    // New keys are encrypted with the new secret, versioned as upstream writes them.
    during.state.jwt.rotate(&during.state.store).await.unwrap();
    let stored = jwk_private_keys(&during).await;
    assert_eq!(stored.len(), 2);
    assert!(!stored[0].contains("$ba$"), "{}", stored[0]);
    assert!(stored[1].starts_with("\"$ba$2$"), "{}", stored[1]);
    assert_eq!(during.get("/token", Some(&new_cookie)).await.status, 200);

    // The old secret removed: what it signed no longer counts; the new holds.
    let after = during.sibling(rotate_to(format!("2:{NEW}"), None)).await;
    during.stop().await;
    assert_eq!(
        after.get("/get-session", Some(&old_cookie)).await.text,
        "null"
    );
    let session = after.get("/get-session", Some(&new_cookie)).await;
    assert_eq!(session.json()["user"]["email"], "rotate@example.com");
    let token = after.get("/token", Some(&new_cookie)).await;
    assert_eq!(token.status, 200, "{}", token.text);
    after.stop().await;
}

on_both_databases!(old_sessions_and_keys_survive_a_rotation);
