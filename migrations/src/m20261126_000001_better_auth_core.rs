//! `user`, `session`, `account`, `verification`, `jwks`: Better Auth's core tables and the
//! jwt plugin's key table.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

pub(crate) const POSTGRES: &str = include_str!("sql/postgres.sql");
pub(crate) const SQLITE: &str = include_str!("sql/sqlite.sql");

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000001_better_auth_core"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let script = match manager.get_database_backend() {
            DbBackend::Postgres => POSTGRES,
            DbBackend::Sqlite => SQLITE,
            other => {
                return Err(DbErr::Migration(format!(
                    "unsupported database backend {other:?}: use PostgreSQL or SQLite"
                )))
            }
        };
        crate::run_script(db, script).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        crate::run_script(
            db,
            r#"drop table if exists "jwks"; drop table if exists "verification";
               drop table if exists "account"; drop table if exists "session";
               drop table if exists "user";"#,
        )
        .await
    }
}
