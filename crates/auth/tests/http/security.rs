//! The findings of the hostile probe (issue "Security: rate limits that can't be dodged,
//! redirects that never leave home, stalled bodies dropped"), one test each, named after
//! the finding. Paths go out byte for byte over a raw socket where it matters: every URL
//! library (reqwest included) would normalize them first.

use std::time::{Duration, Instant};

use better_auth_server::config::Limit;
use better_auth_server::models::Timestamp;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use url::Url;

use crate::harness::{Backend, Resp, TestServer, APP_ORIGIN, SECRET};
use crate::on_both_databases;

/// One HTTP/1.1 exchange with the bytes given; the answer's status, headers (lower-case
/// names) and body. `Connection: close`, so the answer ends with the connection.
async fn raw_exchange(srv: &TestServer, request: &str) -> (u16, Vec<(String, String)>, String) {
    let addr = srv.origin.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut answer))
        .await
        .expect("the server answered and closed")
        .unwrap();
    parse_answer(&String::from_utf8_lossy(&answer))
}

fn parse_answer(text: &str) -> (u16, Vec<(String, String)>, String) {
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text, ""));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

/// A JSON POST to a path written exactly as given (after the host).
async fn raw_post(srv: &TestServer, path: &str, body: &Value) -> u16 {
    let body = body.to_string();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    raw_exchange(srv, &request).await.0
}

/// Other spellings of `/api/auth<path>`: percent-encoded unreserved characters, a trailing
/// slash, doubled slashes, `.` and `..` segments (plain and encoded), a query string and
/// other letter case.
fn spellings(path: &str) -> Vec<String> {
    let base = "/api/auth";
    let encode_at = |i: usize| {
        let mut s = String::new();
        for (j, c) in path.char_indices() {
            if j == i {
                s.push_str(&format!("%{:02X}", c as u32));
            } else {
                s.push(c);
            }
        }
        format!("{base}{s}")
    };
    let letters: Vec<usize> = path
        .char_indices()
        .filter(|(_, c)| c.is_ascii_alphabetic() || *c == '-')
        .map(|(i, _)| i)
        .collect();
    let mut out = vec![
        encode_at(letters[0]),
        encode_at(*letters.last().unwrap()),
        format!("{base}{}", path.to_lowercase().replace('e', "%65")),
        format!("{base}{path}/"),
        format!("{base}/{path}"),
        format!("{base}{}", path.replacen('/', "//", 2)),
        format!("{base}/.{path}"),
        format!("{base}/x/..{path}"),
        format!("{base}/%2e{path}"),
        format!("{base}/x/%2e%2e{path}"),
        format!("{base}{path}?a=1"),
        format!("{base}{path}/."),
        format!("{base}{}", path.to_uppercase()),
    ];
    if let Some(i) = path.find('-') {
        out.push(encode_at(i));
    }
    let mut chars = path.chars();
    chars.next();
    let capital: String = chars.next().map_or(String::new(), |c| {
        format!("/{}{}", c.to_ascii_uppercase(), chars.as_str())
    });
    out.push(format!("{base}{capital}"));
    out
}

/// Finding 1: after a special rule's budget is spent, no other spelling of the path gets a
/// fresh one: each spelling is either not routed (404) or refused (429).
async fn finding_1_rate_limit_spellings_share_one_budget(b: Backend) {
    let rules: [(&str, Value); 6] = [
        (
            "/sign-in/email",
            json!({"email": "nobody@example.com", "password": "wrong-password"}),
        ),
        ("/sign-up/email", json!({})),
        ("/change-password", json!({})),
        ("/change-email", json!({})),
        ("/request-password-reset", json!({})),
        ("/send-verification-email", json!({})),
    ];
    let Some(srv) = TestServer::start_with(b, |c| c.rate_limit.enabled = true).await else {
        return;
    };
    for (path, body) in &rules {
        for _ in 0..3 {
            let status = raw_post(&srv, &format!("/api/auth{path}"), body).await;
            assert_ne!(status, 429, "{path}: refused before its budget was spent");
        }
        assert_eq!(
            raw_post(&srv, &format!("/api/auth{path}"), body).await,
            429,
            "{path}: the fourth request in the window"
        );
        // At once: actix holds a connection whose body went unread (a 404) for a second.
        let spellings = spellings(path);
        let answers =
            futures_util::future::join_all(spellings.iter().map(|s| raw_post(&srv, s, body))).await;
        for (spelling, status) in spellings.iter().zip(answers) {
            assert!(
                status == 404 || status == 429,
                "{spelling} answered {status}: it reached {path} with a fresh budget"
            );
        }
    }
    srv.stop().await;
}

/// Finding 1, second half: requests that match no route share one budget per client,
/// instead of one per invented path.
async fn finding_1_unrouted_requests_count_in_one_bucket(b: Backend) {
    let Some(srv) = TestServer::start_with(b, |c| {
        c.rate_limit.enabled = true;
        c.rate_limit.default = Limit { window: 10, max: 5 };
    })
    .await
    else {
        return;
    };
    for i in 0..5 {
        assert_eq!(
            srv.get(&format!("/no-such-route-{i}"), None).await.status,
            404
        );
    }
    assert_eq!(srv.get("/no-such-route-x", None).await.status, 429);
    // A routed path keeps its own budget.
    assert_eq!(srv.get("/ok", None).await.status, 200);
    srv.stop().await;
}

/// Known open-redirect payloads (after the public lists), aimed at `evil.example`.
const OPEN_REDIRECTS: &[&str] = &[
    "//evil.example",
    "///evil.example",
    "////evil.example",
    "/\\evil.example",
    "/\\/evil.example",
    "\\/\\/evil.example",
    "\\\\evil.example",
    "/..//evil.example",
    "/.././/evil.example",
    "/./..//evil.example",
    "/a/b/../..//evil.example",
    "/a/..//evil.example",
    "/%2e%2e//evil.example",
    "/%2E%2E//evil.example",
    "/.%2e//evil.example",
    "/%2e%2e%2f%2fevil.example",
    "/%2f%2fevil.example",
    "/%2F/evil.example",
    "/%5cevil.example",
    "/%5C%5Cevil.example",
    "/%09/evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r\n/evil.example",
    " //evil.example",
    "https://evil.example",
    "http://evil.example/",
    "https:evil.example",
    "http:/\\/\\evil.example",
    "https:/evil.example",
    "//evil.example@localhost:3000",
    "http://localhost:3000@evil.example",
    "http://localhost:3000.evil.example",
    "http://evil.example/http://localhost:3000",
    "http://evil.example?http://localhost:3000",
    "http://evil.example#http://localhost:3000",
    "http://evil.example\\@localhost:3000",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "/%0d%0aLocation:%20https://evil.example",
    "//evil%E3%80%82example",
    "/\u{3002}/evil.example",
    "///\\;@evil.example",
    "/x/..%2f..%2f/evil.example",
    "/dashboard/../..//evil.example?x=1",
];

/// The callbacks that must keep working (upstream accepts them and so do we).
const GOOD_CALLBACKS: &[&str] = &[
    "/dashboard",
    "/dashboard?tab=1",
    "/a/b.c/@me",
    "http://localhost:3000/after",
];

/// Where a `Location` goes, resolved as a browser resolves it (WHATWG URL rules) against
/// the page that got it: our own origin or the trusted app origin, never elsewhere.
fn assert_stays_home(srv: &TestServer, what: &str, location: &str) {
    let base = Url::parse(&srv.url).unwrap();
    let resolved = base
        .join(location)
        .unwrap_or_else(|e| panic!("{what}: Location {location:?} does not parse: {e}"));
    let origin = resolved.origin().ascii_serialization();
    assert!(
        origin == srv.origin || origin == APP_ORIGIN,
        "{what}: Location {location:?} leads to {resolved}"
    );
}

/// A refused callback is upstream's 403 with an `INVALID_..._URL` code; an accepted one
/// may redirect, but only home.
fn assert_refused_or_home(srv: &TestServer, what: &str, resp: &Resp) {
    if resp.status == 403 {
        let code = resp.json()["code"].as_str().unwrap_or_default().to_owned();
        assert!(
            code.starts_with("INVALID_") && code.ends_with("_URL"),
            "{what}: 403 {}",
            resp.text
        );
        return;
    }
    assert!(resp.status < 500, "{what}: {} {}", resp.status, resp.text);
    if let Some(location) = resp.header("location") {
        assert_stays_home(srv, what, location);
    }
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Finding 2: every redirecting endpoint, every payload.
async fn finding_2_open_redirect_corpus(b: Backend) {
    let Some(srv) = TestServer::start_with(b, |c| {
        c.social.providers.push(crate::social::provider());
    })
    .await
    else {
        return;
    };
    let email = "redirect@example.com";
    let signed_up = srv.sign_up(email, "password-123456").await;
    let cookie = signed_up.cookie_pair("better-auth.session_token");
    let user_id = signed_up.json()["user"]["id"].as_str().unwrap().to_owned();
    let verify_token =
        better_auth_server::crypto::email_token::create(SECRET, email, None, None, &user_id, 3600)
            .unwrap();
    let reset_token = "reset-token-for-the-redirect-corpus";
    srv.state
        .verifications
        .create(
            &format!("reset-password:{reset_token}"),
            &user_id,
            Timestamp::now().plus_seconds(3600),
        )
        .await
        .unwrap();

    for payload in OPEN_REDIRECTS.iter().chain(GOOD_CALLBACKS) {
        let p = enc(payload);
        let gets = [
            format!("/verify-email?token=bad&callbackURL={p}"),
            format!("/verify-email?token={verify_token}&callbackURL={p}"),
            format!("/reset-password/bad-token?callbackURL={p}"),
            format!("/reset-password/{reset_token}?callbackURL={p}"),
        ];
        for path in gets {
            let resp = srv.get(&path, None).await;
            assert_refused_or_home(&srv, &format!("GET {path}"), &resp);
        }
        let resp = srv
            .get(
                &format!("/delete-user/callback?token=bad&callbackURL={p}"),
                Some(&cookie),
            )
            .await;
        assert_refused_or_home(&srv, &format!("delete-user/callback {payload:?}"), &resp);

        let resp = srv
            .post(
                "/sign-in/email",
                json!({"email": email, "password": "password-123456", "callbackURL": payload}),
                None,
            )
            .await;
        assert_refused_or_home(&srv, &format!("sign-in/email {payload:?}"), &resp);

        for (field, also) in [
            ("callbackURL", None),
            ("errorCallbackURL", Some("/dashboard")),
            ("newUserCallbackURL", Some("/dashboard")),
        ] {
            let mut body = json!({"provider": "example", field: payload});
            if let Some(cb) = also {
                body["callbackURL"] = json!(cb);
            }
            let resp = srv.post("/sign-in/social", body, None).await;
            let what = format!("sign-in/social {field}={payload:?}");
            if resp.status == 403 {
                assert_refused_or_home(&srv, &what, &resp);
                continue;
            }
            assert_eq!(resp.status, 200, "{what}: {}", resp.text);
            let url = Url::parse(resp.json()["url"].as_str().unwrap()).unwrap();
            let state = url
                .query_pairs()
                .find(|(k, _)| k == "state")
                .unwrap()
                .1
                .into_owned();
            let state_cookie = resp.cookie_pair("better-auth.state");
            // The provider sends the user back with an error: to errorCallbackURL.
            let back = srv
                .get(
                    &format!("/callback/example?state={state}&error=access_denied"),
                    Some(&state_cookie),
                )
                .await;
            assert_eq!(back.status, 302, "{what}: {}", back.text);
            assert_stays_home(&srv, &what, back.header("location").unwrap());
        }
    }
    // The provider id in POST /callback/:id goes into the Location too.
    for id in [
        "..%2F..%2F%2Fevil.example",
        "%2F%2Fevil.example",
        "%5Cevil.example",
        "@evil.example",
    ] {
        let resp = srv
            .send(
                reqwest::Method::POST,
                &format!("/callback/{id}"),
                Some("application/x-www-form-urlencoded"),
                "state=s&code=c".into(),
            )
            .await;
        assert_refused_or_home(&srv, &format!("POST /callback/{id}"), &resp);
    }
    srv.stop().await;
}

/// Finding 2: the relative callback from the report and its variants are refused as
/// upstream refuses an untrusted callback (403), while plain paths keep working.
async fn finding_2_dot_segment_callbacks_are_refused(b: Backend) {
    let Some(srv) = TestServer::start(b).await else {
        return;
    };
    for payload in [
        "/..//evil.example",
        "/a/b/../..//evil.example",
        "/.././/evil.example",
        "/%2e%2e//evil.example",
    ] {
        let resp = srv
            .get(
                &format!("/verify-email?token=bad&callbackURL={}", enc(payload)),
                None,
            )
            .await;
        assert_eq!(
            resp.error(),
            (
                403,
                "INVALID_CALLBACK_URL".into(),
                "Invalid callbackURL".into()
            ),
            "{payload}"
        );
    }
    let resp = srv
        .get("/verify-email?token=bad&callbackURL=%2Fdashboard", None)
        .await;
    assert_eq!(resp.status, 302);
    assert_eq!(
        resp.header("location"),
        Some("/dashboard?error=INVALID_TOKEN")
    );
    srv.stop().await;
}

/// Finding 2: a state that fails its checks is used up all the same, so a captured state
/// can't be replayed while its row lives.
async fn finding_2_oauth_state_consumed_on_mismatch(b: Backend) {
    let Some(srv) = TestServer::start_with(b, |c| {
        c.social.providers.push(crate::social::provider());
    })
    .await
    else {
        return;
    };
    let resp = srv
        .post(
            "/sign-in/social",
            json!({"provider": "example", "callbackURL": "/dashboard", "errorCallbackURL": "/oops"}),
            None,
        )
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    let url = Url::parse(resp.json()["url"].as_str().unwrap()).unwrap();
    let state = url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    assert_eq!(srv.count("verification").await, 1);
    // Without the state cookie (another browser): a mismatch, to the error URL.
    let resp = srv
        .get(&format!("/callback/example?state={state}&code=x"), None)
        .await;
    assert_eq!(resp.status, 302);
    assert_eq!(resp.header("location"), Some("/oops?error=state_mismatch"));
    assert_eq!(
        srv.count("verification").await,
        0,
        "the state row must be gone after a mismatch"
    );
    // With the right cookie now, the state is no longer there.
    let resp2 = srv
        .get(
            &format!("/callback/example?state={state}&code=x"),
            Some(&resp_cookie(&srv, &state).await),
        )
        .await;
    assert_eq!(resp2.status, 302);
    assert!(
        resp2
            .header("location")
            .is_some_and(|l| l.contains("error=state_mismatch")),
        "{:?}",
        resp2.header("location")
    );
    srv.stop().await;
}

/// The signed state cookie a browser that started the flow would hold.
async fn resp_cookie(srv: &TestServer, state: &str) -> String {
    let signed = srv.state.config.secrets.sign(state);
    format!("better-auth.state={}", enc(&signed))
}

/// Finding 3: a body that stops arriving is dropped after the body timeout with a 408 and
/// the connection closed, instead of holding a worker for minutes.
async fn finding_3_stalled_body_is_dropped(b: Backend) {
    let Some(srv) = TestServer::start_with(b, |c| {
        c.connections.body_timeout = Duration::from_secs(1);
    })
    .await
    else {
        return;
    };
    let addr = srv.origin.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            b"POST /api/auth/sign-in/email HTTP/1.1\r\nHost: 127.0.0.1\r\n\
              Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"email\":",
        )
        .await
        .unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    assert!(
        read.is_ok(),
        "the connection was still open after 10 s with a 1 s body timeout"
    );
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
    let (status, headers, body) = parse_answer(&String::from_utf8_lossy(&answer));
    assert_eq!(status, 408, "{body}");
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "connection" && v.eq_ignore_ascii_case("close")),
        "{headers:?}"
    );
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["code"], "REQUEST_TIMEOUT");
    // A body that arrives in time is still read in full.
    let resp = srv
        .post(
            "/sign-in/email",
            json!({"email": "nobody@example.com", "password": "wrong-password"}),
            None,
        )
        .await;
    assert_eq!(resp.status, 401);
    srv.stop().await;
}

on_both_databases!(
    finding_1_rate_limit_spellings_share_one_budget,
    finding_1_unrouted_requests_count_in_one_bucket,
    finding_2_open_redirect_corpus,
    finding_2_dot_segment_callbacks_are_refused,
    finding_2_oauth_state_consumed_on_mismatch,
    finding_3_stalled_body_is_dropped,
    finding_4_content_types_as_upstream,
);

/// Finding 4 (smaller): exactly the content types upstream's better-call accepts are read as
/// JSON (or a form, where the endpoint allows one); every other one is a 415 naming it.
async fn finding_4_content_types_as_upstream(b: Backend) {
    let Some(srv) = TestServer::start(b).await else {
        return;
    };
    let json_body =
        json!({"email": "nobody@example.com", "password": "wrong-password"}).to_string();
    let form_body = "email=nobody%40example.com&password=wrong-password".to_owned();
    let cases: &[(&str, &str, Option<&str>, &str, u16)] = &[
        (
            "/sign-in/email",
            &json_body,
            Some("application/json"),
            "read",
            401,
        ),
        (
            "/sign-in/email",
            &json_body,
            Some("application/json; charset=utf-8"),
            "read",
            401,
        ),
        (
            "/sign-in/email",
            &json_body,
            Some("APPLICATION/JSON"),
            "read",
            401,
        ),
        (
            "/sign-in/email",
            &json_body,
            Some("Application/Json;charset=UTF-8"),
            "read",
            401,
        ),
        (
            "/sign-in/email",
            &form_body,
            Some("application/x-www-form-urlencoded"),
            "read",
            401,
        ),
        (
            "/sign-in/email",
            &json_body,
            Some("application/vnd.api+json"),
            "refused",
            415,
        ),
        (
            "/sign-in/email",
            &json_body,
            Some("application/json-patch+json"),
            "refused",
            415,
        ),
        (
            "/sign-in/email",
            &json_body,
            Some("application/ld+json"),
            "refused",
            415,
        ),
        (
            "/sign-in/email",
            &json_body,
            Some("text/json"),
            "refused",
            415,
        ),
        (
            "/sign-in/email",
            &json_body,
            Some("application/jsonx"),
            "refused",
            415,
        ),
        (
            "/sign-in/email",
            &json_body,
            Some("x-application/json"),
            "refused",
            415,
        ),
        (
            "/sign-in/email",
            &json_body,
            Some("text/plain"),
            "refused",
            415,
        ),
        (
            "/sign-in/email",
            &json_body,
            Some("multipart/form-data; boundary=x"),
            "refused",
            415,
        ),
        ("/sign-in/email", &json_body, None, "refused", 415),
        (
            "/sign-out",
            &form_body,
            Some("application/x-www-form-urlencoded"),
            "refused",
            415,
        ),
    ];
    for (path, body, content_type, what, status) in cases {
        let r = srv
            .send(
                reqwest::Method::POST,
                path,
                *content_type,
                (*body).to_owned(),
            )
            .await;
        assert_eq!(
            r.status, *status,
            "{path} {content_type:?} ({what}): {}",
            r.text
        );
        if *status == 415 {
            let allowed = if *path == "/sign-out" {
                "application/json"
            } else {
                "application/x-www-form-urlencoded, application/json"
            };
            // better-call's two messages: a type not allowed, or none at all.
            let message = match content_type {
                Some(sent) => {
                    format!("Content-Type \"{sent}\" is not allowed. Allowed types: {allowed}")
                }
                None => format!("Content-Type is required. Allowed types: {allowed}"),
            };
            assert_eq!(
                r.json(),
                json!({ "message": message, "code": "UNSUPPORTED_MEDIA_TYPE" })
            );
        }
    }
    srv.stop().await;
}
