//! The `jwks` table (jwt plugin): signing keys, public JWK JSON and encrypted private JWK.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, QueryResult, TransactionTrait};

use super::{codec, Store};
use crate::models::Timestamp;

table_view! {
    /// The `jwks` table: JWT signing keys.
    pub struct Jwks; jwks
}

/// A row as stored; `privateKey` stays encrypted here.
#[derive(Debug, Clone)]
pub struct JwkRow {
    pub id: String,
    pub public_key: String,
    pub private_key: String,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub alg: Option<String>,
    pub crv: Option<String>,
}

impl JwkRow {
    /// Usable for signing: no expiry, or one in the future.
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.expires_at.is_none_or(|e| e > now)
    }

    /// When the key leaves `/jwks`: `expiresAt + gracePeriod` (never without an expiry).
    pub fn published_until(&self, grace_seconds: i64) -> Option<Timestamp> {
        self.expires_at.map(|e| e.plus_seconds(grace_seconds))
    }

    /// Still listed at `/jwks`, so tokens it signed still verify.
    pub fn is_published(&self, now: Timestamp, grace_seconds: i64) -> bool {
        self.published_until(grace_seconds)
            .is_none_or(|end| end > now)
    }
}

/// Arbitrary constant for `pg_advisory_xact_lock`: serialises key creation across processes.
const KEY_CREATION_LOCK: i64 = 0x6261_6a77_6b73; // "bajwks"

fn from_row(store: &Store, row: &QueryResult) -> Result<JwkRow, DbErr> {
    let b = store.backend();
    Ok(JwkRow {
        id: row.try_get("", "id")?,
        public_key: row.try_get("", "publicKey")?,
        private_key: row.try_get("", "privateKey")?,
        created_at: codec::read_time(b, row, "createdAt")?,
        expires_at: codec::read_opt_time(b, row, "expiresAt")?,
        alg: row.try_get("", "alg")?,
        crv: row.try_get("", "crv")?,
    })
}

impl Jwks<'_> {
    /// On PostgreSQL, serialises key creation across processes until `tx` ends. (SQLite
    /// needs nothing: one writer at a time, and each of our writes is one statement.)
    async fn lock_key_creation<C: ConnectionTrait>(&self, tx: &C) -> Result<(), DbErr> {
        if self.backend() == DbBackend::Postgres {
            tx.execute_raw(self.stmt(
                "select pg_advisory_xact_lock($1)",
                vec![KEY_CREATION_LOCK.into()],
            ))
            .await?;
        }
        Ok(())
    }

    /// Every key, newest first.
    pub async fn list(&self) -> Result<Vec<JwkRow>, DbErr> {
        let rows = self
            .connection()
            .query_all_raw(self.stmt(
                r#"select "id", "publicKey", "privateKey", "createdAt", "expiresAt", "alg", "crv"
                   from "jwks" order by "createdAt" desc"#,
                vec![],
            ))
            .await?;
        rows.iter().map(|r| from_row(self.0, r)).collect()
    }

    fn insert_values(&self, key: &JwkRow) -> Vec<sea_orm::Value> {
        let b = self.backend();
        vec![
            key.id.clone().into(),
            key.public_key.clone().into(),
            key.private_key.clone().into(),
            codec::time(b, key.created_at),
            codec::opt_time(b, key.expires_at),
            key.alg.clone().into(),
            key.crv.clone().into(),
        ]
    }

    /// Inserts `key` only if no live key exists, atomically across processes sharing the
    /// database: one key, not two, when several servers start at once. Returns whether
    /// this call inserted.
    pub async fn insert_if_none_live(&self, key: &JwkRow, now: Timestamp) -> Result<bool, DbErr> {
        let b = self.backend();
        let tx = self.connection().begin().await?;
        self.jwks().lock_key_creation(&tx).await?;
        // On SQLite one statement holds the write lock from its read to its write.
        let mut values = self.jwks().insert_values(key);
        values.push(codec::time(b, now));
        let inserted = tx
            .execute_raw(self.stmt(
                r#"insert into "jwks" ("id", "publicKey", "privateKey", "createdAt", "expiresAt", "alg", "crv")
                   select $1, $2, $3, $4, $5, $6, $7
                   where not exists (select 1 from "jwks" where "expiresAt" is null or "expiresAt" > $8)"#,
                values,
            ))
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(inserted > 0)
    }

    /// Rotation: retire every live key now (they stay published for the grace period) and
    /// add `key` as the new signing key, in one transaction.
    pub async fn rotate(&self, key: &JwkRow, now: Timestamp) -> Result<(), DbErr> {
        let b = self.backend();
        let tx = self.connection().begin().await?;
        self.jwks().lock_key_creation(&tx).await?;
        tx.execute_raw(self.stmt(
            r#"update "jwks" set "expiresAt" = $1 where "expiresAt" is null or "expiresAt" > $1"#,
            vec![codec::time(b, now)],
        ))
        .await?;
        tx.execute_raw(self.stmt(
            r#"insert into "jwks" ("id", "publicKey", "privateKey", "createdAt", "expiresAt", "alg", "crv")
               values ($1, $2, $3, $4, $5, $6, $7)"#,
            self.jwks().insert_values(key),
        ))
        .await?;
        tx.commit().await
    }
}
