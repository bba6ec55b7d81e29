//! [`TimerStore`] on PostgreSQL: a ticket's timers are one `timer_sets` row of arrays
//! (migration 0008); firing is [`super::firing`].

use std::sync::LazyLock;

use async_trait::async_trait;
use sqlx::PgConnection;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;
use wuzhang_domain::area::AreaCode;
use wuzhang_domain::clock::truncate_to_micros;
use wuzhang_domain::ticket::TicketId;
use wuzhang_domain::timer::Timer;

use super::arrays::TimerArrays;
use super::{PostgresStore, arrays, firing};
use crate::codec;
use crate::error::Result;
use crate::interface::{TimerHandler, TimerStore};
use crate::model::FireReport;

/// Replaces the timers of the tickets they belong to (one `timer_sets` row each).
pub(super) async fn insert_timers(conn: &mut PgConnection, timers: &[Timer]) -> Result<()> {
    if timers.is_empty() {
        return Ok(());
    }
    let mut arrays = TimerArrays::default();
    timers.iter().for_each(|t| arrays.push(t));
    arrays
        .bind(sqlx::query(TIMER_SETS_UPSERT.as_str()))
        .execute(conn)
        .await?;
    Ok(())
}

static TIMER_SETS_UPSERT: LazyLock<String> = LazyLock::new(|| arrays::timer_sets_upsert(1, ""));

#[async_trait]
impl TimerStore for PostgresStore {
    #[tracing::instrument(skip_all, level = "debug", fields(ticket = %id))]
    async fn list_timers(&self, id: &TicketId) -> Result<Vec<Timer>> {
        let row: Option<(String, Uuid, Vec<String>, Vec<OffsetDateTime>, Vec<String>)> =
            sqlx::query_as(
                "SELECT subdistrict_code, ticket_id, kinds, dues, levels FROM timer_sets \
                 WHERE (subdistrict_code, ticket_id) IN \
                   (SELECT subdistrict_code, id FROM tickets WHERE id = $1)",
            )
            .bind(id.as_uuid())
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some((sub, ticket, kinds, dues, levels)) => {
                arrays::timer_set(sub, ticket, kinds, dues, levels)
            }
            None => Ok(Vec::new()),
        }
    }

    #[tracing::instrument(skip_all, level = "debug", fields(%now))]
    async fn subdistricts_with_due_timers(&self, now: OffsetDateTime) -> Result<Vec<AreaCode>> {
        // A loose index scan over (subdistrict_code, due_at): one probe per subdistrict
        // for its earliest timer, instead of reading every due timer (or, when the planner
        // expects many, every timer) to find the few distinct codes.
        let codes: Vec<String> = sqlx::query_scalar(
            "WITH RECURSIVE subs(code) AS ( \
               (SELECT subdistrict_code FROM timer_sets ORDER BY subdistrict_code LIMIT 1) \
               UNION ALL \
               SELECT (SELECT t.subdistrict_code FROM timer_sets t \
                       WHERE t.subdistrict_code > s.code \
                       ORDER BY t.subdistrict_code LIMIT 1) \
               FROM subs s WHERE s.code IS NOT NULL) \
             SELECT code FROM subs s WHERE code IS NOT NULL AND \
               (SELECT min(due_at) FROM timer_sets t WHERE t.subdistrict_code = s.code) <= $1 \
             ORDER BY code",
        )
        .bind(truncate_to_micros(now))
        .fetch_all(&self.pool)
        .await?;
        codec::area_codes(codes)
    }

    #[tracing::instrument(skip_all, level = "debug", fields(subdistrict = %subdistrict, %now, limit = limit))]
    async fn fire_due_timers(
        &self,
        subdistrict: &AreaCode,
        now: OffsetDateTime,
        limit: u32,
        retry_after: Duration,
        handler: &dyn TimerHandler,
    ) -> Result<FireReport> {
        firing::fire_due_timers(&self.pool, subdistrict, now, limit, retry_after, handler).await
    }
}
