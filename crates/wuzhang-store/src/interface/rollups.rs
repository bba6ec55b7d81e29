//! [`RollupStore`]: what is derived from the event log and kept so that reads do not grow
//! with history — evaluation rollups by day and key, each ticket's evaluation ledger, and
//! the dashboard's counts — with the cursor up to which the log has been folded in.

use async_trait::async_trait;
use time::Date;
use wuzhang_domain::area::AreaCode;
use wuzhang_domain::event::EventKind;
use wuzhang_domain::ticket::{TicketId, TicketState};

use crate::error::Result;
use crate::model::{EvaluationQuery, EvaluationTotals, RollupStep, TicketLedger, TicketPlace};

/// The rollups of the event log.
#[async_trait]
pub trait RollupStore: Send + Sync {
    /// The cursor of the last event folded into the rollups (0: none yet).
    async fn rollup_cursor(&self) -> Result<i64>;

    /// The ledgers kept for `tickets` (tickets without one are left out), in no order.
    async fn ticket_ledgers(&self, tickets: &[TicketId]) -> Result<Vec<TicketLedger>>;

    /// The subdistrict and grid of each of `tickets` that exists, in no order.
    async fn ticket_places(&self, tickets: &[TicketId]) -> Result<Vec<TicketPlace>>;

    /// Writes one step of the fold in one transaction: moves the cursor from
    /// `step.from_cursor` to `step.to_cursor`, replaces the ledgers given, and adds the
    /// figures and counts to what is kept. If the cursor is no longer `from_cursor` (another
    /// process took this step), Conflict (entity `rollups`, the current cursor as version)
    /// and nothing is written.
    async fn apply_rollup_step(&self, step: &RollupStep) -> Result<()>;

    /// The figures of `query`'s period summed per key, ordered by key; a chief's level is
    /// the highest they held a ticket at in the period.
    async fn evaluation_totals(&self, query: &EvaluationQuery) -> Result<Vec<EvaluationTotals>>;

    /// How many tickets of the subdistrict are in each state, as folded so far (states
    /// with none left out), ordered by state name.
    async fn state_counts(&self, subdistrict: &AreaCode) -> Result<Vec<(TicketState, u64)>>;

    /// How many tickets of each grid of the subdistrict are open, as folded so far (grids
    /// with none left out), ordered by grid.
    async fn open_by_grid(&self, subdistrict: &AreaCode) -> Result<Vec<(AreaCode, u64)>>;

    /// How many events of `kinds` the subdistrict had on a local day, as folded so far.
    async fn event_day_count(
        &self,
        subdistrict: &AreaCode,
        day: Date,
        kinds: &[EventKind],
    ) -> Result<u64>;

    /// Forgets every rollup, ledger and count and sets the cursor back to 0, in one
    /// transaction: the next fold recomputes them from the whole log.
    async fn reset_rollups(&self) -> Result<()>;
}
