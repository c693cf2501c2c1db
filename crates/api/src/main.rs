//! An example API protected by better-auth-server JWTs.
//!
//!   BETTER_AUTH_URL=http://localhost:3001 API_AUDIENCE=http://localhost:3001 \
//!   cargo run -p better-auth-api --features example
//!
//! `GET /health` is public; `GET /api/me` returns the verified claims; `GET /api/protected`
//! sits behind the `require_auth` middleware. `better-auth-api healthcheck` exits 0 when
//! `/health` answers 200 on `PORT` (container health checks without curl).
//!
//! `BETTER_AUTH_JWKS_URL` overrides where keys are fetched, for when the API reaches the auth
//! server by another name than its public URL (a service name in docker compose).

use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpResponse, HttpServer};
use better_auth_api::actix::{require_auth, AuthUser};
use better_auth_api::{Verifier, VerifierConfig};
use serde_json::json;

async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

async fn me(user: AuthUser) -> HttpResponse {
    HttpResponse::Ok().json(&user.0)
}

async fn protected(user: AuthUser) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "message": format!("Hello, {}", user.name.as_deref().unwrap_or(user.user_id())),
        "userId": user.user_id(),
    }))
}

fn env(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// `better-auth-api healthcheck`: GET /health over loopback, 200 or failure.
fn healthcheck() -> Result<(), Box<dyn std::error::Error>> {
    use std::io::{Read, Write};
    let port: u16 = env("PORT", "8000").parse()?;
    let timeout = std::time::Duration::from_secs(3);
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = std::net::TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    write!(
        stream,
        "GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut head = [0u8; 32];
    let n = stream.read(&mut head)?;
    match String::from_utf8_lossy(&head[..n])
        .split_whitespace()
        .nth(1)
    {
        Some("200") => Ok(()),
        other => Err(format!("/health answered {other:?}").into()),
    }
}

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    if std::env::args().nth(1).as_deref() == Some("healthcheck") {
        return match healthcheck() {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("better-auth-api: unhealthy: {e}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("better-auth-api: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let auth_url = env("BETTER_AUTH_URL", "http://localhost:3001");
    let mut config = VerifierConfig::for_auth_server(&auth_url)?;
    let audience = env("API_AUDIENCE", "");
    if !audience.is_empty() {
        let list: Vec<&str> = audience.split(',').map(str::trim).collect();
        config = config.audiences(&list);
    }
    let jwks_url = env("BETTER_AUTH_JWKS_URL", "");
    if !jwks_url.is_empty() {
        config.jwks_url = jwks_url.parse()?;
    }
    let verifier = Verifier::new(config)?;
    let host = env("HOST", "127.0.0.1");
    let port: u16 = env("PORT", "8000").parse()?;
    tracing::info!(%auth_url, %host, port, "better-auth-api listening");
    HttpServer::new(move || {
        // Bearer tokens, not cookies: any origin may call, without credentials.
        let cors = actix_cors::Cors::default()
            .allow_any_origin()
            .allowed_methods(["GET", "POST", "OPTIONS"])
            .allowed_headers([
                actix_web::http::header::AUTHORIZATION,
                actix_web::http::header::CONTENT_TYPE,
            ])
            .max_age(600);
        App::new()
            .app_data(web::Data::new(verifier.clone()))
            .wrap(cors)
            .route("/health", web::get().to(health))
            .route("/api/me", web::get().to(me))
            .service(
                web::scope("/api/protected")
                    .wrap(from_fn(require_auth))
                    .route("", web::get().to(protected)),
            )
    })
    .bind((host.as_str(), port))?
    .run()
    .await?;
    Ok(())
}
