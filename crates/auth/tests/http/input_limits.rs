//! Hostile input: oversized fields, deep JSON, invalid UTF-8, huge or too many headers,
//! broken request lines. Each gets a complete 4xx answer (Better Auth's error body where the
//! request reaches an endpoint), never a 500 or a connection dropped mid-answer.

use reqwest::Method;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::{Backend, TestServer};
use crate::on_both_databases;

/// Sends raw bytes on a fresh connection and reads the whole answer (the server closes it).
async fn raw_http(srv: &TestServer, request: &[u8]) -> String {
    let addr = srv.origin.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut answer),
    )
    .await
    .expect("the server answers and closes")
    .expect("read");
    String::from_utf8_lossy(&answer).into_owned()
}

fn post_json(path: &str, body: &[u8]) -> Vec<u8> {
    let mut req = format!(
        "POST /api/auth{path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    req
}

async fn oversized_fields_are_validation_errors(b: Backend) {
    let Some(srv) = TestServer::start(b).await else {
        return;
    };
    let long_name = "n".repeat(4097);
    let r = srv
        .post(
            "/sign-up/email",
            json!({"name": long_name, "email": "long@example.com", "password": "password123"}),
            None,
        )
        .await;
    assert_eq!(
        r.error(),
        (
            400,
            "VALIDATION_ERROR".into(),
            "[body.name] Too big: expected string to have <=4096 characters".into()
        )
    );
    let long_email = format!("{}@example.com", "e".repeat(250));
    let r = srv
        .post(
            "/sign-up/email",
            json!({"name": "n", "email": long_email, "password": "password123"}),
            None,
        )
        .await;
    assert_eq!(r.error().0, 400);
    assert_eq!(r.error().2, "[body.email] Invalid email address");
    // The longest name we take still works; nothing was stored for the refused ones.
    let r = srv
        .post(
            "/sign-up/email",
            json!({"name": "n".repeat(4096), "email": "ok@example.com", "password": "password123"}),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(srv.count("user").await, 1);
    srv.stop().await;
}

async fn malformed_bodies_get_the_error_body(b: Backend) {
    let Some(srv) = TestServer::start(b).await else {
        return;
    };
    let invalid_json = r#"{"message":"Invalid JSON in request body","code":"BAD_REQUEST"}"#;
    // 60 000 levels of nesting: refused by the parser's depth limit, not a stack overflow.
    let deep = raw_http(&srv, &post_json("/sign-in/email", &[b'['; 60_000])).await;
    assert!(deep.starts_with("HTTP/1.1 400"), "{deep}");
    assert!(deep.ends_with(invalid_json), "{deep}");
    // Invalid UTF-8 inside a JSON string.
    let bad_utf8 = raw_http(
        &srv,
        &post_json("/sign-in/email", b"{\"email\":\"\xff\xfe\"}"),
    )
    .await;
    assert!(bad_utf8.starts_with("HTTP/1.1 400"), "{bad_utf8}");
    assert!(bad_utf8.ends_with(invalid_json), "{bad_utf8}");
    // Invalid UTF-8 in a form body decodes lossily and fails validation.
    let form = srv
        .send(
            Method::POST,
            "/sign-in/email",
            Some("application/x-www-form-urlencoded"),
            "email=%FF%FE&password=x".into(),
        )
        .await;
    assert_eq!(form.error().0, 400, "{}", form.text);
    // A body shorter than its Content-Length, then the client closes its side.
    let addr = srv.origin.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"POST /api/auth/sign-in/email HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"a\":")
        .await
        .unwrap();
    stream.shutdown().await.unwrap();
    drop(stream);
    // The server is still fine.
    assert_eq!(srv.get("/ok", None).await.status, 200);
    srv.stop().await;
}

async fn hostile_headers_and_request_lines(b: Backend) {
    let Some(srv) = TestServer::start(b).await else {
        return;
    };
    // A 100 KB cookie is read and ignored: no session, no error.
    let big_cookie = format!("better-auth.session_token={}", "a".repeat(100_000));
    assert_eq!(
        srv.get("/get-session", Some(&big_cookie)).await.text,
        "null"
    );
    // Too many headers: refused by the HTTP layer, answered completely, connection closed.
    let mut many = b"GET /api/auth/get-session HTTP/1.1\r\nHost: x\r\n".to_vec();
    for i in 0..200 {
        many.extend_from_slice(format!("X-Header-{i}: 1\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    let answer = raw_http(&srv, &many).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    // A request line that is not UTF-8.
    let answer = raw_http(&srv, b"GET /api/auth/get-\xff HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    // Invalid UTF-8 in Cookie and Authorization headers: ignored like absent ones.
    let answer = raw_http(
        &srv,
        b"GET /api/auth/get-session HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: better-auth.session_token=\xff\r\nAuthorization: Bearer \xfe\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("null"), "{answer}");
    srv.stop().await;
}

on_both_databases!(
    oversized_fields_are_validation_errors,
    malformed_bodies_get_the_error_body,
    hostile_headers_and_request_lines,
);
