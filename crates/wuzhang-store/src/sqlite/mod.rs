//! The embedded store: one SQLite file (`migrations/sqlite`), nothing to install.
//!
//! Same semantics as [`PostgresStore`](crate::PostgresStore), proven by the conformance
//! suite. SQLite has no row locks, so every write transaction starts with
//! `BEGIN IMMEDIATE`: it takes the database's single write lock up front (waiting up to the
//! busy timeout), which serialises writers, gives timer claims the same exactly-once
//! guarantee within one process as `SKIP LOCKED`, and avoids the deadlock of two readers
//! upgrading to writers. WAL lets readers go on meanwhile. Within a process, writes
//! also share one connection (`SqliteStore::writer`), so they queue there rather than on
//! the lock; the lock is what orders writers of other processes.
//!
//! Layout (the same parts as [`crate::postgres`]):
//! - here: [`SqliteStore`], opening it (options, the readers' pool and the writers'
//!   connection), and the [`Store`] methods of the store as a whole.
//! - `rows`: rows ↔ domain values, binders and INSERT statements.
//! - `batch`: the group-commit writer of new tickets.
//! - `checkpoint`: WAL checkpoints off the writers' path.
//! - `areas`, `roster`, `categories`, `tickets`, `timers`, `idempotency`: one part of
//!   the trait each ([`AreaStore`](crate::AreaStore), …), with the writes other parts share.
//! - `firing`: claiming and firing due timers; `feed`: the event feed.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool};

use crate::error::{Result, StoreError};
use crate::group_commit::GroupCommit;
use crate::interface::{Backend, Store};
use crate::model::ReferenceCounters;

mod areas;
mod batch;
mod campaigns;
mod categories;
mod checkpoint;
mod emergency;
mod feed;
mod firing;
mod idempotency;
mod organizations;
mod rollups;
mod roster;
mod rows;
mod tickets;
mod timers;

use batch::start_group_commit;
use checkpoint::{CHECKPOINT_EVERY, checkpoint, checkpoint_in_background};

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// How long a writer waits for the write lock before the call fails as Unavailable.
const BUSY_TIMEOUT: StdDuration = StdDuration::from_secs(5);
/// Readers' connections. Writers have one of their own (SQLite has one write lock anyway).
const MAX_CONNECTIONS: u32 = 8;

/// The SQLite store. Cheap to clone: clones share one pool (and one temporary file).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// For reads (and a timer handler reading the roster while its worker writes).
    pool: SqlitePool,
    /// One connection, for every write. Writers wait for it in turn, where on
    /// connections of their own they would poll SQLite's lock (its busy handler sleeps
    /// between tries); and its page cache stays valid from one transaction to the next,
    /// where a write on a pooled connection found it dropped by others' commits and read
    /// its pages again.
    writer: SqlitePool,
    /// Keeps the directory of an [`in_memory`](Self::in_memory) store alive as long as the
    /// store; it is deleted when the last clone goes.
    _temp_dir: Option<Arc<tempfile::TempDir>>,
    /// New tickets go through it, so concurrent submissions share one transaction.
    batch: GroupCommit,
    /// The background checkpointer stops once the last clone has dropped this.
    _alive: Arc<()>,
    /// Roster and category changes committed through this store (its clones share it).
    reference_writes: Arc<AtomicU64>,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `path_or_url`: a file path, or a
    /// `sqlite:` URL (`sqlite://data/wuzhang.db`, `sqlite:wuzhang.db?mode=rwc`).
    /// `:memory:` and `sqlite::memory:` give [`in_memory`](Self::in_memory). Does not migrate.
    pub async fn open(path_or_url: &str) -> Result<Self> {
        if is_memory(path_or_url) {
            return Self::in_memory().await;
        }
        let options = if path_or_url.starts_with("sqlite:") {
            SqliteConnectOptions::from_str(path_or_url)
                .map_err(|e| StoreError::invalid("database_url", e.to_string()))?
        } else {
            SqliteConnectOptions::new().filename(path_or_url)
        };
        Self::open_with(options).await
    }

    /// A private database that disappears with the store, for tests and demos. It is a
    /// file in a temporary directory, not SQLite's `:memory:`: every pooled connection to
    /// `:memory:` would see its own empty database, and a shared-cache one answers
    /// concurrent access with SQLITE_LOCKED instead of waiting, unlike a real deployment.
    pub async fn in_memory() -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("wuzhang-store-")
            .tempdir()
            .map_err(|e| StoreError::Unavailable {
                source: Box::new(e),
            })?;
        let options = SqliteConnectOptions::new().filename(dir.path().join("wuzhang.db"));
        let mut store = Self::open_with(options).await?;
        store._temp_dir = Some(Arc::new(dir));
        Ok(store)
    }

    /// Opens with the caller's options, adding what the store relies on: create if
    /// missing, WAL, foreign keys, a busy timeout and `synchronous = NORMAL` (durable
    /// with WAL except for the last commits on power loss). The WAL is copied back into
    /// the database file in the background, four times a second.
    pub async fn open_with(options: SqliteConnectOptions) -> Result<Self> {
        Self::open_with_checkpoints(options, Some(CHECKPOINT_EVERY)).await
    }

    /// As [`open_with`](Self::open_with), with the WAL copied back every `every`, or
    /// only when [`checkpoint`](Self::checkpoint) is called if `None` (a test that must
    /// not depend on how fast the machine writes, or an operator's own schedule).
    pub async fn open_with_checkpoints(
        options: SqliteConnectOptions,
        every: Option<StdDuration>,
    ) -> Result<Self> {
        // `create_if_missing` makes the file, not its directory (e.g. `data/` on first run).
        if let Some(dir) = options.get_filename().parent()
            && !dir.as_os_str().is_empty()
            && !options.get_filename().as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Unavailable {
                source: Box::new(e),
            })?;
        }
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            .synchronous(SqliteSynchronous::Normal);
        // An embedded file does not go away under us: no ping (a trip to the connection's
        // thread and back) before every statement.
        let pool_of = |max| {
            SqlitePoolOptions::new()
                .test_before_acquire(false)
                .max_connections(max)
                .acquire_timeout(BUSY_TIMEOUT * 2)
        };
        let pool = pool_of(MAX_CONNECTIONS)
            .connect_with(options.clone())
            .await?;
        let writer = pool_of(1)
            .connect_with(options.pragma("wal_autocheckpoint", "0"))
            .await?;
        let alive = Arc::new(());
        if let Some(every) = every {
            tokio::spawn(checkpoint_in_background(
                pool.clone(),
                writer.clone(),
                every,
                Arc::downgrade(&alive),
            ));
        }
        Ok(Self {
            batch: start_group_commit(writer.clone()),
            pool,
            writer,
            _alive: alive,
            _temp_dir: None,
            reference_writes: Arc::default(),
        })
    }

    /// The readers' pool, for things the trait does not cover.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Copies the WAL back into the database file now, as the background checkpoint does
    /// on its schedule: mostly from a reader's connection, beside the writers, and
    /// finished on the writers' connection when much is left, so the WAL starts over.
    pub async fn checkpoint(&self) -> Result<()> {
        checkpoint(&self.pool, &self.writer).await
    }

    /// A write transaction on the writers' connection, holding the database's write lock
    /// from its first statement. Nothing may ask for another while holding one: there is
    /// one connection.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Sqlite>> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }
}

fn is_memory(url: &str) -> bool {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    rest == ":memory:"
        || rest
            .split_once('?')
            .is_some_and(|(_, q)| q.contains("mode=memory"))
}

/// A JSON array of strings: SQLite reads a list parameter with `json_each`.
fn json_list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    serde_json::to_string(&items.into_iter().collect::<Vec<_>>()).unwrap_or_else(|_| "[]".into())
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    #[tracing::instrument(skip_all, level = "debug")]
    async fn migrate(&self) -> Result<()> {
        MIGRATOR.run(&self.writer).await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, level = "debug")]
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, level = "debug")]
    async fn reference_change_counters(&self) -> Result<ReferenceCounters> {
        let (roster, categories, emergency): (i64, i64, i64) = sqlx::query_as(
            "SELECT roster, categories, emergency FROM reference_changes WHERE id = 1",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(ReferenceCounters {
            roster,
            categories,
            emergency,
        })
    }

    fn reference_writes_here(&self) -> u64 {
        self.reference_writes.load(Ordering::Acquire)
    }
}
