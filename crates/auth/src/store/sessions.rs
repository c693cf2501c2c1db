//! The `session` table.

use sea_orm::{ConnectionTrait, DbErr, QueryResult};
use serde_json::{Map, Value};

use super::{codec, users, Store};

table_view! {
    /// The `session` table; the endpoints reach it only through `SessionStore`.
    pub(super) struct SessionRows; session_rows
}
use crate::models::{Session, SessionWithUser, Timestamp};

/// The core columns, in upstream's order; the declared fields follow them.
pub(crate) const CORE_COLUMNS: [&str; 8] = [
    "id",
    "expiresAt",
    "token",
    "createdAt",
    "updatedAt",
    "ipAddress",
    "userAgent",
    "userId",
];

fn from_row(store: &Store, row: &QueryResult) -> Result<Session, DbErr> {
    let b = store.backend();
    let (extra, hidden) = store.read_extra(&store.schema().session, row, "")?;
    Ok(Session {
        extra,
        hidden,
        id: row.try_get("", "id")?,
        expires_at: codec::read_time(b, row, "expiresAt")?,
        token: row.try_get("", "token")?,
        created_at: codec::read_time(b, row, "createdAt")?,
        updated_at: codec::read_time(b, row, "updatedAt")?,
        ip_address: row.try_get("", "ipAddress")?,
        user_agent: row.try_get("", "userAgent")?,
        user_id: row.try_get("", "userId")?,
    })
}

impl SessionRows<'_> {
    pub(super) async fn create(&self, session: &Session) -> Result<(), DbErr> {
        self.session_rows().insert(self.connection(), session).await
    }

    pub(super) async fn insert<C: ConnectionTrait>(
        &self,
        conn: &C,
        s: &Session,
    ) -> Result<(), DbErr> {
        let b = self.backend();
        let mut values = vec![
            s.id.clone().into(),
            codec::time(b, s.expires_at),
            s.token.clone().into(),
            codec::time(b, s.created_at),
            codec::time(b, s.updated_at),
            s.ip_address.clone().into(),
            s.user_agent.clone().into(),
            s.user_id.clone().into(),
        ];
        values.extend(self.extra_values(&self.schema().session, &s.extra, &s.hidden));
        let sql = format!(
            r#"insert into "session" ({}) values ({})"#,
            self.columns.session,
            super::placeholders(values.len())
        );
        conn.execute_raw(self.stmt(&sql, values)).await?;
        Ok(())
    }

    /// The sessions with these tokens and their users, in one query. Lookups go through
    /// `find_session_with_user`, which batches concurrent requests into this.
    pub(super) async fn find_with_users(
        &self,
        tokens: &[&str],
    ) -> Result<Vec<SessionWithUser>, DbErr> {
        let placeholders: Vec<String> = (1..=tokens.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            r#"select {} from "session" s join "user" u on u."id" = s."userId"
            where s."token" in ({})"#,
            self.columns.joined,
            placeholders.join(", ")
        );
        let values = tokens.iter().map(|t| (*t).into()).collect();
        let rows = self
            .connection()
            .query_all_raw(self.stmt(&sql, values))
            .await?;
        rows.iter()
            .map(|r| {
                Ok(SessionWithUser {
                    session: from_row(self.0, r)?,
                    user: users::from_row(self.0, r, "u_")?,
                })
            })
            .collect()
    }

    pub(super) async fn delete(&self, token: &str) -> Result<(), DbErr> {
        self.connection()
            .execute_raw(self.stmt(
                r#"delete from "session" where "token" = $1"#,
                vec![token.into()],
            ))
            .await?;
        Ok(())
    }

    /// Writes declared fields of a session and `updatedAt`; false when it no longer exists.
    pub(super) async fn update_fields(
        &self,
        token: &str,
        fields: &Map<String, Value>,
        now: Timestamp,
    ) -> Result<bool, DbErr> {
        let b = self.backend();
        let columns = self
            .schema()
            .session
            .iter()
            .filter_map(|field| {
                let value = fields.get(&field.name)?;
                Some((field.name.as_str(), crate::schema::encode(b, field, value)))
            })
            .collect();
        self.update_row("session", ("token", token.into()), columns, now)
            .await
    }

    /// Extends a session; false when it no longer exists.
    pub(super) async fn refresh(
        &self,
        token: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<bool, DbErr> {
        let columns = vec![("expiresAt", codec::time(self.backend(), expires_at))];
        self.update_row("session", ("token", token.into()), columns, now)
            .await
    }

    /// A user's sessions, oldest first.
    pub(super) async fn list_for_user(&self, user_id: &str) -> Result<Vec<Session>, DbErr> {
        let rows = self
            .connection()
            .query_all_raw(self.stmt(
                &format!(
                    r#"select {} from "session" where "userId" = $1 order by "createdAt""#,
                    self.columns.session
                ),
                vec![user_id.into()],
            ))
            .await?;
        rows.iter().map(|r| from_row(self.0, r)).collect()
    }

    pub async fn delete_all_of_user<C: ConnectionTrait>(
        &self,
        conn: &C,
        user_id: &str,
    ) -> Result<(), DbErr> {
        conn.execute_raw(self.stmt(
            r#"delete from "session" where "userId" = $1"#,
            vec![user_id.into()],
        ))
        .await?;
        Ok(())
    }

    /// Signs a user out everywhere except the session with `keep_token`.
    pub(super) async fn delete_others(&self, user_id: &str, keep_token: &str) -> Result<(), DbErr> {
        self.connection()
            .execute_raw(self.stmt(
                r#"delete from "session" where "userId" = $1 and "token" <> $2"#,
                vec![user_id.into(), keep_token.into()],
            ))
            .await?;
        Ok(())
    }

    /// Deletes the session with `token` only if it belongs to `user_id`.
    pub(super) async fn delete_of_user(&self, token: &str, user_id: &str) -> Result<(), DbErr> {
        self.connection()
            .execute_raw(self.stmt(
                r#"delete from "session" where "token" = $1 and "userId" = $2"#,
                vec![token.into(), user_id.into()],
            ))
            .await?;
        Ok(())
    }
}
