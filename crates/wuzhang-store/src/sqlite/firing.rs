//! Firing due timers on SQLite. The claim is the database's write lock, taken by
//! `BEGIN IMMEDIATE`: no other writer runs until the batch commits, so every due timer
//! fires once, as `FOR UPDATE SKIP LOCKED` gives on Postgres ([`crate::postgres`]). What
//! each timer does is decided by the shared plan ([`crate::firing`]); this writes it, each
//! changed ticket in a savepoint of its own.

use std::collections::HashMap;

use sqlx::Connection;
use time::{Duration, OffsetDateTime};
use tracing::warn;
use uuid::Uuid;
use wuzhang_domain::area::AreaCode;
use wuzhang_domain::ticket::Ticket;
use wuzhang_domain::timer::Timer;

use super::SqliteStore;
use super::rows::{TICKET_BY_KEY, ticket, timer};
use super::tickets::{append_events, write_change};
use super::timers::delete_timer;
use crate::codec::{to_micros, uuid_text};
use crate::error::Result;
use crate::firing::{Claimed, plan};
use crate::interface::TimerHandler;
use crate::model::FireReport;

/// Claims and fires up to `limit` timers of `subdistrict` due at `now`: see
/// [`TimerStore::fire_due_timers`](crate::TimerStore::fire_due_timers).
pub(super) async fn fire_due_timers(
    store: &SqliteStore,
    subdistrict: &AreaCode,
    now: OffsetDateTime,
    limit: u32,
    retry_after: Duration,
    handler: &dyn TimerHandler,
) -> Result<FireReport> {
    let retry_at = to_micros(now + retry_after);
    // The write lock is the claim: no other writer runs until this batch commits, so
    // no ticket can change between this read and the write below.
    let mut tx = store.begin_write().await?;
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
