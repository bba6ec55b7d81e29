//! Values the store takes and gives besides the domain types: records with geometry,
//! queries, pages, and the units of change written in one transaction.

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use wuzhang_domain::area::{Area, AreaCode, AreaLevel, BBox};
use wuzhang_domain::campaign::TaskResult;
use wuzhang_domain::category::CategoryCode;
use wuzhang_domain::chief::{ChiefLevel, PersonId};
use wuzhang_domain::evaluation::{Figures, Ledger, Place, RowKey, Scope};
use wuzhang_domain::event::{EventKind, NewEvent, TicketEvent};
use wuzhang_domain::organization::OrganizationCode;
use wuzhang_domain::ticket::{Pause, Ticket, TicketId, TicketState};
use wuzhang_domain::timer::Timer;

/// Most items one page may hold; larger requests are clamped, not refused.
pub const MAX_PAGE_SIZE: u32 = 1000;
/// Page size when the caller gives none.
pub const DEFAULT_PAGE_SIZE: u32 = 50;

/// An area with its footprint, as imported and as loaded into the spatial index.
#[derive(Debug, Clone, PartialEq)]
pub struct AreaRecord {
    pub area: Area,
    /// MultiPolygon in WGS84 as OGC WKB (little or big endian). `None` for units.
    pub geometry_wkb: Option<Vec<u8>>,
}

/// How often the roster and the categories have changed (see
/// [`Store::reference_change_counters`](crate::Store::reference_change_counters)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReferenceCounters {
    /// Bumped by every `upsert_roster` (persons and posts).
    pub roster: i64,
    /// Bumped by every `upsert_category`.
    pub categories: i64,
    /// Bumped by every `switch_emergency_mode`.
    pub emergency: i64,
}

/// Which areas a listing returns. Filters combine with AND.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AreaQuery {
    pub parent_code: Option<AreaCode>,
    pub level: Option<AreaLevel>,
    /// Areas whose bounding box intersects this one.
    pub bbox: Option<BBox>,
}

/// One page of a listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRequest {
    /// 0 means the default; above [`MAX_PAGE_SIZE`] is clamped.
    pub size: u32,
    /// From the previous page's `next_token`; opaque to callers.
    pub token: Option<String>,
}

impl PageRequest {
    pub fn first(size: u32) -> Self {
        Self { size, token: None }
    }

    /// The size to use: the default for 0, clamped to the maximum.
    pub fn effective_size(&self) -> u32 {
        match self.size {
            0 => DEFAULT_PAGE_SIZE,
            n => n.min(MAX_PAGE_SIZE),
        }
    }
}

/// One page of a listing and where the next one starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// `None` on the last page.
    pub next_token: Option<String>,
}

/// Order of a ticket listing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TicketOrder {
    /// Residents' "my incidents": newest first.
    #[default]
    NewestFirst,
    /// Chiefs' inbox: the nearest deadline first (accept, else resolve), then oldest.
    DueSoonest,
}

/// What [`TicketStore::count_tickets_by`](crate::TicketStore::count_tickets_by) counts per.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketGrouping {
    /// Per state (its `as_str` name).
    State,
    /// Per grid code.
    Grid,
}

impl TicketGrouping {
    /// The column grouped by: a fixed name, never caller text.
    pub(crate) fn column(self) -> &'static str {
        match self {
            TicketGrouping::State => "state",
            TicketGrouping::Grid => "grid_code",
        }
    }
}

/// A count of tickets that stops at a cap: exact up to it, an estimate beyond (see
/// [`TicketStore::count_tickets_capped`](crate::TicketStore::count_tickets_capped)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count {
    pub n: u64,
    /// `n` is the number of matching tickets; if not, it is an estimate above the cap.
    pub exact: bool,
}

/// Up to how many tickets a listing's `total_size` is counted exactly (the API's
/// `ListTicketsResponse` and `ListInboxResponse` say so); beyond, it is an estimate.
pub const TOTAL_SIZE_CAP: u64 = 10_000;

/// One of the ticket statements the store runs, for `explain` on either store: the plan
/// tests look at the plans of exactly what the store sends.
#[doc(hidden)]
#[derive(Debug, Clone)]
pub enum TicketStatement {
    /// [`TicketStore::list_tickets`](crate::TicketStore::list_tickets).
    List(PageRequest),
    /// [`TicketStore::count_tickets`](crate::TicketStore::count_tickets).
    Count,
    /// [`TicketStore::count_tickets_capped`](crate::TicketStore::count_tickets_capped)'s count.
    CountCapped(u64),
    /// [`TicketStore::count_tickets_by`](crate::TicketStore::count_tickets_by).
    CountBy(TicketGrouping),
}

/// Which tickets a listing returns. Filters combine with AND; empty lists mean "any".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TicketQuery {
    pub subdistrict_codes: Vec<AreaCode>,
    pub reporter_id: Option<String>,
    pub assignee_person_id: Option<PersonId>,
    /// Tickets owned by any of these areas (a chief's posts).
    pub assignee_area_codes: Vec<AreaCode>,
    /// Tickets held by any of these organizations (their staff's inbox).
    pub assignee_org_codes: Vec<OrganizationCode>,
    pub states: Vec<TicketState>,
    pub level: Option<ChiefLevel>,
    pub grid_code: Option<AreaCode>,
    pub category_code: Option<CategoryCode>,
    /// Only open tickets with a deadline (accept or resolve) before this instant.
    pub overdue_at: Option<OffsetDateTime>,
    pub created_from: Option<OffsetDateTime>,
    pub created_before: Option<OffsetDateTime>,
    /// Only tickets in this pause state (the command center's queue of pause requests).
    pub pause: Option<Pause>,
    /// Only urgent tickets.
    pub urgent_only: bool,
    /// Only tickets with a supervision order (督办).
    pub supervised_only: bool,
    /// Only the command center's reopen queue: RESOLVED or CLOSED tickets their resident
    /// rated not solved (a reopen clears the rating, so a reopened ticket leaves it).
    pub reopen_requested: bool,
    /// Only tickets whose (WGS84) location lies in this box, edges included: the
    /// candidates of a duplicate check.
    pub within: Option<BBox>,
    pub order: TicketOrder,
}

/// A new ticket and everything written with it, in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTicket {
    pub ticket: Ticket,
    /// In order; the store numbers them 1, 2, … within the ticket.
    pub events: Vec<NewEvent>,
    pub timers: Vec<Timer>,
    /// The request that made it, so a retry finds the first answer.
    pub idempotency: Option<IdempotencyRecord>,
    /// A change to another ticket written in the same transaction: the open ticket a
    /// duplicate is merged into gains the new reporter as a follower. Such writes skip
    /// group commit (they are rare and touch two tickets).
    pub followed: Option<TicketChange>,
}

/// A changed ticket and everything written with it, in one transaction. The ticket is the
/// state after [`wuzhang_domain::ticket::Ticket::apply`]: its version is one more than the
/// stored one, or the write fails with a conflict.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketChange {
    pub ticket: Ticket,
    pub events: Vec<NewEvent>,
    /// `Some` replaces all timers of the ticket (an empty list clears them); `None` keeps them.
    pub timers: Option<Vec<Timer>>,
    pub idempotency: Option<IdempotencyRecord>,
    /// A resident who now follows the ticket (the reporter of a merged duplicate): they
    /// may read and watch it as if they had reported it. Adding one twice is harmless.
    pub add_follower: Option<String>,
    /// A campaign task's result, kept with its task (Invalid, field `task_result`, if the
    /// ticket is not a campaign task).
    pub task_result: Option<TaskResult>,
}

/// The remembered answer to a mutating request, keyed by the caller and the request id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// Who asked and what (e.g. `resident-17/SubmitIncident`): the same request id from
    /// two callers is two requests.
    pub scope: String,
    pub request_id: String,
    /// A digest of the request payload: the same id with another payload is refused.
    pub request_hash: Vec<u8>,
    /// The encoded answer given the first time.
    pub response: Vec<u8>,
    pub created_at: OffsetDateTime,
}

impl IdempotencyRecord {
    /// The entity a taken key is refused as ([`StoreError::AlreadyExists`]); callers tell
    /// a lost retry race from other conflicts by it
    /// ([`StoreError::is_taken_request_id`]).
    ///
    /// [`StoreError::AlreadyExists`]: crate::StoreError::AlreadyExists
    /// [`StoreError::is_taken_request_id`]: crate::StoreError::is_taken_request_id
    pub const ENTITY: &'static str = "idempotency";
}

/// An event with its place in the global log, for subdistrict-wide streams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedEvent {
    /// Increases with every event stored (gaps allowed); a stream resumes after it.
    pub cursor: i64,
    pub event: TicketEvent,
}

/// What the timer worker decided for one due timer.
// One value per fired timer, moved straight into the store: boxing the change would only
// make every handler write `Box::new`.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum TimerOutcome {
    /// Write this change (its `timers`, if `Some`, replace the ticket's timers) and delete
    /// the fired timer.
    Fire(TicketChange),
    /// The timer no longer applies (the ticket moved on): delete it, change nothing.
    Drop,
}

/// How a round of the timer worker went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FireReport {
    /// Timers whose change was written.
    pub fired: usize,
    /// Stale timers deleted without a change.
    pub dropped: usize,
    /// Timers whose handler failed; they stay and are retried after a delay.
    pub failed: usize,
}

/// One year of a working calendar as the administrator set it: a JSON document in the
/// shape of `data/calendars/cn.json` holding that year (the domain parses it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCalendarYear {
    pub code: String,
    pub year: i32,
    pub document: String,
    pub updated_at: OffsetDateTime,
}

// ------------------------------------------------------------------------ rollups

/// One ticket's evaluation state, as the rollups keep it between events.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketLedger {
    pub ticket_id: TicketId,
    pub subdistrict_code: AreaCode,
    /// The areas its area rows count on, fixed when its first event is folded.
    pub place: Place,
    pub ledger: Ledger,
}

/// Where a ticket lies, as its row says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketPlace {
    pub ticket_id: TicketId,
    pub subdistrict_code: AreaCode,
    pub grid_code: AreaCode,
}

/// One step of folding the event log into the rollups: written at once, or not at all.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RollupStep {
    /// The cursor the step starts from (the stored one when it was read).
    pub from_cursor: i64,
    /// The cursor of the last event the step folds.
    pub to_cursor: i64,
    /// Ledgers to write (replacing those kept).
    pub ledgers: Vec<TicketLedger>,
    /// Figures to add, per subdistrict and row.
    pub evaluation: Vec<(AreaCode, RowKey, Figures)>,
    /// Changes to the number of tickets per state.
    pub state_counts: Vec<(AreaCode, TicketState, i64)>,
    /// Changes to the number of open tickets per (subdistrict, grid).
    pub grid_open: Vec<(AreaCode, AreaCode, i64)>,
    /// Events to add per local day and kind.
    pub event_counts: Vec<(AreaCode, Date, EventKind, i64)>,
}

/// An evaluation period over the rollups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvaluationQuery {
    /// Empty: every subdistrict.
    pub subdistrict_codes: Vec<AreaCode>,
    pub scope: Scope,
    /// First local day, inclusive.
    pub from: Date,
    /// Last local day, exclusive.
    pub until: Date,
    /// One period only (emergency mode or peacetime), or both summed.
    pub emergency: Option<bool>,
}

/// One key's figures over a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvaluationTotals {
    /// Person id or area code.
    pub key: String,
    /// Chief rows: the highest level the person held a ticket at; `None` for area rows.
    pub level: Option<ChiefLevel>,
    pub figures: Figures,
}

/// Rows of (key, level) ordered by key, summed per key with the highest level: level names
/// do not sort by rank in SQL, so the rank is taken here.
pub(crate) fn merge_levels(rows: Vec<EvaluationTotals>) -> Vec<EvaluationTotals> {
    let mut out: Vec<EvaluationTotals> = Vec::with_capacity(rows.len());
    for row in rows {
        match out.last_mut() {
            Some(last) if last.key == row.key => {
                last.figures.add(&row.figures);
                last.level = last.level.max(row.level);
            }
            _ => out.push(row),
        }
    }
    out
}

// ------------------------------------------------------------------------ campaigns

/// A campaign's task as it is created: its ticket (assigned to the chief, with its clocks)
/// and where it lies, for progress by grid, lane and street.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCampaignTask {
    pub new: NewTicket,
    /// The post's area (a grid, building or unit).
    pub area_code: AreaCode,
    pub place: Place,
}

/// A task as progress reads it: where it lies, its ticket's state and deadlines, and
/// its result once reported.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignTaskRow {
    pub ticket_id: TicketId,
    pub area_code: AreaCode,
    pub place: Place,
    pub state: TicketState,
    pub accept_due_at: Option<OffsetDateTime>,
    pub resolve_due_at: Option<OffsetDateTime>,
    pub result: Option<TaskResult>,
}
