//! Hot-path crypto, per call on one core: cookie verification, JWT claims + signing (the
//! work `/token` and `/get-session` do per request), private-key decryption (which the
//! key cache saves), and password hashing (sign-up, sign-in).
//!
//!     cargo bench -p better-auth-server --bench crypto

#![allow(
    clippy::expect_used,
    reason = "a benchmark that cannot set up has nothing to measure"
)]

use std::hint::black_box;

use better_auth_server::config::{Config, ConfigArgs, JwtAlgorithm, PasswordHashing};
use better_auth_server::cookie_cache;
use better_auth_server::crypto::secrets::Secrets;
use better_auth_server::crypto::{password, signing, symmetric};
use better_auth_server::models::{Timestamp, User};
use better_auth_server::plugins::jwt::{keys, JwtSigner};
use criterion::{criterion_group, criterion_main, Criterion};

const SECRET: &str = "bench-secret-0123456789abcdef0123456789";

fn user() -> User {
    let now = Timestamp::now();
    User {
        name: "Ann Example".into(),
        email: "ann@example.com".into(),
        email_verified: false,
        image: None,
        created_at: now,
        updated_at: now,
        id: "IRAwaanhJeSqsC98356eCcF9hl2rMruZ".into(),
        extra: Default::default(),
        hidden: Default::default(),
    }
}

fn config() -> Config {
    let dir = std::env::temp_dir().join("better-auth-bench-config");
    Config::load(&ConfigArgs {
        data_dir: Some(dir),
        secret: Some(SECRET.into()),
        ..ConfigArgs::default()
    })
    .expect("config")
}

fn cookie(c: &mut Criterion) {
    let signed = signing::sign(SECRET, "f5SwLl0BWGg7qBX5Hy55EAEeQqDGgPgS");
    c.bench_function("session cookie: verify HMAC-SHA256", |b| {
        b.iter(|| signing::verify(black_box(SECRET), black_box(&signed)))
    });
}

/// Opening a `session_data` cookie of a typical session + user, per strategy: the work a
/// get-session answered from the cookie cache does instead of a storage read.
fn cookie_cache(c: &mut Criterion) {
    use better_auth_server::config::CookieCacheStrategy;
    let secrets = Secrets::single(SECRET.into());
    let user = user();
    let now = Timestamp::now();
    let session = serde_json::json!({
        "expiresAt": now.plus_seconds(604_800), "token": "f5SwLl0BWGg7qBX5Hy55EAEeQqDGgPgS",
        "createdAt": now, "updatedAt": now, "ipAddress": "127.0.0.1",
        "userAgent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0", "userId": user.id,
        "id": "Q2mVxkXq3dYF0bQZQhN6cQpXh6zv9rS1",
    });
    let payload = serde_json::json!({
        "session": session, "user": user, "updatedAt": now.millis(), "version": "1",
    });
    let payload = payload.as_object().cloned().expect("object");
    for (name, strategy) in [
        ("compact", CookieCacheStrategy::Compact),
        ("jwt", CookieCacheStrategy::Jwt),
        ("jwe", CookieCacheStrategy::Jwe),
    ] {
        let value =
            cookie_cache::seal(strategy, &secrets, payload.clone(), Some(300), now.millis());
        c.bench_function(&format!("cookie cache: open {name}"), |b| {
            b.iter(|| cookie_cache::open(strategy, &secrets, black_box(&value), now.millis()))
        });
        c.bench_function(&format!("cookie cache: seal {name}"), |b| {
            b.iter(|| {
                cookie_cache::seal(strategy, &secrets, payload.clone(), Some(300), now.millis())
            })
        });
    }
}

fn jwt(c: &mut Criterion) {
    let config = config();
    let signer = JwtSigner::new(&config);
    let user = user();
    let now = Timestamp::now();
    let secrets = Secrets::single(SECRET.into());
    for algorithm in [
        JwtAlgorithm::EdDsa,
        JwtAlgorithm::Es256,
        JwtAlgorithm::Rs256,
    ] {
        let row = keys::new_row(algorithm, &secrets, now, None).expect("key");
        let key = keys::signing_key(&secrets, &row).expect("signing key");
        c.bench_function(&format!("JWT: claims + sign ({})", algorithm.name()), |b| {
            b.iter(|| {
                let claims = signer
                    .claims(black_box(&user), 1_795_705_468)
                    .expect("claims");
                key.sign(&claims).expect("sign")
            })
        });
        if algorithm == JwtAlgorithm::EdDsa {
            c.bench_function(
                "JWT key: decrypt + parse stored private key (cached away)",
                |b| {
                    b.iter(|| keys::signing_key(black_box(&secrets), black_box(&row)).expect("key"))
                },
            );
        }
    }
    let sealed = symmetric::encrypt(SECRET, "{\"crv\":\"Ed25519\"}");
    c.bench_function("XChaCha20-Poly1305 decrypt (short value)", |b| {
        b.iter(|| symmetric::decrypt(black_box(SECRET), black_box(&sealed)).expect("decrypt"))
    });
}

fn passwords(c: &mut Criterion) {
    let mut group = c.benchmark_group("password");
    group.sample_size(10);
    let argon =
        password::hash_blocking("correct horse battery", PasswordHashing::Argon2id).expect("hash");
    let scrypt =
        password::hash_blocking("correct horse battery", PasswordHashing::Scrypt).expect("hash");
    group.bench_function("argon2id verify (m=12 MiB, t=3, p=1)", |b| {
        b.iter(|| {
            password::verify_blocking(black_box("correct horse battery"), &argon).expect("verify")
        })
    });
    group.bench_function("Better Auth scrypt verify (N=16384, r=16, p=1)", |b| {
        b.iter(|| {
            password::verify_blocking(black_box("correct horse battery"), &scrypt).expect("verify")
        })
    });
    group.finish();
}

criterion_group!(benches, cookie, cookie_cache, jwt, passwords);
criterion_main!(benches);
