//! Running in production: shutdown, metrics, log format and connection limits.

use super::*;

/// Environment and flags for operating the server.
#[derive(Debug, Clone, Default, Args)]
pub struct DeployArgs {
    /// Seconds that in-flight requests get to finish after SIGTERM/SIGINT (default 30).
    #[arg(long, env = "BETTER_AUTH_SHUTDOWN_TIMEOUT", global = true)]
    pub shutdown_timeout: Option<u64>,
    /// Serve Prometheus metrics at `GET /metrics` on this address (e.g. `127.0.0.1:9464`);
    /// off by default, and never on the public port.
    #[arg(long, env = "BETTER_AUTH_METRICS_ADDR", global = true)]
    pub metrics_addr: Option<String>,
    /// Log lines as `text` (default) or `json` (one object per line).
    #[arg(long, env = "BETTER_AUTH_LOG_FORMAT", global = true)]
    pub log_format: Option<LogFormat>,
    /// Seconds a request body may take to arrive in full before the server answers 408 and
    /// closes the connection (default 15).
    #[arg(long, env = "BETTER_AUTH_BODY_TIMEOUT", global = true)]
    pub body_timeout: Option<u64>,
    /// Seconds a new connection may take to send its request line and headers (default 5).
    #[arg(long, env = "BETTER_AUTH_HEAD_TIMEOUT", global = true)]
    pub head_timeout: Option<u64>,
    /// Seconds an idle keep-alive connection stays open (default 5; 0 turns keep-alive off).
    #[arg(long, env = "BETTER_AUTH_KEEP_ALIVE", global = true)]
    pub keep_alive: Option<u64>,
    /// Open connections each worker thread accepts (default 25000); beyond it new
    /// connections wait in the listen backlog.
    #[arg(long, env = "BETTER_AUTH_MAX_CONNECTIONS", global = true)]
    pub max_connections: Option<usize>,
}

impl DeployArgs {
    pub(crate) fn without_empty_values(&self) -> DeployArgs {
        DeployArgs {
            shutdown_timeout: self.shutdown_timeout,
            metrics_addr: keep(&self.metrics_addr),
            log_format: self.log_format,
            body_timeout: self.body_timeout,
            head_timeout: self.head_timeout,
            keep_alive: self.keep_alive,
            max_connections: self.max_connections,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

pub(crate) fn deploy_config(
    args: &DeployArgs,
    file_timeout: Option<u64>,
    file_metrics: Option<String>,
) -> Result<(u64, Option<std::net::SocketAddr>), ConfigError> {
    let timeout = args.shutdown_timeout.or(file_timeout).unwrap_or(30);
    let metrics = args
        .metrics_addr
        .clone()
        .or(file_metrics)
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            s.trim().parse().map_err(|_| {
                ConfigError::Invalid(format!(
                    "metrics address {s:?} must be host:port, e.g. 127.0.0.1:9464"
                ))
            })
        })
        .transpose()?;
    Ok((timeout, metrics))
}

/// `[connections]` in the TOML file (seconds; the environment wins).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileConnections {
    pub(crate) body_timeout: Option<u64>,
    pub(crate) head_timeout: Option<u64>,
    pub(crate) keep_alive: Option<u64>,
    pub(crate) max_connections: Option<usize>,
}

/// What a client connection may hold: a slow client gets these, then it is cut off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Time for the whole request body to arrive (after the headers): then 408 and close.
    pub body_timeout: Duration,
    /// Time for the request line and headers of a new connection (actix's request timeout).
    pub head_timeout: Duration,
    /// Idle time of a keep-alive connection; zero turns keep-alive off.
    pub keep_alive: Duration,
    /// Connections per worker thread.
    pub max_connections: usize,
}

pub(crate) fn connection_limits(
    args: &DeployArgs,
    file: &FileConnections,
) -> Result<ConnectionLimits, ConfigError> {
    let seconds = |arg: Option<u64>, file: Option<u64>, default: u64, name: &str| {
        let s = arg.or(file).unwrap_or(default);
        if s > 3600 {
            return Err(ConfigError::Invalid(format!(
                "connections.{name} must be at most 3600 seconds"
            )));
        }
        Ok(Duration::from_secs(s))
    };
    let limits = ConnectionLimits {
        body_timeout: seconds(args.body_timeout, file.body_timeout, 15, "body_timeout")?,
        head_timeout: seconds(args.head_timeout, file.head_timeout, 5, "head_timeout")?,
        keep_alive: seconds(args.keep_alive, file.keep_alive, 5, "keep_alive")?,
        max_connections: args
            .max_connections
            .or(file.max_connections)
            .unwrap_or(25_000),
    };
    if limits.body_timeout.is_zero() || limits.head_timeout.is_zero() || limits.max_connections == 0
    {
        return Err(ConfigError::Invalid(
            "connections.body_timeout, head_timeout and max_connections must be above 0".into(),
        ));
    }
    Ok(limits)
}
