//! Upstream's open-api plugin: `GET /open-api/generate-schema` answers an OpenAPI 3.1
//! document of every endpoint this server has (the enabled plugins' included), built from
//! the endpoint declarations (`routes::api`), and `GET /reference` an API reference page
//! that works offline: Redoc, embedded in the binary, instead of upstream's Scalar from a CDN.

mod document;

use std::sync::{Arc, OnceLock};

use actix_web::http::header::{ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::Plugin;
use crate::config::ConfigError;
use crate::error::{ApiError, ApiResult};
use crate::rate_limit::Rule;
use crate::routes::{Answer, Api, Doc};
use crate::state::AppState;

pub use document::document;

/// Redoc's standalone bundle (see `assets/README.md`).
const REDOC_GZ: &[u8] = include_bytes!("assets/redoc.standalone.js.gz");

/// `[plugins.open_api]` (upstream `openAPI({path, disableDefaultReference})`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpenApiOptions {
    /// Where the reference page is served, under the base path.
    pub path: String,
    /// No reference page (the document stays).
    pub disable_default_reference: bool,
}

impl Default for OpenApiOptions {
    fn default() -> Self {
        Self {
            path: "/reference".into(),
            disable_default_reference: false,
        }
    }
}

pub struct OpenApiPlugin {
    /// The reference page's path; leaked once at start-up, as route patterns are static.
    reference: &'static str,
    /// Its script, beside it.
    script: &'static str,
    disable_default_reference: bool,
    /// The document as JSON, made on first use: everything it describes is fixed once the
    /// server runs.
    document: OnceLock<String>,
}

impl OpenApiPlugin {
    fn document_json(&self, state: &AppState) -> &str {
        self.document.get_or_init(|| document(state).to_string())
    }
}

pub fn plugin(table: Option<&toml::Table>) -> Result<Arc<dyn Plugin>, ConfigError> {
    let options: OpenApiOptions = super::options("open-api", table)?;
    let path = options.path.trim_end_matches('/');
    if !path.starts_with('/') || path.len() < 2 || path.contains(['{', '}', '?', '#']) {
        return Err(ConfigError::Invalid(
            "plugins.open_api.path must be a plain path such as \"/reference\"".into(),
        ));
    }
    Ok(Arc::new(OpenApiPlugin {
        reference: Box::leak(path.to_owned().into_boxed_str()),
        script: Box::leak(format!("{path}/redoc.standalone.js").into_boxed_str()),
        disable_default_reference: options.disable_default_reference,
        document: OnceLock::new(),
    }))
}

#[async_trait::async_trait(?Send)]
impl Plugin for OpenApiPlugin {
    fn id(&self) -> &'static str {
        "open-api"
    }

    fn routes(&self, api: &mut Api) {
        use crate::routes::api::schema::object;
        let e = api
            .endpoint("/open-api/generate-schema", Rule::Default)
            .get(
                generate_schema,
                Doc::new(
                    "generateOpenAPISchema",
                    "This document: every endpoint of this server",
                )
                .ok(object(&[], &["openapi", "info", "paths"])),
            );
        api.add(e);
        if self.disable_default_reference {
            return;
        }
        let e = api.endpoint(self.reference, Rule::Default).get(
            reference,
            Doc::new("openAPIReference", "The API reference page (works offline)").answer(
                200,
                "An HTML page",
                Answer::Text("text/html"),
            ),
        );
        api.add(e);
        let e = api.endpoint(self.script, Rule::Default).get(
            script,
            Doc::new(
                "openAPIReferenceScript",
                "The reference page's script (Redoc)",
            )
            .answer(200, "JavaScript", Answer::Text("text/javascript")),
        );
        api.add(e);
    }
}

/// `GET /open-api/generate-schema`
async fn generate_schema(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let plugin = state.config.plugins.of::<OpenApiPlugin>()?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(plugin.document_json(&state).to_owned()))
}

/// `GET /reference`: the document embedded in a page that renders it with Redoc. Its
/// Content-Security-Policy keeps it on this server: Redoc's one outside resource (a logo
/// in the sidebar footer, from Redocly's CDN) is never requested.
async fn reference(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let plugin = state.config.plugins.of::<OpenApiPlugin>()?;
    // A `</script>` inside the JSON must not end the script element.
    let spec = plugin.document_json(&state).replace("</", "<\\/");
    let script = format!("{}{}", state.config.base_path, plugin.script);
    let nonce = crate::crypto::random::string_from(crate::crypto::random::ALPHANUMERIC, 24);
    let policy = format!(
        "default-src 'none'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    );
    let html = format!(
        r#"<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Better Auth API</title>
    <style>body {{ margin: 0; }}</style>
  </head>
  <body>
    <div id="reference"></div>
    <script src="{script}" nonce="{nonce}"></script>
    <script nonce="{nonce}">
      Redoc.init({spec}, {{}}, document.getElementById("reference"));
    </script>
  </body>
</html>
"#
    );
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("content-security-policy", policy))
        .body(html))
}

/// The embedded Redoc bundle: gzipped as stored when the client takes gzip (every
/// browser), inflated otherwise.
async fn script(req: HttpRequest) -> ApiResult<HttpResponse> {
    let gzip_ok = req
        .headers()
        .get(ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    let mut response = HttpResponse::Ok();
    response
        .content_type("text/javascript; charset=utf-8")
        .insert_header((CACHE_CONTROL, "public, max-age=86400"));
    if gzip_ok {
        response.insert_header((CONTENT_ENCODING, "gzip"));
        return Ok(response.body(REDOC_GZ));
    }
    Ok(response.body(redoc_plain()?))
}

/// The bundle inflated, once (about 1 MB; only clients without gzip want it).
fn redoc_plain() -> ApiResult<&'static [u8]> {
    static PLAIN: OnceLock<Vec<u8>> = OnceLock::new();
    if let Some(plain) = PLAIN.get() {
        return Ok(plain);
    }
    let mut plain = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(REDOC_GZ), &mut plain)
        .map_err(|e| ApiError::Internal(format!("embedded reference script: {e}")))?;
    Ok(PLAIN.get_or_init(|| plain))
}
