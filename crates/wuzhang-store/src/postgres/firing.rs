//! The timer worker's batch on Postgres: claim, decide in memory ([`crate::firing`]),
//! write set-wise.
//!
//! One statement claims the batch (`FOR UPDATE SKIP LOCKED`) and reads each timer's
//! ticket and last event number with it; then at most six statements write the whole
//! batch, each over arrays: the tickets (with their version check), the timers of
//! tickets whose clocks were replaced, the timers consumed, the new timers, the retries,
//! and the events. So a batch of 500 costs about 8 round trips instead of 8 per timer,
//! and what is left is the rows themselves.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;
use wuzhang_domain::area::AreaCode;
use wuzhang_domain::clock::truncate_to_micros;
use wuzhang_domain::timer::Timer;

use super::arrays::{
    EventArrays, TicketArrays, TimerArrays, event_unnest, ticket_unnest_args, timer_unnest,
};
use super::{EVENT_LOG_LOCK, ticket};
use crate::codec::{self, EventColumns, TICKET_COLUMNS, TicketColumns};
use crate::error::Result;
use crate::firing::{Claimed, plan};
use crate::interface::TimerHandler;
use crate::model::FireReport;

/// Claims a batch and reads, with each timer, its ticket (NULL columns if gone) and the
/// ticket's last event number. The ticket is not locked: the version check of the write
/// catches a change made in between.
static CLAIM_SQL: LazyLock<String> = LazyLock::new(|| {
    let cols: Vec<String> = TICKET_COLUMNS.iter().map(|c| format!("t.{c}")).collect();
    format!(
        "WITH c AS ( \
           SELECT subdistrict_code, ticket_id, kind, due_at, level FROM timers \
           WHERE subdistrict_code = $1 AND due_at <= $2 \
           ORDER BY due_at, ticket_id, kind LIMIT $3 FOR UPDATE SKIP LOCKED) \
         SELECT c.subdistrict_code AS timer_subdistrict_code, c.ticket_id AS timer_ticket_id, \
           c.kind AS timer_kind, c.due_at AS timer_due_at, c.level AS timer_level, \
           t.id IS NOT NULL AS ticket_found, \
           (SELECT COALESCE(max(e.seq), 0) FROM ticket_events e \
            WHERE e.subdistrict_code = c.subdistrict_code AND e.ticket_id = c.ticket_id) AS last_seq, \
           {cols} \
         FROM c LEFT JOIN tickets t ON t.subdistrict_code = c.subdistrict_code AND t.id = c.ticket_id \
         ORDER BY c.due_at, c.ticket_id, c.kind",
        cols = cols.join(", ")
    )
});

/// Every changed ticket whose stored version is still the one read at the claim.
static UPDATE_SQL: LazyLock<String> = LazyLock::new(|| {
    let sets: Vec<String> = TICKET_COLUMNS
        .iter()
        .skip(2)
        .map(|c| format!("{c} = u.{c}"))
        .collect();
    format!(
        "UPDATE tickets t SET {sets} \
         FROM unnest({args}, $33::int8[]) AS u({cols}, expected_version) \
         WHERE t.subdistrict_code = u.subdistrict_code AND t.id = u.id \
           AND t.version = u.expected_version \
         RETURNING t.id",
        sets = sets.join(", "),
        args = ticket_unnest_args(1),
        cols = TICKET_COLUMNS.join(", "),
    )
});

static INSERT_TIMERS_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO timers (subdistrict_code, ticket_id, kind, due_at, level) \
         SELECT * FROM {}",
        timer_unnest(1)
    )
});

/// The events, under the event log lock (taken in an InitPlan before the first row, held
/// to the commit; see [`EVENT_LOG_LOCK`]).
static INSERT_EVENTS_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO ticket_events (subdistrict_code, ticket_id, seq, kind, actor, from_state, \
           to_state, level, assignee_person_id, note, at) \
         SELECT * FROM {} WHERE (SELECT 1 FROM pg_advisory_xact_lock($12)) = 1",
        event_unnest(1)
    )
});

/// Timers by (ticket, kind) in one subdistrict: ids and kinds as parallel arrays.
#[derive(Default)]
struct Keys {
    ticket: Vec<Uuid>,
    kind: Vec<String>,
}

impl Keys {
    fn push(&mut self, t: &Timer) {
        self.ticket.push(t.ticket_id.as_uuid());
        self.kind.push(t.kind.as_str().to_owned());
    }
}

fn claimed(row: &PgRow) -> Result<(Claimed, i64)> {
    let kind: String = row.try_get("timer_kind")?;
    let level: String = row.try_get("timer_level")?;
    let timer = codec::timer(
        row.try_get("timer_ticket_id")?,
        row.try_get("timer_subdistrict_code")?,
        &kind,
        row.try_get("timer_due_at")?,
        &level,
    )?;
    let found: bool = row.try_get("ticket_found")?;
    let ticket = if found { Some(ticket(row)?) } else { None };
    Ok((Claimed { timer, ticket }, row.try_get("last_seq")?))
}

pub(super) async fn fire_due_timers(
    pool: &PgPool,
    subdistrict: &AreaCode,
    now: OffsetDateTime,
    limit: u32,
    retry_after: Duration,
    handler: &TimerHandler,
) -> Result<FireReport> {
    let now = truncate_to_micros(now);
    let retry_at = truncate_to_micros(now + retry_after);
    let sub = subdistrict.as_str();
    let mut tx = pool.begin().await?;
    let rows = sqlx::query(CLAIM_SQL.as_str())
        .bind(sub)
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
    if rows.is_empty() {
        return Ok(FireReport::default());
    }
    let mut batch = Vec::with_capacity(rows.len());
    let mut last_seqs: HashMap<Uuid, i64> = HashMap::new();
    for row in &rows {
        let (c, last) = claimed(row)?;
        last_seqs.insert(c.timer.ticket_id.as_uuid(), last);
        batch.push(c);
    }
    let mut plan = plan(batch, handler).await;

    // Tickets first: the ones whose version moved since the claim are not written.
    let mut written: HashSet<Uuid> = HashSet::new();
    if !plan.changed.is_empty() {
        let mut arrays = TicketArrays::default();
        let mut expected = Vec::with_capacity(plan.changed.len());
        for c in &plan.changed {
            arrays.push(TicketColumns::new(&c.ticket)?);
            expected.push(c.expected_version);
        }
        let ids: Vec<(Uuid,)> = arrays
            .bind(sqlx::query_as(UPDATE_SQL.as_str()))
            .bind(expected)
            .fetch_all(&mut *tx)
            .await?;
        written.extend(ids.into_iter().map(|(id,)| id));
    }

    let mut replaced: Vec<Uuid> = Vec::new();
    let mut new_timers = TimerArrays::default();
    let mut delete = Keys::default();
    let mut retry = Keys::default();
    let mut events = EventArrays::default();
    for t in &plan.delete {
        delete.push(t);
    }
    for t in &plan.retry {
        retry.push(t);
    }
    let changed = std::mem::take(&mut plan.changed);
    for c in &changed {
        let id = c.ticket.id.as_uuid();
        if !written.contains(&id) {
            tracing::warn!(ticket = %c.ticket.id, "ticket changed while its timers fired; retrying later");
            plan.not_written(c);
            c.claimed.iter().for_each(|t| retry.push(t));
            continue;
        }
        match &c.timers {
            Some(timers) => {
                replaced.push(id);
                timers.iter().for_each(|t| new_timers.push(t));
            }
            None => {
                c.consumed.iter().for_each(|t| delete.push(t));
                c.retry.iter().for_each(|t| retry.push(t));
            }
        }
        let last = last_seqs.get(&id).copied().unwrap_or(0);
        for (e, seq) in c.events.iter().zip(last + 1..) {
            events.push(EventColumns::new(&c.ticket, seq, e));
        }
    }

    if !replaced.is_empty() {
        sqlx::query(
            "DELETE FROM timers WHERE subdistrict_code = $1 AND ticket_id = ANY($2::uuid[])",
        )
        .bind(sub)
        .bind(replaced)
        .execute(&mut *tx)
        .await?;
    }
    if !delete.ticket.is_empty() {
        sqlx::query(
            "DELETE FROM timers t USING unnest($2::uuid[], $3::text[]) AS x(ticket_id, kind) \
             WHERE t.subdistrict_code = $1 AND t.ticket_id = x.ticket_id AND t.kind = x.kind",
        )
        .bind(sub)
        .bind(delete.ticket)
        .bind(delete.kind)
        .execute(&mut *tx)
        .await?;
    }
    if !new_timers.is_empty() {
        new_timers
            .bind(sqlx::query(INSERT_TIMERS_SQL.as_str()))
            .execute(&mut *tx)
            .await?;
    }
    if !retry.ticket.is_empty() {
        sqlx::query(
            "UPDATE timers t SET due_at = $2 FROM unnest($3::uuid[], $4::text[]) AS x(ticket_id, kind) \
             WHERE t.subdistrict_code = $1 AND t.ticket_id = x.ticket_id AND t.kind = x.kind",
        )
        .bind(sub)
        .bind(retry_at)
        .bind(retry.ticket)
        .bind(retry.kind)
        .execute(&mut *tx)
        .await?;
    }
    if !events.is_empty() {
        events
            .bind(sqlx::query(INSERT_EVENTS_SQL.as_str()))
            .bind(EVENT_LOG_LOCK)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(plan.report)
}
