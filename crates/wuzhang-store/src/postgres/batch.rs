//! Group commit for new tickets: concurrent `create_ticket` calls are queued and a few
//! writer tasks each take what has queued up and write it in one transaction, so one WAL
//! flush (the cost of a durable commit) serves many submissions.
//!
//! Nothing waits on purpose: a lone submission is written at once, alone, and batches form
//! only while earlier transactions are committing, so latency stays that of one commit and
//! throughput grows with concurrency. Each request still succeeds or fails on its own:
//! keys already taken are found first and answered individually, and if the batch fails
//! for any other reason, its tickets are written again one by one, so one bad ticket
//! cannot fail its neighbours.

use std::collections::HashSet;
use std::sync::Arc;

use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};
use tokio::sync::{Mutex, mpsc, oneshot};
use tracing::{debug, warn};
use uuid::Uuid;
use wuzhang_domain::ticket::Ticket;

use super::{EVENT_LOG_LOCK, create_one};
use crate::codec::{EventColumns, TICKET_COLUMNS, TicketColumns};
use crate::error::{Result, StoreError};
use crate::model::NewTicket;

/// Most tickets in one transaction. Each takes 32 bind parameters in the ticket insert;
/// Postgres allows 65,535 per statement.
const MAX_BATCH: usize = 512;
/// Writer tasks, i.e. transactions in flight at once. More than one lets the next batch
/// form and start while the previous one waits for its flush.
const WRITERS: usize = 4;
/// Submissions waiting for a writer; callers beyond this wait to enqueue (backpressure).
const QUEUE: usize = 4 * MAX_BATCH;

/// A ticket already normalised and validated, and where its answer goes.
struct Job {
    new: NewTicket,
    reply: oneshot::Sender<Result<Ticket>>,
}

/// The queue in front of the writers. Dropping the last clone of the store drops the
/// sender, and the writers finish what is queued and stop.
#[derive(Debug, Clone)]
pub(super) struct GroupCommit {
    queue: mpsc::Sender<Job>,
}

impl GroupCommit {
    /// Starts the writers on the current tokio runtime.
    pub(super) fn start(pool: PgPool) -> Self {
        let (queue, rx) = mpsc::channel(QUEUE);
        let rx = Arc::new(Mutex::new(rx));
        let writers = WRITERS
            .min(pool.options().get_max_connections() as usize)
            .max(1);
        for _ in 0..writers {
            tokio::spawn(writer(pool.clone(), Arc::clone(&rx)));
        }
        Self { queue }
    }

    /// Writes `new` (normalised and validated by the caller), possibly with others.
    pub(super) async fn create(&self, new: NewTicket) -> Result<Ticket> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Job { new, reply })
            .await
            .map_err(|_| StoreError::internal("the ticket writers have stopped"))?;
        answer
            .await
            .map_err(|_| StoreError::internal("a ticket writer stopped before answering"))?
    }
}

async fn writer(pool: PgPool, rx: Arc<Mutex<mpsc::Receiver<Job>>>) {
    loop {
        let batch = {
            let mut rx = rx.lock().await;
            let Some(first) = rx.recv().await else { return };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            batch
        };
        write(&pool, batch).await;
    }
}

/// Writes a batch and answers every job in it.
async fn write(pool: &PgPool, batch: Vec<Job>) {
    if batch.len() == 1 {
        let Some(job) = batch.into_iter().next() else {
            return;
        };
        let result = create_one(pool, &job.new).await;
        let _ = job.reply.send(result);
        return;
    }
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

/// One transaction for the whole batch. Returns each job's outcome: written, or refused
/// because its ticket id or idempotency key is taken (by a stored row or an earlier job
/// of the batch). An `Err` means nothing was written.
async fn write_batch(pool: &PgPool, batch: &[Job]) -> Result<Vec<Result<()>>> {
    let mut outcomes: Vec<Result<()>> = batch.iter().map(|_| Ok(())).collect();
    let mut tx = pool.begin().await?;

    // Ticket ids: globally unique, though the key is (subdistrict, id) for distribution.
    let ids: Vec<Uuid> = batch.iter().map(|j| j.new.ticket.id.as_uuid()).collect();
    let taken: HashSet<Uuid> = sqlx::query_scalar("SELECT id FROM tickets WHERE id = ANY($1)")
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect();
    let mut seen = HashSet::new();
    for (job, outcome) in batch.iter().zip(outcomes.iter_mut()) {
        let id = job.new.ticket.id;
        if taken.contains(&id.as_uuid()) || !seen.insert(id) {
            *outcome = Err(StoreError::already_exists("ticket", id));
        }
    }

    // Idempotency keys: a key stored already, or by a concurrent transaction that commits
    // first, is skipped by ON CONFLICT and its ticket is not written.
    let mut keys = HashSet::new();
    let mut records = Vec::new();
    for (i, job) in batch.iter().enumerate() {
        if let (Ok(()), Some(r)) = (&outcomes[i], &job.new.idempotency) {
            if keys.insert((r.scope.as_str(), r.request_id.as_str())) {
                records.push((i, r));
            } else {
                outcomes[i] = Err(already(r));
            }
        }
    }
    if !records.is_empty() {
        let mut qb = QueryBuilder::<Postgres>::new(
            "INSERT INTO idempotency (scope, request_id, request_hash, response, created_at) ",
        );
        qb.push_values(&records, |mut b, (_, r)| {
            b.push_bind(&r.scope)
                .push_bind(&r.request_id)
                .push_bind(&r.request_hash)
                .push_bind(&r.response)
                .push_bind(r.created_at);
        });
        qb.push(" ON CONFLICT DO NOTHING RETURNING scope, request_id");
        let inserted: HashSet<(String, String)> = qb
            .build_query_as::<(String, String)>()
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .collect();
        for (i, r) in records {
            if !inserted.contains(&(r.scope.clone(), r.request_id.clone())) {
                outcomes[i] = Err(already(r));
            }
        }
    }

    let accepted: Vec<&NewTicket> = batch
        .iter()
        .zip(&outcomes)
        .filter(|(_, o)| o.is_ok())
        .map(|(j, _)| &j.new)
        .collect();
    if !accepted.is_empty() {
        insert_tickets(&mut tx, &accepted).await?;
        insert_timers(&mut tx, &accepted).await?;
        append_events(&mut tx, &accepted).await?;
    }
    tx.commit().await?;
    Ok(outcomes)
}

fn already(r: &crate::model::IdempotencyRecord) -> StoreError {
    StoreError::already_exists("idempotency", format!("{}/{}", r.scope, r.request_id))
}

async fn insert_tickets(conn: &mut PgConnection, tickets: &[&NewTicket]) -> Result<()> {
    let columns = tickets
        .iter()
        .map(|n| TicketColumns::new(&n.ticket))
        .collect::<Result<Vec<_>>>()?;
    let mut qb = QueryBuilder::<Postgres>::new(format!(
        "INSERT INTO tickets ({}) ",
        TICKET_COLUMNS.join(", ")
    ));
    qb.push_values(columns, |mut b, c| {
        b.push_bind(c.subdistrict_code)
            .push_bind(c.id)
            .push_bind(c.grid_code)
            .push_bind(c.state)
            .push_bind(c.level)
            .push_bind(c.assignee_area_code)
            .push_bind(c.assignee_person_id)
            .push_bind(c.category_code)
            .push_bind(c.description)
            .push_bind(c.lat)
            .push_bind(c.lng)
            .push_bind(c.crs)
            .push_bind(c.original_lat)
            .push_bind(c.original_lng)
            .push_bind(c.original_crs)
            .push_bind(c.address)
            .push_bind(c.building_code)
            .push_bind(c.unit_code)
            .push_bind(c.media_urls)
            .push_bind(c.contact_phone)
            .push_bind(c.reporter_id)
            .push_bind(c.urgent)
            .push_bind(c.accept_due_at)
            .push_bind(c.resolve_due_at)
            .push_bind(c.created_at)
            .push_bind(c.updated_at)
            .push_bind(c.duplicate_of)
            .push_bind(c.pause)
            .push_bind(c.rating_stars)
            .push_bind(c.rating_not_solved)
            .push_bind(c.rating_comment)
            .push_bind(c.version);
    });
    qb.build().execute(conn).await?;
    Ok(())
}

async fn insert_timers(conn: &mut PgConnection, tickets: &[&NewTicket]) -> Result<()> {
    let timers: Vec<_> = tickets.iter().flat_map(|n| &n.timers).collect();
    if timers.is_empty() {
        return Ok(());
    }
    let mut qb = QueryBuilder::<Postgres>::new(
        "INSERT INTO timers (subdistrict_code, ticket_id, kind, due_at, level) ",
    );
    qb.push_values(timers, |mut b, t| {
        b.push_bind(t.subdistrict_code.as_str())
            .push_bind(t.ticket_id.as_uuid())
            .push_bind(t.kind.as_str())
            .push_bind(t.due_at)
            .push_bind(t.level.as_str());
    });
    qb.build().execute(conn).await?;
    Ok(())
}

/// Appends every ticket's events under the event log lock, last before the commit, so the
/// lock is held only for the insert and the flush (see [`EVENT_LOG_LOCK`]).
async fn append_events(conn: &mut PgConnection, tickets: &[&NewTicket]) -> Result<()> {
    let events: Vec<EventColumns> = tickets
        .iter()
        .flat_map(|n| {
            n.events
                .iter()
                .zip(1..)
                .map(|(e, seq)| EventColumns::new(&n.ticket, seq, e))
        })
        .collect();
    if events.is_empty() {
        return Ok(());
    }
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(EVENT_LOG_LOCK)
        .execute(&mut *conn)
        .await?;
    let mut qb = QueryBuilder::<Postgres>::new(
        "INSERT INTO ticket_events (subdistrict_code, ticket_id, seq, kind, actor, from_state, \
         to_state, level, assignee_person_id, note, at) ",
    );
    qb.push_values(events, |mut b, e| {
        b.push_bind(e.subdistrict_code)
            .push_bind(e.ticket_id)
            .push_bind(e.seq)
            .push_bind(e.kind)
            .push_bind(e.actor)
            .push_bind(e.from_state)
            .push_bind(e.to_state)
            .push_bind(e.level)
            .push_bind(e.assignee_person_id)
            .push_bind(e.note)
            .push_bind(e.at);
    });
    qb.build().execute(conn).await?;
    Ok(())
}
