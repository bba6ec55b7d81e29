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

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Connection, QueryBuilder, Row, Sqlite, SqliteConnection, SqlitePool};
use time::{Duration, OffsetDateTime};
use tracing::warn;
use uuid::Uuid;
use wuzhang_domain::area::{Area, AreaCode, AreaLevel};
use wuzhang_domain::category::{Category, CategoryCode};
use wuzhang_domain::chief::{Person, PersonId, Post};
use wuzhang_domain::event::{EventKind, TicketEvent};
use wuzhang_domain::ticket::{Ticket, TicketId, TicketState};
use wuzhang_domain::timer::Timer;

use crate::codec::{
    self, AreaColumns, CategoryColumns, EventColumns, PostColumns, TICKET_COLUMNS, TicketColumns,
    from_micros, normalize_idempotency, normalize_ticket, parse_uuid, to_micros, uuid_text,
};
use crate::error::{Result, StoreError, unique_as};
use crate::firing::{Claimed, plan};
use crate::group_commit::{
    GroupCommit, Job, WriteBatch, accepted, idempotency_taken, refuse_repeats,
};
use crate::interface::{
    AreaStore, Backend, CategoryStore, IdempotencyStore, RosterStore, Store, TicketStore,
    TimerHandler, TimerStore,
};
use crate::model::ReferenceCounters;
use crate::model::{
    AreaQuery, AreaRecord, FireReport, IdempotencyRecord, LoggedEvent, NewTicket, Page,
    PageRequest, StoredCalendarYear, TicketChange, TicketGrouping, TicketOrder, TicketQuery,
};
use crate::token::{NO_DEADLINE_MICROS, PageKey, into_page, ticket_key};
use crate::validate;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// How long a writer waits for the write lock before the call fails as Unavailable.
const BUSY_TIMEOUT: StdDuration = StdDuration::from_secs(5);
/// Readers' connections. Writers have one of their own (SQLite has one write lock anyway).
const MAX_CONNECTIONS: u32 = 8;

type SqliteQuery<'q> = sqlx::query::Query<'q, Sqlite, SqliteArguments>;

const AREA_COLUMNS: &str =
    "code, name, level, parent_code, community, min_lng, min_lat, max_lng, max_lat";
const CATEGORY_COLUMNS: &str = "code, name, parent_code, kind, start_level, accept_within_s, \
     resolve_within_s, deadline_kind, urgent, calendar_code, duplicate_radius_m, \
     duplicate_window_s, active";

fn numbered(n: usize) -> String {
    format!("?{n}")
}

static TICKET_SELECT: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {} FROM tickets", TICKET_COLUMNS.join(", ")));
static TICKET_BY_ID: LazyLock<String> =
    LazyLock::new(|| format!("{} WHERE id = ?1", *TICKET_SELECT));
static TICKET_BY_KEY: LazyLock<String> =
    LazyLock::new(|| format!("{} WHERE subdistrict_code = ?1 AND id = ?2", *TICKET_SELECT));
static TICKET_INSERT: LazyLock<String> = LazyLock::new(|| codec::ticket_insert_sql(numbered));
static TICKET_UPDATE: LazyLock<String> = LazyLock::new(|| codec::ticket_update_sql(numbered));

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

/// How often the WAL is copied back into the database file.
const CHECKPOINT_EVERY: StdDuration = StdDuration::from_millis(250);
/// A WAL this long (in pages) after a reader's copy is finished on the writers'
/// connection, so it starts over (SQLite's own checkpoint threshold).
const RESTART_AT_PAGES: i64 = 1_000;

/// Copies the WAL back into the database file, mostly off the writers' path. SQLite's own
/// checkpoint (every 1,000 pages of WAL by default) runs in the commit that crosses the
/// mark: that commit copies the pages and syncs both files, and was the p99 of a lone
/// submitter (15–19 ms where its p50 was under 1 ms). The writers' connection has it off
/// (`wal_autocheckpoint = 0`); instead, every [`CHECKPOINT_EVERY`], a reader's connection
/// copies what has been written (PASSIVE: it neither waits for nor blocks anyone). But
/// the WAL only starts over from its beginning (and stops growing) when a write begins
/// with every page already copied, which a busy writer never lets a concurrent copy
/// reach (measured: 1.1 GB of WAL after 8 s at 4 callers). So a WAL still long after the
/// reader's copy is finished on the writers' connection, which copies only what was
/// written meanwhile. (Repeating the reader's copy until little was left for the writers
/// measured the same.) Stops when the store is gone.
async fn checkpoint_in_background(
    readers: SqlitePool,
    writer: SqlitePool,
    every: StdDuration,
    alive: std::sync::Weak<()>,
) {
    let mut every = tokio::time::interval(every);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if alive.strong_count() == 0 {
            return;
        }
        if let Err(e) = checkpoint(&readers, &writer).await {
            warn!(error = %e, "WAL checkpoint failed; trying again");
        }
    }
}

/// One checkpoint: see [`checkpoint_in_background`].
async fn checkpoint(readers: &SqlitePool, writer: &SqlitePool) -> Result<()> {
    /// Pages in the WAL.
    async fn passive(pool: &SqlitePool) -> Result<i64> {
        let (_busy, log, _copied): (i64, i64, i64) =
            sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
                .fetch_one(pool)
                .await?;
        Ok(log)
    }
    if passive(readers).await? >= RESTART_AT_PAGES {
        passive(writer).await?;
    }
    Ok(())
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

// ---------------------------------------------------------------------------- rows

// The same column decoding on both backends; only the row type differs.
crate::codec::row_decoders!(SqliteRow);

fn time_col(row: &SqliteRow, column: &'static str) -> Result<OffsetDateTime> {
    from_micros(column, row.try_get(column)?)
}

fn time_opt(row: &SqliteRow, column: &'static str) -> Result<Option<OffsetDateTime>> {
    row.try_get::<Option<i64>, _>(column)?
        .map(|m| from_micros(column, m))
        .transpose()
}

fn uuid_col(row: &SqliteRow, column: &'static str) -> Result<Uuid> {
    parse_uuid(column, &row.try_get::<String, _>(column)?)
}

fn ticket(row: &SqliteRow) -> Result<Ticket> {
    TicketColumns {
        subdistrict_code: row.try_get("subdistrict_code")?,
        id: uuid_col(row, "id")?,
        grid_code: row.try_get("grid_code")?,
        state: row.try_get("state")?,
        level: row.try_get("level")?,
        assignee_area_code: row.try_get("assignee_area_code")?,
        assignee_person_id: row.try_get("assignee_person_id")?,
        category_code: row.try_get("category_code")?,
        description: row.try_get("description")?,
        lat: row.try_get("lat")?,
        lng: row.try_get("lng")?,
        crs: row.try_get("crs")?,
        original_lat: row.try_get("original_lat")?,
        original_lng: row.try_get("original_lng")?,
        original_crs: row.try_get("original_crs")?,
        address: row.try_get("address")?,
        building_code: row.try_get("building_code")?,
        unit_code: row.try_get("unit_code")?,
        media_urls: row.try_get("media_urls")?,
        contact_phone: row.try_get("contact_phone")?,
        reporter_id: row.try_get("reporter_id")?,
        urgent: row.try_get("urgent")?,
        accept_due_at: time_opt(row, "accept_due_at")?,
        resolve_due_at: time_opt(row, "resolve_due_at")?,
        created_at: time_col(row, "created_at")?,
        updated_at: time_col(row, "updated_at")?,
        duplicate_of: row
            .try_get::<Option<String>, _>("duplicate_of")?
            .map(|d| parse_uuid("duplicate_of", &d))
            .transpose()?,
        pause: row.try_get("pause")?,
        rating_stars: row.try_get("rating_stars")?,
        rating_not_solved: row.try_get("rating_not_solved")?,
        rating_comment: row.try_get("rating_comment")?,
        version: row.try_get("version")?,
        supervision: row.try_get("supervision")?,
        supervision_count: row.try_get("supervision_count")?,
    }
    .into_ticket()
}

/// Binds a ticket's columns in [`TICKET_COLUMNS`] order.
fn bind_ticket(q: SqliteQuery<'_>, c: TicketColumns) -> SqliteQuery<'_> {
    q.bind(c.subdistrict_code)
        .bind(uuid_text(c.id))
        .bind(c.grid_code)
        .bind(c.state)
        .bind(c.level)
        .bind(c.assignee_area_code)
        .bind(c.assignee_person_id)
        .bind(c.category_code)
        .bind(c.description)
        .bind(c.lat)
        .bind(c.lng)
        .bind(c.crs)
        .bind(c.original_lat)
        .bind(c.original_lng)
        .bind(c.original_crs)
        .bind(c.address)
        .bind(c.building_code)
        .bind(c.unit_code)
        .bind(c.media_urls)
        .bind(c.contact_phone)
        .bind(c.reporter_id)
        .bind(c.urgent)
        .bind(c.accept_due_at.map(to_micros))
        .bind(c.resolve_due_at.map(to_micros))
        .bind(to_micros(c.created_at))
        .bind(to_micros(c.updated_at))
        .bind(c.duplicate_of.map(uuid_text))
        .bind(c.pause)
        .bind(c.rating_stars)
        .bind(c.rating_not_solved)
        .bind(c.rating_comment)
        .bind(c.version)
        .bind(c.supervision)
        .bind(c.supervision_count)
}

fn event(row: &SqliteRow) -> Result<(i64, TicketEvent)> {
    EventColumns {
        cursor: row.try_get("cursor")?,
        subdistrict_code: row.try_get("subdistrict_code")?,
        ticket_id: uuid_col(row, "ticket_id")?,
        seq: row.try_get("seq")?,
        kind: row.try_get("kind")?,
        actor: row.try_get("actor")?,
        from_state: row.try_get("from_state")?,
        to_state: row.try_get("to_state")?,
        level: row.try_get("level")?,
        assignee_person_id: row.try_get("assignee_person_id")?,
        note: row.try_get("note")?,
        at: time_col(row, "at")?,
    }
    .into_event()
}

fn timer(row: &SqliteRow) -> Result<Timer> {
    let kind: String = row.try_get("kind")?;
    let level: String = row.try_get("level")?;
    codec::timer(
        uuid_col(row, "ticket_id")?,
        row.try_get("subdistrict_code")?,
        &kind,
        time_col(row, "due_at")?,
        &level,
    )
}

fn idempotency(row: &SqliteRow) -> Result<IdempotencyRecord> {
    Ok(IdempotencyRecord {
        scope: row.try_get("scope")?,
        request_id: row.try_get("request_id")?,
        request_hash: row.try_get("request_hash")?,
        response: row.try_get("response")?,
        created_at: time_col(row, "created_at")?,
    })
}

/// Stored code → level, for parent and post checks.
async fn area_levels(
    conn: &mut SqliteConnection,
    codes: &[String],
) -> Result<HashMap<String, AreaLevel>> {
    let mut levels = HashMap::with_capacity(codes.len());
    if codes.is_empty() {
        return Ok(levels);
    }
    let rows = sqlx::query(
        "SELECT code, level FROM areas WHERE code IN (SELECT value FROM json_each(?1))",
    )
    .bind(json_list(codes.iter().map(String::as_str)))
    .fetch_all(conn)
    .await?;
    for row in rows {
        let level: String = row.try_get("level")?;
        levels.insert(
            row.try_get("code")?,
            codec::parse::<AreaLevel>("level", &level)?,
        );
    }
    Ok(levels)
}

// ---------------------------------------------------------------------------- writes

/// The column lists of the rows a new ticket brings, for single- and multi-row INSERTs
/// ([`values_rows`]); the `bind_*` functions below bind one row in the same order.
const IDEMPOTENCY_INSERT: &str =
    "INSERT INTO idempotency (scope, request_id, request_hash, response, created_at)";
const TIMER_INSERT: &str = "INSERT INTO timers (subdistrict_code, ticket_id, kind, due_at, level)";
const EVENT_INSERT: &str = "INSERT INTO ticket_events (subdistrict_code, ticket_id, seq, kind, \
     actor, from_state, to_state, level, assignee_person_id, note, at)";

/// ` VALUES (?, …), …`: `rows` rows of `columns` placeholders each, bound in order.
fn values_rows(columns: usize, rows: usize) -> String {
    let row = format!("({})", vec!["?"; columns].join(", "));
    format!(" VALUES {}", vec![row; rows].join(", "))
}

static IDEMPOTENCY_INSERT_ONE: LazyLock<String> =
    LazyLock::new(|| format!("{IDEMPOTENCY_INSERT}{}", values_rows(5, 1)));
static TIMER_INSERT_ONE: LazyLock<String> =
    LazyLock::new(|| format!("{TIMER_INSERT}{}", values_rows(5, 1)));
static EVENT_INSERT_ONE: LazyLock<String> =
    LazyLock::new(|| format!("{EVENT_INSERT}{}", values_rows(11, 1)));

fn bind_idempotency<'q>(q: SqliteQuery<'q>, r: &'q IdempotencyRecord) -> SqliteQuery<'q> {
    q.bind(&r.scope)
        .bind(&r.request_id)
        .bind(&r.request_hash)
        .bind(&r.response)
        .bind(to_micros(r.created_at))
}

fn bind_timer<'q>(q: SqliteQuery<'q>, t: &'q Timer) -> SqliteQuery<'q> {
    q.bind(t.subdistrict_code.as_str())
        .bind(uuid_text(t.ticket_id.as_uuid()))
        .bind(t.kind.as_str())
        .bind(to_micros(t.due_at))
        .bind(t.level.as_str())
}

fn bind_event<'q>(q: SqliteQuery<'q>, e: &'q EventColumns) -> SqliteQuery<'q> {
    q.bind(&e.subdistrict_code)
        .bind(uuid_text(e.ticket_id))
        .bind(e.seq)
        .bind(&e.kind)
        .bind(&e.actor)
        .bind(&e.from_state)
        .bind(&e.to_state)
        .bind(&e.level)
        .bind(&e.assignee_person_id)
        .bind(&e.note)
        .bind(to_micros(e.at))
}

async fn insert_idempotency(conn: &mut SqliteConnection, r: &IdempotencyRecord) -> Result<()> {
    bind_idempotency(sqlx::query(IDEMPOTENCY_INSERT_ONE.as_str()), r)
        .execute(conn)
        .await
        .map_err(|e| {
            unique_as(
                e,
                IdempotencyRecord::ENTITY,
                format!("{}/{}", r.scope, r.request_id),
            )
        })?;
    Ok(())
}

async fn insert_timers(conn: &mut SqliteConnection, timers: &[Timer]) -> Result<()> {
    for t in timers {
        bind_timer(sqlx::query(TIMER_INSERT_ONE.as_str()), t)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

async fn delete_timer(conn: &mut SqliteConnection, t: &Timer) -> Result<()> {
    sqlx::query("DELETE FROM timers WHERE subdistrict_code = ?1 AND ticket_id = ?2 AND kind = ?3")
        .bind(t.subdistrict_code.as_str())
        .bind(uuid_text(t.ticket_id.as_uuid()))
        .bind(t.kind.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

/// Appends events (their seqs already given). The write lock already orders cursors by
/// commit, so unlike Postgres nothing more is needed.
async fn append_events(conn: &mut SqliteConnection, events: &[EventColumns]) -> Result<()> {
    for e in events {
        bind_event(sqlx::query(EVENT_INSERT_ONE.as_str()), e)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Writes a changed ticket (already normalised and checked) if the stored version is
/// `expected_version`, its timers and idempotency record, and numbers its events after
/// the ticket's last. Returns the events to append.
async fn write_change(
    conn: &mut SqliteConnection,
    ticket: &Ticket,
    change: &TicketChange,
    expected_version: i64,
) -> Result<Vec<EventColumns>> {
    let id = uuid_text(ticket.id.as_uuid());
    let sub = ticket.subdistrict_code.as_str();
    let updated = bind_ticket(
        sqlx::query(TICKET_UPDATE.as_str()),
        TicketColumns::new(ticket)?,
    )
    .bind(expected_version)
    .execute(&mut *conn)
    .await?;
    if updated.rows_affected() == 0 {
        let current = sqlx::query("SELECT subdistrict_code, version FROM tickets WHERE id = ?1")
            .bind(&id)
            .fetch_optional(&mut *conn)
            .await?;
        return Err(match current {
            None => StoreError::not_found("ticket", ticket.id),
            Some(row) if row.try_get::<String, _>("subdistrict_code")? != sub => {
                StoreError::invalid(
                    "subdistrict_code",
                    format!("ticket {} cannot move to another subdistrict", ticket.id),
                )
            }
            Some(row) => StoreError::Conflict {
                entity: "ticket",
                key: ticket.id.to_string(),
                current_version: row.try_get("version")?,
            },
        });
    }
    if let Some(timers) = &change.timers {
        sqlx::query("DELETE FROM timers WHERE subdistrict_code = ?1 AND ticket_id = ?2")
            .bind(sub)
            .bind(&id)
            .execute(&mut *conn)
            .await?;
        insert_timers(conn, timers).await?;
    }
    if let Some(r) = &change.idempotency {
        insert_idempotency(conn, r).await?;
    }
    if let Some(follower) = &change.add_follower {
        sqlx::query(
            "INSERT INTO ticket_followers (subdistrict_code, ticket_id, follower_id) \
             VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
        )
        .bind(sub)
        .bind(&id)
        .bind(follower)
        .execute(&mut *conn)
        .await?;
    }
    let last: i64 = sqlx::query_scalar(
        "SELECT COALESCE(MAX(seq), 0) FROM ticket_events \
         WHERE subdistrict_code = ?1 AND ticket_id = ?2",
    )
    .bind(sub)
    .bind(&id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(change
        .events
        .iter()
        .zip(last + 1..)
        .map(|(e, seq)| EventColumns::new(ticket, seq, e))
        .collect())
}

/// Appends `query`'s filters (each ` AND …`) to a ticket query that ends in a WHERE clause.
fn push_ticket_filters(qb: &mut QueryBuilder<Sqlite>, query: &TicketQuery) {
    let any_of = |qb: &mut QueryBuilder<Sqlite>, column: &str, values: String| {
        qb.push(format!(" AND {column} IN (SELECT value FROM json_each("))
            .push_bind(values)
            .push("))");
    };
    if !query.subdistrict_codes.is_empty() {
        let codes = json_list(query.subdistrict_codes.iter().map(AreaCode::as_str));
        any_of(qb, "subdistrict_code", codes);
    }
    if let Some(r) = &query.reporter_id {
        qb.push(" AND reporter_id = ").push_bind(r.clone());
    }
    if let Some(p) = &query.assignee_person_id {
        qb.push(" AND assignee_person_id = ")
            .push_bind(p.as_str().to_owned());
    }
    if !query.assignee_area_codes.is_empty() {
        let codes = json_list(query.assignee_area_codes.iter().map(AreaCode::as_str));
        any_of(qb, "assignee_area_code", codes);
    }
    if !query.states.is_empty() {
        any_of(
            qb,
            "state",
            json_list(query.states.iter().map(|s| s.as_str())),
        );
    }
    if let Some(level) = query.level {
        qb.push(" AND level = ").push_bind(level.as_str());
    }
    if let Some(grid) = &query.grid_code {
        qb.push(" AND grid_code = ")
            .push_bind(grid.as_str().to_owned());
    }
    if let Some(c) = &query.category_code {
        qb.push(" AND category_code = ")
            .push_bind(c.as_str().to_owned());
    }
    if let Some(at) = query.overdue_at {
        let open = TicketState::ALL.into_iter().filter(|s| s.is_open());
        any_of(qb, "state", json_list(open.map(TicketState::as_str)));
        qb.push(" AND (accept_due_at < ")
            .push_bind(to_micros(at))
            .push(" OR resolve_due_at < ")
            .push_bind(to_micros(at))
            .push(")");
    }
    if let Some(from) = query.created_from {
        qb.push(" AND created_at >= ").push_bind(to_micros(from));
    }
    if let Some(before) = query.created_before {
        qb.push(" AND created_at < ").push_bind(to_micros(before));
    }
    if let Some(pause) = query.pause {
        qb.push(" AND pause = ").push_bind(pause.as_str());
    }
    if query.urgent_only {
        qb.push(" AND urgent = ").push_bind(true);
    }
    if query.supervised_only {
        qb.push(" AND supervision IS NOT NULL");
    }
    if let Some(b) = &query.within {
        qb.push(" AND lat >= ")
            .push_bind(b.min_lat)
            .push(" AND lat <= ")
            .push_bind(b.max_lat)
            .push(" AND lng >= ")
            .push_bind(b.min_lng)
            .push(" AND lng <= ")
            .push_bind(b.max_lng);
    }
}

/// Writes one new ticket (normalised and validated) inside the caller's transaction.
async fn write_new(conn: &mut SqliteConnection, new: &NewTicket) -> Result<Ticket> {
    let ticket = &new.ticket;
    if let Some(r) = &new.idempotency {
        insert_idempotency(conn, r).await?;
    }
    let taken: Option<i64> = sqlx::query_scalar("SELECT 1 FROM tickets WHERE id = ?1")
        .bind(uuid_text(ticket.id.as_uuid()))
        .fetch_optional(&mut *conn)
        .await?;
    if taken.is_some() {
        return Err(StoreError::already_exists("ticket", ticket.id));
    }
    bind_ticket(
        sqlx::query(TICKET_INSERT.as_str()),
        TicketColumns::new(ticket)?,
    )
    .execute(&mut *conn)
    .await
    .map_err(|e| unique_as(e, "ticket", ticket.id))?;
    insert_timers(conn, &new.timers).await?;
    let mut events: Vec<EventColumns> = new
        .events
        .iter()
        .zip(1..)
        .map(|(e, seq)| EventColumns::new(ticket, seq, e))
        .collect();
    if let Some(change) = &new.followed {
        let other = normalize_ticket(&change.ticket);
        validate::ticket_write(&other, change.timers.as_deref())?;
        events.extend(write_change(conn, &other, change, other.version - 1).await?);
    }
    append_events(conn, &events).await?;
    Ok(ticket.clone())
}

/// SQLite's side of group commit: one writer (SQLite has one write lock anyway), each
/// batch one `BEGIN IMMEDIATE` transaction. A batch is written in one request to the
/// connection's thread ([`write_in_one_request`]); one that fails there (a taken id or
/// key) is written set-wise, checking first which ids and keys are taken
/// ([`write_setwise`]); one that cannot be (a merge in it, or a failure nobody foresaw)
/// is written ticket by ticket with a savepoint each, so a ticket that fails is rolled
/// back alone and answered with its own error.
fn start_group_commit(pool: SqlitePool) -> GroupCommit {
    let write: WriteBatch = Arc::new(move |batch| {
        let pool = pool.clone();
        Box::pin(async move {
            // Each job's outcome, or None: write them one by one.
            let outcomes = if batch.iter().any(|j| j.new.followed.is_some()) {
                None
            } else if let Err(e) = write_in_one_request(&pool, &batch).await {
                // A taken id or key (one job's answer, found below), or the database
                // busy or gone; anything else is a bug tests must see.
                debug_assert!(
                    e.is_retryable() || matches!(e, StoreError::AlreadyExists { .. }),
                    "one-request ticket batch failed: {e}"
                );
                match write_setwise(&pool, &batch).await {
                    Ok(outcomes) => Some(outcomes),
                    Err(e) => {
                        // Only the database being busy or gone is foreseen here; anything
                        // else is a bug in the set-wise path, which tests must not miss
                        // behind the fallback.
                        debug_assert!(e.is_retryable(), "set-wise ticket batch failed: {e}");
                        warn!(tickets = batch.len(), error = %e, "set-wise ticket batch failed; writing one by one");
                        None
                    }
                }
            } else {
                Some(batch.iter().map(|_| Ok(())).collect())
            };
            match outcomes {
                Some(outcomes) => {
                    for (job, outcome) in batch.into_iter().zip(outcomes) {
                        let _ = job.reply.send(outcome.map(|()| job.new.ticket.clone()));
                    }
                }
                None => write_batch(&pool, batch).await,
            }
        })
    });
    GroupCommit::start(1, 256, write)
}

/// Writes the whole batch in one request to the connection's thread: `BEGIN IMMEDIATE`,
/// one multi-row INSERT per table, `COMMIT`, as one query (sqlx runs its statements in
/// turn and binds the `?`s in order across them). Each request is two thread switches
/// (sqlx runs SQLite on a thread of its own), and those, not SQLite, were most of what a
/// lone submission cost. Nothing is checked first: a taken ticket id or idempotency key
/// fails its INSERT (both are unique), and then nothing is committed and the caller
/// writes the batch the careful way, which finds out which job it was.
async fn write_in_one_request(pool: &SqlitePool, batch: &[Job]) -> Result<()> {
    let jobs: Vec<&NewTicket> = batch.iter().map(|j| &j.new).collect();
    let mut conn = Unsettled {
        conn: pool.acquire().await?,
        settled: false,
    };
    let written = insert_new(&mut conn.conn, &jobs, "BEGIN IMMEDIATE;\n", "COMMIT;\n").await;
    // On failure a statement failed with the transaction begun (or BEGIN itself did):
    // roll back. If that fails too, the guard closes the connection, which rolls back
    // whatever is open.
    conn.settled = written.is_ok()
        || sqlx::query("ROLLBACK")
            .execute(&mut *conn.conn)
            .await
            .is_ok();
    written
}

/// A pooled connection that may be inside a transaction begun with plain SQL (which sqlx
/// does not track): unless `settled`, it is closed instead of going back to the pool, and
/// closing rolls back what is open. That covers a caller that gives up midway too (a
/// cancelled request drops the future, and sqlx's thread stops between statements, after
/// `BEGIN` and before `COMMIT`).
struct Unsettled {
    conn: sqlx::pool::PoolConnection<Sqlite>,
    /// Outside any transaction: the connection may go back to the pool.
    settled: bool,
}

impl Drop for Unsettled {
    fn drop(&mut self) {
        if !self.settled {
            self.conn.close_on_drop();
        }
    }
}

/// Inserts the rows `jobs` bring (idempotency records, tickets, timers, events) as one
/// query: one multi-row INSERT per table, each row bound as the single-row INSERTs bind
/// it, between `before` and `after` (statements of their own, or empty).
async fn insert_new(
    conn: &mut SqliteConnection,
    jobs: &[&NewTicket],
    before: &str,
    after: &str,
) -> Result<()> {
    let records: Vec<&IdempotencyRecord> =
        jobs.iter().filter_map(|n| n.idempotency.as_ref()).collect();
    let tickets = jobs
        .iter()
        .map(|n| TicketColumns::new(&n.ticket))
        .collect::<Result<Vec<_>>>()?;
    let timers: Vec<&Timer> = jobs.iter().flat_map(|n| &n.timers).collect();
    let events: Vec<EventColumns> = jobs
        .iter()
        .flat_map(|n| {
            n.events
                .iter()
                .zip(1..)
                .map(|(e, seq)| EventColumns::new(&n.ticket, seq, e))
        })
        .collect();

    let mut sql = String::from(before);
    if !records.is_empty() {
        sql += &format!("{IDEMPOTENCY_INSERT}{};\n", values_rows(5, records.len()));
    }
    sql += &format!(
        "INSERT INTO tickets ({}){};\n",
        codec::TICKET_COLUMNS.join(", "),
        values_rows(codec::TICKET_COLUMNS.len(), tickets.len())
    );
    if !timers.is_empty() {
        sql += &format!("{TIMER_INSERT}{};\n", values_rows(5, timers.len()));
    }
    if !events.is_empty() {
        sql += &format!("{EVENT_INSERT}{};\n", values_rows(11, events.len()));
    }
    sql += after;

    let q = sqlx::query(AssertSqlSafe(sql));
    let q = records.iter().fold(q, |q, r| bind_idempotency(q, r));
    let q = tickets.into_iter().fold(q, bind_ticket);
    let q = timers.iter().fold(q, |q, t| bind_timer(q, t));
    let q = events.iter().fold(q, bind_event);
    q.execute(conn).await?;
    Ok(())
}

/// The whole batch in a handful of statements, whatever its size: which ids and keys are
/// taken (the write lock is held from `BEGIN IMMEDIATE`, so the answer holds to the
/// commit), then one INSERT per table for the rest, sent as one request. Every request
/// is a trip to the connection's thread and back (sqlx runs SQLite on a thread of its
/// own), and those trips, not SQLite, were most of a submission's cost: ten per ticket
/// written one by one (perf of the server: a quarter of its time switching threads).
/// Returns each job's outcome; an `Err` means nothing was written.
async fn write_setwise(pool: &SqlitePool, batch: &[Job]) -> Result<Vec<Result<()>>> {
    let mut outcomes = refuse_repeats(batch);
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;

    let mut qb = QueryBuilder::<Sqlite>::new("SELECT id FROM tickets WHERE id IN (");
    let mut list = qb.separated(", ");
    for job in batch {
        list.push_bind(uuid_text(job.new.ticket.id.as_uuid()));
    }
    qb.push(")");
    let taken_ids: HashSet<String> = qb
        .build_query_scalar::<String>()
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect();
    let keyed: Vec<&IdempotencyRecord> = batch
        .iter()
        .filter_map(|j| j.new.idempotency.as_ref())
        .collect();
    let mut taken_keys: HashSet<(String, String)> = HashSet::new();
    if !keyed.is_empty() {
        let mut qb = QueryBuilder::<Sqlite>::new(
            "SELECT scope, request_id FROM idempotency WHERE (scope, request_id) IN (VALUES ",
        );
        let mut list = qb.separated(", ");
        for r in &keyed {
            list.push("(")
                .push_bind_unseparated(r.scope.clone())
                .push_unseparated(", ")
                .push_bind_unseparated(r.request_id.clone())
                .push_unseparated(")");
        }
        qb.push(")");
        taken_keys = qb
            .build_query_as::<(String, String)>()
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .collect();
    }
    for (job, outcome) in batch.iter().zip(outcomes.iter_mut()) {
        if outcome.is_err() {
            continue;
        }
        if taken_ids.contains(&uuid_text(job.new.ticket.id.as_uuid())) {
            *outcome = Err(StoreError::already_exists("ticket", job.new.ticket.id));
        } else if let Some(r) = &job.new.idempotency
            && taken_keys.contains(&(r.scope.clone(), r.request_id.clone()))
        {
            *outcome = Err(idempotency_taken(r));
        }
    }
    let jobs = accepted(batch, &outcomes);
    if jobs.is_empty() {
        tx.rollback().await?;
        return Ok(outcomes);
    }

    insert_new(&mut tx, &jobs, "", "").await?;
    tx.commit().await?;
    Ok(outcomes)
}

async fn write_batch(pool: &SqlitePool, batch: Vec<Job>) {
    let mut answers: Vec<Result<Ticket>> = Vec::with_capacity(batch.len());
    let outcome: Result<()> = async {
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
        for job in &batch {
            sqlx::query("SAVEPOINT new_ticket")
                .execute(&mut *tx)
                .await?;
            match write_new(&mut tx, &job.new).await {
                Ok(t) => {
                    sqlx::query("RELEASE new_ticket").execute(&mut *tx).await?;
                    answers.push(Ok(t));
                }
                Err(e) => {
                    sqlx::query("ROLLBACK TO new_ticket; RELEASE new_ticket")
                        .execute(&mut *tx)
                        .await?;
                    answers.push(Err(e));
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }
    .await;
    match outcome {
        Ok(()) => {
            for (job, answer) in batch.into_iter().zip(answers) {
                let _ = job.reply.send(answer);
            }
        }
        Err(e) => {
            // The transaction itself failed (e.g. the write lock timed out): nothing was
            // written, and every job hears why.
            warn!(tickets = batch.len(), error = %e, "ticket batch failed");
            let message = e.to_string();
            for job in batch {
                let _ = job.reply.send(Err(StoreError::Unavailable {
                    source: message.clone().into(),
                }));
            }
        }
    }
}

// ---------------------------------------------------------------------------- the trait

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
        let (roster, categories): (i64, i64) =
            sqlx::query_as("SELECT roster, categories FROM reference_changes WHERE id = 1")
                .fetch_one(&self.pool)
                .await?;
        Ok(ReferenceCounters { roster, categories })
    }

    fn reference_writes_here(&self) -> u64 {
        self.reference_writes.load(Ordering::Acquire)
    }
}

#[async_trait]
impl AreaStore for SqliteStore {
    #[tracing::instrument(skip_all, level = "debug", fields(count = areas.len()))]
    async fn upsert_areas(&self, areas: &[AreaRecord]) -> Result<i64> {
        let batch = validate::area_batch(areas)?;
        let mut tx = self.begin_write().await?;
        if !batch.outside_parents.is_empty() {
            let codes: Vec<String> = batch.outside_parents.keys().cloned().collect();
            let stored = area_levels(&mut tx, &codes).await?;
            validate::check_outside_parents(&batch, &stored)?;
        }
        let now = codec::to_micros(sqlite_now(&mut tx).await?);
        for a in &batch.rows {
            sqlx::query(
                "INSERT INTO areas (code, name, level, parent_code, community, \
                     min_lng, min_lat, max_lng, max_lat, geom, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
                 ON CONFLICT (code) DO UPDATE SET name = excluded.name, level = excluded.level, \
                     parent_code = excluded.parent_code, community = excluded.community, \
                     min_lng = excluded.min_lng, min_lat = excluded.min_lat, \
                     max_lng = excluded.max_lng, max_lat = excluded.max_lat, \
                     geom = excluded.geom, updated_at = excluded.updated_at",
            )
            .bind(&a.code)
            .bind(&a.name)
            .bind(&a.level)
            .bind(&a.parent_code)
            .bind(&a.community)
            .bind(a.min_lng)
            .bind(a.min_lat)
            .bind(a.max_lng)
            .bind(a.max_lat)
            .bind(&a.geom)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        let counter: i64 = sqlx::query_scalar(
            "UPDATE area_changes SET counter = counter + 1 WHERE id = 1 RETURNING counter",
        )
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(counter)
    }

    #[tracing::instrument(skip_all, level = "debug", fields(code = %code))]
    async fn get_area(&self, code: &AreaCode) -> Result<Area> {
        let row = sqlx::query(
            "SELECT code, name, level, parent_code, community, min_lng, min_lat, max_lng, \
             max_lat FROM areas WHERE code = ?1",
        )
        .bind(code.as_str())
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::not_found("area", code))?;
        area_columns(&row, false)?.into_area()
    }

    #[tracing::instrument(skip_all, level = "debug", fields(count = codes.len()))]
    async fn get_areas(&self, codes: &[AreaCode]) -> Result<Vec<Area>> {
        let rows = sqlx::query(
            "SELECT code, name, level, parent_code, community, min_lng, min_lat, max_lng, \
             max_lat FROM areas WHERE code IN (SELECT value FROM json_each(?1)) ORDER BY code",
        )
        .bind(json_list(codes.iter().map(AreaCode::as_str)))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| area_columns(r, false)?.into_area())
            .collect()
    }

    #[tracing::instrument(skip_all, level = "debug", fields(code = %code))]
    async fn get_area_record(&self, code: &AreaCode) -> Result<AreaRecord> {
        let row = sqlx::query(
            "SELECT code, name, level, parent_code, community, min_lng, min_lat, max_lng, \
             max_lat, geom FROM areas WHERE code = ?1",
        )
        .bind(code.as_str())
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::not_found("area", code))?;
        area_record(&row)
    }

    #[tracing::instrument(skip_all, level = "debug", fields(?query))]
    async fn list_areas(&self, query: &AreaQuery, page: &PageRequest) -> Result<Page<Area>> {
        let after = PageKey::decode(page.token.as_deref(), |k| matches!(k, PageKey::Area { .. }))?;
        let size = page.effective_size();
        let mut qb =
            QueryBuilder::<Sqlite>::new(format!("SELECT {AREA_COLUMNS} FROM areas WHERE 1"));
        if let Some(parent) = &query.parent_code {
            qb.push(" AND parent_code = ")
                .push_bind(parent.as_str().to_owned());
        }
        if let Some(level) = query.level {
            qb.push(" AND level = ").push_bind(level.as_str());
        }
        if let Some(b) = &query.bbox {
            b.validate()
                .map_err(|e| StoreError::invalid(e.field, e.reason))?;
            qb.push(" AND min_lng <= ").push_bind(b.max_lng);
            qb.push(" AND max_lng >= ").push_bind(b.min_lng);
            qb.push(" AND min_lat <= ").push_bind(b.max_lat);
            qb.push(" AND max_lat >= ").push_bind(b.min_lat);
        }
        if let Some(PageKey::Area { code }) = after {
            qb.push(" AND code > ").push_bind(code);
        }
        qb.push(" ORDER BY code LIMIT ")
            .push_bind(i64::from(size) + 1);
        let rows = qb.build().fetch_all(&self.pool).await?;
        let items = rows
            .iter()
            .map(|r| area_columns(r, false)?.into_area())
            .collect::<Result<Vec<_>>>()?;
        Ok(into_page(items, size, |a| PageKey::Area {
            code: a.code.as_str().to_owned(),
        }))
    }

    #[tracing::instrument(skip_all, level = "debug", fields(?levels))]
    async fn load_area_records(&self, levels: &[AreaLevel]) -> Result<Vec<AreaRecord>> {
        let rows = sqlx::query(
            "SELECT code, name, level, parent_code, community, min_lng, min_lat, max_lng, \
             max_lat, geom FROM areas \
             WHERE json_array_length(?1) = 0 OR level IN (SELECT value FROM json_each(?1)) \
             ORDER BY code",
        )
        .bind(json_list(levels.iter().map(|l| l.as_str())))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(area_record).collect()
    }

    #[tracing::instrument(skip_all, level = "debug", fields(?levels))]
    async fn load_areas(&self, levels: &[AreaLevel]) -> Result<Vec<Area>> {
        let rows = sqlx::query(
            "SELECT code, name, level, parent_code, community, min_lng, min_lat, max_lng, \
             max_lat FROM areas \
             WHERE json_array_length(?1) = 0 OR level IN (SELECT value FROM json_each(?1)) \
             ORDER BY code",
        )
        .bind(json_list(levels.iter().map(|l| l.as_str())))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| area_columns(r, false)?.into_area())
            .collect()
    }

    #[tracing::instrument(skip_all, level = "debug", fields(code = %code))]
    async fn lineage(&self, code: &AreaCode) -> Result<Vec<Area>> {
        // Depth-bounded: levels strictly nest, so a real chain is at most 7 long.
        let rows = sqlx::query(
            "WITH RECURSIVE up (code, parent_code, depth) AS ( \
                 SELECT code, parent_code, 0 FROM areas WHERE code = ?1 \
                 UNION ALL \
                 SELECT a.code, a.parent_code, up.depth + 1 \
                 FROM areas a JOIN up ON a.code = up.parent_code WHERE up.depth < 16) \
             SELECT a.code, a.name, a.level, a.parent_code, a.community, a.min_lng, \
                 a.min_lat, a.max_lng, a.max_lat \
             FROM up JOIN areas a ON a.code = up.code ORDER BY up.depth",
        )
        .bind(code.as_str())
        .fetch_all(&self.pool)
        .await?;
        if rows.is_empty() {
            return Err(StoreError::not_found("area", code));
        }
        rows.iter()
            .map(|r| area_columns(r, false)?.into_area())
            .collect()
    }

    async fn make_valid(&self, _geometries: &[Vec<u8>]) -> Result<Option<Vec<Vec<u8>>>> {
        // No spatial functions here: the caller repairs in process.
        Ok(None)
    }

    #[tracing::instrument(skip_all, level = "debug")]
    async fn area_change_counter(&self) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT counter FROM area_changes WHERE id = 1")
                .fetch_one(&self.pool)
                .await?,
        )
    }
}

#[async_trait]
impl RosterStore for SqliteStore {
    #[tracing::instrument(skip_all, level = "debug", fields(persons = persons.len(), posts = posts.len()))]
    async fn upsert_roster(&self, persons: &[Person], posts: &[Post]) -> Result<()> {
        let needs = validate::roster_batch(persons, posts)?;
        let post_cols = posts
            .iter()
            .map(PostColumns::new)
            .collect::<Result<Vec<_>>>()?;
        let mut tx = self.begin_write().await?;
        let levels = area_levels(&mut tx, &needs.area_codes).await?;
        let mut stored_persons = HashSet::new();
        if !needs.person_ids.is_empty() {
            let ids: Vec<String> = sqlx::query_scalar(
                "SELECT id FROM persons WHERE id IN (SELECT value FROM json_each(?1))",
            )
            .bind(json_list(needs.person_ids.iter().map(String::as_str)))
            .fetch_all(&mut *tx)
            .await?;
            stored_persons.extend(ids);
        }
        validate::check_posts(posts, persons, &levels, &stored_persons)?;
        for p in persons {
            sqlx::query(
                "INSERT INTO persons (id, name, phone) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, phone = excluded.phone",
            )
            .bind(p.id.as_str())
            .bind(&p.name)
            .bind(&p.phone)
            .execute(&mut *tx)
            .await?;
        }
        for p in post_cols {
            sqlx::query(
                "INSERT INTO posts (area_code, level, holder, deputy, leave) \
                 VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (area_code) DO UPDATE SET level = excluded.level, \
                     holder = excluded.holder, deputy = excluded.deputy, leave = excluded.leave",
            )
            .bind(p.area_code)
            .bind(p.level)
            .bind(p.holder)
            .bind(p.deputy)
            .bind(p.leave)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("UPDATE reference_changes SET roster = roster + 1 WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.reference_writes.fetch_add(1, Ordering::Release);
        Ok(())
    }

    #[tracing::instrument(skip_all, level = "debug", fields(person = %id))]
    async fn get_person(&self, id: &PersonId) -> Result<Person> {
        let row = sqlx::query("SELECT id, name, phone FROM persons WHERE id = ?1")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::not_found("person", id))?;
        person(&row)
    }

    #[tracing::instrument(skip_all, level = "debug", fields(count = ids.len()))]
    async fn get_persons(&self, ids: &[PersonId]) -> Result<Vec<Person>> {
        let rows = sqlx::query(
            "SELECT id, name, phone FROM persons \
             WHERE id IN (SELECT value FROM json_each(?1)) ORDER BY id",
        )
        .bind(json_list(ids.iter().map(PersonId::as_str)))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(person).collect()
    }

    #[tracing::instrument(skip_all, level = "debug", fields(count = codes.len()))]
    async fn posts_for_areas(&self, codes: &[AreaCode]) -> Result<Vec<Post>> {
        let rows = sqlx::query(
            "SELECT area_code, level, holder, deputy, leave FROM posts \
             WHERE area_code IN (SELECT value FROM json_each(?1)) ORDER BY area_code",
        )
        .bind(json_list(codes.iter().map(AreaCode::as_str)))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(post).collect()
    }

    #[tracing::instrument(skip_all, level = "debug", fields(person = %id))]
    async fn posts_of_person(&self, id: &PersonId) -> Result<Vec<Post>> {
        let rows = sqlx::query(
            "SELECT area_code, level, holder, deputy, leave FROM posts \
             WHERE holder = ?1 OR deputy = ?1 ORDER BY area_code",
        )
        .bind(id.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(post).collect()
    }
}

#[async_trait]
impl CategoryStore for SqliteStore {
    #[tracing::instrument(skip_all, level = "debug", fields(code = %category.code))]
    async fn upsert_category(&self, category: &Category) -> Result<()> {
        let c = CategoryColumns::new(category)?;
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO categories (code, name, parent_code, kind, start_level, accept_within_s, \
                 resolve_within_s, deadline_kind, urgent, calendar_code, duplicate_radius_m, \
                 duplicate_window_s, active) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) \
             ON CONFLICT (code) DO UPDATE SET name = excluded.name, \
                 parent_code = excluded.parent_code, kind = excluded.kind, \
                 start_level = excluded.start_level, accept_within_s = excluded.accept_within_s, \
                 resolve_within_s = excluded.resolve_within_s, \
                 deadline_kind = excluded.deadline_kind, urgent = excluded.urgent, \
                 calendar_code = excluded.calendar_code, \
                 duplicate_radius_m = excluded.duplicate_radius_m, \
                 duplicate_window_s = excluded.duplicate_window_s, active = excluded.active",
        )
        .bind(c.code)
        .bind(c.name)
        .bind(c.parent_code)
        .bind(c.kind)
        .bind(c.start_level)
        .bind(c.accept_within_s)
        .bind(c.resolve_within_s)
        .bind(c.deadline_kind)
        .bind(c.urgent)
        .bind(c.calendar_code)
        .bind(c.duplicate_radius_m)
        .bind(c.duplicate_window_s)
        .bind(c.active)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE reference_changes SET categories = categories + 1 WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.reference_writes.fetch_add(1, Ordering::Release);
        Ok(())
    }

    #[tracing::instrument(skip_all, level = "debug", fields(code = %code))]
    async fn get_category(&self, code: &CategoryCode) -> Result<Category> {
        let row = sqlx::query(
            "SELECT code, name, parent_code, kind, start_level, accept_within_s, \
             resolve_within_s, deadline_kind, urgent, calendar_code, duplicate_radius_m, \
             duplicate_window_s, active FROM categories WHERE code = ?1",
        )
        .bind(code.as_str())
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::not_found("category", code))?;
        category(&row)
    }

    #[tracing::instrument(skip_all, level = "debug")]
    async fn list_categories(&self, page: &PageRequest) -> Result<Page<Category>> {
        let after = PageKey::decode(page.token.as_deref(), |k| {
            matches!(k, PageKey::Category { .. })
        })?;
        let size = page.effective_size();
        let mut qb = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {CATEGORY_COLUMNS} FROM categories WHERE 1"
        ));
        if let Some(PageKey::Category { code }) = after {
            qb.push(" AND code > ").push_bind(code);
        }
        qb.push(" ORDER BY code LIMIT ")
            .push_bind(i64::from(size) + 1);
        let rows = qb.build().fetch_all(&self.pool).await?;
        let items = rows.iter().map(category).collect::<Result<Vec<_>>>()?;
        Ok(into_page(items, size, |c| PageKey::Category {
            code: c.code.as_str().to_owned(),
        }))
    }

    #[tracing::instrument(skip_all, level = "debug", fields(code = %year.code, year = year.year))]
    async fn upsert_calendar_year(&self, year: &StoredCalendarYear) -> Result<()> {
        sqlx::query(
            "INSERT INTO calendar_years (code, year, document, updated_at) \
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT (code, year) DO UPDATE \
             SET document = excluded.document, updated_at = excluded.updated_at",
        )
        .bind(&year.code)
        .bind(year.year)
        .bind(&year.document)
        .bind(to_micros(year.updated_at))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, level = "debug")]
    async fn list_calendar_years(&self) -> Result<Vec<StoredCalendarYear>> {
        let rows: Vec<(String, i32, String, i64)> = sqlx::query_as(
            "SELECT code, year, document, updated_at FROM calendar_years ORDER BY code, year",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(code, year, document, at)| {
                Ok(StoredCalendarYear {
                    code,
                    year,
                    document,
                    updated_at: from_micros("updated_at", at)?,
                })
            })
            .collect()
    }
}

#[async_trait]
impl TicketStore for SqliteStore {
    #[tracing::instrument(skip_all, level = "debug", fields(ticket = %new.ticket.id))]
    async fn create_ticket(&self, new: &NewTicket) -> Result<Ticket> {
        let new = NewTicket {
            ticket: normalize_ticket(&new.ticket),
            ..new.clone()
        };
        validate::ticket_write(&new.ticket, Some(&new.timers))?;
        self.batch.create(new).await
    }

    #[tracing::instrument(skip_all, level = "debug", fields(ticket = %id))]
    async fn get_ticket(&self, id: &TicketId) -> Result<Ticket> {
        let row = sqlx::query(TICKET_BY_ID.as_str())
            .bind(uuid_text(id.as_uuid()))
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::not_found("ticket", id))?;
        ticket(&row)
    }

    #[tracing::instrument(skip_all, level = "debug", fields(?query))]
    async fn list_tickets(&self, query: &TicketQuery, page: &PageRequest) -> Result<Page<Ticket>> {
        let after = PageKey::decode(page.token.as_deref(), |k| match query.order {
            TicketOrder::NewestFirst => matches!(k, PageKey::TicketNewest { .. }),
            TicketOrder::DueSoonest => matches!(k, PageKey::TicketDue { .. }),
        })?;
        let size = page.effective_size();
        let due = format!("COALESCE(accept_due_at, resolve_due_at, {NO_DEADLINE_MICROS})");
        let mut qb = QueryBuilder::<Sqlite>::new(format!("{} WHERE 1", *TICKET_SELECT));
        push_ticket_filters(&mut qb, query);
        match after {
            Some(PageKey::TicketNewest { created, id }) => {
                qb.push(" AND (created_at < ")
                    .push_bind(created)
                    .push(" OR (created_at = ")
                    .push_bind(created)
                    .push(" AND id < ")
                    .push_bind(uuid_text(id))
                    .push("))");
            }
            Some(PageKey::TicketDue {
                due: d,
                created,
                id,
            }) => {
                qb.push(format!(" AND ({due} > "))
                    .push_bind(d)
                    .push(format!(" OR ({due} = "))
                    .push_bind(d)
                    .push(" AND (created_at > ")
                    .push_bind(created)
                    .push(" OR (created_at = ")
                    .push_bind(created)
                    .push(" AND id > ")
                    .push_bind(uuid_text(id))
                    .push("))))");
            }
            _ => {}
        }
        match query.order {
            TicketOrder::NewestFirst => qb.push(" ORDER BY created_at DESC, id DESC"),
            TicketOrder::DueSoonest => qb.push(format!(" ORDER BY {due}, created_at, id")),
        };
        qb.push(" LIMIT ").push_bind(i64::from(size) + 1);
        let rows = qb.build().fetch_all(&self.pool).await?;
        let items = rows.iter().map(ticket).collect::<Result<Vec<_>>>()?;
        let order = query.order;
        Ok(into_page(items, size, |t| ticket_key(order, t)))
    }

    #[tracing::instrument(skip_all, level = "debug", fields(?query))]
    async fn count_tickets(&self, query: &TicketQuery) -> Result<u64> {
        let mut qb = QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM tickets WHERE 1");
        push_ticket_filters(&mut qb, query);
        let n: i64 = qb.build_query_scalar().fetch_one(&self.pool).await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    #[tracing::instrument(skip_all, level = "debug")]
    async fn count_tickets_by(
        &self,
        query: &TicketQuery,
        by: TicketGrouping,
    ) -> Result<Vec<(String, u64)>> {
        let column = by.column();
        let mut qb = QueryBuilder::<Sqlite>::new("SELECT ");
        qb.push(column).push(", COUNT(*) FROM tickets WHERE 1");
        push_ticket_filters(&mut qb, query);
        qb.push(" GROUP BY 1 ORDER BY 1");
        let rows: Vec<(String, i64)> = qb.build_query_as().fetch_all(&self.pool).await?;
        Ok(rows
            .into_iter()
            .map(|(k, n)| (k, u64::try_from(n).unwrap_or(0)))
            .collect())
    }

    #[tracing::instrument(skip_all, level = "debug")]
    async fn count_events(
        &self,
        subdistrict_codes: &[AreaCode],
        kinds: &[EventKind],
        since: OffsetDateTime,
    ) -> Result<u64> {
        let mut qb = QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM ticket_events WHERE at >= ");
        qb.push_bind(to_micros(since));
        if !subdistrict_codes.is_empty() {
            qb.push(" AND subdistrict_code IN (SELECT value FROM json_each(")
                .push_bind(json_list(subdistrict_codes.iter().map(AreaCode::as_str)))
                .push("))");
        }
        if !kinds.is_empty() {
            qb.push(" AND kind IN (SELECT value FROM json_each(")
                .push_bind(json_list(kinds.iter().map(|k| k.as_str())))
                .push("))");
        }
        let n: i64 = qb.build_query_scalar().fetch_one(&self.pool).await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    #[tracing::instrument(skip_all, level = "debug")]
    async fn event_cursor_head(&self) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT COALESCE(MAX(cursor), 0) FROM ticket_events")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    #[tracing::instrument(skip_all, level = "debug", fields(ticket = %change.ticket.id, version = change.ticket.version))]
    async fn update_ticket(&self, change: &TicketChange) -> Result<Ticket> {
        let mut stored = self.update_tickets(std::slice::from_ref(change)).await?;
        Ok(stored.remove(0))
    }

    #[tracing::instrument(skip_all, level = "debug", fields(tickets = changes.len()))]
    async fn update_tickets(&self, changes: &[TicketChange]) -> Result<Vec<Ticket>> {
        let tickets = validate::ticket_changes(changes)?;
        let mut tx = self.begin_write().await?;
        for (ticket, change) in tickets.iter().zip(changes) {
            let events = write_change(&mut tx, ticket, change, ticket.version - 1).await?;
            append_events(&mut tx, &events).await?;
        }
        tx.commit().await?;
        Ok(tickets)
    }

    #[tracing::instrument(skip_all, level = "debug", fields(ticket = %id))]
    async fn ticket_followers(&self, id: &TicketId) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT follower_id FROM ticket_followers WHERE ticket_id = ?1 ORDER BY follower_id",
        )
        .bind(uuid_text(id.as_uuid()))
        .fetch_all(&self.pool)
        .await?)
    }

    #[tracing::instrument(skip_all, level = "debug", fields(ticket = %id, after_seq = after_seq, limit = limit))]
    async fn list_events(
        &self,
        id: &TicketId,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<TicketEvent>> {
        let rows = sqlx::query(
            "SELECT cursor, subdistrict_code, ticket_id, seq, kind, actor, from_state, to_state, \
             level, assignee_person_id, note, at FROM ticket_events \
             WHERE ticket_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
        )
        .bind(uuid_text(id.as_uuid()))
        .bind(after_seq)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(event(r)?.1)).collect()
    }

    #[tracing::instrument(skip_all, level = "debug", fields(subdistricts = subdistrict_codes.len(), after_cursor = after_cursor, limit = limit))]
    async fn events_since(
        &self,
        subdistrict_codes: &[AreaCode],
        after_cursor: i64,
        limit: u32,
    ) -> Result<Vec<LoggedEvent>> {
        let rows = sqlx::query(
            "SELECT cursor, subdistrict_code, ticket_id, seq, kind, actor, from_state, to_state, \
             level, assignee_person_id, note, at FROM ticket_events WHERE cursor > ?1 \
             AND (json_array_length(?2) = 0 \
                  OR subdistrict_code IN (SELECT value FROM json_each(?2))) \
             ORDER BY cursor LIMIT ?3",
        )
        .bind(after_cursor)
        .bind(json_list(subdistrict_codes.iter().map(AreaCode::as_str)))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| event(r).map(|(cursor, event)| LoggedEvent { cursor, event }))
            .collect()
    }
}

#[async_trait]
impl TimerStore for SqliteStore {
    #[tracing::instrument(skip_all, level = "debug", fields(ticket = %id))]
    async fn list_timers(&self, id: &TicketId) -> Result<Vec<Timer>> {
        let rows = sqlx::query(
            "SELECT subdistrict_code, ticket_id, kind, due_at, level FROM timers \
             WHERE ticket_id = ?1 ORDER BY due_at, kind",
        )
        .bind(uuid_text(id.as_uuid()))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(timer).collect()
    }

    #[tracing::instrument(skip_all, level = "debug", fields(%now))]
    async fn subdistricts_with_due_timers(&self, now: OffsetDateTime) -> Result<Vec<AreaCode>> {
        let codes: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT subdistrict_code FROM timers WHERE due_at <= ?1 \
             ORDER BY subdistrict_code",
        )
        .bind(to_micros(now))
        .fetch_all(&self.pool)
        .await?;
        codes
            .into_iter()
            .map(|c| AreaCode::new(c).map_err(StoreError::internal))
            .collect()
    }

    #[tracing::instrument(skip_all, level = "debug", fields(subdistrict = %subdistrict, %now, limit = limit))]
    async fn fire_due_timers(
        &self,
        subdistrict: &AreaCode,
        now: OffsetDateTime,
        limit: u32,
        retry_after: Duration,
        handler: &dyn TimerHandler,
    ) -> Result<FireReport> {
        let retry_at = to_micros(now + retry_after);
        // The write lock is the claim: no other writer runs until this batch commits, so
        // no ticket can change between this read and the write below.
        let mut tx = self.begin_write().await?;
        let claimed = sqlx::query(
            "SELECT subdistrict_code, ticket_id, kind, due_at, level FROM timers \
             WHERE subdistrict_code = ?1 AND due_at <= ?2 \
             ORDER BY due_at, ticket_id, kind LIMIT ?3",
        )
        .bind(subdistrict.as_str())
        .bind(to_micros(now))
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        let mut batch = Vec::with_capacity(claimed.len());
        let mut loaded: HashMap<Uuid, Option<Ticket>> = HashMap::new();
        for row in &claimed {
            let timer = timer(row)?;
            let id = timer.ticket_id.as_uuid();
            let ticket = match loaded.get(&id) {
                Some(t) => t.clone(),
                None => {
                    let row = sqlx::query(TICKET_BY_KEY.as_str())
                        .bind(subdistrict.as_str())
                        .bind(uuid_text(id))
                        .fetch_optional(&mut *tx)
                        .await?;
                    let t = row.as_ref().map(ticket).transpose()?;
                    loaded.insert(id, t.clone());
                    t
                }
            };
            batch.push(Claimed { timer, ticket });
        }
        let mut plan = plan(batch, handler).await;
        for t in &plan.delete {
            delete_timer(&mut tx, t).await?;
        }
        let mut retry: Vec<Timer> = std::mem::take(&mut plan.retry);
        for c in std::mem::take(&mut plan.changed) {
            let change = &c.change;
            let mut savepoint = Connection::begin(&mut *tx).await?;
            match write_change(&mut savepoint, &change.ticket, change, c.expected_version).await {
                Ok(events) => {
                    if change.timers.is_none() {
                        for t in &c.consumed {
                            delete_timer(&mut savepoint, t).await?;
                        }
                        retry.extend(c.retry.iter().cloned());
                    }
                    append_events(&mut savepoint, &events).await?;
                    savepoint.commit().await?;
                }
                Err(error) => {
                    savepoint.rollback().await?;
                    warn!(ticket = %c.change.ticket.id, %error, "timer change not written; retrying later");
                    plan.not_written(&c);
                    retry.extend(c.claimed.iter().cloned());
                }
            }
        }
        for t in &retry {
            sqlx::query(
                "UPDATE timers SET due_at = ?1 \
                 WHERE subdistrict_code = ?2 AND ticket_id = ?3 AND kind = ?4",
            )
            .bind(retry_at)
            .bind(t.subdistrict_code.as_str())
            .bind(uuid_text(t.ticket_id.as_uuid()))
            .bind(t.kind.as_str())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(plan.report)
    }
}

#[async_trait]
impl IdempotencyStore for SqliteStore {
    #[tracing::instrument(skip_all, level = "debug", fields(%scope, %request_id))]
    async fn get_idempotency(
        &self,
        scope: &str,
        request_id: &str,
    ) -> Result<Option<IdempotencyRecord>> {
        let row = sqlx::query(
            "SELECT scope, request_id, request_hash, response, created_at FROM idempotency \
             WHERE scope = ?1 AND request_id = ?2",
        )
        .bind(scope)
        .bind(request_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(idempotency).transpose()
    }

    #[tracing::instrument(skip_all, level = "debug", fields(scope = %record.scope, request_id = %record.request_id))]
    async fn put_idempotency(&self, record: &IdempotencyRecord) -> Result<()> {
        let mut tx = self.begin_write().await?;
        insert_idempotency(&mut tx, &normalize_idempotency(record)).await?;
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, level = "debug", fields(%before))]
    async fn purge_idempotency(&self, before: OffsetDateTime) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("DELETE FROM idempotency WHERE created_at < ?1")
            .bind(to_micros(before))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}

/// The database's clock, for the `updated_at` bookkeeping of areas (not part of any
/// answer, so it need not come from the injected clock).
async fn sqlite_now(conn: &mut SqliteConnection) -> Result<OffsetDateTime> {
    let micros: i64 = sqlx::query_scalar("SELECT CAST(unixepoch('subsec') * 1000000 AS INTEGER)")
        .fetch_one(conn)
        .await?;
    from_micros("updated_at", micros)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that gives up between `BEGIN` and `COMMIT` (its future dropped) must not
    /// hand its connection back inside the transaction: every later writer would wait on
    /// the write lock it holds, or fail to begin on that very connection.
    #[tokio::test]
    async fn an_unsettled_connection_is_closed_not_pooled() {
        let store = SqliteStore::in_memory().await.unwrap();
        store.migrate().await.unwrap();
        // More than once: a connection wrongly pooled would be handed out again.
        for _ in 0..3 {
            let mut left = Unsettled {
                conn: store.writer.acquire().await.unwrap(),
                settled: false,
            };
            sqlx::query("BEGIN IMMEDIATE")
                .execute(&mut *left.conn)
                .await
                .unwrap();
            drop(left);
            let next = tokio::time::timeout(StdDuration::from_secs(2), store.begin_write())
                .await
                .expect("the write lock was left held")
                .expect("a pooled connection was left inside a transaction");
            next.commit().await.unwrap();
        }
        // A settled one goes back to the pool and stays usable.
        let mut conn = Unsettled {
            conn: store.writer.acquire().await.unwrap(),
            settled: true,
        };
        sqlx::query("SELECT 1")
            .execute(&mut *conn.conn)
            .await
            .unwrap();
        drop(conn);
        store.begin_write().await.unwrap().commit().await.unwrap();
    }
}
