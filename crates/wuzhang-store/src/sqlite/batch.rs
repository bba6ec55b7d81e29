//! SQLite's side of group commit ([`crate::group_commit`]): the writer that takes a batch
//! of new tickets and writes it in one `BEGIN IMMEDIATE` transaction, in as few requests to
//! sqlx's connection thread as it can.

use std::collections::HashSet;
use std::sync::Arc;

use sqlx::{AssertSqlSafe, QueryBuilder, Sqlite, SqliteConnection, SqlitePool};
use tracing::warn;
use wuzhang_domain::ticket::Ticket;
use wuzhang_domain::timer::Timer;

use super::idempotency::insert_idempotency;
use super::rows::{
    EVENT_INSERT, IDEMPOTENCY_INSERT, TICKET_INSERT, TIMER_INSERT, bind_event, bind_idempotency,
    bind_ticket, bind_timer, values_rows,
};
use super::tickets::{append_events, write_change};
use super::timers::insert_timers;
use crate::codec::{self, EventColumns, TicketColumns, normalize_ticket, uuid_text};
use crate::error::{Result, StoreError, unique_as};
use crate::group_commit::{
    GroupCommit, Job, WriteBatch, accepted, idempotency_taken, refuse_repeats,
};
use crate::model::{IdempotencyRecord, NewTicket};
use crate::validate;

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
    let mut events: Vec<EventColumns> = EventColumns::numbered(ticket, &new.events, 0).collect();
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
pub(super) fn start_group_commit(pool: SqlitePool) -> GroupCommit {
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
pub(super) async fn insert_new(
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
        .flat_map(|n| EventColumns::numbered(&n.ticket, &n.events, 0))
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
        sql += &format!("{EVENT_INSERT}{};\n", values_rows(16, events.len()));
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
    let news: Vec<&NewTicket> = batch.iter().map(|j| &j.new).collect();
    let mut outcomes = refuse_repeats(&news);
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
    let jobs = accepted(&news, &outcomes);
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

#[cfg(test)]
mod tests {
    use std::time::Duration as StdDuration;

    use super::*;
    use crate::interface::Store;
    use crate::sqlite::SqliteStore;

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
