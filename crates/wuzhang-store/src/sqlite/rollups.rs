//! [`RollupStore`] on SQLite: one write transaction per step on the writers' connection,
//! prepared statements in a loop (SQLite runs them in-process; no round trips to save).

use std::sync::LazyLock;

use async_trait::async_trait;
use sqlx::Row;
use time::Date;
use wuzhang_domain::area::AreaCode;
use wuzhang_domain::chief::ChiefLevel;
use wuzhang_domain::evaluation::Figures;
use wuzhang_domain::event::EventKind;
use wuzhang_domain::ticket::{TicketId, TicketState};

use super::rows::values_rows;
use super::{SqliteStore, json_list};
use crate::codec::{code, from_json, parse, to_json, uuid_text};
use crate::error::{Result, StoreError};
use crate::interface::RollupStore;
use crate::model::{
    EvaluationQuery, EvaluationTotals, RollupStep, TicketLedger, TicketPlace, merge_levels,
};

const ROLLUPS: &str = "rollups";

fn figure_columns() -> [&'static str; 16] {
    Figures::default().columns().map(|(c, _)| c)
}

/// Adds one row's figures to the kept ones.
static ROLLUP_UPSERT: LazyLock<String> = LazyLock::new(|| {
    let columns = figure_columns();
    format!(
        "INSERT INTO evaluation_rollups (subdistrict_code, scope, day, key, level, emergency, \
           {}) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, {}) \
         ON CONFLICT (subdistrict_code, scope, day, key, level, emergency) DO UPDATE SET {}",
        columns.join(", "),
        (7..7 + columns.len())
            .map(|i| format!("?{i}"))
            .collect::<Vec<_>>()
            .join(", "),
        columns
            .iter()
            .map(|c| format!("{c} = {c} + excluded.{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    )
});

/// A period's figures per key and level.
static TOTALS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT key, level, {} FROM evaluation_rollups \
         WHERE scope = ?1 AND day >= ?2 AND day < ?3 \
           AND (json_array_length(?4) = 0 \
                OR subdistrict_code IN (SELECT value FROM json_each(?4))) \
           AND (?5 IS NULL OR emergency = ?5) \
         GROUP BY key, level ORDER BY key",
        figure_columns()
            .iter()
            .map(|c| format!("SUM({c}) AS {c}"))
            .collect::<Vec<_>>()
            .join(", ")
    )
});

fn julian(day: Date) -> i64 {
    i64::from(day.to_julian_day())
}

fn ids_json(ids: &[TicketId]) -> String {
    serde_json::to_string(
        &ids.iter()
            .map(|i| uuid_text(i.as_uuid()))
            .collect::<Vec<_>>(),
    )
    .unwrap_or_else(|_| "[]".into())
}

fn ticket_id(text: &str) -> Result<TicketId> {
    uuid::Uuid::parse_str(text)
        .map(TicketId::from_uuid)
        .map_err(|e| StoreError::internal(format!("column ticket_id: {e}")))
}

#[async_trait]
impl RollupStore for SqliteStore {
    async fn rollup_cursor(&self) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT cursor FROM projection_cursors WHERE name = ?1")
                .bind(ROLLUPS)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn ticket_ledgers(&self, tickets: &[TicketId]) -> Result<Vec<TicketLedger>> {
        let rows = sqlx::query(
            "SELECT subdistrict_code, ticket_id, place, ledger FROM evaluation_ledgers \
             WHERE ticket_id IN (SELECT value FROM json_each(?1))",
        )
        .bind(ids_json(tickets))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TicketLedger {
                    ticket_id: ticket_id(r.try_get("ticket_id")?)?,
                    subdistrict_code: code("subdistrict_code", r.try_get("subdistrict_code")?)?,
                    place: from_json("place", r.try_get("place")?)?,
                    ledger: from_json("ledger", r.try_get("ledger")?)?,
                })
            })
            .collect()
    }

    async fn ticket_places(&self, tickets: &[TicketId]) -> Result<Vec<TicketPlace>> {
        let rows = sqlx::query(
            "SELECT id, subdistrict_code, grid_code FROM tickets \
             WHERE id IN (SELECT value FROM json_each(?1))",
        )
        .bind(ids_json(tickets))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TicketPlace {
                    ticket_id: ticket_id(r.try_get("id")?)?,
                    subdistrict_code: code("subdistrict_code", r.try_get("subdistrict_code")?)?,
                    grid_code: code("grid_code", r.try_get("grid_code")?)?,
                })
            })
            .collect()
    }

    async fn apply_rollup_step(&self, step: &RollupStep) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let moved = sqlx::query(
            "UPDATE projection_cursors SET cursor = ?1 WHERE name = ?2 AND cursor = ?3",
        )
        .bind(step.to_cursor)
        .bind(ROLLUPS)
        .bind(step.from_cursor)
        .execute(&mut *tx)
        .await?;
        if moved.rows_affected() != 1 {
            let current: i64 =
                sqlx::query_scalar("SELECT cursor FROM projection_cursors WHERE name = ?1")
                    .bind(ROLLUPS)
                    .fetch_one(&mut *tx)
                    .await?;
            return Err(StoreError::Conflict {
                entity: ROLLUPS,
                key: ROLLUPS.into(),
                current_version: current,
            });
        }
        for l in &step.ledgers {
            sqlx::query(
                "INSERT INTO evaluation_ledgers (subdistrict_code, ticket_id, place, ledger) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (subdistrict_code, ticket_id) \
                 DO UPDATE SET place = excluded.place, ledger = excluded.ledger",
            )
            .bind(l.subdistrict_code.as_str())
            .bind(uuid_text(l.ticket_id.as_uuid()))
            .bind(to_json(&l.place)?)
            .bind(to_json(&l.ledger)?)
            .execute(&mut *tx)
            .await?;
        }
        for (sub, key, figures) in &step.evaluation {
            let mut q = sqlx::query(ROLLUP_UPSERT.as_str())
                .bind(sub.as_str())
                .bind(key.scope.as_str())
                .bind(julian(key.day))
                .bind(&key.key)
                .bind(key.level.map_or("", |l| l.as_str()))
                .bind(key.emergency);
            for (_, v) in figures.columns() {
                q = q.bind(v);
            }
            q.execute(&mut *tx).await?;
        }
        for (sub, state, n) in &step.state_counts {
            sqlx::query(
                "INSERT INTO ticket_state_counts (subdistrict_code, state, n) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (subdistrict_code, state) DO UPDATE SET n = n + excluded.n",
            )
            .bind(sub.as_str())
            .bind(state.as_str())
            .bind(n)
            .execute(&mut *tx)
            .await?;
        }
        // A step touches up to a grid per event: a few hundred rows per statement.
        for chunk in step.grid_open.chunks(300) {
            let sql = format!(
                "INSERT INTO grid_open_counts (subdistrict_code, grid_code, n){} \
                 ON CONFLICT (subdistrict_code, grid_code) DO UPDATE SET n = n + excluded.n",
                values_rows(3, chunk.len())
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (sub, grid, n) in chunk {
                q = q.bind(sub.as_str()).bind(grid.as_str()).bind(n);
            }
            q.execute(&mut *tx).await?;
        }
        for (sub, day, kind, n) in &step.event_counts {
            sqlx::query(
                "INSERT INTO event_day_counts (subdistrict_code, day, kind, n) \
                 VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (subdistrict_code, day, kind) DO UPDATE SET n = n + excluded.n",
            )
            .bind(sub.as_str())
            .bind(julian(*day))
            .bind(kind.as_str())
            .bind(n)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn evaluation_totals(&self, query: &EvaluationQuery) -> Result<Vec<EvaluationTotals>> {
        let columns = figure_columns();
        let rows = sqlx::query(TOTALS.as_str())
            .bind(query.scope.as_str())
            .bind(julian(query.from))
            .bind(julian(query.until))
            .bind(json_list(
                query.subdistrict_codes.iter().map(AreaCode::as_str),
            ))
            .bind(query.emergency)
            .fetch_all(&self.pool)
            .await?;
        let rows = rows
            .iter()
            .map(|r| {
                let mut values = [0i64; 16];
                for (v, c) in values.iter_mut().zip(columns) {
                    *v = r.try_get(c)?;
                }
                let level: String = r.try_get("level")?;
                Ok(EvaluationTotals {
                    key: r.try_get("key")?,
                    level: (!level.is_empty())
                        .then(|| parse::<ChiefLevel>("level", &level))
                        .transpose()?,
                    figures: Figures::from_columns(values),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(merge_levels(rows))
    }

    async fn open_by_grid(&self, subdistrict: &AreaCode) -> Result<Vec<(AreaCode, u64)>> {
        let rows = sqlx::query(
            "SELECT grid_code, n FROM grid_open_counts \
             WHERE subdistrict_code = ?1 AND n > 0 ORDER BY grid_code",
        )
        .bind(subdistrict.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let n: i64 = r.try_get("n")?;
                Ok((
                    crate::codec::code("grid_code", r.try_get("grid_code")?)?,
                    u64::try_from(n).unwrap_or(0),
                ))
            })
            .collect()
    }

    async fn state_counts(&self, subdistrict: &AreaCode) -> Result<Vec<(TicketState, u64)>> {
        let rows = sqlx::query(
            "SELECT state, n FROM ticket_state_counts \
             WHERE subdistrict_code = ?1 AND n > 0 ORDER BY state",
        )
        .bind(subdistrict.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let n: i64 = r.try_get("n")?;
                Ok((
                    parse::<TicketState>("state", r.try_get("state")?)?,
                    u64::try_from(n).unwrap_or(0),
                ))
            })
            .collect()
    }

    async fn event_day_count(
        &self,
        subdistrict: &AreaCode,
        day: Date,
        kinds: &[EventKind],
    ) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COALESCE(SUM(n), 0) FROM event_day_counts \
             WHERE subdistrict_code = ?1 AND day = ?2 \
               AND kind IN (SELECT value FROM json_each(?3))",
        )
        .bind(subdistrict.as_str())
        .bind(julian(day))
        .bind(json_list(kinds.iter().map(|k| k.as_str())))
        .fetch_one(&self.pool)
        .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn reset_rollups(&self) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for delete in [
            "DELETE FROM evaluation_ledgers",
            "DELETE FROM evaluation_rollups",
            "DELETE FROM ticket_state_counts",
            "DELETE FROM grid_open_counts",
            "DELETE FROM event_day_counts",
        ] {
            sqlx::query(delete).execute(&mut *tx).await?;
        }
        sqlx::query("UPDATE projection_cursors SET cursor = 0 WHERE name = ?1")
            .bind(ROLLUPS)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
