//! The production store: PostgreSQL with PostGIS (`migrations/postgres`).
//!
//! Every write that spans rows is one transaction. Optimistic concurrency on tickets is a
//! `version` predicate on the UPDATE, which also serialises writers of one ticket (the row
//! lock), so event numbers are `max(seq) + 1` inside the transaction. Timers are claimed
//! with `FOR UPDATE SKIP LOCKED`, one subdistrict at a time, so any number of workers share
//! them and the claim touches one shard when the schema is distributed with Citus.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder, Row};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;
use wuzhang_domain::area::{Area, AreaCode, AreaLevel};
use wuzhang_domain::category::{Category, CategoryCode};
use wuzhang_domain::chief::{Person, PersonId, Post};
use wuzhang_domain::clock::truncate_to_micros;
use wuzhang_domain::event::{EventKind, TicketEvent};
use wuzhang_domain::ticket::{Ticket, TicketId, TicketState};
use wuzhang_domain::timer::Timer;

use crate::codec::{
    self, AreaColumns, CategoryColumns, EventColumns, PostColumns, TICKET_COLUMNS, TicketColumns,
    from_micros, normalize_idempotency, normalize_ticket, to_micros,
};
use crate::error::{Result, StoreError, unique_as};
use crate::interface::{
    AreaStore, Backend, CategoryStore, IdempotencyStore, RosterStore, Store, TicketStore,
    TimerHandler, TimerStore,
};
use crate::model::ReferenceCounters;
use crate::model::{
    AreaQuery, AreaRecord, FireReport, IdempotencyRecord, LoggedEvent, NewTicket, Page,
    PageRequest, StoredCalendarYear, TicketChange, TicketGrouping, TicketOrder, TicketQuery,
};
use crate::token::{PageKey, into_page, ticket_key};
use crate::validate;

mod arrays;
mod batch;
mod feed;
mod firing;
mod rows;

use arrays::{EventArrays, TimerArrays};
use feed::{EVENT_LOG_LOCK, Feed};

use crate::group_commit::GroupCommit;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

type PgQuery<'q> = sqlx::query::Query<'q, Postgres, PgArguments>;

const AREA_COLUMNS: &str =
    "code, name, level, parent_code, community, min_lng, min_lat, max_lng, max_lat";
const CATEGORY_COLUMNS: &str = "code, name, parent_code, kind, start_level, accept_within_s, \
     resolve_within_s, deadline_kind, urgent, calendar_code, duplicate_radius_m, \
     duplicate_window_s, active";

fn dollar(n: usize) -> String {
    format!("${n}")
}

static TICKET_SELECT: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {} FROM tickets", TICKET_COLUMNS.join(", ")));
static TICKET_BY_ID: LazyLock<String> =
    LazyLock::new(|| format!("{} WHERE id = $1", *TICKET_SELECT));
/// The ticket and its `ticket_assignees` row; answers the ticket's id.
static TICKET_INSERT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH t AS ({} RETURNING {ASSIGNEE_SOURCE}), a AS ({}) SELECT id FROM t",
        codec::ticket_insert_sql(dollar),
        assignees_insert("t"),
    )
});
/// The ticket (if its version is the expected one) and, if the assignment changed, its
/// `ticket_assignees` row; answers the ticket's id if it was updated.
static TICKET_UPDATE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH t AS ({} RETURNING {ASSIGNEE_SOURCE}), a AS ({}) SELECT id FROM t",
        codec::ticket_update_sql(dollar),
        assignees_update("t", ""),
    )
});

/// What a ticket write returns for [`assignees_insert`] and [`assignees_update`] to read.
pub(super) const ASSIGNEE_SOURCE: &str =
    "subdistrict_code, id, assignee_area_code, assignee_person_id";

/// Inserts the `ticket_assignees` rows of new tickets from `source` (a CTE returning
/// [`ASSIGNEE_SOURCE`]). See migration 0009 for why the assignment has its own table.
pub(super) fn assignees_insert(source: &str) -> String {
    format!(
        "INSERT INTO ticket_assignees (subdistrict_code, ticket_id, assignee_area_code, \
           assignee_person_id) \
         SELECT subdistrict_code, id, assignee_area_code, assignee_person_id FROM {source}"
    )
}

/// Updates the `ticket_assignees` rows of updated tickets from `source` (a CTE returning
/// [`ASSIGNEE_SOURCE`]), only where the assignment changed, so that other ticket writes
/// leave no row version behind; `and` adds conditions on the row (`a`).
pub(super) fn assignees_update(source: &str, and: &str) -> String {
    format!(
        "UPDATE ticket_assignees a SET assignee_area_code = s.assignee_area_code, \
           assignee_person_id = s.assignee_person_id \
         FROM {source} s \
         WHERE a.subdistrict_code = s.subdistrict_code AND a.ticket_id = s.id {and} \
           AND (a.assignee_area_code, a.assignee_person_id) \
             IS DISTINCT FROM (s.assignee_area_code, s.assignee_person_id)"
    )
}

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

// ---------------------------------------------------------------------------- rows

// The same column decoding on both backends; only the row type differs.
crate::codec::row_decoders!(PgRow);

fn ticket(row: &PgRow) -> Result<Ticket> {
    TicketColumns {
        subdistrict_code: row.try_get("subdistrict_code")?,
        id: row.try_get("id")?,
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
        accept_due_at: row.try_get("accept_due_at")?,
        resolve_due_at: row.try_get("resolve_due_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        duplicate_of: row.try_get("duplicate_of")?,
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
fn bind_ticket(q: PgQuery<'_>, c: TicketColumns) -> PgQuery<'_> {
    q.bind(c.subdistrict_code)
        .bind(c.id)
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
        .bind(c.accept_due_at)
        .bind(c.resolve_due_at)
        .bind(c.created_at)
        .bind(c.updated_at)
        .bind(c.duplicate_of)
        .bind(c.pause)
        .bind(c.rating_stars)
        .bind(c.rating_not_solved)
        .bind(c.rating_comment)
        .bind(c.version)
        .bind(c.supervision)
        .bind(c.supervision_count)
}

fn event(row: &PgRow) -> Result<(i64, TicketEvent)> {
    EventColumns {
        cursor: row.try_get("cursor")?,
        subdistrict_code: row.try_get("subdistrict_code")?,
        ticket_id: row.try_get("ticket_id")?,
        seq: row.try_get("seq")?,
        kind: row.try_get("kind")?,
        actor: row.try_get("actor")?,
        from_state: row.try_get("from_state")?,
        to_state: row.try_get("to_state")?,
        level: row.try_get("level")?,
        assignee_person_id: row.try_get("assignee_person_id")?,
        note: row.try_get("note")?,
        at: row.try_get("at")?,
    }
    .into_event()
}

fn idempotency(row: &PgRow) -> Result<IdempotencyRecord> {
    Ok(IdempotencyRecord {
        scope: row.try_get("scope")?,
        request_id: row.try_get("request_id")?,
        request_hash: row.try_get("request_hash")?,
        response: row.try_get("response")?,
        created_at: row.try_get("created_at")?,
    })
}

fn strings<'a>(items: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    items.into_iter().map(str::to_owned).collect()
}

// ---------------------------------------------------------------------------- writes

async fn insert_idempotency(conn: &mut PgConnection, r: &IdempotencyRecord) -> Result<()> {
    sqlx::query(
        "INSERT INTO idempotency (scope, request_id, request_hash, response, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&r.scope)
    .bind(&r.request_id)
    .bind(&r.request_hash)
    .bind(&r.response)
    .bind(truncate_to_micros(r.created_at))
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

/// Replaces the timers of the tickets they belong to (one `timer_sets` row each).
async fn insert_timers(conn: &mut PgConnection, timers: &[Timer]) -> Result<()> {
    if timers.is_empty() {
        return Ok(());
    }
    let mut arrays = TimerArrays::default();
    timers.iter().for_each(|t| arrays.push(t));
    arrays
        .bind(sqlx::query(TIMER_SETS_UPSERT.as_str()))
        .execute(conn)
        .await?;
    Ok(())
}

static TIMER_SETS_UPSERT: LazyLock<String> = LazyLock::new(|| arrays::timer_sets_upsert(1, ""));

/// Appends events (their seqs already given); the caller commits right after.
async fn append_events(conn: &mut PgConnection, events: Vec<EventColumns>) -> Result<()> {
    let mut arrays = EventArrays::default();
    events.into_iter().for_each(|e| arrays.push(e));
    insert_events(conn, arrays).await
}

/// The events, holding the event log lock shared (taken in an InitPlan before the first
/// row draws its cursor, held to the commit; see [`EVENT_LOG_LOCK`]). One statement for
/// any number of events.
static INSERT_EVENTS_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO ticket_events (subdistrict_code, ticket_id, seq, kind, actor, from_state, \
           to_state, level, assignee_person_id, note, at) \
         SELECT * FROM {} WHERE (SELECT 1 FROM pg_advisory_xact_lock_shared($12)) = 1",
        arrays::event_unnest(1)
    )
});

/// Inserts `events` with [`INSERT_EVENTS_SQL`] (nothing if there are none).
async fn insert_events(conn: &mut PgConnection, events: EventArrays) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    events
        .bind(sqlx::query(INSERT_EVENTS_SQL.as_str()))
        .bind(EVENT_LOG_LOCK)
        .execute(conn)
        .await?;
    Ok(())
}

/// Writes a changed ticket (already normalised and checked), its timers and idempotency
/// record, and numbers its events after the ticket's last.
/// Returns the events to append.
async fn write_change(
    conn: &mut PgConnection,
    ticket: &Ticket,
    change: &TicketChange,
) -> Result<Vec<EventColumns>> {
    let id = ticket.id.as_uuid();
    let sub = ticket.subdistrict_code.as_str();
    let updated = bind_ticket(
        sqlx::query(TICKET_UPDATE.as_str()),
        TicketColumns::new(ticket)?,
    )
    .bind(ticket.version - 1)
    .fetch_optional(&mut *conn)
    .await?;
    if updated.is_none() {
        let current = sqlx::query("SELECT subdistrict_code, version FROM tickets WHERE id = $1")
            .bind(id)
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
        sqlx::query("DELETE FROM timer_sets WHERE subdistrict_code = $1 AND ticket_id = $2")
            .bind(sub)
            .bind(id)
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
             VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(sub)
        .bind(id)
        .bind(follower)
        .execute(&mut *conn)
        .await?;
    }
    let last: i64 = sqlx::query_scalar(
        "SELECT COALESCE(MAX(seq), 0) FROM ticket_events \
         WHERE subdistrict_code = $1 AND ticket_id = $2",
    )
    .bind(sub)
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(change
        .events
        .iter()
        .zip(last + 1..)
        .map(|(e, seq)| EventColumns::new(ticket, seq, e))
        .collect())
}

/// Times cut to the microsecond everywhere they are stored.
fn normalize_new_ticket(new: &NewTicket) -> NewTicket {
    NewTicket {
        ticket: normalize_ticket(&new.ticket),
        events: new.events.clone(),
        timers: new
            .timers
            .iter()
            .map(|t| Timer {
                due_at: truncate_to_micros(t.due_at),
                ..t.clone()
            })
            .collect(),
        idempotency: new.idempotency.as_ref().map(normalize_idempotency),
        followed: new.followed.clone(),
    }
}

/// Writes one new ticket (normalised and validated) in its own transaction.
async fn create_one(pool: &PgPool, new: &NewTicket) -> Result<Ticket> {
    let ticket = &new.ticket;
    let mut tx = pool.begin().await?;
    if let Some(r) = &new.idempotency {
        insert_idempotency(&mut tx, r).await?;
    }
    // The key is (subdistrict, id) for distribution; the id alone must still be unique.
    let taken: Option<i32> = sqlx::query_scalar("SELECT 1 FROM tickets WHERE id = $1")
        .bind(ticket.id.as_uuid())
        .fetch_optional(&mut *tx)
        .await?;
    if taken.is_some() {
        return Err(StoreError::already_exists("ticket", ticket.id));
    }
    bind_ticket(
        sqlx::query(TICKET_INSERT.as_str()),
        TicketColumns::new(ticket)?,
    )
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| unique_as(e, "ticket", ticket.id))?;
    insert_timers(&mut tx, &new.timers).await?;
    let mut events: Vec<EventColumns> = new
        .events
        .iter()
        .zip(1..)
        .map(|(e, seq)| EventColumns::new(ticket, seq, e))
        .collect();
    if let Some(change) = &new.followed {
        let other = normalize_ticket(&change.ticket);
        validate::ticket_write(&other, change.timers.as_deref())?;
        events.extend(write_change(&mut tx, &other, change).await?);
    }
    append_events(&mut tx, events).await?;
    tx.commit().await?;
    Ok(ticket.clone())
}

/// Appends `query`'s filters (each ` AND …`) to a ticket query that ends in a WHERE clause.
fn push_ticket_filters(qb: &mut QueryBuilder<Postgres>, query: &TicketQuery) {
    if !query.subdistrict_codes.is_empty() {
        qb.push(" AND subdistrict_code = ANY(")
            .push_bind(strings(
                query.subdistrict_codes.iter().map(AreaCode::as_str),
            ))
            .push(")");
    }
    if let Some(r) = &query.reporter_id {
        qb.push(" AND reporter_id = ").push_bind(r.clone());
    }
    // Through `ticket_assignees`, which holds the assignment's indexes (migration 0009).
    if let Some(p) = &query.assignee_person_id {
        qb.push(
            " AND (subdistrict_code, id) IN (SELECT subdistrict_code, ticket_id \
             FROM ticket_assignees WHERE assignee_person_id = ",
        )
        .push_bind(p.as_str().to_owned())
        .push(")");
    }
    if !query.assignee_area_codes.is_empty() {
        qb.push(
            " AND (subdistrict_code, id) IN (SELECT subdistrict_code, ticket_id \
             FROM ticket_assignees WHERE assignee_area_code = ANY(",
        )
        .push_bind(strings(
            query.assignee_area_codes.iter().map(AreaCode::as_str),
        ))
        .push("))");
    }
    if !query.states.is_empty() {
        qb.push(" AND state = ANY(")
            .push_bind(strings(query.states.iter().map(|s| s.as_str())))
            .push(")");
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
        qb.push(" AND state = ANY(")
            .push_bind(strings(open.map(TicketState::as_str)))
            .push(") AND (accept_due_at < ")
            .push_bind(at)
            .push(" OR resolve_due_at < ")
            .push_bind(at)
            .push(")");
    }
    if let Some(from) = query.created_from {
        qb.push(" AND created_at >= ").push_bind(from);
    }
    if let Some(before) = query.created_before {
        qb.push(" AND created_at < ").push_bind(before);
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

// ---------------------------------------------------------------------------- the trait

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
impl AreaStore for PostgresStore {
    #[tracing::instrument(skip_all, level = "debug", fields(count = areas.len()))]
    async fn upsert_areas(&self, areas: &[AreaRecord]) -> Result<i64> {
        let batch = validate::area_batch(areas)?;
        let mut tx = self.pool.begin().await?;
        if !batch.outside_parents.is_empty() {
            let codes: Vec<String> = batch.outside_parents.keys().cloned().collect();
            let rows = sqlx::query("SELECT code, level FROM areas WHERE code = ANY($1)")
                .bind(&codes)
                .fetch_all(&mut *tx)
                .await?;
            let mut stored = HashMap::with_capacity(rows.len());
            for row in rows {
                let level: String = row.try_get("level")?;
                stored.insert(
                    row.try_get("code")?,
                    codec::parse::<AreaLevel>("level", &level)?,
                );
            }
            validate::check_outside_parents(&batch, &stored)?;
        }
        // UNNEST inserts a chunk per statement: imports bring tens of thousands of grids.
        for chunk in batch.rows.chunks(1000) {
            let mut cols: (Vec<_>, Vec<_>, Vec<_>, Vec<_>, Vec<_>) = Default::default();
            let mut bbox: (Vec<_>, Vec<_>, Vec<_>, Vec<_>) = Default::default();
            let mut geoms = Vec::with_capacity(chunk.len());
            for a in chunk {
                cols.0.push(a.code.clone());
                cols.1.push(a.name.clone());
                cols.2.push(a.level.clone());
                cols.3.push(a.parent_code.clone());
                cols.4.push(a.community.clone());
                bbox.0.push(a.min_lng);
                bbox.1.push(a.min_lat);
                bbox.2.push(a.max_lng);
                bbox.3.push(a.max_lat);
                geoms.push(a.geom.clone());
            }
            sqlx::query(
                "INSERT INTO areas (code, name, level, parent_code, community, \
                     min_lng, min_lat, max_lng, max_lat, geom, updated_at) \
                 SELECT code, name, level, parent_code, community, \
                     min_lng, min_lat, max_lng, max_lat, ST_Multi(ST_GeomFromWKB(wkb, 4326)), now() \
                 FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], \
                     $6::float8[], $7::float8[], $8::float8[], $9::float8[], $10::bytea[]) \
                     AS u(code, name, level, parent_code, community, \
                          min_lng, min_lat, max_lng, max_lat, wkb) \
                 ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, level = EXCLUDED.level, \
                     parent_code = EXCLUDED.parent_code, community = EXCLUDED.community, \
                     min_lng = EXCLUDED.min_lng, min_lat = EXCLUDED.min_lat, \
                     max_lng = EXCLUDED.max_lng, max_lat = EXCLUDED.max_lat, \
                     geom = EXCLUDED.geom, updated_at = EXCLUDED.updated_at",
            )
            .bind(cols.0)
            .bind(cols.1)
            .bind(cols.2)
            .bind(cols.3)
            .bind(cols.4)
            .bind(bbox.0)
            .bind(bbox.1)
            .bind(bbox.2)
            .bind(bbox.3)
            .bind(geoms)
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
             max_lat FROM areas WHERE code = $1",
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
             max_lat FROM areas WHERE code = ANY($1) ORDER BY code",
        )
        .bind(strings(codes.iter().map(AreaCode::as_str)))
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
             max_lat, ST_AsBinary(geom) AS geom FROM areas WHERE code = $1",
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
            QueryBuilder::<Postgres>::new(format!("SELECT {AREA_COLUMNS} FROM areas WHERE TRUE"));
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
            // The GiST expression index narrows; the exact comparisons decide.
            qb.push(" AND ST_MakeEnvelope(min_lng, min_lat, max_lng, max_lat, 4326) && ST_MakeEnvelope(")
                .push_bind(b.min_lng)
                .push(", ")
                .push_bind(b.min_lat)
                .push(", ")
                .push_bind(b.max_lng)
                .push(", ")
                .push_bind(b.max_lat)
                .push(", 4326)");
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
        let levels = strings(levels.iter().map(|l| l.as_str()));
        let rows = sqlx::query(
            "SELECT code, name, level, parent_code, community, min_lng, min_lat, max_lng, \
             max_lat, ST_AsBinary(geom) AS geom FROM areas \
             WHERE cardinality($1::text[]) = 0 OR level = ANY($1) ORDER BY code",
        )
        .bind(levels)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(area_record).collect()
    }

    #[tracing::instrument(skip_all, level = "debug", fields(?levels))]
    async fn load_areas(&self, levels: &[AreaLevel]) -> Result<Vec<Area>> {
        let levels = strings(levels.iter().map(|l| l.as_str()));
        let rows = sqlx::query(
            "SELECT code, name, level, parent_code, community, min_lng, min_lat, max_lng, \
             max_lat FROM areas \
             WHERE cardinality($1::text[]) = 0 OR level = ANY($1) ORDER BY code",
        )
        .bind(levels)
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
                 SELECT code, parent_code, 0 FROM areas WHERE code = $1 \
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

    #[tracing::instrument(skip_all, level = "debug", fields(count = geometries.len()))]
    async fn make_valid(&self, geometries: &[Vec<u8>]) -> Result<Option<Vec<Vec<u8>>>> {
        if geometries.is_empty() {
            return Ok(Some(Vec::new()));
        }
        // `method=structure` (GEOS ≥ 3.10) unions shells and subtracts holes. The default
        // `linework` method keeps self-overlapping spikes as extra area, which on the real
        // Changchun boundaries made neighbouring districts overlap by up to 17,000 m².
        let rows = sqlx::query(
            "SELECT ST_AsBinary(ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_GeomFromWKB(w, 4326), 'method=structure'), 3))) \
             FROM UNNEST($1::bytea[]) WITH ORDINALITY AS t(w, i) ORDER BY i",
        )
        .bind(geometries)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| match e {
            // Unparseable WKB is the caller's input, not our failure.
            sqlx::Error::Database(db) if db.code().as_deref() == Some("XX000") => {
                StoreError::invalid("geometry_wkb", db.message().to_owned())
            }
            other => other.into(),
        })?;
        Ok(Some(rows.iter().map(|r| r.get::<Vec<u8>, _>(0)).collect()))
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
impl RosterStore for PostgresStore {
    #[tracing::instrument(skip_all, level = "debug", fields(persons = persons.len(), posts = posts.len()))]
    async fn upsert_roster(&self, persons: &[Person], posts: &[Post]) -> Result<()> {
        let needs = validate::roster_batch(persons, posts)?;
        let post_cols = posts
            .iter()
            .map(PostColumns::new)
            .collect::<Result<Vec<_>>>()?;
        let mut tx = self.pool.begin().await?;
        let mut area_levels = HashMap::new();
        if !needs.area_codes.is_empty() {
            for row in sqlx::query("SELECT code, level FROM areas WHERE code = ANY($1)")
                .bind(&needs.area_codes)
                .fetch_all(&mut *tx)
                .await?
            {
                let level: String = row.try_get("level")?;
                area_levels.insert(
                    row.try_get("code")?,
                    codec::parse::<AreaLevel>("level", &level)?,
                );
            }
        }
        let mut stored_persons = HashSet::new();
        if !needs.person_ids.is_empty() {
            let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM persons WHERE id = ANY($1)")
                .bind(&needs.person_ids)
                .fetch_all(&mut *tx)
                .await?;
            stored_persons.extend(ids);
        }
        validate::check_posts(posts, persons, &area_levels, &stored_persons)?;
        if !persons.is_empty() {
            sqlx::query(
                "INSERT INTO persons (id, name, phone) \
                 SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[]) \
                 ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, phone = EXCLUDED.phone",
            )
            .bind(strings(persons.iter().map(|p| p.id.as_str())))
            .bind(persons.iter().map(|p| p.name.clone()).collect::<Vec<_>>())
            .bind(persons.iter().map(|p| p.phone.clone()).collect::<Vec<_>>())
            .execute(&mut *tx)
            .await?;
        }
        if !post_cols.is_empty() {
            let mut cols: (Vec<_>, Vec<_>, Vec<_>, Vec<_>, Vec<_>) = Default::default();
            for p in post_cols {
                cols.0.push(p.area_code);
                cols.1.push(p.level);
                cols.2.push(p.holder);
                cols.3.push(p.deputy);
                cols.4.push(p.leave);
            }
            sqlx::query(
                "INSERT INTO posts (area_code, level, holder, deputy, leave) \
                 SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) \
                 ON CONFLICT (area_code) DO UPDATE SET level = EXCLUDED.level, \
                     holder = EXCLUDED.holder, deputy = EXCLUDED.deputy, leave = EXCLUDED.leave",
            )
            .bind(cols.0)
            .bind(cols.1)
            .bind(cols.2)
            .bind(cols.3)
            .bind(cols.4)
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
        let row = sqlx::query("SELECT id, name, phone FROM persons WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::not_found("person", id))?;
        person(&row)
    }

    #[tracing::instrument(skip_all, level = "debug", fields(count = ids.len()))]
    async fn get_persons(&self, ids: &[PersonId]) -> Result<Vec<Person>> {
        let rows =
            sqlx::query("SELECT id, name, phone FROM persons WHERE id = ANY($1) ORDER BY id")
                .bind(strings(ids.iter().map(PersonId::as_str)))
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(person).collect()
    }

    #[tracing::instrument(skip_all, level = "debug", fields(count = codes.len()))]
    async fn posts_for_areas(&self, codes: &[AreaCode]) -> Result<Vec<Post>> {
        let rows = sqlx::query(
            "SELECT area_code, level, holder, deputy, leave FROM posts \
             WHERE area_code = ANY($1) ORDER BY area_code",
        )
        .bind(strings(codes.iter().map(AreaCode::as_str)))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(post).collect()
    }

    #[tracing::instrument(skip_all, level = "debug", fields(person = %id))]
    async fn posts_of_person(&self, id: &PersonId) -> Result<Vec<Post>> {
        let rows = sqlx::query(
            "SELECT area_code, level, holder, deputy, leave FROM posts \
             WHERE holder = $1 OR deputy = $1 ORDER BY area_code",
        )
        .bind(id.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(post).collect()
    }
}

#[async_trait]
impl CategoryStore for PostgresStore {
    #[tracing::instrument(skip_all, level = "debug", fields(code = %category.code))]
    async fn upsert_category(&self, category: &Category) -> Result<()> {
        let c = CategoryColumns::new(category)?;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO categories (code, name, parent_code, kind, start_level, accept_within_s, \
                 resolve_within_s, deadline_kind, urgent, calendar_code, duplicate_radius_m, \
                 duplicate_window_s, active) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
             ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, \
                 parent_code = EXCLUDED.parent_code, kind = EXCLUDED.kind, \
                 start_level = EXCLUDED.start_level, accept_within_s = EXCLUDED.accept_within_s, \
                 resolve_within_s = EXCLUDED.resolve_within_s, \
                 deadline_kind = EXCLUDED.deadline_kind, urgent = EXCLUDED.urgent, \
                 calendar_code = EXCLUDED.calendar_code, \
                 duplicate_radius_m = EXCLUDED.duplicate_radius_m, \
                 duplicate_window_s = EXCLUDED.duplicate_window_s, active = EXCLUDED.active",
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
             duplicate_window_s, active FROM categories WHERE code = $1",
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
        let mut qb = QueryBuilder::<Postgres>::new(format!(
            "SELECT {CATEGORY_COLUMNS} FROM categories WHERE TRUE"
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
             VALUES ($1, $2, $3, $4) ON CONFLICT (code, year) DO UPDATE \
             SET document = excluded.document, updated_at = excluded.updated_at",
        )
        .bind(&year.code)
        .bind(year.year)
        .bind(&year.document)
        .bind(to_micros(year.updated_at))
        .execute(&self.pool)
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
impl TicketStore for PostgresStore {
    #[tracing::instrument(skip_all, level = "debug", fields(ticket = %new.ticket.id))]
    async fn create_ticket(&self, new: &NewTicket) -> Result<Ticket> {
        let new = normalize_new_ticket(new);
        validate::ticket_write(&new.ticket, Some(&new.timers))?;
        if new.followed.is_some() {
            // A merge touches two tickets; rare, so it skips the queue.
            return create_one(&self.pool, &new).await;
        }
        self.batch.create(new).await
    }

    #[tracing::instrument(skip_all, level = "debug", fields(ticket = %id))]
    async fn get_ticket(&self, id: &TicketId) -> Result<Ticket> {
        let row = sqlx::query(TICKET_BY_ID.as_str())
            .bind(id.as_uuid())
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
        // Tickets without a deadline sort last: the sentinel is NO_DEADLINE_MICROS.
        let due = "COALESCE(accept_due_at, resolve_due_at, \
                   '9999-12-31 23:59:59.999999+00'::timestamptz)";
        let mut qb = QueryBuilder::<Postgres>::new(format!("{} WHERE TRUE", *TICKET_SELECT));
        push_ticket_filters(&mut qb, query);
        match after {
            Some(PageKey::TicketNewest { created, id }) => {
                let created = codec::from_micros("page_token", created)?;
                qb.push(" AND (created_at < ")
                    .push_bind(created)
                    .push(" OR (created_at = ")
                    .push_bind(created)
                    .push(" AND id < ")
                    .push_bind(id)
                    .push("))");
            }
            Some(PageKey::TicketDue {
                due: d,
                created,
                id,
            }) => {
                let d = codec::from_micros("page_token", d)?;
                let created = codec::from_micros("page_token", created)?;
                qb.push(format!(" AND ({due} > "))
                    .push_bind(d)
                    .push(format!(" OR ({due} = "))
                    .push_bind(d)
                    .push(" AND (created_at > ")
                    .push_bind(created)
                    .push(" OR (created_at = ")
                    .push_bind(created)
                    .push(" AND id > ")
                    .push_bind(id)
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
        let mut qb = QueryBuilder::<Postgres>::new("SELECT COUNT(*) FROM tickets WHERE TRUE");
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
        let mut qb = QueryBuilder::<Postgres>::new("SELECT ");
        qb.push(column).push(", COUNT(*) FROM tickets WHERE TRUE");
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
        let mut qb =
            QueryBuilder::<Postgres>::new("SELECT COUNT(*) FROM ticket_events WHERE at >= ");
        qb.push_bind(since);
        if !subdistrict_codes.is_empty() {
            qb.push(" AND subdistrict_code = ANY(")
                .push_bind(strings(subdistrict_codes.iter().map(AreaCode::as_str)))
                .push(")");
        }
        if !kinds.is_empty() {
            qb.push(" AND kind = ANY(")
                .push_bind(strings(kinds.iter().map(|k| k.as_str())))
                .push(")");
        }
        let n: i64 = qb.build_query_scalar().fetch_one(&self.pool).await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    #[tracing::instrument(skip_all, level = "debug")]
    async fn event_cursor_head(&self) -> Result<i64> {
        // Not MAX(cursor): a lower cursor may still be committed below it.
        self.feed.head(&self.pool).await
    }

    #[tracing::instrument(skip_all, level = "debug", fields(ticket = %change.ticket.id, version = change.ticket.version))]
    async fn update_ticket(&self, change: &TicketChange) -> Result<Ticket> {
        let mut stored = self.update_tickets(std::slice::from_ref(change)).await?;
        Ok(stored.remove(0))
    }

    #[tracing::instrument(skip_all, level = "debug", fields(tickets = changes.len()))]
    async fn update_tickets(&self, changes: &[TicketChange]) -> Result<Vec<Ticket>> {
        let tickets = validate::ticket_changes(changes)?;
        let mut tx = self.pool.begin().await?;
        let mut events = Vec::new();
        for (ticket, change) in tickets.iter().zip(changes) {
            events.extend(write_change(&mut tx, ticket, change).await?);
        }
        append_events(&mut tx, events).await?;
        tx.commit().await?;
        Ok(tickets)
    }

    #[tracing::instrument(skip_all, level = "debug", fields(ticket = %id))]
    async fn ticket_followers(&self, id: &TicketId) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT follower_id FROM ticket_followers WHERE ticket_id = $1 ORDER BY follower_id",
        )
        .bind(id.as_uuid())
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
             WHERE ticket_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(id.as_uuid())
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
        // Only the final part of the log: beyond it a writer may still commit a lower cursor
        // than one already visible (see `feed`).
        let settled = self.feed.settled_after(&self.pool, after_cursor).await?;
        if settled <= after_cursor {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "SELECT cursor, subdistrict_code, ticket_id, seq, kind, actor, from_state, to_state, \
             level, assignee_person_id, note, at FROM ticket_events \
             WHERE cursor > $1 AND cursor <= $4 \
             AND (cardinality($2::text[]) = 0 OR subdistrict_code = ANY($2)) \
             ORDER BY cursor LIMIT $3",
        )
        .bind(after_cursor)
        .bind(strings(subdistrict_codes.iter().map(AreaCode::as_str)))
        .bind(i64::from(limit))
        .bind(settled)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| event(r).map(|(cursor, event)| LoggedEvent { cursor, event }))
            .collect()
    }
}

#[async_trait]
impl TimerStore for PostgresStore {
    #[tracing::instrument(skip_all, level = "debug", fields(ticket = %id))]
    async fn list_timers(&self, id: &TicketId) -> Result<Vec<Timer>> {
        let row: Option<(String, Uuid, Vec<String>, Vec<OffsetDateTime>, Vec<String>)> =
            sqlx::query_as(
                "SELECT subdistrict_code, ticket_id, kinds, dues, levels FROM timer_sets \
                 WHERE (subdistrict_code, ticket_id) IN \
                   (SELECT subdistrict_code, id FROM tickets WHERE id = $1)",
            )
            .bind(id.as_uuid())
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some((sub, ticket, kinds, dues, levels)) => {
                arrays::timer_set(sub, ticket, kinds, dues, levels)
            }
            None => Ok(Vec::new()),
        }
    }

    #[tracing::instrument(skip_all, level = "debug", fields(%now))]
    async fn subdistricts_with_due_timers(&self, now: OffsetDateTime) -> Result<Vec<AreaCode>> {
        // A loose index scan over (subdistrict_code, due_at): one probe per subdistrict
        // for its earliest timer, instead of reading every due timer (or, when the planner
        // expects many, every timer) to find the few distinct codes.
        let codes: Vec<String> = sqlx::query_scalar(
            "WITH RECURSIVE subs(code) AS ( \
               (SELECT subdistrict_code FROM timer_sets ORDER BY subdistrict_code LIMIT 1) \
               UNION ALL \
               SELECT (SELECT t.subdistrict_code FROM timer_sets t \
                       WHERE t.subdistrict_code > s.code \
                       ORDER BY t.subdistrict_code LIMIT 1) \
               FROM subs s WHERE s.code IS NOT NULL) \
             SELECT code FROM subs s WHERE code IS NOT NULL AND \
               (SELECT min(due_at) FROM timer_sets t WHERE t.subdistrict_code = s.code) <= $1 \
             ORDER BY code",
        )
        .bind(truncate_to_micros(now))
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
        firing::fire_due_timers(&self.pool, subdistrict, now, limit, retry_after, handler).await
    }
}

#[async_trait]
impl IdempotencyStore for PostgresStore {
    #[tracing::instrument(skip_all, level = "debug", fields(%scope, %request_id))]
    async fn get_idempotency(
        &self,
        scope: &str,
        request_id: &str,
    ) -> Result<Option<IdempotencyRecord>> {
        let row = sqlx::query(
            "SELECT scope, request_id, request_hash, response, created_at FROM idempotency \
             WHERE scope = $1 AND request_id = $2",
        )
        .bind(scope)
        .bind(request_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(idempotency).transpose()
    }

    #[tracing::instrument(skip_all, level = "debug", fields(scope = %record.scope, request_id = %record.request_id))]
    async fn put_idempotency(&self, record: &IdempotencyRecord) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        insert_idempotency(&mut conn, &normalize_idempotency(record)).await
    }

    #[tracing::instrument(skip_all, level = "debug", fields(%before))]
    async fn purge_idempotency(&self, before: OffsetDateTime) -> Result<u64> {
        let done = sqlx::query("DELETE FROM idempotency WHERE created_at < $1")
            .bind(truncate_to_micros(before))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
