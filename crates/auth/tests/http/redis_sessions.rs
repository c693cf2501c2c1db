//! Sessions and verification values in Redis (`REDIS_URL`, upstream's `secondaryStorage`):
//! every session path keeps upstream 1.7's keys and values, replicas share sessions, a
//! TypeScript-written session or reset token is honoured, and the `session` and
//! `verification` tables stay empty unless told to store there too.
//! Needs the Redis at 127.0.0.1:6379 (see `redis.rs`); each test has its own key prefix.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{Backend, Resp, TestServer};
use crate::on_both_databases;
use crate::redis::{private_redis, redis_url, wait_for_redis, Keys};

const COOKIE: &str = "better-auth.session_token";
const PASSWORD: &str = "password123";

fn sessions_in_redis(url: &str, prefix: &str, c: &mut better_auth_server::config::Config) {
    c.redis = Some(better_auth_server::config::RedisConfig {
        url: url.to_owned(),
        prefix: prefix.to_owned(),
        ca_file: None,
    });
}

/// A server whose sessions are in the test Redis under a fresh key prefix, after `tweak`;
/// `None` (skip) without Redis or PostgreSQL. Also the keys and the Redis URL.
async fn start_in_redis(
    b: Backend,
    tweak: impl FnOnce(&mut better_auth_server::config::Config),
) -> Option<(TestServer, Keys, String)> {
    let url = redis_url().await?;
    let keys = Keys::new(&url).await;
    let srv = TestServer::start_with(b, |c| {
        sessions_in_redis(&url, &keys.prefix, c);
        tweak(c);
    })
    .await?;
    Some((srv, keys, url))
}

async fn sign_in(srv: &TestServer, email: &str) -> Resp {
    srv.post(
        "/sign-in/email",
        json!({"email": email, "password": PASSWORD}),
        None,
    )
    .await
}

async fn get_session(srv: &TestServer, cookie: &str) -> Value {
    srv.get("/get-session", Some(cookie)).await.json()
}

async fn with_bearer(srv: &TestServer, path: &str, token: &str) -> Resp {
    let req = srv
        .raw(Method::GET, path)
        .header("authorization", format!("Bearer {token}"));
    Resp::from(req.send().await.unwrap()).await
}

fn parse(raw: Option<String>) -> Value {
    serde_json::from_str(&raw.expect("key present")).unwrap()
}

/// The tokens of `active-sessions-<userId>`, in stored order (by expiry).
async fn listed(keys: &Keys, user_id: &str) -> Vec<String> {
    let (raw, _) = keys
        .get(&format!("{}active-sessions-{user_id}", keys.prefix))
        .await;
    raw.map(|r| {
        serde_json::from_str::<Vec<Value>>(&r)
            .unwrap()
            .iter()
            .map(|e| e["token"].as_str().unwrap().to_owned())
            .collect()
    })
    .unwrap_or_default()
}

/// Sign-up and sign-in write upstream's two keys (and no row); get-session, list-sessions,
/// revoke-session, revoke-other-sessions and sign-out work from them.
async fn sessions_live_in_redis_in_upstream_format(b: Backend) {
    let Some((srv, keys, _)) = start_in_redis(b, |_| {}).await else {
        return;
    };
    let up = srv.sign_up("redis@example.com", PASSWORD).await;
    assert_eq!(up.status, 200, "{}", up.text);
    let first = up.json()["token"].as_str().unwrap().to_owned();
    let user_id = up.json()["user"]["id"].as_str().unwrap().to_owned();
    let cookie = up.cookie_pair(COOKIE);
    assert_eq!(srv.count("session").await, 0, "no session row");

    let (raw, ttl) = keys.get(&format!("{}{first}", keys.prefix)).await;
    let stored = parse(raw);
    assert_eq!(stored["session"]["token"], first.as_str());
    assert_eq!(stored["session"]["userId"], user_id.as_str());
    assert_eq!(stored["user"]["email"], "redis@example.com");
    assert_eq!(stored["user"]["emailVerified"], false);
    let week_ms = 7 * 86_400 * 1000;
    assert!(ttl > week_ms - 60_000 && ttl <= week_ms, "TTL {ttl} ms");
    assert_eq!(listed(&keys, &user_id).await, std::slice::from_ref(&first));

    let session = get_session(&srv, &cookie).await;
    assert_eq!(session["session"]["token"], first.as_str());
    assert_eq!(session["user"]["id"], user_id.as_str());

    let second_resp = sign_in(&srv, "redis@example.com").await;
    let second = second_resp.json()["token"].as_str().unwrap().to_owned();
    let third = sign_in(&srv, "redis@example.com").await.json()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let list = listed(&keys, &user_id).await;
    assert_eq!(list, [first.clone(), second.clone(), third.clone()]);
    let (raw, list_ttl) = keys
        .get(&format!("{}active-sessions-{user_id}", keys.prefix))
        .await;
    let entries: Vec<Value> = serde_json::from_str(&raw.unwrap()).unwrap();
    assert!(
        entries.iter().all(|e| e["expiresAt"].is_i64()),
        "{entries:?}"
    );
    assert!(list_ttl > week_ms - 60_000, "list TTL {list_ttl}");

    let sessions = srv.get("/list-sessions", Some(&cookie)).await.json();
    let tokens: Vec<&str> = sessions
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["token"].as_str().unwrap())
        .collect();
    assert_eq!(tokens, [&first, &second, &third]);

    // revoke-session: only that one.
    let r = srv
        .post("/revoke-session", json!({"token": second}), Some(&cookie))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(keys.get(&format!("{}{second}", keys.prefix)).await.0, None);
    assert_eq!(
        listed(&keys, &user_id).await,
        [first.clone(), third.clone()]
    );
    assert!(with_bearer(&srv, "/get-session", &second)
        .await
        .json()
        .is_null());

    // revoke-other-sessions: all but this one.
    let r = srv
        .post("/revoke-other-sessions", json!({}), Some(&cookie))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(keys.get(&format!("{}{third}", keys.prefix)).await.0, None);
    assert_eq!(listed(&keys, &user_id).await, std::slice::from_ref(&first));
    assert!(with_bearer(&srv, "/get-session", &third)
        .await
        .json()
        .is_null());
    assert_eq!(
        get_session(&srv, &cookie).await["user"]["id"],
        user_id.as_str()
    );

    // sign-out: the last session and the list go.
    let out = srv.post("/sign-out", json!({}), Some(&cookie)).await;
    assert_eq!(out.status, 200);
    assert_eq!(keys.list().await, Vec::<String>::new(), "nothing left");
    assert!(get_session(&srv, &cookie).await.is_null());
    assert_eq!(srv.count("session").await, 0);
    keys.clean().await;
    srv.stop().await;
}

/// A refresh (expiresAt - expiresIn + updateAge <= now) pushes the stored expiry, the key's
/// TTL and the list entry, and keeps fields a TypeScript server wrote that we do not model.
async fn refresh_and_typescript_written_sessions(b: Backend) {
    let Some((srv, keys, _)) = start_in_redis(b, |_| {}).await else {
        return;
    };
    let up = srv.sign_up("ts@example.com", PASSWORD).await;
    let user = up.json()["user"].clone();
    let user_id = user["id"].as_str().unwrap().to_owned();

    // As `internal-adapter.ts` writes it: plugin fields included, 2 days left (refresh due).
    let token = "TsWrittenToken0123456789abcdefgh";
    let now = chrono::Utc::now();
    let iso = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    let expires = now + chrono::Duration::days(2);
    let value = json!({
        "session": {
            "id": "ts-session-id", "ipAddress": "", "userAgent": "node",
            "expiresAt": iso(expires), "userId": user_id, "token": token,
            "createdAt": iso(now - chrono::Duration::days(5)),
            "updatedAt": iso(now - chrono::Duration::days(5)),
            "activeOrganizationId": "org-1"
        },
        "user": {
            "id": user_id, "name": "", "email": "ts@example.com", "emailVerified": false,
            "image": null, "createdAt": user["createdAt"], "updatedAt": user["updatedAt"],
            "role": "admin"
        }
    });
    keys.set(
        &format!("{}{token}", keys.prefix),
        &value.to_string(),
        2 * 86_400,
    )
    .await;
    let list_key = format!("{}active-sessions-{user_id}", keys.prefix);
    let mut list: Vec<Value> = serde_json::from_str(&keys.get(&list_key).await.0.unwrap()).unwrap();
    list.insert(
        0,
        json!({"token": token, "expiresAt": expires.timestamp_millis()}),
    );
    keys.set(&list_key, &Value::Array(list).to_string(), 7 * 86_400)
        .await;

    let s = with_bearer(&srv, "/get-session", token).await;
    assert_eq!(s.status, 200, "{}", s.text);
    let body = s.json();
    assert_eq!(body["session"]["id"], "ts-session-id");
    assert_eq!(body["user"]["email"], "ts@example.com");
    let new_expiry =
        chrono::DateTime::parse_from_rfc3339(body["session"]["expiresAt"].as_str().unwrap())
            .unwrap();
    assert!(
        (new_expiry.with_timezone(&chrono::Utc) - now).num_days() >= 6,
        "refreshed to a week: {new_expiry}"
    );

    let (raw, ttl) = keys.get(&format!("{}{token}", keys.prefix)).await;
    let stored = parse(raw);
    assert_eq!(stored["session"]["activeOrganizationId"], "org-1", "kept");
    assert_eq!(stored["user"]["role"], "admin", "kept");
    assert_eq!(stored["session"]["expiresAt"], body["session"]["expiresAt"]);
    assert!(ttl > 6 * 86_400 * 1000, "TTL pushed: {ttl}");
    let entry_expiry: Vec<Value> =
        serde_json::from_str(&keys.get(&list_key).await.0.unwrap()).unwrap();
    let entry = entry_expiry.iter().find(|e| e["token"] == token).unwrap();
    assert_eq!(
        entry["expiresAt"].as_i64(),
        Some(new_expiry.timestamp_millis())
    );
    assert_eq!(
        entry_expiry.last().unwrap()["token"],
        token,
        "sorted by expiry"
    );

    // A user update reaches every stored copy, unknown fields kept.
    let cookie = up.cookie_pair(COOKIE);
    let r = srv
        .post("/update-user", json!({"name": "Renamed"}), Some(&cookie))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let stored = parse(keys.get(&format!("{}{token}", keys.prefix)).await.0);
    assert_eq!(stored["user"]["name"], "Renamed");
    assert_eq!(stored["user"]["role"], "admin");
    assert_eq!(
        with_bearer(&srv, "/get-session", token).await.json()["user"]["name"],
        "Renamed"
    );

    // An expired stored session is no session, and is deleted.
    let old = json!({
        "session": {"id": "x", "expiresAt": iso(now - chrono::Duration::seconds(5)),
            "userId": user_id, "token": "ExpiredToken", "createdAt": iso(now), "updatedAt": iso(now)},
        "user": value["user"],
    });
    keys.set(
        &format!("{}ExpiredToken", keys.prefix),
        &old.to_string(),
        60,
    )
    .await;
    assert!(with_bearer(&srv, "/get-session", "ExpiredToken")
        .await
        .json()
        .is_null());
    assert_eq!(
        keys.get(&format!("{}ExpiredToken", keys.prefix)).await.0,
        None
    );
    // Garbage under a token is no session either (upstream's safeJSONParse), not a 500.
    keys.set(&format!("{}GarbageToken", keys.prefix), "{not json", 60)
        .await;
    let g = with_bearer(&srv, "/get-session", "GarbageToken").await;
    assert_eq!((g.status, g.text.as_str()), (200, "null"));
    keys.clean().await;
    srv.stop().await;
}

/// Paths that sign a user out everywhere clear the Redis copies: change-password with
/// revokeOtherSessions (one new session left), password reset, revoke-sessions, delete-user.
async fn sign_out_everywhere_paths_clear_redis(b: Backend) {
    let Some((srv, keys, _)) = start_in_redis(b, |c| {
        c.user.delete_user_enabled = true;
    })
    .await
    else {
        return;
    };
    let up = srv.sign_up("everywhere@example.com", PASSWORD).await;
    let user_id = up.json()["user"]["id"].as_str().unwrap().to_owned();
    let cookie = up.cookie_pair(COOKIE);
    let other = sign_in(&srv, "everywhere@example.com").await.json()["token"]
        .as_str()
        .unwrap()
        .to_owned();

    let r = srv
        .post(
            "/change-password",
            json!({"currentPassword": PASSWORD, "newPassword": "password456", "revokeOtherSessions": true}),
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let new_token = r.json()["token"].as_str().unwrap().to_owned();
    assert_eq!(
        listed(&keys, &user_id).await,
        std::slice::from_ref(&new_token)
    );
    assert!(with_bearer(&srv, "/get-session", &other)
        .await
        .json()
        .is_null());
    assert!(get_session(&srv, &cookie).await.is_null());
    let fresh = r.cookie_pair(COOKIE);
    assert_eq!(
        get_session(&srv, &fresh).await["session"]["token"],
        new_token.as_str()
    );

    let r = srv.post("/revoke-sessions", json!({}), Some(&fresh)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // Only upstream 1.7.25's revoked-before mark is left: now, kept for a session's life.
    let mark = format!("{}revoked-sessions-before-{user_id}", keys.prefix);
    assert_eq!(keys.list().await, std::slice::from_ref(&mark));
    let (value, ttl) = keys.get(&mark).await;
    let revoked_at: i64 = value.unwrap().parse().unwrap();
    assert!((chrono::Utc::now().timestamp_millis() - revoked_at).abs() < 5_000);
    assert!(ttl > 7 * 86_400 * 1000 - 60_000, "TTL {ttl}");
    // A session of that user created earlier but missing from the list (as a race could
    // leave it) is revoked by the mark.
    let stray = json!({
        "session": {"id": "s", "token": "StrayToken", "userId": user_id,
            "expiresAt": "2099-01-01T00:00:00.000Z",
            "createdAt": "2020-01-01T00:00:00.000Z", "updatedAt": "2020-01-01T00:00:00.000Z"},
        "user": {"id": user_id, "name": "", "email": "everywhere@example.com",
            "emailVerified": false, "createdAt": "2020-01-01T00:00:00.000Z",
            "updatedAt": "2020-01-01T00:00:00.000Z"}
    });
    keys.set(
        &format!("{}StrayToken", keys.prefix),
        &stray.to_string(),
        600,
    )
    .await;
    assert!(with_bearer(&srv, "/get-session", "StrayToken")
        .await
        .json()
        .is_null());
    keys.clean().await;

    // delete-user (with the password) takes the sessions with it.
    let again = srv
        .post(
            "/sign-in/email",
            json!({"email": "everywhere@example.com", "password": "password456"}),
            None,
        )
        .await;
    assert_eq!(again.status, 200, "{}", again.text);
    let cookie = again.cookie_pair(COOKIE);
    assert_eq!(listed(&keys, &user_id).await.len(), 1);
    let r = srv
        .post(
            "/delete-user",
            json!({"password": "password456"}),
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(keys.list().await, std::slice::from_ref(&mark));
    assert!(get_session(&srv, &cookie).await.is_null());
    keys.clean().await;
    srv.stop().await;
}

/// reset-password with `revoke_sessions_on_password_reset`: the user's Redis sessions end.
async fn password_reset_ends_redis_sessions(b: Backend) {
    let Some((srv, keys, _)) = start_in_redis(b, |c| {
        c.account.revoke_sessions_on_password_reset = true;
    })
    .await
    else {
        return;
    };
    let up = srv.sign_up("reset@example.com", PASSWORD).await;
    let user_id = up.json()["user"]["id"].as_str().unwrap().to_owned();
    let cookie = up.cookie_pair(COOKIE);
    let other = sign_in(&srv, "reset@example.com").await.cookie_pair(COOKIE);
    assert_eq!(listed(&keys, &user_id).await.len(), 2);
    // The value request-password-reset would have stored (its mail is tested elsewhere).
    let value = json!({"id": "v1", "identifier": "reset-password:resettoken123", "value": user_id,
        "expiresAt": "2099-01-01T00:00:00.000Z", "createdAt": "2026-01-01T00:00:00.000Z",
        "updatedAt": "2026-01-01T00:00:00.000Z"});
    keys.set(
        &format!("{}verification:reset-password:resettoken123", keys.prefix),
        &value.to_string(),
        3600,
    )
    .await;
    let r = srv
        .post(
            "/reset-password",
            json!({"token": "resettoken123", "newPassword": "password789"}),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(get_session(&srv, &cookie).await.is_null());
    assert!(get_session(&srv, &other).await.is_null());
    assert_eq!(listed(&keys, &user_id).await, Vec::<String>::new());
    keys.clean().await;
    srv.stop().await;
}

/// Two replicas on one database and one Redis: a session made on one is live on the other,
/// and a sign-out on either ends it on both.
async fn replicas_share_sessions_through_redis(b: Backend) {
    let Some((a, keys, url)) = start_in_redis(b, |_| {}).await else {
        return;
    };
    let replica = a
        .sibling(|c| sessions_in_redis(&url, &keys.prefix, c))
        .await;
    let up = a.sign_up("replica@example.com", PASSWORD).await;
    let cookie = up.cookie_pair(COOKIE);
    assert_eq!(
        get_session(&replica, &cookie).await["user"]["email"],
        "replica@example.com"
    );
    let on_b = sign_in(&replica, "replica@example.com")
        .await
        .cookie_pair(COOKIE);
    let listed_on_a = a.get("/list-sessions", Some(&on_b)).await.json();
    assert_eq!(listed_on_a.as_array().unwrap().len(), 2);
    assert_eq!(
        replica
            .post("/sign-out", json!({}), Some(&cookie))
            .await
            .status,
        200
    );
    assert!(get_session(&a, &cookie).await.is_null());
    assert_eq!(
        a.post("/sign-out", json!({}), Some(&on_b)).await.status,
        200
    );
    assert!(get_session(&replica, &on_b).await.is_null());
    assert_eq!(keys.list().await, Vec::<String>::new());
    keys.clean().await;
    a.stop().await;
    replica.stop().await;
}

/// `store_session_in_database`: rows are written too, and a token missing from Redis is
/// still found in the table (upstream's fallback); sign-out removes both.
async fn store_session_in_database_too(b: Backend) {
    let Some((srv, keys, _)) = start_in_redis(b, |c| {
        c.session.store_session_in_database = true;
    })
    .await
    else {
        return;
    };
    let up = srv.sign_up("both@example.com", PASSWORD).await;
    let token = up.json()["token"].as_str().unwrap().to_owned();
    let cookie = up.cookie_pair(COOKIE);
    assert_eq!(srv.count("session").await, 1);
    assert!(keys
        .get(&format!("{}{token}", keys.prefix))
        .await
        .0
        .is_some());
    keys.clean().await;
    assert_eq!(
        get_session(&srv, &cookie).await["session"]["token"],
        token.as_str(),
        "found in the table"
    );
    assert_eq!(
        srv.post("/sign-out", json!({}), Some(&cookie)).await.status,
        200
    );
    assert_eq!(srv.count("session").await, 0);
    assert!(get_session(&srv, &cookie).await.is_null());
    keys.clean().await;
    srv.stop().await;
}

/// Verification values: a reset token as a TypeScript server leaves it in Redis works once
/// (GETDEL), an expired one does not; OAuth state goes to Redis and not the table, and
/// `store_verification_in_database` writes both.
async fn verification_values_live_in_redis(b: Backend) {
    let Some((srv, keys, url)) = start_in_redis(b, |c| {
        c.social.providers.push(crate::social::provider());
    })
    .await
    else {
        return;
    };
    let up = srv.sign_up("verify@example.com", PASSWORD).await;
    let user_id = up.json()["user"]["id"].as_str().unwrap().to_owned();
    let iso = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    let now = chrono::Utc::now();
    let stored = |identifier: &str, expires: chrono::DateTime<chrono::Utc>| {
        json!({"id": "v-ts", "identifier": identifier, "value": user_id,
            "expiresAt": iso(expires), "createdAt": iso(now), "updatedAt": iso(now)})
        .to_string()
    };
    let key = format!("{}verification:reset-password:tsResetToken", keys.prefix);
    keys.set(
        &key,
        &stored(
            "reset-password:tsResetToken",
            now + chrono::Duration::hours(1),
        ),
        3600,
    )
    .await;
    let link = srv
        .get("/reset-password/tsResetToken?callbackURL=%2Freset", None)
        .await;
    assert_eq!(link.status, 302);
    assert!(
        link.header("location")
            .unwrap()
            .contains("token=tsResetToken"),
        "{:?}",
        link.header("location")
    );
    let reset = |token: &'static str| {
        srv.post(
            "/reset-password",
            json!({"token": token, "newPassword": "password789"}),
            None,
        )
    };
    let r = reset("tsResetToken").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(keys.get(&key).await.0, None, "used up");
    assert_eq!(
        reset("tsResetToken").await.error().1,
        "INVALID_TOKEN",
        "once"
    );
    let again = srv
        .post(
            "/sign-in/email",
            json!({"email": "verify@example.com", "password": "password789"}),
            None,
        )
        .await;
    assert_eq!(again.status, 200, "the new password: {}", again.text);

    let expired = format!("{}verification:reset-password:oldToken", keys.prefix);
    keys.set(
        &expired,
        &stored(
            "reset-password:oldToken",
            now - chrono::Duration::seconds(5),
        ),
        60,
    )
    .await;
    assert_eq!(reset("oldToken").await.error().1, "INVALID_TOKEN");

    // OAuth state: in Redis only.
    let resp = srv
        .post(
            "/sign-in/social",
            json!({"provider": "example", "callbackURL": "/dashboard"}),
            None,
        )
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    let authorize = url::Url::parse(resp.json()["url"].as_str().unwrap()).unwrap();
    let state = authorize
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let (raw, ttl) = keys
        .get(&format!("{}verification:auth-state:{state}", keys.prefix))
        .await;
    let row: Value = serde_json::from_str(&raw.expect("state in Redis")).unwrap();
    assert_eq!(row["identifier"], format!("auth-state:{state}"));
    let data: Value = serde_json::from_str(row["value"].as_str().unwrap()).unwrap();
    assert_eq!(data["oauthState"], state.as_str());
    assert!(ttl > 500_000 && ttl <= 600_000, "10 minutes: {ttl}");
    assert_eq!(srv.count("verification").await, 0, "no rows");
    keys.clean().await;
    srv.stop().await;

    // storeInDatabase: both.
    let keys = Keys::new(&url).await;
    let tweak = |c: &mut better_auth_server::config::Config| {
        sessions_in_redis(&url, &keys.prefix, c);
        c.social.providers.push(crate::social::provider());
        c.store_verification_in_database = true;
    };
    let Some(srv) = TestServer::start_with(b, tweak).await else {
        return;
    };
    let resp = srv
        .post(
            "/sign-in/social",
            json!({"provider": "example", "callbackURL": "/dashboard"}),
            None,
        )
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert_eq!(srv.count("verification").await, 1);
    assert_eq!(keys.list().await.len(), 1);
    keys.clean().await;
    srv.stop().await;
}

/// revoke-session with another user's token leaves that session alone (as upstream).
async fn someone_elses_token_is_not_revoked(b: Backend) {
    let Some((srv, keys, _)) = start_in_redis(b, |_| {}).await else {
        return;
    };
    let mine = srv
        .sign_up("mine@example.com", PASSWORD)
        .await
        .cookie_pair(COOKIE);
    let theirs = srv.sign_up("theirs@example.com", PASSWORD).await;
    let token = theirs.json()["token"].as_str().unwrap().to_owned();
    let r = srv
        .post("/revoke-session", json!({"token": token}), Some(&mine))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(keys
        .get(&format!("{}{token}", keys.prefix))
        .await
        .0
        .is_some());
    assert_eq!(
        get_session(&srv, &theirs.cookie_pair(COOKIE)).await["user"]["email"],
        "theirs@example.com"
    );
    keys.clean().await;
    srv.stop().await;
}

on_both_databases!(
    someone_elses_token_is_not_revoked,
    verification_values_live_in_redis,
    sessions_live_in_redis_in_upstream_format,
    refresh_and_typescript_written_sessions,
    sign_out_everywhere_paths_clear_redis,
    password_reset_ends_redis_sessions,
    replicas_share_sessions_through_redis,
    store_session_in_database_too,
);

/// Sessions in a Redis that goes away: session endpoints answer 503
/// SESSION_STORAGE_UNAVAILABLE (never a 500 or "signed out"), /readyz says not ready, and
/// everything works again when Redis is back.
#[actix_web::test]
async fn a_lost_redis_is_a_503_until_it_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let Some((mut redis_server, url, port)) = private_redis(dir.path()) else {
        return;
    };
    wait_for_redis(&url).await;
    // The memory cache off: a lookup it answers in the moment before its listener notices
    // the lost connection (and drops everything) is not what this test is about.
    let srv = TestServer::start_with(Backend::Sqlite, |c| {
        sessions_in_redis(&url, "", c);
        c.session.memory_cache.enabled = false;
    })
    .await
    .unwrap();
    let up = srv.sign_up("lost@example.com", PASSWORD).await;
    let cookie = up.cookie_pair(COOKIE);
    assert_eq!(
        get_session(&srv, &cookie).await["user"]["email"],
        "lost@example.com"
    );
    assert_eq!(srv.get("/readyz", None).await.status, 200);

    redis_server.0.kill().unwrap();
    redis_server.0.wait().unwrap();
    let s = srv.get("/get-session", Some(&cookie)).await;
    assert_eq!(
        s.error(),
        (
            503,
            "SESSION_STORAGE_UNAVAILABLE".to_owned(),
            "Session storage is not reachable".to_owned()
        )
    );
    assert_eq!(srv.get("/readyz", None).await.status, 503);
    let r = sign_in(&srv, "lost@example.com").await;
    assert_eq!(r.status, 503, "sign-in cannot make a session: {}", r.text);
    assert_eq!(r.json()["code"], "SESSION_STORAGE_UNAVAILABLE");

    // Back on the same port (empty: Redis here keeps nothing on disk): new sessions work.
    let (_back, url_back) = crate::redis::redis_on_port(dir.path(), port).unwrap();
    wait_for_redis(&url_back).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        if srv.get("/readyz", None).await.status == 200 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "ready again");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let r = sign_in(&srv, "lost@example.com").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        get_session(&srv, &r.cookie_pair(COOKIE)).await["user"]["email"],
        "lost@example.com"
    );
    srv.stop().await;
}

/// A Redis that hangs (SIGSTOP): the first request waits for the 2 s timeout, the next ones
/// fail at once (the circuit breaker: 503 for sessions, let through for rate limits)
/// instead of each waiting; after SIGCONT sessions work again.
#[actix_web::test]
async fn a_hanging_redis_fails_fast() {
    let dir = tempfile::tempdir().unwrap();
    let Some((redis_server, url, _)) = private_redis(dir.path()) else {
        return;
    };
    wait_for_redis(&url).await;
    let srv = TestServer::start_with(Backend::Sqlite, |c| {
        sessions_in_redis(&url, "", c);
        c.rate_limit.enabled = true;
        c.rate_limit.storage = better_auth_server::config::RateLimitStorage::Redis;
    })
    .await
    .unwrap();
    let cookie = srv
        .sign_up("hang@example.com", PASSWORD)
        .await
        .cookie_pair(COOKIE);
    let signal = |sig: &str| {
        let status = std::process::Command::new("kill")
            .args([sig, &redis_server.0.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    };
    signal("-STOP");
    let started = std::time::Instant::now();
    assert_eq!(srv.get("/get-session", Some(&cookie)).await.status, 503);
    assert!(
        started.elapsed() >= Duration::from_millis(1_500),
        "waited for the timeout"
    );
    for _ in 0..5 {
        let started = std::time::Instant::now();
        let s = srv.get("/get-session", Some(&cookie)).await;
        assert_eq!(s.error().1, "SESSION_STORAGE_UNAVAILABLE");
        assert_eq!(
            srv.get("/ok", None).await.status,
            200,
            "rate limit lets it through"
        );
        assert!(
            started.elapsed() < Duration::from_millis(300),
            "failed fast: {:?}",
            started.elapsed()
        );
    }
    signal("-CONT");
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let s = srv.get("/get-session", Some(&cookie)).await;
        if s.status == 200 {
            assert_eq!(s.json()["user"]["email"], "hang@example.com");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "back after SIGCONT");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    srv.stop().await;
}

/// `rediss://` with a private CA (`BETTER_AUTH_REDIS_CA_FILE`): sessions over TLS; without
/// the CA the certificate is not trusted and the connection is refused.
#[actix_web::test]
async fn sessions_over_tls_with_a_private_ca() {
    let dir = tempfile::tempdir().unwrap();
    let Some((_redis, url)) = crate::redis::private_tls_redis(dir.path()).await else {
        return;
    };
    let ca = dir.path().join("ca.pem");
    let untrusted = better_auth_server::config::RedisConfig {
        url: url.clone(),
        prefix: String::new(),
        ca_file: None,
    };
    assert!(
        better_auth_server::secondary_storage::Redis::connect(&untrusted)
            .await
            .is_err(),
        "a private CA is not trusted by default"
    );
    let srv = TestServer::start_with(Backend::Sqlite, |c| {
        sessions_in_redis(&url, "", c);
        c.redis.as_mut().unwrap().ca_file = Some(ca.clone());
    })
    .await
    .unwrap();
    let up = srv.sign_up("tls@example.com", PASSWORD).await;
    assert_eq!(up.status, 200, "{}", up.text);
    let cookie = up.cookie_pair(COOKIE);
    assert_eq!(srv.count("session").await, 0, "the session went to Redis");
    assert_eq!(
        get_session(&srv, &cookie).await["user"]["email"],
        "tls@example.com"
    );
    assert_eq!(srv.get("/readyz", None).await.status, 200);
    srv.stop().await;
}
