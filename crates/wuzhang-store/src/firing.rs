//! A claimed batch of due timers, decided in memory before anything is written.
//!
//! Both backends claim a batch, load each timer's ticket once, and hand the batch to
//! [`plan`], which calls the handler for every timer in claim order and folds the outcomes
//! per ticket: a ticket with several due timers sees them one after another, each handler
//! call getting the ticket as the previous outcome left it, and the ticket is written
//! once, with all its events, at the end. That is what lets Postgres write a whole batch
//! in a handful of set-wise statements instead of several statements per timer, and it
//! settles what the claim order means when one outcome replaces the ticket's timers:
//! claimed timers of the old set are gone with it (never handed to the handler and never
//! deleted by key, which could hit a new timer of the same kind).

use std::collections::HashMap;

use tracing::warn;
use uuid::Uuid;
use wuzhang_domain::clock::truncate_to_micros;
use wuzhang_domain::event::NewEvent;
use wuzhang_domain::ticket::Ticket;
use wuzhang_domain::timer::Timer;

use crate::codec::normalize_ticket;
use crate::error::{Result, StoreError};
use crate::interface::TimerHandler;
use crate::model::{FireReport, TicketChange, TimerOutcome};
use crate::validate;

/// A claimed timer with its ticket as loaded in the claim (`None`: no such ticket).
pub(crate) struct Claimed {
    pub(crate) timer: Timer,
    pub(crate) ticket: Option<Ticket>,
}

/// What a batch comes to.
#[derive(Default)]
pub(crate) struct Plan {
    /// Tickets to write, in the order their first timer was claimed.
    pub(crate) changed: Vec<Changed>,
    /// Timers that go without a ticket write (dropped, or their ticket is gone).
    pub(crate) delete: Vec<Timer>,
    /// Timers whose handler failed, on tickets not written: their due time moves on.
    pub(crate) retry: Vec<Timer>,
    /// What the batch did, if every ticket in `changed` is written; a ticket that is not
    /// is taken out again with [`Plan::not_written`].
    pub(crate) report: FireReport,
}

/// One ticket's outcomes, folded.
pub(crate) struct Changed {
    /// What to write: the ticket as it is to be stored (normalised, checked), all its
    /// events, and `Some` timers if they replace all of the ticket's; never an idempotency
    /// record or a follower.
    pub(crate) change: TicketChange,
    /// The version the store must still hold for the write to go in.
    pub(crate) expected_version: i64,
    /// Claimed timers that are consumed by the write (fired or dropped) and must be
    /// deleted by key; empty when `timers` replaces them all.
    pub(crate) consumed: Vec<Timer>,
    /// Claimed timers whose handler failed; retried if the timers are not replaced.
    pub(crate) retry: Vec<Timer>,
    /// Every timer claimed for this ticket: retried if the write does not go in.
    pub(crate) claimed: Vec<Timer>,
    fired: usize,
    dropped: usize,
}

impl Plan {
    /// `changed` could not be written (its ticket moved on since the claim, or is gone):
    /// all its claimed timers are retried instead.
    pub(crate) fn not_written(&mut self, changed: &Changed) {
        self.report.fired -= changed.fired;
        self.report.dropped -= changed.dropped;
        self.report.failed = self.report.failed - changed.retry.len() + changed.claimed.len();
    }
}

/// One ticket while its timers are being decided.
struct Working {
    loaded_version: i64,
    ticket: Ticket,
    events: Vec<NewEvent>,
    timers: Option<Vec<Timer>>,
    consumed: Vec<Timer>,
    retry: Vec<Timer>,
    claimed: Vec<Timer>,
    fired: usize,
    dropped: usize,
}

/// Calls `handler` for every claimed timer, in order, and folds the outcomes per ticket
/// (see the module docs). A handler that fails, or a change that breaks the store's rules
/// (another ticket, a version that does not follow, an idempotency record or a follower,
/// which timers do not write), leaves its timer to be retried; the rest go on.
pub(crate) async fn plan(claimed: Vec<Claimed>, handler: &dyn TimerHandler) -> Plan {
    {
        let mut seen = std::collections::HashSet::new();
        let tickets: Vec<&Ticket> = claimed
            .iter()
            .filter_map(|c| c.ticket.as_ref())
            .filter(|t| seen.insert(t.id))
            .collect();
        handler.prepare(&tickets).await;
    }
    let mut plan = Plan::default();
    let mut order: Vec<Uuid> = Vec::new();
    let mut working: HashMap<Uuid, Working> = HashMap::new();
    for Claimed { timer, ticket } in claimed {
        let Some(ticket) = ticket else {
            // A timer without a ticket is stale.
            plan.delete.push(timer);
            plan.report.dropped += 1;
            continue;
        };
        let id = ticket.id.as_uuid();
        let w = working.entry(id).or_insert_with(|| {
            order.push(id);
            Working {
                loaded_version: ticket.version,
                ticket,
                events: Vec::new(),
                timers: None,
                consumed: Vec::new(),
                retry: Vec::new(),
                claimed: Vec::new(),
                fired: 0,
                dropped: 0,
            }
        });
        w.claimed.push(timer.clone());
        if w.timers.is_some() {
            // An earlier outcome replaced the ticket's timers: this one is already gone.
            w.dropped += 1;
            continue;
        }
        let outcome = match handler.decide(timer.clone(), w.ticket.clone()).await {
            Ok(TimerOutcome::Drop) => Ok(None),
            Ok(TimerOutcome::Fire(change)) => check(&timer, &w.ticket, change).map(Some),
            Err(e) => Err(e),
        };
        match outcome {
            Ok(None) => {
                w.consumed.push(timer);
                w.dropped += 1;
            }
            Ok(Some((ticket, events, timers))) => {
                w.ticket = ticket;
                w.events.extend(events);
                match timers {
                    Some(t) => {
                        w.timers = Some(t);
                        // Everything before is gone with the old set, failures included.
                        w.dropped += w.retry.len();
                        w.consumed.clear();
                        w.retry.clear();
                    }
                    None => w.consumed.push(timer),
                }
                w.fired += 1;
            }
            Err(error) => {
                warn!(ticket = %timer.ticket_id, kind = timer.kind.as_str(), %error, "timer failed, retrying later");
                w.retry.push(timer);
            }
        }
    }
    for id in order {
        let w = working
            .remove(&id)
            .expect("every ordered ticket is working");
        plan.report.fired += w.fired;
        plan.report.dropped += w.dropped;
        plan.report.failed += w.retry.len();
        if w.fired == 0 {
            plan.delete.extend(w.consumed);
            plan.retry.extend(w.retry);
            continue;
        }
        plan.changed.push(Changed {
            change: TicketChange {
                ticket: w.ticket,
                events: w.events,
                timers: w.timers,
                idempotency: None,
                add_follower: None,
                task_result: None,
            },
            expected_version: w.loaded_version,
            consumed: w.consumed,
            retry: w.retry,
            claimed: w.claimed,
            fired: w.fired,
            dropped: w.dropped,
        });
    }
    plan
}

type Checked = (Ticket, Vec<NewEvent>, Option<Vec<Timer>>);

/// A handler's change, held to what `update_ticket` would accept of it.
fn check(timer: &Timer, current: &Ticket, change: TicketChange) -> Result<Checked> {
    let ticket = normalize_ticket(&change.ticket);
    if ticket.id != timer.ticket_id || ticket.subdistrict_code != timer.subdistrict_code {
        return Err(StoreError::invalid(
            "ticket",
            format!(
                "the handler changed ticket {} for a timer of {}",
                ticket.id, timer.ticket_id
            ),
        ));
    }
    if ticket.version != current.version + 1 {
        return Err(StoreError::Conflict {
            entity: "ticket",
            key: ticket.id.to_string(),
            current_version: current.version,
        });
    }
    if change.idempotency.is_some() || change.add_follower.is_some() {
        return Err(StoreError::invalid(
            "ticket",
            "a timer's change carries no idempotency record and adds no follower",
        ));
    }
    validate::ticket_write(&ticket, change.timers.as_deref())?;
    // Times are kept to the microsecond, as everywhere in the store.
    let timers = change.timers.map(|ts| {
        ts.into_iter()
            .map(|t| Timer {
                due_at: truncate_to_micros(t.due_at),
                ..t
            })
            .collect()
    });
    Ok((ticket, change.events, timers))
}
