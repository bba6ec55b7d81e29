//! [`TicketStore`] on SQLite: reading, listing and counting tickets, and writing changes
//! ([`write_change`], shared with the timer worker). New tickets go through the group
//! commit ([`super::batch`]), the event feed through [`super::feed`].

use async_trait::async_trait;
use sqlx::{Sqlite, SqliteConnection};
use time::OffsetDateTime;
use wuzhang_domain::area::AreaCode;
use wuzhang_domain::event::{EventKind, TicketEvent};
use wuzhang_domain::ticket::{Ticket, TicketId};

use super::idempotency::insert_idempotency;
use super::rows::{
    EVENT_INSERT_ONE, TICKET_BY_ID, TICKET_UPDATE, bind_event, bind_ticket, event, ticket,
};
use super::timers::insert_timers;
use super::{SqliteStore, feed};
use crate::codec::{EventColumns, TicketColumns, normalize_ticket, uuid_text};
use crate::error::{Result, StoreError};
use crate::interface::TicketStore;
use crate::model::{
    Count, LoggedEvent, NewTicket, Page, PageRequest, TicketChange, TicketGrouping, TicketQuery,
    TicketStatement,
};
use crate::query::Dialect;
use crate::token::{into_page, ticket_key};
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
    if let Some(result) = &change.task_result {
        let done = sqlx::query(
            "UPDATE campaign_tasks SET result = ?3 \
             WHERE subdistrict_code = ?1 AND ticket_id = ?2",
        )
        .bind(sub)
        .bind(&id)
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
        let (mut qb, size) = Sqlite::list_tickets(query, page)?;
        let rows = qb.build().fetch_all(&self.pool).await?;
        let items = rows.iter().map(ticket).collect::<Result<Vec<_>>>()?;
        let order = query.order;
        Ok(into_page(items, size, |t| ticket_key(order, t)))
    }

    #[tracing::instrument(skip_all, level = "debug", fields(?query))]
    async fn count_tickets(&self, query: &TicketQuery) -> Result<u64> {
        let mut qb = Sqlite::count_tickets(query);
        let n: i64 = qb.build_query_scalar().fetch_one(&self.pool).await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    #[tracing::instrument(skip_all, level = "debug", fields(?query, cap))]
    async fn count_tickets_capped(&self, query: &TicketQuery, cap: u64) -> Result<Count> {
        let mut qb = Sqlite::count_tickets_capped("", query, cap);
        let n: i64 = qb.build_query_scalar().fetch_one(&self.pool).await?;
        let n = u64::try_from(n).unwrap_or(0);
        if n <= cap {
            return Ok(Count { n, exact: true });
        }
        // No estimate on SQLite: "more than the cap".
        Ok(Count {
            n: cap.saturating_add(1),
            exact: false,
        })
    }

    #[tracing::instrument(skip_all, level = "debug")]
    async fn count_tickets_by(
        &self,
        query: &TicketQuery,
        by: TicketGrouping,
    ) -> Result<Vec<(String, u64)>> {
        let mut qb = Sqlite::count_tickets_by(query, by);
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
        let mut qb = Sqlite::count_events(subdistrict_codes, kinds, since);
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
             level, assignee_person_id, note, at, accept_due_at, resolve_due_at, rating_stars, \
             rating_not_solved, assignee_org_code FROM ticket_events \
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

impl SqliteStore {
    /// The plan of the statement the store runs for `statement` on `query`: the `detail`
    /// of each row of `EXPLAIN QUERY PLAN`, one a line. For the plan tests.
    #[doc(hidden)]
    pub async fn explain_tickets(
        &self,
        query: &TicketQuery,
        statement: &TicketStatement,
    ) -> Result<String> {
        let mut qb = Sqlite::ticket_statement("EXPLAIN QUERY PLAN ", query, statement)?;
        let rows: Vec<(i64, i64, i64, String)> = qb.build_query_as().fetch_all(&self.pool).await?;
        Ok(rows
            .into_iter()
            .map(|(_, _, _, detail)| detail)
            .collect::<Vec<_>>()
            .join("\n"))
    }
}
