//! `rateLimit`: the table Better Auth's migrator adds when `rateLimit.storage` is
//! `"database"` (same DDL on PostgreSQL and SQLite). We always create it so that switching
//! storage to `database`, or starting a second replica, needs no migration step.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000002_rate_limit"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_script(
            manager.get_connection(),
            r#"create table if not exists "rateLimit" ("id" text not null primary key, "key" text not null unique, "count" integer not null, "lastRequest" bigint not null)"#,
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_script(
            manager.get_connection(),
            r#"drop table if exists "rateLimit""#,
        )
        .await
    }
}
