//! The DDL upstream's migrator (`better-auth/db/get-migration.ts`, through Kysely) writes for
//! declared fields and tables, statement for statement, so that a database migrated by
//! either server has the same columns, types, defaults, indexes and foreign keys.
//!
//! - A field added to an existing table: `alter table "T" add column "F" <type>[ default
//!   <static default>][ not null][ references ...]`, and `create [unique ]index "T_F_uidx"`
//!   afterwards for unique (or `"T_F_idx"` for indexed) fields.
//! - A new table: `create table "T" ("id" text not null primary key, ...)` with unique
//!   constraints inline and non-unique indexes afterwards.

use sea_orm::DbBackend;
use serde_json::Value;

use super::{Field, FieldType, Table};

/// Upstream's `getType` for SQLite and PostgreSQL.
pub fn column_type(field: &Field, backend: DbBackend) -> &'static str {
    let pg = backend == DbBackend::Postgres;
    if field.references.as_ref().is_some_and(|r| r.column == "id") {
        return "text";
    }
    match field.ty {
        FieldType::String => "text",
        FieldType::Boolean if pg => "boolean",
        FieldType::Boolean => "integer",
        FieldType::Number if field.bigint => "bigint",
        FieldType::Number => "integer",
        FieldType::Date if pg => "timestamptz",
        FieldType::Date => "date",
        FieldType::Json | FieldType::StringArray | FieldType::NumberArray if pg => "jsonb",
        FieldType::Json | FieldType::StringArray | FieldType::NumberArray => "text",
    }
}

/// Upstream's `hasStaticColumnDefault`: only strings, numbers and booleans, and never on an
/// optional unique field.
fn static_default(field: &Field, backend: DbBackend) -> Option<String> {
    if field.unique && !field.required {
        return None;
    }
    match (field.ty, field.default.as_ref()?) {
        (FieldType::String, Value::String(s)) => Some(format!("'{}'", s.replace('\'', "''"))),
        (FieldType::Number, Value::Number(n)) => Some(n.to_string()),
        (FieldType::Boolean, Value::Bool(b)) => Some(match backend {
            DbBackend::Postgres => b.to_string(),
            _ => u8::from(*b).to_string(),
        }),
        _ => None,
    }
}

fn references(field: &Field) -> String {
    field
        .references
        .as_ref()
        .map(|r| {
            format!(
                r#" references "{}" ("{}") on delete {}"#,
                r.table, r.column, r.on_delete
            )
        })
        .unwrap_or_default()
}

/// `alter table ... add column ...` for a field added to an existing table.
pub fn add_column(table: &str, field: &Field, backend: DbBackend) -> String {
    let mut sql = format!(
        r#"alter table "{table}" add column "{}" {}"#,
        field.name,
        column_type(field, backend)
    );
    if let Some(default) = static_default(field, backend) {
        sql.push_str(&format!(" default {default}"));
    }
    if field.required {
        sql.push_str(" not null");
    }
    sql.push_str(&references(field));
    sql
}

/// The index a field added to an existing table gets, if any.
pub fn field_index(table: &str, field: &Field) -> Option<String> {
    if field.unique {
        Some(format!(
            r#"create unique index if not exists "{}" on "{table}" ("{}")"#,
            index_name(table, &field.name, true),
            field.name
        ))
    } else if field.index {
        Some(format!(
            r#"create index if not exists "{}" on "{table}" ("{}")"#,
            index_name(table, &field.name, false),
            field.name
        ))
    } else {
        None
    }
}

/// `create table` for a table a plugin owns, then its non-unique indexes.
pub fn create_table(table: &Table, backend: DbBackend) -> Vec<String> {
    let mut columns = vec![r#""id" text not null primary key"#.to_owned()];
    for field in &table.fields {
        let mut col = format!(r#""{}" {}"#, field.name, column_type(field, backend));
        if field.ty == FieldType::Date && field.default_now && backend == DbBackend::Postgres {
            col.push_str(" default CURRENT_TIMESTAMP");
        }
        if field.required {
            col.push_str(" not null");
        }
        if field.unique {
            col.push_str(" unique");
        }
        col.push_str(&references(field));
        columns.push(col);
    }
    let mut out = vec![format!(
        r#"create table if not exists "{}" ({})"#,
        table.name,
        columns.join(", ")
    )];
    out.extend(
        table
            .fields
            .iter()
            .filter(|f| f.index && !f.unique)
            .filter_map(|f| field_index(&table.name, f)),
    );
    out
}

/// Upstream's `getDatabaseIndexName`: `<table>_<column>_<uidx|idx>`, cut to 63 bytes with a
/// stable hash when longer.
pub fn index_name(table: &str, column: &str, unique: bool) -> String {
    const MAX: usize = 63;
    let kind = if unique { "uidx" } else { "idx" };
    let generated = format!("{table}_{column}_{kind}");
    if generated.len() <= MAX {
        return generated;
    }
    let suffix = format!("_{}_{kind}", stable_hash(&generated));
    let stem = &generated[..generated.len() - kind.len() - 1];
    let mut cut = String::new();
    for c in stem.chars() {
        if cut.len() + c.len_utf8() > MAX - suffix.len() {
            break;
        }
        cut.push(c);
    }
    format!("{cut}{suffix}")
}

/// FNV-1a over UTF-16 code units, as upstream's `getStableIndexNameHash`.
fn stable_hash(value: &str) -> String {
    let mut hash: u32 = 2_166_136_261;
    for unit in value.encode_utf16() {
        hash ^= u32::from(unit);
        hash = hash.wrapping_mul(16_777_619);
    }
    format!("{hash:08x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Statements as the 1.7.29 migrator printed them (compileMigrations) when the plugins
    /// and fields were added to an existing database.
    #[test]
    fn matches_upstream_statements() {
        let pg = DbBackend::Postgres;
        let sqlite = DbBackend::Sqlite;
        let anon = Field::new("isAnonymous", FieldType::Boolean)
            .optional()
            .default_value(json!(false));
        assert_eq!(
            add_column("user", &anon, pg),
            r#"alter table "user" add column "isAnonymous" boolean default false"#
        );
        assert_eq!(
            add_column("user", &anon, sqlite),
            r#"alter table "user" add column "isAnonymous" integer default 0"#
        );
        let must = Field::new("must", FieldType::String).default_value(json!("m"));
        assert_eq!(
            add_column("user", &must, pg),
            r#"alter table "user" add column "must" text default 'm' not null"#
        );
        let r = Field::new("ref", FieldType::String)
            .optional()
            .references("user", "id", "set null");
        assert_eq!(
            add_column("user", &r, pg),
            r#"alter table "user" add column "ref" text references "user" ("id") on delete set null"#
        );
        let birthday = Field::new("birthday", FieldType::Date).optional();
        assert_eq!(
            add_column("user", &birthday, pg),
            r#"alter table "user" add column "birthday" timestamptz"#
        );
        assert_eq!(
            add_column("user", &birthday, sqlite),
            r#"alter table "user" add column "birthday" date"#
        );
        let code = Field::new("code", FieldType::String).optional().unique();
        assert_eq!(
            field_index("user", &code).unwrap(),
            r#"create unique index if not exists "user_code_uidx" on "user" ("code")"#
        );
    }

    #[test]
    fn long_index_names_are_cut_with_a_hash() {
        // What upstream's getDatabaseFieldIndexName gives for the same input.
        assert_eq!(
            index_name("organizationRole", &"x".repeat(80), false),
            "organizationRole_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx_db1b42ef_idx"
        );
    }
}
