//! Verifications per second with a cached key (no network): the per-request cost an API
//! pays.   cargo bench -p better-auth-api --bench verify
#![allow(
    clippy::expect_used,
    reason = "a benchmark that cannot set up has nothing to measure"
)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use better_auth_api::{Verifier, VerifierConfig};
use criterion::{criterion_group, criterion_main, Criterion};
use ed25519_dalek::Signer;

/// Serves one JWKS on loopback so the verifier can warm its cache, then stays out of the way.
fn serve_jwks(body: String) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let mut buf = [0u8; 2048];
            let _ = stream.read(&mut buf);
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncache-control: max-age=3600\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes());
        }
    });
    port
}

fn verify(c: &mut Criterion) {
    let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let x = URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes());
    let jwks = format!(
        r#"{{"keys":[{{"alg":"EdDSA","crv":"Ed25519","x":"{x}","kty":"OKP","kid":"k1"}}]}}"#
    );
    let port = serve_jwks(jwks);
    let origin = format!("http://127.0.0.1:{port}");
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"EdDSA","kid":"k1"}"#);
    let exp = chrono_now() + 3600;
    let payload = URL_SAFE_NO_PAD.encode(format!(
        r#"{{"iat":{},"name":"Ann","email":"ann@example.com","emailVerified":false,"image":null,"createdAt":"2026-11-26T15:04:28.033Z","updatedAt":"2026-11-26T15:04:28.033Z","id":"IRAwaanhJeSqsC98356eCcF9hl2rMruZ","sub":"IRAwaanhJeSqsC98356eCcF9hl2rMruZ","exp":{exp},"iss":"{origin}","aud":"{origin}"}}"#,
        exp - 3600
    ));
    let input = format!("{header}.{payload}");
    let token = format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(key.sign(input.as_bytes()).to_bytes())
    );

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let verifier =
        Verifier::new(VerifierConfig::for_auth_server(&origin).expect("config")).expect("verifier");
    runtime
        .block_on(verifier.verify(&token))
        .expect("warm-up verification");
    c.bench_function("verify EdDSA JWT (cached key)", |b| {
        b.iter(|| {
            runtime
                .block_on(verifier.verify(std::hint::black_box(&token)))
                .expect("valid")
        })
    });
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

criterion_group!(benches, verify);
criterion_main!(benches);
