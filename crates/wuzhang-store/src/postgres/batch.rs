//! The Postgres side of group commit (see [`crate::group_commit`]): a batch of new
//! tickets is one statement, so it costs one round trip and one commit whatever its size.
//! Each request still succeeds or fails on its own: taken keys and ids are skipped inside
//! the statement and answered individually, and if the batch fails for any other reason,
//! its tickets are written again one by one.

use std::collections::HashSet;
use std::sync::{Arc, LazyLock};

use sqlx::PgPool;
use tracing::{debug, warn};
use uuid::Uuid;

use super::{EVENT_LOG_LOCK, create_one};
use crate::codec::{EventColumns, TICKET_COLUMNS, TicketColumns};
use crate::error::{Result, StoreError};
use crate::group_commit::{GroupCommit, Job, WriteBatch};
use crate::model::NewTicket;

/// Most tickets in one statement (its arrays grow with the batch; the parameters do not).
const MAX_BATCH: usize = 512;
/// Writer tasks, i.e. transactions in flight at once. More than one lets the next batch
/// form and start while the previous one waits for its flush.
const WRITERS: usize = 4;

/// Starts the Postgres group commit: [`WRITERS`] tasks writing batches of at most
/// [`MAX_BATCH`] tickets, each batch in one statement.
pub(super) fn start(pool: PgPool) -> GroupCommit {
    let writers = WRITERS.min(pool.options().get_max_connections() as usize);
    let write: WriteBatch = Arc::new(move |batch| {
        let pool = pool.clone();
        Box::pin(async move { write(&pool, batch).await })
    });
    GroupCommit::start(writers, MAX_BATCH, write)
}

/// Writes a batch and answers every job in it.
async fn write(pool: &PgPool, batch: Vec<Job>) {
    let n = batch.len();
    match write_batch(pool, &batch).await {
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
                let result = create_one(pool, &job.new).await;
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
/// timers and events only for tickets that went in. Events take the event log lock in an
/// InitPlan, evaluated before their first row (and so before their cursors are drawn),
/// and the lock is held to the commit: cursors become visible in order (see
/// [`EVENT_LOG_LOCK`]). Foreign keys are checked at the end of the statement, when every
/// part is in.
///
/// "Is this id taken" is a correlated scalar subquery, not `NOT EXISTS`: the statement is
/// prepared once and soon runs on a generic plan that cannot see how short the arrays
/// are, and as an anti-join it chose to scan all of `tickets` for every batch.
async fn write_batch(pool: &PgPool, batch: &[Job]) -> Result<Vec<Result<()>>> {
    let mut outcomes: Vec<Result<()>> = batch.iter().map(|_| Ok(())).collect();
    // Keys repeated inside the batch: only the first may go in.
    let mut keys = HashSet::new();
    let mut ids = HashSet::new();
    for (job, outcome) in batch.iter().zip(outcomes.iter_mut()) {
        if !ids.insert(job.new.ticket.id) {
            *outcome = Err(StoreError::already_exists("ticket", job.new.ticket.id));
        } else if let Some(r) = &job.new.idempotency
            && !keys.insert((r.scope.as_str(), r.request_id.as_str()))
        {
            *outcome = Err(already(r));
        }
    }
    let jobs: Vec<&NewTicket> = batch
        .iter()
        .zip(&outcomes)
        .filter(|(_, o)| o.is_ok())
        .map(|(j, _)| &j.new)
        .collect();
    if jobs.is_empty() {
        return Ok(outcomes);
    }

    let mut k = Keys::default();
    let mut t = Tickets::default();
    let mut tm = Timers::default();
    let mut ev = Events::default();
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
                t.key_scope.push(Some(r.scope.clone()));
                t.key_request_id.push(Some(r.request_id.clone()));
            }
            None => {
                t.key_scope.push(None);
                t.key_request_id.push(None);
            }
        }
        t.push(c);
        for timer in &new.timers {
            tm.subdistrict
                .push(timer.subdistrict_code.as_str().to_owned());
            tm.ticket.push(timer.ticket_id.as_uuid());
            tm.kind.push(timer.kind.as_str().to_owned());
            tm.due.push(timer.due_at);
            tm.level.push(timer.level.as_str().to_owned());
        }
        for (e, seq) in new.events.iter().zip(1..) {
            ev.push(EventColumns::new(&new.ticket, seq, e));
        }
    }

    let keyed_tickets = std::mem::take(&mut k.ticket);
    let rows: Vec<(Uuid, bool)> = sqlx::query_as(BATCH_SQL.as_str())
        .bind(EVENT_LOG_LOCK)
        // idempotency: $2..$6
        .bind(k.scope)
        .bind(k.request_id)
        .bind(k.hash)
        .bind(k.response)
        .bind(k.created_at)
        // tickets: $7, $8 the key, then the columns from $9
        .bind(t.key_scope)
        .bind(t.key_request_id)
        .bind(t.subdistrict_code)
        .bind(t.id)
        .bind(t.grid_code)
        .bind(t.state)
        .bind(t.level)
        .bind(t.assignee_area_code)
        .bind(t.assignee_person_id)
        .bind(t.category_code)
        .bind(t.description)
        .bind(t.lat)
        .bind(t.lng)
        .bind(t.crs)
        .bind(t.original_lat)
        .bind(t.original_lng)
        .bind(t.original_crs)
        .bind(t.address)
        .bind(t.building_code)
        .bind(t.unit_code)
        .bind(t.media_urls)
        .bind(t.contact_phone)
        .bind(t.reporter_id)
        .bind(t.urgent)
        .bind(t.accept_due_at)
        .bind(t.resolve_due_at)
        .bind(t.created_at)
        .bind(t.updated_at)
        .bind(t.duplicate_of)
        .bind(t.pause)
        .bind(t.rating_stars)
        .bind(t.rating_not_solved)
        .bind(t.rating_comment)
        .bind(t.version)
        // timers: $41..$45
        .bind(tm.subdistrict)
        .bind(tm.ticket)
        .bind(tm.kind)
        .bind(tm.due)
        .bind(tm.level)
        // events: $46..$56
        .bind(ev.subdistrict)
        .bind(ev.ticket)
        .bind(ev.seq)
        .bind(ev.kind)
        .bind(ev.actor)
        .bind(ev.from_state)
        .bind(ev.to_state)
        .bind(ev.level)
        .bind(ev.assignee)
        .bind(ev.note)
        .bind(ev.at)
        .bind(keyed_tickets)
        .fetch_all(pool)
        .await?;
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
                Some(r) if !taken.contains(&id) => already(r),
                _ => StoreError::already_exists("ticket", new.ticket.id),
            });
        }
    }
    Ok(outcomes)
}

fn already(r: &crate::model::IdempotencyRecord) -> StoreError {
    StoreError::already_exists("idempotency", format!("{}/{}", r.scope, r.request_id))
}

/// One statement for a whole batch; see [`write_batch`].
static BATCH_SQL: LazyLock<String> = LazyLock::new(|| {
    let types = [
        "text",
        "uuid",
        "text",
        "text",
        "text",
        "text",
        "text",
        "text",
        "text",
        "float8",
        "float8",
        "text",
        "float8",
        "float8",
        "text",
        "text",
        "text",
        "text",
        "text",
        "text",
        "text",
        "bool",
        "timestamptz",
        "timestamptz",
        "timestamptz",
        "timestamptz",
        "uuid",
        "text",
        "int2",
        "bool",
        "text",
        "int8",
    ];
    debug_assert_eq!(types.len(), TICKET_COLUMNS.len());
    let unnest: Vec<String> = types
        .iter()
        .enumerate()
        .map(|(i, ty)| format!("${}::{ty}[]", i + 9))
        .collect();
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
           RETURNING id), \
         tm AS ( \
           INSERT INTO timers (subdistrict_code, ticket_id, kind, due_at, level) \
           SELECT * FROM unnest($41::text[], $42::uuid[], $43::text[], $44::timestamptz[], $45::text[]) \
             AS x(subdistrict_code, ticket_id, kind, due_at, level) \
           WHERE x.ticket_id IN (SELECT id FROM t)), \
         ev AS ( \
           INSERT INTO ticket_events (subdistrict_code, ticket_id, seq, kind, actor, from_state, \
             to_state, level, assignee_person_id, note, at) \
           SELECT * FROM unnest($46::text[], $47::uuid[], $48::int8[], $49::text[], $50::text[], \
             $51::text[], $52::text[], $53::text[], $54::text[], $55::text[], $56::timestamptz[]) \
             AS x(subdistrict_code, ticket_id, seq, kind, actor, from_state, to_state, level, \
               assignee_person_id, note, at) \
           WHERE (SELECT 1 FROM pg_advisory_xact_lock($1)) = 1 \
             AND x.ticket_id IN (SELECT id FROM t)) \
         SELECT id, true FROM t \
         UNION ALL SELECT id, false FROM tickets WHERE id = ANY($10::uuid[])",
        u_cols = u_cols.join(", "),
        unnest = unnest.join(", "),
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

#[derive(Default)]
struct Timers {
    subdistrict: Vec<String>,
    ticket: Vec<Uuid>,
    kind: Vec<String>,
    due: Vec<time::OffsetDateTime>,
    level: Vec<String>,
}

#[derive(Default)]
struct Events {
    subdistrict: Vec<String>,
    ticket: Vec<Uuid>,
    seq: Vec<i64>,
    kind: Vec<String>,
    actor: Vec<String>,
    from_state: Vec<Option<String>>,
    to_state: Vec<String>,
    level: Vec<Option<String>>,
    assignee: Vec<Option<String>>,
    note: Vec<String>,
    at: Vec<time::OffsetDateTime>,
}

impl Events {
    fn push(&mut self, e: EventColumns) {
        self.subdistrict.push(e.subdistrict_code);
        self.ticket.push(e.ticket_id);
        self.seq.push(e.seq);
        self.kind.push(e.kind);
        self.actor.push(e.actor);
        self.from_state.push(e.from_state);
        self.to_state.push(e.to_state);
        self.level.push(e.level);
        self.assignee.push(e.assignee_person_id);
        self.note.push(e.note);
        self.at.push(e.at);
    }
}

/// The ticket columns as arrays, plus each ticket's idempotency key.
#[derive(Default)]
struct Tickets {
    key_scope: Vec<Option<String>>,
    key_request_id: Vec<Option<String>>,
    subdistrict_code: Vec<String>,
    id: Vec<Uuid>,
    grid_code: Vec<String>,
    state: Vec<String>,
    level: Vec<Option<String>>,
    assignee_area_code: Vec<Option<String>>,
    assignee_person_id: Vec<Option<String>>,
    category_code: Vec<String>,
    description: Vec<String>,
    lat: Vec<f64>,
    lng: Vec<f64>,
    crs: Vec<String>,
    original_lat: Vec<f64>,
    original_lng: Vec<f64>,
    original_crs: Vec<String>,
    address: Vec<String>,
    building_code: Vec<Option<String>>,
    unit_code: Vec<Option<String>>,
    media_urls: Vec<String>,
    contact_phone: Vec<Option<String>>,
    reporter_id: Vec<String>,
    urgent: Vec<bool>,
    accept_due_at: Vec<Option<time::OffsetDateTime>>,
    resolve_due_at: Vec<Option<time::OffsetDateTime>>,
    created_at: Vec<time::OffsetDateTime>,
    updated_at: Vec<time::OffsetDateTime>,
    duplicate_of: Vec<Option<Uuid>>,
    pause: Vec<String>,
    rating_stars: Vec<Option<i16>>,
    rating_not_solved: Vec<Option<bool>>,
    rating_comment: Vec<Option<String>>,
    version: Vec<i64>,
}

impl Tickets {
    fn push(&mut self, c: TicketColumns) {
        self.subdistrict_code.push(c.subdistrict_code);
        self.id.push(c.id);
        self.grid_code.push(c.grid_code);
        self.state.push(c.state);
        self.level.push(c.level);
        self.assignee_area_code.push(c.assignee_area_code);
        self.assignee_person_id.push(c.assignee_person_id);
        self.category_code.push(c.category_code);
        self.description.push(c.description);
        self.lat.push(c.lat);
        self.lng.push(c.lng);
        self.crs.push(c.crs);
        self.original_lat.push(c.original_lat);
        self.original_lng.push(c.original_lng);
        self.original_crs.push(c.original_crs);
        self.address.push(c.address);
        self.building_code.push(c.building_code);
        self.unit_code.push(c.unit_code);
        self.media_urls.push(c.media_urls);
        self.contact_phone.push(c.contact_phone);
        self.reporter_id.push(c.reporter_id);
        self.urgent.push(c.urgent);
        self.accept_due_at.push(c.accept_due_at);
        self.resolve_due_at.push(c.resolve_due_at);
        self.created_at.push(c.created_at);
        self.updated_at.push(c.updated_at);
        self.duplicate_of.push(c.duplicate_of);
        self.pause.push(c.pause);
        self.rating_stars.push(c.rating_stars);
        self.rating_not_solved.push(c.rating_not_solved);
        self.rating_comment.push(c.rating_comment);
        self.version.push(c.version);
    }
}
