//! The metadata store: one SQL text run on SQLite or PostgreSQL.
//!
//! Queries are runtime `query_as` calls with `$N` placeholders and column types both backends
//! share (i64 ids and unix-ms times, TEXT digests and JSON, BOOLEAN), so the build needs no
//! database and the two backends cannot drift apart.

mod assets;
mod audit;
mod blobstores;
mod cleanup;
mod gc_runs;
mod import_progress;
mod privileges;
mod repos;
mod search;
mod settings;
mod tasks;
mod users;

use std::{str::FromStr, time::Duration};

use sqlx::{
    migrate::Migrator,
    postgres::{PgPool, PgPoolOptions},
    sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
    },
};
use thiserror::Error;

pub use assets::{NewAsset, NewComponent, ReleasedBlob};
pub use audit::AuditEvent;
pub use blobstores::BlobStoreRow;
pub use cleanup::CleanupPolicyRow;
pub use gc_runs::GcRun;
pub use import_progress::ImportedAsset;
pub use privileges::{ContentSelectorRow, PrivilegeRow};
pub use search::SearchQuery;
pub use tasks::TaskRow;
pub use users::{ApiToken, Role, User};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../../migrations/postgres");

#[derive(Debug, Error)]
pub enum MetaError {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("invalid: {0}")]
    Invalid(String),
    #[error("database: {0}")]
    Db(sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored JSON: {0}")]
    Json(#[from] serde_json::Error),
}

impl From<sqlx::Error> for MetaError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => Self::NotFound,
            sqlx::Error::Database(d) if d.is_unique_violation() => {
                Self::Conflict(d.message().to_owned())
            }
            _ => Self::Db(e),
        }
    }
}

pub type Result<T, E = MetaError> = std::result::Result<T, E>;

/// The active metadata database.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Pg(PgPool),
}

/// Runs `$body` with `$p` bound to whichever pool is active; the body is compiled once per backend.
macro_rules! on_db {
    ($db:expr, |$p:ident| $body:expr) => {
        match $db {
            $crate::meta::Db::Sqlite($p) => $body,
            $crate::meta::Db::Pg($p) => $body,
        }
    };
}
pub(crate) use on_db;

/// Runs `$body` inside a transaction bound to `$tx`, committed when the body succeeds and rolled
/// back when it returns early with `?`. SQLite takes the write lock up front (`BEGIN IMMEDIATE`),
/// so two writers never deadlock upgrading from a read lock.
macro_rules! in_tx {
    ($db:expr, |$tx:ident| $body:expr) => {
        match $db {
            $crate::meta::Db::Sqlite(p) => {
                #[allow(unused_mut)]
                let mut $tx = p.begin_with("BEGIN IMMEDIATE").await?;
                let out = $body;
                $tx.commit().await?;
                out
            }
            $crate::meta::Db::Pg(p) => {
                #[allow(unused_mut)]
                let mut $tx = p.begin().await?;
                let out = $body;
                $tx.commit().await?;
                out
            }
        }
    };
}
pub(crate) use in_tx;

impl Db {
    /// Connects by URL scheme (`sqlite:` or `postgres:`), creating a SQLite file if missing.
    pub async fn connect(url: &str) -> Result<Self> {
        if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(30));
            // A connection to a local file does not go bad between uses: checking it before
            // each use (a round trip to its worker thread) only slows every query.
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .test_before_acquire(false)
                .connect_with(opts)
                .await?;
            Ok(Self::Sqlite(pool))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(30))
                .connect(url)
                .await?;
            Ok(Self::Pg(pool))
        } else {
            Err(MetaError::Invalid(format!(
                "unsupported database URL scheme in {:?}: use sqlite:// or postgres://",
                url.split(':').next().unwrap_or("")
            )))
        }
    }

    /// Applies pending migrations. On PostgreSQL sqlx holds an advisory lock meanwhile, so
    /// several nodes starting at once migrate once. Migrations newer than this build (applied
    /// by a newer node during a rolling upgrade) are let be: migrations only add (tables,
    /// nullable or defaulted columns), so an older node keeps working beside them.
    pub async fn migrate(&self) -> Result<()> {
        let lenient = |m: &Migrator| {
            let mut m = Migrator::with_migrations(m.iter().cloned().collect());
            m.set_ignore_missing(true);
            m
        };
        match self {
            Self::Sqlite(p) => lenient(&SQLITE_MIGRATIONS).run(p).await?,
            Self::Pg(p) => lenient(&POSTGRES_MIGRATIONS).run(p).await?,
        }
        Ok(())
    }

    /// `sqlite` or `postgresql`, for the status page.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Pg(_) => "postgresql",
        }
    }

    /// A cheap round trip, for health checks.
    pub async fn ping(&self) -> Result<()> {
        on_db!(self, |p| {
            sqlx::query("SELECT 1").execute(p).await?;
        });
        Ok(())
    }

    pub async fn close(&self) {
        on_db!(self, |p| p.close().await)
    }

    /// Tables and their columns, for the test that keeps both schemas equal (SQLite's full-text
    /// index and its shadow tables aside: PostgreSQL indexes the same columns).
    pub async fn schema(&self) -> Result<Vec<(String, String)>> {
        const SQLITE: &str = "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '_sqlx%' \
             AND m.name NOT IN (SELECT name FROM pragma_table_list WHERE type IN ('virtual', 'shadow')) ORDER BY 1, 2";
        const PG: &str = "SELECT table_name::text, column_name::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name NOT LIKE '_sqlx%' ORDER BY 1, 2";
        Ok(match self {
            Self::Sqlite(p) => sqlx::query_as(SQLITE).fetch_all(p).await?,
            Self::Pg(p) => sqlx::query_as(PG).fetch_all(p).await?,
        })
    }
}

fn json_text(v: &serde_json::Value) -> String {
    v.to_string()
}

fn parse_json(s: &str) -> Result<serde_json::Value> {
    Ok(serde_json::from_str(s)?)
}
