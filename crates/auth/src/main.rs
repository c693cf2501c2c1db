//! The command line: wiring only.

use clap::{Parser, Subcommand};
use migration::{Migrator, MigratorTrait};

use better_auth_server::config::{Config, ConfigArgs, LogFormat};
use better_auth_server::models::Timestamp;
use better_auth_server::plugins::jwt::{signing_row, JwtSigner};
use better_auth_server::store::Store;
use better_auth_server::{migrate_up, open_database, schema, serve, StartError};

#[derive(Parser)]
#[command(
    name = "better-auth-server",
    version,
    about = "A Better Auth-compatible auth server"
)]
struct Cli {
    #[command(flatten)]
    config: ConfigArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server (the default).
    Serve {
        /// Do not apply pending migrations at start.
        #[arg(long)]
        no_migrate: bool,
    },
    /// Manage the database schema.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Manage the JWT signing keys (the `jwks` table).
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Exit 0 when the server on the configured host and port is ready (its database
    /// answers), 1 otherwise: for container health checks.
    Healthcheck,
}

#[derive(Subcommand)]
enum KeysAction {
    /// Create a new signing key now; older keys stay in /jwks for the grace period.
    Rotate,
    /// List the keys: id (kid), algorithm, creation, expiry, and whether /jwks shows them.
    List,
}

#[derive(Subcommand)]
enum MigrateAction {
    /// Apply all pending migrations.
    Up,
    /// Roll back the last migrations.
    Down {
        #[arg(long, default_value_t = 1)]
        steps: u32,
    },
    /// List migrations and whether they are applied.
    Status,
    /// Drop every table and apply all migrations again (destroys data).
    Fresh,
}

fn init_logging(format: Option<LogFormat>) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only on a terminal: a file or a pipe gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    match format.unwrap_or_default() {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

async fn run(cli: Cli) -> Result<(), StartError> {
    let config = Config::load(&cli.config)?;
    match cli.command.unwrap_or(Command::Serve { no_migrate: false }) {
        Command::Serve { no_migrate } => serve(config, !no_migrate).await,
        Command::Migrate { action } => {
            let db = open_database(&config, false).await?;
            let plugins = config.plugins.migrations();
            match action {
                MigrateAction::Up => migrate_up(&db, &config).await?,
                // Plugin migrations were applied after the core ones: they go first.
                MigrateAction::Down { steps } => {
                    let undone = schema::migrate::down(&db, &plugins, steps as usize).await?;
                    let left = steps.saturating_sub(u32::try_from(undone).unwrap_or(u32::MAX));
                    if left > 0 {
                        Migrator::down(&db, Some(left)).await?;
                    }
                }
                MigrateAction::Fresh => {
                    Migrator::fresh(&db).await?;
                    migrate_up(&db, &config).await?;
                }
                MigrateAction::Status => {
                    for m in Migrator::get_migration_with_status(&db).await? {
                        println!("{}\t{}", m.name(), m.status());
                    }
                    for m in schema::migrate::status(&db, &plugins).await? {
                        let status = if m.applied { "Applied" } else { "Pending" };
                        println!("{}\t{status}", m.name);
                    }
                    let fields = &config.additional_fields;
                    if !fields.user.is_empty() || !fields.session.is_empty() {
                        let missing = schema::migrate::missing_fields(&db, fields).await?;
                        let status = if missing.is_empty() {
                            "Applied".to_owned()
                        } else {
                            format!("Pending (missing: {})", missing.join(", "))
                        };
                        println!("additional_fields\t{status}");
                    }
                }
            }
            Ok(())
        }
        Command::Healthcheck => {
            better_auth_server::health::check(&config).map_err(StartError::Setup)
        }
        Command::Keys { action } => {
            let db = open_database(&config, true).await?;
            let store = Store::new(db).await?;
            match action {
                KeysAction::Rotate => {
                    let kid = JwtSigner::new(&config)
                        .rotate(&store)
                        .await
                        .map_err(|e| StartError::Setup(e.to_string()))?;
                    println!("{kid}");
                }
                KeysAction::List => {
                    let now = Timestamp::now();
                    let grace = config.jwt.grace_period;
                    println!("kid\talg\tcreatedAt\texpiresAt\tstatus");
                    let rows = store.jwks().list().await?;
                    let signing =
                        signing_row(&rows, config.jwt.algorithm, now).map(|r| r.id.clone());
                    for row in &rows {
                        let status = match row.expires_at {
                            _ if signing.as_ref() == Some(&row.id) => "signing",
                            None => "published",
                            Some(e) if e > now => "published",
                            Some(e) if e.plus_seconds(grace) > now => "retired, published",
                            Some(_) => "retired",
                        };
                        println!(
                            "{}\t{}\t{}\t{}\t{status}",
                            row.id,
                            row.alg.as_deref().unwrap_or("EdDSA"),
                            row.created_at.to_iso(),
                            row.expires_at.map_or("-".into(), |e| e.to_iso()),
                        );
                    }
                }
            }
            Ok(())
        }
    }
}

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging(cli.config.deploy.log_format);
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("better-auth-server: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
