//! The fields that plugins and `additional_fields` add to the `user` and `session` tables,
//! and the tables plugins own: declared as data, so that one piece of code stores them,
//! reads them, validates them from clients, serializes them in upstream's order and
//! migrates them with the DDL upstream's migrator writes (`ddl.rs`, `migrate.rs`).
//!
//! Upstream builds the same from `plugin.schema` and `options.user.additionalFields`
//! (`@better-auth/core/db/get-tables.ts`): core fields, then each plugin's fields in plugin
//! order, then additional fields; `id` comes last in every object it returns.

pub mod ddl;
pub mod migrate;
mod values;

use serde::Deserialize;
use serde_json::{Map, Value};

pub use values::{check_type, decode, encode, validate_input, InputIssue};

/// Upstream's field types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum FieldType {
    #[serde(rename = "string")]
    String,
    #[serde(rename = "number")]
    Number,
    #[serde(rename = "boolean")]
    Boolean,
    #[serde(rename = "date")]
    Date,
    #[serde(rename = "json")]
    Json,
    #[serde(rename = "string[]")]
    StringArray,
    #[serde(rename = "number[]")]
    NumberArray,
}

/// A foreign key (`references: {model, field, onDelete}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    pub table: String,
    pub column: String,
    /// `cascade` (upstream's default), `set null`, `restrict`, `no action`.
    pub on_delete: String,
}

/// One column, with upstream's field attributes.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    /// The column name and the JSON key (camelCase, as upstream).
    pub name: String,
    pub ty: FieldType,
    /// NOT NULL, and needed on create unless it has a default.
    pub required: bool,
    /// A static default (`defaultValue`), written on create when the client sends none.
    pub default: Option<Value>,
    /// Accepted from clients (sign-up, update-user, update-session).
    pub input: bool,
    /// Included in answers (get-session, sign-in, list-sessions ...).
    pub returned: bool,
    pub unique: bool,
    /// A non-unique index.
    pub index: bool,
    pub references: Option<Reference>,
    /// `bigint` for numbers.
    pub bigint: bool,
    /// A date defaulting to "now" (`defaultValue: () => new Date()`): `default
    /// CURRENT_TIMESTAMP` on PostgreSQL when the table is created.
    pub default_now: bool,
}

impl Field {
    /// A field with upstream's defaults: required, input, returned, no default.
    pub fn new(name: &str, ty: FieldType) -> Self {
        Field {
            name: name.to_owned(),
            ty,
            required: true,
            default: None,
            input: true,
            returned: true,
            unique: false,
            index: false,
            references: None,
            bigint: false,
            default_now: false,
        }
    }

    pub fn optional(mut self) -> Self {
        self.required = false;
        self
    }

    pub fn default_value(mut self, value: Value) -> Self {
        self.default = Some(value);
        self
    }

    pub fn no_input(mut self) -> Self {
        self.input = false;
        self
    }

    pub fn unique(mut self) -> Self {
        self.unique = true;
        self
    }

    pub fn indexed(mut self) -> Self {
        self.index = true;
        self
    }

    pub fn defaults_to_now(mut self) -> Self {
        self.default_now = true;
        self
    }

    pub fn references(mut self, table: &str, column: &str, on_delete: &str) -> Self {
        self.references = Some(Reference {
            table: table.to_owned(),
            column: column.to_owned(),
            on_delete: on_delete.to_owned(),
        });
        self
    }
}

/// A table a plugin owns (created with upstream's create-table DDL). `id` is implicit.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub name: String,
    pub fields: Vec<Field>,
}

/// What one plugin (or the additional fields) adds to the schema.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SchemaPart {
    pub user: Vec<Field>,
    pub session: Vec<Field>,
    pub tables: Vec<Table>,
}

/// The extra fields of `user` and `session` of this deployment, in upstream's order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Schema {
    pub user: Vec<Field>,
    pub session: Vec<Field>,
}

impl Schema {
    /// Plugin parts in plugin order, then the additional fields.
    pub fn new<'a>(parts: impl IntoIterator<Item = &'a SchemaPart>) -> Self {
        let mut schema = Schema::default();
        for part in parts {
            merge(&mut schema.user, &part.user);
            merge(&mut schema.session, &part.session);
        }
        schema
    }
}

/// A later definition of a field replaces an earlier one in place (JavaScript's object
/// spread keeps the first key's position).
fn merge(into: &mut Vec<Field>, fields: &[Field]) {
    for field in fields {
        match into.iter_mut().find(|f| f.name == field.name) {
            Some(existing) => *existing = field.clone(),
            None => into.push(field.clone()),
        }
    }
}

/// Writes changed declared values into a row's returned and hidden values.
pub fn merge_changes(
    fields: &[Field],
    (returned, hidden): &mut SplitValues,
    changes: Map<String, Value>,
) {
    for (name, value) in changes {
        match fields.iter().find(|f| f.name == name) {
            Some(f) if !f.returned => {
                hidden.insert(name, value);
            }
            _ => {
                returned.insert(name, value);
            }
        }
    }
}

/// Declared values as (returned to clients, not returned).
pub type SplitValues = (Map<String, Value>, Map<String, Value>);

/// Declared values as a stored row has them, in schema order (absent ones `null`), split
/// into those returned to clients and the others (`returned: false`). Keys that are not
/// declared are dropped.
pub fn split_returned(fields: &[Field], mut values: Map<String, Value>) -> SplitValues {
    let mut returned = Map::new();
    let mut hidden = Map::new();
    for field in fields {
        let value = values.remove(&field.name).unwrap_or(Value::Null);
        let into = if field.returned {
            &mut returned
        } else {
            &mut hidden
        };
        into.insert(field.name.clone(), value);
    }
    (returned, hidden)
}
