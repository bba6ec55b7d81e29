//! The Postgres side of group commit (see [`crate::group_commit`]): a batch of new
//! tickets is one statement, so it costs one round trip and one commit whatever its size.
//! Each request still succeeds or fails on its own: taken keys and ids are skipped inside
//! the statement and answered individually, and if the batch fails for any other reason,
//! its tickets are written again one by one.

use std::collections::HashSet;
use std::sync::{Arc, LazyLock};

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection, PgPool};
use tracing::{debug, warn};
use uuid::Uuid;

use super::arrays::{
    EventArrays, TicketArrays, TimerArrays, event_unnest, ticket_unnest_args, timer_sets_upsert,
};
use super::{ASSIGNEE_SOURCE, EVENT_LOG_LOCK, assignees_insert, create_one};
use crate::codec::{EventColumns, TICKET_COLUMNS, TicketColumns};
use crate::error::{Result, StoreError};
use crate::group_commit::{
    GroupCommit, Job, WriteBatch, accepted, idempotency_taken, refuse_repeats,
};

/// Most tickets in one statement (its arrays grow with the batch; the parameters do not).
const MAX_BATCH: usize = 512;
/// Writer tasks, i.e. transactions in flight at once. More than one lets the next batch
/// form and start while the previous one waits for its flush. With `submit-load` on 2
/// vCPUs (after the event log lock became shared), one, two and four writers gave the
/// same within the noise at 4 and 16 callers; two did best at 64 (about 8,000–10,000/s
/// against 6,600–6,900 for one or four).
const WRITERS: usize = 2;

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
    let options = options
        .application_name(&name)
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
            let result = write_batch(&mut conn, &batch).await;
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
/// Order inside the statement: idempotency keys are inserted first (ON CONFLICT DO
/// NOTHING, which waits for a concurrent writer of the same key and then skips it);
/// tickets only for jobs whose key went in (or that have none) and whose id is free;
/// timers and events only for tickets that went in. Events take the event log lock
/// (shared: concurrent writers do not wait for each other) in an InitPlan, evaluated
/// before their first row and so before their cursors are drawn; it is held to the
/// commit, which is what lets readers tell when the log is final (see [`EVENT_LOG_LOCK`]).
/// Foreign keys are checked at the end of the statement, when every part is in.
///
/// "Is this id taken" is a correlated scalar subquery, not `NOT EXISTS` or `id = ANY($n)`:
/// the statement runs on a generic plan (see [`start`]), made once, often while `tickets`
/// is still small, that cannot see how short the arrays are; as an anti-join, or as
/// `= ANY`, it chose to scan all of `tickets` for every batch (`pg_stat_user_tables`
/// showed one sequential scan per batch, reading the whole table each time). A scalar
/// subquery per element is always a lookup by key.
async fn write_batch(conn: &mut PgConnection, batch: &[Job]) -> Result<Vec<Result<()>>> {
    let mut outcomes = refuse_repeats(batch);
    let jobs = accepted(batch, &outcomes);
    if jobs.is_empty() {
        return Ok(outcomes);
    }

    let mut k = Keys::default();
    let mut key_scope: Vec<Option<String>> = Vec::new();
    let mut key_request_id: Vec<Option<String>> = Vec::new();
    let mut t = TicketArrays::default();
    let mut tm = TimerArrays::default();
    let mut ev = EventArrays::default();
    for new in &jobs {
        let c = TicketColumns::new(&new.ticket)?;
        match &new.idempotency {
            Some(r) => {
                k.scope.push(r.scope.clone());
                k.request_id.push(r.request_id.clone());
                k.hash.push(r.request_hash.clone());
                k.response.push(r.response.clone());
                k.created_at.push(r.created_at);
                k.ticket.push(new.ticket.id.as_uuid());
                key_scope.push(Some(r.scope.clone()));
                key_request_id.push(Some(r.request_id.clone()));
            }
            None => {
                key_scope.push(None);
                key_request_id.push(None);
            }
        }
        t.push(c);
        for timer in &new.timers {
            tm.push(timer);
        }
        for (e, seq) in new.events.iter().zip(1..) {
            ev.push(EventColumns::new(&new.ticket, seq, e));
        }
    }

    let keyed_tickets = std::mem::take(&mut k.ticket);
    let query = sqlx::query_as(BATCH_SQL.as_str())
        .bind(EVENT_LOG_LOCK)
        // idempotency: $2..$6
        .bind(k.scope)
        .bind(k.request_id)
        .bind(k.hash)
        .bind(k.response)
        .bind(k.created_at)
        // tickets: $7, $8 the key, then the columns from $9
        .bind(key_scope)
        .bind(key_request_id);
    // $9..$40 tickets, $41..$45 timers, $46..$56 events, $57 the keys' tickets
    let query = ev.bind(tm.bind(t.bind(query))).bind(keyed_tickets);
    let rows: Vec<(Uuid, bool)> = query.fetch_all(&mut *conn).await?;
    // (id, true) for each ticket written; (id, false) for each id that was already taken.
    let written: HashSet<Uuid> = rows.iter().filter(|r| r.1).map(|r| r.0).collect();
    let taken: HashSet<Uuid> = rows.iter().filter(|r| !r.1).map(|r| r.0).collect();
    let mut jobs = jobs.into_iter();
    for outcome in outcomes.iter_mut().filter(|o| o.is_ok()) {
        let new = jobs.next().expect("one job per accepted outcome");
        let id = new.ticket.id.as_uuid();
        if !written.contains(&id) {
            // Not written: its id was taken, else its key.
            *outcome = Err(match &new.idempotency {
                Some(r) if !taken.contains(&id) => idempotency_taken(r),
                _ => StoreError::already_exists("ticket", new.ticket.id),
            });
        }
    }
    Ok(outcomes)
}

/// One statement for a whole batch; see [`write_batch`].
static BATCH_SQL: LazyLock<String> = LazyLock::new(|| {
    let unnest = ticket_unnest_args(9);
    let cols = TICKET_COLUMNS.join(", ");
    let u_cols: Vec<String> = TICKET_COLUMNS.iter().map(|c| format!("u.{c}")).collect();
    format!(
        "WITH keys AS ( \
           INSERT INTO idempotency (scope, request_id, request_hash, response, created_at) \
           SELECT k.scope, k.request_id, k.request_hash, k.response, k.created_at \
           FROM unnest($2::text[], $3::text[], $4::bytea[], $5::bytea[], $6::timestamptz[], \
             $57::uuid[]) AS k(scope, request_id, request_hash, response, created_at, ticket_id) \
           WHERE (SELECT count(*) FROM tickets old WHERE old.id = k.ticket_id) = 0 \
           ON CONFLICT DO NOTHING RETURNING scope, request_id), \
         t AS ( \
           INSERT INTO tickets ({cols}) \
           SELECT {u_cols} FROM unnest($7::text[], $8::text[], {unnest}) \
             AS u(key_scope, key_request_id, {cols}) \
           WHERE (u.key_scope IS NULL OR EXISTS (SELECT 1 FROM keys \
                   WHERE keys.scope = u.key_scope AND keys.request_id = u.key_request_id)) \
             AND (SELECT count(*) FROM tickets old WHERE old.id = u.id) = 0 \
           RETURNING {assignee_source}), \
         a AS ({assignees}), \
         tm AS ({timers}), \
         ev AS ( \
           INSERT INTO ticket_events (subdistrict_code, ticket_id, seq, kind, actor, from_state, \
             to_state, level, assignee_person_id, note, at) \
           SELECT * FROM {events} \
           WHERE (SELECT 1 FROM pg_advisory_xact_lock_shared($1)) = 1 \
             AND x.ticket_id IN (SELECT id FROM t)) \
         SELECT id, true FROM t \
         UNION ALL SELECT x.id, false FROM unnest($10::uuid[]) AS x(id) \
           WHERE (SELECT count(*) FROM tickets old WHERE old.id = x.id) > 0",
        u_cols = u_cols.join(", "),
        assignee_source = ASSIGNEE_SOURCE,
        assignees = assignees_insert("t"),
        timers = timer_sets_upsert(41, "WHERE x.ticket_id IN (SELECT id FROM t)"),
        events = event_unnest(46),
    )
});

#[derive(Default)]
struct Keys {
    scope: Vec<String>,
    request_id: Vec<String>,
    hash: Vec<Vec<u8>>,
    response: Vec<Vec<u8>>,
    created_at: Vec<time::OffsetDateTime>,
    ticket: Vec<Uuid>,
}
