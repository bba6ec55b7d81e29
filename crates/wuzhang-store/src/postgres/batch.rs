//! The Postgres side of group commit (see [`crate::group_commit`]): a batch of new
//! tickets is one statement, so it costs one round trip and one commit whatever its size.
//! Each request still succeeds or fails on its own: taken keys and ids are skipped inside
//! the statement and answered individually, and if the batch fails for any other reason,
//! its tickets are written again one by one ([`create_one`], also how a new ticket that
//! merges into another is written, outside the queue).

use std::collections::HashSet;
use std::sync::{Arc, LazyLock};

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection, PgPool};
use tracing::{debug, warn};
use uuid::Uuid;
use wuzhang_domain::clock::truncate_to_micros;
use wuzhang_domain::ticket::Ticket;
use wuzhang_domain::timer::Timer;

use super::feed::{EVENT_LOG_LOCK, append_events};
use super::idempotency::insert_idempotency;
use super::rows::{
    ASSIGNEE_SOURCE, EventRow, KeyRow, TICKET_INSERT, TicketRow, TimerSetRow, assignees_insert,
    bind_ticket,
};
use super::tickets::write_change;
use super::timers::insert_timers;
use crate::codec::{
    EventColumns, TICKET_COLUMNS, TicketColumns, normalize_idempotency, normalize_ticket,
};
use crate::error::{Result, StoreError, unique_as};
use crate::group_commit::{
    GroupCommit, Job, WriteBatch, accepted, idempotency_taken, refuse_repeats,
};
use crate::model::NewTicket;
use crate::validate;

/// Most tickets in one statement (its arrays grow with the batch; the parameters do not).
const MAX_BATCH: usize = 512;
/// Writer tasks, i.e. transactions in flight at once. One: while it commits, whatever
/// arrives queues and goes into the next batch, so each commit (a WAL flush, most of what
/// a small batch costs Postgres) serves as many submissions as it can. With `submit-load`
/// (lean client, 2 vCPUs, 2026-11-30), one writer against two, alternating, two runs
/// each: 2,231–2,238 against 1,876–2,279 per s at 1 caller, 4,353–4,527 against
/// 3,849–4,164 at 4, 10,001–10,006 against 7,885–9,103 at 16, 12,190–13,860 against
/// 11,411–13,263 at 64, with a quarter to a third less Postgres CPU per submission from
/// 4 callers up. Two did best while the batch statement itself took long (one array per
/// column, before migration 0011): a second transaction then overlapped its execution.
const WRITERS: usize = 1;

/// The writers' connections' `application_name` (after the pool's own, if it has one).
pub(crate) const WRITER_NAME: &str = "ticket-writer";

/// Starts the Postgres group commit: [`WRITERS`] transactions in flight at most, each
/// writing a batch of at most [`MAX_BATCH`] tickets in one statement.
///
/// The writers have connections of their own (one per slot, beside the store's pool), so
/// a burst of reads never makes a commit wait for a connection, and those connections plan
/// the batch statement once (`plan_cache_mode = force_generic_plan`): its plan does not
/// depend on the values (arrays unnested, rows found by key), and planning it afresh
/// for each batch cost about 0.4 ms, as much as executing a small batch (statement log
/// at 4 callers).
pub(super) fn start(pool: &PgPool) -> GroupCommit {
    // A deployment that allows its pool a single connection gets a single writer too.
    let writers = WRITERS.min(pool.options().get_max_connections() as usize);
    let options = (*pool.connect_options()).clone();
    // Named, so an operator (or a test) can tell the writers apart in pg_stat_activity.
    let name = match options.get_application_name() {
        Some(name) => format!("{name} {WRITER_NAME}"),
        None => WRITER_NAME.to_owned(),
    };
    // The store's session settings again: a pool built by the caller (`from_pool`) may
    // lack them.
    let options = options
        .application_name(&name)
        .options(super::SESSION_SETTINGS)
        .options([("plan_cache_mode", "force_generic_plan")]);
    let conns = Arc::new(WriterConnections {
        options,
        connect_timeout: pool.options().get_acquire_timeout(),
        idle: std::sync::Mutex::new(Vec::with_capacity(writers)),
    });
    let fallback = pool.clone();
    let write: WriteBatch = Arc::new(move |batch| {
        let conns = Arc::clone(&conns);
        let fallback = fallback.clone();
        Box::pin(async move { write(&conns, &fallback, batch).await })
    });
    GroupCommit::start(writers, MAX_BATCH, write)
}

/// The writers' connections, outside any sqlx pool: a pool pings every connection given
/// back to it (a Sync and its ReadyForQuery, from a task spawned for it), which was a
/// second round trip, two more wake-ups and a busy connection for every batch (strace of
/// the server at one caller). The group commit's slots already bound how many are in use
/// at once, so this is only a stack of idle ones. A connection that saw any error is
/// dropped rather than given back, and so is one whose batch was abandoned half-way (its
/// future dropped): the next batch opens a fresh one.
struct WriterConnections {
    options: PgConnectOptions,
    /// As long as the store's pool waits for a connection.
    connect_timeout: std::time::Duration,
    idle: std::sync::Mutex<Vec<PgConnection>>,
}

impl WriterConnections {
    async fn take(&self) -> Result<PgConnection> {
        let idle = self.idle.lock().expect("writer connections lock").pop();
        match idle {
            Some(conn) => Ok(conn),
            None => tokio::time::timeout(
                self.connect_timeout,
                PgConnection::connect_with(&self.options),
            )
            .await
            .map_err(|_| StoreError::from(sqlx::Error::PoolTimedOut))?
            .map_err(StoreError::from),
        }
    }

    fn give_back(&self, conn: PgConnection) {
        self.idle
            .lock()
            .expect("writer connections lock")
            .push(conn);
    }
}

/// Writes a batch and answers every job in it.
async fn write(conns: &WriterConnections, fallback: &PgPool, batch: Vec<Job>) {
    let n = batch.len();
    let written = match conns.take().await {
        Ok(mut conn) => {
            let news: Vec<&NewTicket> = batch.iter().map(|j| &j.new).collect();
            let result = write_batch(&mut conn, &news).await;
            if result.is_ok() {
                conns.give_back(conn);
            }
            result
        }
        Err(e) => Err(e),
    };
    match written {
        Ok(outcomes) => {
            debug!(tickets = n, "group commit");
            for (job, outcome) in batch.into_iter().zip(outcomes) {
                let _ = job.reply.send(outcome.map(|()| job.new.ticket.clone()));
            }
        }
        Err(e) => {
            // Something we did not foresee: write each alone so each gets its own answer.
            // Only the database being busy or gone is foreseen; anything else is a bug in
            // the batch statement, which tests must not miss behind the fallback.
            debug_assert!(e.is_retryable(), "group commit batch failed: {e}");
            warn!(tickets = n, error = %e, "group commit failed; writing one by one");
            for job in batch {
                let result = create_one(fallback, &job.new).await;
                let _ = job.reply.send(result);
            }
        }
    }
}

/// The whole batch in one statement, so one round trip and one commit (the statement is
/// its own transaction). Returns each job's outcome: written, or refused because its
/// idempotency key or ticket id is taken (by a stored row or an earlier job of the
/// batch). An `Err` means nothing was written.
///
/// Order inside the statement: first which ids are taken already (`taken`, looked up
/// once per ticket); then idempotency keys are inserted (ON CONFLICT DO NOTHING, which
/// waits for a concurrent writer of the same key and then skips it); tickets only for jobs
/// whose key went in (or that have none) and whose id is free; timer sets and events only
/// for tickets that went in (a new ticket has no timer set yet, so a plain insert). Events
/// take the event log lock (shared: concurrent writers do not wait for each other) in an
/// InitPlan, evaluated before their first row and so before their cursors are drawn; it
/// is held to the commit, which is what lets readers tell when the log is final (see
/// [`EVENT_LOG_LOCK`]). Foreign keys are checked at the end of the statement, when every
/// part is in.
///
/// "Is this id taken" is a correlated scalar subquery, not `NOT EXISTS` or `id = ANY($n)`:
/// the statement runs on a generic plan (see [`start`]), made once, often while `tickets`
/// is still small, that cannot see how short the arrays are; as an anti-join, or as
/// `= ANY`, it chose to scan all of `tickets` for every batch (`pg_stat_user_tables`
/// showed one sequential scan per batch, reading the whole table each time). A scalar
/// subquery per element is always a lookup by key; the rest of the statement asks the
/// materialised `taken`, never `tickets`.
pub(super) async fn write_batch(
    conn: &mut PgConnection,
    batch: &[&NewTicket],
) -> Result<Vec<Result<()>>> {
    encode_batch(batch)?.run(conn).await
}

/// A batch encoded for its statement, ready to run: the CPU half of [`write_batch`] (the
/// rows into the statement's arrays, the arrays into the wire format), apart so that a
/// campaign encodes its next few thousand tickets while the database writes these.
pub(super) struct EncodedBatch {
    outcomes: Vec<Result<()>>,
    /// The jobs sent, in order: the ticket's id, and the answer if its key was taken.
    sent: Vec<(Uuid, Option<StoreError>)>,
    /// `None` when no job was left to send.
    query: Option<BatchQuery>,
}

type BatchQuery = sqlx::query::QueryAs<
    'static,
    sqlx::Postgres,
    (Uuid, bool),
    <sqlx::Postgres as sqlx::Database>::Arguments,
>;

/// Encodes `batch` for [`EncodedBatch::run`].
pub(super) fn encode_batch(batch: &[&NewTicket]) -> Result<EncodedBatch> {
    let outcomes = refuse_repeats(batch);
    let jobs = accepted(batch, &outcomes);
    if jobs.is_empty() {
        return Ok(EncodedBatch {
            outcomes,
            sent: Vec::new(),
            query: None,
        });
    }

    let mut keys: Vec<KeyRow> = Vec::new();
    let mut tickets: Vec<TicketRow> = Vec::with_capacity(jobs.len());
    let mut ids: Vec<Uuid> = Vec::with_capacity(jobs.len());
    let mut sent = Vec::with_capacity(jobs.len());
    let mut events: Vec<EventRow> = Vec::new();
    for new in &jobs {
        let id = new.ticket.id.as_uuid();
        let (key_scope, key_request_id) = match &new.idempotency {
            Some(r) => {
                keys.push(KeyRow::new(r, id));
                (Some(r.scope.clone()), Some(r.request_id.clone()))
            }
            None => (None, None),
        };
        tickets.push(TicketRow {
            key_scope,
            key_request_id,
            ticket: TicketColumns::new(&new.ticket)?,
        });
        ids.push(id);
        sent.push((id, new.idempotency.as_ref().map(idempotency_taken)));
        events.extend(EventColumns::numbered(&new.ticket, &new.events, 0).map(EventRow));
    }
    let timer_sets = TimerSetRow::sets(jobs.iter().flat_map(|new| &new.timers));

    let query = sqlx::query_as(BATCH_SQL.as_str())
        .bind(EVENT_LOG_LOCK)
        .bind(keys)
        .bind(tickets)
        .bind(ids)
        .bind(timer_sets)
        .bind(events);
    Ok(EncodedBatch {
        outcomes,
        sent,
        query: Some(query),
    })
}

impl EncodedBatch {
    /// Runs the statement on `conn` and answers each job: written, or refused because its
    /// idempotency key or ticket id is taken. An `Err` means nothing was written.
    pub(super) async fn run(self, conn: &mut PgConnection) -> Result<Vec<Result<()>>> {
        let EncodedBatch {
            mut outcomes,
            sent,
            query,
        } = self;
        let Some(query) = query else {
            return Ok(outcomes);
        };
        let rows: Vec<(Uuid, bool)> = query.fetch_all(&mut *conn).await?;
        // (id, true) for each ticket written; (id, false) for each id that was already taken.
        let written: HashSet<Uuid> = rows.iter().filter(|r| r.1).map(|r| r.0).collect();
        let taken: HashSet<Uuid> = rows.iter().filter(|r| !r.1).map(|r| r.0).collect();
        let mut sent = sent.into_iter();
        for outcome in outcomes.iter_mut().filter(|o| o.is_ok()) {
            let (id, key_taken) = sent.next().expect("one job sent per accepted outcome");
            if !written.contains(&id) {
                // Not written: its id was taken, else its key.
                *outcome = Err(match key_taken {
                    Some(e) if !taken.contains(&id) => e,
                    _ => StoreError::already_exists("ticket", id),
                });
            }
        }
        Ok(outcomes)
    }
}

/// One statement for a whole batch; see [`write_batch`]. Parameters: `$1` the event log
/// lock, then one array per table of the row types of migration 0011 ([`super::rows`]):
/// `$2` idempotency keys, `$3` tickets, `$4` their ids, `$5` timer sets, `$6` events.
static BATCH_SQL: LazyLock<String> = LazyLock::new(|| {
    let cols = TICKET_COLUMNS.join(", ");
    let u_cols: Vec<String> = TICKET_COLUMNS.iter().map(|c| format!("u.{c}")).collect();
    format!(
        "WITH taken AS MATERIALIZED ( \
           SELECT x.id FROM unnest($4::uuid[]) AS x(id) \
           WHERE (SELECT count(*) FROM tickets old WHERE old.id = x.id) > 0), \
         keys AS ( \
           INSERT INTO idempotency (scope, request_id, request_hash, response, created_at) \
           SELECT k.scope, k.request_id, k.request_hash, k.response, k.created_at \
           FROM unnest($2::batch_key[]) AS k \
           WHERE k.ticket_id NOT IN (SELECT id FROM taken) \
           ON CONFLICT DO NOTHING RETURNING scope, request_id), \
         t AS ( \
           INSERT INTO tickets ({cols}) \
           SELECT {u_cols} FROM unnest($3::batch_ticket[]) AS u \
           WHERE (u.key_scope IS NULL OR EXISTS (SELECT 1 FROM keys \
                   WHERE keys.scope = u.key_scope AND keys.request_id = u.key_request_id)) \
             AND u.id NOT IN (SELECT id FROM taken) \
           RETURNING {assignee_source}), \
         a AS ({assignees}), \
         tm AS ( \
           INSERT INTO timer_sets (subdistrict_code, ticket_id, due_at, kinds, dues, levels) \
           SELECT x.subdistrict_code, x.ticket_id, x.due_at, x.kinds, x.dues, x.levels \
           FROM unnest($5::batch_timer_set[]) AS x \
           WHERE x.ticket_id IN (SELECT id FROM t)), \
         ev AS ( \
           INSERT INTO ticket_events (subdistrict_code, ticket_id, seq, kind, actor, from_state, \
             to_state, level, assignee_person_id, note, at, accept_due_at, resolve_due_at, \
             rating_stars, rating_not_solved, assignee_org_code) \
           SELECT x.subdistrict_code, x.ticket_id, x.seq, x.kind, x.actor, x.from_state, \
             x.to_state, x.level, x.assignee_person_id, x.note, x.at, x.accept_due_at, \
             x.resolve_due_at, x.rating_stars, x.rating_not_solved, x.assignee_org_code \
           FROM unnest($6::batch_event[]) AS x \
           WHERE (SELECT 1 FROM pg_advisory_xact_lock_shared($1)) = 1 \
             AND x.ticket_id IN (SELECT id FROM t)) \
         SELECT id, true FROM t \
         UNION ALL SELECT id, false FROM taken",
        u_cols = u_cols.join(", "),
        assignee_source = ASSIGNEE_SOURCE,
        assignees = assignees_insert("t"),
    )
});

/// Times cut to the microsecond everywhere they are stored.
pub(super) fn normalize_new_ticket(new: &NewTicket) -> NewTicket {
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
pub(super) async fn create_one(pool: &PgPool, new: &NewTicket) -> Result<Ticket> {
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
    let mut events: Vec<EventColumns> = EventColumns::numbered(ticket, &new.events, 0).collect();
    if let Some(change) = &new.followed {
        let other = normalize_ticket(&change.ticket);
        validate::ticket_write(&other, change.timers.as_deref())?;
        events.extend(write_change(&mut tx, &other, change).await?);
    }
    append_events(&mut tx, events).await?;
    tx.commit().await?;
    Ok(ticket.clone())
}
