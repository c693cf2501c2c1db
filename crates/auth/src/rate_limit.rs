//! Better Auth's rate limiter (`api/rate-limiter`): every request under the base path counts
//! against `"<client ip>|<route>"`; 100 per 10 s by default, stricter rules on the routes
//! that send mail or check passwords; a refused request gets `429` and `X-Retry-After`.
//!
//! Stricter than upstream, which keys on the raw request path: here each endpoint declares
//! its rule where it is declared (`Api::endpoint(path, Rule)`, registered by `routes::resource`), the limiter runs on the
//! matched route and keys on the route's pattern. Every spelling of a path that reaches a
//! handler (`/sign-in/%65mail`, `?a=1`) therefore spends the one budget, and requests that
//! match no route share one bucket per client (`/{unmatched:.*}`).
//!
//! Counters live in this process (`memory`), in the `rateLimit` table (`database`) or in
//! Redis (`redis`, upstream's `secondary-storage`); the last two are shared by replicas.
//!
//! In Redis we keep upstream's 1.7 secondary-storage format so that a TypeScript server on the
//! same Redis counts together with us: the key is `"<ip>|<path>"` (after our optional
//! prefix), the value an integer counter, created with a TTL of the rule's window and never
//! extended. That is a fixed window from the first request, where `memory` and `database`
//! run the window from the last counted request.

use std::collections::HashMap;
use std::sync::Mutex;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};
use regex::Regex;

use crate::client_ip::{client_ip, rate_limit_identity};
use crate::config::{Limit, RateLimitConfig, RateLimitStorage};
use crate::models::Timestamp;
use crate::secondary_storage::Redis;
use crate::state::AppState;
use crate::store::Store;

/// Upstream's special rules (`getDefaultSpecialRules`).
const STRICT: Limit = Limit { window: 10, max: 3 };
const MAIL: Limit = Limit { window: 60, max: 3 };

/// The rule an endpoint declares where it is registered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// The configured default (upstream: 100 per 10 s).
    Default,
    /// Routes that check credentials (upstream's `/sign-in`, `/sign-up`, `/change-password`,
    /// `/change-email` prefixes): 3 per 10 s.
    Credentials,
    /// Routes that send mail (`/request-password-reset`, `/send-verification-email`, ...):
    /// 3 per 60 s.
    Mail,
}

/// The route a request matched: its pattern under the base path and its declared rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    pub pattern: &'static str,
    pub rule: Rule,
}

/// Where requests that match no endpoint land: one budget per client for all of them.
pub const UNMATCHED: Route = Route {
    pattern: "/{unmatched:.*}",
    rule: Rule::Default,
};

/// A bound on remembered clients in memory; beyond it, expired counters are swept.
const MEMORY_ENTRIES_SWEEP_AT: usize = 100_000;

pub struct RateLimiter {
    config: RateLimitConfig,
    custom: Vec<(PathPattern, Option<Limit>)>,
    /// The longest window of any rule: counters older than this are dead.
    longest_window_ms: i64,
    memory: Mutex<HashMap<String, Counter>>,
    /// Set at start when `REDIS_URL` is configured.
    redis: Option<Redis>,
    increment: redis::Script,
}

/// Upstream's `SecondaryStorage.increment(key, ttl)` in one atomic step: count, and give a
/// new counter its TTL (also one left without, so no counter lives forever). Returns the
/// count and the milliseconds left in the window.
const INCREMENT: &str = r"
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1]) * 1000
end
return {count, ttl}
";

struct Counter {
    count: u64,
    last_request_ms: i64,
}

enum PathPattern {
    Exact(String),
    Glob(Regex),
}

impl PathPattern {
    /// `*` matches within one path segment, `**` across segments.
    fn new(pattern: &str) -> Self {
        if !pattern.contains('*') {
            return PathPattern::Exact(pattern.trim_end_matches('/').to_owned());
        }
        let mut re = String::from("^");
        for (i, part) in pattern.split("**").enumerate() {
            if i > 0 {
                re.push_str(".*");
            }
            let segments: Vec<String> = part.split('*').map(regex::escape).collect();
            re.push_str(&segments.join("[^/]*"));
        }
        re.push('$');
        // Escaped literals joined by fixed fragments always form a valid regex.
        Regex::new(&re).map_or_else(
            |_| PathPattern::Exact(pattern.to_owned()),
            PathPattern::Glob,
        )
    }

    fn matches(&self, path: &str) -> bool {
        match self {
            PathPattern::Exact(p) => p == path,
            PathPattern::Glob(re) => re.is_match(path),
        }
    }
}

/// What the limiter decided for one request.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Refused; the client may retry after this many seconds.
    Refuse {
        retry_after: u64,
    },
}

impl RateLimiter {
    pub fn new(config: &RateLimitConfig) -> Self {
        let custom: Vec<_> = config
            .rules
            .iter()
            .map(|r| (PathPattern::new(&r.path), r.limit))
            .collect();
        let longest = config
            .rules
            .iter()
            .filter_map(|r| r.limit.map(|l| l.window))
            .chain([config.default.window, STRICT.window, MAIL.window])
            .max()
            .unwrap_or(60);
        Self {
            config: config.clone(),
            custom,
            longest_window_ms: i64::try_from(longest.saturating_mul(1000)).unwrap_or(i64::MAX),
            memory: Mutex::new(HashMap::new()),
            redis: None,
            increment: redis::Script::new(INCREMENT),
        }
    }

    /// Counters go to Redis when the storage is `redis`.
    pub fn use_redis(&mut self, redis: Redis) {
        self.redis = Some(redis);
    }

    /// The limit for a route: a configured rule matching its pattern first, then the rule
    /// the route declares; `None`: not limited.
    pub fn limit_for(&self, route: Route) -> Option<Limit> {
        if let Some((_, limit)) = self.custom.iter().find(|(p, _)| p.matches(route.pattern)) {
            return *limit;
        }
        Some(match route.rule {
            Rule::Default => self.config.default,
            Rule::Credentials => STRICT,
            Rule::Mail => MAIL,
        })
    }

    /// Counts a request for `key` (upstream's algorithm: a passed window restarts at 1; a
    /// full window refuses without counting).
    pub async fn check(&self, store: &Store, key: &str, limit: Limit, now_ms: i64) -> Decision {
        let window_ms = i64::try_from(limit.window.saturating_mul(1000)).unwrap_or(i64::MAX);
        let max = i64::try_from(limit.max).unwrap_or(i64::MAX);
        let retry = |last: i64| Decision::Refuse {
            retry_after: u64::try_from((last + window_ms - now_ms + 999) / 1000)
                .unwrap_or(1)
                .max(1),
        };
        match self.config.storage {
            RateLimitStorage::Redis => {
                let Some(redis) = &self.redis else {
                    // Only a test building the state by hand gets here: the start connects.
                    tracing::warn!("rate limit storage is redis but no connection; allowed");
                    return Decision::Allow;
                };
                let mut call = self.increment.key(redis.key(key));
                call.arg(limit.window);
                let result: redis::RedisResult<(i64, i64)> = redis
                    .run(|mut c| async move { call.invoke_async(&mut c).await })
                    .await;
                match result {
                    Ok((count, _)) if count <= max => Decision::Allow,
                    // The time left until the counter expires (upstream says the whole window).
                    Ok((_, ttl_ms)) => Decision::Refuse {
                        retry_after: u64::try_from((ttl_ms + 999) / 1000).unwrap_or(1).max(1),
                    },
                    Err(e) => {
                        // As with the database: an outage of the counter store must not
                        // lock everybody out. Logged without the key (it holds the IP).
                        tracing::warn!(error = %e, "rate limit storage (redis) failed; request allowed");
                        Decision::Allow
                    }
                }
            }
            RateLimitStorage::Database => {
                match store.rate_limits().count(key, now_ms, window_ms, max).await {
                    Ok(c) if c.count > max => retry(c.last_request_ms),
                    Ok(_) => Decision::Allow,
                    Err(e) => {
                        // The request will meet the same database; do not add a 429 to it.
                        tracing::warn!(error = %e, "rate limit storage failed; request allowed");
                        Decision::Allow
                    }
                }
            }
            RateLimitStorage::Memory => {
                let Ok(mut counters) = self.memory.lock() else {
                    return Decision::Allow;
                };
                if counters.len() >= MEMORY_ENTRIES_SWEEP_AT && !counters.contains_key(key) {
                    let horizon = self.longest_window_ms;
                    counters.retain(|_, c| now_ms - c.last_request_ms < horizon);
                }
                match counters.get_mut(key) {
                    Some(c) if now_ms - c.last_request_ms >= window_ms => {
                        c.count = 1;
                        c.last_request_ms = now_ms;
                        Decision::Allow
                    }
                    Some(c) if c.count >= limit.max => retry(c.last_request_ms),
                    Some(c) => {
                        c.count += 1;
                        c.last_request_ms = now_ms;
                        Decision::Allow
                    }
                    None => {
                        counters.insert(
                            key.to_owned(),
                            Counter {
                                count: 1,
                                last_request_ms: now_ms,
                            },
                        );
                        Decision::Allow
                    }
                }
            }
        }
    }
}

/// The middleware every route is wrapped in (`routes::resource`): runs after routing, so it
/// knows the route whatever the spelling of the path.
pub async fn limit(
    route: Route,
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    if !state.config.rate_limit.enabled {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let Some(limit) = state.rate_limiter.limit_for(route) else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let ip = client_ip(
        req.peer_addr().map(|a| a.ip()),
        req.headers(),
        &state.config.trusted_proxies,
    );
    let identity = ip.map_or_else(|| "unknown".to_owned(), rate_limit_identity);
    let key = format!("{identity}|{}", route.pattern);
    let now_ms = Timestamp::now().millis();
    match state
        .rate_limiter
        .check(&state.store, &key, limit, now_ms)
        .await
    {
        Decision::Allow => Ok(next.call(req).await?.map_into_left_body()),
        Decision::Refuse { retry_after } => {
            // Upstream's exact answer (1.7.29 `rateLimitResponse`): JSON without `code`.
            let response = HttpResponse::TooManyRequests()
                .insert_header((
                    HeaderName::from_static("x-retry-after"),
                    HeaderValue::from(retry_after),
                ))
                .insert_header((CONTENT_TYPE, "application/json"))
                .body(r#"{"message":"Too many requests. Please try again later."}"#);
            Ok(req.into_response(response).map_into_right_body())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RateLimitRule;

    fn limiter(rules: Vec<RateLimitRule>) -> RateLimiter {
        RateLimiter::new(&RateLimitConfig {
            enabled: true,
            default: Limit {
                window: 10,
                max: 100,
            },
            storage: RateLimitStorage::Memory,
            rules,
        })
    }

    #[test]
    fn rules_as_upstream_then_custom_first() {
        let l = limiter(vec![
            RateLimitRule {
                path: "/get-session".into(),
                limit: None,
            },
            RateLimitRule {
                path: "/sign-in/*".into(),
                limit: Some(Limit { window: 5, max: 7 }),
            },
            RateLimitRule {
                path: "/admin/**".into(),
                limit: Some(Limit { window: 1, max: 1 }),
            },
        ]);
        let route = |pattern, rule| Route { pattern, rule };
        assert_eq!(
            l.limit_for(route("/sign-up/email", Rule::Credentials)),
            Some(STRICT)
        );
        assert_eq!(
            l.limit_for(route("/request-password-reset", Rule::Mail)),
            Some(MAIL)
        );
        assert_eq!(
            l.limit_for(route("/token", Rule::Default)),
            Some(Limit {
                window: 10,
                max: 100
            })
        );
        assert_eq!(l.limit_for(route("/get-session", Rule::Default)), None);
        assert_eq!(
            l.limit_for(route("/sign-in/email", Rule::Credentials)),
            Some(Limit { window: 5, max: 7 })
        );
        assert_eq!(
            l.limit_for(route("/sign-in/a/b", Rule::Credentials)),
            Some(STRICT),
            "* stays in one segment"
        );
        assert_eq!(
            l.limit_for(route("/admin/{id}/b", Rule::Default)),
            Some(Limit { window: 1, max: 1 })
        );
    }

    #[tokio::test]
    async fn memory_counts_per_window_and_refuses_without_counting() {
        let l = limiter(vec![]);
        let store =
            crate::store::Store::new(crate::store::connect("sqlite::memory:").await.unwrap())
                .await
                .unwrap();
        let t0 = 1_000_000;
        for i in 0..3 {
            assert_eq!(l.check(&store, "k", STRICT, t0 + i).await, Decision::Allow);
        }
        assert_eq!(
            l.check(&store, "k", STRICT, t0 + 2_500).await,
            Decision::Refuse { retry_after: 8 }
        );
        assert_eq!(
            l.check(&store, "other", STRICT, t0 + 2_500).await,
            Decision::Allow
        );
        // The window runs from the last counted request (t0 + 2), not the refused one.
        assert_eq!(
            l.check(&store, "k", STRICT, t0 + 10_001).await,
            Decision::Refuse { retry_after: 1 }
        );
        assert_eq!(
            l.check(&store, "k", STRICT, t0 + 10_002).await,
            Decision::Allow
        );
    }
}
