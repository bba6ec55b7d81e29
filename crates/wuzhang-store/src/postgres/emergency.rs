//! [`EmergencyStore`] on Postgres (migration 0019).

use std::sync::atomic::Ordering;

use async_trait::async_trait;
use sqlx::Row;
use sqlx::postgres::PgRow;
use wuzhang_domain::area::AreaCode;
use wuzhang_domain::emergency::{ClockRate, EmergencyMode};
use wuzhang_domain::ticket::Ticket;

use super::PostgresStore;
use super::rows::{TICKET_SELECT, ticket};
use crate::codec::code;
use crate::error::{Result, StoreError};
use crate::interface::EmergencyStore;
use crate::query::OPEN_STATES;

fn mode(row: &PgRow, at: &'static str) -> Result<EmergencyMode> {
    let rate: i16 = row.try_get("rate")?;
    Ok(EmergencyMode {
        rate: ClockRate::from_hundredths("rate", i64::from(rate))
            .map_err(|e| StoreError::internal(format!("column rate: {}", e.reason)))?,
        since: row.try_get(at)?,
        switched_by: row.try_get("switched_by")?,
        reason: row.try_get("reason")?,
    })
}

/// Rows of a subdistrict and a mode, its time in column `at`.
fn sub_modes(rows: &[PgRow], at: &'static str) -> Result<Vec<(AreaCode, EmergencyMode)>> {
    rows.iter()
        .map(|r| {
            Ok((
                code("subdistrict_code", r.try_get("subdistrict_code")?)?,
                mode(r, at)?,
            ))
        })
        .collect()
}

#[async_trait]
impl EmergencyStore for PostgresStore {
    #[tracing::instrument(skip_all, fields(sub = %sub))]
    async fn switch_emergency_mode(&self, sub: &AreaCode, m: &EmergencyMode) -> Result<()> {
        let rate = m.rate.hundredths() as i16;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO emergency_modes (subdistrict_code, rate, since, switched_by, reason) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (subdistrict_code) DO UPDATE SET rate = EXCLUDED.rate, \
               since = EXCLUDED.since, switched_by = EXCLUDED.switched_by, \
               reason = EXCLUDED.reason",
        )
        .bind(sub.as_str())
        .bind(rate)
        .bind(m.since)
        .bind(&m.switched_by)
        .bind(&m.reason)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO emergency_switches (subdistrict_code, rate, at, switched_by, reason) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(sub.as_str())
        .bind(rate)
        .bind(m.since)
        .bind(&m.switched_by)
        .bind(&m.reason)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE reference_changes SET emergency = emergency + 1 WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.reference_writes.fetch_add(1, Ordering::Release);
        Ok(())
    }

    async fn emergency_modes(&self) -> Result<Vec<(AreaCode, EmergencyMode)>> {
        let rows = sqlx::query(
            "SELECT subdistrict_code, rate, since, switched_by, reason FROM emergency_modes \
             ORDER BY subdistrict_code",
        )
        .fetch_all(&self.pool)
        .await?;
        sub_modes(&rows, "since")
    }

    async fn emergency_switches(&self) -> Result<Vec<(AreaCode, EmergencyMode)>> {
        let rows = sqlx::query(
            "SELECT subdistrict_code, rate, at, switched_by, reason FROM emergency_switches \
             ORDER BY subdistrict_code, at, id",
        )
        .fetch_all(&self.pool)
        .await?;
        sub_modes(&rows, "at")
    }

    #[tracing::instrument(skip_all, fields(sub = %sub))]
    async fn tickets_off_rate(
        &self,
        sub: &AreaCode,
        rate: ClockRate,
        limit: u32,
    ) -> Result<Vec<Ticket>> {
        // The open-only index's predicate as written there (query.rs, OPEN_STATES).
        let sql = format!(
            "{} WHERE subdistrict_code = $1 AND state IN {OPEN_STATES} AND clock_rate <> $2 \
             LIMIT $3",
            *TICKET_SELECT
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(sub.as_str())
            .bind(rate.hundredths() as i16)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(ticket).collect()
    }
}
