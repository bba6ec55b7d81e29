//! Rows of a batch as values of Postgres row types (migration 0011), so a batch is one
//! array parameter per table, `unnest($n::batch_ticket[])`, rather than one array per
//! column: Postgres runs every `unnest` argument as its own materialised function scan on
//! each execution, and with 57 of them that was about a third of a one-ticket batch's
//! time in the statement (see the migration for the measurement).
//!
//! Each value goes over the wire in Postgres's binary record format: the field count, then
//! each field's type OID and value. Postgres checks both against the row type, so the
//! fields here must be exactly the migration's, in its order, of its types; the
//! conformance suite writes every field of a ticket through them and reads it back.
//!
//! Also rows ↔ domain values for single rows, as [`crate::sqlite`] has them: the decoders
//! (shared through [`crate::codec`]), the ticket binder in column order, and the ticket
//! statements with their `ticket_assignees` row.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::types::PgRecordEncoder;
use sqlx::postgres::{PgArgumentBuffer, PgArguments, PgHasArrayType, PgRow, PgTypeInfo};
use sqlx::{Encode, Postgres, QueryBuilder, Row, Type};
use time::OffsetDateTime;
use uuid::Uuid;
use wuzhang_domain::area::{AreaCode, BBox};
use wuzhang_domain::category::Category;
use wuzhang_domain::chief::{Person, Post};
use wuzhang_domain::event::TicketEvent;
use wuzhang_domain::ticket::Ticket;
use wuzhang_domain::timer::Timer;

use super::strings;
use crate::codec::{
    self, AreaColumns, CategoryColumns, EventColumns, PostColumns, TICKET_COLUMNS, TicketColumns,
};
use crate::error::Result;
use crate::model::{AreaRecord, IdempotencyRecord, TicketQuery};
use crate::query::{Dialect, OPEN_STATES, TicketFrom};

/// Implements `Type` and `PgHasArrayType` for a row struct named after a row type.
macro_rules! row_type {
    ($t:ty, $name:literal) => {
        impl Type<Postgres> for $t {
            fn type_info() -> PgTypeInfo {
                PgTypeInfo::with_name($name)
            }
        }
        impl PgHasArrayType for $t {
            fn array_type_info() -> PgTypeInfo {
                PgTypeInfo::array_of($name)
            }
        }
    };
}

/// A new ticket and the idempotency key it is written under: `batch_ticket`.
pub(super) struct TicketRow {
    pub(super) key_scope: Option<String>,
    pub(super) key_request_id: Option<String>,
    pub(super) ticket: TicketColumns,
}

row_type!(TicketRow, "batch_ticket");

impl Encode<'_, Postgres> for TicketRow {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        let c = &self.ticket;
        let mut r = PgRecordEncoder::new(buf);
        r.encode(&self.key_scope)?
            .encode(&self.key_request_id)?
            // In TICKET_COLUMNS order.
            .encode(&c.subdistrict_code)?
            .encode(c.id)?
            .encode(&c.grid_code)?
            .encode(&c.state)?
            .encode(&c.level)?
            .encode(&c.assignee_area_code)?
            .encode(&c.assignee_person_id)?
            .encode(&c.category_code)?
            .encode(&c.description)?
            .encode(c.lat)?
            .encode(c.lng)?
            .encode(&c.crs)?
            .encode(c.original_lat)?
            .encode(c.original_lng)?
            .encode(&c.original_crs)?
            .encode(&c.address)?
            .encode(&c.building_code)?
            .encode(&c.unit_code)?
            .encode(&c.media_urls)?
            .encode(&c.contact_phone)?
            .encode(&c.reporter_id)?
            .encode(c.urgent)?
            .encode(c.accept_due_at)?
            .encode(c.resolve_due_at)?
            .encode(c.created_at)?
            .encode(c.updated_at)?
            .encode(c.duplicate_of)?
            .encode(&c.pause)?
            .encode(c.rating_stars)?
            .encode(c.rating_not_solved)?
            .encode(&c.rating_comment)?
            .encode(c.version)?
            // Migration 0012 appended these to the row type, 0019 the last.
            .encode(&c.supervision)?
            .encode(c.supervision_count)?
            .encode(c.clock_rate)?
            // Migration 0021.
            .encode(&c.assignee_org_code)?;
        r.finish();
        Ok(IsNull::No)
    }
}

/// An idempotency record and the ticket it answers with: `batch_key`.
pub(super) struct KeyRow {
    pub(super) scope: String,
    pub(super) request_id: String,
    pub(super) request_hash: Vec<u8>,
    pub(super) response: Vec<u8>,
    pub(super) created_at: OffsetDateTime,
    pub(super) ticket_id: Uuid,
}

row_type!(KeyRow, "batch_key");

impl KeyRow {
    pub(super) fn new(r: &IdempotencyRecord, ticket_id: Uuid) -> Self {
        Self {
            scope: r.scope.clone(),
            request_id: r.request_id.clone(),
            request_hash: r.request_hash.clone(),
            response: r.response.clone(),
            created_at: r.created_at,
            ticket_id,
        }
    }
}

impl Encode<'_, Postgres> for KeyRow {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        let mut r = PgRecordEncoder::new(buf);
        r.encode(&self.scope)?
            .encode(&self.request_id)?
            .encode(&self.request_hash)?
            .encode(&self.response)?
            .encode(self.created_at)?
            .encode(self.ticket_id)?;
        r.finish();
        Ok(IsNull::No)
    }
}

/// A ticket's `timer_sets` row as stored: `batch_timer_set`. Built here rather than
/// aggregated in the statement (a sort and a group per batch).
pub(super) struct TimerSetRow {
    subdistrict_code: String,
    ticket_id: Uuid,
    due_at: OffsetDateTime,
    kinds: Vec<String>,
    dues: Vec<OffsetDateTime>,
    levels: Vec<String>,
}

row_type!(TimerSetRow, "batch_timer_set");

impl TimerSetRow {
    /// One row per ticket among `timers`, each ordered by due time, then kind, as
    /// `timer_sets` keeps them; `due_at` is the earliest.
    pub(super) fn sets<'a>(timers: impl IntoIterator<Item = &'a Timer>) -> Vec<Self> {
        let mut by_ticket: BTreeMap<(&str, Uuid), Vec<&Timer>> = BTreeMap::new();
        for t in timers {
            by_ticket
                .entry((t.subdistrict_code.as_str(), t.ticket_id.as_uuid()))
                .or_default()
                .push(t);
        }
        by_ticket
            .into_iter()
            .filter_map(|((subdistrict, ticket_id), mut set)| {
                set.sort_by(|a, b| (a.due_at, a.kind.as_str()).cmp(&(b.due_at, b.kind.as_str())));
                Some(Self {
                    subdistrict_code: subdistrict.to_owned(),
                    ticket_id,
                    due_at: set.first()?.due_at,
                    kinds: set.iter().map(|t| t.kind.as_str().to_owned()).collect(),
                    dues: set.iter().map(|t| t.due_at).collect(),
                    levels: set.iter().map(|t| t.level.as_str().to_owned()).collect(),
                })
            })
            .collect()
    }
}

impl Encode<'_, Postgres> for TimerSetRow {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        let mut r = PgRecordEncoder::new(buf);
        r.encode(&self.subdistrict_code)?
            .encode(self.ticket_id)?
            .encode(self.due_at)?
            .encode(&self.kinds)?
            .encode(&self.dues)?
            .encode(&self.levels)?;
        r.finish();
        Ok(IsNull::No)
    }
}

/// A ticket event without its cursor: `batch_event`.
pub(super) struct EventRow(pub(super) EventColumns);

row_type!(EventRow, "batch_event");

impl Encode<'_, Postgres> for EventRow {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        let e = &self.0;
        let mut r = PgRecordEncoder::new(buf);
        r.encode(&e.subdistrict_code)?
            .encode(e.ticket_id)?
            .encode(e.seq)?
            .encode(&e.kind)?
            .encode(&e.actor)?
            .encode(&e.from_state)?
            .encode(&e.to_state)?
            .encode(&e.level)?
            .encode(&e.assignee_person_id)?
            .encode(&e.note)?
            .encode(e.at)?
            .encode(e.accept_due_at)?
            .encode(e.resolve_due_at)?
            .encode(e.rating_stars)?
            .encode(e.rating_not_solved)?
            // Migration 0021.
            .encode(&e.assignee_org_code)?;
        r.finish();
        Ok(IsNull::No)
    }
}

type PgQuery<'q> = sqlx::query::Query<'q, Postgres, PgArguments>;

fn dollar(n: usize) -> String {
    format!("${n}")
}

pub(super) static TICKET_SELECT: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {} FROM tickets", TICKET_COLUMNS.join(", ")));
pub(super) static TICKET_BY_ID: LazyLock<String> =
    LazyLock::new(|| format!("{} WHERE id = $1", *TICKET_SELECT));
/// The ticket and its `ticket_assignees` row; answers the ticket's id.
pub(super) static TICKET_INSERT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH t AS ({} RETURNING {ASSIGNEE_SOURCE}), a AS ({}) SELECT id FROM t",
        codec::ticket_insert_sql(dollar),
        assignees_insert("t"),
    )
});
/// The ticket (if its version is the expected one) and, if the assignment changed, its
/// `ticket_assignees` row; answers the ticket's id if it was updated.
pub(super) static TICKET_UPDATE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH t AS ({} RETURNING {ASSIGNEE_SOURCE}), a AS ({}) SELECT id FROM t",
        codec::ticket_update_sql(dollar),
        assignees_update("t", ""),
    )
});

/// What a ticket write returns for [`assignees_insert`] and [`assignees_update`] to read.
pub(super) const ASSIGNEE_SOURCE: &str = "subdistrict_code, id, assignee_area_code, \
     assignee_person_id, state, accept_due_at, resolve_due_at, created_at";

/// The deadline key of a ticket written (`s`, returning [`ASSIGNEE_SOURCE`]): its nearest
/// deadline as [`Dialect::due`] sorts it while it is open, NULL once it is not (migrations
/// 0013 and 0018): the inbox's order and the overdue test.
static ASSIGNEE_DUE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "CASE WHEN s.state IN {OPEN_STATES} \
           THEN COALESCE(LEAST(s.accept_due_at, s.resolve_due_at), {NO_DEADLINE}) END"
    )
});

/// Where tickets without a deadline sort in the deadline order: [`NO_DEADLINE_MICROS`].
///
/// [`NO_DEADLINE_MICROS`]: crate::token::NO_DEADLINE_MICROS
const NO_DEADLINE: &str = "'9999-12-31 23:59:59.999999+00'::timestamptz";

/// Inserts the `ticket_assignees` rows of new tickets from `source` (a CTE returning
/// [`ASSIGNEE_SOURCE`]). See migrations 0009 and 0013 for why the assignment and the
/// inbox's order have their own table.
pub(super) fn assignees_insert(source: &str) -> String {
    format!(
        "INSERT INTO ticket_assignees (subdistrict_code, ticket_id, assignee_area_code, \
           assignee_person_id, due_at, created_at) \
         SELECT s.subdistrict_code, s.id, s.assignee_area_code, s.assignee_person_id, \
           {due}, s.created_at FROM {source} s",
        due = *ASSIGNEE_DUE,
    )
}

/// Updates the `ticket_assignees` rows of updated tickets from `source` (a CTE returning
/// [`ASSIGNEE_SOURCE`]), only where the assignment or the inbox's deadline key changed, so
/// that other ticket writes leave no row version behind; `and` adds conditions on the row
/// (`a`).
pub(super) fn assignees_update(source: &str, and: &str) -> String {
    format!(
        "UPDATE ticket_assignees a SET assignee_area_code = s.assignee_area_code, \
           assignee_person_id = s.assignee_person_id, due_at = {due} \
         FROM {source} s \
         WHERE a.subdistrict_code = s.subdistrict_code AND a.ticket_id = s.id {and} \
           AND (a.assignee_area_code, a.assignee_person_id, a.due_at) \
             IS DISTINCT FROM (s.assignee_area_code, s.assignee_person_id, {due})",
        due = *ASSIGNEE_DUE,
    )
}

// The same column decoding on both backends; only the row type differs.
crate::codec::row_decoders!(PgRow);

// Postgres stores times and ids as its own types, which decode as they are.
fn time_col(row: &PgRow, column: &'static str) -> Result<OffsetDateTime> {
    Ok(row.try_get(column)?)
}

fn time_opt(row: &PgRow, column: &'static str) -> Result<Option<OffsetDateTime>> {
    Ok(row.try_get(column)?)
}

fn uuid_col(row: &PgRow, column: &'static str) -> Result<Uuid> {
    Ok(row.try_get(column)?)
}

fn uuid_opt(row: &PgRow, column: &'static str) -> Result<Option<Uuid>> {
    Ok(row.try_get(column)?)
}
crate::codec::ticket_binder!(PgQuery, std::convert::identity, std::convert::identity);

/// Postgres's side of the shared queries ([`crate::query`]): list parameters as arrays
/// matched with `= ANY`, times and ids as its own types, the assignment looked up in
/// `ticket_assignees` (which holds its indexes, migration 0009).
impl Dialect for Postgres {
    type Time = OffsetDateTime;
    type Id = Uuid;

    const ALL_ROWS: &'static str = "TRUE";
    const REPEAT_OPEN_STATES: bool = false;

    fn time(t: OffsetDateTime) -> OffsetDateTime {
        t
    }

    fn page_time(micros: i64) -> Result<OffsetDateTime> {
        codec::from_micros("page_token", micros)
    }

    fn id(id: Uuid) -> Uuid {
        id
    }

    fn due() -> String {
        // LEAST ignores a NULL argument: NULL only when the ticket has no deadline.
        format!("COALESCE(LEAST(accept_due_at, resolve_due_at), {NO_DEADLINE})")
    }

    fn push_any_of<'a>(
        qb: &mut QueryBuilder<Postgres>,
        column: &str,
        values: impl IntoIterator<Item = &'a str>,
    ) {
        let values = strings(values);
        // One value as an equality: the planner then knows the column is constant, and an
        // index led by it gives the rest of the order (`= ANY` would need a sort).
        if let [one] = values.as_slice() {
            qb.push(format!(" AND {column} = ")).push_bind(one.clone());
        } else {
            qb.push(format!(" AND {column} = ANY("))
                .push_bind(values)
                .push(")");
        }
    }

    fn push_assignee_person(qb: &mut QueryBuilder<Postgres>, person: String) {
        qb.push(
            " AND (subdistrict_code, id) IN (SELECT subdistrict_code, ticket_id \
             FROM ticket_assignees WHERE assignee_person_id = ",
        )
        .push_bind(person)
        .push(")");
    }

    fn push_tickets_from(
        qb: &mut QueryBuilder<Postgres>,
        query: &TicketQuery,
        open_only: bool,
    ) -> TicketFrom {
        let own_key = || [Self::due(), "created_at".to_owned(), "id".to_owned()];
        if query.assignee_area_codes.is_empty() {
            qb.push(" FROM tickets");
            return TicketFrom {
                due_key: own_key(),
                areas_filtered: false,
            };
        }
        // The areas' rows of `ticket_assignees`, joined one to one (its key is the
        // ticket's), their columns renamed apart from the ticket's. An open-only query
        // orders by their copy of the deadline key, which the inbox index holds after the
        // area (migration 0013); the planner reads that index in order and stops at the
        // page's end.
        qb.push(
            " FROM tickets JOIN (SELECT subdistrict_code AS a_subdistrict_code, \
             ticket_id AS a_ticket_id, due_at AS a_due_at, created_at AS a_created_at \
             FROM ticket_assignees WHERE TRUE",
        );
        let codes = query.assignee_area_codes.iter().map(AreaCode::as_str);
        Self::push_any_of(qb, "assignee_area_code", codes);
        qb.push(
            ") AS a ON a.a_subdistrict_code = tickets.subdistrict_code \
             AND a.a_ticket_id = tickets.id",
        );
        TicketFrom {
            due_key: if open_only {
                ["a.a_due_at", "a.a_created_at", "a.a_ticket_id"].map(str::to_owned)
            } else {
                own_key()
            },
            areas_filtered: true,
        }
    }

    fn push_overdue(
        qb: &mut QueryBuilder<Postgres>,
        query: &TicketQuery,
        from: &TicketFrom,
        at: OffsetDateTime,
    ) {
        if from.areas_filtered {
            // The joined assignee rows carry the deadline key.
            qb.push(" AND a.a_due_at < ").push_bind(at);
            return;
        }
        // The overdue tickets from the deadline index of `ticket_assignees` (migration
        // 0018), a range of a few entries, instead of the heap row of every open ticket
        // (the due times are in no index of `tickets`, so that escalations stay HOT).
        // As an array, not a join: the planner then probes `tickets` by id for those few
        // (about 2 ms for 500 of 55,000 open), where for a join or IN it preferred to hash
        // every open ticket of the subdistrict (16 ms). Ids are unique across
        // subdistricts, and the subquery reads the same subdistricts as the query.
        qb.push(
            " AND id = ANY(ARRAY(SELECT ticket_id FROM ticket_assignees \
             WHERE due_at < ",
        )
        .push_bind(at);
        if !query.subdistrict_codes.is_empty() {
            let codes = query.subdistrict_codes.iter().map(AreaCode::as_str);
            Self::push_any_of(qb, "subdistrict_code", codes);
        }
        qb.push("))");
    }

    fn push_bbox_index(qb: &mut QueryBuilder<Postgres>, b: &BBox) {
        // The GiST expression index narrows; the exact comparisons decide.
        qb.push(
            " AND ST_MakeEnvelope(min_lng, min_lat, max_lng, max_lat, 4326) && ST_MakeEnvelope(",
        )
        .push_bind(b.min_lng)
        .push(", ")
        .push_bind(b.min_lat)
        .push(", ")
        .push_bind(b.max_lng)
        .push(", ")
        .push_bind(b.max_lat)
        .push(", 4326)");
    }
}
