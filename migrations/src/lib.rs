//! The database schema, identical to what Better Auth's own migrator creates.
//!
//! The DDL in `sql/` is the DDL the real `better-auth` package (1.7.25, the version pinned in
//! `../shared/bench/reference`) generates for PostgreSQL and SQLite: same tables, camelCase
//! columns, types, nullability, defaults, indexes and foreign keys. Statements use
//! `if not exists` so that running our migrations on a database Better Auth already created
//! changes nothing; on a database from an older Better Auth, `add_missing_columns` adds the
//! columns that came later.

pub use sea_orm_migration::prelude::*;

mod m20261126_000001_better_auth_core;
mod m20261126_000002_rate_limit;
mod m20261126_000003_add_missing_columns;

pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000001_better_auth_core::Migration),
            Box::new(m20261126_000002_rate_limit::Migration),
            Box::new(m20261126_000003_add_missing_columns::Migration),
        ]
    }
}

/// Runs a file of `;`-terminated statements one by one (SQLite executes only the first
/// statement of a multi-statement string through a prepared call).
async fn run_script(db: &SchemaManagerConnection<'_>, script: &str) -> Result<(), DbErr> {
    for statement in script.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        db.execute_unprepared(statement).await?;
    }
    Ok(())
}
