//! One code base for SQLite (the embedded default) and PostgreSQL (production).
//!
//! Queries are runtime `sqlx::query` with `$1` placeholders, which both backends accept.
//! Values crossing the boundary are TEXT, BIGINT (UTC milliseconds for time), DOUBLE
//! and BLOB/BYTEA, the types `sqlx::Any` maps on both.
//!
//! SQLite allows one writer at a time, so the SQLite writer pool has exactly one
//! connection: writers queue in the pool instead of failing with `SQLITE_BUSY`, and a
//! read-then-write transaction can never hit a stale snapshot. Readers use their own
//! pool and see committed data (WAL).

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Duration;

use sqlx::AnyConnection;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor, Transaction};
use tokio::sync::Notify;

mod deferred;
mod json_rows;
mod migrate;
mod outbox_rows;
mod params;
mod together;

pub use deferred::{BoundQuery, DeferredRow};
pub use json_rows::{from_json_rows, json_rows};
pub use migrate::{Migration, Migrations};
pub(crate) use outbox_rows::OutboxRow;
pub use params::Params;
pub use together::Together;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }
}

/// A service's database.
#[derive(Clone, Debug)]
pub struct Db {
    writer: AnyPool,
    reader: AnyPool,
    backend: Backend,
    /// The owning service's name, recorded as the producer of its events.
    service: Arc<str>,
    /// Woken when a transaction that wrote outbox rows commits, so the relay publishes
    /// at once instead of at its next poll.
    outbox_written: Arc<Notify>,
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("unsupported database url `{0}`: use sqlite:... or postgres://...")]
    UnsupportedUrl(String),
    #[error("cannot create the data folder {path}")]
    DataDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot connect to the database")]
    Connect(#[source] sqlx::Error),
}

impl Db {
    pub async fn connect(url: &str, service: &str) -> Result<Db, DbError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url).ok_or_else(|| DbError::UnsupportedUrl(url.into()))?;
        match backend {
            Backend::Sqlite => {
                if let Some(parent) =
                    sqlite_file(url).and_then(|p| p.parent().map(|p| p.to_owned()))
                    && !parent.as_os_str().is_empty()
                {
                    std::fs::create_dir_all(&parent).map_err(|source| DbError::DataDir {
                        path: parent.display().to_string(),
                        source,
                    })?;
                }
                let writer = sqlite_pool(url, 1).await?;
                let reader = sqlite_pool(url, 4).await?;
                Ok(Db::from_pools(writer, reader, backend, service))
            }
            Backend::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect(url)
                    .await
                    .map_err(DbError::Connect)?;
                Ok(Db::from_pools(pool.clone(), pool, backend, service))
            }
        }
    }

    fn from_pools(writer: AnyPool, reader: AnyPool, backend: Backend, service: &str) -> Db {
        Db {
            writer,
            reader,
            backend,
            service: Arc::from(service),
            outbox_written: Arc::new(Notify::new()),
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The writer pool, for a single statement that needs no transaction of its own
    /// (SQLite commits it by itself; no BEGIN and COMMIT round trips).
    pub(crate) fn writer(&self) -> &AnyPool {
        &self.writer
    }

    /// Pool for reads that need no transaction.
    pub fn reader(&self) -> &AnyPool {
        &self.reader
    }

    /// Starts a write transaction.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        Ok(Tx {
            inner: self.writer.begin().await?,
            outbox_rows: Vec::new(),
            deferred: Vec::new(),
            outbox_written: self.outbox_written.clone(),
            service: self.service.clone(),
        })
    }

    pub(crate) fn outbox_signal(&self) -> Arc<Notify> {
        self.outbox_written.clone()
    }

    pub async fn migrate(&self, migrations: &Migrations) -> anyhow::Result<()> {
        migrate::run(self, migrations).await
    }

    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }
}

/// A write transaction. Events enqueued in it are written to the outbox in one
/// statement just before it commits; committing one that enqueued events wakes the
/// outbox relay.
pub struct Tx {
    inner: Transaction<'static, sqlx::Any>,
    /// Outbox rows enqueued so far, written at commit: a batch of N events costs one
    /// round trip to the database instead of N.
    outbox_rows: Vec<OutboxRow>,
    /// Append-only rows deferred to the commit (see [`DeferredRow`]).
    deferred: Vec<Box<dyn DeferredRow>>,
    outbox_written: Arc<Notify>,
    service: Arc<str>,
}

impl Tx {
    pub(crate) fn service(&self) -> &str {
        &self.service
    }

    /// Writes the deferred rows and then the outbox rows (on SQLite in one round trip)
    /// and commits.
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        let mut writes = Together::new(&self.inner);
        let deferred = std::mem::take(&mut self.deferred);
        for statement in deferred::statements(&self.inner, &deferred) {
            writes.push(statement)?;
        }
        let rows = std::mem::take(&mut self.outbox_rows);
        let wrote_outbox = !rows.is_empty();
        for statement in outbox_rows::statements(&self.inner, &rows) {
            writes.push(statement)?;
        }
        writes.execute(&mut self.inner).await?;
        self.inner.commit().await?;
        if wrote_outbox {
            self.outbox_written.notify_one();
        }
        Ok(())
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.inner.rollback().await
    }

    /// Inserts `row` when the transaction commits, in one statement with the other rows
    /// deferred for its table. Only for rows nothing in the transaction reads back and
    /// no constraint can refuse: an error at commit fails the whole transaction.
    pub fn defer(&mut self, row: impl DeferredRow) {
        self.deferred.push(Box::new(row));
    }

    pub(crate) fn push_outbox_row(&mut self, row: OutboxRow) {
        self.outbox_rows.push(row);
    }
}

impl Deref for Tx {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.inner
    }
}

impl DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.inner
    }
}

fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then(|| std::path::PathBuf::from(path))
}

async fn sqlite_pool(url: &str, max: u32) -> Result<AnyPool, DbError> {
    AnyPoolOptions::new()
        .max_connections(max)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(30))
        // A connection to a local file cannot go stale the way a socket can; pinging it
        // before each use was a round trip to its thread per transaction.
        .test_before_acquire(false)
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                // WAL: readers never block the writer. synchronous=NORMAL: a commit
                // survives a process crash; only an OS crash may lose the last commits.
                // mmap: pages are read from the OS page cache in place instead of being
                // copied by a pread each (a 1M-customer dedup file is ~1 GB, far beyond
                // the default 2 MB page cache); the mapping costs address space, not
                // memory. A 16 MB page cache per connection keeps the hot index pages.
                // Plans never depend on bound values (SQLITE_ENABLE_QPSG, set for the
                // build in .cargo/config.toml), so a cached statement is never re-planned.
                // temp_store=MEMORY: the journals of savepoints and of statements that
                // may roll back alone stay in memory; as temporary files (the default)
                // each was created, written and deleted, a third of a consumer's
                // SQLite time. They only ever hold a transaction's pages in flight.
                conn.execute(
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; \
                     PRAGMA busy_timeout=10000; PRAGMA foreign_keys=ON; \
                     PRAGMA mmap_size=1073741824; PRAGMA cache_size=-16384; \
                     PRAGMA temp_store=MEMORY;",
                )
                .await?;
                Ok(())
            })
        })
        .connect(url)
        .await
        .map_err(DbError::Connect)
}

/// True when the error is a unique-constraint violation (a concurrent insert of the
/// same key), which callers resolve by re-reading instead of failing.
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => {
            db.is_unique_violation()
                || db
                    .code()
                    .is_some_and(|c| c == "23505" || c == "2067" || c == "1555")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_file_is_found_in_urls() {
        assert_eq!(
            sqlite_file("sqlite://data/x.db?mode=rwc").unwrap(),
            std::path::PathBuf::from("data/x.db")
        );
        assert!(sqlite_file("sqlite::memory:").is_none());
        assert_eq!(
            Backend::from_url("postgresql://h/db"),
            Some(Backend::Postgres)
        );
        assert_eq!(Backend::from_url("mysql://h/db"), None);
    }

    /// The bundled SQLite must be built with the query planner stability guarantee
    /// (`.cargo/config.toml`): without it every statement with a bound `LIMIT` is parsed
    /// and planned again on each execution, however long sqlx has cached it.
    #[tokio::test]
    async fn sqlite_plans_ignore_bound_values() {
        sqlx::any::install_default_drivers();
        let pool = sqlite_pool("sqlite::memory:", 1).await.unwrap();
        let options: Vec<String> =
            sqlx::query_scalar("SELECT compile_options FROM pragma_compile_options")
                .fetch_all(&pool)
                .await
                .unwrap();
        assert!(
            options.iter().any(|o| o == "ENABLE_QPSG"),
            "SQLite built without SQLITE_ENABLE_QPSG; compile options: {options:?}"
        );
    }
}
