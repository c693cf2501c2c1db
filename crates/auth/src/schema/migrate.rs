//! Migrations of the enabled plugins and of the additional fields, after the core ones.
//!
//! Each plugin's schema is one named migration, applied when the plugin is enabled (at
//! `migrate up` and at `serve`) and recorded in `seaql_migrations_plugins` (the core
//! migrator's own table refuses names it does not know), with the time applied in
//! milliseconds. Every step checks what exists
//! first, as upstream's migrator does, so a database the TypeScript server already
//! migrated with the same plugins is left as it is. Disabling a plugin drops nothing;
//! `migrate down` undoes the recorded plugin migrations, newest first, before the core.
//!
//! Additional fields come from the configuration and can change at any start, so they are
//! not recorded: every `migrate up` adds the configured columns that are missing.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, TransactionSession, TransactionTrait};

use super::{ddl, Field, SchemaPart, Table};
use crate::store::stmt;

const RECORD_TABLE: &str = "seaql_migrations_plugins";

/// One named change of the schema.
#[derive(Clone, Debug)]
pub struct SchemaMigration {
    pub name: String,
    pub part: SchemaPart,
}

/// Where a migration stands in a database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub name: String,
    pub applied: bool,
}

/// The column names of `table` (none when it does not exist).
pub(crate) async fn columns(db: &impl ConnectionTrait, table: &str) -> Result<Vec<String>, DbErr> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Sqlite => r#"select name as "name" from pragma_table_info($1)"#,
        _ => {
            r#"select column_name::text as "name" from information_schema.columns
               where table_schema = current_schema() and table_name = $1"#
        }
    };
    let rows = db
        .query_all_raw(stmt(backend, sql, vec![table.into()]))
        .await?;
    rows.iter()
        .map(|r| r.try_get::<String>("", "name"))
        .collect()
}

/// Adds the fields a table lacks (with their indexes).
async fn add_fields(db: &impl ConnectionTrait, table: &str, fields: &[Field]) -> Result<(), DbErr> {
    if fields.is_empty() {
        return Ok(());
    }
    let backend = db.get_database_backend();
    let present = columns(db, table).await?;
    let added: Vec<&Field> = fields
        .iter()
        .filter(|f| !present.iter().any(|c| c == &f.name))
        .collect();
    for field in &added {
        db.execute_unprepared(&ddl::add_column(table, field, backend))
            .await?;
    }
    // As upstream: only the columns added now get their index (a table created with the
    // field has it as an inline constraint already).
    for index in added.iter().filter_map(|f| ddl::field_index(table, f)) {
        db.execute_unprepared(&index).await?;
    }
    Ok(())
}

/// Creates a table, or adds the columns a table of that name lacks.
async fn ensure_table(db: &impl ConnectionTrait, table: &Table) -> Result<(), DbErr> {
    if columns(db, &table.name).await?.is_empty() {
        for sql in ddl::create_table(table, db.get_database_backend()) {
            db.execute_unprepared(&sql).await?;
        }
        return Ok(());
    }
    add_fields(db, &table.name, &table.fields).await
}

/// Applies a schema part: its tables first (plugin columns may reference them), then the
/// columns of `user` and `session`.
pub async fn apply(db: &impl ConnectionTrait, part: &SchemaPart) -> Result<(), DbErr> {
    for table in &part.tables {
        ensure_table(db, table).await?;
    }
    add_fields(db, "user", &part.user).await?;
    add_fields(db, "session", &part.session).await
}

/// Undoes a schema part: drops its tables and columns (SQLite 3.35+ drops columns; an
/// indexed column loses its index first).
async fn revert(db: &impl ConnectionTrait, part: &SchemaPart) -> Result<(), DbErr> {
    for (table, fields) in [("session", &part.session), ("user", &part.user)] {
        let present = columns(db, table).await?;
        for field in fields.iter().rev() {
            if field.unique || field.index {
                let name = ddl::index_name(table, &field.name, field.unique);
                db.execute_unprepared(&format!(r#"drop index if exists "{name}""#))
                    .await?;
            }
            if present.iter().any(|c| c == &field.name) {
                db.execute_unprepared(&format!(
                    r#"alter table "{table}" drop column "{}""#,
                    field.name
                ))
                .await?;
            }
        }
    }
    for table in part.tables.iter().rev() {
        db.execute_unprepared(&format!(r#"drop table if exists "{}""#, table.name))
            .await?;
    }
    Ok(())
}

async fn ensure_record_table(db: &impl ConnectionTrait) -> Result<(), DbErr> {
    db.execute_unprepared(&format!(
        r#"create table if not exists "{RECORD_TABLE}" ("version" text not null primary key, "applied_at" bigint not null)"#
    ))
    .await?;
    Ok(())
}

async fn applied(db: &impl ConnectionTrait) -> Result<Vec<String>, DbErr> {
    ensure_record_table(db).await?;
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(Statement::from_string(
            backend,
            format!(r#"select "version" from "{RECORD_TABLE}" order by "applied_at", "version""#),
        ))
        .await?;
    rows.iter()
        .map(|r| r.try_get::<String>("", "version"))
        .collect()
}

/// The declared columns of `part` that the database lacks, as `table.column`.
pub async fn missing_fields(
    db: &impl ConnectionTrait,
    part: &SchemaPart,
) -> Result<Vec<String>, DbErr> {
    let mut out = Vec::new();
    for (table, fields) in [("user", &part.user), ("session", &part.session)] {
        if fields.is_empty() {
            continue;
        }
        let present = columns(db, table).await?;
        out.extend(
            fields
                .iter()
                .filter(|f| !present.contains(&f.name))
                .map(|f| format!("{table}.{}", f.name)),
        );
    }
    Ok(out)
}

/// Applies the migrations not yet recorded, in order, then the additional fields. Each
/// migration and its record are one transaction (a savepoint inside the caller's on
/// PostgreSQL): a step that fails leaves none of that migration's columns behind, on SQLite
/// too, whose DDL is transactional as well.
pub async fn up(
    db: &(impl ConnectionTrait + TransactionTrait),
    migrations: &[SchemaMigration],
    additional: &SchemaPart,
) -> Result<(), DbErr> {
    let done = applied(db).await?;
    let backend = db.get_database_backend();
    // Milliseconds, kept increasing so that `down` undoes in the order applied.
    let row = db
        .query_one_raw(Statement::from_string(
            backend,
            format!(r#"select cast(max("applied_at") as bigint) as "last" from "{RECORD_TABLE}""#),
        ))
        .await?;
    let mut last: i64 = row
        .and_then(|r| r.try_get::<Option<i64>>("", "last").ok().flatten())
        .unwrap_or(0);
    for m in migrations.iter().filter(|m| !done.contains(&m.name)) {
        last = chrono::Utc::now().timestamp_millis().max(last + 1);
        let tx = db.begin().await?;
        apply(&tx, &m.part).await?;
        tx.execute_raw(stmt(
            backend,
            &format!(r#"insert into "{RECORD_TABLE}" values ($1, $2)"#),
            vec![m.name.clone().into(), last.into()],
        ))
        .await?;
        tx.commit().await?;
    }
    let tx = db.begin().await?;
    apply(&tx, additional).await?;
    tx.commit().await
}

/// Undoes up to `steps` recorded migrations, newest first; the number undone.
pub async fn down(
    db: &(impl ConnectionTrait + TransactionTrait),
    migrations: &[SchemaMigration],
    steps: usize,
) -> Result<usize, DbErr> {
    let done = applied(db).await?;
    let backend = db.get_database_backend();
    let mut undone = 0;
    for name in done.iter().rev().take(steps) {
        let Some(m) = migrations.iter().find(|m| &m.name == name) else {
            return Err(DbErr::Migration(format!(
                "plugin migration {name} is recorded but its plugin is not enabled; enable it to undo it"
            )));
        };
        let tx = db.begin().await?;
        revert(&tx, &m.part).await?;
        tx.execute_raw(stmt(
            backend,
            &format!(r#"delete from "{RECORD_TABLE}" where "version" = $1"#),
            vec![name.clone().into()],
        ))
        .await?;
        tx.commit().await?;
        undone += 1;
    }
    Ok(undone)
}

/// Every enabled plugin's migration and whether it is applied; recorded migrations of
/// plugins not enabled now are listed too.
pub async fn status(
    db: &impl ConnectionTrait,
    migrations: &[SchemaMigration],
) -> Result<Vec<Status>, DbErr> {
    let done = applied(db).await?;
    let mut out: Vec<Status> = migrations
        .iter()
        .map(|m| Status {
            name: m.name.clone(),
            applied: done.contains(&m.name),
        })
        .collect();
    for name in done {
        if !out.iter().any(|s| s.name == name) {
            out.push(Status {
                name,
                applied: true,
            });
        }
    }
    Ok(out)
}
