//! Upstream's `secondaryStorage`, kept in Redis when `REDIS_URL` is set. Rate-limit counters
//! live there (see `rate_limit`); keys are upstream's, behind an optional prefix.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::config::RedisConfig;

/// A stalled Redis must not hold requests for long.
const TIMEOUT: Duration = Duration::from_secs(2);

/// A reconnecting connection (cheap to clone) and the key prefix.
#[derive(Clone)]
pub struct Redis {
    conn: ConnectionManager,
    prefix: String,
}

impl Redis {
    /// Connects once so that a wrong URL or an unreachable Redis stops the start; later
    /// disconnections are retried per request.
    pub async fn connect(config: &RedisConfig) -> Result<Redis, redis::RedisError> {
        let client = redis::Client::open(config.url.as_str())?;
        let settings = ConnectionManagerConfig::new()
            .set_connection_timeout(TIMEOUT)
            .set_response_timeout(TIMEOUT)
            // A few quick retries (the crate's default backoff grows to minutes).
            .set_number_of_retries(2)
            .set_factor(2)
            .set_max_delay(1_000);
        let conn = ConnectionManager::new_with_config(client, settings).await?;
        Ok(Redis {
            conn,
            prefix: config.prefix.clone(),
        })
    }

    /// The stored name of upstream's `key`.
    pub fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    pub fn connection(&self) -> ConnectionManager {
        self.conn.clone()
    }
}
