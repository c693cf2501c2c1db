//! Property tests on JWT parsing and validation (proptest; cargo-fuzz needs nightly, which
//! these machines lack). A JWKS with one Ed25519 key is served from loopback; tokens are
//! arbitrary text, structurally valid JWTs with hostile headers, or correctly signed tokens
//! with arbitrary claims. Only the last kind may ever verify, and only with valid claims.
//! Cases per property: `PROPTEST_CASES` (default 1024). Failures are saved next to this file
//! (`properties.proptest-regressions`) and replayed on every run.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::LazyLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use better_auth_api::{Verifier, VerifierConfig};
use ed25519_dalek::Signer;
use proptest::prelude::*;
use serde_json::{json, Value};

const ISSUER: &str = "http://auth.test";
const KID: &str = "k1";

struct Fixture {
    runtime: tokio::runtime::Runtime,
    verifier: Verifier,
    key: ed25519_dalek::SigningKey,
}

/// Serves one JWKS document to any request (the verifier only ever GETs it).
fn serve_jwks(body: String) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncache-control: max-age=300\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let x = URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes());
    let jwks =
        json!({"keys": [{"alg": "EdDSA", "crv": "Ed25519", "x": x, "kty": "OKP", "kid": KID}]});
    let port = serve_jwks(jwks.to_string());
    let url = format!("http://127.0.0.1:{port}/api/auth/jwks")
        .parse()
        .unwrap();
    let config = VerifierConfig::from_jwks_url(url, ISSUER, ISSUER);
    Fixture {
        runtime: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap(),
        verifier: Verifier::new(config).unwrap(),
        key,
    }
});

fn verify(token: &str) -> Result<better_auth_api::Claims, better_auth_api::VerifyError> {
    FIXTURE.runtime.block_on(FIXTURE.verifier.verify(token))
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

fn signed(header: &Value, claims: &Value) -> String {
    let input = format!("{}.{}", b64(header), b64(claims));
    let signature = FIXTURE.key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn cases() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(1024),
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions"),
        )),
        ..ProptestConfig::default()
    }
}

/// A JSON value of any shape, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "[ -~]{0,20}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z]{1,4}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(cases())]

    /// Arbitrary text is never a valid token, and never panics the verifier.
    #[test]
    fn arbitrary_text_never_verifies(token in "[ -~]{0,300}|[A-Za-z0-9_-]{0,60}\\.[A-Za-z0-9_-]{0,60}\\.[A-Za-z0-9_-]{0,90}") {
        prop_assert!(verify(&token).is_err());
    }

    /// Well-formed JWTs with hostile headers (none, HS256 with our kid, unknown kids, odd
    /// types) and a signature that is not ours never verify.
    #[test]
    fn forged_headers_never_verify(
        alg in prop::sample::select(vec!["none", "HS256", "HS512", "EdDSA", "RS256", "ES256", "PS256", "", "eddsa"]),
        kid in prop::option::of(prop::sample::select(vec![KID, "other", "", "../k1"])),
        extra in any_json(),
        claims in any_json(),
        signature in prop::collection::vec(any::<u8>(), 0..80),
    ) {
        let mut header = json!({"alg": alg, "typ": "JWT"});
        if let Some(k) = kid {
            header["kid"] = json!(k);
        }
        header["x"] = extra;
        let token = format!("{}.{}.{}", b64(&header), b64(&claims), URL_SAFE_NO_PAD.encode(&signature));
        prop_assert!(verify(&token).is_err());
        // The same with no signature at all (alg none style).
        let unsigned = format!("{}.{}.", b64(&header), b64(&claims));
        prop_assert!(verify(&unsigned).is_err());
    }

    /// Correctly signed tokens with arbitrary claims: accepted only when iss, aud, sub and
    /// exp are right.
    #[test]
    fn signed_tokens_verify_only_with_valid_claims(
        iss in prop::sample::select(vec![ISSUER, "http://evil.test", ""]),
        aud in prop::sample::select(vec![json!(ISSUER), json!([ISSUER, "x"]), json!("other"), json!([]), json!(1)]),
        sub in prop_oneof![Just(json!("user-1")), any_json()],
        exp_offset in -100_000i64..100_000,
        extra in any_json(),
    ) {
        let claims = json!({"sub": sub, "iss": iss, "aud": aud, "exp": now() + exp_offset, "extra": extra});
        let header = json!({"alg": "EdDSA", "kid": KID});
        let result = verify(&signed(&header, &claims));
        let aud_ok = aud == json!(ISSUER) || aud.as_array().is_some_and(|a| a.contains(&json!(ISSUER)));
        let valid = iss == ISSUER && aud_ok && sub.is_string() && exp_offset > 5;
        if let Ok(c) = &result {
            prop_assert!(iss == ISSUER && aud_ok && sub.is_string() && exp_offset > -6, "accepted {claims}");
            prop_assert_eq!(&c.sub, sub.as_str().unwrap());
        }
        if valid {
            prop_assert!(result.is_ok(), "refused {claims}: {:?}", result.err());
        }
    }
}
