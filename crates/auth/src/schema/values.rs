//! Values of declared fields: read from a row, written to a column, and checked when a
//! client sends them, in the encodings upstream's Kysely adapter uses (SQLite: booleans as
//! 0/1, dates as ISO text, JSON and arrays as JSON text; PostgreSQL: native types, `jsonb`).

use sea_orm::{DbBackend, DbErr, QueryResult};
use serde_json::{Map, Value};

use super::{Field, FieldType};
use crate::models::Timestamp;
use crate::routes::body::type_name;
use crate::store::codec;

/// The value of `field` in column `col` of `row`, as upstream returns it in JSON.
pub fn decode(
    backend: DbBackend,
    row: &QueryResult,
    field: &Field,
    col: &str,
) -> Result<Value, DbErr> {
    Ok(match field.ty {
        FieldType::String => row
            .try_get::<Option<String>>("", col)?
            .map_or(Value::Null, Value::String),
        FieldType::Number => read_number(row, col)?,
        FieldType::Boolean => match backend {
            DbBackend::Sqlite => row
                .try_get::<Option<i64>>("", col)?
                .map_or(Value::Null, |n| Value::Bool(n != 0)),
            _ => row
                .try_get::<Option<bool>>("", col)?
                .map_or(Value::Null, Value::Bool),
        },
        FieldType::Date => codec::read_opt_time(backend, row, col)?
            .map_or(Value::Null, |t| Value::String(t.to_iso())),
        FieldType::Json | FieldType::StringArray | FieldType::NumberArray => match backend {
            DbBackend::Sqlite => match row.try_get::<Option<String>>("", col)? {
                None => Value::Null,
                // Upstream's `safeJSONParse`: text that is not JSON stays text.
                Some(text) => serde_json::from_str(&text).unwrap_or(Value::String(text)),
            },
            _ => row
                .try_get::<Option<Value>>("", col)?
                .unwrap_or(Value::Null),
        },
    })
}

/// Integers as PostgreSQL `integer` (i32) or `bigint` (i64), or SQLite's one integer type;
/// a float stored by a TypeScript server on SQLite is read as a float.
fn read_number(row: &QueryResult, col: &str) -> Result<Value, DbErr> {
    if let Ok(n) = row.try_get::<Option<i64>>("", col) {
        return Ok(n.map_or(Value::Null, Value::from));
    }
    if let Ok(n) = row.try_get::<Option<i32>>("", col) {
        return Ok(n.map_or(Value::Null, Value::from));
    }
    Ok(row
        .try_get::<Option<f64>>("", col)?
        .map_or(Value::Null, Value::from))
}

/// The column value for `value` (already checked by `validate_input`, or written by us).
pub fn encode(backend: DbBackend, field: &Field, value: &Value) -> sea_orm::Value {
    let null = value.is_null();
    match field.ty {
        FieldType::String => sea_orm::Value::String(match value {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        }),
        FieldType::Number => match value.as_i64() {
            Some(n) => sea_orm::Value::BigInt(Some(n)),
            None if !null => sea_orm::Value::Double(value.as_f64()),
            None => sea_orm::Value::BigInt(None),
        },
        FieldType::Boolean => match (value.as_bool(), backend) {
            (Some(b), _) => codec::boolean(backend, b),
            (None, DbBackend::Sqlite) => sea_orm::Value::BigInt(None),
            (None, _) => sea_orm::Value::Bool(None),
        },
        FieldType::Date => {
            let t = value.as_str().and_then(Timestamp::parse_iso);
            codec::opt_time(backend, t)
        }
        FieldType::Json | FieldType::StringArray | FieldType::NumberArray => match backend {
            DbBackend::Sqlite => sea_orm::Value::String((!null).then(|| value.to_string())),
            _ => sea_orm::Value::Json((!null).then(|| Box::new(value.clone()))),
        },
    }
}

/// Why a client's values for declared fields were refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputIssue {
    /// Upstream's `FIELD_NOT_ALLOWED`: `<field> is not allowed to be set` (input: false).
    NotAllowed(String),
    /// Upstream's `MISSING_FIELD`: `<field> is required` (on create).
    Missing(String),
    /// A value of the wrong type (stricter than upstream, which hands it to the database):
    /// zod-style issues, `[body.age] Invalid input: expected number, received string`.
    Invalid(Vec<String>),
}

/// Upstream's `parseInputData`: picks the declared fields from a client's body, applies
/// defaults on create, refuses `input: false` fields that carry a value and missing required
/// ones on create. Values are type-checked too (upstream does not, and a wrong type then
/// fails in the database).
pub fn validate_input(
    fields: &[Field],
    data: &Map<String, Value>,
    create: bool,
) -> Result<Map<String, Value>, InputIssue> {
    let mut out = Map::new();
    let mut issues = Vec::new();
    for field in fields {
        let key = field.name.as_str();
        match data.get(key) {
            Some(value) if !field.input => {
                if let (Some(default), true) = (&field.default, create) {
                    out.insert(key.to_owned(), default.clone());
                } else if truthy(value) {
                    return Err(InputIssue::NotAllowed(key.to_owned()));
                }
            }
            Some(value) => match check_type(field, value) {
                Ok(()) => {
                    out.insert(key.to_owned(), value.clone());
                }
                Err(issue) => issues.push(format!("[body.{key}] {issue}")),
            },
            None if create => match &field.default {
                Some(default) => {
                    out.insert(key.to_owned(), default.clone());
                }
                None if field.required => return Err(InputIssue::Missing(key.to_owned())),
                None => {}
            },
            None => {}
        }
    }
    if issues.is_empty() {
        Ok(out)
    } else {
        Err(InputIssue::Invalid(issues))
    }
}

/// JavaScript truthiness, which upstream's `if (data[key])` applies.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

pub fn check_type(field: &Field, value: &Value) -> Result<(), String> {
    let expected = |ty: &str| {
        Err(format!(
            "Invalid input: expected {ty}, received {}",
            type_name(Some(value))
        ))
    };
    if value.is_null() {
        // `.nullish()` for optional fields.
        return if field.required {
            expected(ty_name(field.ty))
        } else {
            Ok(())
        };
    }
    match field.ty {
        FieldType::String if value.is_string() => Ok(()),
        FieldType::Number if value.is_i64() || value.is_u64() => Ok(()),
        FieldType::Number if value.is_f64() => {
            Err("Invalid input: expected int, received number".into())
        }
        FieldType::Boolean if value.is_boolean() => Ok(()),
        FieldType::Date => match value.as_str().map(Timestamp::parse_iso) {
            Some(Some(_)) => Ok(()),
            Some(None) => Err("Invalid input: expected date, received Invalid Date".into()),
            None => expected("date"),
        },
        FieldType::Json => Ok(()),
        FieldType::StringArray | FieldType::NumberArray => {
            let Some(items) = value.as_array() else {
                return expected("array");
            };
            let want_string = field.ty == FieldType::StringArray;
            for (i, item) in items.iter().enumerate() {
                let ok = if want_string {
                    item.is_string()
                } else {
                    item.is_number()
                };
                if !ok {
                    let ty = if want_string { "string" } else { "number" };
                    return Err(format!(
                        "Invalid input: expected {ty}, received {} (item {i})",
                        type_name(Some(item))
                    ));
                }
            }
            Ok(())
        }
        ty => expected(ty_name(ty)),
    }
}

fn ty_name(ty: FieldType) -> &'static str {
    match ty {
        FieldType::String => "string",
        FieldType::Number => "number",
        FieldType::Boolean => "boolean",
        FieldType::Date => "date",
        FieldType::Json => "json",
        FieldType::StringArray | FieldType::NumberArray => "array",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields() -> Vec<Field> {
        vec![
            Field::new("plan", FieldType::String)
                .optional()
                .default_value(json!("free")),
            Field::new("age", FieldType::Number).optional(),
            Field::new("newsletter", FieldType::Boolean).default_value(json!(false)),
            Field::new("secretNote", FieldType::String)
                .optional()
                .no_input(),
            Field::new("tags", FieldType::StringArray).optional(),
        ]
    }

    #[test]
    fn defaults_types_and_input_false() {
        let data = json!({"age": 3, "other": 1});
        let out = validate_input(&fields(), data.as_object().unwrap(), true).unwrap();
        assert_eq!(
            Value::Object(out),
            json!({"plan": "free", "age": 3, "newsletter": false})
        );
        let out = validate_input(&fields(), json!({"age": 3}).as_object().unwrap(), false).unwrap();
        assert_eq!(Value::Object(out), json!({"age": 3}));
        let err = validate_input(
            &fields(),
            json!({"age": "x", "tags": [1]}).as_object().unwrap(),
            true,
        );
        assert_eq!(
            err,
            Err(InputIssue::Invalid(vec![
                "[body.age] Invalid input: expected number, received string".into(),
                "[body.tags] Invalid input: expected string, received number (item 0)".into()
            ]))
        );
        let err = validate_input(
            &fields(),
            json!({"secretNote": "x"}).as_object().unwrap(),
            true,
        );
        assert_eq!(err, Err(InputIssue::NotAllowed("secretNote".into())));
        // A falsy value for an input: false field is dropped, as upstream does.
        let out = validate_input(
            &fields(),
            json!({"secretNote": ""}).as_object().unwrap(),
            false,
        )
        .unwrap();
        assert!(out.is_empty());
        let required = vec![Field::new("code", FieldType::String)];
        assert_eq!(
            validate_input(&required, &Map::new(), true),
            Err(InputIssue::Missing("code".into()))
        );
    }
}
