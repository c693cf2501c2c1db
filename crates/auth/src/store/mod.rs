//! Storage: one file per table over one sea-orm connection, each a view of the `Store`
//! (`store.users().find_by_email(..)`); writes that span tables, each one transaction, are
//! in `writes.rs`. Handlers never write SQL and never open transactions; they call these.

/// Declares a view of the store for one table: the table's queries are its methods, and
/// `Deref` gives them the shared connection and statement helpers of `Store`.
macro_rules! table_view {
    ($(#[$doc:meta])* $vis:vis struct $name:ident; $accessor:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy)]
        $vis struct $name<'a>(&'a super::Store);

        impl std::ops::Deref for $name<'_> {
            type Target = super::Store;
            fn deref(&self) -> &super::Store {
                self.0
            }
        }

        impl super::Store {
            $vis fn $accessor(&self) -> $name<'_> {
                $name(self)
            }
        }
    };
}

pub mod accounts;
pub mod codec;
pub mod jwks;
pub mod notify;
pub mod rate_limits;
mod session_batch;
pub mod session_cache;
pub mod session_storage;
pub mod sessions;
pub mod users;
pub mod verification_storage;
pub mod verifications;
mod writes;

use std::sync::Arc;
use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, QueryResult,
    Statement, Value as DbValue,
};
use serde_json::{Map, Value};

use crate::schema::{Field, Schema};

/// Opens the pool with settings that suit each backend.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    // Several processes opening one new SQLite file at once (replicas, `migrate up` beside
    // `serve`) can meet SQLITE_BUSY while one of them switches the file to WAL, which the
    // busy timeout does not cover: try again a few times.
    let mut attempts: u64 = 0;
    loop {
        match Database::connect(connect_options(url)).await {
            Err(e) if attempts < 10 && sqlite_busy(&e) => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(50 * attempts)).await;
            }
            result => return result,
        }
    }
}

/// SQLITE_BUSY (5) or SQLITE_LOCKED (6) while connecting.
fn sqlite_busy(e: &DbErr) -> bool {
    match e {
        DbErr::Conn(sea_orm::RuntimeErr::SqlxError(err)) => match err.as_ref() {
            sea_orm::sqlx::Error::Database(d) => matches!(d.code().as_deref(), Some("5" | "6")),
            _ => false,
        },
        _ => false,
    }
}

fn connect_options(url: &str) -> ConnectOptions {
    let mut options = ConnectOptions::new(url.to_owned());
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get()) as u32;
    options
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        .max_connections((cores * 4).max(8))
        .min_connections(1)
        // WAL lets readers (get-session) run while a writer commits; synchronous=FULL keeps
        // every committed session across a power loss (what Better Auth's setups use).
        // The busy timeout turns writer contention into waiting instead of SQLITE_BUSY.
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                .create_if_missing(true)
        });
    if url == crate::config::MEMORY_DATABASE_URL {
        // Stateless mode's in-memory database lives as long as a connection to it: keep
        // exactly one, never closed for idleness or age (and no shared-cache lock errors).
        options
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None::<Duration>)
            .max_lifetime(None::<Duration>)
            .map_sqlx_sqlite_opts(|o| {
                o.journal_mode(SqliteJournalMode::Memory)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true)
            });
    }
    options
}

/// A failure of the database or of Redis (secondary storage).
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error(transparent)]
    Database(#[from] DbErr),
    #[error("secondary storage (redis): {0}")]
    Redis(#[from] redis::RedisError),
}

/// The database handle the endpoints use.
#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
    backend: DbBackend,
    /// Better Auth builds after 1.7.25 add a required `account.issuer`; when a database has
    /// it we fill it in as upstream does (`local:credential`).
    account_has_issuer: bool,
    session_batcher: Arc<session_batch::SessionBatcher>,
    /// The fields plugins and `additional_fields` add to `user` and `session`.
    schema: Arc<Schema>,
    columns: Arc<Columns>,
    /// The in-process session cache, when on: user writes invalidate it here.
    cache: Option<Arc<session_cache::SessionCache>>,
}

/// The column lists of `user` and `session` with the declared fields, built once.
struct Columns {
    user: String,
    session: String,
    /// `session` columns as `s."x"`, then `user` columns as `u."x" as "u_x"`.
    joined: String,
}

impl Columns {
    fn new(schema: &Schema) -> Self {
        let quoted = |names: Vec<&str>| -> Vec<String> {
            names.iter().map(|n| format!(r#""{n}""#)).collect()
        };
        let user_names: Vec<&str> = users::CORE_COLUMNS
            .iter()
            .copied()
            .chain(schema.user.iter().map(|f| f.name.as_str()))
            .collect();
        let session_names: Vec<&str> = sessions::CORE_COLUMNS
            .iter()
            .copied()
            .chain(schema.session.iter().map(|f| f.name.as_str()))
            .collect();
        let joined: Vec<String> = session_names
            .iter()
            .map(|n| format!(r#"s."{n}""#))
            .chain(user_names.iter().map(|n| format!(r#"u."{n}" as "u_{n}""#)))
            .collect();
        Columns {
            user: quoted(user_names).join(", "),
            session: quoted(session_names).join(", "),
            joined: joined.join(", "),
        }
    }
}

impl Store {
    /// A store for a database without plugin or additional fields.
    pub async fn new(db: DatabaseConnection) -> Result<Self, DbErr> {
        Self::with_schema(db, Schema::default()).await
    }

    pub async fn with_schema(db: DatabaseConnection, schema: Schema) -> Result<Self, DbErr> {
        let backend = db.get_database_backend();
        let account_has_issuer = column_exists(&db, "account", "issuer").await?;
        Ok(Self {
            db,
            backend,
            account_has_issuer,
            session_batcher: Default::default(),
            columns: Arc::new(Columns::new(&schema)),
            schema: Arc::new(schema),
            cache: None,
        })
    }

    /// Session lookups are answered from `cache` when it holds them.
    pub fn with_cache(mut self, cache: Arc<session_cache::SessionCache>) -> Self {
        self.cache = Some(cache);
        self
    }

    pub fn cache(&self) -> Option<&session_cache::SessionCache> {
        self.cache.as_deref()
    }

    /// A committed write changed this user: the cached sessions that carry it go, here
    /// and on the other replicas.
    fn user_changed(&self, user_id: &str) {
        if let Some(cache) = &self.cache {
            cache.invalidate_user(user_id);
        }
    }

    /// The declared fields of `user` and `session`.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// Reads the declared fields of a table from a row (columns carry `prefix`), split into
    /// those returned to clients and the others.
    fn read_extra(
        &self,
        fields: &[Field],
        row: &QueryResult,
        prefix: &str,
    ) -> Result<crate::schema::SplitValues, DbErr> {
        let mut values = Map::new();
        for field in fields {
            let column = format!("{prefix}{}", field.name);
            let value = crate::schema::decode(self.backend, row, field, &column)?;
            values.insert(field.name.clone(), value);
        }
        Ok(crate::schema::split_returned(fields, values))
    }

    /// The column values of the declared fields for an insert (absent ones as NULL).
    fn extra_values(
        &self,
        fields: &[Field],
        extra: &Map<String, Value>,
        hidden: &Map<String, Value>,
    ) -> Vec<sea_orm::Value> {
        fields
            .iter()
            .map(|f| {
                let v = extra
                    .get(&f.name)
                    .or_else(|| hidden.get(&f.name))
                    .unwrap_or(&Value::Null);
                crate::schema::encode(self.backend, f, v)
            })
            .collect()
    }

    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    pub fn backend(&self) -> DbBackend {
        self.backend
    }

    /// A statement from SQL written with `$1, $2, ...` placeholders: SQLite takes them as
    /// `?1, ?2, ...`. Our SQL has no other `$`.
    fn stmt(&self, sql: &str, values: Vec<DbValue>) -> Statement {
        stmt(self.backend, sql, values)
    }

    /// `update "<table>" set <columns>, "updatedAt" = now where "<key>" = <value>`; false
    /// when no row has that key.
    async fn update_row(
        &self,
        table: &str,
        (key, key_value): (&str, DbValue),
        columns: Vec<(&str, DbValue)>,
        now: crate::models::Timestamp,
    ) -> Result<bool, DbErr> {
        let mut sets = Vec::new();
        let mut values = Vec::new();
        for (column, value) in columns {
            values.push(value);
            sets.push(format!(r#""{column}" = ${}"#, values.len()));
        }
        values.push(codec::time(self.backend, now));
        sets.push(format!(r#""updatedAt" = ${}"#, values.len()));
        values.push(key_value);
        let sql = format!(
            r#"update "{table}" set {} where "{key}" = ${}"#,
            sets.join(", "),
            values.len()
        );
        let done = self.db.execute_raw(self.stmt(&sql, values)).await?;
        Ok(done.rows_affected() > 0)
    }

    /// Checks that the database answers (readiness).
    pub async fn ping(&self) -> Result<(), DbErr> {
        self.db.ping().await
    }
}

/// `$1, $2, ..., $n`
fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A statement from SQL written with `$1, $2, ...` placeholders, for either backend.
pub(crate) fn stmt(backend: DbBackend, sql: &str, values: Vec<DbValue>) -> Statement {
    let sql = match backend {
        DbBackend::Sqlite => sql.replace('$', "?"),
        _ => sql.to_owned(),
    };
    Statement::from_sql_and_values(backend, sql, values)
}

async fn column_exists(db: &DatabaseConnection, table: &str, column: &str) -> Result<bool, DbErr> {
    let columns = crate::schema::migrate::columns(db, table).await?;
    Ok(columns.iter().any(|c| c == column))
}

/// True when the error is a unique-constraint violation (e.g. an email taken concurrently).
pub fn is_unique_violation(err: &DbErr) -> bool {
    matches!(
        err.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}
