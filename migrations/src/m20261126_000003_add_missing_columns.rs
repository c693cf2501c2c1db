//! Databases made by older Better Auth versions lack columns that came later (the jwt
//! plugin's `jwks.expiresAt` in 1.4, `jwks.alg`/`jwks.crv` in 1.7). Like upstream's
//! migrator, add each missing column with the type the current DDL gives it; never rename,
//! alter or drop anything. A missing column that is required and has no default cannot be
//! filled in for existing rows: that is refused with a message instead of guessed.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::m20261126_000001_better_auth_core::{POSTGRES, SQLITE};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000003_add_missing_columns"
    }
}

/// A column of the DDL: table, quoted-name-free column name, and the rest of its definition.
#[derive(Debug, PartialEq)]
struct ColumnDef<'a> {
    table: &'a str,
    name: &'a str,
    definition: &'a str,
}

/// The columns of every `create table` in a DDL script (ours: one column per `, "`).
fn columns(script: &str) -> Vec<ColumnDef<'_>> {
    let mut out = Vec::new();
    for statement in script.split(';') {
        let Some(rest) = statement
            .trim()
            .strip_prefix("create table if not exists \"")
        else {
            continue;
        };
        let (Some((table, _)), Some(open), Some(close)) =
            (rest.split_once('"'), rest.find('('), rest.rfind(')'))
        else {
            continue;
        };
        for column in rest[open + 1..close].split(", \"") {
            let column = column.trim_start_matches('"');
            if let Some((name, definition)) = column.split_once("\" ") {
                out.push(ColumnDef {
                    table,
                    name,
                    definition,
                });
            }
        }
    }
    out
}

/// Whether `alter table add column` can give existing rows a value: nullable, or defaulted.
fn addable(definition: &str) -> bool {
    !definition.contains("not null") || definition.contains("default")
}

async fn existing_columns(
    db: &SchemaManagerConnection<'_>,
    backend: DbBackend,
    table: &str,
) -> Result<Vec<String>, DbErr> {
    let stmt = match backend {
        DbBackend::Postgres => Statement::from_sql_and_values(
            backend,
            "select column_name as name from information_schema.columns
             where table_schema = current_schema() and table_name = $1",
            [table.into()],
        ),
        _ => Statement::from_sql_and_values(
            backend,
            "select name from pragma_table_info(?)",
            [table.into()],
        ),
    };
    db.query_all_raw(stmt)
        .await?
        .iter()
        .map(|row| row.try_get::<String>("", "name"))
        .collect()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let backend = manager.get_database_backend();
        let script = if backend == DbBackend::Postgres {
            POSTGRES
        } else {
            SQLITE
        };
        let defs = columns(script);
        let mut tables: Vec<&str> = defs.iter().map(|d| d.table).collect();
        tables.dedup();
        for table in tables {
            let existing = existing_columns(db, backend, table).await?;
            for def in defs.iter().filter(|d| d.table == table) {
                if existing.iter().any(|c| c == def.name) {
                    continue;
                }
                if !addable(def.definition) {
                    return Err(DbErr::Migration(format!(
                        "table \"{table}\" has no column \"{}\", which is required and has no \
                         default: add it (`{}`) with a value for every row, then run the \
                         migration again",
                        def.name, def.definition
                    )));
                }
                tracing::info!(
                    "adding the missing column \"{table}\".\"{}\" {}",
                    def.name,
                    def.definition
                );
                db.execute_unprepared(&format!(
                    "alter table \"{table}\" add column \"{}\" {}",
                    def.name, def.definition
                ))
                .await?;
            }
        }
        Ok(())
    }

    /// Columns added here belong to the schema from now on: going down removes nothing.
    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_column_of_both_scripts() {
        for script in [POSTGRES, SQLITE] {
            let defs = columns(script);
            let jwks: Vec<_> = defs
                .iter()
                .filter(|d| d.table == "jwks")
                .map(|d| d.name)
                .collect();
            assert_eq!(
                jwks,
                [
                    "id",
                    "publicKey",
                    "privateKey",
                    "createdAt",
                    "expiresAt",
                    "alg",
                    "crv"
                ]
            );
            assert_eq!(defs.iter().filter(|d| d.table == "account").count(), 13);
            assert!(defs.iter().any(
                |d| d.name == "userId" && d.definition.contains("references \"user\" (\"id\")")
            ));
        }
    }

    #[test]
    fn only_nullable_or_defaulted_columns_are_added() {
        let pg = columns(POSTGRES);
        let find = |t: &str, c: &str| {
            pg.iter()
                .find(|d| d.table == t && d.name == c)
                .map(|d| addable(d.definition))
        };
        assert_eq!(find("jwks", "alg"), Some(true));
        assert_eq!(find("jwks", "expiresAt"), Some(true));
        assert_eq!(find("user", "createdAt"), Some(true));
        assert_eq!(find("user", "email"), Some(false));
        assert_eq!(find("session", "userId"), Some(false));
    }
}
