//! better-auth-server: a Better Auth-compatible authentication server.
//!
//! The binary (`main.rs`) is only the command line; everything it runs lives here so that
//! tests can start the same server on a random port.

pub mod body_timeout;
pub mod client_ip;
pub mod config;
pub mod cookie_cache;
pub mod cookies;
pub mod crypto;
pub mod error;
pub mod health;
pub mod mail;
pub mod metrics;
pub mod models;
pub mod oauth;
pub mod origins;
pub mod plugins;
pub mod rate_limit;
pub mod redirect;
pub mod routes;
pub mod schema;
pub mod secondary_storage;
pub mod state;
pub mod store;

use std::net::TcpListener;
use std::sync::Arc;

use actix_cors::Cors;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{http::header, web, App, HttpServer};
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, TransactionTrait};

use crate::config::{Config, ConfigError};
use crate::crypto::password::PasswordHasher;
use crate::state::AppState;
use crate::store::Store;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Setup(String),
}

/// Connects to the database and, unless told not to, applies pending migrations.
pub async fn open_database(
    config: &Config,
    migrate: bool,
) -> Result<DatabaseConnection, StartError> {
    let db = store::connect(&config.database_url).await?;
    if !migrate {
        return Ok(db);
    }
    migrate_up(&db, config).await?;
    if db.get_database_backend() != DbBackend::Sqlite
        || config.database_url == config::MEMORY_DATABASE_URL
    {
        return Ok(db);
    }
    // A SQLite connection prepares statements against the schema it last loaded, and one
    // the pool opened before a migration added `username` prepares `"username"` as a string
    // literal; SQLite re-prepares it when it runs, but sqlx keeps the first result column
    // names, so the value is not found by name. Serve from connections opened afterwards.
    // (The in-memory database has one connection, which ran the migration itself.)
    db.close().await?;
    Ok(store::connect(&config.database_url).await?)
}

/// Applies pending migrations: the core ones, then the enabled plugins' and the additional
/// fields (`schema::migrate`). Safe when several replicas (or `migrate up` and `serve`)
/// start at once: exactly one applies each migration, the others then find it applied.
pub async fn migrate_up(db: &DatabaseConnection, config: &Config) -> Result<(), DbErr> {
    let plugins = config.plugins.migrations();
    let additional = &config.additional_fields;
    if db.get_database_backend() == DbBackend::Postgres {
        // One transaction under a lock per schema: the others wait on the lock and then see
        // the committed migrations. DDL is transactional here, so a failure leaves nothing
        // half-applied.
        let tx = db.begin().await?;
        tx.execute_unprepared(
            "select pg_advisory_xact_lock(1650551148, hashtext(current_schema()))",
        )
        .await?;
        Migrator::up(&tx, None).await?;
        schema::migrate::up(&tx, &plugins, additional).await?;
        return tx.commit().await;
    }
    // SQLite has one writer at a time and our DDL says `if not exists`; a process that
    // loses the race on the migration record finds the migration applied by the winner.
    let mut attempts: u64 = 0;
    loop {
        let done = match Migrator::up(db, None).await {
            Ok(()) => schema::migrate::up(db, &plugins, additional).await,
            Err(e) => Err(e),
        };
        match done {
            Ok(()) => return Ok(()),
            Err(e) if attempts < 5 => {
                attempts += 1;
                tracing::debug!(error = %e, "migration raced another process; checking again");
                tokio::time::sleep(std::time::Duration::from_millis(100 * attempts)).await;
                if Migrator::get_pending_migrations(db).await?.is_empty() {
                    return schema::migrate::up(db, &plugins, additional).await;
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// Everything the handlers share, ready to serve.
pub async fn build_state(config: Config, db: DatabaseConnection) -> Result<AppState, StartError> {
    let parts = config.plugins.schema_parts();
    let schema = schema::Schema::new(parts.iter().chain([&config.additional_fields]));
    let mut store = Store::with_schema(db.clone(), schema).await?;
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mode = config.password.hashing;
    // Starting the pool makes the dummy hash (one hash): do it off the async executor.
    let hasher = tokio::task::spawn_blocking(move || PasswordHasher::new(mode, cores))
        .await
        .map_err(|e| StartError::Setup(e.to_string()))?
        .map_err(|e| StartError::Setup(e.to_string()))?;
    let mailer = mail::Mailer::start(&config.mail).map_err(|e| StartError::Setup(e.to_string()))?;
    let metrics = metrics::Metrics::new().map_err(|e| StartError::Setup(e.to_string()))?;
    let redis = match &config.redis {
        Some(c) => Some(
            secondary_storage::Redis::connect(c)
                .await
                .map_err(|e| StartError::Setup(format!("redis: {e}")))?,
        ),
        None => None,
    };
    let settings = config.session.memory_cache;
    if settings.enabled {
        use store::notify::{self, Transport};
        let cache =
            store::session_cache::SessionCache::new(settings, metrics.session_cache.clone());
        // Replicas hear of each other's session changes through Redis when it is there,
        // else through PostgreSQL; SQLite runs one process.
        let cache = match (&redis, db.get_database_backend()) {
            (Some(r), _) => notify::start(cache, Transport::Redis(r.clone())).await,
            (None, DbBackend::Postgres) => notify::start(cache, Transport::Postgres(db)).await,
            (None, _) => Arc::new(cache),
        };
        store = store.with_cache(cache);
    }
    Ok(AppState::new(config, store, hasher, mailer, metrics, redis))
}

/// CORS for the trusted origins with credentials: Better Auth has none itself, but a web
/// app on another origin must be able to call us and read the plugins' headers
/// (`set-auth-token`, `set-auth-jwt`, `set-ott`).
fn cors(state: Arc<AppState>) -> Cors {
    let exposed = state.config.plugins.exposed_headers();
    let cors = Cors::default();
    let cors = if exposed.is_empty() {
        cors
    } else {
        cors.expose_headers(exposed)
    };
    cors.allowed_origin_fn(move |origin, _| {
        origin.to_str().is_ok_and(|o| state.origins.is_trusted(o))
    })
    .allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
    .allowed_headers([header::CONTENT_TYPE, header::AUTHORIZATION])
    .supports_credentials()
    .max_age(600)
    // An untrusted Origin gets no CORS headers instead of an error: the endpoint's own
    // origin check answers with Better Auth's error body where it matters.
    .block_on_origin_mismatch(false)
}

/// actix-cors adds `access-control-allow-credentials` and `-expose-headers` to every
/// response. A request without `Origin` is not a CORS request: it gets what Better Auth
/// sends, i.e. only `access-control-expose-headers` naming the plugins' headers this
/// answer carries. `Vary: Origin` stays: caches must not reuse this answer
/// for a CORS request.
async fn cors_headers_only_with_origin(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let cross_origin = req.headers().contains_key(header::ORIGIN);
    let mut res = next.call(req).await?;
    if !cross_origin {
        let plugin_headers = res
            .request()
            .app_data::<web::Data<AppState>>()
            .map(|state| state.config.plugins.exposed_headers())
            .unwrap_or_default();
        let headers = res.headers_mut();
        headers.remove(header::ACCESS_CONTROL_ALLOW_CREDENTIALS);
        let exposed: Vec<&str> = plugin_headers
            .into_iter()
            .filter(|name| headers.contains_key(*name))
            .collect();
        match header::HeaderValue::from_str(&exposed.join(", ")) {
            Ok(value) if !exposed.is_empty() => {
                headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, value);
            }
            _ => {
                headers.remove(header::ACCESS_CONTROL_EXPOSE_HEADERS);
            }
        }
    }
    Ok(res)
}

/// The HTTP server on an already bound listener (port 0 in tests).
pub fn server(
    state: web::Data<AppState>,
    listener: TcpListener,
) -> Result<actix_web::dev::Server, StartError> {
    let base_path = state.config.base_path.clone();
    let shutdown_timeout = state.config.shutdown_timeout;
    let limits = state.config.connections;
    let server = HttpServer::new(move || {
        let shared = state.clone().into_inner();
        App::new()
            .app_data(state.clone())
            .wrap(actix_web::middleware::from_fn(body_timeout::body_deadline))
            .wrap(actix_web::middleware::from_fn(metrics::record))
            .service(
                web::scope(&base_path)
                    .wrap(actix_web::middleware::from_fn(plugins::after_hooks))
                    .wrap(actix_web::middleware::ErrorHandlers::new().handler(
                        actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
                        error::payload_too_large,
                    ))
                    .wrap(cors(shared.clone()))
                    .wrap(actix_web::middleware::from_fn(
                        cors_headers_only_with_origin,
                    ))
                    .app_data(web::PayloadConfig::new(64 * 1024))
                    .configure(|cfg| routes::configure(cfg, &shared.config.plugins)),
            )
            .default_service(web::to(routes::not_found))
    })
    // `serve` handles SIGTERM and SIGINT itself: both stop gracefully (actix would stop
    // at once on SIGINT).
    .disable_signals()
    .shutdown_timeout(shutdown_timeout)
    .client_request_timeout(limits.head_timeout)
    .keep_alive(if limits.keep_alive.is_zero() {
        actix_web::http::KeepAlive::Disabled
    } else {
        actix_web::http::KeepAlive::Timeout(limits.keep_alive)
    })
    .max_connections(limits.max_connections)
    .listen(listener)?
    .run();
    Ok(server)
}

/// Prometheus metrics on their own listener: `GET /metrics`.
pub fn metrics_server(
    state: web::Data<AppState>,
    listener: TcpListener,
) -> Result<actix_web::dev::Server, StartError> {
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .route("/metrics", web::get().to(metrics::scrape))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(1)
    .listen(listener)?
    .run();
    Ok(server)
}

/// Resolves on SIGTERM (what orchestrators send) or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => tracing::info!("SIGTERM received: shutting down"),
                    _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received: shutting down"),
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("Ctrl-C received: shutting down");
    }
}

/// `better-auth-server serve`
pub async fn serve(config: Config, migrate: bool) -> Result<(), StartError> {
    let listener = TcpListener::bind((config.host.as_str(), config.port))?;
    let metrics_listener = config.metrics_addr.map(TcpListener::bind).transpose()?;
    let db = open_database(&config, migrate).await?;
    tracing::info!(
        address = %listener.local_addr()?,
        base_url = %config.base_url,
        database = %config::redact_url(&config.database_url),
        "better-auth-server listening"
    );
    let state = web::Data::new(build_state(config, db).await?);
    let running = server(state.clone(), listener)?;
    let metrics = match metrics_listener {
        Some(l) => {
            tracing::info!(address = %l.local_addr()?, "metrics at /metrics");
            let m = metrics_server(state.clone(), l)?;
            let handle = m.handle();
            actix_web::rt::spawn(m);
            Some(handle)
        }
        None => None,
    };
    // Graceful stop: no new connections, in-flight requests get `shutdown_timeout` seconds.
    let handle = running.handle();
    actix_web::rt::spawn(async move {
        shutdown_signal().await;
        handle.stop(true).await;
    });
    running.await?;
    if let Some(m) = metrics {
        m.stop(true).await;
    }
    // Give mails queued by the last requests a chance to leave before the process ends.
    state.mailer.drain(std::time::Duration::from_secs(15)).await;
    state.store.connection().clone().close().await?;
    tracing::info!("stopped");
    Ok(())
}
