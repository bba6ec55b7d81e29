//! Rows as column arrays, for statements that write a whole batch at once over
//! `unnest($n::type[], …)`: the statement and its parameter count stay the same whatever
//! the batch size, so it is prepared once and costs one round trip. Group commit (new
//! tickets, [`super::batch`]) and the timer worker (fired timers, [`super::firing`]) share
//! them.

use sqlx::Postgres;
use sqlx::postgres::PgArguments;
use sqlx::query::{Query, QueryAs};
use time::OffsetDateTime;
use uuid::Uuid;
use wuzhang_domain::timer::Timer;

use crate::codec::{EventColumns, TICKET_COLUMNS, TicketColumns};

/// The Postgres type of each of [`TICKET_COLUMNS`], in order.
pub(super) const TICKET_TYPES: [&str; 36] = [
    "text",
    "uuid",
    "text",
    "text",
    "text",
    "text",
    "text",
    "text",
    "text",
    "float8",
    "float8",
    "text",
    "float8",
    "float8",
    "text",
    "text",
    "text",
    "text",
    "text",
    "text",
    "text",
    "bool",
    "timestamptz",
    "timestamptz",
    "timestamptz",
    "timestamptz",
    "uuid",
    "text",
    "int2",
    "bool",
    "text",
    "int8",
    "text",
    "int4",
    "int2",
    "text",
];

/// `$first::text[], $first+1::uuid[], …`: the ticket arrays as `unnest` arguments.
pub(super) fn ticket_unnest_args(first: usize) -> String {
    debug_assert_eq!(TICKET_TYPES.len(), TICKET_COLUMNS.len());
    TICKET_TYPES
        .iter()
        .enumerate()
        .map(|(i, ty)| format!("${}::{ty}[]", i + first))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Binds a value into either kind of query: batches are fetched as rows or as tuples.
pub(super) trait Bind<'q>: Sized {
    fn bind_value<T>(self, value: T) -> Self
    where
        T: 'q + sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres>;
}

impl<'q> Bind<'q> for Query<'q, Postgres, PgArguments> {
    fn bind_value<T>(self, value: T) -> Self
    where
        T: 'q + sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres>,
    {
        self.bind(value)
    }
}

impl<'q, O> Bind<'q> for QueryAs<'q, Postgres, O, PgArguments> {
    fn bind_value<T>(self, value: T) -> Self
    where
        T: 'q + sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres>,
    {
        self.bind(value)
    }
}

/// Ticket columns as arrays, in [`TICKET_COLUMNS`] order.
#[derive(Default)]
pub(super) struct TicketArrays {
    subdistrict_code: Vec<String>,
    id: Vec<Uuid>,
    grid_code: Vec<String>,
    state: Vec<String>,
    level: Vec<Option<String>>,
    assignee_area_code: Vec<Option<String>>,
    assignee_person_id: Vec<Option<String>>,
    category_code: Vec<String>,
    description: Vec<String>,
    lat: Vec<f64>,
    lng: Vec<f64>,
    crs: Vec<String>,
    original_lat: Vec<f64>,
    original_lng: Vec<f64>,
    original_crs: Vec<String>,
    address: Vec<String>,
    building_code: Vec<Option<String>>,
    unit_code: Vec<Option<String>>,
    media_urls: Vec<String>,
    contact_phone: Vec<Option<String>>,
    reporter_id: Vec<String>,
    urgent: Vec<bool>,
    accept_due_at: Vec<Option<OffsetDateTime>>,
    resolve_due_at: Vec<Option<OffsetDateTime>>,
    created_at: Vec<OffsetDateTime>,
    updated_at: Vec<OffsetDateTime>,
    duplicate_of: Vec<Option<Uuid>>,
    pause: Vec<String>,
    rating_stars: Vec<Option<i16>>,
    rating_not_solved: Vec<Option<bool>>,
    rating_comment: Vec<Option<String>>,
    version: Vec<i64>,
    supervision: Vec<Option<String>>,
    supervision_count: Vec<i32>,
    clock_rate: Vec<i16>,
    assignee_org_code: Vec<Option<String>>,
}

impl TicketArrays {
    pub(super) fn push(&mut self, c: TicketColumns) {
        self.subdistrict_code.push(c.subdistrict_code);
        self.id.push(c.id);
        self.grid_code.push(c.grid_code);
        self.state.push(c.state);
        self.level.push(c.level);
        self.assignee_area_code.push(c.assignee_area_code);
        self.assignee_person_id.push(c.assignee_person_id);
        self.category_code.push(c.category_code);
        self.description.push(c.description);
        self.lat.push(c.lat);
        self.lng.push(c.lng);
        self.crs.push(c.crs);
        self.original_lat.push(c.original_lat);
        self.original_lng.push(c.original_lng);
        self.original_crs.push(c.original_crs);
        self.address.push(c.address);
        self.building_code.push(c.building_code);
        self.unit_code.push(c.unit_code);
        self.media_urls.push(c.media_urls);
        self.contact_phone.push(c.contact_phone);
        self.reporter_id.push(c.reporter_id);
        self.urgent.push(c.urgent);
        self.accept_due_at.push(c.accept_due_at);
        self.resolve_due_at.push(c.resolve_due_at);
        self.created_at.push(c.created_at);
        self.updated_at.push(c.updated_at);
        self.duplicate_of.push(c.duplicate_of);
        self.pause.push(c.pause);
        self.rating_stars.push(c.rating_stars);
        self.rating_not_solved.push(c.rating_not_solved);
        self.rating_comment.push(c.rating_comment);
        self.version.push(c.version);
        self.supervision.push(c.supervision);
        self.supervision_count.push(c.supervision_count);
        self.clock_rate.push(c.clock_rate);
        self.assignee_org_code.push(c.assignee_org_code);
    }

    /// Binds the 36 arrays, in [`TICKET_COLUMNS`] order.
    pub(super) fn bind<'q, Q: Bind<'q>>(self, q: Q) -> Q {
        q.bind_value(self.subdistrict_code)
            .bind_value(self.id)
            .bind_value(self.grid_code)
            .bind_value(self.state)
            .bind_value(self.level)
            .bind_value(self.assignee_area_code)
            .bind_value(self.assignee_person_id)
            .bind_value(self.category_code)
            .bind_value(self.description)
            .bind_value(self.lat)
            .bind_value(self.lng)
            .bind_value(self.crs)
            .bind_value(self.original_lat)
            .bind_value(self.original_lng)
            .bind_value(self.original_crs)
            .bind_value(self.address)
            .bind_value(self.building_code)
            .bind_value(self.unit_code)
            .bind_value(self.media_urls)
            .bind_value(self.contact_phone)
            .bind_value(self.reporter_id)
            .bind_value(self.urgent)
            .bind_value(self.accept_due_at)
            .bind_value(self.resolve_due_at)
            .bind_value(self.created_at)
            .bind_value(self.updated_at)
            .bind_value(self.duplicate_of)
            .bind_value(self.pause)
            .bind_value(self.rating_stars)
            .bind_value(self.rating_not_solved)
            .bind_value(self.rating_comment)
            .bind_value(self.version)
            .bind_value(self.supervision)
            .bind_value(self.supervision_count)
            .bind_value(self.clock_rate)
            .bind_value(self.assignee_org_code)
    }
}

/// Timer columns as arrays: subdistrict, ticket, kind, due, level.
#[derive(Default)]
pub(super) struct TimerArrays {
    subdistrict: Vec<String>,
    ticket: Vec<Uuid>,
    kind: Vec<String>,
    due: Vec<OffsetDateTime>,
    level: Vec<String>,
}

impl TimerArrays {
    pub(super) fn push(&mut self, t: &Timer) {
        self.subdistrict
            .push(t.subdistrict_code.as_str().to_owned());
        self.ticket.push(t.ticket_id.as_uuid());
        self.kind.push(t.kind.as_str().to_owned());
        self.due.push(t.due_at);
        self.level.push(t.level.as_str().to_owned());
    }

    pub(super) fn is_empty(&self) -> bool {
        self.ticket.is_empty()
    }

    /// Binds the 5 arrays: `text[], uuid[], text[], timestamptz[], text[]`.
    pub(super) fn bind<'q, Q: Bind<'q>>(self, q: Q) -> Q {
        q.bind_value(self.subdistrict)
            .bind_value(self.ticket)
            .bind_value(self.kind)
            .bind_value(self.due)
            .bind_value(self.level)
    }
}

/// Event columns as arrays, in `ticket_events` insert order (without the cursor).
#[derive(Default)]
pub(super) struct EventArrays {
    subdistrict: Vec<String>,
    ticket: Vec<Uuid>,
    seq: Vec<i64>,
    kind: Vec<String>,
    actor: Vec<String>,
    from_state: Vec<Option<String>>,
    to_state: Vec<String>,
    level: Vec<Option<String>>,
    assignee: Vec<Option<String>>,
    note: Vec<String>,
    at: Vec<OffsetDateTime>,
    accept_due: Vec<Option<OffsetDateTime>>,
    resolve_due: Vec<Option<OffsetDateTime>>,
    rating_stars: Vec<Option<i16>>,
    rating_not_solved: Vec<Option<bool>>,
    assignee_org_code: Vec<Option<String>>,
}

impl EventArrays {
    pub(super) fn push(&mut self, e: EventColumns) {
        self.subdistrict.push(e.subdistrict_code);
        self.ticket.push(e.ticket_id);
        self.seq.push(e.seq);
        self.kind.push(e.kind);
        self.actor.push(e.actor);
        self.from_state.push(e.from_state);
        self.to_state.push(e.to_state);
        self.level.push(e.level);
        self.assignee.push(e.assignee_person_id);
        self.note.push(e.note);
        self.at.push(e.at);
        self.accept_due.push(e.accept_due_at);
        self.resolve_due.push(e.resolve_due_at);
        self.rating_stars.push(e.rating_stars);
        self.rating_not_solved.push(e.rating_not_solved);
        self.assignee_org_code.push(e.assignee_org_code);
    }

    pub(super) fn is_empty(&self) -> bool {
        self.ticket.is_empty()
    }

    /// Binds the 16 arrays: subdistrict, ticket, seq, kind, actor, from_state, to_state,
    /// level, assignee_person_id, note, at, accept_due_at, resolve_due_at, rating_stars,
    /// rating_not_solved, assignee_org_code.
    pub(super) fn bind<'q, Q: Bind<'q>>(self, q: Q) -> Q {
        q.bind_value(self.subdistrict)
            .bind_value(self.ticket)
            .bind_value(self.seq)
            .bind_value(self.kind)
            .bind_value(self.actor)
            .bind_value(self.from_state)
            .bind_value(self.to_state)
            .bind_value(self.level)
            .bind_value(self.assignee)
            .bind_value(self.note)
            .bind_value(self.at)
            .bind_value(self.accept_due)
            .bind_value(self.resolve_due)
            .bind_value(self.rating_stars)
            .bind_value(self.rating_not_solved)
            .bind_value(self.assignee_org_code)
    }
}

/// `unnest(…) AS x(…)` over the event arrays bound from `$first`.
pub(super) fn event_unnest(first: usize) -> String {
    let types = [
        "text",
        "uuid",
        "int8",
        "text",
        "text",
        "text",
        "text",
        "text",
        "text",
        "text",
        "timestamptz",
        "timestamptz",
        "timestamptz",
        "int2",
        "bool",
        "text",
    ];
    let args: Vec<String> = types
        .iter()
        .enumerate()
        .map(|(i, ty)| format!("${}::{ty}[]", i + first))
        .collect();
    format!(
        "unnest({}) AS x(subdistrict_code, ticket_id, seq, kind, actor, from_state, to_state, \
         level, assignee_person_id, note, at, accept_due_at, resolve_due_at, rating_stars, \
         rating_not_solved, assignee_org_code)",
        args.join(", ")
    )
}

/// `unnest(…) AS x(…)` over the timer arrays bound from `$first`.
pub(super) fn timer_unnest(first: usize) -> String {
    format!(
        "unnest(${a}::text[], ${b}::uuid[], ${c}::text[], ${d}::timestamptz[], ${e}::text[]) \
         AS x(subdistrict_code, ticket_id, kind, due_at, level)",
        a = first,
        b = first + 1,
        c = first + 2,
        d = first + 3,
        e = first + 4
    )
}

/// Writes the timers bound from `$first` (as [`TimerArrays`]) as one `timer_sets` row per
/// ticket, replacing the row a ticket has. `filter` (e.g. a `WHERE` on `x.ticket_id`) picks
/// which of the bound timers go in.
pub(super) fn timer_sets_upsert(first: usize, filter: &str) -> String {
    format!(
        "INSERT INTO timer_sets (subdistrict_code, ticket_id, due_at, kinds, dues, levels) \
         SELECT x.subdistrict_code, x.ticket_id, min(x.due_at), \
           array_agg(x.kind ORDER BY x.due_at, x.kind), \
           array_agg(x.due_at ORDER BY x.due_at, x.kind), \
           array_agg(x.level ORDER BY x.due_at, x.kind) \
         FROM {unnest} {filter} \
         GROUP BY x.subdistrict_code, x.ticket_id \
         ON CONFLICT (subdistrict_code, ticket_id) DO UPDATE SET due_at = EXCLUDED.due_at, \
           kinds = EXCLUDED.kinds, dues = EXCLUDED.dues, levels = EXCLUDED.levels",
        unnest = timer_unnest(first),
    )
}

/// Rewrites the `timer_sets` rows of subdistrict `$sub` whose tickets have timers bound from
/// `$first` (as [`TimerArrays`]): an UPDATE, for sets known to exist (the timer worker's,
/// claimed and locked). Cheaper than the upsert, which first tries an insert.
pub(super) fn timer_sets_update(first: usize, sub: usize) -> String {
    format!(
        "UPDATE timer_sets s SET due_at = n.due_at, kinds = n.kinds, dues = n.dues, \
           levels = n.levels \
         FROM (SELECT x.subdistrict_code, x.ticket_id, min(x.due_at) AS due_at, \
             array_agg(x.kind ORDER BY x.due_at, x.kind) AS kinds, \
             array_agg(x.due_at ORDER BY x.due_at, x.kind) AS dues, \
             array_agg(x.level ORDER BY x.due_at, x.kind) AS levels \
           FROM {unnest} GROUP BY x.subdistrict_code, x.ticket_id) n \
         WHERE s.subdistrict_code = ${sub} AND s.subdistrict_code = n.subdistrict_code \
           AND s.ticket_id = n.ticket_id",
        unnest = timer_unnest(first),
    )
}

/// A `timer_sets` row as the timers it holds, ordered by due time, then kind.
pub(super) fn timer_set(
    subdistrict_code: String,
    ticket_id: Uuid,
    kinds: Vec<String>,
    dues: Vec<OffsetDateTime>,
    levels: Vec<String>,
) -> crate::error::Result<Vec<Timer>> {
    if kinds.len() != dues.len() || kinds.len() != levels.len() {
        return Err(crate::StoreError::internal(format!(
            "timer set of {ticket_id}: arrays of different lengths"
        )));
    }
    kinds
        .iter()
        .zip(dues)
        .zip(&levels)
        .map(|((kind, due), level)| {
            crate::codec::timer(ticket_id, subdistrict_code.clone(), kind, due, level)
        })
        .collect()
}
