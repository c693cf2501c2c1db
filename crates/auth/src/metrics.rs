//! Prometheus metrics, served on their own listener (`BETTER_AUTH_METRICS_ADDR`) so that they
//! are never public by accident.
//!
//! Requests are labelled with the matched route pattern (`/api/auth/reset-password/{token}`),
//! never the raw path: the label set stays small and no token ends up in a label.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

use crate::models::Timestamp;
use crate::state::AppState;
use crate::store::session_cache::CacheCounters;

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    sign_in_failures: IntCounter,
    hashing_queue: IntGauge,
    jwks_keys: IntGauge,
    /// The in-process session cache (`store/session_cache.rs`).
    pub session_cache: CacheCounters,
    /// Sessions answered from the `session_data` cookie (`cookie_cache/`).
    pub cookie_cache_hits: IntCounter,
    /// `session_data` cookies ignored: tampered, expired, another session's or version.
    pub cookie_cache_refused: IntCounter,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "better_auth_http_requests_total",
                "HTTP requests by route pattern, method and status",
            ),
            &["route", "method", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "better_auth_http_request_duration_seconds",
                "HTTP request latency by route pattern and method",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["route", "method"],
        )?;
        let sign_in_failures = IntCounter::new(
            "better_auth_sign_in_failures_total",
            "Refused email sign-ins (wrong credentials or unverified email)",
        )?;
        let hashing_queue = IntGauge::new(
            "better_auth_password_hashing_queue_depth",
            "Password hashes and verifications waiting for a hashing thread",
        )?;
        let jwks_keys = IntGauge::new(
            "better_auth_jwks_keys",
            "JWT keys currently published at /jwks",
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(sign_in_failures.clone()))?;
        registry.register(Box::new(hashing_queue.clone()))?;
        registry.register(Box::new(jwks_keys.clone()))?;
        let counter = |name: &str, help: &str| -> Result<IntCounter, prometheus::Error> {
            let c = IntCounter::new(name, help)?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        let session_cache = CacheCounters {
            hits: counter(
                "better_auth_session_cache_hits_total",
                "Session lookups answered from memory",
            )?,
            misses: counter(
                "better_auth_session_cache_misses_total",
                "Session lookups that went to storage",
            )?,
            sent: counter(
                "better_auth_session_cache_invalidations_sent_total",
                "Session cache invalidations sent to the other replicas",
            )?,
            received: counter(
                "better_auth_session_cache_invalidations_received_total",
                "Session cache invalidations received from the other replicas",
            )?,
            flushes: counter(
                "better_auth_session_cache_flushes_total",
                "Whole-cache flushes after the invalidation listener reconnected",
            )?,
            entries: IntGauge::new(
                "better_auth_session_cache_entries",
                "Sessions held in the memory cache",
            )?,
        };
        registry.register(Box::new(session_cache.entries.clone()))?;
        let cookie_cache_hits = counter(
            "better_auth_cookie_cache_hits_total",
            "Sessions answered from the session_data cookie without storage",
        )?;
        let cookie_cache_refused = counter(
            "better_auth_cookie_cache_refused_total",
            "session_data cookies ignored (tampered, expired, another session or version)",
        )?;
        Ok(Self {
            registry,
            requests,
            latency,
            sign_in_failures,
            hashing_queue,
            jwks_keys,
            session_cache,
            cookie_cache_hits,
            cookie_cache_refused,
        })
    }

    fn observe(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let status_text = status.to_string();
        self.requests
            .with_label_values(&[route, method, status_text.as_str()])
            .inc();
        self.latency
            .with_label_values(&[route, method])
            .observe(seconds);
        if route.ends_with("/sign-in/email") && matches!(status, 401 | 403) {
            self.sign_in_failures.inc();
        }
    }
}

/// Middleware around the whole app: counts and times every request, and writes one debug
/// log line with the route pattern (the path itself may hold a token).
pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let method = req.method().as_str().to_owned();
    let res = next.call(req).await;
    let (route, status) = match &res {
        Ok(r) => (
            r.request()
                .match_pattern()
                .filter(|p| !p.ends_with(crate::rate_limit::UNMATCHED.pattern))
                .unwrap_or_else(|| "unmatched".into()),
            r.status().as_u16(),
        ),
        Err(e) => (
            "unmatched".into(),
            e.as_response_error().status_code().as_u16(),
        ),
    };
    let elapsed = started.elapsed();
    if let Some(state) = state {
        state
            .metrics
            .observe(&route, &method, status, elapsed.as_secs_f64());
    }
    tracing::debug!(
        %method,
        %route,
        status,
        ms = elapsed.as_secs_f64() * 1e3,
        "request"
    );
    res
}

/// `GET /metrics` on the metrics listener: the gauges are read at scrape time.
pub async fn scrape(state: web::Data<AppState>) -> HttpResponse {
    let m = &state.metrics;
    m.hashing_queue
        .set(i64::try_from(state.hasher.queue_depth()).unwrap_or(i64::MAX));
    if let Ok(rows) = state.store.jwks().list().await {
        let now = Timestamp::now();
        let grace = state.config.jwt.grace_period;
        let published = rows.iter().filter(|r| r.is_published(now, grace)).count();
        m.jwks_keys
            .set(i64::try_from(published).unwrap_or(i64::MAX));
    }
    let mut body = Vec::new();
    match TextEncoder::new().encode(&m.registry.gather(), &mut body) {
        Ok(()) => HttpResponse::Ok()
            .content_type("text/plain; version=0.0.4")
            .body(body),
        Err(e) => {
            tracing::error!(error = %e, "encoding metrics");
            HttpResponse::InternalServerError().finish()
        }
    }
}
