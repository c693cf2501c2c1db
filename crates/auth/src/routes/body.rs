//! Request bodies as better-call reads them, the origin check that runs on every
//! state-changing request, and zod-style validation with upstream's messages.

use std::sync::LazyLock;

use actix_web::http::header::{CONTENT_TYPE, COOKIE, ORIGIN, REFERER};
use actix_web::HttpRequest;
use regex::Regex;
use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult, UrlField};
use crate::state::AppState;

/// Which bodies an endpoint accepts (better-call `allowedMediaTypes`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum MediaTypes {
    Json,
    JsonOrForm,
}

const JSON: &str = "application/json";
const FORM: &str = "application/x-www-form-urlencoded";

/// Parses the body (`None` when there is none) and runs the origin check
/// (`api/middlewares/origin-check.ts`) on it.
pub fn read(
    req: &HttpRequest,
    bytes: &[u8],
    state: &AppState,
    media: MediaTypes,
) -> ApiResult<Option<Value>> {
    let body = parse(req, bytes, media)?;
    origin_check(req, body.as_ref(), state)?;
    Ok(body)
}

/// The body as better-call reads it: JSON, or a form where allowed; `None` without a body
/// or a content type.
pub fn parse(req: &HttpRequest, bytes: &[u8], media: MediaTypes) -> ApiResult<Option<Value>> {
    if bytes.is_empty() {
        return Ok(None);
    }
    // Without a content type better-call ignores the body.
    let Some(content_type) = req.headers().get(CONTENT_TYPE) else {
        return Ok(None);
    };
    let content_type = content_type.to_str().unwrap_or("").to_ascii_lowercase();
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if essence.contains(JSON) {
        return serde_json::from_slice(bytes)
            .map(Some)
            .map_err(|_| ApiError::InvalidJson);
    }
    if media == MediaTypes::JsonOrForm && essence.contains(FORM) {
        let map: Map<String, Value> = url::form_urlencoded::parse(bytes)
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
        return Ok(Some(Value::Object(map)));
    }
    let allowed = match media {
        MediaTypes::Json => JSON.to_owned(),
        MediaTypes::JsonOrForm => format!("{FORM}, {JSON}"),
    };
    Err(ApiError::UnsupportedMediaType(format!(
        "Content-Type \"{essence}\" is not allowed. Allowed types: {allowed}"
    )))
}

/// The request's `Origin`, or the origin of its `Referer`.
fn request_origin(req: &HttpRequest) -> Option<String> {
    let header = |name| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    header(ORIGIN).or_else(|| header(REFERER))
}

/// Requests carrying cookies need a trusted Origin (CSRF); redirect-like fields must point
/// to trusted origins or safe relative paths, cookies or not.
fn origin_check(req: &HttpRequest, body: Option<&Value>, state: &AppState) -> ApiResult<()> {
    if req.headers().contains_key(COOKIE) {
        check_request_origin(req, state)?;
    }
    let Some(Value::Object(map)) = body else {
        return Ok(());
    };
    for field in [
        UrlField::CallbackUrl,
        UrlField::RedirectTo,
        UrlField::ErrorCallbackUrl,
        UrlField::NewUserCallbackUrl,
    ] {
        match map.get(field.body_key()) {
            None | Some(Value::Null) => {}
            Some(Value::String(url)) if url.is_empty() => {}
            Some(Value::String(url)) => {
                if !state.origins.is_trusted_callback(url) {
                    return Err(ApiError::InvalidUrlField(field));
                }
            }
            Some(_) => return Err(ApiError::UrlFieldNotString(field)),
        }
    }
    Ok(())
}

fn check_request_origin(req: &HttpRequest, state: &AppState) -> ApiResult<()> {
    match request_origin(req) {
        None => Err(ApiError::MissingOrNullOrigin),
        Some(o) if o == "null" => Err(ApiError::MissingOrNullOrigin),
        Some(o) if state.origins.is_trusted(&o) => Ok(()),
        Some(_) => Err(ApiError::InvalidOrigin),
    }
}

/// Login CSRF protection for sign-in and sign-up (`formCsrfMiddleware`): a cross-site
/// top-level navigation is refused, and an Origin, when sent, must be trusted.
pub fn form_csrf_check(req: &HttpRequest, state: &AppState) -> ApiResult<()> {
    if req.headers().contains_key(COOKIE) {
        return Ok(()); // already checked by the origin check
    }
    let fetch = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase)
    };
    let site = fetch("sec-fetch-site");
    let mode = fetch("sec-fetch-mode");
    let has_metadata = site.is_some() || mode.is_some() || fetch("sec-fetch-dest").is_some();
    if has_metadata {
        if site.as_deref() == Some("cross-site") && mode.as_deref() == Some("navigate") {
            return Err(ApiError::CrossSiteNavigationLoginBlocked);
        }
        return check_request_origin(req, state);
    }
    if request_origin(req).is_some() {
        return check_request_origin(req, state);
    }
    Ok(())
}

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
pub(crate) fn type_name(v: Option<&Value>) -> &'static str {
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

/// Collects zod-style issues (`[body.email] Invalid email address`) in schema order and
/// answers `400 VALIDATION_ERROR` with all of them joined by `; `.
pub struct Validator<'a> {
    fields: &'a Map<String, Value>,
    issues: Vec<String>,
}

static EMPTY: LazyLock<Map<String, Value>> = LazyLock::new(Map::new);

impl<'a> Validator<'a> {
    /// The body must be an object. `also_record` adds the second issue zod reports for
    /// schemas written as `object(...).and(record(...))` (sign-up).
    pub fn object(body: Option<&'a Value>, also_record: bool) -> ApiResult<Self> {
        match body {
            Some(Value::Object(fields)) => Ok(Self {
                fields,
                issues: Vec::new(),
            }),
            other => {
                let got = type_name(other);
                let mut message = format!("[body] Invalid input: expected object, received {got}");
                if also_record {
                    message.push_str(&format!(
                        "; [body] Invalid input: expected record, received {got}"
                    ));
                }
                Err(ApiError::Validation(message))
            }
        }
    }

    /// For endpoints whose body is optional: a missing body validates as `{}`.
    pub fn optional_object(body: Option<&'a Value>) -> ApiResult<Self> {
        match body {
            None => Ok(Self {
                fields: &EMPTY,
                issues: Vec::new(),
            }),
            some => Self::object(some, false),
        }
    }

    fn issue(&mut self, key: &str, message: impl std::fmt::Display) {
        self.issues.push(format!("[body.{key}] {message}"));
    }

    fn expected(&mut self, key: &str, ty: &str) {
        let got = type_name(self.fields.get(key));
        self.issue(key, format!("Invalid input: expected {ty}, received {got}"));
    }

    pub fn string(&mut self, key: &str) -> Option<&'a str> {
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
        let s = self.string(key)?;
        if s.is_empty() {
            self.issue(key, "Too small: expected string to have >=1 characters");
            return None;
        }
        Some(s)
    }

    /// `z.email()`
    pub fn email(&mut self, key: &str) -> Option<&'a str> {
        let s = self.string(key)?;
        if !is_valid_email(s) {
            self.issue(key, "Invalid email address");
            return None;
        }
        Some(s)
    }

    pub fn opt_string(&mut self, key: &str) -> Option<&'a str> {
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
        match self.fields.get(key) {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                self.expected(key, "boolean");
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

/// `z.record(z.string(), z.any())` bodies (update-user, update-session): any object.
pub fn record(body: Option<&Value>) -> ApiResult<&Map<String, Value>> {
    match body {
        Some(Value::Object(map)) => Ok(map),
        other => Err(ApiError::Validation(format!(
            "[body] Invalid input: expected record, received {}",
            type_name(other)
        ))),
    }
}

/// Query parameters validated like upstream's zod query schemas: repeated keys make an
/// array, issues read `[query.token] Invalid input: expected string, received undefined`.
pub struct QueryValidator {
    pairs: Vec<(String, String)>,
    issues: Vec<String>,
}

impl QueryValidator {
    pub fn new(req: &HttpRequest) -> Self {
        Self {
            pairs: url::form_urlencoded::parse(req.query_string().as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
            issues: Vec::new(),
        }
    }

    fn get(&mut self, key: &str, required: bool) -> Option<String> {
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

/// `originCheck(getter)` on GET endpoints: a callback URL in the query must be trusted.
pub fn check_callback_url(state: &AppState, url: Option<&str>) -> ApiResult<()> {
    match url {
        Some(url) if !url.is_empty() && !state.origins.is_trusted_callback(url) => {
            Err(ApiError::InvalidUrlField(UrlField::CallbackUrl))
        }
        _ => Ok(()),
    }
}

/// Query flags read with `z.coerce.boolean()`: any non-empty value is true (even "false").
pub fn query_flag(req: &HttpRequest, name: &str) -> bool {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .any(|(k, v)| k == name && !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn zod_messages() {
        let body = json!({"name": 1, "email": "bad", "password": ""});
        let mut v = Validator::object(Some(&body), true).unwrap();
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
        let err = Validator::object(None, true).err().unwrap().to_string();
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
