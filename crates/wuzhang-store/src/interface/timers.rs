//! [`TimerStore`]: a ticket's pending timers and the worker's claim on the due ones,
//! with the [`TimerHandler`] that decides what a fired timer does.

use std::fmt::Debug;

use async_trait::async_trait;
use futures::future::BoxFuture;
use time::{Duration, OffsetDateTime};
use wuzhang_domain::area::AreaCode;
use wuzhang_domain::ticket::{Ticket, TicketId};
use wuzhang_domain::timer::Timer;

use crate::error::Result;
use crate::model::{FireReport, TimerOutcome};

/// Decides what due timers do, while the store holds their claim. It may read other data
/// (the roster, categories) but must not write the tickets: the store writes what
/// `decide` returns in the claim's transaction.
#[async_trait]
pub trait TimerHandler: Send + Sync {
    /// Called once per claimed batch, before any `decide`, with each claimed ticket once:
    /// the chance to read what the whole batch needs in a few queries instead of a few
    /// per ticket. Only an optimisation: `decide` must not rely on it having succeeded.
    async fn prepare(&self, tickets: &[&Ticket]) {
        let _ = tickets;
    }

    /// What one due timer does to its ticket.
    async fn decide(&self, timer: Timer, ticket: Ticket) -> Result<TimerOutcome>;
}

/// A [`TimerHandler`] made of a function, with nothing to prepare.
pub struct FnHandler<F>(pub F);

impl<F> Debug for FnHandler<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FnHandler")
    }
}

#[async_trait]
impl<F> TimerHandler for FnHandler<F>
where
    F: Fn(Timer, Ticket) -> BoxFuture<'static, Result<TimerOutcome>> + Send + Sync,
{
    async fn decide(&self, timer: Timer, ticket: Ticket) -> Result<TimerOutcome> {
        (self.0)(timer, ticket).await
    }
}

/// Timers: listed per ticket, claimed and fired per subdistrict.
#[async_trait]
pub trait TimerStore: Send + Sync {
    /// The ticket's pending timers, ordered by due time.
    async fn list_timers(&self, id: &TicketId) -> Result<Vec<Timer>>;

    /// Subdistricts that have a timer due at `now`, ordered by code: where the worker claims.
    async fn subdistricts_with_due_timers(&self, now: OffsetDateTime) -> Result<Vec<AreaCode>>;

    /// Claims up to `limit` timers of `subdistrict` due at `now` (earliest first; on
    /// Postgres, where a ticket's timers are one row, up to `limit` tickets' due timers), skipping
    /// timers another worker holds (`FOR UPDATE SKIP LOCKED` on Postgres), and for each calls
    /// `handler` with the timer and its ticket. In the claim's transaction it writes each
    /// outcome and deletes the fired timer, so every due timer fires exactly once, and a
    /// worker that dies mid-batch releases its claims with its transaction. A ticket change
    /// that conflicts, or a handler that fails, leaves that timer in place with its due time
    /// moved to `now + retry_after`; the rest of the batch goes on.
    ///
    /// Outcomes are folded per ticket before anything is written: a ticket with several
    /// due timers sees them in claim order, each call getting the ticket as the previous
    /// outcome left it (its change must be exactly one version on), and is written once.
    /// Once an outcome replaces the ticket's timers, its other claimed timers are gone with
    /// the old set: they are not handed to the handler and count as dropped. If the ticket
    /// changed in the store since the claim read it, none of its outcomes is written and
    /// all its claimed timers are retried. A timer's change may not carry an idempotency
    /// record or a follower.
    async fn fire_due_timers(
        &self,
        subdistrict: &AreaCode,
        now: OffsetDateTime,
        limit: u32,
        retry_after: Duration,
        handler: &dyn TimerHandler,
    ) -> Result<FireReport>;
}
