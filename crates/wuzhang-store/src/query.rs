//! The list and count queries both backends build alike, generic over the sqlx database:
//! ticket filters and keyset pages, ticket and event counts, area and category pages. The
//! SQL is the same but for what a backend's [`Dialect`] tells apart (how a list parameter
//! is matched, how times and ids are bound, where a ticket's assignment is looked up), so
//! a filter is added in one place and means the same on both. The queries are provided
//! methods of the trait, where its bounds hold; each returns the builder, which the
//! backend runs and whose rows it decodes.

use sqlx::{Database, Encode, QueryBuilder, Type};
use time::OffsetDateTime;
use uuid::Uuid;
use wuzhang_domain::area::{AreaCode, BBox};
use wuzhang_domain::event::EventKind;
use wuzhang_domain::organization::OrganizationCode;
use wuzhang_domain::ticket::TicketState;

use crate::codec::{CategoryColumns, TICKET_COLUMNS};
use crate::error::{Result, StoreError};
use crate::model::{
    AreaQuery, PageRequest, TicketGrouping, TicketOrder, TicketQuery, TicketStatement,
};
use crate::token::PageKey;

const AREA_COLUMNS: &str =
    "code, name, level, parent_code, community, min_lng, min_lat, max_lng, max_lat";
/// Also the order [`Dialect::upsert_category`] binds them in.
const CATEGORY_COLUMNS: &str = "code, name, parent_code, kind, start_level, accept_within_s, \
     resolve_within_s, deadline_kind, urgent, calendar_code, duplicate_radius_m, \
     duplicate_window_s, active, reopen_on_not_solved, organization_type";

/// The open states as an SQL list: the predicate of the open-only partial indexes
/// (migrations postgres/0013, sqlite/0010). A query asking only for open tickets contains
/// `state IN {OPEN_STATES}` term for term, which is what lets either planner use those
/// indexes whatever the bound parameters are (SQLite matches the term as written).
pub(crate) const OPEN_STATES: &str = "('submitted', 'assigned', 'accepted')";

/// The reopen queue as an SQL condition: the predicate of the partial index
/// `tickets_reopen_requested_idx` (migrations postgres/0015, sqlite/0012), term for term,
/// so that SQLite uses it (and Postgres proves it) whatever else is asked. Only RESOLVED
/// and CLOSED tickets carry a rating (the domain's invariant, `Ticket::check_invariants`,
/// and a reopen clears it), so the states need no term of their own: one would let SQLite
/// prefer the state index and read the subdistrict's whole resolved history.
pub(crate) const REOPEN_REQUESTED: &str = "rating_not_solved = TRUE";

/// What [`Dialect::push_tickets_from`] joined: the deadline order's key and whether the
/// assignee areas are filtered already.
pub(crate) struct TicketFrom {
    /// The deadline, the creation time and the id of a row, as the deadline order and its
    /// page key compare them (the same values as the ticket's own, maybe kept elsewhere).
    pub(crate) due_key: [String; 3],
    /// The FROM clause already keeps only the tickets of `query.assignee_area_codes`.
    pub(crate) areas_filtered: bool,
}

/// Only open tickets match `query`: the open-only indexes may serve it.
pub(crate) fn open_only(query: &TicketQuery) -> bool {
    query.overdue_at.is_some()
        || (!query.states.is_empty() && query.states.iter().all(|s| s.is_open()))
}

/// What a backend's SQL does its own way, and (provided, not to be overridden) the
/// queries built from it. The bounds say what every backend binds alike.
pub(crate) trait Dialect: Database + Sized
where
    String: for<'t> Encode<'t, Self> + Type<Self>,
    &'static str: for<'t> Encode<'t, Self> + Type<Self>,
    f64: for<'t> Encode<'t, Self> + Type<Self>,
    i64: for<'t> Encode<'t, Self> + Type<Self>,
    bool: for<'t> Encode<'t, Self> + Type<Self>,
    Option<String>: for<'t> Encode<'t, Self> + Type<Self>,
{
    /// A time as bound (microseconds on SQLite, `timestamptz` on Postgres).
    type Time: for<'t> Encode<'t, Self> + Type<Self> + Copy;
    /// A ticket id as bound (UUID text on SQLite, `uuid` on Postgres).
    type Id: for<'t> Encode<'t, Self> + Type<Self>;

    /// A condition true of every row, for a WHERE clause the filters extend with ` AND …`.
    const ALL_ROWS: &'static str;

    /// Whether a query for some open states repeats the open-only indexes' predicate
    /// besides naming its states: SQLite uses a partial index only for a query that has
    /// its predicate as a term; Postgres proves it from the states and would count the
    /// repetition as a second filter in its estimates.
    const REPEAT_OPEN_STATES: bool;

    fn time(t: OffsetDateTime) -> Self::Time;

    /// A time from a page token (microseconds since the epoch).
    fn page_time(micros: i64) -> Result<Self::Time>;

    fn id(id: Uuid) -> Self::Id;

    /// A ticket's nearest deadline, with tickets that have none sorting last.
    fn due() -> String;

    /// ` AND {column}` is one of `values`.
    fn push_any_of<'a>(
        qb: &mut QueryBuilder<Self>,
        column: &str,
        values: impl IntoIterator<Item = &'a str>,
    );

    /// ` AND` the ticket is assigned to `person`.
    fn push_assignee_person(qb: &mut QueryBuilder<Self>, person: String);

    /// ` FROM` the tickets `query` reads, with whatever the backend joins to filter the
    /// assignee areas or to order by deadline through an index. `open_only` is
    /// [`open_only`]`(query)`.
    fn push_tickets_from(
        qb: &mut QueryBuilder<Self>,
        query: &TicketQuery,
        open_only: bool,
    ) -> TicketFrom;

    /// ` AND` the ticket's nearest deadline ([`Dialect::due`]) is before `at`: with the
    /// open-states term the query has (an overdue query is [`open_only`]), the overdue
    /// test, through an index of the deadline key. `from` is what
    /// [`Dialect::push_tickets_from`] joined for `query`.
    fn push_overdue(
        qb: &mut QueryBuilder<Self>,
        query: &TicketQuery,
        from: &TicketFrom,
        at: OffsetDateTime,
    );

    /// What a count of the tickets matching `query` groups by for `by` (the column, or an
    /// expression of it that steers the planner); `open_only` is [`open_only`]`(query)`.
    fn group_key(by: TicketGrouping, open_only: bool) -> String {
        let _ = open_only;
        by.column().to_owned()
    }

    /// Before the exact bbox comparisons of an area list: a condition an index can use.
    fn push_bbox_index(qb: &mut QueryBuilder<Self>, bbox: &BBox);

    // ---------------------------------------- the queries, the same for every backend

    /// `{prefix}SELECT {what}` from the tickets matching `query`: the FROM and WHERE
    /// clauses every ticket query shares. Returns the deadline order's key too.
    fn select_tickets(
        prefix: &str,
        what: &str,
        query: &TicketQuery,
    ) -> (QueryBuilder<Self>, [String; 3]) {
        let open_only = open_only(query);
        let mut qb = QueryBuilder::<Self>::new(format!("{prefix}SELECT {what}"));
        let from = Self::push_tickets_from(&mut qb, query, open_only);
        qb.push(format!(" WHERE {}", Self::ALL_ROWS));
        if open_only && !query.assignee_area_codes.is_empty() {
            // An inbox: its deadline key, where kept for the inbox index, is NULL for the
            // tickets that are not open, so this bounds the index range to the open ones.
            qb.push(format!(" AND {} IS NOT NULL", from.due_key[0]));
        }
        Self::push_ticket_filters(&mut qb, query, open_only, &from);
        (qb, from.due_key)
    }

    /// The tickets matching `query`, in its order, one page after `page`'s token (one row
    /// more than the page, to tell whether another follows). Returns the page size too.
    fn list_tickets(query: &TicketQuery, page: &PageRequest) -> Result<(QueryBuilder<Self>, u32)> {
        Self::list_tickets_with("", query, page)
    }

    /// [`list_tickets`](Self::list_tickets) after `prefix` (an EXPLAIN).
    fn list_tickets_with(
        prefix: &str,
        query: &TicketQuery,
        page: &PageRequest,
    ) -> Result<(QueryBuilder<Self>, u32)> {
        let after = PageKey::decode(page.token.as_deref(), |k| match query.order {
            TicketOrder::NewestFirst => matches!(k, PageKey::TicketNewest { .. }),
            TicketOrder::DueSoonest => matches!(k, PageKey::TicketDue { .. }),
        })?;
        let size = page.effective_size();
        let (mut qb, [due, created_at, id]) =
            Self::select_tickets(prefix, &TICKET_COLUMNS.join(", "), query);
        // The page keys as row values, which both planners turn into an index range.
        match after {
            Some(PageKey::TicketNewest { created, id }) => {
                let created = Self::page_time(created)?;
                qb.push(" AND (created_at, id) < (")
                    .push_bind(created)
                    .push(", ")
                    .push_bind(Self::id(id))
                    .push(")");
            }
            Some(PageKey::TicketDue {
                due: d,
                created,
                id: after_id,
            }) => {
                let (d, created) = (Self::page_time(d)?, Self::page_time(created)?);
                qb.push(format!(" AND ({due}, {created_at}, {id}) > ("))
                    .push_bind(d)
                    .push(", ")
                    .push_bind(created)
                    .push(", ")
                    .push_bind(Self::id(after_id))
                    .push(")");
            }
            _ => {}
        }
        match query.order {
            TicketOrder::NewestFirst => qb.push(" ORDER BY created_at DESC, id DESC"),
            TicketOrder::DueSoonest => qb.push(format!(" ORDER BY {due}, {created_at}, {id}")),
        };
        qb.push(" LIMIT ").push_bind(i64::from(size) + 1);
        Ok((qb, size))
    }

    /// How many tickets match `query`.
    fn count_tickets(query: &TicketQuery) -> QueryBuilder<Self> {
        Self::select_tickets("", "COUNT(*)", query).0
    }

    /// How many tickets match `query`, up to `cap + 1`: the count reads no more rows.
    fn count_tickets_capped(prefix: &str, query: &TicketQuery, cap: u64) -> QueryBuilder<Self> {
        let (mut qb, _) =
            Self::select_tickets(&format!("{prefix}SELECT COUNT(*) FROM ("), "1", query);
        qb.push(" LIMIT ")
            .push_bind(i64::try_from(cap.saturating_add(1)).unwrap_or(i64::MAX))
            .push(") AS capped");
        qb
    }

    /// The rows matching `query`, after `prefix` (an EXPLAIN, whose estimate of the rows
    /// is the estimate of a count beyond its cap).
    fn select_ticket_rows(prefix: &str, query: &TicketQuery) -> QueryBuilder<Self> {
        Self::select_tickets(prefix, "1", query).0
    }

    /// How many tickets match `query` per key of `by`: rows of (key, count), ordered by key.
    fn count_tickets_by(query: &TicketQuery, by: TicketGrouping) -> QueryBuilder<Self> {
        Self::count_tickets_by_with("", query, by)
    }

    /// [`count_tickets_by`](Self::count_tickets_by) after `prefix` (an EXPLAIN).
    fn count_tickets_by_with(
        prefix: &str,
        query: &TicketQuery,
        by: TicketGrouping,
    ) -> QueryBuilder<Self> {
        let key = Self::group_key(by, open_only(query));
        let (mut qb, _) = Self::select_tickets(prefix, &format!("{key}, COUNT(*)"), query);
        qb.push(" GROUP BY 1 ORDER BY 1");
        qb
    }

    /// The statement the store runs for `statement` on `query`, after `prefix` (an
    /// EXPLAIN): what the plan tests look at.
    fn ticket_statement(
        prefix: &str,
        query: &TicketQuery,
        statement: &TicketStatement,
    ) -> Result<QueryBuilder<Self>> {
        Ok(match statement {
            TicketStatement::List(page) => Self::list_tickets_with(prefix, query, page)?.0,
            TicketStatement::Count => Self::select_tickets(prefix, "COUNT(*)", query).0,
            TicketStatement::CountCapped(cap) => Self::count_tickets_capped(prefix, query, *cap),
            TicketStatement::CountBy(by) => Self::count_tickets_by_with(prefix, query, *by),
        })
    }

    /// How many events of `kinds` (all if empty) in `subdistrict_codes` (all if empty)
    /// happened at or after `since`.
    fn count_events(
        subdistrict_codes: &[AreaCode],
        kinds: &[EventKind],
        since: OffsetDateTime,
    ) -> QueryBuilder<Self> {
        let mut qb = QueryBuilder::<Self>::new("SELECT COUNT(*) FROM ticket_events WHERE at >= ");
        qb.push_bind(Self::time(since));
        if !subdistrict_codes.is_empty() {
            Self::push_any_of(
                &mut qb,
                "subdistrict_code",
                subdistrict_codes.iter().map(AreaCode::as_str),
            );
        }
        if !kinds.is_empty() {
            Self::push_any_of(&mut qb, "kind", kinds.iter().map(|k| k.as_str()));
        }
        qb
    }

    /// Appends `query`'s filters (each ` AND …`) to a ticket query that ends in a WHERE
    /// clause after `from`: all but the assignee areas if the FROM clause did those.
    /// `open_only` is [`open_only`]`(query)`.
    fn push_ticket_filters(
        qb: &mut QueryBuilder<Self>,
        query: &TicketQuery,
        open_only: bool,
        from: &TicketFrom,
    ) {
        if !query.subdistrict_codes.is_empty() {
            let codes = query.subdistrict_codes.iter().map(AreaCode::as_str);
            Self::push_any_of(qb, "subdistrict_code", codes);
        }
        if let Some(r) = &query.reporter_id {
            qb.push(" AND reporter_id = ").push_bind(r.clone());
        }
        if let Some(p) = &query.assignee_person_id {
            Self::push_assignee_person(qb, p.as_str().to_owned());
        }
        if !query.assignee_area_codes.is_empty() && !from.areas_filtered {
            let codes = query.assignee_area_codes.iter().map(AreaCode::as_str);
            Self::push_any_of(qb, "assignee_area_code", codes);
        }
        if !query.assignee_org_codes.is_empty() {
            let codes = query
                .assignee_org_codes
                .iter()
                .map(OrganizationCode::as_str);
            Self::push_any_of(qb, "assignee_org_code", codes);
        }
        // The states written out (fixed names), so that a planner can tell from the text
        // alone that only open tickets are asked for, whatever the plan's parameters.
        let every_open = TicketState::ALL
            .into_iter()
            .filter(|s| s.is_open())
            .all(|s| query.states.contains(&s));
        if open_only && (query.states.is_empty() || every_open || Self::REPEAT_OPEN_STATES) {
            // The open-only indexes' predicate, as written there (see OPEN_STATES).
            qb.push(format!(" AND state IN {OPEN_STATES}"));
        }
        let said = open_only && every_open;
        if !query.states.is_empty() && !said {
            let states: Vec<String> = query
                .states
                .iter()
                .map(|s| format!("'{}'", s.as_str()))
                .collect();
            qb.push(format!(" AND state IN ({})", states.join(", ")));
        }
        if let Some(level) = query.level {
            qb.push(" AND level = ").push_bind(level.as_str());
        }
        if let Some(grid) = &query.grid_code {
            qb.push(" AND grid_code = ")
                .push_bind(grid.as_str().to_owned());
        }
        if let Some(c) = &query.category_code {
            qb.push(" AND category_code = ")
                .push_bind(c.as_str().to_owned());
        }
        if let Some(at) = query.overdue_at {
            // Open only: said above.
            Self::push_overdue(qb, query, from, at);
        }
        if let Some(from) = query.created_from {
            qb.push(" AND created_at >= ").push_bind(Self::time(from));
        }
        if let Some(before) = query.created_before {
            qb.push(" AND created_at < ").push_bind(Self::time(before));
        }
        if let Some(pause) = query.pause {
            // Written out, a fixed name, for the pause-request index's predicate to match.
            qb.push(format!(" AND pause = '{}'", pause.as_str()));
        }
        if query.urgent_only {
            qb.push(" AND urgent = ").push_bind(true);
        }
        if query.supervised_only {
            qb.push(" AND supervision IS NOT NULL");
        }
        if query.reopen_requested {
            qb.push(format!(" AND {REOPEN_REQUESTED}"));
        }
        if let Some(b) = &query.within {
            qb.push(" AND lat >= ")
                .push_bind(b.min_lat)
                .push(" AND lat <= ")
                .push_bind(b.max_lat)
                .push(" AND lng >= ")
                .push_bind(b.min_lng)
                .push(" AND lng <= ")
                .push_bind(b.max_lng);
        }
    }

    /// The areas matching `query`, by code, one page after `page`'s
    /// token. Returns the page size too. Invalid (field of the bbox) if the bbox is.
    fn list_areas(query: &AreaQuery, page: &PageRequest) -> Result<(QueryBuilder<Self>, u32)> {
        let after = PageKey::decode(page.token.as_deref(), |k| matches!(k, PageKey::Area { .. }))?;
        let qb = Self::select_areas("", AREA_COLUMNS, query)?;
        let code = match after {
            Some(PageKey::Area { code }) => Some(code),
            _ => None,
        };
        Ok(Self::by_code_after(qb, code, page))
    }

    /// How many areas match `query`, up to `cap + 1`: the count reads no more rows.
    /// Invalid (field of the bbox) if the bbox is.
    fn count_areas_capped(query: &AreaQuery, cap: u64) -> Result<QueryBuilder<Self>> {
        let mut qb = Self::select_areas("SELECT COUNT(*) FROM (", "1", query)?;
        qb.push(" LIMIT ")
            .push_bind(i64::try_from(cap.saturating_add(1)).unwrap_or(i64::MAX))
            .push(") AS capped");
        Ok(qb)
    }

    /// `{prefix}SELECT {what}` from the areas matching `query`: the FROM and WHERE clauses
    /// an area listing and its count share.
    fn select_areas(prefix: &str, what: &str, query: &AreaQuery) -> Result<QueryBuilder<Self>> {
        let mut qb = QueryBuilder::<Self>::new(format!(
            "{prefix}SELECT {what} FROM areas WHERE {}",
            Self::ALL_ROWS
        ));
        if let Some(parent) = &query.parent_code {
            qb.push(" AND parent_code = ")
                .push_bind(parent.as_str().to_owned());
        }
        if let Some(level) = query.level {
            qb.push(" AND level = ").push_bind(level.as_str());
        }
        if let Some(b) = &query.bbox {
            b.validate()
                .map_err(|e| StoreError::invalid(e.field, e.reason))?;
            Self::push_bbox_index(&mut qb, b);
            qb.push(" AND min_lng <= ").push_bind(b.max_lng);
            qb.push(" AND max_lng >= ").push_bind(b.min_lng);
            qb.push(" AND min_lat <= ").push_bind(b.max_lat);
            qb.push(" AND max_lat >= ").push_bind(b.min_lat);
        }
        Ok(qb)
    }

    /// The categories, by code, one page after `page`'s token. Returns
    /// the page size too.
    fn list_categories(page: &PageRequest) -> Result<(QueryBuilder<Self>, u32)> {
        let after = PageKey::decode(page.token.as_deref(), |k| {
            matches!(k, PageKey::Category { .. })
        })?;
        let qb = QueryBuilder::<Self>::new(format!(
            "SELECT {CATEGORY_COLUMNS} FROM categories WHERE {}",
            Self::ALL_ROWS
        ));
        let code = match after {
            Some(PageKey::Category { code }) => Some(code),
            _ => None,
        };
        Ok(Self::by_code_after(qb, code, page))
    }

    /// Ends a query of rows keyed by code with the page after `after`, one row more than the
    /// page (to tell whether another follows). Returns the page size too.
    /// Inserts or replaces a category by code.
    fn upsert_category(c: CategoryColumns) -> QueryBuilder<Self> {
        let mut qb = QueryBuilder::<Self>::new(format!(
            "INSERT INTO categories ({CATEGORY_COLUMNS}) VALUES ("
        ));
        qb.separated(", ")
            .push_bind(c.code)
            .push_bind(c.name)
            .push_bind(c.parent_code)
            .push_bind(c.kind)
            .push_bind(c.start_level)
            .push_bind(c.accept_within_s)
            .push_bind(c.resolve_within_s)
            .push_bind(c.deadline_kind)
            .push_bind(c.urgent)
            .push_bind(c.calendar_code)
            .push_bind(c.duplicate_radius_m)
            .push_bind(c.duplicate_window_s)
            .push_bind(c.active)
            .push_bind(c.reopen_on_not_solved)
            .push_bind(c.organization_type);
        qb.push(
            ") ON CONFLICT (code) DO UPDATE SET name = excluded.name, \
             parent_code = excluded.parent_code, kind = excluded.kind, \
             start_level = excluded.start_level, accept_within_s = excluded.accept_within_s, \
             resolve_within_s = excluded.resolve_within_s, \
             deadline_kind = excluded.deadline_kind, urgent = excluded.urgent, \
             calendar_code = excluded.calendar_code, \
             duplicate_radius_m = excluded.duplicate_radius_m, \
             duplicate_window_s = excluded.duplicate_window_s, active = excluded.active, \
             reopen_on_not_solved = excluded.reopen_on_not_solved, \
             organization_type = excluded.organization_type",
        );
        qb
    }

    fn by_code_after(
        mut qb: QueryBuilder<Self>,
        after: Option<String>,
        page: &PageRequest,
    ) -> (QueryBuilder<Self>, u32) {
        let size = page.effective_size();
        if let Some(code) = after {
            qb.push(" AND code > ").push_bind(code);
        }
        qb.push(" ORDER BY code LIMIT ")
            .push_bind(i64::from(size) + 1);
        (qb, size)
    }
}

#[cfg(test)]
mod tests {
    use wuzhang_domain::ticket::TicketState;

    use super::{OPEN_STATES, REOPEN_REQUESTED};

    #[test]
    fn open_states_are_the_domains() {
        let open: Vec<String> = TicketState::ALL
            .into_iter()
            .filter(|s| s.is_open())
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        assert_eq!(OPEN_STATES, format!("({})", open.join(", ")));
    }

    #[test]
    fn reopen_queue_is_spelled_as_its_index() {
        for migration in [
            include_str!("../migrations/postgres/0015_reopen_queue.sql"),
            include_str!("../migrations/sqlite/0012_reopen_queue.sql"),
        ] {
            assert!(
                migration.contains(&format!("WHERE {REOPEN_REQUESTED};")),
                "{migration}"
            );
        }
    }
}
