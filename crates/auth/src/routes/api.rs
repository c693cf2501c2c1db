//! Endpoint registration. Each endpoint is declared once, with its pattern, rate-limit
//! rule, handlers and what they answer; the same declaration registers it with actix-web
//! and describes it for the OpenAPI document (`plugins/open_api`). Request bodies, query
//! and path parameters are not written down: they come from the handlers' extractor types
//! (`Body<T>` records what `T::read` reads, `Query<T>` likewise), so the document cannot
//! drift from what the server validates.

use actix_web::{web, FromRequest, Handler, HttpRequest, Responder};
use serde_json::{json, Value};

use super::body::Validator;
use super::body::{Body, MediaTypes, Query, QueryValidator, RequestBody, RequestQuery, Shape};
use crate::rate_limit::Rule;

/// One method of one endpoint, as the OpenAPI document shows it.
#[derive(Clone, Debug)]
pub struct Operation {
    /// `get` or `post`.
    pub method: &'static str,
    /// The actix pattern under the base path (`/reset-password/{token}`).
    pub path: &'static str,
    /// `Default` for the core, the plugin's name otherwise (upstream's tags).
    pub tag: String,
    /// The rate-limit rule its endpoint declared.
    pub rule: Rule,
    pub doc: Doc,
    pub body: Option<BodyDoc>,
    /// Query parameters: (name, required, schema).
    pub query: Vec<(String, bool, Value)>,
}

/// A request body: its schema, whether it may be absent, and whether forms are taken too.
#[derive(Clone, Debug)]
pub struct BodyDoc {
    pub schema: Value,
    pub required: bool,
    pub form: bool,
}

/// What an answer of one status carries.
#[derive(Clone, Debug)]
pub enum Answer {
    /// JSON of this schema.
    Json(Value),
    /// A text body of this media type (an HTML page, a script).
    Text(&'static str),
    /// A redirect (`Location`), no body.
    Redirect,
}

/// What the declaration says of an operation beyond its extractors.
#[derive(Clone, Debug)]
pub struct Doc {
    pub operation_id: &'static str,
    pub description: &'static str,
    /// (status, description, answer)
    pub responses: Vec<(u16, &'static str, Answer)>,
    /// Query parameters the handler reads by hand (flags such as `disableCookieCache`).
    pub query: Vec<(&'static str, Value)>,
    /// Needs the session (cookie or bearer token).
    pub signed_in: bool,
    /// The body also takes the declared user fields clients may set (additional fields,
    /// plugins' fields): sign-up and update-user, whose types read them as a record.
    pub user_fields: bool,
    /// Fields of a record body the handler reads by name (update-user's `name`, `image`).
    pub body_properties: Vec<(&'static str, Value)>,
}

impl Doc {
    pub fn new(operation_id: &'static str, description: &'static str) -> Self {
        Self {
            operation_id,
            description,
            responses: Vec::new(),
            query: Vec::new(),
            signed_in: false,
            user_fields: false,
            body_properties: Vec::new(),
        }
    }

    /// The body takes the declared user fields (see `user_fields`).
    pub fn user_fields(mut self) -> Self {
        self.user_fields = true;
        self
    }

    /// A field of a record body read by name.
    pub fn body_property(mut self, name: &'static str, schema: Value) -> Self {
        self.body_properties.push((name, schema));
        self
    }

    /// `200` with a JSON body of this schema.
    pub fn ok(self, schema: Value) -> Self {
        self.answer(200, "Success", Answer::Json(schema))
    }

    pub fn answer(mut self, status: u16, description: &'static str, answer: Answer) -> Self {
        self.responses.push((status, description, answer));
        self
    }

    /// `302` to where the flow continues.
    pub fn redirect(self) -> Self {
        self.answer(
            302,
            "Redirect to the next step of the flow",
            Answer::Redirect,
        )
    }

    /// An optional query parameter read by hand.
    pub fn query(mut self, name: &'static str, schema: Value) -> Self {
        self.query.push((name, schema));
        self
    }

    pub fn signed_in(mut self) -> Self {
        self.signed_in = true;
        self
    }
}

/// Registers endpoints with actix-web (or only describes them) and keeps their operations.
pub struct Api<'a> {
    cfg: Option<&'a mut web::ServiceConfig>,
    operations: Vec<Operation>,
    tag: String,
    /// Every endpoint pattern added, in order (one actix resource each).
    patterns: Vec<&'static str>,
}

impl<'a> Api<'a> {
    pub fn register(cfg: &'a mut web::ServiceConfig) -> Self {
        Self {
            cfg: Some(cfg),
            operations: Vec::new(),
            tag: "Default".into(),
            patterns: Vec::new(),
        }
    }

    /// Only the descriptions, for the OpenAPI document.
    pub fn describe() -> Api<'static> {
        Api {
            cfg: None,
            operations: Vec::new(),
            tag: "Default".into(),
            patterns: Vec::new(),
        }
    }

    /// The tag of the endpoints declared next (a plugin's).
    pub fn set_tag(&mut self, tag: String) {
        self.tag = tag;
    }

    pub fn operations(self) -> Vec<Operation> {
        self.operations
    }

    /// Patterns declared by more than one endpoint. actix routes a path to the first
    /// resource whose pattern matches, whatever the method, so the later one is never reached.
    pub fn duplicate_patterns(&self) -> Vec<&'static str> {
        let mut seen = std::collections::HashSet::new();
        self.patterns
            .iter()
            .filter(|p| !seen.insert(**p))
            .copied()
            .collect()
    }

    /// Starts an endpoint; `add` registers it.
    pub fn endpoint(&self, pattern: &'static str, rule: Rule) -> Endpoint {
        Endpoint {
            pattern,
            rule,
            tag: self.tag.clone(),
            routes: Vec::new(),
            operations: Vec::new(),
        }
    }

    pub fn add(&mut self, endpoint: Endpoint) {
        self.patterns.push(endpoint.pattern);
        self.operations.extend(endpoint.operations);
        if let Some(cfg) = self.cfg.as_deref_mut() {
            let mut resource = super::resource(endpoint.pattern, endpoint.rule);
            for route in endpoint.routes {
                resource = resource.route(route);
            }
            cfg.service(resource);
        }
    }
}

/// An endpoint being declared: one pattern, one handler per method.
pub struct Endpoint {
    pattern: &'static str,
    rule: Rule,
    tag: String,
    routes: Vec<actix_web::Route>,
    operations: Vec<Operation>,
}

impl Endpoint {
    pub fn get<F, Args>(self, handler: F, doc: Doc) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + Describe + 'static,
        F::Output: Responder + 'static,
    {
        self.method("get", web::get(), handler, doc)
    }

    pub fn post<F, Args>(self, handler: F, doc: Doc) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + Describe + 'static,
        F::Output: Responder + 'static,
    {
        self.method("post", web::post(), handler, doc)
    }

    fn method<F, Args>(
        mut self,
        method: &'static str,
        route: actix_web::Route,
        handler: F,
        doc: Doc,
    ) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + Describe + 'static,
        F::Output: Responder + 'static,
    {
        self.routes.push(route.to(handler));
        let mut operation = Operation {
            method,
            path: self.pattern,
            tag: self.tag.clone(),
            rule: self.rule,
            query: doc
                .query
                .iter()
                .map(|(name, schema)| ((*name).to_owned(), false, schema.clone()))
                .collect(),
            doc,
            body: None,
        };
        Args::describe(&mut operation);
        self.operations.push(operation);
        self
    }
}

/// What an extractor adds to an operation's description.
pub trait Describe {
    fn describe(_: &mut Operation) {}
}

impl Describe for HttpRequest {}
impl<T: ?Sized> Describe for web::Data<T> {}
/// Path parameters come from the pattern itself.
impl<T> Describe for web::Path<T> {}

/// Raw bytes: the form-post OAuth callback (a form or JSON, any fields).
impl Describe for web::Bytes {
    fn describe(op: &mut Operation) {
        op.body = Some(BodyDoc {
            schema: json!({"type": "object", "additionalProperties": true}),
            required: false,
            form: true,
        });
    }
}

impl<T: RequestBody> Describe for Body<T> {
    fn describe(op: &mut Operation) {
        if T::SHAPE == Shape::Any {
            return;
        }
        let mut v = Validator::recording();
        let _ = T::read(&mut v);
        op.body = Some(BodyDoc {
            schema: v.recorded_schema(T::SHAPE),
            required: T::SHAPE != Shape::OptionalObject,
            form: T::MEDIA == MediaTypes::JsonOrForm,
        });
    }
}

impl<T: RequestQuery> Describe for Query<T> {
    fn describe(op: &mut Operation) {
        let mut q = QueryValidator::recording();
        let _ = T::read(&mut q);
        for (name, required) in q.recorded() {
            op.query.push((name, required, json!({"type": "string"})));
        }
    }
}

macro_rules! describe_tuple {
    ($($t:ident),*) => {
        impl<$($t: Describe),*> Describe for ($($t,)*) {
            #[allow(unused_variables)]
            fn describe(op: &mut Operation) {
                $($t::describe(op);)*
            }
        }
    };
}
describe_tuple!();
describe_tuple!(A);
describe_tuple!(A, B);
describe_tuple!(A, B, C);
describe_tuple!(A, B, C, D);
describe_tuple!(A, B, C, D, E);

/// JSON Schemas of answers, for the declarations (`User` and `Session` are components the
/// document builds from the configured schema, plugin and additional fields included).
pub mod schema {
    use serde_json::{json, Map, Value};

    pub fn user() -> Value {
        json!({"$ref": "#/components/schemas/User"})
    }

    pub fn session() -> Value {
        json!({"$ref": "#/components/schemas/Session"})
    }

    /// `{session, user}`: get-session and the flows that answer the signed-in session.
    pub fn session_and_user() -> Value {
        object(
            &[("session", session()), ("user", user())],
            &["session", "user"],
        )
    }

    /// get-session's answer: `session_and_user`, plus `needsRefresh` on a deferred read.
    pub fn session_answer() -> Value {
        object(
            &[
                ("session", session()),
                ("user", user()),
                ("needsRefresh", boolean()),
            ],
            &["session", "user"],
        )
    }

    pub fn string() -> Value {
        json!({"type": "string"})
    }

    pub fn boolean() -> Value {
        json!({"type": "boolean"})
    }

    pub fn date_time() -> Value {
        json!({"type": "string", "format": "date-time"})
    }

    pub fn nullable(schema: Value) -> Value {
        json!({"anyOf": [schema, {"type": "null"}]})
    }

    pub fn array(items: Value) -> Value {
        json!({"type": "array", "items": items})
    }

    /// An object with these properties, these of them required; others allowed.
    pub fn object(properties: &[(&str, Value)], required: &[&str]) -> Value {
        let props: Map<String, Value> = properties
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        let mut out = Map::new();
        out.insert("type".into(), "object".into());
        out.insert("properties".into(), Value::Object(props));
        if !required.is_empty() {
            out.insert("required".into(), json!(required));
        }
        Value::Object(out)
    }

    /// `{status: boolean}`, the answer of most writes.
    pub fn status() -> Value {
        object(&[("status", boolean())], &["status"])
    }

    /// `{token, user}`: sign-up, change-password (token null without a new session).
    pub fn token_and_user() -> Value {
        object(
            &[("token", nullable(string())), ("user", user())],
            &["token", "user"],
        )
    }
}
