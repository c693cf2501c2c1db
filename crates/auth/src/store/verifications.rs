//! The `verification` table: single-use tokens (password reset `reset-password:<token>`,
//! account deletion `delete-account-<token>`), with identifiers and values as Better Auth
//! writes them so that a TypeScript server sharing the database honours ours and back.

use sea_orm::{ConnectionTrait, DbErr, QueryResult};

use super::{codec, Store};
use crate::crypto::random;
use crate::models::Timestamp;

table_view! {
    /// The `verification` table; the endpoints reach it through `VerificationStore`.
    pub(super) struct VerificationRows; verification_rows
}

#[derive(Debug, Clone)]
pub struct Verification {
    pub id: String,
    pub identifier: String,
    pub value: String,
    pub expires_at: Timestamp,
    pub created_at: Timestamp,
}

fn from_row(store: &Store, row: &QueryResult) -> Result<Verification, DbErr> {
    let b = store.backend();
    Ok(Verification {
        id: row.try_get("", "id")?,
        identifier: row.try_get("", "identifier")?,
        value: row.try_get("", "value")?,
        expires_at: codec::read_time(b, row, "expiresAt")?,
        created_at: codec::read_time(b, row, "createdAt")?,
    })
}

const COLUMNS: &str = r#""id", "identifier", "value", "expiresAt", "createdAt""#;

impl VerificationRows<'_> {
    pub(super) async fn create(
        &self,
        identifier: &str,
        value: &str,
        expires_at: Timestamp,
    ) -> Result<(), DbErr> {
        let b = self.backend();
        let now = Timestamp::now();
        self.connection()
            .execute_raw(self.stmt(
                r#"insert into "verification" ("id", "identifier", "value", "expiresAt", "createdAt", "updatedAt")
                   values ($1, $2, $3, $4, $5, $6)"#,
                vec![
                    random::id().into(),
                    identifier.into(),
                    value.into(),
                    codec::time(b, expires_at),
                    codec::time(b, now),
                    codec::time(b, now),
                ],
            ))
            .await?;
        Ok(())
    }

    /// The newest row for `identifier`, expired or not (the caller decides), without using it.
    pub(super) async fn find(&self, identifier: &str) -> Result<Option<Verification>, DbErr> {
        let row = self
            .connection()
            .query_one_raw(self.stmt(
                &format!(
                    r#"select {COLUMNS} from "verification" where "identifier" = $1
                       order by "createdAt" desc limit 1"#
                ),
                vec![identifier.into()],
            ))
            .await?;
        row.map(|r| from_row(self.0, &r)).transpose()
    }

    /// Uses up `identifier`: deletes every row for it in one statement and returns the
    /// newest if it had not expired. Of concurrent callers only one gets it (the delete
    /// is the gate), so a token works once.
    pub(super) async fn consume<C: ConnectionTrait>(
        &self,
        conn: &C,
        identifier: &str,
    ) -> Result<Option<Verification>, DbErr> {
        let rows = conn
            .query_all_raw(self.stmt(
                &format!(
                    r#"delete from "verification" where "identifier" = $1 returning {COLUMNS}"#
                ),
                vec![identifier.into()],
            ))
            .await?;
        let mut newest: Option<Verification> = None;
        for row in &rows {
            let v = from_row(self.0, row)?;
            if newest.as_ref().is_none_or(|n| v.created_at > n.created_at) {
                newest = Some(v);
            }
        }
        Ok(newest.filter(|v| v.expires_at >= Timestamp::now()))
    }
}
