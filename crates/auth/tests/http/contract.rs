//! The contract test: every answer the HTTP tests get through `TestServer::get`, `post` and
//! `send` is checked against the OpenAPI document the server publishes (`open-api` plugin,
//! `plugins::open_api::document`): the status must be documented for that operation and a
//! JSON body must validate against its schema. A mismatch fails the test that made the
//! request, so the document cannot drift from the answers.

use serde_json::{Map, Value};

use crate::harness::Resp;

pub struct Contract {
    paths: Map<String, Value>,
}

impl Contract {
    pub fn new(document: &Value) -> Contract {
        let components = document["components"]["schemas"].clone();
        let paths = inline_refs(&document["paths"], &components);
        Contract {
            paths: paths.as_object().cloned().unwrap_or_default(),
        }
    }

    /// `Err` with what is wrong; endpoints not in the document (unrouted paths, the wrong
    /// method) are not checked: they are 404s with no body.
    pub fn check(&self, method: &str, path: &str, resp: &Resp) -> Result<(), String> {
        let path = path.split('?').next().unwrap_or_default();
        let Some(item) = self.find(path) else {
            return Ok(());
        };
        let Some(op) = item.get(method.to_ascii_lowercase()) else {
            return Ok(());
        };
        let responses = &op["responses"];
        let status = resp.status.to_string();
        // `default` describes errors only: a success must be documented by its status.
        let fallback = || {
            (resp.status >= 400)
                .then(|| responses.get("default"))
                .flatten()
        };
        let Some(response) = responses.get(&status).or_else(fallback) else {
            return Err(format!(
                "{method} {path}: status {status} is not documented"
            ));
        };
        let is_json = resp
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/json"));
        if !is_json || resp.text.is_empty() {
            return Ok(());
        }
        let Some(schema) = response.pointer("/content/application~1json/schema") else {
            return Err(format!(
                "{method} {path}: {status} answers JSON the document does not describe: {}",
                resp.text
            ));
        };
        let body: Value = serde_json::from_str(&resp.text)
            .map_err(|e| format!("{method} {path}: {status} is not JSON ({e})"))?;
        let validator = jsonschema::validator_for(schema)
            .map_err(|e| format!("{method} {path}: the document's schema is invalid: {e}"))?;
        let errors: Vec<String> = validator
            .iter_errors(&body)
            .map(|e| format!("{} at {}", e, e.instance_path))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{method} {path}: {status} does not match the document: {}; body {}",
                errors.join("; "),
                resp.text
            ))
        }
    }

    /// The path item whose template (`/reset-password/{token}`) matches.
    fn find(&self, path: &str) -> Option<&Value> {
        if let Some(item) = self.paths.get(path) {
            return Some(item);
        }
        let segments: Vec<&str> = path.split('/').collect();
        self.paths.iter().find_map(|(template, item)| {
            let parts: Vec<&str> = template.split('/').collect();
            let matches = parts.len() == segments.len()
                && parts
                    .iter()
                    .zip(&segments)
                    .all(|(t, s)| t == s || (t.starts_with('{') && !s.is_empty()));
            matches.then_some(item)
        })
    }
}

/// The document with `#/components/schemas/...` references replaced by the schemas.
fn inline_refs(value: &Value, components: &Value) -> Value {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                if let Some(name) = target.strip_prefix("#/components/schemas/") {
                    return inline_refs(&components[name], components);
                }
            }
            Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), inline_refs(v, components)))
                    .collect(),
            )
        }
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| inline_refs(v, components)).collect())
        }
        other => other.clone(),
    }
}
