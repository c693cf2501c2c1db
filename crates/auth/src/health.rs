//! Readiness (`GET /readyz`: the database answers) and the `healthcheck` subcommand that
//! asks it, so that a container image needs no curl for its health check.
//! Liveness is upstream's `GET /ok`.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::config::Config;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// How long the database gets to answer `select 1` before the server says it is not ready.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /readyz` → `{"status":"ok"}`, or 503 `DATABASE_UNAVAILABLE` (or
/// `SESSION_STORAGE_UNAVAILABLE` when sessions are in a Redis that does not answer).
pub async fn ready(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    match tokio::time::timeout(READY_TIMEOUT, state.sessions.ping()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e.into()),
        Err(_) => return Err(ApiError::SessionStorageUnavailable("timed out".into())),
    }
    match tokio::time::timeout(READY_TIMEOUT, state.store.ping()).await {
        Ok(Ok(())) => Ok(HttpResponse::Ok()
            .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
            .json(json!({ "status": "ok" }))),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: database error");
            Err(ApiError::DatabaseUnavailable)
        }
        Err(_) => {
            tracing::warn!("readiness: the database did not answer in time");
            Err(ApiError::DatabaseUnavailable)
        }
    }
}

/// `better-auth-server healthcheck`: GETs `/readyz` on the configured port over loopback.
/// Ok when it answers 200.
pub fn check(config: &Config) -> Result<(), String> {
    // A server listening on every address is reached over loopback.
    let host = match config.host.as_str() {
        "0.0.0.0" | "" => "127.0.0.1",
        "::" | "[::]" => "::1",
        h => h,
    };
    let addr = (host.trim_matches(|c| c == '[' || c == ']'), config.port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("cannot resolve {host}"))?;
    let timeout = READY_TIMEOUT + Duration::from_secs(1);
    let mut stream =
        TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("{addr}: {e}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .map_err(|e| e.to_string())?;
    let path = format!("{}/readyz", config.base_path.trim_end_matches('/'));
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut head = [0u8; 64];
    let n = stream.read(&mut head).map_err(|e| e.to_string())?;
    let status_line = String::from_utf8_lossy(&head[..n]);
    let status = status_line.split_whitespace().nth(1).unwrap_or("none");
    if status == "200" {
        Ok(())
    } else {
        Err(format!("{path} answered {status}"))
    }
}
