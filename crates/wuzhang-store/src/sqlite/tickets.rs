//! [`TicketStore`] on SQLite: reading, listing and counting tickets, and writing changes
//! ([`write_change`], shared with the timer worker). New tickets go through the group
//! commit ([`super::batch`]), the event feed through [`super::feed`].

use async_trait::async_trait;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
use time::OffsetDateTime;
use wuzhang_domain::area::AreaCode;
use wuzhang_domain::event::{EventKind, TicketEvent};
use wuzhang_domain::ticket::{Ticket, TicketId, TicketState};

use super::idempotency::insert_idempotency;
use super::rows::{
    EVENT_INSERT_ONE, TICKET_BY_ID, TICKET_SELECT, TICKET_UPDATE, bind_event, bind_ticket, event,
    ticket,
};
use super::timers::insert_timers;
use super::{SqliteStore, feed, json_list};
use crate::codec::{EventColumns, TicketColumns, normalize_ticket, to_micros, uuid_text};
use crate::error::{Result, StoreError};
use crate::interface::TicketStore;
use crate::model::{
    LoggedEvent, NewTicket, Page, PageRequest, TicketChange, TicketGrouping, TicketOrder,
    TicketQuery,
};
use crate::token::{NO_DEADLINE_MICROS, PageKey, into_page, ticket_key};
use crate::validate;

/// Appends events (their seqs already given). The write lock already orders cursors by
/// commit, so unlike Postgres nothing more is needed.
pub(super) async fn append_events(
    conn: &mut SqliteConnection,
    events: &[EventColumns],
) -> Result<()> {
    for e in events {
        bind_event(sqlx::query(EVENT_INSERT_ONE.as_str()), e)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Writes a changed ticket (already normalised and checked) if the stored version is
/// `expected_version`, its timers and idempotency record, and numbers its events after
/// the ticket's last. Returns the events to append.
pub(super) async fn write_change(
    conn: &mut SqliteConnection,
    ticket: &Ticket,
    change: &TicketChange,
    expected_version: i64,
) -> Result<Vec<EventColumns>> {
    let id = uuid_text(ticket.id.as_uuid());
    let sub = ticket.subdistrict_code.as_str();
    let updated = bind_ticket(
        sqlx::query(TICKET_UPDATE.as_str()),
        TicketColumns::new(ticket)?,
    )
    .bind(expected_version)
    .execute(&mut *conn)
    .await?;
    if updated.rows_affected() == 0 {
        let current: Option<(String, i64)> =
            sqlx::query_as("SELECT subdistrict_code, version FROM tickets WHERE id = ?1")
                .bind(&id)
                .fetch_optional(&mut *conn)
                .await?;
        return Err(validate::change_refused(ticket, current));
    }
    if let Some(timers) = &change.timers {
        sqlx::query("DELETE FROM timers WHERE subdistrict_code = ?1 AND ticket_id = ?2")
            .bind(sub)
            .bind(&id)
            .execute(&mut *conn)
            .await?;
        insert_timers(conn, timers).await?;
    }
    if let Some(r) = &change.idempotency {
        insert_idempotency(conn, r).await?;
    }
    if let Some(follower) = &change.add_follower {
        sqlx::query(
            "INSERT INTO ticket_followers (subdistrict_code, ticket_id, follower_id) \
             VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
        )
        .bind(sub)
        .bind(&id)
        .bind(follower)
        .execute(&mut *conn)
        .await?;
    }
    let last: i64 = sqlx::query_scalar(
        "SELECT COALESCE(MAX(seq), 0) FROM ticket_events \
         WHERE subdistrict_code = ?1 AND ticket_id = ?2",
    )
    .bind(sub)
    .bind(&id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(EventColumns::numbered(ticket, &change.events, last).collect())
}

/// Appends `query`'s filters (each ` AND …`) to a ticket query that ends in a WHERE clause.
fn push_ticket_filters(qb: &mut QueryBuilder<Sqlite>, query: &TicketQuery) {
    let any_of = |qb: &mut QueryBuilder<Sqlite>, column: &str, values: String| {
        qb.push(format!(" AND {column} IN (SELECT value FROM json_each("))
            .push_bind(values)
            .push("))");
    };
    if !query.subdistrict_codes.is_empty() {
        let codes = json_list(query.subdistrict_codes.iter().map(AreaCode::as_str));
        any_of(qb, "subdistrict_code", codes);
    }
    if let Some(r) = &query.reporter_id {
        qb.push(" AND reporter_id = ").push_bind(r.clone());
    }
    if let Some(p) = &query.assignee_person_id {
        qb.push(" AND assignee_person_id = ")
            .push_bind(p.as_str().to_owned());
    }
    if !query.assignee_area_codes.is_empty() {
        let codes = json_list(query.assignee_area_codes.iter().map(AreaCode::as_str));
        any_of(qb, "assignee_area_code", codes);
    }
    if !query.states.is_empty() {
        any_of(
            qb,
            "state",
            json_list(query.states.iter().map(|s| s.as_str())),
        );
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
        let open = TicketState::ALL.into_iter().filter(|s| s.is_open());
        any_of(qb, "state", json_list(open.map(TicketState::as_str)));
        qb.push(" AND (accept_due_at < ")
            .push_bind(to_micros(at))
            .push(" OR resolve_due_at < ")
            .push_bind(to_micros(at))
            .push(")");
    }
    if let Some(from) = query.created_from {
        qb.push(" AND created_at >= ").push_bind(to_micros(from));
    }
    if let Some(before) = query.created_before {
        qb.push(" AND created_at < ").push_bind(to_micros(before));
    }
    if let Some(pause) = query.pause {
        qb.push(" AND pause = ").push_bind(pause.as_str());
    }
    if query.urgent_only {
        qb.push(" AND urgent = ").push_bind(true);
    }
    if query.supervised_only {
        qb.push(" AND supervision IS NOT NULL");
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

#[async_trait]
impl TicketStore for SqliteStore {
    #[tracing::instrument(skip_all, level = "debug", fields(ticket = %new.ticket.id))]
    async fn create_ticket(&self, new: &NewTicket) -> Result<Ticket> {
        let new = NewTicket {
            ticket: normalize_ticket(&new.ticket),
            ..new.clone()
        };
        validate::ticket_write(&new.ticket, Some(&new.timers))?;
        self.batch.create(new).await
    }

    #[tracing::instrument(skip_all, level = "debug", fields(ticket = %id))]
    async fn get_ticket(&self, id: &TicketId) -> Result<Ticket> {
        let row = sqlx::query(TICKET_BY_ID.as_str())
            .bind(uuid_text(id.as_uuid()))
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::not_found("ticket", id))?;
        ticket(&row)
    }

    #[tracing::instrument(skip_all, level = "debug", fields(?query))]
    async fn list_tickets(&self, query: &TicketQuery, page: &PageRequest) -> Result<Page<Ticket>> {
        let after = PageKey::decode(page.token.as_deref(), |k| match query.order {
            TicketOrder::NewestFirst => matches!(k, PageKey::TicketNewest { .. }),
            TicketOrder::DueSoonest => matches!(k, PageKey::TicketDue { .. }),
        })?;
        let size = page.effective_size();
        let due = format!("COALESCE(accept_due_at, resolve_due_at, {NO_DEADLINE_MICROS})");
        let mut qb = QueryBuilder::<Sqlite>::new(format!("{} WHERE 1", *TICKET_SELECT));
        push_ticket_filters(&mut qb, query);
        match after {
            Some(PageKey::TicketNewest { created, id }) => {
                qb.push(" AND (created_at < ")
                    .push_bind(created)
                    .push(" OR (created_at = ")
                    .push_bind(created)
                    .push(" AND id < ")
                    .push_bind(uuid_text(id))
                    .push("))");
            }
            Some(PageKey::TicketDue {
                due: d,
                created,
                id,
            }) => {
                qb.push(format!(" AND ({due} > "))
                    .push_bind(d)
                    .push(format!(" OR ({due} = "))
                    .push_bind(d)
                    .push(" AND (created_at > ")
                    .push_bind(created)
                    .push(" OR (created_at = ")
                    .push_bind(created)
                    .push(" AND id > ")
                    .push_bind(uuid_text(id))
                    .push("))))");
            }
            _ => {}
        }
        match query.order {
            TicketOrder::NewestFirst => qb.push(" ORDER BY created_at DESC, id DESC"),
            TicketOrder::DueSoonest => qb.push(format!(" ORDER BY {due}, created_at, id")),
        };
        qb.push(" LIMIT ").push_bind(i64::from(size) + 1);
        let rows = qb.build().fetch_all(&self.pool).await?;
        let items = rows.iter().map(ticket).collect::<Result<Vec<_>>>()?;
        let order = query.order;
        Ok(into_page(items, size, |t| ticket_key(order, t)))
    }

    #[tracing::instrument(skip_all, level = "debug", fields(?query))]
    async fn count_tickets(&self, query: &TicketQuery) -> Result<u64> {
        let mut qb = QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM tickets WHERE 1");
        push_ticket_filters(&mut qb, query);
        let n: i64 = qb.build_query_scalar().fetch_one(&self.pool).await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    #[tracing::instrument(skip_all, level = "debug")]
    async fn count_tickets_by(
        &self,
        query: &TicketQuery,
        by: TicketGrouping,
    ) -> Result<Vec<(String, u64)>> {
        let column = by.column();
        let mut qb = QueryBuilder::<Sqlite>::new("SELECT ");
        qb.push(column).push(", COUNT(*) FROM tickets WHERE 1");
        push_ticket_filters(&mut qb, query);
        qb.push(" GROUP BY 1 ORDER BY 1");
        let rows: Vec<(String, i64)> = qb.build_query_as().fetch_all(&self.pool).await?;
        Ok(rows
            .into_iter()
            .map(|(k, n)| (k, u64::try_from(n).unwrap_or(0)))
            .collect())
    }

    #[tracing::instrument(skip_all, level = "debug")]
    async fn count_events(
        &self,
        subdistrict_codes: &[AreaCode],
        kinds: &[EventKind],
        since: OffsetDateTime,
    ) -> Result<u64> {
        let mut qb = QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM ticket_events WHERE at >= ");
        qb.push_bind(to_micros(since));
        if !subdistrict_codes.is_empty() {
            qb.push(" AND subdistrict_code IN (SELECT value FROM json_each(")
                .push_bind(json_list(subdistrict_codes.iter().map(AreaCode::as_str)))
                .push("))");
        }
        if !kinds.is_empty() {
            qb.push(" AND kind IN (SELECT value FROM json_each(")
                .push_bind(json_list(kinds.iter().map(|k| k.as_str())))
                .push("))");
        }
        let n: i64 = qb.build_query_scalar().fetch_one(&self.pool).await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    #[tracing::instrument(skip_all, level = "debug")]
    async fn event_cursor_head(&self) -> Result<i64> {
        feed::event_cursor_head(&self.pool).await
    }

    #[tracing::instrument(skip_all, level = "debug", fields(ticket = %change.ticket.id, version = change.ticket.version))]
    async fn update_ticket(&self, change: &TicketChange) -> Result<Ticket> {
        let mut stored = self.update_tickets(std::slice::from_ref(change)).await?;
        Ok(stored.remove(0))
    }

    #[tracing::instrument(skip_all, level = "debug", fields(tickets = changes.len()))]
    async fn update_tickets(&self, changes: &[TicketChange]) -> Result<Vec<Ticket>> {
        let tickets = validate::ticket_changes(changes)?;
        let mut tx = self.begin_write().await?;
        for (ticket, change) in tickets.iter().zip(changes) {
            let events = write_change(&mut tx, ticket, change, ticket.version - 1).await?;
            append_events(&mut tx, &events).await?;
        }
        tx.commit().await?;
        Ok(tickets)
    }

    #[tracing::instrument(skip_all, level = "debug", fields(ticket = %id))]
    async fn ticket_followers(&self, id: &TicketId) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT follower_id FROM ticket_followers WHERE ticket_id = ?1 ORDER BY follower_id",
        )
        .bind(uuid_text(id.as_uuid()))
        .fetch_all(&self.pool)
        .await?)
    }

    #[tracing::instrument(skip_all, level = "debug", fields(ticket = %id, after_seq = after_seq, limit = limit))]
    async fn list_events(
        &self,
        id: &TicketId,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<TicketEvent>> {
        let rows = sqlx::query(
            "SELECT cursor, subdistrict_code, ticket_id, seq, kind, actor, from_state, to_state, \
             level, assignee_person_id, note, at FROM ticket_events \
             WHERE ticket_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
        )
        .bind(uuid_text(id.as_uuid()))
        .bind(after_seq)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(event(r)?.1)).collect()
    }

    #[tracing::instrument(skip_all, level = "debug", fields(subdistricts = subdistrict_codes.len(), after_cursor = after_cursor, limit = limit))]
    async fn events_since(
        &self,
        subdistrict_codes: &[AreaCode],
        after_cursor: i64,
        limit: u32,
    ) -> Result<Vec<LoggedEvent>> {
        feed::events_since(&self.pool, subdistrict_codes, after_cursor, limit).await
    }
}
