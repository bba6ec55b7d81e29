//! The [`Store`] trait: everything wuzhang keeps, behind one interface with a PostgreSQL +
//! PostGIS and a SQLite implementation. Both pass the same conformance suite
//! (`tests/conformance.rs`), so services never ask which one they have.

use async_trait::async_trait;
use futures::future::BoxFuture;
use std::fmt::Debug;
use time::{Duration, OffsetDateTime};
use wuzhang_domain::area::{Area, AreaCode, AreaLevel};
use wuzhang_domain::category::{Category, CategoryCode};
use wuzhang_domain::chief::{Person, PersonId, Post};
use wuzhang_domain::event::{EventKind, TicketEvent};
use wuzhang_domain::ticket::{Ticket, TicketId};
use wuzhang_domain::timer::Timer;

use crate::error::Result;
use crate::model::{
    AreaQuery, AreaRecord, FireReport, IdempotencyRecord, LoggedEvent, NewTicket, Page,
    PageRequest, ReferenceCounters, StoredCalendarYear, TicketChange, TicketGrouping, TicketQuery,
    TimerOutcome,
};

/// Which implementation a store is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

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

#[async_trait]
pub trait Store: Send + Sync + Debug + 'static {
    fn backend(&self) -> Backend;

    /// Applies the backend's pending migrations. Idempotent; run on start and by
    /// `wuzhang migrate`.
    async fn migrate(&self) -> Result<()>;

    /// Whether the database answers; for health checks.
    async fn ping(&self) -> Result<()>;

    // ---------------------------------------------------------------- areas

    /// Inserts or replaces `areas` by code, all or nothing, and bumps the area change
    /// counter once. Parents may come in the same batch in any order; a parent that is
    /// neither stored nor in the batch, or is not of the level above
    /// ([`Area::check_parent`]), is [`StoreError::Invalid`] (field `parent_code`), as is
    /// anything [`Area::validate`] refuses and a code given twice (field `code`).
    /// Geometry must be a 2D Polygon or MultiPolygon in WKB (else field `geometry_wkb`);
    /// it is stored as a MultiPolygon, and an area given without a bbox gets the envelope
    /// of its geometry. Returns the new value of the change counter.
    ///
    /// [`StoreError::Invalid`]: crate::StoreError::Invalid
    async fn upsert_areas(&self, areas: &[AreaRecord]) -> Result<i64>;

    /// One area without its geometry. NotFound if absent.
    async fn get_area(&self, code: &AreaCode) -> Result<Area>;

    /// Areas by code, without geometry, ordered by code; codes not found are left out.
    /// Imports use it to check parents and post areas in one round trip per batch.
    async fn get_areas(&self, codes: &[AreaCode]) -> Result<Vec<Area>>;

    /// One area with its geometry. NotFound if absent.
    async fn get_area_record(&self, code: &AreaCode) -> Result<AreaRecord>;

    /// Areas matching `query`, ordered by code, paged.
    async fn list_areas(&self, query: &AreaQuery, page: &PageRequest) -> Result<Page<Area>>;

    /// Every area of the given levels (all areas if `levels` is empty) with its geometry,
    /// ordered by code: what the spatial index is built from. Postgres gives the geometry
    /// back in its own encoding (little-endian WKB on usual hardware).
    async fn load_area_records(&self, levels: &[AreaLevel]) -> Result<Vec<AreaRecord>>;

    /// Every area of the given levels (all areas if `levels` is empty) without its
    /// geometry, ordered by code: what processes keep in memory beside the spatial index.
    async fn load_areas(&self, levels: &[AreaLevel]) -> Result<Vec<Area>>;

    /// The area and its ancestors, itself first, up to the root. NotFound if `code` is absent.
    async fn lineage(&self, code: &AreaCode) -> Result<Vec<Area>>;

    /// Repairs polygon geometries (OGC WKB) with the database's own tool, returning
    /// polygonal WKB in the same order: PostGIS `ST_MakeValid`, keeping only its polygonal
    /// parts. `None` when the backend has no such tool (SQLite): callers repair in process.
    async fn make_valid(&self, geometries: &[Vec<u8>]) -> Result<Option<Vec<Vec<u8>>>>;

    /// A number that grows whenever areas change; processes poll it to rebuild their index.
    async fn area_change_counter(&self) -> Result<i64>;

    // ---------------------------------------------------------------- roster

    /// Inserts or replaces persons and posts (by person id and by post area code), all or
    /// nothing. A post's area must exist (else field `area_code`) and have the post's level
    /// (`area.level.chief_level() == post.level`, else field `level`); its holder and deputy
    /// must exist or be in `persons` (fields `holder`, `deputy`); each leave must end after
    /// it starts (`leave`); a person needs a name of 1 to 100 characters (`name`); an id or
    /// area given twice is refused (`persons`, `posts`). All are
    /// [`StoreError::Invalid`](crate::StoreError::Invalid).
    async fn upsert_roster(&self, persons: &[Person], posts: &[Post]) -> Result<()>;

    /// NotFound if absent.
    async fn get_person(&self, id: &PersonId) -> Result<Person>;

    /// Persons by id; ids not found are left out.
    async fn get_persons(&self, ids: &[PersonId]) -> Result<Vec<Person>>;

    /// The posts of these areas (areas without a post are left out), in no set order.
    async fn posts_for_areas(&self, codes: &[AreaCode]) -> Result<Vec<Post>>;

    /// The posts a person holds or deputises for, ordered by area code.
    async fn posts_of_person(&self, id: &PersonId) -> Result<Vec<Post>>;

    // ---------------------------------------------------------------- categories

    /// Inserts or replaces a category by code. Invalid if [`Category::validate`] refuses it
    /// or a duration has a fraction of a second (they are stored as whole seconds).
    async fn upsert_category(&self, category: &Category) -> Result<()>;

    /// NotFound if absent.
    async fn get_category(&self, code: &CategoryCode) -> Result<Category>;

    /// All categories ordered by code, paged.
    async fn list_categories(&self, page: &PageRequest) -> Result<Page<Category>>;

    // ---------------------------------------------------------------- reference changes

    /// Counters that grow with every roster change and every category change, each bumped
    /// in the transaction of the change: processes poll them to drop what they cached.
    async fn reference_change_counters(&self) -> Result<ReferenceCounters>;

    /// How many roster and category changes this store (and its clones) has committed
    /// since it was opened. Answered from memory: a cache in the same process compares it
    /// on every read and so sees its own process's changes at once, without a round trip.
    fn reference_writes_here(&self) -> u64;

    // ---------------------------------------------------------------- calendars

    /// Inserts or replaces one year of a calendar by (code, year).
    async fn upsert_calendar_year(&self, year: &StoredCalendarYear) -> Result<()>;

    /// Every stored calendar year, ordered by code and year.
    async fn list_calendar_years(&self) -> Result<Vec<StoredCalendarYear>>;

    // ---------------------------------------------------------------- tickets

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

    // ---------------------------------------------------------------- timers

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

    // ---------------------------------------------------------------- idempotency

    /// The record for (scope, request_id), if any.
    async fn get_idempotency(
        &self,
        scope: &str,
        request_id: &str,
    ) -> Result<Option<IdempotencyRecord>>;

    /// Stores a record on its own (for mutations that write no ticket). AlreadyExists if the
    /// key is taken.
    async fn put_idempotency(&self, record: &IdempotencyRecord) -> Result<()>;

    /// Deletes records created strictly before `before`; returns how many.
    async fn purge_idempotency(&self, before: OffsetDateTime) -> Result<u64>;
}
