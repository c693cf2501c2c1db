//! `GET /ok` and `GET /error` (upstream `routes/ok.ts`, `routes/error.ts`).

use actix_web::{HttpRequest, HttpResponse};
use serde_json::json;

pub async fn ok() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "ok": true }))
}

/// Upstream's default error page: the code is shown only if it is a plain identifier.
pub async fn error_page(req: HttpRequest) -> HttpResponse {
    let mut code = String::from("UNKNOWN");
    let mut description = String::new();
    for (k, v) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
        match k.as_ref() {
            "error"
                if !v.is_empty()
                    && v.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "'_-".contains(c)) =>
            {
                code = v.into_owned();
            }
            "error_description" => description = v.into_owned(),
            _ => {}
        }
    }
    let page = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Authentication error</title></head><body style=\"font-family:system-ui,sans-serif;\
         max-width:40rem;margin:4rem auto;padding:0 1rem\"><h1>Something went wrong</h1>\
         <p>Error code: <code>{}</code></p><p>{}</p></body></html>",
        escape_html(&code),
        escape_html(&description)
    );
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(page)
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}
