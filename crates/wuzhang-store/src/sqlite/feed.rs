//! The event feed on SQLite: the log is final up to its last cursor. The write lock
//! orders commits, and a cursor is drawn inside the committing transaction, so no event
//! with a lower cursor can still appear once one is visible (unlike Postgres, whose
//! concurrent writers need [`crate::postgres`]'s watch on writers in flight).

use sqlx::SqlitePool;
use wuzhang_domain::area::AreaCode;

use super::json_list;
use super::rows::event;
use crate::error::Result;
use crate::model::LoggedEvent;

/// See [`TicketStore::event_cursor_head`](crate::TicketStore::event_cursor_head).
pub(super) async fn event_cursor_head(pool: &SqlitePool) -> Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT COALESCE(MAX(cursor), 0) FROM ticket_events")
            .fetch_one(pool)
            .await?,
    )
}

/// See [`TicketStore::events_since`](crate::TicketStore::events_since).
pub(super) async fn events_since(
    pool: &SqlitePool,
    subdistrict_codes: &[AreaCode],
    after_cursor: i64,
    limit: u32,
) -> Result<Vec<LoggedEvent>> {
    let rows = sqlx::query(
        "SELECT cursor, subdistrict_code, ticket_id, seq, kind, actor, from_state, to_state, \
         level, assignee_person_id, note, at, accept_due_at, resolve_due_at, rating_stars, \
         rating_not_solved, assignee_org_code FROM ticket_events WHERE cursor > ?1 \
         AND (json_array_length(?2) = 0 \
              OR subdistrict_code IN (SELECT value FROM json_each(?2))) \
         ORDER BY cursor LIMIT ?3",
    )
    .bind(after_cursor)
    .bind(json_list(subdistrict_codes.iter().map(AreaCode::as_str)))
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| event(r).map(|(cursor, event)| LoggedEvent { cursor, event }))
        .collect()
}
