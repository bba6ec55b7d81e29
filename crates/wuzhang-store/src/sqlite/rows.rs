//! Rows ↔ domain values on SQLite: the decoders (shared with Postgres through
//! [`crate::codec`]; times are microseconds since the epoch and ids UUID text here), the
//! binders in column order, and the INSERT statements of a new ticket's rows.

use std::sync::LazyLock;

use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{QueryBuilder, Row, Sqlite};
use time::OffsetDateTime;
use uuid::Uuid;
use wuzhang_domain::area::BBox;
use wuzhang_domain::category::Category;
use wuzhang_domain::chief::{Person, Post};
use wuzhang_domain::event::TicketEvent;
use wuzhang_domain::ticket::{Pause, Ticket};
use wuzhang_domain::timer::Timer;

use super::json_list;
use crate::codec::{
    self, AreaColumns, CategoryColumns, EventColumns, PostColumns, TICKET_COLUMNS, TicketColumns,
    from_micros, parse_uuid, to_micros, uuid_text,
};
use crate::error::Result;
use crate::model::{AreaRecord, IdempotencyRecord, TicketGrouping, TicketQuery};
use crate::query::{Dialect, OPEN_STATES, TicketFrom};
use crate::token::NO_DEADLINE_MICROS;

type SqliteQuery<'q> = sqlx::query::Query<'q, Sqlite, SqliteArguments>;

fn numbered(n: usize) -> String {
    format!("?{n}")
}

pub(super) static TICKET_SELECT: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {} FROM tickets", TICKET_COLUMNS.join(", ")));
pub(super) static TICKET_BY_ID: LazyLock<String> =
    LazyLock::new(|| format!("{} WHERE id = ?1", *TICKET_SELECT));
pub(super) static TICKET_BY_KEY: LazyLock<String> =
    LazyLock::new(|| format!("{} WHERE subdistrict_code = ?1 AND id = ?2", *TICKET_SELECT));
pub(super) static TICKET_INSERT: LazyLock<String> =
    LazyLock::new(|| codec::ticket_insert_sql(numbered));
pub(super) static TICKET_UPDATE: LazyLock<String> =
    LazyLock::new(|| codec::ticket_update_sql(numbered));

// The same column decoding on both backends; only the row type differs.
crate::codec::row_decoders!(SqliteRow);
crate::codec::ticket_binder!(SqliteQuery, to_micros, uuid_text);

fn time_col(row: &SqliteRow, column: &'static str) -> Result<OffsetDateTime> {
    from_micros(column, row.try_get(column)?)
}

fn time_opt(row: &SqliteRow, column: &'static str) -> Result<Option<OffsetDateTime>> {
    row.try_get::<Option<i64>, _>(column)?
        .map(|m| from_micros(column, m))
        .transpose()
}

fn uuid_col(row: &SqliteRow, column: &'static str) -> Result<Uuid> {
    parse_uuid(column, &row.try_get::<String, _>(column)?)
}

fn uuid_opt(row: &SqliteRow, column: &'static str) -> Result<Option<Uuid>> {
    row.try_get::<Option<String>, _>(column)?
        .map(|u| parse_uuid(column, &u))
        .transpose()
}

pub(super) fn timer(row: &SqliteRow) -> Result<Timer> {
    let kind: String = row.try_get("kind")?;
    let level: String = row.try_get("level")?;
    codec::timer(
        uuid_col(row, "ticket_id")?,
        row.try_get("subdistrict_code")?,
        &kind,
        time_col(row, "due_at")?,
        &level,
    )
}

/// The column lists of the rows a new ticket brings, for single- and multi-row INSERTs
/// ([`values_rows`]); the `bind_*` functions below bind one row in the same order.
pub(super) const IDEMPOTENCY_INSERT: &str =
    "INSERT INTO idempotency (scope, request_id, request_hash, response, created_at)";
pub(super) const TIMER_INSERT: &str =
    "INSERT INTO timers (subdistrict_code, ticket_id, kind, due_at, level)";
pub(super) const EVENT_INSERT: &str = "INSERT INTO ticket_events (subdistrict_code, ticket_id, seq, kind, \
     actor, from_state, to_state, level, assignee_person_id, note, at, accept_due_at, \
     resolve_due_at, rating_stars, rating_not_solved, assignee_org_code)";

/// ` VALUES (?, …), …`: `rows` rows of `columns` placeholders each, bound in order.
pub(super) fn values_rows(columns: usize, rows: usize) -> String {
    let row = format!("({})", vec!["?"; columns].join(", "));
    format!(" VALUES {}", vec![row; rows].join(", "))
}

pub(super) static IDEMPOTENCY_INSERT_ONE: LazyLock<String> =
    LazyLock::new(|| format!("{IDEMPOTENCY_INSERT}{}", values_rows(5, 1)));
pub(super) static TIMER_INSERT_ONE: LazyLock<String> =
    LazyLock::new(|| format!("{TIMER_INSERT}{}", values_rows(5, 1)));
pub(super) static EVENT_INSERT_ONE: LazyLock<String> =
    LazyLock::new(|| format!("{EVENT_INSERT}{}", values_rows(16, 1)));

pub(super) fn bind_idempotency<'q>(
    q: SqliteQuery<'q>,
    r: &'q IdempotencyRecord,
) -> SqliteQuery<'q> {
    q.bind(&r.scope)
        .bind(&r.request_id)
        .bind(&r.request_hash)
        .bind(&r.response)
        .bind(to_micros(r.created_at))
}

pub(super) fn bind_timer<'q>(q: SqliteQuery<'q>, t: &'q Timer) -> SqliteQuery<'q> {
    q.bind(t.subdistrict_code.as_str())
        .bind(uuid_text(t.ticket_id.as_uuid()))
        .bind(t.kind.as_str())
        .bind(to_micros(t.due_at))
        .bind(t.level.as_str())
}

pub(super) fn bind_event<'q>(q: SqliteQuery<'q>, e: &'q EventColumns) -> SqliteQuery<'q> {
    q.bind(&e.subdistrict_code)
        .bind(uuid_text(e.ticket_id))
        .bind(e.seq)
        .bind(&e.kind)
        .bind(&e.actor)
        .bind(&e.from_state)
        .bind(&e.to_state)
        .bind(&e.level)
        .bind(&e.assignee_person_id)
        .bind(&e.note)
        .bind(to_micros(e.at))
        .bind(e.accept_due_at.map(to_micros))
        .bind(e.resolve_due_at.map(to_micros))
        .bind(e.rating_stars)
        .bind(e.rating_not_solved)
        .bind(&e.assignee_org_code)
}

/// SQLite's side of the shared queries ([`crate::query`]): list parameters as JSON
/// arrays read with `json_each`, times as microseconds, ids as UUID text.
/// The deadline key of the inbox and overdue indexes (migration 0015, spelled as there:
/// SQLite matches an indexed expression only as written): the ticket's nearest deadline
/// as [`Dialect::due`] sorts it while it is open, NULL once it is not.
fn inbox_due() -> String {
    format!(
        "(CASE WHEN state IN {OPEN_STATES} THEN {} END)",
        nearest_due()
    )
}

/// The nearest deadline, or the no-deadline sentinel: SQLite's `min` of several arguments
/// is NULL if any is, so each stands in as the sentinel.
fn nearest_due() -> String {
    format!(
        "min(COALESCE(accept_due_at, {NO_DEADLINE_MICROS}), \
         COALESCE(resolve_due_at, {NO_DEADLINE_MICROS}))"
    )
}

impl Dialect for Sqlite {
    type Time = i64;
    type Id = String;

    const ALL_ROWS: &'static str = "1";
    const REPEAT_OPEN_STATES: bool = true;

    fn time(t: OffsetDateTime) -> i64 {
        to_micros(t)
    }

    fn page_time(micros: i64) -> Result<i64> {
        Ok(micros)
    }

    fn id(id: Uuid) -> String {
        uuid_text(id)
    }

    fn due() -> String {
        nearest_due()
    }

    fn push_any_of<'a>(
        qb: &mut QueryBuilder<Sqlite>,
        column: &str,
        values: impl IntoIterator<Item = &'a str>,
    ) {
        let values: Vec<&str> = values.into_iter().collect();
        // One value as an equality: an index led by the column then gives the rest of the
        // order, which SQLite does not see through `IN (SELECT … json_each)`.
        if let [one] = values.as_slice() {
            qb.push(format!(" AND {column} = "))
                .push_bind((*one).to_owned());
        } else {
            qb.push(format!(" AND {column} IN (SELECT value FROM json_each("))
                .push_bind(json_list(values))
                .push("))");
        }
    }

    fn push_assignee_person(qb: &mut QueryBuilder<Sqlite>, person: String) {
        qb.push(" AND assignee_person_id = ").push_bind(person);
    }

    fn push_tickets_from(
        qb: &mut QueryBuilder<Sqlite>,
        query: &TicketQuery,
        open_only: bool,
    ) -> TicketFrom {
        qb.push(" FROM tickets");
        // The open tickets under a supervision order, or asking for a pause, are a handful
        // in a partial index (migration 0010); SQLite weighs a partial index as if it held
        // every row (an empty one has no statistics at all), so it read the subdistrict's
        // open tickets through the state index and tested each: 3.3 ms per count at
        // 15,600 open, a fifth of the overview. The query has the index's predicate term
        // for term (the open states, `supervision IS NOT NULL` / `pause = 'requested'`),
        // so the index always serves it.
        if open_only && query.supervised_only {
            qb.push(" INDEXED BY tickets_supervised_open_idx");
        } else if open_only && query.pause == Some(Pause::Requested) {
            qb.push(" INDEXED BY tickets_pause_requested_idx");
        }
        // An open-only query orders by the inbox index's deadline key (migration 0015),
        // the ticket's deadline while it is open: the same order, through the index.
        let due = if open_only { inbox_due() } else { Self::due() };
        TicketFrom {
            due_key: [due, "created_at".to_owned(), "id".to_owned()],
            areas_filtered: false,
        }
    }

    fn push_overdue(
        qb: &mut QueryBuilder<Sqlite>,
        _query: &TicketQuery,
        _from: &TicketFrom,
        at: OffsetDateTime,
    ) {
        // The deadline key as indexed by subdistrict (migration 0015); NULL, so never
        // less, for a ticket that is not open.
        qb.push(format!(" AND {} < ", inbox_due()))
            .push_bind(to_micros(at));
    }

    fn group_key(by: TicketGrouping, open_only: bool) -> String {
        // Grouping by the bare column, SQLite reads an index led by (subdistrict, column)
        // in order to skip sorting the groups: for the overview's open tickets per grid
        // that is every ticket of the subdistrict's history (500,677 entries for 27,911
        // open; GetOverview p95 93 ms at 1M tickets). An expression of it is in no index
        // order, so the planner takes the open-ticket index and sorts the few groups.
        if open_only {
            format!("{} || ''", by.column())
        } else {
            by.column().to_owned()
        }
    }

    fn push_bbox_index(_qb: &mut QueryBuilder<Sqlite>, _bbox: &BBox) {
        // No spatial index: the bbox columns are all there is to compare.
    }
}
