//! Property tests (proptest) on everything that parses untrusted input: cookies, bearer
//! tokens, request bodies, signed and encrypted values, callback URLs, forwarded addresses.
//!
//! cargo-fuzz needs a nightly compiler, which these machines do not have; proptest runs on
//! stable inside `cargo test`. The number of cases per property is bounded
//! (`PROPTEST_CASES`, default 2048 here), so CI spends a few seconds. A failure proptest
//! finds is shrunk and saved under `proptest-regressions/`, which is committed so the case
//! is replayed on every run.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

use actix_web::http::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, COOKIE};
use actix_web::test::TestRequest;
use actix_web::ResponseError;
use better_auth_server::config::{Config, ConfigArgs};
use better_auth_server::cookies::{self, CookieNames};
use better_auth_server::crypto::secrets::Secrets;
use better_auth_server::crypto::{signing, symmetric};
use better_auth_server::origins::{is_safe_relative_path, TrustedOrigins};
use better_auth_server::routes::body::{self, MediaTypes, Shape, Validator};
use proptest::prelude::*;

const SECRET: &str = "property-test-secret-0123456789abcdef";

fn config() -> Config {
    let dir = std::env::temp_dir().join("better-auth-properties");
    Config::load(&ConfigArgs {
        data_dir: Some(dir),
        secret: Some(SECRET.into()),
        trusted_origins: Some("https://*.example.com,http://localhost:3000".into()),
        ..ConfigArgs::default()
    })
    .unwrap()
}

fn cases() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(2048);
    ProptestConfig {
        cases,
        // Saved next to this file as `properties.proptest-regressions`, replayed first.
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions"),
        )),
        ..ProptestConfig::default()
    }
}

/// Header bytes as a client can send them (anything but CR, LF and NUL).
fn header_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        any::<u8>().prop_filter("no CR/LF/NUL", |b| !matches!(b, 0 | b'\r' | b'\n')),
        0..300,
    )
}

proptest! {
    #![proptest_config(cases())]

    /// Any Cookie or Authorization header: no panic, and never a session token unless it
    /// carries our signature.
    #[test]
    fn session_token_from_arbitrary_headers(cookie in header_bytes(), auth in header_bytes()) {
        let config = config();
        let names = CookieNames::new(false);
        let mut req = TestRequest::default();
        if let Ok(v) = HeaderValue::from_bytes(&cookie) {
            req = req.insert_header((COOKIE, v));
        }
        if let Ok(v) = HeaderValue::from_bytes(&auth) {
            req = req.insert_header((AUTHORIZATION, v));
        }
        let req = req.to_http_request();
        let token = cookies::session_token(&req, &config, &names);
        // A raw (dot-less) bearer token is taken as is, as upstream; random bytes never
        // carry our signature, so nothing else may come out.
        if let Some(t) = token {
            let auth = String::from_utf8_lossy(&auth);
            let bearer = auth
                .split_once(' ')
                .is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"));
            prop_assert!(bearer && !t.contains('.'), "unsigned token accepted: {t:?}");
        }
        let _ = cookies::dont_remember(&req, &config, &names);
    }

    /// A signed cookie value round-trips through the Cookie header, whatever the token.
    #[test]
    fn signed_cookies_round_trip(token in "[A-Za-z0-9]{1,64}", other in "[ -~]{0,40}") {
        let config = config();
        let names = CookieNames::new(false);
        let signed = cookies::encode_uri_component(&config.secrets.sign(&token));
        let header = format!("{}={signed}; other={}", names.session_token, other.replace(';', ""));
        let req = TestRequest::default().insert_header((COOKIE, header)).to_http_request();
        prop_assert_eq!(cookies::session_token(&req, &config, &names), Some(token));
    }

    /// Signatures: arbitrary text never verifies; a flipped character never verifies.
    /// (An empty value never verifies at all, signed or not: tokens are never empty.)
    #[test]
    fn signatures_only_verify_when_made_with_the_secret(value in "[ -~]{1,80}", flip in 0usize..200) {
        prop_assert_eq!(signing::verify(SECRET, &value), None);
        let signed = signing::sign(SECRET, &value);
        prop_assert_eq!(signing::verify(SECRET, &signed), Some(value.as_str()));
        let mut bytes = signed.into_bytes();
        let i = flip % bytes.len();
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        if tampered != signing::sign(SECRET, &value) {
            prop_assert_ne!(signing::verify(SECRET, &tampered), Some(value.as_str()));
        }
    }

    /// Stored-secret decryption on arbitrary input: an error, never a panic.
    #[test]
    fn decrypt_arbitrary_values(data in "(\\$ba\\$[0-9]{0,3}\\$)?[0-9a-f]{0,200}|[ -~]{0,200}") {
        let secrets = Secrets::rotating(&format!("2:{SECRET}x,1:{SECRET}"), None).unwrap();
        let _ = secrets.decrypt(&data);
        let _ = symmetric::decrypt(SECRET, &data);
    }

    /// Request bodies: any bytes under any content type parse or give a 4xx.
    #[test]
    fn bodies_parse_or_give_a_client_error(
        bytes in prop::collection::vec(any::<u8>(), 0..400),
        json_like in "[\\[\\]{}\":,a-z0-9 .-]{0,300}",
        content_type in prop::sample::select(vec![
            "application/json", "application/json; charset=utf-8",
            "application/x-www-form-urlencoded", "text/plain", "multipart/form-data", "",
        ]),
    ) {
        for body in [bytes.as_slice(), json_like.as_bytes()] {
            let mut req = TestRequest::default();
            if !content_type.is_empty() {
                req = req.insert_header((CONTENT_TYPE, content_type));
            }
            let req = req.to_http_request();
            match body::parse(&req, body, MediaTypes::JsonOrForm) {
                Ok(value) => {
                    // Whatever parsed goes through the validators without a panic.
                    if let Ok(mut v) = Validator::new(value.as_ref(), Shape::ObjectAndRecord) {
                        v.string("name");
                        v.email("email");
                        v.non_empty_string("password");
                        v.opt_string("callbackURL");
                        v.opt_bool("rememberMe");
                        let _ = v.finish();
                    }
                }
                Err(e) => prop_assert!(e.status_code().is_client_error(), "{e:?}"),
            }
        }
    }

    /// Callback URLs: a path we call safe never leaves our origin.
    #[test]
    fn safe_relative_paths_stay_on_our_origin(path in "/[ -~]{0,60}") {
        let config = config();
        let origins = TrustedOrigins::new(&config);
        let _ = origins.is_trusted(&path);
        if is_safe_relative_path(&path) {
            let base = url::Url::parse("http://localhost:3001/").unwrap();
            let joined = base.join(&path).unwrap();
            prop_assert_eq!(joined.origin(), base.origin(), "{}", path);
        }
    }

    /// X-Forwarded-For from arbitrary clients: without a trusted proxy, the peer it is.
    #[test]
    fn forwarded_for_never_overrides_an_untrusted_peer(xff in header_bytes(), peer in any::<[u8; 4]>()) {
        let peer = std::net::IpAddr::from(peer);
        let mut headers = actix_web::http::header::HeaderMap::new();
        if let Ok(v) = HeaderValue::from_bytes(&xff) {
            headers.insert(actix_web::http::header::HeaderName::from_static("x-forwarded-for"), v);
        }
        prop_assert_eq!(better_auth_server::client_ip::client_ip(Some(peer), &headers, &[]), Some(peer));
        let proxies = ["0.0.0.0/0".parse().unwrap()];
        let _ = better_auth_server::client_ip::client_ip(Some(peer), &headers, &proxies);
    }

    /// Time spans as configuration takes them: no overflow panic.
    #[test]
    fn time_spans(text in "[0-9]{0,25} ?[a-z]{0,8}") {
        let _ = better_auth_server::config::parse_time_span(&text);
    }
}
