//! Upstream's `secondaryStorage`, kept in Redis when `REDIS_URL` is set. Rate-limit counters
//! live there (see `rate_limit`); keys are upstream's, behind an optional prefix.

use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ErrorKind, RedisError, RedisResult};

use crate::config::RedisConfig;

/// A stalled Redis must not hold requests for long.
const TIMEOUT: Duration = Duration::from_secs(2);

/// After Redis failed to answer, calls fail at once for this long; then one call probes.
const BREAK: Duration = Duration::from_secs(1);

/// A reconnecting connection (cheap to clone), the key prefix and a circuit breaker.
#[derive(Clone)]
pub struct Redis {
    /// For connections of their own (the session cache's subscription).
    client: redis::Client,
    conn: ConnectionManager,
    prefix: String,
    breaker: Arc<Breaker>,
}

/// Without it a Redis that hangs holds every request for the full timeout (sessions and
/// rate limits touch Redis on most requests); with it only one probe per `BREAK` waits.
#[derive(Default)]
struct Breaker {
    /// Unix ms until which calls fail fast; 0 when Redis answered last time.
    open_until: AtomicI64,
}

impl Breaker {
    fn admit(&self) -> bool {
        let until = self.open_until.load(Ordering::Acquire);
        if until == 0 {
            return true;
        }
        let now = now_ms();
        // Half-open: the first caller after the break probes, the others keep failing fast.
        now >= until
            && self
                .open_until
                .compare_exchange(until, now + break_ms(), Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
    }

    fn record<T>(&self, result: &RedisResult<T>) {
        match result {
            Err(e) if unreachable(e) => self
                .open_until
                .store(now_ms() + break_ms(), Ordering::Release),
            _ => self.open_until.store(0, Ordering::Release),
        }
    }
}

/// Failures that say Redis is away (not a bad command or script).
fn unreachable(e: &RedisError) -> bool {
    e.is_timeout() || e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal()
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn break_ms() -> i64 {
    BREAK.as_millis() as i64
}

impl Redis {
    /// Connects once so that a wrong URL or an unreachable Redis stops the start; later
    /// disconnections are retried per request.
    pub async fn connect(config: &RedisConfig) -> Result<Redis, redis::RedisError> {
        let client = match &config.ca_file {
            // A private CA for `rediss://` (the system's roots otherwise).
            Some(path) => {
                let pem = std::fs::read(path).map_err(|e| {
                    RedisError::from((
                        ErrorKind::IoError,
                        "cannot read the Redis CA file",
                        format!("{}: {e}", path.display()),
                    ))
                })?;
                let certificates = redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem),
                };
                redis::Client::build_with_tls(config.url.as_str(), certificates)?
            }
            None => redis::Client::open(config.url.as_str())?,
        };
        let settings = ConnectionManagerConfig::new()
            .set_connection_timeout(TIMEOUT)
            .set_response_timeout(TIMEOUT)
            // A few quick retries (the crate's default backoff grows to minutes).
            .set_number_of_retries(2)
            .set_factor(2)
            .set_max_delay(1_000);
        let conn = ConnectionManager::new_with_config(client.clone(), settings).await?;
        Ok(Redis {
            client,
            conn,
            prefix: config.prefix.clone(),
            breaker: Arc::default(),
        })
    }

    /// Runs one operation on the connection, or fails at once while the breaker is open.
    pub async fn run<T, Op, Fut>(&self, op: Op) -> RedisResult<T>
    where
        Op: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        if !self.breaker.admit() {
            return Err(RedisError::from((
                ErrorKind::IoError,
                "Redis did not answer recently; retried shortly",
            )));
        }
        let result = op(self.conn.clone()).await;
        self.breaker.record(&result);
        result
    }

    /// The stored name of upstream's `key`.
    pub fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    pub fn client(&self) -> &redis::Client {
        &self.client
    }

    /// The bare connection, without the breaker (tests and benchmarks).
    pub fn connection(&self) -> ConnectionManager {
        self.conn.clone()
    }
}
