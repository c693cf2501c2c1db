//! Request bodies and query strings as the endpoints take them: one extractor per kind.
//!
//! An endpoint declares its body as a type implementing [`RequestBody`] and takes
//! `Body<ThatType>`: the bytes are parsed as better-call parses them, the origin check runs
//! (`origin.rs`), the fields are validated in schema order with upstream's zod messages
//! (`validate.rs`), and the handler gets the typed value. Query strings likewise with
//! [`RequestQuery`] and `Query<T>`.

mod origin;
mod validate;

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::{web, FromRequest, HttpRequest};
use serde_json::{Map, Value};

pub use origin::{check_callback_url, form_csrf_check};
pub use validate::{
    is_valid_email, js_length, type_name, QueryValidator, Shape, Validator, MAX_FIELD_LEN,
};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Which bodies an endpoint accepts (better-call `allowedMediaTypes`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum MediaTypes {
    Json,
    JsonOrForm,
}

const JSON: &str = "application/json";
const FORM: &str = "application/x-www-form-urlencoded";

/// The body as better-call reads it: JSON, or a form where allowed; `None` without a body.
pub fn parse(req: &HttpRequest, bytes: &[u8], media: MediaTypes) -> ApiResult<Option<Value>> {
    if bytes.is_empty() {
        return Ok(None);
    }
    let allowed = || match media {
        MediaTypes::Json => JSON.to_owned(),
        MediaTypes::JsonOrForm => format!("{FORM}, {JSON}"),
    };
    // better-call's `getBody`: a body without a content type is refused.
    let Some(content_type) = req.headers().get(CONTENT_TYPE) else {
        return Err(ApiError::UnsupportedMediaType(format!(
            "Content-Type is required. Allowed types: {}",
            allowed()
        )));
    };
    // better-call's `getBody`: the media type before `;`, trimmed, lower-cased, must equal
    // one of the endpoint's allowed types exactly (`application/vnd.api+json` or
    // `text/json` are refused, as upstream does).
    let sent = content_type.to_str().unwrap_or("");
    let content_type = sent.to_ascii_lowercase();
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if essence == JSON {
        return serde_json::from_slice(bytes)
            .map(Some)
            .map_err(|_| ApiError::InvalidJson);
    }
    if media == MediaTypes::JsonOrForm && essence == FORM {
        let map: Map<String, Value> = url::form_urlencoded::parse(bytes)
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
        return Ok(Some(Value::Object(map)));
    }
    Err(ApiError::UnsupportedMediaType(format!(
        "Content-Type \"{sent}\" is not allowed. Allowed types: {}",
        allowed()
    )))
}

/// An endpoint's body schema.
pub trait RequestBody: Sized {
    const MEDIA: MediaTypes = MediaTypes::Json;
    const SHAPE: Shape = Shape::Object;

    /// Reads every field (so that every issue is reported), then builds the value; `None`
    /// only after the validator recorded an issue.
    fn read(v: &mut Validator<'_>) -> Option<Self>;
}

/// A validated body of type `T`.
pub struct Body<T>(pub T);

impl<T: RequestBody + 'static> FromRequest for Body<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let bytes = web::Bytes::from_request(&req, payload);
        Box::pin(async move {
            // Size and timeout errors keep actix's handling (413 with our body, 408).
            let bytes = bytes.await?;
            let Some(state) = req.app_data::<web::Data<AppState>>() else {
                return Err(ApiError::Internal("no application state".into()).into());
            };
            Ok(Body(read::<T>(&req, &bytes, state)?))
        })
    }
}

fn read<T: RequestBody>(req: &HttpRequest, bytes: &[u8], state: &AppState) -> ApiResult<T> {
    let body = parse(req, bytes, T::MEDIA)?;
    origin::origin_check(req, body.as_ref(), state)?;
    let mut v = Validator::new(body.as_ref(), T::SHAPE)?;
    let value = T::read(&mut v);
    v.finish()?;
    value.ok_or_else(|| ApiError::Internal("a body type gave no value without an issue".into()))
}

/// A body the endpoint does not read: only parsed and origin-checked (upstream endpoints
/// without a body schema).
pub struct NoSchema;

impl RequestBody for NoSchema {
    const SHAPE: Shape = Shape::Any;

    fn read(_: &mut Validator<'_>) -> Option<Self> {
        Some(NoSchema)
    }
}

/// `z.record(z.string(), z.any())`: any object, kept as sent.
pub struct AnyRecord(pub Map<String, Value>);

impl RequestBody for AnyRecord {
    const SHAPE: Shape = Shape::Record;

    fn read(v: &mut Validator<'_>) -> Option<Self> {
        Some(AnyRecord(v.fields().clone()))
    }
}

/// An endpoint's query schema.
pub trait RequestQuery: Sized {
    fn read(q: &mut QueryValidator) -> Option<Self>;
}

/// A validated query string of type `T`.
pub struct Query<T>(pub T);

impl<T: RequestQuery + 'static> FromRequest for Query<T> {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let mut q = QueryValidator::new(req);
        let value = T::read(&mut q);
        let result = q.finish().and_then(|()| {
            value.ok_or_else(|| ApiError::Internal("a query type gave no value".into()))
        });
        std::future::ready(result.map(Query).map_err(Into::into))
    }
}

/// Query flags read with `z.coerce.boolean()`: any non-empty value is true (even "false").
pub fn query_flag(req: &HttpRequest, name: &str) -> bool {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .any(|(k, v)| k == name && !v.is_empty())
}
