//! A sign-in flood must not slow get-session down: hashing runs on its own threads, so
//! the async workers stay free for cheap requests.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::{Backend, TestServer};
use crate::on_both_databases;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

async fn get_session_stays_fast_during_a_sign_in_flood(b: Backend) {
    let Some(srv) = TestServer::start(b).await else {
        return;
    };
    let cookie = srv
        .sign_up("flood@example.com", "password123")
        .await
        .cookie_pair("better-auth.session_token");

    let flood_until = Instant::now() + Duration::from_secs(4);
    let mut flooders = Vec::new();
    for _ in 0..12 {
        let client = srv.client.clone();
        let url = format!("{}/sign-in/email", srv.url);
        flooders.push(tokio::spawn(async move {
            let mut timings = Vec::new();
            while Instant::now() < flood_until {
                let t = Instant::now();
                let r = client
                    .post(&url)
                    .json(&json!({"email": "flood@example.com", "password": "password123"}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                timings.push(t.elapsed().as_secs_f64());
            }
            timings
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut deepest_queue = 0;
    let mut session_timings = Vec::new();
    while Instant::now() + Duration::from_millis(500) < flood_until {
        deepest_queue = deepest_queue.max(srv.state.hasher.queue_depth());
        let t = Instant::now();
        let r = srv.get("/get-session", Some(&cookie)).await;
        session_timings.push(t.elapsed().as_secs_f64());
        assert_eq!(r.json()["user"]["email"], "flood@example.com");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut sign_in_timings = Vec::new();
    for f in flooders {
        sign_in_timings.extend(f.await.unwrap());
    }
    assert!(
        deepest_queue >= 4,
        "the flood filled the hashing queue ({deepest_queue})"
    );
    let (session, sign_in) = (median(session_timings), median(sign_in_timings));
    assert!(
        session * 5.0 < sign_in,
        "get-session median {:.1} ms vs sign-in median {:.1} ms under the flood",
        session * 1e3,
        sign_in * 1e3
    );
    srv.stop().await;
}

on_both_databases!(get_session_stays_fast_during_a_sign_in_flood);
