//! zod-style validation with upstream's messages: a body's fields are checked in schema
//! order and every issue is reported (`[body.email] Invalid email address; ...`).

use std::sync::LazyLock;

use actix_web::HttpRequest;
use regex::Regex;
use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};

/// zod's email check, as upstream's sign-up schema uses it.
static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    #[expect(clippy::expect_used, reason = "a constant pattern, covered by tests")]
    Regex::new(
        r"^(?:[A-Za-z0-9_'+\-]+\.)*[A-Za-z0-9_'+\-]*[A-Za-z0-9_+\-]@(?:[A-Za-z0-9][A-Za-z0-9\-]*\.)+[A-Za-z]{2,}$",
    )
    .expect("valid email regex")
});

/// RFC 5321's limit on an address; zod has none, we refuse longer ones as invalid.
const MAX_EMAIL_LEN: usize = 254;

/// Longest string field we take (UTF-16 units): names, URLs and passwords are far shorter;
/// without a bound one 64 KiB name would be copied into every JWT and session response.
pub const MAX_FIELD_LEN: usize = 4096;

pub fn is_valid_email(email: &str) -> bool {
    email.len() <= MAX_EMAIL_LEN && EMAIL.is_match(email)
}

/// Password length as JavaScript counts it (UTF-16 code units).
pub fn js_length(s: &str) -> usize {
    s.encode_utf16().count()
}

/// The JavaScript type name zod reports for a JSON value (`undefined` when absent).
pub fn type_name(v: Option<&Value>) -> &'static str {
    match v {
        None => "undefined",
        Some(Value::Null) => "null",
        Some(Value::Bool(_)) => "boolean",
        Some(Value::Number(_)) => "number",
        Some(Value::String(_)) => "string",
        Some(Value::Array(_)) => "array",
        Some(Value::Object(_)) => "object",
    }
}

/// How a body must look as a whole before its fields are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// `z.object(...)`: `[body] Invalid input: expected object, received ...`.
    Object,
    /// `z.object(...).and(z.record(...))` (sign-up): zod reports both issues.
    ObjectAndRecord,
    /// `z.object(...).optional()`: no body validates as `{}`.
    OptionalObject,
    /// `z.record(z.string(), z.any())` (update-user, update-session, the token endpoints).
    Record,
    /// No schema: anything, or nothing.
    Any,
}

/// Collects zod-style issues (`[body.email] Invalid email address`) in schema order and
/// answers `400 VALIDATION_ERROR` with all of them joined by `; `. Every method that gives
/// `None` for a required field has recorded an issue, so a body type's `read` can build
/// itself with `?` once all its fields are read.
pub struct Validator<'a> {
    fields: &'a Map<String, Value>,
    /// `body`, or `body.idToken` inside a nested object.
    path: String,
    issues: Vec<String>,
    /// Describing instead of validating: the fields a body type reads, for the OpenAPI
    /// document (`Validator::recording`).
    recorder: Option<Recorder>,
}

/// The JSON Schema of the fields a body type reads, in the order it reads them.
#[derive(Default)]
struct Recorder {
    properties: Map<String, Value>,
    required: Vec<String>,
}

static EMPTY: LazyLock<Map<String, Value>> = LazyLock::new(Map::new);

impl<'a> Validator<'a> {
    /// Checks the body's shape; the fields are read afterwards.
    pub fn new(body: Option<&'a Value>, shape: Shape) -> ApiResult<Self> {
        let validator = |fields| Self {
            fields,
            path: "body".into(),
            issues: Vec::new(),
            recorder: None,
        };
        match (body, shape) {
            (Some(Value::Object(fields)), _) => Ok(validator(fields)),
            (None, Shape::OptionalObject | Shape::Any) | (Some(_), Shape::Any) => {
                Ok(validator(&EMPTY))
            }
            (other, _) => {
                let got = type_name(other);
                let expected =
                    |what| format!("[body] Invalid input: expected {what}, received {got}");
                Err(ApiError::Validation(match shape {
                    Shape::Record => expected("record"),
                    Shape::ObjectAndRecord => {
                        format!("{}; {}", expected("object"), expected("record"))
                    }
                    _ => expected("object"),
                }))
            }
        }
    }

    /// A validator over no fields that notes what a body type reads: running a type's
    /// `read` through it gives the JSON Schema of the body (issues are ignored).
    pub fn recording() -> Validator<'static> {
        Validator {
            fields: &EMPTY,
            path: "body".into(),
            issues: Vec::new(),
            recorder: Some(Recorder::default()),
        }
    }

    /// The JSON Schema of what was read while recording, for a body of this shape.
    pub fn recorded_schema(&self, shape: Shape) -> Value {
        let recorder = self.recorder.as_ref();
        let mut schema = Map::new();
        schema.insert("type".into(), "object".into());
        if let Some(r) = recorder.filter(|r| !r.properties.is_empty()) {
            schema.insert("properties".into(), Value::Object(r.properties.clone()));
            if !r.required.is_empty() {
                schema.insert("required".into(), r.required.clone().into());
            }
        }
        if matches!(shape, Shape::Record | Shape::ObjectAndRecord) {
            schema.insert("additionalProperties".into(), true.into());
        }
        Value::Object(schema)
    }

    /// While recording: the field's schema (the first note of a key wins, so that `email`
    /// keeps its format when it reads through `string`).
    fn note(&mut self, key: &str, schema: Value, required: bool) {
        if let Some(r) = &mut self.recorder {
            if !r.properties.contains_key(key) {
                r.properties.insert(key.to_owned(), schema);
                if required {
                    r.required.push(key.to_owned());
                }
            }
        }
    }

    /// The body's fields as sent (for records and fields not in the schema).
    pub fn fields(&self) -> &'a Map<String, Value> {
        self.fields
    }

    pub fn issue(&mut self, key: &str, message: impl std::fmt::Display) {
        self.issues.push(format!("[{}.{key}] {message}", self.path));
    }

    fn expected(&mut self, key: &str, ty: &str) {
        let got = type_name(self.fields.get(key));
        self.issue(key, format!("Invalid input: expected {ty}, received {got}"));
    }

    pub fn string(&mut self, key: &str) -> Option<&'a str> {
        self.note(key, serde_json::json!({"type": "string"}), true);
        match self.fields.get(key) {
            Some(Value::String(s)) => self.bounded(key, s),
            _ => {
                self.expected(key, "string");
                None
            }
        }
    }

    /// Our one addition to upstream's schemas: no string longer than `MAX_FIELD_LEN`.
    fn bounded(&mut self, key: &str, s: &'a str) -> Option<&'a str> {
        if s.len() > MAX_FIELD_LEN && js_length(s) > MAX_FIELD_LEN {
            self.issue(
                key,
                format!("Too big: expected string to have <={MAX_FIELD_LEN} characters"),
            );
            return None;
        }
        Some(s)
    }

    /// `z.string().min(1)`
    pub fn non_empty_string(&mut self, key: &str) -> Option<&'a str> {
        self.note(
            key,
            serde_json::json!({"type": "string", "minLength": 1}),
            true,
        );
        let s = self.string(key)?;
        if s.is_empty() {
            self.issue(key, "Too small: expected string to have >=1 characters");
            return None;
        }
        Some(s)
    }

    /// `z.email()`
    pub fn email(&mut self, key: &str) -> Option<&'a str> {
        self.note(
            key,
            serde_json::json!({"type": "string", "format": "email"}),
            true,
        );
        let s = self.string(key)?;
        if !is_valid_email(s) {
            self.issue(key, "Invalid email address");
            return None;
        }
        Some(s)
    }

    pub fn opt_string(&mut self, key: &str) -> Option<&'a str> {
        self.note(key, serde_json::json!({"type": "string"}), false);
        match self.fields.get(key) {
            None => None,
            Some(Value::String(s)) => self.bounded(key, s),
            Some(_) => {
                self.expected(key, "string");
                None
            }
        }
    }

    pub fn opt_bool(&mut self, key: &str) -> Option<bool> {
        self.note(key, serde_json::json!({"type": "boolean"}), false);
        match self.fields.get(key) {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                self.expected(key, "boolean");
                None
            }
        }
    }

    /// `z.array(z.string()).optional()`: each bad item is its own issue (`key.0`).
    pub fn opt_string_array(&mut self, key: &str) -> Vec<String> {
        self.note(
            key,
            serde_json::json!({"type": "array", "items": {"type": "string"}}),
            false,
        );
        match self.fields.get(key) {
            None => Vec::new(),
            Some(Value::Array(items)) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::String(s) => out.push(s.clone()),
                        other => self.issue(
                            &format!("{key}.{i}"),
                            format!(
                                "Invalid input: expected string, received {}",
                                type_name(Some(other))
                            ),
                        ),
                    }
                }
                out
            }
            Some(_) => {
                self.expected(key, "array");
                Vec::new()
            }
        }
    }

    /// `z.record(z.string(), z.string()).optional()`, in the order sent.
    pub fn opt_string_record(&mut self, key: &str) -> Vec<(String, String)> {
        self.note(
            key,
            serde_json::json!({"type": "object", "additionalProperties": {"type": "string"}}),
            false,
        );
        match self.fields.get(key) {
            None => Vec::new(),
            Some(Value::Object(m)) => {
                let mut out = Vec::new();
                for (k, val) in m {
                    match val {
                        Value::String(s) => out.push((k.clone(), s.clone())),
                        other => self.issue(
                            &format!("{key}.{k}"),
                            format!(
                                "Invalid input: expected string, received {}",
                                type_name(Some(other))
                            ),
                        ),
                    }
                }
                out
            }
            Some(_) => {
                self.expected(key, "record");
                Vec::new()
            }
        }
    }

    /// `z.record(z.string(), z.any()).optional()`
    pub fn opt_record(&mut self, key: &str) -> Map<String, Value> {
        self.note(key, serde_json::json!({"type": "object"}), false);
        match self.fields.get(key) {
            None => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(_) => {
                self.expected(key, "record");
                Map::new()
            }
        }
    }

    /// `z.object({...}).optional()`: `read` validates the nested fields, whose issues name
    /// the full path (`[body.idToken.token] ...`).
    pub fn opt_object<T>(
        &mut self,
        key: &str,
        read: impl FnOnce(&mut Validator<'a>) -> Option<T>,
    ) -> Option<T> {
        if self.recorder.is_some() {
            let mut nested = Validator::recording();
            let _ = read(&mut nested);
            self.note(key, nested.recorded_schema(Shape::Object), false);
            return None;
        }
        match self.fields.get(key) {
            None => None,
            Some(Value::Object(m)) => {
                let mut nested = Validator {
                    fields: m,
                    path: format!("{}.{key}", self.path),
                    issues: Vec::new(),
                    recorder: None,
                };
                let out = read(&mut nested);
                self.issues.append(&mut nested.issues);
                out
            }
            Some(_) => {
                self.expected(key, "object");
                None
            }
        }
    }

    pub fn finish(self) -> ApiResult<()> {
        if self.issues.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.issues.join("; ")))
        }
    }
}

/// Query parameters validated like upstream's zod query schemas: repeated keys make an
/// array, issues read `[query.token] Invalid input: expected string, received undefined`.
pub struct QueryValidator {
    pairs: Vec<(String, String)>,
    issues: Vec<String>,
    /// Describing: the parameters a query type reads (name, required).
    recorded: Option<Vec<(String, bool)>>,
}

impl QueryValidator {
    pub fn new(req: &HttpRequest) -> Self {
        Self {
            pairs: url::form_urlencoded::parse(req.query_string().as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
            issues: Vec::new(),
            recorded: None,
        }
    }

    /// Notes the parameters a query type reads instead of validating (OpenAPI).
    pub fn recording() -> Self {
        Self {
            pairs: Vec::new(),
            issues: Vec::new(),
            recorded: Some(Vec::new()),
        }
    }

    /// What was read while recording: (name, required).
    pub fn recorded(self) -> Vec<(String, bool)> {
        self.recorded.unwrap_or_default()
    }

    fn get(&mut self, key: &str, required: bool) -> Option<String> {
        if let Some(recorded) = &mut self.recorded {
            recorded.push((key.to_owned(), required));
            return None;
        }
        let mut values = self.pairs.iter().filter(|(k, _)| k == key).map(|(_, v)| v);
        match (values.next(), values.next()) {
            (Some(v), None) => Some(v.clone()),
            (None, _) if !required => None,
            (first, _) => {
                let got = if first.is_some() {
                    "array"
                } else {
                    "undefined"
                };
                self.issues.push(format!(
                    "[query.{key}] Invalid input: expected string, received {got}"
                ));
                None
            }
        }
    }

    pub fn string(&mut self, key: &str) -> Option<String> {
        self.get(key, true)
    }

    pub fn opt_string(&mut self, key: &str) -> Option<String> {
        self.get(key, false)
    }

    pub fn finish(self) -> ApiResult<()> {
        if self.issues.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.issues.join("; ")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn zod_messages() {
        let body = json!({"name": 1, "email": "bad", "password": ""});
        let mut v = Validator::new(Some(&body), Shape::ObjectAndRecord).unwrap();
        v.string("name");
        v.email("email");
        v.non_empty_string("password");
        let err = v.finish().unwrap_err().to_string();
        assert_eq!(
            err,
            "[body.name] Invalid input: expected string, received number; \
             [body.email] Invalid email address; \
             [body.password] Too small: expected string to have >=1 characters"
        );
        let err = Validator::new(None, Shape::ObjectAndRecord)
            .err()
            .unwrap()
            .to_string();
        assert_eq!(
            err,
            "[body] Invalid input: expected object, received undefined; \
             [body] Invalid input: expected record, received undefined"
        );
    }

    #[test]
    fn emails() {
        assert!(is_valid_email("ann@example.com"));
        assert!(is_valid_email("a.b+c@sub.example.co"));
        assert!(!is_valid_email("ann"));
        assert!(!is_valid_email("ann@localhost"));
        assert!(!is_valid_email("a..b@example.com"));
    }

    #[test]
    fn js_length_counts_utf16_units() {
        assert_eq!(js_length("abc"), 3);
        assert_eq!(js_length("😀"), 2);
    }
}
