//! [`TicketStore`] on PostgreSQL: reading, listing and counting tickets, and writing
//! changes ([`write_change`], shared with the timer worker and the merge of a new ticket).
//! New tickets go through the group commit ([`super::batch`]); events are appended holding
//! the event log lock and read back by the feed ([`super::feed`]).

use async_trait::async_trait;
use sqlx::{PgConnection, Postgres};
use time::OffsetDateTime;
use wuzhang_domain::area::AreaCode;
use wuzhang_domain::event::{EventKind, TicketEvent};
use wuzhang_domain::ticket::{Ticket, TicketId};

use super::batch::{create_one, normalize_new_ticket};
use super::feed::append_events;
use super::idempotency::insert_idempotency;
use super::rows::{TICKET_BY_ID, TICKET_UPDATE, bind_ticket, event, ticket};
use super::timers::insert_timers;
use super::{PostgresStore, strings};
use crate::codec::{EventColumns, TicketColumns};
use crate::error::{Result, StoreError};
use crate::interface::TicketStore;
use crate::model::{
    Count, LoggedEvent, NewTicket, Page, PageRequest, TicketChange, TicketGrouping, TicketQuery,
    TicketStatement,
};
use crate::query::Dialect;
use crate::token::{into_page, ticket_key};
use crate::validate;

/// Writes a changed ticket (already normalised and checked), its timers and idempotency
/// record, and numbers its events after the ticket's last.
/// Returns the events to append.
pub(super) async fn write_change(
    conn: &mut PgConnection,
    ticket: &Ticket,
    change: &TicketChange,
) -> Result<Vec<EventColumns>> {
    let id = ticket.id.as_uuid();
    let sub = ticket.subdistrict_code.as_str();
    let updated = bind_ticket(
        sqlx::query(TICKET_UPDATE.as_str()),
        TicketColumns::new(ticket)?,
    )
    .bind(ticket.version - 1)
    .fetch_optional(&mut *conn)
    .await?;
    if updated.is_none() {
        let current: Option<(String, i64)> =
            sqlx::query_as("SELECT subdistrict_code, version FROM tickets WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?;
        return Err(validate::change_refused(ticket, current));
    }
    if let Some(timers) = &change.timers {
        sqlx::query("DELETE FROM timer_sets WHERE subdistrict_code = $1 AND ticket_id = $2")
            .bind(sub)
            .bind(id)
            .execute(&mut *conn)
            .await?;
        insert_timers(conn, timers).await?;
    }
    if let Some(r) = &change.idempotency {
        insert_idempotency(conn, r).await?;
    }
    if let Some(result) = &change.task_result {
        let done = sqlx::query(
            "UPDATE campaign_tasks SET result = $3 \
             WHERE subdistrict_code = $1 AND ticket_id = $2",
        )
        .bind(sub)
        .bind(id)
        .bind(crate::codec::to_json(result)?)
        .execute(&mut *conn)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::invalid(
                "task_result",
                "the ticket is not a campaign task",
            ));
        }
    }
    if let Some(follower) = &change.add_follower {
        sqlx::query(
            "INSERT INTO ticket_followers (subdistrict_code, ticket_id, follower_id) \
             VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(sub)
        .bind(id)
        .bind(follower)
        .execute(&mut *conn)
        .await?;
    }
    let last: i64 = sqlx::query_scalar(
        "SELECT COALESCE(MAX(seq), 0) FROM ticket_events \
         WHERE subdistrict_code = $1 AND ticket_id = $2",
    )
    .bind(sub)
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(EventColumns::numbered(ticket, &change.events, last).collect())
}

#[async_trait]
impl TicketStore for PostgresStore {
    #[tracing::instrument(skip_all, level = "debug", fields(ticket = %new.ticket.id))]
    async fn create_ticket(&self, new: &NewTicket) -> Result<Ticket> {
        let new = normalize_new_ticket(new);
        validate::ticket_write(&new.ticket, Some(&new.timers))?;
        if new.followed.is_some() {
            // A merge touches two tickets; rare, so it skips the queue.
            return create_one(&self.pool, &new).await;
        }
        self.batch.create(new).await
    }

    #[tracing::instrument(skip_all, level = "debug", fields(ticket = %id))]
    async fn get_ticket(&self, id: &TicketId) -> Result<Ticket> {
        let row = sqlx::query(TICKET_BY_ID.as_str())
            .bind(id.as_uuid())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::not_found("ticket", id))?;
        ticket(&row)
    }

    #[tracing::instrument(skip_all, level = "debug", fields(?query))]
    async fn list_tickets(&self, query: &TicketQuery, page: &PageRequest) -> Result<Page<Ticket>> {
        let (mut qb, size) = Postgres::list_tickets(query, page)?;
        let rows = qb.build().fetch_all(&self.pool).await?;
        let items = rows.iter().map(ticket).collect::<Result<Vec<_>>>()?;
        let order = query.order;
        Ok(into_page(items, size, |t| ticket_key(order, t)))
    }

    #[tracing::instrument(skip_all, level = "debug", fields(?query))]
    async fn count_tickets(&self, query: &TicketQuery) -> Result<u64> {
        let mut qb = Postgres::count_tickets(query);
        let n: i64 = qb.build_query_scalar().fetch_one(&self.pool).await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    #[tracing::instrument(skip_all, level = "debug", fields(?query, cap))]
    async fn count_tickets_capped(&self, query: &TicketQuery, cap: u64) -> Result<Count> {
        let mut qb = Postgres::count_tickets_capped("", query, cap);
        let n: i64 = qb.build_query_scalar().fetch_one(&self.pool).await?;
        let n = u64::try_from(n).unwrap_or(0);
        if n <= cap {
            return Ok(Count { n, exact: true });
        }
        // Beyond the cap: the planner's estimate of the rows, from its statistics.
        let mut qb = Postgres::select_ticket_rows("EXPLAIN (FORMAT JSON) ", query);
        let plan: serde_json::Value = qb.build_query_scalar().fetch_one(&self.pool).await?;
        let estimate = plan[0]["Plan"]["Plan Rows"].as_f64().unwrap_or(0.0);
        // `as` saturates; the estimate is a float of whole rows.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let estimate = estimate.round() as u64;
        Ok(Count {
            n: estimate.max(cap.saturating_add(1)),
            exact: false,
        })
    }

    #[tracing::instrument(skip_all, level = "debug")]
    async fn count_tickets_by(
        &self,
        query: &TicketQuery,
        by: TicketGrouping,
    ) -> Result<Vec<(String, u64)>> {
        let mut qb = Postgres::count_tickets_by(query, by);
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
        let mut qb = Postgres::count_events(subdistrict_codes, kinds, since);
        let n: i64 = qb.build_query_scalar().fetch_one(&self.pool).await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    #[tracing::instrument(skip_all, level = "debug")]
    async fn event_cursor_head(&self) -> Result<i64> {
        // Not MAX(cursor): a lower cursor may still be committed below it.
        self.feed.head(&self.pool).await
    }

    #[tracing::instrument(skip_all, level = "debug", fields(ticket = %change.ticket.id, version = change.ticket.version))]
    async fn update_ticket(&self, change: &TicketChange) -> Result<Ticket> {
        let mut stored = self.update_tickets(std::slice::from_ref(change)).await?;
        Ok(stored.remove(0))
    }

    #[tracing::instrument(skip_all, level = "debug", fields(tickets = changes.len()))]
    async fn update_tickets(&self, changes: &[TicketChange]) -> Result<Vec<Ticket>> {
        let tickets = validate::ticket_changes(changes)?;
        let mut tx = self.pool.begin().await?;
        let mut events = Vec::new();
        for (ticket, change) in tickets.iter().zip(changes) {
            events.extend(write_change(&mut tx, ticket, change).await?);
        }
        append_events(&mut tx, events).await?;
        tx.commit().await?;
        Ok(tickets)
    }

    #[tracing::instrument(skip_all, level = "debug", fields(ticket = %id))]
    async fn ticket_followers(&self, id: &TicketId) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT follower_id FROM ticket_followers WHERE ticket_id = $1 ORDER BY follower_id",
        )
        .bind(id.as_uuid())
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
             level, assignee_person_id, note, at, accept_due_at, resolve_due_at, rating_stars, \
             rating_not_solved, assignee_org_code FROM ticket_events \
             WHERE ticket_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(id.as_uuid())
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
        // Only the final part of the log: beyond it a writer may still commit a lower cursor
        // than one already visible (see `feed`).
        let settled = self.feed.settled_after(&self.pool, after_cursor).await?;
        if settled <= after_cursor {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "SELECT cursor, subdistrict_code, ticket_id, seq, kind, actor, from_state, to_state, \
             level, assignee_person_id, note, at, accept_due_at, resolve_due_at, rating_stars, \
             rating_not_solved, assignee_org_code FROM ticket_events \
             WHERE cursor > $1 AND cursor <= $4 \
             AND (cardinality($2::text[]) = 0 OR subdistrict_code = ANY($2)) \
             ORDER BY cursor LIMIT $3",
        )
        .bind(after_cursor)
        .bind(strings(subdistrict_codes.iter().map(AreaCode::as_str)))
        .bind(i64::from(limit))
        .bind(settled)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| event(r).map(|(cursor, event)| LoggedEvent { cursor, event }))
            .collect()
    }
}

impl PostgresStore {
    /// The plan of the statement the store runs for `statement` on `query`, as
    /// `EXPLAIN (FORMAT JSON)` gives it (estimates only; nothing is run). For the plan tests.
    #[doc(hidden)]
    pub async fn explain_tickets(
        &self,
        query: &TicketQuery,
        statement: &TicketStatement,
    ) -> Result<serde_json::Value> {
        let mut qb = Postgres::ticket_statement("EXPLAIN (FORMAT JSON) ", query, statement)?;
        Ok(qb.build_query_scalar().fetch_one(&self.pool).await?)
    }
}
