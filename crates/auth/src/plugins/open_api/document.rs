//! The OpenAPI 3.1 document: the operations the endpoint declarations describe
//! (`routes::catalog`), with `User` and `Session` as this server's schema makes them (plugin
//! and additional fields included), the error body, and the ways to present a session.

use serde_json::{json, Map, Value};

use crate::routes::api::{Answer, Operation};
use crate::schema::{Field, FieldType};
use crate::state::AppState;

pub fn document(state: &AppState) -> Value {
    let operations = crate::routes::catalog(&state.config.plugins);
    let mut tags: Vec<String> = Vec::new();
    let mut used_ids: Vec<String> = Vec::new();
    let mut paths = Map::new();
    for op in &operations {
        if !tags.contains(&op.tag) {
            tags.push(op.tag.clone());
        }
        let item = paths.entry(op.path.to_owned()).or_insert_with(|| json!({}));
        if let Value::Object(item) = item {
            item.insert(op.method.into(), operation(state, op, &mut used_ids));
        }
    }
    let mut security_schemes = Map::new();
    security_schemes.insert(
        "cookieAuth".into(),
        json!({
            "type": "apiKey",
            "in": "cookie",
            "name": state.cookies.session_token,
            "description": "The signed session cookie set by the sign-in endpoints",
        }),
    );
    if state.config.plugins.is_enabled("bearer") {
        security_schemes.insert(
            "bearerAuth".into(),
            json!({
                "type": "http",
                "scheme": "bearer",
                "description": "The session token (the bearer plugin; `set-auth-token` of a sign-in)",
            }),
        );
    }
    let schema = state.store.schema();
    json!({
        "openapi": "3.1.1",
        "info": {
            "title": "Better Auth",
            "description": "API reference of this better-auth-server",
            "version": env!("CARGO_PKG_VERSION"),
        },
        "servers": [{ "url": state.config.base_url.as_str().trim_end_matches('/') }],
        "tags": tags.iter().map(|t| json!({ "name": t })).collect::<Vec<_>>(),
        "components": {
            "securitySchemes": security_schemes,
            "schemas": {
                "User": model(USER_CORE, &["id", "name", "email", "emailVerified", "createdAt", "updatedAt"], &schema.user),
                "Session": model(SESSION_CORE, &["id", "token", "userId", "expiresAt", "createdAt", "updatedAt"], &schema.session),
                "Error": {
                    "type": "object",
                    "properties": {
                        "code": { "type": "string" },
                        "message": { "type": "string" },
                    },
                    "required": ["message"],
                },
            },
        },
        "paths": paths,
    })
}

/// (name, type) of the core user fields, as upstream answers them.
const USER_CORE: &[(&str, Core)] = &[
    ("id", Core::String),
    ("name", Core::String),
    ("email", Core::Email),
    ("emailVerified", Core::Boolean),
    ("image", Core::NullableString),
    ("createdAt", Core::Date),
    ("updatedAt", Core::Date),
];

const SESSION_CORE: &[(&str, Core)] = &[
    ("id", Core::String),
    ("token", Core::String),
    ("userId", Core::String),
    ("expiresAt", Core::Date),
    ("ipAddress", Core::NullableString),
    ("userAgent", Core::NullableString),
    ("createdAt", Core::Date),
    ("updatedAt", Core::Date),
];

enum Core {
    String,
    Email,
    NullableString,
    Boolean,
    Date,
}

/// A model: the core fields, then the declared ones that are returned (nullable unless
/// required, as a row may not have them).
fn model(core: &[(&str, Core)], required: &[&str], declared: &[Field]) -> Value {
    let mut properties = Map::new();
    for (name, ty) in core {
        let schema = match ty {
            Core::String => json!({ "type": "string" }),
            Core::Email => json!({ "type": "string", "format": "email" }),
            Core::NullableString => json!({ "type": ["string", "null"] }),
            Core::Boolean => json!({ "type": "boolean" }),
            Core::Date => json!({ "type": "string", "format": "date-time" }),
        };
        properties.insert((*name).to_owned(), schema);
    }
    for field in declared.iter().filter(|f| f.returned) {
        let mut schema = field_schema(&field.ty);
        if !field.required {
            schema = json!({ "anyOf": [schema, { "type": "null" }] });
        }
        properties.insert(field.name.clone(), schema);
    }
    json!({ "type": "object", "properties": properties, "required": required })
}

fn field_schema(ty: &FieldType) -> Value {
    match ty {
        FieldType::String => json!({ "type": "string" }),
        FieldType::Number => json!({ "type": "integer" }),
        FieldType::Boolean => json!({ "type": "boolean" }),
        FieldType::Date => json!({ "type": "string", "format": "date-time" }),
        FieldType::StringArray => json!({ "type": "array", "items": { "type": "string" } }),
        FieldType::NumberArray => json!({ "type": "array", "items": { "type": "number" } }),
        _ => json!({}),
    }
}

fn operation(state: &AppState, op: &Operation, used_ids: &mut Vec<String>) -> Value {
    let mut out = Map::new();
    out.insert("tags".into(), json!([op.tag]));
    out.insert("operationId".into(), operation_id(op, used_ids).into());
    out.insert("description".into(), op.doc.description.into());
    let mut parameters: Vec<Value> = path_parameters(op.path)
        .into_iter()
        .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
        .collect();
    for (name, required, schema) in &op.query {
        parameters
            .push(json!({ "name": name, "in": "query", "required": required, "schema": schema }));
    }
    if !parameters.is_empty() {
        out.insert("parameters".into(), parameters.into());
    }
    if let Some(body) = &op.body {
        let schema = body_schema(state, op, &body.schema);
        let mut content = Map::new();
        content.insert("application/json".into(), json!({ "schema": schema }));
        if body.form {
            content.insert(
                "application/x-www-form-urlencoded".into(),
                json!({ "schema": schema }),
            );
        }
        out.insert(
            "requestBody".into(),
            json!({ "required": body.required, "content": content }),
        );
    }
    let mut responses = Map::new();
    for (status, description, answer) in &op.doc.responses {
        let response = match answer {
            Answer::Json(schema) => json!({
                "description": description,
                "content": { "application/json": { "schema": schema } },
            }),
            Answer::Text(media) => json!({
                "description": description,
                "content": { *media: { "schema": { "type": "string" } } },
            }),
            Answer::Redirect => json!({
                "description": description,
                "headers": { "Location": { "schema": { "type": "string", "format": "uri-reference" } } },
            }),
        };
        responses.insert(status.to_string(), response);
    }
    responses.insert(
        "default".into(),
        json!({
            "description": "An error: `{code, message}` (some answers, such as a 404 or a 401 of the token endpoints, have no body)",
            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } },
        }),
    );
    out.insert("responses".into(), Value::Object(responses));
    if op.doc.signed_in {
        let mut security = vec![json!({ "cookieAuth": [] })];
        if state.config.plugins.is_enabled("bearer") {
            security.push(json!({ "bearerAuth": [] }));
        }
        out.insert("security".into(), security.into());
    }
    Value::Object(out)
}

/// The body's schema, with the fields a record body reads by name and, where it takes
/// them, the declared user fields clients may set.
fn body_schema(state: &AppState, op: &Operation, schema: &Value) -> Value {
    let mut schema = schema.clone();
    let Some(object) = schema.as_object_mut() else {
        return schema;
    };
    let mut properties = match object.remove("properties") {
        Some(Value::Object(p)) => p,
        _ => Map::new(),
    };
    for (name, field) in &op.doc.body_properties {
        properties.insert((*name).to_owned(), field.clone());
    }
    if op.doc.user_fields {
        for field in state.store.schema().user.iter().filter(|f| f.input) {
            properties.insert(field.name.clone(), field_schema(&field.ty));
        }
    }
    if !properties.is_empty() {
        object.insert("properties".into(), Value::Object(properties));
    }
    schema
}

/// The declared id, made unique with the method as upstream does (`callbackOAuthPost`).
fn operation_id(op: &Operation, used: &mut Vec<String>) -> String {
    let mut id = op.doc.operation_id.to_owned();
    if used.contains(&id) {
        let mut method = op.method.to_owned();
        method[..1].make_ascii_uppercase();
        id.push_str(&method);
    }
    used.push(id.clone());
    id
}

/// `{token}` segments of a pattern.
fn path_parameters(pattern: &str) -> Vec<&str> {
    pattern
        .split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .collect()
}
