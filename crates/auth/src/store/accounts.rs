//! The `account` table: here, the credential (email + password) accounts.

use sea_orm::{ConnectionTrait, DbErr, TransactionTrait};

use super::{codec, Store};
use crate::crypto::random;
use crate::models::{Session, Timestamp, User};

/// Better Auth's provider id for email + password accounts.
pub const CREDENTIAL_PROVIDER: &str = "credential";
/// The issuer newer Better Auth builds write for credential accounts.
const CREDENTIAL_ISSUER: &str = "local:credential";

/// The part of a credential account sign-in needs.
#[derive(Debug, Clone)]
pub struct CredentialAccount {
    pub id: String,
    pub password: Option<String>,
}

impl Store {
    /// A user's credential account (`providerId = "credential"`), if any.
    pub async fn find_credential_account(
        &self,
        user_id: &str,
    ) -> Result<Option<CredentialAccount>, DbErr> {
        let row = self
            .connection()
            .query_one_raw(self.stmt(
                r#"select "id", "password" from "account"
                   where "userId" = $1 and "providerId" = $2 order by "createdAt" limit 1"#,
                vec![user_id.into(), CREDENTIAL_PROVIDER.into()],
            ))
            .await?;
        row.map(|r| {
            Ok(CredentialAccount {
                id: r.try_get("", "id")?,
                password: r.try_get("", "password")?,
            })
        })
        .transpose()
    }

    pub async fn update_account_password(&self, account_id: &str, hash: &str) -> Result<(), DbErr> {
        let b = self.backend();
        self.connection()
            .execute_raw(self.stmt(
                r#"update "account" set "password" = $1, "updatedAt" = $2 where "id" = $3"#,
                vec![
                    hash.into(),
                    codec::time(b, Timestamp::now()),
                    account_id.into(),
                ],
            ))
            .await?;
        Ok(())
    }

    /// Sign-up in one transaction: the user, its credential account and, when signing in
    /// right away, the session. Either all rows exist afterwards or none does.
    pub async fn create_credential_user(
        &self,
        user: &User,
        password_hash: &str,
        session: Option<&Session>,
    ) -> Result<(), DbErr> {
        let tx = self.connection().begin().await?;
        self.insert_user(&tx, user).await?;
        self.insert_credential_account(&tx, user, password_hash)
            .await?;
        if let Some(session) = session {
            self.insert_session(&tx, session).await?;
        }
        tx.commit().await
    }

    async fn insert_credential_account<C: ConnectionTrait>(
        &self,
        conn: &C,
        user: &User,
        password_hash: &str,
    ) -> Result<(), DbErr> {
        let b = self.backend();
        let now = codec::time(b, user.created_at);
        let mut values = vec![
            random::id().into(),
            user.id.clone().into(),
            CREDENTIAL_PROVIDER.into(),
            user.id.clone().into(),
            password_hash.into(),
            now.clone(),
            now,
        ];
        let sql = if self.account_has_issuer {
            values.push(CREDENTIAL_ISSUER.into());
            r#"insert into "account" ("id", "accountId", "providerId", "userId", "password",
               "createdAt", "updatedAt", "issuer") values ($1, $2, $3, $4, $5, $6, $7, $8)"#
        } else {
            r#"insert into "account" ("id", "accountId", "providerId", "userId", "password",
               "createdAt", "updatedAt") values ($1, $2, $3, $4, $5, $6, $7)"#
        };
        conn.execute_raw(self.stmt(sql, values)).await?;
        Ok(())
    }
}

impl Store {
    /// A new password for a user: the credential account's hash is replaced, or a
    /// credential account is created when the user has none (password reset, as upstream).
    pub async fn set_credential_password<C: ConnectionTrait>(
        &self,
        conn: &C,
        user: &User,
        hash: &str,
    ) -> Result<(), DbErr> {
        let b = self.backend();
        let updated = conn
            .execute_raw(self.stmt(
                r#"update "account" set "password" = $1, "updatedAt" = $2
                   where "userId" = $3 and "providerId" = $4"#,
                vec![
                    hash.into(),
                    codec::time(b, Timestamp::now()),
                    user.id.clone().into(),
                    CREDENTIAL_PROVIDER.into(),
                ],
            ))
            .await?;
        if updated.rows_affected() == 0 {
            let mut now_user = user.clone();
            now_user.created_at = Timestamp::now();
            self.insert_credential_account(conn, &now_user, hash)
                .await?;
        }
        Ok(())
    }

    /// change-password with `revokeOtherSessions`: every session row goes, the password
    /// changes and one new session row is made (when sessions are kept in the table), all
    /// or nothing.
    pub async fn change_password_revoking_sessions(
        &self,
        account_id: &str,
        hash: &str,
        user_id: &str,
        new_session: Option<&Session>,
    ) -> Result<(), DbErr> {
        let tx = self.connection().begin().await?;
        self.delete_user_sessions(&tx, user_id).await?;
        tx.execute_raw(self.stmt(
            r#"update "account" set "password" = $1, "updatedAt" = $2 where "id" = $3"#,
            vec![
                hash.into(),
                codec::time(self.backend(), Timestamp::now()),
                account_id.into(),
            ],
        ))
        .await?;
        if let Some(session) = new_session {
            self.insert_session(&tx, session).await?;
        }
        tx.commit().await
    }
}
