//! Where single-use verification values live (password reset, account deletion, OAuth
//! state): the `verification` table, or Redis when `REDIS_URL` is set (upstream's
//! `secondaryStorage`; the table is then only written with `verification.storeInDatabase`).
//!
//! Redis keeps upstream 1.7.25's format, so a TypeScript server on the same Redis honours
//! our tokens and we honour its: `verification:<identifier>` -> the row as JSON
//! (`{"id","identifier","value","expiresAt","createdAt","updatedAt"}`), expiring with it.
//! Using one up is `GETDEL`: of concurrent callers only one gets it.

use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};

use super::verifications::Verification;
use super::{StorageError, Store};
use crate::crypto::random;
use crate::models::Timestamp;
use crate::secondary_storage::Redis;

type Result<T> = std::result::Result<T, StorageError>;

#[derive(Clone)]
pub struct VerificationStore {
    store: Store,
    redis: Option<Redis>,
    /// Upstream's `verification.storeInDatabase`: rows are written too, and read when Redis
    /// does not have them.
    in_database: bool,
}

/// The stored JSON (upstream's `JSON.stringify` of the row; unknown fields ignored).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stored {
    #[serde(default)]
    id: String,
    identifier: String,
    value: String,
    expires_at: Timestamp,
    #[serde(default = "Timestamp::now")]
    created_at: Timestamp,
    #[serde(default = "Timestamp::now")]
    updated_at: Timestamp,
}

impl VerificationStore {
    pub fn new(store: Store, redis: Option<Redis>, store_in_database: bool) -> Self {
        VerificationStore {
            store,
            redis,
            in_database: store_in_database,
        }
    }

    fn in_database(&self) -> bool {
        self.redis.is_none() || self.in_database
    }

    pub async fn create(&self, identifier: &str, value: &str, expires_at: Timestamp) -> Result<()> {
        if self.in_database() {
            self.store
                .verification_rows()
                .create(identifier, value, expires_at)
                .await?;
        }
        if let Some(redis) = &self.redis {
            let now = Timestamp::now();
            let ttl = (expires_at.millis() - now.millis()) / 1000;
            if ttl > 0 {
                let stored = Stored {
                    id: random::id(),
                    identifier: identifier.to_owned(),
                    value: value.to_owned(),
                    expires_at,
                    created_at: now,
                    updated_at: now,
                };
                let mut set = redis::cmd("SET");
                set.arg(key(redis, identifier))
                    .arg(serde_json::to_string(&stored).unwrap_or_default())
                    .arg("EX")
                    .arg(ttl);
                let _: () = redis
                    .run(|mut c| async move { set.query_async(&mut c).await })
                    .await?;
            }
        }
        Ok(())
    }

    /// The value for `identifier`, expired or not (the caller decides), without using it.
    pub async fn find(&self, identifier: &str) -> Result<Option<Verification>> {
        if let Some(redis) = &self.redis {
            if let Some(found) = read(redis, "GET", identifier).await? {
                return Ok(Some(found));
            }
            if !self.in_database {
                return Ok(None);
            }
        }
        Ok(self.store.verification_rows().find(identifier).await?)
    }

    /// Uses up `identifier` and returns it if it had not expired. With the table, inside the
    /// caller's transaction `conn`; in Redis alone, at once (`GETDEL`), so a rolled-back
    /// transaction has still used the token (the user asks for a new one).
    /// Uses a value up outside any transaction (see `consume`).
    pub async fn take(&self, identifier: &str) -> Result<Option<Verification>> {
        self.consume(self.store.connection(), identifier).await
    }

    pub async fn consume<C: ConnectionTrait>(
        &self,
        conn: &C,
        identifier: &str,
    ) -> Result<Option<Verification>> {
        let mut from_redis = None;
        if let Some(redis) = &self.redis {
            from_redis = read(redis, "GETDEL", identifier).await?;
        }
        if self.in_database() {
            // The row is the gate here (a copy in Redis was deleted above).
            return Ok(self
                .store
                .verification_rows()
                .consume(conn, identifier)
                .await?);
        }
        Ok(from_redis.filter(|v| v.expires_at >= Timestamp::now()))
    }
}

fn key(redis: &Redis, identifier: &str) -> String {
    redis.key(&format!("verification:{identifier}"))
}

/// `GET` or `GETDEL` of an identifier's value; one that does not parse counts as none.
async fn read(redis: &Redis, command: &str, identifier: &str) -> Result<Option<Verification>> {
    let mut cmd = redis::cmd(command);
    cmd.arg(key(redis, identifier));
    let raw: Option<String> = redis
        .run(|mut c| async move { cmd.query_async(&mut c).await })
        .await?;
    Ok(raw.as_deref().and_then(parse))
}

fn parse(raw: &str) -> Option<Verification> {
    let s: Stored = serde_json::from_str(raw).ok()?;
    Some(Verification {
        id: s.id,
        identifier: s.identifier,
        value: s.value,
        expires_at: s.expires_at,
        created_at: s.created_at,
    })
}
