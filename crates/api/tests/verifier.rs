//! The verifier against a real better-auth-server (in-process, SQLite, real HTTP), and the
//! example API binary in front of it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use std::net::TcpListener;
use std::time::Duration;

use actix_web::web;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use better_auth_api::{Verifier, VerifierConfig, VerifyError};
use better_auth_server::config::{Config, ConfigArgs};
use better_auth_server::state::AppState;
use ed25519_dalek::Signer;
use serde_json::{json, Value};

const SECRET: &str = "api-test-secret-0123456789abcdef0123456789";

struct Auth {
    origin: String,
    state: web::Data<AppState>,
    handle: actix_web::dev::ServerHandle,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Auth {
    async fn start(tweak: impl FnOnce(&mut Config)) -> Auth {
        let dir = tempfile::tempdir().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let origin = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let mut config = Config::load(&ConfigArgs {
            data_dir: Some(dir.path().to_owned()),
            base_url: Some(origin.clone()),
            secret: Some(SECRET.into()),
            ..ConfigArgs::default()
        })
        .unwrap();
        tweak(&mut config);
        let db = better_auth_server::open_database(&config, true)
            .await
            .unwrap();
        let state = web::Data::new(better_auth_server::build_state(config, db).await.unwrap());
        let server = better_auth_server::server(state.clone(), listener).unwrap();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Auth {
            origin,
            state,
            handle,
            http: reqwest::Client::new(),
            _dir: dir,
        }
    }

    /// Signs a new user up; returns (session token as set-auth-token, user id).
    async fn user(&self) -> (String, String) {
        let email = format!("u{}@example.com", rand::random::<u64>());
        let r = self
            .http
            .post(format!("{}/api/auth/sign-up/email", self.origin))
            .json(&json!({"name": "API User", "email": email, "password": "password123"}))
            .send()
            .await
            .unwrap();
        let session = r.headers()["set-auth-token"].to_str().unwrap().to_owned();
        let body: Value = r.json().await.unwrap();
        (session, body["user"]["id"].as_str().unwrap().to_owned())
    }

    async fn token(&self, session: &str) -> String {
        let r = self
            .http
            .get(format!("{}/api/auth/token", self.origin))
            .bearer_auth(session)
            .send()
            .await
            .unwrap();
        r.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    fn verifier(&self) -> Verifier {
        Verifier::new(self.config()).unwrap()
    }

    fn config(&self) -> VerifierConfig {
        VerifierConfig::for_auth_server(&self.origin).unwrap()
    }
}

fn parts(token: &str) -> (Value, Value) {
    let mut it = token.split('.');
    let mut next =
        || serde_json::from_slice(&URL_SAFE_NO_PAD.decode(it.next().unwrap()).unwrap()).unwrap();
    (next(), next())
}

fn encode(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

#[actix_web::test]
async fn accepts_valid_tokens_and_refuses_every_bad_one() {
    let auth = Auth::start(|_| {}).await;
    let verifier = auth.verifier();
    let (session, user_id) = auth.user().await;
    let token = auth.token(&session).await;

    let claims = verifier.verify(&token).await.unwrap();
    assert_eq!(claims.sub, user_id);
    assert_eq!(claims.user_id(), user_id);
    assert_eq!(claims.name.as_deref(), Some("API User"));
    assert_eq!(claims.email_verified, Some(false));

    let (header, payload) = parts(&token);
    let signature = token.rsplit('.').next().unwrap();

    // Tampered payload, original signature.
    let mut changed = payload.clone();
    changed["sub"] = json!("someone-else");
    let tampered = format!("{}.{signature}", encode(&header, &changed));
    assert_eq!(
        verifier.verify(&tampered).await,
        Err(VerifyError::InvalidSignature)
    );

    // alg: none.
    let none = format!(
        "{}.",
        encode(&json!({"alg": "none", "kid": header["kid"]}), &payload)
    );
    assert!(matches!(
        verifier.verify(&none).await,
        Err(VerifyError::Malformed(_))
    ));

    // HS256 "signed" with the published public key: algorithm confusion.
    let jwks: Value = auth
        .http
        .get(format!("{}/api/auth/jwks", auth.origin))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let x = jwks["keys"][0]["x"].as_str().unwrap();
    let confused = jsonwebtoken::encode(
        &jsonwebtoken::Header {
            kid: header["kid"].as_str().map(Into::into),
            ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256)
        },
        &payload,
        &jsonwebtoken::EncodingKey::from_secret(x.as_bytes()),
    )
    .unwrap();
    assert!(matches!(
        verifier.verify(&confused).await,
        Err(VerifyError::AlgorithmNotAllowed(_))
    ));

    // Signed with a key the auth server never published.
    let rogue = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let input = encode(&json!({"alg": "EdDSA", "kid": "made-up"}), &payload);
    let forged = format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(rogue.sign(input.as_bytes()).to_bytes())
    );
    assert_eq!(
        verifier.verify(&forged).await,
        Err(VerifyError::UnknownKid("made-up".into()))
    );
    // Same but claiming the real kid.
    let input = encode(&header, &payload);
    let forged = format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(rogue.sign(input.as_bytes()).to_bytes())
    );
    assert_eq!(
        verifier.verify(&forged).await,
        Err(VerifyError::InvalidSignature)
    );

    for garbage in ["garbage", "a.b.c", "", "Bearer x"] {
        assert!(verifier.verify(garbage).await.is_err(), "{garbage:?}");
    }

    // Misdirected: another audience or issuer expected.
    let other_aud = Verifier::new(auth.config().audiences(&["https://api.example.com"])).unwrap();
    assert_eq!(
        other_aud.verify(&token).await,
        Err(VerifyError::InvalidAudience)
    );
    let other_iss = Verifier::new(auth.config().issuer("https://auth.example.com")).unwrap();
    assert_eq!(
        other_iss.verify(&token).await,
        Err(VerifyError::InvalidIssuer)
    );
    auth.handle.stop(false).await;
}

#[actix_web::test]
async fn expired_and_future_tokens_are_refused() {
    let auth = Auth::start(|c| c.jwt.expires_in = 1).await;
    let verifier = Verifier::new(auth.config().leeway(Duration::ZERO)).unwrap();
    let (session, _) = auth.user().await;
    let token = auth.token(&session).await;
    assert!(verifier.verify(&token).await.is_ok());
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(verifier.verify(&token).await, Err(VerifyError::Expired));
    auth.handle.stop(false).await;
}

#[actix_web::test]
async fn rotation_outage_and_kid_floods() {
    let auth = Auth::start(|_| {}).await;
    let verifier = Verifier::new(
        auth.config()
            .min_refetch_interval(Duration::from_millis(300))
            .max_cache_age(Duration::from_millis(1500)),
    )
    .unwrap();
    let (session, _) = auth.user().await;
    let old = auth.token(&session).await;
    assert!(verifier.verify(&old).await.is_ok());
    assert_eq!(verifier.jwks_fetches(), 1);
    for _ in 0..50 {
        verifier.verify(&old).await.unwrap();
    }
    assert_eq!(
        verifier.jwks_fetches(),
        1,
        "cached keys: no fetch per request"
    );

    // After a rotation, both the old and the new key verify.
    auth.state.jwt.rotate(&auth.state.store).await.unwrap();
    let new = auth.token(&session).await;
    assert_ne!(parts(&old).0["kid"], parts(&new).0["kid"]);
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert!(
        verifier.verify(&new).await.is_ok(),
        "unknown kid triggers one refetch"
    );
    assert!(verifier.verify(&old).await.is_ok());
    let fetched = verifier.jwks_fetches();

    // 1,000 tokens with made-up kids: at most one fetch per interval.
    let (header, payload) = parts(&new);
    let _ = header;
    for i in 0..1000 {
        let bogus = format!(
            "{}.c2ln",
            encode(
                &json!({"alg": "EdDSA", "kid": format!("kid-{i}")}),
                &payload
            )
        );
        assert!(matches!(
            verifier.verify(&bogus).await,
            Err(VerifyError::UnknownKid(_))
        ));
    }
    assert!(
        verifier.jwks_fetches() <= fetched + 1,
        "{} fetches",
        verifier.jwks_fetches()
    );

    // The auth server goes away and the cache goes stale: the refresh fails, the cached
    // keys keep working.
    auth.handle.stop(false).await;
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let before = verifier.jwks_fetches();
    assert!(verifier.verify(&new).await.is_ok());
    assert!(verifier.verify(&old).await.is_ok());
    assert_eq!(
        verifier.jwks_fetches(),
        before + 1,
        "one (failed) refresh attempt was made"
    );
}

#[actix_web::test]
async fn opt_in_fallbacks() {
    // HS256 shared secret.
    let shared = "api-hs256-shared-secret-0123456789abcdef";
    let auth = Auth::start(|c| {
        c.jwt.algorithm = better_auth_server::config::JwtAlgorithm::Hs256;
        c.jwt.hs256_secret = Some(shared.into());
    })
    .await;
    let (session, user_id) = auth.user().await;
    let token = auth.token(&session).await;
    assert!(
        auth.verifier().verify(&token).await.is_err(),
        "off by default"
    );
    let with_secret = Verifier::new(auth.config().with_hs256_secret(shared)).unwrap();
    let claims = with_secret.verify(&token).await.unwrap();
    assert_eq!(
        (claims.sub.as_str(), claims.kind),
        (user_id.as_str(), better_auth_api::TokenKind::SharedSecret)
    );
    let wrong = Verifier::new(
        auth.config()
            .with_hs256_secret("another-shared-secret-0123456789abcdef"),
    )
    .unwrap();
    assert_eq!(
        wrong.verify(&token).await,
        Err(VerifyError::InvalidSignature)
    );

    // Opaque session tokens, raw or signed.
    assert!(
        auth.verifier().verify(&session).await.is_err(),
        "off by default"
    );
    let sessions = Verifier::new(auth.config().with_session_tokens().unwrap()).unwrap();
    let raw = session.split('.').next().unwrap();
    for t in [session.as_str(), raw] {
        let claims = sessions.verify(t).await.unwrap();
        assert_eq!(
            (claims.sub.as_str(), claims.kind),
            (user_id.as_str(), better_auth_api::TokenKind::Session)
        );
    }
    assert_eq!(
        sessions.verify("not-a-session-token").await,
        Err(VerifyError::InvalidSession)
    );
    auth.handle.stop(false).await;
}

#[actix_web::test]
async fn example_api_answers_200_or_401_with_www_authenticate() {
    let auth = Auth::start(|_| {}).await;
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_better-auth-api"))
        .env("BETTER_AUTH_URL", &auth.origin)
        .env("PORT", port.to_string())
        .env("HOST", "127.0.0.1")
        .env_remove("API_AUDIENCE")
        .env("RUST_LOG", "warn")
        .spawn()
        .unwrap();
    let api = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let mut up = false;
    for _ in 0..100 {
        if http
            .get(format!("{api}/health"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "example API did not start");
    let (session, user_id) = auth.user().await;
    let token = auth.token(&session).await;

    for path in ["/api/me", "/api/protected"] {
        let ok = http
            .get(format!("{api}{path}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200, "{path}");
        let body: Value = ok.json().await.unwrap();
        assert!(body.to_string().contains(&user_id), "{path}: {body}");

        let missing = http.get(format!("{api}{path}")).send().await.unwrap();
        assert_eq!(missing.status(), 401);
        let challenge = missing.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            challenge.starts_with("Bearer") && !challenge.contains("error="),
            "{challenge}"
        );
        assert_eq!(
            missing.json::<Value>().await.unwrap()["code"],
            "MISSING_TOKEN"
        );

        let bad = http
            .get(format!("{api}{path}"))
            .bearer_auth(format!("{token}x"))
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), 401);
        let challenge = bad.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
        assert_eq!(bad.json::<Value>().await.unwrap()["code"], "INVALID_TOKEN");
    }
    let _ = child.kill();
    let _ = child.wait();
    auth.handle.stop(false).await;
}

/// Security probe, finding 4: the example API logged the `kid` of every refused token in
/// full (60 KB a request with a crafted header). What a refusal carries into the log is
/// bounded now, whatever the request sent.
#[actix_web::test]
async fn finding_4_logged_request_values_are_bounded() {
    let auth = Auth::start(|_| {}).await;
    let verifier = auth.verifier();
    let (session, _) = auth.user().await;
    let token = auth.token(&session).await;
    let (mut header, claims) = parts(&token);
    let signature = token.rsplit('.').next().unwrap();
    header["kid"] = json!("k".repeat(60_000));
    let forged = format!("{}.{signature}", encode(&header, &claims));
    let err = verifier.verify(&forged).await.unwrap_err();
    assert!(matches!(err, VerifyError::UnknownKid(_)), "{err:?}");
    let logged = err.to_string();
    assert!(logged.len() < 200, "{} bytes would be logged", logged.len());
    assert!(logged.contains("more bytes cut"), "{logged}");
    // A header that does not parse quotes no more of it either.
    let garbage = format!(
        "{}.e30.sig",
        URL_SAFE_NO_PAD.encode(format!("{{\"alg\":\"{}\"}}", "A".repeat(60_000)))
    );
    let logged = verifier.verify(&garbage).await.unwrap_err().to_string();
    assert!(logged.len() < 200, "{} bytes would be logged", logged.len());
    auth.handle.stop(false).await;
}
