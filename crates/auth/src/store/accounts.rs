//! The `account` table: credential (email + password) accounts and provider accounts
//! (social sign-in, linking, token storage).

use sea_orm::{ConnectionTrait, DbErr, QueryResult, Value};

use super::codec;
use crate::crypto::random;
use crate::models::{Timestamp, User};

table_view! {
    /// The `account` table.
    pub struct Accounts; accounts
}

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

impl Accounts<'_> {
    /// A user's credential account (`providerId = "credential"`), if any.
    pub async fn find_credential(&self, user_id: &str) -> Result<Option<CredentialAccount>, DbErr> {
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

    pub async fn update_password(&self, account_id: &str, hash: &str) -> Result<(), DbErr> {
        self.update_password_in(self.connection(), account_id, hash)
            .await
    }

    /// `update_password` inside a transaction.
    pub(super) async fn update_password_in<C: ConnectionTrait>(
        &self,
        conn: &C,
        account_id: &str,
        hash: &str,
    ) -> Result<(), DbErr> {
        let b = self.backend();
        conn.execute_raw(self.stmt(
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

    pub(super) async fn insert_credential<C: ConnectionTrait>(
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

impl Accounts<'_> {
    /// A new password for a user: the credential account's hash is replaced, or a
    /// credential account is created when the user has none (password reset, as upstream).
    pub async fn set_password<C: ConnectionTrait>(
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
            self.accounts()
                .insert_credential(conn, &now_user, hash)
                .await?;
        }
        Ok(())
    }
}

/// An account row as upstream's adapter returns it (and, in stateless mode, as the
/// `account_data` cookie carries it).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    pub id: String,
    pub account_id: String,
    pub provider_id: String,
    pub user_id: String,
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
    pub access_token_expires_at: Option<Timestamp>,
    pub refresh_token_expires_at: Option<Timestamp>,
    pub scope: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Only when the database has the column (Better Auth 1.7.0-1.7.2 schemas).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
}

/// Token columns written by a sign-in or a link; `None` leaves a column as it is on update.
#[derive(Debug, Clone, Default)]
pub struct TokenUpdate {
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
    pub access_token_expires_at: Option<Timestamp>,
    pub refresh_token_expires_at: Option<Timestamp>,
    pub scope: Option<String>,
}

const COLUMNS: &str = r#""id", "accountId", "providerId", "userId", "accessToken", "refreshToken",
    "idToken", "accessTokenExpiresAt", "refreshTokenExpiresAt", "scope", "createdAt", "updatedAt""#;

impl Accounts<'_> {
    fn columns(&self) -> String {
        if self.account_has_issuer {
            format!(r#"{COLUMNS}, "issuer""#)
        } else {
            COLUMNS.to_owned()
        }
    }

    fn read_row(&self, r: &QueryResult) -> Result<Account, DbErr> {
        let b = self.backend();
        Ok(Account {
            id: r.try_get("", "id")?,
            account_id: r.try_get("", "accountId")?,
            provider_id: r.try_get("", "providerId")?,
            user_id: r.try_get("", "userId")?,
            access_token: r.try_get("", "accessToken")?,
            refresh_token: r.try_get("", "refreshToken")?,
            id_token: r.try_get("", "idToken")?,
            access_token_expires_at: codec::read_opt_time(b, r, "accessTokenExpiresAt")?,
            refresh_token_expires_at: codec::read_opt_time(b, r, "refreshTokenExpiresAt")?,
            scope: r.try_get("", "scope")?,
            created_at: codec::read_time(b, r, "createdAt")?,
            updated_at: codec::read_time(b, r, "updatedAt")?,
            issuer: if self.account_has_issuer {
                r.try_get("", "issuer")?
            } else {
                None
            },
        })
    }

    /// The account a provider identity belongs to (`providerId`, `accountId`).
    pub async fn find_by_key(
        &self,
        provider_id: &str,
        account_id: &str,
    ) -> Result<Option<Account>, DbErr> {
        let sql = format!(
            r#"select {} from "account" where "providerId" = $1 and "accountId" = $2
               order by "createdAt" limit 1"#,
            self.accounts().columns()
        );
        let row = self
            .connection()
            .query_one_raw(self.stmt(&sql, vec![provider_id.into(), account_id.into()]))
            .await?;
        row.map(|r| self.read_row(&r)).transpose()
    }

    /// Every account of a user, oldest first.
    pub async fn list_for_user(&self, user_id: &str) -> Result<Vec<Account>, DbErr> {
        let sql = format!(
            r#"select {} from "account" where "userId" = $1 order by "createdAt", "id""#,
            self.accounts().columns()
        );
        let rows = self
            .connection()
            .query_all_raw(self.stmt(&sql, vec![user_id.into()]))
            .await?;
        rows.iter().map(|r| self.read_row(r)).collect()
    }

    pub(super) async fn insert<C: ConnectionTrait>(
        &self,
        conn: &C,
        account: &Account,
    ) -> Result<(), DbErr> {
        let b = self.backend();
        let mut values = vec![
            account.id.clone().into(),
            account.account_id.clone().into(),
            account.provider_id.clone().into(),
            account.user_id.clone().into(),
            account.access_token.clone().into(),
            account.refresh_token.clone().into(),
            account.id_token.clone().into(),
            codec::opt_time(self.backend(), account.access_token_expires_at),
            codec::opt_time(self.backend(), account.refresh_token_expires_at),
            account.scope.clone().into(),
            codec::time(b, account.created_at),
            codec::time(b, account.updated_at),
        ];
        let placeholders = if self.account_has_issuer {
            values.push(account.issuer.clone().into());
            "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13"
        } else {
            "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12"
        };
        let sql = format!(
            r#"insert into "account" ({}) values ({placeholders})"#,
            self.accounts().columns()
        );
        conn.execute_raw(self.stmt(&sql, values)).await?;
        Ok(())
    }

    /// A new provider account for an existing user.
    pub async fn create(&self, account: &Account) -> Result<(), DbErr> {
        self.accounts().insert(self.connection(), account).await
    }

    /// Writes the given token columns (and `updatedAt`); the others stay.
    pub async fn update_tokens(&self, id: &str, update: &TokenUpdate) -> Result<(), DbErr> {
        let b = self.backend();
        let mut sets: Vec<String> = Vec::new();
        let mut values: Vec<Value> = Vec::new();
        let mut push = |col: &str, v: Value| {
            values.push(v);
            sets.push(format!(r#""{col}" = ${}"#, values.len()));
        };
        if let Some(v) = &update.access_token {
            push("accessToken", v.clone().into());
        }
        if let Some(v) = &update.refresh_token {
            push("refreshToken", v.clone().into());
        }
        if let Some(v) = &update.id_token {
            push("idToken", v.clone().into());
        }
        if let Some(v) = update.access_token_expires_at {
            push("accessTokenExpiresAt", codec::time(b, v));
        }
        if let Some(v) = update.refresh_token_expires_at {
            push("refreshTokenExpiresAt", codec::time(b, v));
        }
        if let Some(v) = &update.scope {
            push("scope", v.clone().into());
        }
        push("updatedAt", codec::time(b, Timestamp::now()));
        values.push(id.into());
        let sql = format!(
            r#"update "account" set {} where "id" = ${}"#,
            sets.join(", "),
            values.len()
        );
        self.connection()
            .execute_raw(self.stmt(&sql, values))
            .await?;
        Ok(())
    }

    pub async fn delete(&self, id: &str) -> Result<(), DbErr> {
        self.connection()
            .execute_raw(self.stmt(r#"delete from "account" where "id" = $1"#, vec![id.into()]))
            .await?;
        Ok(())
    }
}
