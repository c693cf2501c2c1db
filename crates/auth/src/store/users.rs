//! The `user` table.

use sea_orm::{ConnectionTrait, DbErr, QueryResult, TransactionTrait};
use serde_json::{Map, Value};

use super::{codec, Store};
use crate::models::{Timestamp, User};

table_view! {
    /// The `user` table.
    pub struct Users; users
}

/// The core columns, in upstream's order; the declared fields follow them.
pub(crate) const CORE_COLUMNS: [&str; 7] = [
    "id",
    "name",
    "email",
    "emailVerified",
    "image",
    "createdAt",
    "updatedAt",
];

/// Reads a user from a row whose user columns carry `prefix` (`""` or `u_` in joins).
pub fn from_row(store: &Store, row: &QueryResult, prefix: &str) -> Result<User, DbErr> {
    let col = |name: &str| format!("{prefix}{name}");
    let b = store.backend();
    let (extra, hidden) = store.read_extra(&store.schema().user, row, prefix)?;
    Ok(User {
        extra,
        hidden,
        id: row.try_get("", &col("id"))?,
        name: row.try_get("", &col("name"))?,
        email: row.try_get("", &col("email"))?,
        email_verified: codec::read_bool(b, row, &col("emailVerified"))?,
        image: row.try_get("", &col("image"))?,
        created_at: codec::read_time(b, row, &col("createdAt"))?,
        updated_at: codec::read_time(b, row, &col("updatedAt"))?,
    })
}

impl Users<'_> {
    /// Email lookups use the lower-cased address, as Better Auth stores it.
    pub async fn find_by_email(&self, email: &str) -> Result<Option<User>, DbErr> {
        let sql = format!(
            r#"select {} from "user" where "email" = $1"#,
            self.columns.user
        );
        let row = self
            .connection()
            .query_one_raw(self.stmt(&sql, vec![email.into()]))
            .await?;
        row.map(|r| from_row(self.0, &r, "")).transpose()
    }

    /// A user without an account (anonymous sign-in).
    pub async fn create(&self, user: &User) -> Result<(), DbErr> {
        self.insert(self.connection(), user).await
    }

    pub(super) async fn insert<C: ConnectionTrait>(
        &self,
        conn: &C,
        user: &User,
    ) -> Result<(), DbErr> {
        let b = self.backend();
        let mut values = vec![
            user.id.clone().into(),
            user.name.clone().into(),
            user.email.clone().into(),
            codec::boolean(b, user.email_verified),
            user.image.clone().into(),
            codec::time(b, user.created_at),
            codec::time(b, user.updated_at),
        ];
        values.extend(self.extra_values(&self.schema().user, &user.extra, &user.hidden));
        let sql = format!(
            r#"insert into "user" ({}) values ({})"#,
            self.columns.user,
            super::placeholders(values.len())
        );
        conn.execute_raw(self.stmt(&sql, values)).await?;
        Ok(())
    }

    /// The user whose declared field `name` (a unique one, e.g. `username`) has `value`.
    pub async fn find_by_field(&self, name: &str, value: &Value) -> Result<Option<User>, DbErr> {
        let Some(field) = self.schema().user.iter().find(|f| f.name == name) else {
            return Ok(None);
        };
        let sql = format!(
            r#"select {} from "user" where "{}" = $1"#,
            self.columns.user, field.name
        );
        let value = crate::schema::encode(self.backend(), field, value);
        let row = self
            .connection()
            .query_one_raw(self.stmt(&sql, vec![value]))
            .await?;
        row.map(|r| from_row(self.0, &r, "")).transpose()
    }

    /// Writes `name`, `image` and declared fields of a user (and `updatedAt`); other keys
    /// are ignored. False when the user is gone.
    pub async fn update_fields(
        &self,
        id: &str,
        fields: &Map<String, Value>,
    ) -> Result<bool, DbErr> {
        let b = self.backend();
        let mut columns = Vec::new();
        for (name, value) in fields {
            let declared = self.schema().user.iter().find(|f| &f.name == name);
            match (name.as_str(), declared) {
                ("name" | "image", _) => columns.push((
                    name.as_str(),
                    sea_orm::Value::String(value.as_str().map(str::to_owned)),
                )),
                (_, Some(field)) => {
                    columns.push((field.name.as_str(), crate::schema::encode(b, field, value)))
                }
                _ => {}
            }
        }
        let updated = self
            .update_row("user", ("id", id.into()), columns, Timestamp::now())
            .await?;
        self.user_changed(id);
        Ok(updated)
    }

    pub async fn find_by_id(&self, id: &str) -> Result<Option<User>, DbErr> {
        let sql = format!(
            r#"select {} from "user" where "id" = $1"#,
            self.columns.user
        );
        let row = self
            .connection()
            .query_one_raw(self.stmt(&sql, vec![id.into()]))
            .await?;
        row.map(|r| from_row(self.0, &r, "")).transpose()
    }

    /// Writes the profile fields a user may change (name, image) and `updatedAt`.
    pub async fn update_profile(&self, user: &User) -> Result<(), DbErr> {
        let columns = vec![
            ("name", user.name.clone().into()),
            ("image", user.image.clone().into()),
        ];
        self.update_row(
            "user",
            ("id", user.id.clone().into()),
            columns,
            user.updated_at,
        )
        .await?;
        self.user_changed(&user.id);
        Ok(())
    }

    /// Sets the address and its verified flag; false when the user is gone.
    pub async fn update_email(&self, id: &str, email: &str, verified: bool) -> Result<bool, DbErr> {
        let columns = vec![
            ("email", email.into()),
            ("emailVerified", codec::boolean(self.backend(), verified)),
        ];
        let done = self
            .update_row("user", ("id", id.into()), columns, Timestamp::now())
            .await?;
        self.user_changed(id);
        Ok(done)
    }

    /// Marks the address as verified (a provider vouched for it).
    pub async fn set_email_verified(&self, user_id: &str) -> Result<(), DbErr> {
        let columns = vec![("emailVerified", codec::boolean(self.backend(), true))];
        self.update_row("user", ("id", user_id.into()), columns, Timestamp::now())
            .await?;
        self.user_changed(user_id);
        Ok(())
    }

    /// Deletes a user with its sessions and accounts, in one transaction.
    pub async fn delete(&self, id: &str) -> Result<(), DbErr> {
        let tx = self.connection().begin().await?;
        for table in ["session", "account", "user"] {
            let column = if table == "user" { "id" } else { "userId" };
            tx.execute_raw(self.stmt(
                &format!(r#"delete from "{table}" where "{column}" = $1"#),
                vec![id.into()],
            ))
            .await?;
        }
        tx.commit().await?;
        self.user_changed(id);
        Ok(())
    }
}
