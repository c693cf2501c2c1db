//! `[user.additional_fields.<name>]` and `[session.additional_fields.<name>]`: upstream's
//! `user.additionalFields` / `session.additionalFields`, attributes in snake_case.
//!
//! ```toml
//! [user.additional_fields.plan]
//! type = "string"
//! required = false
//! default = "free"
//! ```

use serde::Deserialize;

use super::ConfigError;
use crate::schema::{Field, FieldType, SchemaPart};

/// One field as the TOML file declares it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileField {
    #[serde(rename = "type")]
    ty: FieldType,
    /// Upstream's default is `true`.
    required: Option<bool>,
    #[serde(alias = "default_value")]
    default: Option<toml::Value>,
    input: Option<bool>,
    returned: Option<bool>,
    unique: Option<bool>,
    index: Option<bool>,
    bigint: Option<bool>,
    references: Option<FileReference>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileReference {
    model: String,
    field: String,
    on_delete: Option<String>,
}

/// Column names are SQL identifiers we quote ourselves: letters, digits and `_` only.
fn valid_name(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn field(table: &str, name: &str, file: FileField) -> Result<Field, ConfigError> {
    let key = format!("{table}.additional_fields.{name}");
    let core: &[&str] = if table == "user" {
        &crate::store::users::CORE_COLUMNS
    } else {
        &crate::store::sessions::CORE_COLUMNS
    };
    if !valid_name(name) || core.contains(&name) {
        return Err(ConfigError::Invalid(format!(
            "{key}: the name must be letters, digits and _ and not a core field"
        )));
    }
    let default = file
        .default
        .map(|v| {
            serde_json::to_value(v).map_err(|e| ConfigError::Invalid(format!("{key}.default: {e}")))
        })
        .transpose()?;
    let mut f = Field::new(name, file.ty);
    f.required = file.required.unwrap_or(true);
    f.default = default;
    f.input = file.input.unwrap_or(true);
    f.returned = file.returned.unwrap_or(true);
    f.unique = file.unique.unwrap_or(false);
    f.index = file.index.unwrap_or(false);
    f.bigint = file.bigint.unwrap_or(false);
    if let Some(r) = file.references {
        if !valid_name(&r.model) || !valid_name(&r.field) {
            return Err(ConfigError::Invalid(format!(
                "{key}.references: not a table/column name"
            )));
        }
        let on_delete = r
            .on_delete
            .unwrap_or_else(|| "cascade".into())
            .to_ascii_lowercase();
        if ![
            "cascade",
            "set null",
            "restrict",
            "no action",
            "set default",
        ]
        .contains(&on_delete.as_str())
        {
            return Err(ConfigError::Invalid(format!(
                "{key}.references.on_delete: {on_delete:?}"
            )));
        }
        f = f.references(&r.model, &r.field, &on_delete);
    }
    if let Some(d) = &f.default {
        // The rule client values meet (a date default must be a date, a number an integer).
        crate::schema::check_type(&f, d)
            .map_err(|e| ConfigError::Invalid(format!("{key}.default does not fit type: {e}")))?;
    }
    // Sessions are made by sign-ins, which carry no session fields (upstream fills them in
    // database hooks, which we do not have): a required one without a default would make
    // every sign-in fail, so say so at start-up.
    if table == "session" && f.required && f.default.is_none() {
        return Err(ConfigError::Invalid(format!(
            "{key}: a required session field needs a default (or required = false): no \
             sign-in could create a session"
        )));
    }
    Ok(f)
}

/// The additional fields of `user` and `session`, in the order the file lists them.
pub fn additional_fields(
    user: toml::Table,
    session: toml::Table,
) -> Result<SchemaPart, ConfigError> {
    let mut part = SchemaPart::default();
    for (table, list, into) in [
        ("user", user, &mut part.user),
        ("session", session, &mut part.session),
    ] {
        for (name, value) in list {
            let file: FileField = value.try_into().map_err(|e| {
                ConfigError::Invalid(format!("{table}.additional_fields.{name}: {e}"))
            })?;
            into.push(field(table, &name, file)?);
        }
    }
    Ok(part)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user_fields(toml: &str) -> Result<SchemaPart, ConfigError> {
        additional_fields(toml::from_str(toml).unwrap(), toml::Table::new())
    }

    #[test]
    fn defaults_must_fit_their_type_and_names_stay_off_core_columns() {
        for ok in [
            "plan = { type = \"string\", default = \"free\" }",
            "age = { type = \"number\", default = 3 }",
            "since = { type = \"date\", default = \"2020-01-01T00:00:00.000Z\" }",
            "tags = { type = \"string[]\", default = [\"a\"] }",
        ] {
            assert!(user_fields(ok).is_ok(), "{ok}");
        }
        for bad in [
            "since = { type = \"date\", default = \"tomorrow\" }",
            "age = { type = \"number\", default = 1.5 }",
            "age = { type = \"number\", default = \"3\" }",
            "tags = { type = \"string[]\", default = [1] }",
            "email = { type = \"string\" }",
            "\"bad-name\" = { type = \"string\" }",
        ] {
            let Err(ConfigError::Invalid(message)) = user_fields(bad) else {
                panic!("accepted: {bad}");
            };
            assert!(message.starts_with("user.additional_fields."), "{message}");
        }
    }

    #[test]
    fn required_session_fields_need_a_default() {
        let session =
            |toml: &str| additional_fields(toml::Table::new(), toml::from_str(toml).unwrap());
        assert!(session("device = { type = \"string\", required = false }").is_ok());
        assert!(session("device = { type = \"string\", default = \"web\" }").is_ok());
        let Err(ConfigError::Invalid(message)) = session("device = { type = \"string\" }") else {
            panic!("a required session field without a default was accepted");
        };
        assert!(
            message.starts_with("session.additional_fields.device: a required session field"),
            "{message}"
        );
        // Users are made by sign-up, which carries the field: required is fine there.
        assert!(user_fields("plan = { type = \"string\" }").is_ok());
    }
}
