//! [`TimerStore`] on SQLite: one row per timer; firing is [`super::firing`].

use async_trait::async_trait;
use sqlx::SqliteConnection;
use time::{Duration, OffsetDateTime};
use wuzhang_domain::area::AreaCode;
use wuzhang_domain::ticket::TicketId;
use wuzhang_domain::timer::Timer;

use super::rows::{TIMER_INSERT_ONE, bind_timer, timer};
use super::{SqliteStore, firing};
use crate::codec;
use crate::codec::{to_micros, uuid_text};
use crate::error::Result;
use crate::interface::{TimerHandler, TimerStore};
use crate::model::FireReport;

pub(super) async fn insert_timers(conn: &mut SqliteConnection, timers: &[Timer]) -> Result<()> {
    for t in timers {
        bind_timer(sqlx::query(TIMER_INSERT_ONE.as_str()), t)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

pub(super) async fn delete_timer(conn: &mut SqliteConnection, t: &Timer) -> Result<()> {
    sqlx::query("DELETE FROM timers WHERE subdistrict_code = ?1 AND ticket_id = ?2 AND kind = ?3")
        .bind(t.subdistrict_code.as_str())
        .bind(uuid_text(t.ticket_id.as_uuid()))
        .bind(t.kind.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

#[async_trait]
impl TimerStore for SqliteStore {
    #[tracing::instrument(skip_all, level = "debug", fields(ticket = %id))]
    async fn list_timers(&self, id: &TicketId) -> Result<Vec<Timer>> {
        let rows = sqlx::query(
            "SELECT subdistrict_code, ticket_id, kind, due_at, level FROM timers \
             WHERE ticket_id = ?1 ORDER BY due_at, kind",
        )
        .bind(uuid_text(id.as_uuid()))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(timer).collect()
    }

    #[tracing::instrument(skip_all, level = "debug", fields(%now))]
    async fn subdistricts_with_due_timers(&self, now: OffsetDateTime) -> Result<Vec<AreaCode>> {
        let codes: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT subdistrict_code FROM timers WHERE due_at <= ?1 \
             ORDER BY subdistrict_code",
        )
        .bind(to_micros(now))
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
        firing::fire_due_timers(self, subdistrict, now, limit, retry_after, handler).await
    }
}
