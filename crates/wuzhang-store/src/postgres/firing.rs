//! The timer worker's batch on Postgres: claim, decide in memory ([`crate::firing`]),
//! write set-wise.
//!
//! One statement claims the batch (`FOR UPDATE SKIP LOCKED` on the tickets' timer sets,
//! one row per ticket) and reads each ticket and its last event number with it; then four
//! statements write the whole batch, each over arrays: the tickets (with their version
//! check), the timer sets left empty (deleted), the others (rewritten), and the events.
//! So a batch of 500 costs 6 round trips instead of ~8 per timer, and what is left is the
//! rows themselves.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;
use wuzhang_domain::area::AreaCode;
use wuzhang_domain::clock::truncate_to_micros;
use wuzhang_domain::ticket::Ticket;
use wuzhang_domain::timer::Timer;

use super::arrays::{
    EventArrays, TicketArrays, TimerArrays, ticket_unnest_args, timer_set, timer_sets_update,
};
use super::feed::insert_events;
use super::rows::{ASSIGNEE_SOURCE, assignees_update, ticket};
use crate::codec::{EventColumns, TICKET_COLUMNS, TicketColumns};
use crate::error::Result;
use crate::firing::{Claimed, plan};
use crate::interface::TimerHandler;
use crate::model::FireReport;

/// Claims the timer sets of up to `$3` tickets with a timer due, and reads with each its
/// ticket (NULL columns if gone) and the ticket's last event number. The ticket is not
/// locked: the version check of the write catches a change made in between.
static CLAIM_SQL: LazyLock<String> = LazyLock::new(|| {
    let cols: Vec<String> = TICKET_COLUMNS.iter().map(|c| format!("t.{c}")).collect();
    format!(
        "WITH c AS ( \
           SELECT subdistrict_code, ticket_id, due_at, kinds, dues, levels FROM timer_sets \
           WHERE subdistrict_code = $1 AND due_at <= $2 \
           ORDER BY due_at, ticket_id LIMIT $3 FOR UPDATE SKIP LOCKED) \
         SELECT c.subdistrict_code AS set_subdistrict_code, c.ticket_id AS set_ticket_id, \
           c.kinds AS set_kinds, c.dues AS set_dues, c.levels AS set_levels, \
           t.id IS NOT NULL AS ticket_found, \
           (SELECT COALESCE(max(e.seq), 0) FROM ticket_events e \
            WHERE e.subdistrict_code = c.subdistrict_code AND e.ticket_id = c.ticket_id) AS last_seq, \
           {cols} \
         FROM c LEFT JOIN tickets t ON t.subdistrict_code = c.subdistrict_code AND t.id = c.ticket_id \
         ORDER BY c.due_at, c.ticket_id",
        cols = cols.join(", ")
    )
});

/// Every changed ticket whose stored version is still the one read at the claim, and the
/// assignments that changed with them.
static UPDATE_SQL: LazyLock<String> = LazyLock::new(|| {
    let sets: Vec<String> = TICKET_COLUMNS
        .iter()
        .skip(2)
        .map(|c| format!("{c} = u.{c}"))
        .collect();
    let returning: Vec<String> = ASSIGNEE_SOURCE
        .split(", ")
        .map(|c| format!("t.{c}"))
        .collect();
    format!(
        "WITH t AS ( \
           UPDATE tickets t SET {sets} \
           FROM unnest({args}, ${version}::int8[]) AS u({cols}, expected_version) \
           WHERE t.subdistrict_code = ${sub} AND t.subdistrict_code = u.subdistrict_code \
             AND t.id = u.id AND t.version = u.expected_version \
           RETURNING {returning}), \
         a AS ({assignees}) \
         SELECT id FROM t",
        sets = sets.join(", "),
        args = ticket_unnest_args(1),
        cols = TICKET_COLUMNS.join(", "),
        returning = returning.join(", "),
        assignees = assignees_update(
            "t",
            &format!("AND a.subdistrict_code = ${}", TICKET_COLUMNS.len() + 2)
        ),
        // After the ticket arrays: the expected versions, then the subdistrict.
        version = TICKET_COLUMNS.len() + 1,
        sub = TICKET_COLUMNS.len() + 2,
    )
});

/// Every set in the batch was claimed, so it exists (and is locked): an update will do.
static UPDATE_SETS_SQL: LazyLock<String> = LazyLock::new(|| timer_sets_update(1, 6));

/// One claimed row: its ticket (if any), the ticket's last event number and its whole
/// timer set as stored.
struct ClaimedSet {
    ticket: Option<Ticket>,
    last_seq: i64,
    timers: Vec<Timer>,
}

fn claimed_set(row: &PgRow) -> Result<(Uuid, ClaimedSet)> {
    let id: Uuid = row.try_get("set_ticket_id")?;
    let timers = timer_set(
        row.try_get("set_subdistrict_code")?,
        id,
        row.try_get("set_kinds")?,
        row.try_get("set_dues")?,
        row.try_get("set_levels")?,
    )?;
    let found: bool = row.try_get("ticket_found")?;
    let ticket = if found { Some(ticket(row)?) } else { None };
    Ok((
        id,
        ClaimedSet {
            ticket,
            last_seq: row.try_get("last_seq")?,
            timers,
        },
    ))
}

pub(super) async fn fire_due_timers(
    pool: &PgPool,
    subdistrict: &AreaCode,
    now: OffsetDateTime,
    limit: u32,
    retry_after: Duration,
    handler: &dyn TimerHandler,
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
    // The due timers of every claimed set, in claim order across tickets.
    let mut order: Vec<Uuid> = Vec::with_capacity(rows.len());
    let mut sets: HashMap<Uuid, ClaimedSet> = HashMap::with_capacity(rows.len());
    let mut batch: Vec<Claimed> = Vec::new();
    for row in &rows {
        let (id, set) = claimed_set(row)?;
        for t in set.timers.iter().filter(|t| t.due_at <= now) {
            batch.push(Claimed {
                timer: t.clone(),
                ticket: set.ticket.clone(),
            });
        }
        order.push(id);
        sets.insert(id, set);
    }
    batch.sort_by(|a, b| {
        (a.timer.due_at, a.timer.ticket_id, a.timer.kind.as_str()).cmp(&(
            b.timer.due_at,
            b.timer.ticket_id,
            b.timer.kind.as_str(),
        ))
    });
    let mut plan = plan(batch, handler).await;

    // Tickets first: the ones whose version moved since the claim are not written.
    let mut written: HashSet<Uuid> = HashSet::new();
    if !plan.changed.is_empty() {
        let mut arrays = TicketArrays::default();
        let mut expected = Vec::with_capacity(plan.changed.len());
        for c in &plan.changed {
            arrays.push(TicketColumns::new(&c.change.ticket)?);
            expected.push(c.expected_version);
        }
        let ids: Vec<(Uuid,)> = arrays
            .bind(sqlx::query_as(UPDATE_SQL.as_str()))
            .bind(expected)
            // The subdistrict as a constant too: a single-shard statement under Citus.
            .bind(sub)
            .fetch_all(&mut *tx)
            .await?;
        written.extend(ids.into_iter().map(|(id,)| id));
    }

    // What each claimed set becomes: the stored set less what fired or was dropped, with
    // failures moved to the retry time, or a replacement.
    let mut finals: HashMap<Uuid, Vec<Timer>> = sets
        .iter_mut()
        .map(|(id, s)| (*id, std::mem::take(&mut s.timers)))
        .collect();
    let remove = |finals: &mut HashMap<Uuid, Vec<Timer>>, t: &Timer| {
        if let Some(set) = finals.get_mut(&t.ticket_id.as_uuid()) {
            set.retain(|x| x.kind != t.kind);
        }
    };
    let retry = |finals: &mut HashMap<Uuid, Vec<Timer>>, t: &Timer| {
        if let Some(set) = finals.get_mut(&t.ticket_id.as_uuid()) {
            set.iter_mut()
                .filter(|x| x.kind == t.kind)
                .for_each(|x| x.due_at = retry_at);
        }
    };
    plan.delete.iter().for_each(|t| remove(&mut finals, t));
    plan.retry.iter().for_each(|t| retry(&mut finals, t));
    let mut events = EventArrays::default();
    let changed = std::mem::take(&mut plan.changed);
    for c in &changed {
        let id = c.change.ticket.id.as_uuid();
        if !written.contains(&id) {
            tracing::warn!(ticket = %c.change.ticket.id, "ticket changed while its timers fired; retrying later");
            plan.not_written(c);
            c.claimed.iter().for_each(|t| retry(&mut finals, t));
            continue;
        }
        match &c.change.timers {
            Some(timers) => {
                finals.insert(id, timers.clone());
            }
            None => {
                c.consumed.iter().for_each(|t| remove(&mut finals, t));
                c.retry.iter().for_each(|t| retry(&mut finals, t));
            }
        }
        let last = sets.get(&id).map_or(0, |s| s.last_seq);
        for e in EventColumns::numbered(&c.change.ticket, &c.change.events, last) {
            events.push(e);
        }
    }

    let mut emptied: Vec<Uuid> = Vec::new();
    let mut kept = TimerArrays::default();
    for id in &order {
        match finals.get(id) {
            Some(set) if !set.is_empty() => set.iter().for_each(|t| kept.push(t)),
            _ => emptied.push(*id),
        }
    }
    if !emptied.is_empty() {
        sqlx::query(
            "DELETE FROM timer_sets WHERE subdistrict_code = $1 AND ticket_id = ANY($2::uuid[])",
        )
        .bind(sub)
        .bind(emptied)
        .execute(&mut *tx)
        .await?;
    }
    if !kept.is_empty() {
        kept.bind(sqlx::query(UPDATE_SETS_SQL.as_str()))
            .bind(sub)
            .execute(&mut *tx)
            .await?;
    }
    insert_events(&mut tx, events).await?;
    tx.commit().await?;
    Ok(plan.report)
}
