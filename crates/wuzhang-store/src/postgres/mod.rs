//! The production store: PostgreSQL with PostGIS (`migrations/postgres`).
//!
//! Every write that spans rows is one transaction. Optimistic concurrency on tickets is a
//! `version` predicate on the UPDATE, which also serialises writers of one ticket (the row
//! lock), so event numbers are `max(seq) + 1` inside the transaction. Timers are claimed
//! with `FOR UPDATE SKIP LOCKED`, one subdistrict at a time, so any number of workers share
//! them and the claim touches one shard when the schema is distributed with Citus.
//!
//! Layout (the same parts as [`crate::sqlite`]):
//! - here: [`PostgresStore`], connecting (pool options) and the [`Store`] methods of the
//!   store as a whole.
//! - `rows`: rows ↔ domain values, the batch row types (migration 0011) and ticket
//!   statements; `arrays`: rows as column arrays for UNNEST.
//! - `batch`: the group-commit writers of new tickets.
//! - `areas`, `roster`, `categories`, `tickets`, `timers`, `idempotency`: one part of
//!   the trait each ([`AreaStore`](crate::AreaStore), …), with the writes other parts share.
//! - `firing`: claiming and firing due timers; `feed`: the event log's final part, and
//!   appending events.
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::error::{Result, StoreError};
use crate::interface::{Backend, Store};
use crate::model::ReferenceCounters;

mod areas;
mod arrays;
mod batch;
mod campaigns;
mod categories;
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

use crate::group_commit::GroupCommit;
use feed::Feed;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// The PostgreSQL + PostGIS store. Cheap to clone: clones share one pool.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// New tickets go through it, so concurrent submissions share one commit.
    batch: GroupCommit,
    /// Roster and category changes committed through this store (its clones share it).
    reference_writes: Arc<AtomicU64>,
    /// How far the event log is final (shared by clones, so one process keeps one).
    feed: Arc<Feed>,
}

/// Settings of every session the store opens. JIT off: the store's statements are short
/// and planned from estimates that can be far off (a generic plan, arrays of unknown
/// length, a table loaded a minute ago), and past `jit_above_cost` Postgres compiled
/// them first: a campaign's statement of 5,000 tickets spent 1.0 s of its 1.6 s in JIT
/// (auto_explain), for work that took 0.5 s.
pub(crate) const SESSION_SETTINGS: [(&str, &str); 1] = [("jit", "off")];

/// A pooled connection idle at least this long is pinged before it is handed out.
const PING_IF_IDLE_FOR: StdDuration = StdDuration::from_secs(1);

/// Pool options for every pool of the store. sqlx pings each connection on every acquire
/// by default: a round trip (Sync, then ReadyForQuery) before each statement, which on a
/// lone submission was one of its two round trips to Postgres (strace of the server at
/// one caller). A connection back from use within [`PING_IF_IDLE_FOR`] is taken as
/// alive; one idle for longer (the database may have restarted meanwhile) is still
/// checked, and a dead one replaced.
pub(crate) fn pool_options() -> PgPoolOptions {
    PgPoolOptions::new()
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_IF_IDLE_FOR {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
}

impl PostgresStore {
    /// Connects a pool of at most `max_connections` to `url`
    /// (`postgres://user:password@host:port/database?…`). Does not migrate.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self> {
        let options: PgConnectOptions = url
            .parse()
            .map_err(|e| StoreError::invalid("database_url", format!("{e}")))?;
        Self::connect_with(options, max_connections).await
    }

    /// Like [`connect`](Self::connect) with options already built, e.g. with a
    /// `search_path` (the conformance suite gives each test its own schema this way).
    pub async fn connect_with(options: PgConnectOptions, max_connections: u32) -> Result<Self> {
        let options = options.options(SESSION_SETTINGS);
        let pool = pool_options()
            .max_connections(max_connections.max(1))
            .acquire_timeout(StdDuration::from_secs(10))
            .connect_with(options)
            .await?;
        Ok(Self::from_pool(pool))
    }

    /// Wraps a pool the caller built (and configured) itself. Starts the group-commit
    /// writers on the current tokio runtime, with connections of their own (two, opened
    /// with the pool's options).
    pub fn from_pool(pool: PgPool) -> Self {
        let batch = batch::start(&pool);
        Self {
            pool,
            batch,
            reference_writes: Arc::default(),
            feed: Arc::default(),
        }
    }

    /// The pool, for things the trait does not cover (LISTEN/NOTIFY, admin queries).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

fn strings<'a>(items: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    items.into_iter().map(str::to_owned).collect()
}

#[async_trait]
impl Store for PostgresStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    #[tracing::instrument(skip_all, level = "debug")]
    async fn migrate(&self) -> Result<()> {
        MIGRATOR.run(&self.pool).await?;
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
