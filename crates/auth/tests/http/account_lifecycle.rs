//! Account lifecycle end to end (spec core-endpoints §1.4-1.9, §2; upstream
//! `routes/email-verification.ts`, `password.ts`, `update-user.ts`, `session.ts`): every
//! mail goes through a real SMTP listener on loopback, and the test follows its link.

use std::time::{Duration, Instant};

use better_auth_server::config::{Config, SmtpSecurity};
use better_auth_server::crypto::email_token;
use serde_json::{json, Value};

use crate::harness::{Backend, Resp, TestServer, APP_ORIGIN, SECRET};
use crate::mailbox::{configure_smtp, Mailbox};
use crate::on_both_databases;

const PASSWORD: &str = "correct horse battery";
const COOKIE: &str = "better-auth.session_token";

async fn start(b: Backend, tweak: impl FnOnce(&mut Config)) -> Option<(TestServer, Mailbox)> {
    let mailbox = Mailbox::start()?;
    let srv = TestServer::start_with(b, |c| {
        mailbox.configure(c);
        tweak(c);
    })
    .await?;
    Some((srv, mailbox))
}

/// GET on an absolute URL (a link from a mail), without following redirects.
async fn follow(srv: &TestServer, url: &str, cookie: Option<&str>) -> Resp {
    let mut req = srv.client.get(url);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    Resp::from(req.send().await.unwrap()).await
}

async fn sign_in(srv: &TestServer, email: &str, password: &str) -> Resp {
    srv.post(
        "/sign-in/email",
        json!({"email": email, "password": password}),
        None,
    )
    .await
}

async fn signed_in(srv: &TestServer, email: &str) -> String {
    srv.sign_up(email, PASSWORD).await.cookie_pair(COOKIE)
}

fn query_param(url: &str, key: &str) -> Option<String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

async fn verified_flag(srv: &TestServer, email: &str) -> bool {
    let row = srv
        .query_one(&format!(
            r#"select "emailVerified" as v from "user" where "email" = '{email}'"#
        ))
        .await
        .expect("user row");
    match srv.backend() {
        sea_orm::DbBackend::Sqlite => row.try_get::<i64>("", "v").unwrap() != 0,
        _ => row.try_get::<bool>("", "v").unwrap(),
    }
}

async fn mark_verified(srv: &TestServer, email: &str) {
    let t = match srv.backend() {
        sea_orm::DbBackend::Sqlite => "1",
        _ => "true",
    };
    srv.execute(&format!(
        r#"update "user" set "emailVerified" = {t} where "email" = '{email}'"#
    ))
    .await;
}

/// Makes every session of the database older than the fresh age.
async fn age_sessions(srv: &TestServer) {
    let old = match srv.backend() {
        sea_orm::DbBackend::Sqlite => "'2020-01-01T00:00:00.000Z'".to_owned(),
        _ => "timestamptz '2020-01-01 00:00:00+00'".to_owned(),
    };
    srv.execute(&format!(r#"update "session" set "createdAt" = {old}"#))
        .await;
}

async fn verification_required_from_sign_up_to_sign_in(b: Backend) {
    let Some((srv, mail)) = start(b, |c| {
        c.account.require_email_verification = true;
        c.email_verification.send_on_sign_up = true;
        c.email_verification.send_on_sign_in = true;
        c.email_verification.auto_sign_in_after_verification = true;
    })
    .await
    else {
        return;
    };
    let email = "vera@example.com";
    let resp = srv
        .post(
            "/sign-up/email",
            json!({"name": "Vera", "email": email, "password": PASSWORD, "callbackURL": "/dashboard"}),
            None,
        )
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    let body = resp.json();
    assert_eq!(body["token"], Value::Null);
    assert!(
        resp.set_cookie(COOKIE).is_none(),
        "no session before verification"
    );
    let user_id = body["user"]["id"].as_str().unwrap().to_owned();

    let m = mail.wait_for(email).await;
    assert_eq!(m.subject, "Verify your email address");
    assert_eq!(m.from, "Acme Auth <auth@acme.test>");
    assert!(m.html.contains("href=\""), "HTML part too: {}", m.html);
    let link = m.link();
    assert!(
        link.starts_with(&format!("{}/verify-email?token=", srv.url)),
        "{link}"
    );
    assert!(link.ends_with("&callbackURL=%2Fdashboard"), "{link}");
    let token = query_param(&link, "token").unwrap();
    let claims = email_token::verify(SECRET, &token).unwrap();
    assert_eq!(claims.email, email);
    assert_eq!(claims.user_id.as_deref(), Some(user_id.as_str()));

    // Unverified: refused with upstream's code, and (sendOnSignIn) mailed a new link;
    // a wrong password gets neither.
    assert_eq!(
        sign_in(&srv, email, PASSWORD).await.error(),
        (
            403,
            "EMAIL_NOT_VERIFIED".into(),
            "Email not verified".into()
        )
    );
    let resent = mail.wait_for(email).await.link();
    assert!(resent.ends_with("&callbackURL=%2F"), "{resent}");
    assert_eq!(sign_in(&srv, email, "wrong password").await.error().0, 401);
    // Signing up again with the address looks like a new sign-up and mails nothing new.
    let again = srv
        .post(
            "/sign-up/email",
            json!({"name": "Mallory", "email": email, "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["token"], Value::Null);
    assert_eq!(again.json()["user"]["email"], email);
    assert_ne!(again.json()["user"]["id"], user_id.as_str());
    assert_eq!(srv.count("user").await, 1);

    // Following the link verifies, signs in (autoSignInAfterVerification) and redirects.
    let resp = follow(&srv, &link, None).await;
    assert_eq!(resp.status, 302, "{}", resp.text);
    assert_eq!(resp.header("location"), Some("/dashboard"));
    let cookie = resp.cookie_pair(COOKIE);
    let session = srv.get("/get-session", Some(&cookie)).await.json();
    assert_eq!(session["user"]["emailVerified"], true);
    assert!(verified_flag(&srv, email).await);
    assert_eq!(sign_in(&srv, email, PASSWORD).await.status, 200);

    // The link again: nothing more to do, same redirect, no new session.
    let resp = follow(&srv, &link, None).await;
    assert_eq!(resp.status, 302);
    assert!(resp.set_cookie(COOKIE).is_none());
    assert_eq!(
        mail.count(),
        2,
        "sign-up and the refused sign-in mailed; nothing else"
    );
    srv.stop().await;
}

async fn verify_email_errors(b: Backend) {
    let Some((srv, _mail)) = start(b, |_| {}).await else {
        return;
    };
    srv.sign_up("eve@example.com", PASSWORD).await;
    let expired = email_token::create(SECRET, "eve@example.com", None, None, "x", -5).unwrap();
    let r = srv
        .get(&format!("/verify-email?token={expired}"), None)
        .await;
    assert_eq!(
        r.error(),
        (401, "TOKEN_EXPIRED".into(), "Token expired".into())
    );
    let r = srv
        .get(
            &format!("/verify-email?token={expired}&callbackURL=/done?a=1"),
            None,
        )
        .await;
    assert_eq!(r.status, 302);
    assert_eq!(r.header("location"), Some("/done?a=1&error=TOKEN_EXPIRED"));

    let forged = email_token::create(
        "another-secret-0123456789abcdef0123456789",
        "eve@example.com",
        None,
        None,
        "x",
        600,
    )
    .unwrap();
    let r = srv
        .get(&format!("/verify-email?token={forged}"), None)
        .await;
    assert_eq!(
        r.error(),
        (401, "INVALID_TOKEN".into(), "Invalid token".into())
    );
    let r = srv
        .get(
            &format!("/verify-email?token={forged}&callbackURL={APP_ORIGIN}/v"),
            None,
        )
        .await;
    assert_eq!(
        r.header("location"),
        Some("http://localhost:3000/v?error=INVALID_TOKEN")
    );
    // Someone else's id in the token.
    let other = email_token::create(SECRET, "eve@example.com", None, None, "x", 600).unwrap();
    let r = srv.get(&format!("/verify-email?token={other}"), None).await;
    assert_eq!(r.error().1, "INVALID_TOKEN");
    let nobody = email_token::create(SECRET, "nobody@example.com", None, None, "x", 600).unwrap();
    let r = srv
        .get(&format!("/verify-email?token={nobody}"), None)
        .await;
    assert_eq!(
        r.error(),
        (401, "USER_NOT_FOUND".into(), "User not found".into())
    );
    let r = srv
        .get(
            &format!("/verify-email?token={nobody}&callbackURL=https://evil.example/x"),
            None,
        )
        .await;
    assert_eq!(r.error().0, 403);
    assert_eq!(r.error().1, "INVALID_CALLBACK_URL");
    let r = srv.get("/verify-email", None).await;
    assert_eq!(
        r.error(),
        (
            400,
            "VALIDATION_ERROR".into(),
            "[query.token] Invalid input: expected string, received undefined".into()
        )
    );
    srv.stop().await;
}

async fn send_verification_email_on_request(b: Backend) {
    let Some((srv, mail)) = start(b, |_| {}).await else {
        return;
    };
    let email = "sam@example.com";
    let cookie = signed_in(&srv, email).await;
    let r = srv
        .post(
            "/send-verification-email",
            json!({"email": "other@example.com"}),
            Some(&cookie),
        )
        .await;
    assert_eq!(
        r.error(),
        (400, "EMAIL_MISMATCH".into(), "Email mismatch".into())
    );
    let r = srv
        .post(
            "/send-verification-email",
            json!({"email": email}),
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.text, r#"{"status":true}"#);
    let link = mail.wait_for(email).await.link();
    assert!(link.ends_with("&callbackURL=%2F"), "{link}");
    // Without a callbackURL query the answer is JSON.
    let path = link.trim_end_matches("&callbackURL=%2F").to_owned();
    let r = follow(&srv, &path, None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text, r#"{"status":true,"user":null}"#);
    assert!(r.set_cookie(COOKIE).is_none(), "no auto sign-in by default");
    assert!(verified_flag(&srv, email).await);
    let r = srv
        .post(
            "/send-verification-email",
            json!({"email": email}),
            Some(&cookie),
        )
        .await;
    assert_eq!(r.error().1, "EMAIL_ALREADY_VERIFIED");

    // Anonymous: same answer for unknown and verified addresses, after the time floor.
    for address in ["nobody@example.com", email] {
        let started = Instant::now();
        let r = srv
            .post("/send-verification-email", json!({"email": address}), None)
            .await;
        assert_eq!(r.text, r#"{"status":true}"#);
        assert!(started.elapsed() >= Duration::from_millis(490));
    }
    // An unverified address gets a mail.
    srv.sign_up("una@example.com", PASSWORD).await;
    let r = srv
        .post(
            "/send-verification-email",
            json!({"email": "UNA@example.com", "callbackURL": "/welcome"}),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(mail
        .wait_for("una@example.com")
        .await
        .link()
        .ends_with("&callbackURL=%2Fwelcome"));
    assert_eq!(mail.count(), 2);
    srv.stop().await;
}

async fn password_reset_by_mail(b: Backend) {
    let Some((srv, mail)) = start(b, |c| {
        c.account.revoke_sessions_on_password_reset = true;
    })
    .await
    else {
        return;
    };
    let email = "rita@example.com";
    let old_cookie = signed_in(&srv, email).await;
    let expected = json!({"status": true, "message": "If this email exists in our system, check your email for the reset link"});
    let r = srv
        .post(
            "/request-password-reset",
            json!({"email": email, "redirectTo": format!("{APP_ORIGIN}/reset")}),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), expected);
    let unknown = srv
        .post(
            "/request-password-reset",
            json!({"email": "nobody@example.com", "redirectTo": format!("{APP_ORIGIN}/reset")}),
            None,
        )
        .await;
    assert_eq!(
        (unknown.status, unknown.text.as_str()),
        (200, r.text.as_str())
    );

    let m = mail.wait_for(email).await;
    assert_eq!(m.subject, "Reset your password");
    let link = m.link();
    let prefix = format!("{}/reset-password/", srv.url);
    assert!(link.starts_with(&prefix), "{link}");
    assert!(
        link.ends_with("?callbackURL=http%3A%2F%2Flocalhost%3A3000%2Freset"),
        "{link}"
    );
    let token = link[prefix.len()..].split('?').next().unwrap().to_owned();
    assert_eq!(token.len(), 24);
    let row = srv
        .query_one(r#"select "identifier", "value" from "verification""#)
        .await
        .unwrap();
    assert_eq!(
        row.try_get::<String>("", "identifier").unwrap(),
        format!("reset-password:{token}")
    );

    // The link sends the browser to the app with the token.
    let r = follow(&srv, &link, None).await;
    assert_eq!(r.status, 302);
    assert_eq!(
        r.header("location").unwrap(),
        format!("{APP_ORIGIN}/reset?token={token}")
    );

    let r = srv
        .post(
            "/reset-password",
            json!({"newPassword": "short", "token": token}),
            None,
        )
        .await;
    assert_eq!(r.error().1, "PASSWORD_TOO_SHORT");
    let r = srv
        .post(
            "/reset-password",
            json!({"newPassword": "a brand new password", "token": token}),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.text, r#"{"status":true}"#);
    // Single use.
    let r = srv
        .post(
            "/reset-password",
            json!({"newPassword": "yet another password"}),
            None,
        )
        .await;
    assert_eq!(
        r.error(),
        (400, "INVALID_TOKEN".into(), "Invalid token".into())
    );
    let r = srv
        .send(
            reqwest::Method::POST,
            &format!("/reset-password?token={token}"),
            Some("application/json"),
            json!({"newPassword": "yet another password"}).to_string(),
        )
        .await;
    assert_eq!(r.error().1, "INVALID_TOKEN");
    let r = follow(&srv, &link, None).await;
    assert_eq!(
        r.header("location").unwrap(),
        format!("{APP_ORIGIN}/reset?error=INVALID_TOKEN")
    );
    assert_eq!(sign_in(&srv, email, PASSWORD).await.status, 401);
    assert_eq!(
        sign_in(&srv, email, "a brand new password").await.status,
        200
    );
    // revokeSessionsOnPasswordReset signed the old browser out.
    assert_eq!(
        srv.get("/get-session", Some(&old_cookie)).await.text,
        "null"
    );

    // Expired token.
    srv.post("/request-password-reset", json!({"email": email}), None)
        .await;
    let link = mail.wait_for(email).await.link();
    assert!(link.ends_with("?callbackURL="), "no redirectTo: {link}");
    let token = link[prefix.len()..].split('?').next().unwrap().to_owned();
    srv.execute(&format!(
        r#"update "verification" set "expiresAt" = {} where "identifier" = 'reset-password:{token}'"#,
        match srv.backend() {
            sea_orm::DbBackend::Sqlite => "'2020-01-01T00:00:00.000Z'",
            _ => "timestamptz '2020-01-01 00:00:00+00'",
        }
    ))
    .await;
    let r = srv
        .post(
            "/reset-password",
            json!({"newPassword": "a brand new password", "token": token}),
            None,
        )
        .await;
    assert_eq!(r.error().1, "INVALID_TOKEN");
    let r = follow(&srv, &format!("{prefix}{token}?callbackURL=/reset"), None).await;
    assert_eq!(
        r.header("location").unwrap(),
        format!("{}/reset?error=INVALID_TOKEN", srv.origin)
    );
    // Callback checks.
    let r = srv.get(&format!("/reset-password/{token}"), None).await;
    assert_eq!(r.error().1, "VALIDATION_ERROR");
    let r = srv
        .get(
            &format!("/reset-password/{token}?callbackURL=https://evil.example/"),
            None,
        )
        .await;
    assert_eq!(r.error().1, "INVALID_CALLBACK_URL");
    let r = srv
        .post(
            "/request-password-reset",
            json!({"email": email, "redirectTo": "https://evil.example/"}),
            None,
        )
        .await;
    assert_eq!(r.error().1, "INVALID_REDIRECT_URL");
    srv.stop().await;
}

async fn change_password_and_manage_sessions(b: Backend) {
    let Some(srv) = TestServer::start(b).await else {
        return;
    };
    let email = "pat@example.com";
    let first = signed_in(&srv, email).await;
    let second = sign_in(&srv, email, PASSWORD).await.cookie_pair(COOKIE);
    let third = sign_in(&srv, email, PASSWORD).await.cookie_pair(COOKIE);

    let r = srv.get("/list-sessions", Some(&first)).await;
    assert_eq!(r.status, 200);
    let sessions = r.json();
    assert_eq!(sessions.as_array().unwrap().len(), 3);
    let keys: Vec<_> = sessions[0].as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        keys,
        [
            "expiresAt",
            "token",
            "createdAt",
            "updatedAt",
            "ipAddress",
            "userAgent",
            "userId",
            "id"
        ]
    );
    assert_eq!(
        srv.get("/list-sessions", None).await.error().1,
        "UNAUTHORIZED"
    );

    let change = |current: &str, new: &str, revoke: bool| json!({"currentPassword": current, "newPassword": new, "revokeOtherSessions": revoke});
    let r = srv
        .post(
            "/change-password",
            change("wrong password", "new password 1", false),
            Some(&first),
        )
        .await;
    assert_eq!(
        r.error(),
        (400, "INVALID_PASSWORD".into(), "Invalid password".into())
    );
    let r = srv
        .post(
            "/change-password",
            change(PASSWORD, "short", false),
            Some(&first),
        )
        .await;
    assert_eq!(r.error().1, "PASSWORD_TOO_SHORT");
    let r = srv
        .post(
            "/change-password",
            change(PASSWORD, "new password 1", false),
            None,
        )
        .await;
    assert_eq!(r.error().0, 401);
    let r = srv
        .post(
            "/change-password",
            change(PASSWORD, "new password 1", false),
            Some(&first),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["token"], Value::Null);
    assert_eq!(r.json()["user"]["email"], email);
    assert_eq!(srv.count("session").await, 3);
    assert_eq!(sign_in(&srv, email, "new password 1").await.status, 200);

    // revokeOtherSessions: every session goes, a new one comes with the answer.
    let r = srv
        .post(
            "/change-password",
            change("new password 1", "new password 2", true),
            Some(&first),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let token = r.json()["token"].as_str().unwrap().to_owned();
    let current = r.cookie_pair(COOKIE);
    assert!(current.contains(&token));
    for old in [&first, &second, &third] {
        assert_eq!(srv.get("/get-session", Some(old)).await.text, "null");
    }
    assert_eq!(srv.count("session").await, 1);

    // revoke-other-sessions keeps this one.
    let other = sign_in(&srv, email, "new password 2").await;
    let other_token = other.json()["token"].as_str().unwrap().to_owned();
    let r = srv
        .post("/revoke-other-sessions", json!({}), Some(&current))
        .await;
    assert_eq!(r.text, r#"{"status":true}"#);
    assert_eq!(srv.count("session").await, 1);
    assert_eq!(
        srv.get("/get-session", Some(&current)).await.json()["session"]["token"],
        token.as_str()
    );
    assert_eq!(
        srv.get("/get-session", Some(&other.cookie_pair(COOKIE)))
            .await
            .text,
        "null"
    );
    let _ = other_token;

    // revoke-session: another session of the user; someone else's is left alone.
    let other = sign_in(&srv, email, "new password 2").await;
    let other_token = other.json()["token"].as_str().unwrap().to_owned();
    let stranger = signed_in(&srv, "stranger@example.com").await;
    let stranger_token = srv.get("/get-session", Some(&stranger)).await.json()["session"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = srv
        .post(
            "/revoke-session",
            json!({"token": stranger_token}),
            Some(&current),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_ne!(srv.get("/get-session", Some(&stranger)).await.text, "null");
    let r = srv
        .post(
            "/revoke-session",
            json!({"token": other_token}),
            Some(&current),
        )
        .await;
    assert_eq!(r.text, r#"{"status":true}"#);
    assert!(r.set_cookie(COOKIE).is_none());
    assert_eq!(
        srv.get("/get-session", Some(&other.cookie_pair(COOKIE)))
            .await
            .text,
        "null"
    );
    let r = srv.post("/revoke-session", json!({}), Some(&current)).await;
    assert_eq!(r.error().1, "VALIDATION_ERROR");

    // revoke-sessions: this one too, and the cookie is cleared.
    sign_in(&srv, email, "new password 2").await;
    let r = srv
        .post("/revoke-sessions", json!({}), Some(&current))
        .await;
    assert_eq!(r.text, r#"{"status":true}"#);
    assert!(r.set_cookie(COOKIE).unwrap().contains("Max-Age=0"));
    assert_eq!(srv.get("/get-session", Some(&current)).await.text, "null");

    // list-sessions needs a fresh session.
    let fresh = sign_in(&srv, email, "new password 2")
        .await
        .cookie_pair(COOKIE);
    age_sessions(&srv).await;
    assert_eq!(
        srv.get("/list-sessions", Some(&fresh)).await.error(),
        (
            403,
            "SESSION_NOT_FRESH".into(),
            "Session is not fresh".into()
        )
    );
    srv.stop().await;
}

async fn update_user_and_session(b: Backend) {
    let Some(srv) = TestServer::start(b).await else {
        return;
    };
    let cookie = signed_in(&srv, "uma@example.com").await;
    let r = srv
        .post(
            "/update-user",
            json!({"name": "Uma Thurman", "image": "https://img.example/u.png"}),
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.text, r#"{"status":true}"#);
    let user = srv.get("/get-session", Some(&cookie)).await.json()["user"].clone();
    assert_eq!(user["name"], "Uma Thurman");
    assert_eq!(user["image"], "https://img.example/u.png");
    assert_ne!(user["updatedAt"], user["createdAt"]);
    let r = srv
        .post("/update-user", json!({"image": null}), Some(&cookie))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        srv.get("/get-session", Some(&cookie)).await.json()["user"]["image"],
        Value::Null
    );
    let r = srv
        .post(
            "/update-user",
            json!({"email": "x@example.com"}),
            Some(&cookie),
        )
        .await;
    assert_eq!(
        r.error(),
        (
            400,
            "EMAIL_CAN_NOT_BE_UPDATED".into(),
            "Email can not be updated".into()
        )
    );
    let r = srv.post("/update-user", json!({}), Some(&cookie)).await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (400, r#"{"message":"No fields to update"}"#)
    );
    let r = srv.post("/update-user", json!({"name": "x"}), None).await;
    assert_eq!(r.error().0, 401);
    let r = srv.post("/update-session", json!({}), Some(&cookie)).await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (400, r#"{"message":"No fields to update"}"#)
    );
    // A session that is gone: 401, and the stale cookie is expired with it. (Deleted
    // behind the server's back: its memory cache would answer it until its TTL.)
    srv.execute(r#"delete from "session""#).await;
    srv.forget_cached_sessions();
    let r = srv
        .post("/update-user", json!({"name": "x"}), Some(&cookie))
        .await;
    assert_eq!(r.error().1, "UNAUTHORIZED");
    assert!(r.set_cookie(COOKIE).unwrap().contains("Max-Age=0"));
    srv.stop().await;
}

async fn change_email_flows(b: Backend) {
    let Some((srv, mail)) = start(b, |c| {
        c.user.change_email_enabled = true;
        c.user.update_email_without_verification = true;
        c.user.send_change_email_confirmation = true;
    })
    .await
    else {
        return;
    };
    // Unverified user: the address changes at once, then a link verifies it.
    let cookie = signed_in(&srv, "old1@example.com").await;
    let r = srv
        .post(
            "/change-email",
            json!({"newEmail": "New1@Example.com"}),
            Some(&cookie),
        )
        .await;
    assert_eq!(r.text, r#"{"status":true}"#);
    let s = srv.get("/get-session", Some(&cookie)).await.json();
    assert_eq!(s["user"]["email"], "new1@example.com");
    let link = mail.wait_for("new1@example.com").await.link();
    assert_eq!(follow(&srv, &link, None).await.status, 302);
    assert!(verified_flag(&srv, "new1@example.com").await);

    // Verified user: confirm from the old address, then verify the new one.
    let cookie = signed_in(&srv, "old2@example.com").await;
    mark_verified(&srv, "old2@example.com").await;
    let r = srv
        .post(
            "/change-email",
            json!({"newEmail": "new2@example.com", "callbackURL": "/settings"}),
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, 200);
    let confirm = mail.wait_for("old2@example.com").await;
    assert_eq!(confirm.subject, "Confirm your new email address");
    assert!(confirm.text.contains("new2@example.com"));
    let claims =
        email_token::verify(SECRET, &query_param(&confirm.link(), "token").unwrap()).unwrap();
    assert_eq!(
        claims.request_type.as_deref(),
        Some("change-email-confirmation")
    );
    let r = follow(&srv, &confirm.link(), Some(&cookie)).await;
    assert_eq!(r.status, 302);
    assert_eq!(r.header("location"), Some("/settings"));
    assert_eq!(
        srv.get("/get-session", Some(&cookie)).await.json()["user"]["email"],
        "old2@example.com",
        "not moved before the new address is proven"
    );
    // Another user's browser may not use the link.
    let intruder = signed_in(&srv, "intruder@example.com").await;
    let verify = mail.wait_for("new2@example.com").await.link();
    let r = follow(&srv, &verify, Some(&intruder)).await;
    assert_eq!(r.header("location"), Some("/settings?error=INVALID_USER"));
    let r = follow(&srv, &verify, Some(&cookie)).await;
    assert_eq!(r.status, 302);
    let user = srv.get("/get-session", Some(&cookie)).await.json()["user"].clone();
    assert_eq!(user["email"], "new2@example.com");
    assert_eq!(user["emailVerified"], true);

    // Same address, taken address, invalid address.
    let r = srv
        .post(
            "/change-email",
            json!({"newEmail": "new2@example.com"}),
            Some(&cookie),
        )
        .await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (400, r#"{"message":"Email is the same"}"#)
    );
    let before = mail.count();
    let r = srv
        .post(
            "/change-email",
            json!({"newEmail": "intruder@example.com"}),
            Some(&cookie),
        )
        .await;
    assert_eq!(
        r.text, r#"{"status":true}"#,
        "no hint that the address is taken"
    );
    let r = srv
        .post("/change-email", json!({"newEmail": "nope"}), Some(&cookie))
        .await;
    assert_eq!(r.error().1, "VALIDATION_ERROR");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(mail.count(), before, "nothing mailed for a taken address");
    srv.stop().await;
}

async fn delete_user_flows(b: Backend) {
    let Some((srv, mail)) = start(b, |c| {
        c.user.delete_user_enabled = true;
    })
    .await
    else {
        return;
    };
    let cookie = signed_in(&srv, "dan@example.com").await;
    let r = srv
        .post(
            "/delete-user",
            json!({"password": "wrong password"}),
            Some(&cookie),
        )
        .await;
    assert_eq!(r.error().1, "INVALID_PASSWORD");
    let r = srv
        .post("/delete-user", json!({"password": PASSWORD}), Some(&cookie))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.text, r#"{"success":true,"message":"User deleted"}"#);
    assert!(r.set_cookie(COOKIE).unwrap().contains("Max-Age=0"));
    assert_eq!(srv.count("user").await, 0);
    assert_eq!(srv.count("account").await, 0);
    assert_eq!(srv.count("session").await, 0);

    // Without a password the session must be fresh.
    let cookie = signed_in(&srv, "dora@example.com").await;
    age_sessions(&srv).await;
    let r = srv.post("/delete-user", json!({}), Some(&cookie)).await;
    assert_eq!(r.error().1, "SESSION_EXPIRED");
    let fresh = sign_in(&srv, "dora@example.com", PASSWORD)
        .await
        .cookie_pair(COOKIE);
    let r = srv.post("/delete-user", json!({}), Some(&fresh)).await;
    assert_eq!(r.status, 200);
    assert_eq!(srv.count("user").await, 0);
    assert_eq!(mail.count(), 0);
    srv.stop().await;

    // With confirmation by mail.
    let Some((srv, mail)) = start(b, |c| {
        c.user.delete_user_enabled = true;
        c.user.delete_user_verification = true;
    })
    .await
    else {
        return;
    };
    let cookie = signed_in(&srv, "del@example.com").await;
    let r = srv
        .post(
            "/delete-user",
            json!({"callbackURL": "/bye"}),
            Some(&cookie),
        )
        .await;
    assert_eq!(
        r.text,
        r#"{"success":true,"message":"Verification email sent"}"#
    );
    assert_eq!(srv.count("user").await, 1);
    let m = mail.wait_for("del@example.com").await;
    assert_eq!(m.subject, "Confirm deleting your account");
    let link = m.link();
    assert!(link.starts_with(&format!("{}/delete-user/callback?token=", srv.url)));
    assert!(link.ends_with("&callbackURL=%2Fbye"), "{link}");
    assert_eq!(query_param(&link, "token").unwrap().len(), 32);
    let r = follow(&srv, &link, None).await;
    assert_eq!(
        r.error(),
        (
            404,
            "FAILED_TO_GET_USER_INFO".into(),
            "Failed to get user info".into()
        )
    );
    let stranger = signed_in(&srv, "other@example.com").await;
    let r = follow(&srv, &link, Some(&stranger)).await;
    assert_eq!(
        r.error(),
        (404, "INVALID_TOKEN".into(), "Invalid token".into())
    );
    // The stranger's try used the token up: a new mail is needed.
    srv.post(
        "/delete-user",
        json!({"callbackURL": "/bye"}),
        Some(&cookie),
    )
    .await;
    let link = mail.wait_for("del@example.com").await.link();
    let r = follow(&srv, &link, Some(&cookie)).await;
    assert_eq!(r.status, 302);
    assert_eq!(r.header("location"), Some("/bye"));
    assert_eq!(srv.count("user").await, 1, "only the stranger is left");
    assert_eq!(srv.count("verification").await, 0);
    srv.stop().await;
}

async fn features_off_without_mail(b: Backend) {
    let Some(srv) =
        TestServer::start_with(b, |c| c.account.require_email_verification = true).await
    else {
        return;
    };
    let r = srv
        .post(
            "/send-verification-email",
            json!({"email": "a@example.com"}),
            None,
        )
        .await;
    assert_eq!(
        r.error(),
        (
            400,
            "VERIFICATION_EMAIL_NOT_ENABLED".into(),
            "Verification email isn't enabled".into()
        )
    );
    let r = srv
        .post(
            "/request-password-reset",
            json!({"email": "a@example.com"}),
            None,
        )
        .await;
    assert_eq!(
        r.error(),
        (
            400,
            "RESET_PASSWORD_DISABLED".into(),
            "Reset password isn't enabled".into()
        )
    );
    let r = srv
        .post(
            "/sign-up/email",
            json!({"name": "A", "email": "a@example.com", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(r.json()["token"], Value::Null);
    assert_eq!(
        sign_in(&srv, "a@example.com", PASSWORD).await.error().1,
        "EMAIL_NOT_VERIFIED"
    );
    let cookie = {
        mark_verified(&srv, "a@example.com").await;
        sign_in(&srv, "a@example.com", PASSWORD)
            .await
            .cookie_pair(COOKIE)
    };
    let r = srv
        .post(
            "/change-email",
            json!({"newEmail": "b@example.com"}),
            Some(&cookie),
        )
        .await;
    assert_eq!(
        r.error(),
        (
            400,
            "CHANGE_EMAIL_DISABLED".into(),
            "Change email is disabled".into()
        )
    );
    let r = srv.post("/delete-user", json!({}), Some(&cookie)).await;
    assert_eq!((r.status, r.text.as_str()), (404, ""));
    srv.stop().await;
}

/// The SMTP server is down when the mail is queued and comes up a moment later: the
/// background task retries and the mail arrives.
async fn mail_is_retried_until_the_server_answers(b: Backend) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let Some(srv) = TestServer::start_with(b, |c| configure_smtp(c, port)).await else {
        return;
    };
    srv.sign_up("retry@example.com", PASSWORD).await;
    let started = Instant::now();
    let r = srv
        .post(
            "/request-password-reset",
            json!({"email": "retry@example.com"}),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "the answer does not wait for mail"
    );
    // The token is stored and the mail queued just after the answer.
    let queued = Instant::now();
    while srv.state.mailer.pending() == 0 {
        assert!(
            queued.elapsed() < Duration::from_secs(5),
            "the mail was never queued"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Shutdown waits for it, within limits: here the server is still down.
    srv.state.mailer.drain(Duration::from_millis(500)).await;
    assert_eq!(srv.state.mailer.pending(), 1, "still queued for a retry");
    let Some(mail) = Mailbox::start_on(port) else {
        return;
    };
    let m = mail.wait_for("retry@example.com").await;
    assert_eq!(m.subject, "Reset your password");
    srv.state.mailer.drain(Duration::from_secs(5)).await;
    assert_eq!(srv.state.mailer.pending(), 0);
    srv.stop().await;
}

/// STARTTLS and implicit TLS (rustls, with the relay's private CA from `SMTP_CA_FILE`) and
/// SMTP AUTH with the configured credentials; a server without that CA is not trusted.
async fn smtp_over_tls_with_credentials(b: Backend) {
    for security in [SmtpSecurity::Starttls, SmtpSecurity::Tls] {
        let Some(mail) = Mailbox::start_with(0, security, Some(("mailer", "s3cret pass"))) else {
            return;
        };
        let Some(srv) = TestServer::start_with(b, |c| mail.configure(c)).await else {
            return;
        };
        srv.sign_up("tls@example.com", PASSWORD).await;
        srv.post(
            "/request-password-reset",
            json!({"email": "tls@example.com"}),
            None,
        )
        .await;
        let m = mail.wait_for("tls@example.com").await;
        assert!(m.tls, "{security:?}: the mail came over TLS");
        assert_eq!(m.login.as_deref(), Some("mailer"), "{security:?}");
        srv.stop().await;

        // Without the relay's CA the certificate is refused: nothing is delivered.
        let Some(srv) = TestServer::start_with(b, |c| {
            mail.configure(c);
            c.mail.smtp.ca_file = None;
        })
        .await
        else {
            return;
        };
        srv.sign_up("untrusted@example.com", PASSWORD).await;
        srv.post(
            "/request-password-reset",
            json!({"email": "untrusted@example.com"}),
            None,
        )
        .await;
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert_eq!(
            mail.count(),
            1,
            "{security:?}: no mail to an untrusted server"
        );
        srv.stop().await;
    }
}

/// A deployment's own texts from a template directory; missing parts keep the defaults.
async fn templates_from_a_directory(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("reset-password.subject"),
        "{{app_name}}: new password for {{name}}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("reset-password.txt"),
        "Hi {{name}}, go to {{url}} now.",
    )
    .unwrap();
    let templates = dir.path().to_owned();
    let Some((srv, mail)) = start(b, |c| {
        c.mail.template_dir = Some(templates);
        c.mail.app_name = "Acme".into();
    })
    .await
    else {
        return;
    };
    srv.sign_up("tina@example.com", PASSWORD).await;
    srv.post(
        "/request-password-reset",
        json!({"email": "tina@example.com"}),
        None,
    )
    .await;
    let m = mail.wait_for("tina@example.com").await;
    assert_eq!(m.subject, "Acme: new password for Test User");
    assert!(m.text.starts_with("Hi Test User, go to http"), "{}", m.text);
    assert!(m.text.contains("/reset-password/"));
    assert!(
        m.html.contains("Choose a new password"),
        "default HTML kept"
    );
    srv.stop().await;
}

on_both_databases!(
    smtp_over_tls_with_credentials,
    templates_from_a_directory,
    verification_required_from_sign_up_to_sign_in,
    verify_email_errors,
    send_verification_email_on_request,
    password_reset_by_mail,
    change_password_and_manage_sessions,
    update_user_and_session,
    change_email_flows,
    delete_user_flows,
    features_off_without_mail,
    mail_is_retried_until_the_server_answers,
);
