//! [`TicketStore`]: tickets with their append-only events: writing (one ticket, several
//! in one transaction, group commit of new ones), listing and counting, and the event
//! feed with its cursor.

use async_trait::async_trait;
use time::OffsetDateTime;
use wuzhang_domain::area::AreaCode;
use wuzhang_domain::event::{EventKind, TicketEvent};
use wuzhang_domain::ticket::{Ticket, TicketId};

use crate::error::Result;
use crate::model::{
    Count, LoggedEvent, NewTicket, Page, PageRequest, TicketChange, TicketGrouping, TicketQuery,
};

/// Tickets and their events.
#[async_trait]
pub trait TicketStore: Send + Sync {
    /// Writes a new ticket, its events (numbered 1, 2, … in order), its timers and the
    /// idempotency record, in one transaction. AlreadyExists if the ticket id (in any
    /// subdistrict) or the idempotency key (scope, request_id) is taken (entity `ticket` or
    /// `idempotency`); then nothing is written. Invalid (field `ticket`) if the ticket breaks
    /// [`Ticket::check_invariants`], or (field `timers`) if a timer is another ticket's or
    /// a kind repeats. Times are kept to the microsecond; the ticket returned is as stored.
    /// `new.followed`, if any, is written in the same transaction as by
    /// [`update_ticket`](Self::update_ticket), and its failure (e.g. Conflict) fails both.
    /// Concurrent calls may be committed together in one transaction (group commit); each
    /// still succeeds or fails on its own.
    async fn create_ticket(&self, new: &NewTicket) -> Result<Ticket>;

    /// NotFound if absent.
    async fn get_ticket(&self, id: &TicketId) -> Result<Ticket>;

    /// Tickets matching `query`, in its order, paged. In [`TicketOrder::DueSoonest`] tickets
    /// without a deadline come last. A page token only fits the order that made it.
    ///
    /// [`TicketOrder::DueSoonest`]: crate::TicketOrder::DueSoonest
    async fn list_tickets(&self, query: &TicketQuery, page: &PageRequest) -> Result<Page<Ticket>>;

    /// How many tickets match `query` (its order is ignored).
    async fn count_tickets(&self, query: &TicketQuery) -> Result<u64>;

    /// How many tickets match `query` (its order is ignored), counted exactly up to `cap`
    /// and estimated beyond: a listing's `total_size` without reading the whole history.
    /// The count reads at most `cap + 1` matching rows (through an index where the filters
    /// have one). Beyond the cap, `exact` is false and `n` is the planner's estimate of
    /// the matching rows on Postgres (from `EXPLAIN`, its statistics as of the last
    /// `ANALYZE`), never less than `cap + 1`; SQLite has no estimate and answers `cap + 1`
    /// ("more than `cap`").
    async fn count_tickets_capped(&self, query: &TicketQuery, cap: u64) -> Result<Count>;

    /// How many tickets match `query`, per state or per grid: (key, count) for each key
    /// with at least one, ordered by key. One query, for dashboards over many grids.
    async fn count_tickets_by(
        &self,
        query: &TicketQuery,
        by: TicketGrouping,
    ) -> Result<Vec<(String, u64)>>;

    /// How many events of `kinds` (all if empty) in `subdistrict_codes` (all if empty)
    /// happened at or after `since`.
    async fn count_events(
        &self,
        subdistrict_codes: &[AreaCode],
        kinds: &[EventKind],
        since: OffsetDateTime,
    ) -> Result<u64>;

    /// The end of the final part of the event log (0 if empty): where a live feed starts.
    /// Every event with a lower cursor is stored or will never be (see
    /// [`events_since`](Self::events_since)).
    async fn event_cursor_head(&self) -> Result<i64>;

    /// Writes a changed ticket with its events, timers and idempotency record, in one
    /// transaction, if the stored version is exactly `change.ticket.version - 1`.
    /// Otherwise Conflict (with the stored version) or NotFound, and nothing is written.
    /// Checked as in [`create_ticket`](Self::create_ticket); a ticket never changes
    /// subdistrict (Invalid, field `subdistrict_code`). Returns the ticket as stored.
    async fn update_ticket(&self, change: &TicketChange) -> Result<Ticket>;

    /// Several changes, to different tickets, in one transaction: all are written or none
    /// (a merge folds a duplicate into another ticket and makes its reporter follow it).
    /// Each is checked as in [`update_ticket`](Self::update_ticket). Returns the tickets
    /// as stored, in order.
    async fn update_tickets(&self, changes: &[TicketChange]) -> Result<Vec<Ticket>>;

    /// Residents following the ticket besides its reporter (see
    /// [`TicketChange::add_follower`](crate::TicketChange::add_follower)), ordered.
    async fn ticket_followers(&self, id: &TicketId) -> Result<Vec<String>>;

    /// Events of one ticket with `seq > after_seq`, in order, at most `limit` (none for an
    /// unknown ticket).
    async fn list_events(
        &self,
        id: &TicketId,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<TicketEvent>>;

    /// Events of some subdistricts (all if empty) stored after `after_cursor`, in cursor
    /// order, at most `limit`: the feed of live streams. Only the final part of the log is
    /// read: an event shows here once no event with a lower cursor can still be
    /// committed, so a stream that resumes after the last cursor it saw misses nothing,
    /// however the writers' commits interleave.
    async fn events_since(
        &self,
        subdistrict_codes: &[AreaCode],
        after_cursor: i64,
        limit: u32,
    ) -> Result<Vec<LoggedEvent>>;
}
