//! Value encodings per backend, as Better Auth's Kysely adapter writes them.
//!
//! PostgreSQL: native `boolean` and `timestamptz` (legacy `timestamp` read as UTC).
//! SQLite: booleans as 0/1 and dates as `toISOString()` text, because Better Auth compares
//! dates there as strings: a different text format would break its queries on our rows.

use chrono::{DateTime, NaiveDateTime, Utc};
use sea_orm::{DbBackend, DbErr, QueryResult, Value};

use crate::models::Timestamp;

pub fn time(backend: DbBackend, t: Timestamp) -> Value {
    match backend {
        DbBackend::Sqlite => Value::from(t.to_iso()),
        _ => Value::from(t.0),
    }
}

pub fn boolean(backend: DbBackend, b: bool) -> Value {
    match backend {
        DbBackend::Sqlite => Value::from(i64::from(b)),
        _ => Value::from(b),
    }
}

pub fn read_time(backend: DbBackend, row: &QueryResult, col: &str) -> Result<Timestamp, DbErr> {
    read_opt_time(backend, row, col)?.ok_or_else(|| DbErr::Type(format!("column {col} is NULL")))
}

pub fn read_opt_time(
    backend: DbBackend,
    row: &QueryResult,
    col: &str,
) -> Result<Option<Timestamp>, DbErr> {
    match backend {
        DbBackend::Sqlite => {
            // ISO text from Better Auth's Kysely adapter, or integer milliseconds from a
            // Drizzle-made database.
            if let Ok(text) = row.try_get::<Option<String>>("", col) {
                return text
                    .map(|s| {
                        Timestamp::parse_iso(&s)
                            .ok_or_else(|| DbErr::Type(format!("column {col}: bad date {s:?}")))
                    })
                    .transpose();
            }
            let ms: Option<i64> = row.try_get("", col)?;
            ms.map(|ms| {
                Timestamp::from_millis(ms)
                    .ok_or_else(|| DbErr::Type(format!("column {col}: bad date {ms}")))
            })
            .transpose()
        }
        _ => {
            if let Ok(t) = row.try_get::<Option<DateTime<Utc>>>("", col) {
                return Ok(t.map(Timestamp));
            }
            // `timestamp without time zone` in databases made before Better Auth 1.4.
            let naive: Option<NaiveDateTime> = row.try_get("", col)?;
            Ok(naive.map(|n| Timestamp(n.and_utc())))
        }
    }
}

pub fn read_bool(backend: DbBackend, row: &QueryResult, col: &str) -> Result<bool, DbErr> {
    match backend {
        DbBackend::Sqlite => Ok(row.try_get::<i64>("", col)? != 0),
        _ => row.try_get("", col),
    }
}

/// A NULL of the date column type.
pub fn null_time(backend: DbBackend) -> Value {
    match backend {
        DbBackend::Sqlite => Value::String(None),
        _ => Value::ChronoDateTimeUtc(None),
    }
}

/// An optional date column: the date, or a NULL of the date type.
pub fn opt_time(backend: DbBackend, t: Option<Timestamp>) -> Value {
    t.map_or(null_time(backend), |t| time(backend, t))
}
