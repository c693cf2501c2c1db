//! The jwt plugin over HTTP: /token, /jwks, set-auth-jwt, keys made by the TypeScript
//! server, race-free key creation, rotation with a grace period, HS256, claim options.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde_json::{json, Value};

use crate::harness::{Backend, TestServer};
use crate::on_both_databases;

const TS_JWKS: &str = include_str!("../fixtures/better-auth-1.7.25-jwks.json");

async fn signed_in(srv: &TestServer, email: &str) -> String {
    srv.sign_up(email, "password123")
        .await
        .cookie_pair("better-auth.session_token")
}

async fn token(srv: &TestServer, cookie: &str) -> String {
    let r = srv.get("/token", Some(cookie)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["token"].as_str().unwrap().to_owned()
}

async fn jwks(srv: &TestServer) -> JwkSet {
    serde_json::from_str(&srv.get("/jwks", None).await.text).unwrap()
}

/// Verifies like an API consumer: key by `kid` from /jwks, algorithm pinned to EdDSA.
pub(crate) fn verify(
    set: &JwkSet,
    token: &str,
    issuer: &str,
    audience: &[&str],
) -> Result<Value, String> {
    verify_as(Algorithm::EdDSA, set, token, issuer, audience)
}

fn verify_as(
    algorithm: Algorithm,
    set: &JwkSet,
    token: &str,
    issuer: &str,
    audience: &[&str],
) -> Result<Value, String> {
    let kid = decode_header(token)
        .map_err(|e| e.to_string())?
        .kid
        .ok_or("no kid")?;
    let jwk = set
        .find(&kid)
        .ok_or_else(|| format!("kid {kid} not in /jwks"))?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    let mut v = Validation::new(algorithm);
    v.set_issuer(&[issuer]);
    v.set_audience(audience);
    decode::<Value>(token, &key, &v)
        .map(|d| d.claims)
        .map_err(|e| e.to_string())
}

fn header_json(token: &str) -> Value {
    let first = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(first).unwrap()).unwrap()
}

async fn token_jwks_and_header(b: Backend) {
    let Some(srv) = TestServer::start(b).await else {
        return;
    };
    let anonymous = srv.get("/token", None).await;
    assert_eq!(
        anonymous.error(),
        (401, "UNAUTHORIZED".into(), "Unauthorized".into())
    );

    let r = srv.get("/jwks", None).await;
    assert!(r.header("cache-control").unwrap().contains("max-age="));
    let body = r.json();
    let keys = body["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "the first key is made on first need");
    let names: Vec<_> = keys[0].as_object().unwrap().keys().cloned().collect();
    assert_eq!(names, ["alg", "crv", "x", "kty", "kid"]);
    assert_eq!(
        (keys[0]["alg"].as_str(), keys[0]["kty"].as_str()),
        (Some("EdDSA"), Some("OKP"))
    );

    let cookie = signed_in(&srv, "jwt@example.com").await;
    let jwt = token(&srv, &cookie).await;
    assert_eq!(
        header_json(&jwt),
        json!({"alg": "EdDSA", "kid": keys[0]["kid"]})
    );
    let claims = verify(&jwks(&srv).await, &jwt, &srv.origin, &[&srv.origin]).unwrap();
    assert_eq!(claims["email"], "jwt@example.com");
    assert_eq!(claims["sub"], claims["id"]);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );
    let names: Vec<_> = claims.as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        names,
        [
            "iat",
            "name",
            "email",
            "emailVerified",
            "image",
            "createdAt",
            "updatedAt",
            "id",
            "sub",
            "exp",
            "iss",
            "aud"
        ]
    );
    // Wrong audience or issuer: refused.
    assert!(verify(
        &jwks(&srv).await,
        &jwt,
        &srv.origin,
        &["https://other.example"]
    )
    .is_err());
    assert!(verify(
        &jwks(&srv).await,
        &jwt,
        "https://other.example",
        &[&srv.origin]
    )
    .is_err());

    let s = srv.get("/get-session", Some(&cookie)).await;
    let header_jwt = s
        .header("set-auth-jwt")
        .expect("set-auth-jwt on a live session")
        .to_owned();
    assert!(verify(&jwks(&srv).await, &header_jwt, &srv.origin, &[&srv.origin]).is_ok());
    assert!(srv
        .get("/get-session", None)
        .await
        .header("set-auth-jwt")
        .is_none());
    srv.post("/sign-out", json!({}), Some(&cookie)).await;
    let after = srv.get("/get-session", Some(&cookie)).await;
    assert_eq!(after.text, "null");
    assert!(
        after.header("set-auth-jwt").is_none(),
        "no JWT for an ended session"
    );
    assert_eq!(srv.get("/token", Some(&cookie)).await.status, 401);
    srv.stop().await;
}

async fn first_key_is_created_once_by_racing_processes(b: Backend) {
    let Some(srv) = TestServer::start(b).await else {
        return;
    };
    // Four independent "processes": own pools and own signers on the same database.
    let url = srv.state.config.database_url.clone();
    let mut racers = Vec::new();
    for _ in 0..4 {
        let db = better_auth_server::store::connect(&url).await.unwrap();
        let store = better_auth_server::store::Store::new(db).await.unwrap();
        let signer = better_auth_server::plugins::jwt::JwtSigner::new(&srv.state.config);
        racers.push((store, signer));
    }
    let bodies = futures_util::future::join_all(
        racers.iter().map(|(store, signer)| signer.jwks_body(store)),
    )
    .await;
    assert_eq!(srv.count("jwks").await, 1, "one key, not several");
    for body in bodies {
        assert_eq!(
            serde_json::from_slice::<Value>(&body.unwrap()).unwrap()["keys"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }
    srv.stop().await;
}

async fn typescript_key_signs_here_and_its_tokens_verify(b: Backend) {
    let fixture: Value = serde_json::from_str(TS_JWKS).unwrap();
    let secret = fixture["secret"].as_str().unwrap().to_owned();
    let Some(srv) = TestServer::start_with(b, |c| {
        c.secrets = better_auth_server::crypto::secrets::Secrets::single(secret)
    })
    .await
    else {
        return;
    };
    let row = &fixture["row"];
    let created = match srv.backend() {
        sea_orm::DbBackend::Sqlite => format!("'{}'", row["createdAt"].as_str().unwrap()),
        _ => format!("'{}'::timestamptz", row["createdAt"].as_str().unwrap()),
    };
    srv.execute(&format!(
        "insert into \"jwks\" (\"id\", \"publicKey\", \"privateKey\", \"createdAt\", \"alg\", \"crv\") values ('{}', '{}', '{}', {created}, 'EdDSA', 'Ed25519')",
        row["id"].as_str().unwrap(),
        row["publicKey"].as_str().unwrap(),
        row["privateKey"].as_str().unwrap(),
    ))
    .await;
    let set = jwks(&srv).await;
    assert_eq!(
        set.keys.len(),
        1,
        "the TypeScript key is used, no new key made"
    );
    let cookie = signed_in(&srv, "ts-key@example.com").await;
    let jwt = token(&srv, &cookie).await;
    assert_eq!(header_json(&jwt)["kid"], row["id"]);
    assert!(verify(&set, &jwt, &srv.origin, &[&srv.origin]).is_ok());

    // A token the TypeScript server issued verifies against our /jwks (its claims name the
    // reference server and have expired since recording, so only the signature is checked).
    let ts_token = fixture["token"].as_str().unwrap();
    let key = DecodingKey::from_jwk(set.find(row["id"].as_str().unwrap()).unwrap()).unwrap();
    let mut v = Validation::new(Algorithm::EdDSA);
    v.validate_exp = false;
    v.validate_aud = false;
    let claims = decode::<Value>(ts_token, &key, &v).unwrap().claims;
    assert_eq!(claims["email"], "ann@example.com");
    srv.stop().await;
}

async fn rotation_keeps_old_tokens_valid_for_the_grace_period(b: Backend) {
    let Some(srv) = TestServer::start_with(b, |c| c.jwt.grace_period = 3).await else {
        return;
    };
    let cookie = signed_in(&srv, "rot@example.com").await;
    let old = token(&srv, &cookie).await;
    let old_kid = header_json(&old)["kid"].clone();
    let new_kid = srv.state.jwt.rotate(&srv.state.store).await.unwrap();
    let fresh = token(&srv, &cookie).await;
    assert_eq!(header_json(&fresh)["kid"], json!(new_kid));
    assert_ne!(old_kid, json!(new_kid));
    let set = jwks(&srv).await;
    assert_eq!(set.keys.len(), 2);
    assert!(
        verify(&set, &old, &srv.origin, &[&srv.origin]).is_ok(),
        "old tokens verify during the grace period"
    );
    assert!(verify(&set, &fresh, &srv.origin, &[&srv.origin]).is_ok());
    tokio::time::sleep(std::time::Duration::from_millis(3200)).await;
    let set = jwks(&srv).await;
    assert_eq!(
        set.keys.len(),
        1,
        "the retired key leaves /jwks after the grace period"
    );
    assert!(verify(&set, &old, &srv.origin, &[&srv.origin]).is_err());
    assert!(verify(&set, &fresh, &srv.origin, &[&srv.origin]).is_ok());
    srv.stop().await;
}

async fn hs256_is_an_explicit_opt_in(b: Backend) {
    let shared = "hs256-shared-secret-0123456789abcdef";
    let Some(srv) = TestServer::start_with(b, |c| {
        c.jwt.algorithm = better_auth_server::config::JwtAlgorithm::Hs256;
        c.jwt.hs256_secret = Some(shared.into());
    })
    .await
    else {
        return;
    };
    let cookie = signed_in(&srv, "hs@example.com").await;
    let jwt = token(&srv, &cookie).await;
    assert_eq!(header_json(&jwt), json!({"alg": "HS256"}));
    let mut v = Validation::new(Algorithm::HS256);
    v.set_audience(&[&srv.origin]);
    v.set_issuer(&[&srv.origin]);
    assert!(decode::<Value>(&jwt, &DecodingKey::from_secret(shared.as_bytes()), &v).is_ok());
    let cookie_secret = crate::harness::SECRET;
    assert!(decode::<Value>(
        &jwt,
        &DecodingKey::from_secret(cookie_secret.as_bytes()),
        &v
    )
    .is_err());
    let body = srv.get("/jwks", None).await.text;
    assert!(
        !body.contains("oct") && !body.contains(shared),
        "the shared secret is never published: {body}"
    );
    srv.stop().await;
}

async fn claims_are_configurable(b: Backend) {
    let Some(srv) = TestServer::start_with(b, |c| {
        c.jwt.issuer = "https://auth.example.com".into();
        c.jwt.audience = vec![
            "https://api.example.com".into(),
            "https://admin.example.com".into(),
        ];
        c.jwt.expires_in = 3600;
        c.jwt.user_fields = Some(vec!["email".into(), "name".into()]);
        c.jwt.claims = json!({"tier": "gold"}).as_object().unwrap().clone();
        c.jwt.subject_field = "email".into();
    })
    .await
    else {
        return;
    };
    let cookie = signed_in(&srv, "cfg@example.com").await;
    let jwt = token(&srv, &cookie).await;
    let claims = verify(
        &jwks(&srv).await,
        &jwt,
        "https://auth.example.com",
        &["https://admin.example.com"],
    )
    .unwrap();
    assert_eq!(
        claims["aud"],
        json!(["https://api.example.com", "https://admin.example.com"])
    );
    assert_eq!(claims["sub"], "cfg@example.com");
    assert_eq!(claims["tier"], "gold");
    assert_eq!(claims["name"], "Test User");
    assert!(claims.get("id").is_none() && claims.get("createdAt").is_none());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
    srv.stop().await;
}

async fn other_algorithms(b: Backend) {
    use better_auth_server::config::JwtAlgorithm;
    for (configured, algorithm, kty) in [
        (JwtAlgorithm::Es256, Algorithm::ES256, "EC"),
        (JwtAlgorithm::Rs256, Algorithm::RS256, "RSA"),
        (JwtAlgorithm::Ps256, Algorithm::PS256, "RSA"),
    ] {
        let Some(srv) = TestServer::start_with(b, |c| c.jwt.algorithm = configured).await else {
            return;
        };
        let cookie = signed_in(&srv, "alg@example.com").await;
        let jwt = token(&srv, &cookie).await;
        assert_eq!(header_json(&jwt)["alg"], configured.name());
        let body = srv.get("/jwks", None).await.json();
        let key = &body["keys"][0];
        assert_eq!(
            (key["alg"].as_str(), key["kty"].as_str()),
            (Some(configured.name()), Some(kty))
        );
        assert!(
            key.get("d").is_none() && key.get("p").is_none(),
            "no private members: {key}"
        );
        let set = jwks(&srv).await;
        verify_as(algorithm, &set, &jwt, &srv.origin, &[&srv.origin]).unwrap();
        // Pinned algorithms: the same token is not accepted as EdDSA.
        assert!(verify(&set, &jwt, &srv.origin, &[&srv.origin]).is_err());
        srv.stop().await;
    }
}

async fn rotation_interval_replaces_keys_on_demand(b: Backend) {
    // Configured intervals are at least a minute; the test shortens it to keep fast.
    let Some(srv) = TestServer::start_with(b, |c| c.jwt.rotation_interval = Some(2)).await else {
        return;
    };
    let cookie = signed_in(&srv, "interval@example.com").await;
    let first = token(&srv, &cookie).await;
    tokio::time::sleep(std::time::Duration::from_millis(2200)).await;
    let second = token(&srv, &cookie).await;
    assert_ne!(
        header_json(&first)["kid"],
        header_json(&second)["kid"],
        "an expired key is replaced"
    );
    let set = jwks(&srv).await;
    assert_eq!(
        set.keys.len(),
        2,
        "the expired key stays published for the grace period"
    );
    assert!(verify(&set, &first, &srv.origin, &[&srv.origin]).is_ok());
    assert_eq!(srv.count("jwks").await, 2);
    srv.stop().await;
}

/// A cookie whose session is gone: 401, and the session cookies are expired (upstream's
/// session middleware does so before the handler answers).
async fn token_with_a_stale_cookie_expires_it(b: Backend) {
    let Some(srv) = TestServer::start(b).await else {
        return;
    };
    let cookie = signed_in(&srv, "stale@example.com").await;
    let out = srv.post("/sign-out", json!({}), Some(&cookie)).await;
    assert_eq!(out.status, 200, "{}", out.text);
    let r = srv.get("/token", Some(&cookie)).await;
    assert_eq!(
        r.error(),
        (401, "UNAUTHORIZED".into(), "Unauthorized".into())
    );
    let expired = r.set_cookie("better-auth.session_token").unwrap();
    assert!(expired.contains("Max-Age=0"), "{expired}");
    srv.stop().await;
}

on_both_databases!(
    token_with_a_stale_cookie_expires_it,
    other_algorithms,
    rotation_interval_replaces_keys_on_demand,
    token_jwks_and_header,
    first_key_is_created_once_by_racing_processes,
    typescript_key_signs_here_and_its_tokens_verify,
    rotation_keeps_old_tokens_valid_for_the_grace_period,
    hs256_is_an_explicit_opt_in,
    claims_are_configurable,
);
