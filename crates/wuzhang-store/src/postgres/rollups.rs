//! [`RollupStore`] on Postgres: a step is one transaction of a few set-wise statements
//! (rows passed as JSON and read with `jsonb_to_recordset`), whatever its size.

use std::sync::LazyLock;

use async_trait::async_trait;
use sqlx::Row;
use time::Date;
use wuzhang_domain::area::AreaCode;
use wuzhang_domain::chief::ChiefLevel;
use wuzhang_domain::evaluation::Figures;
use wuzhang_domain::event::EventKind;
use wuzhang_domain::ticket::{TicketId, TicketState};

use super::PostgresStore;
use crate::codec::{code, from_json, parse, to_json};
use crate::error::{Result, StoreError};
use crate::interface::RollupStore;
use crate::model::{
    EvaluationQuery, EvaluationTotals, RollupStep, TicketLedger, TicketPlace, merge_levels,
};

const ROLLUPS: &str = "rollups";

fn uuids(ids: &[TicketId]) -> Vec<uuid::Uuid> {
    ids.iter().map(TicketId::as_uuid).collect()
}

fn figure_columns() -> [&'static str; 16] {
    Figures::default().columns().map(|(c, _)| c)
}

/// Adds rows of figures (a JSON array of objects) to the kept ones.
static ROLLUP_UPSERT: LazyLock<String> = LazyLock::new(|| {
    let columns = figure_columns();
    format!(
        "INSERT INTO evaluation_rollups (subdistrict_code, scope, day, key, level, emergency, \
           {cols}) \
         SELECT x.subdistrict_code, x.scope, x.day, x.key, x.level, x.emergency, {xcols} \
         FROM jsonb_to_recordset($1) AS x(subdistrict_code text, scope text, day date, \
           key text, level text, emergency bool, {typed}) \
         ON CONFLICT (subdistrict_code, scope, day, key, level, emergency) \
         DO UPDATE SET {sums}",
        cols = columns.join(", "),
        xcols = columns
            .iter()
            .map(|c| format!("x.{c}"))
            .collect::<Vec<_>>()
            .join(", "),
        typed = columns
            .iter()
            .map(|c| format!("{c} int8"))
            .collect::<Vec<_>>()
            .join(", "),
        sums = columns
            .iter()
            .map(|c| format!("{c} = evaluation_rollups.{c} + excluded.{c}"))
            .collect::<Vec<_>>()
            .join(", "),
    )
});

/// A period's figures per key and level.
static TOTALS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT key, level, {} FROM evaluation_rollups \
         WHERE scope = $1 AND day >= $2 AND day < $3 \
           AND (cardinality($4::text[]) = 0 OR subdistrict_code = ANY($4)) \
           AND ($5::bool IS NULL OR emergency = $5) \
         GROUP BY key, level ORDER BY key",
        figure_columns()
            .iter()
            .map(|c| format!("SUM({c})::int8 AS {c}"))
            .collect::<Vec<_>>()
            .join(", ")
    )
});

#[async_trait]
impl RollupStore for PostgresStore {
    async fn rollup_cursor(&self) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT cursor FROM projection_cursors WHERE name = $1")
                .bind(ROLLUPS)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn ticket_ledgers(&self, tickets: &[TicketId]) -> Result<Vec<TicketLedger>> {
        // A lookup by key per id, whatever the number of ids: as `ticket_id = ANY($1)`,
        // with a rebuild's 50,000 ids against 7M ledgers, the planner chose a parallel
        // scan of the whole table testing each row against the array (a step ran for
        // minutes); an `unnest` is planned as a short list joined on the index.
        let rows = sqlx::query(
            "SELECT l.subdistrict_code, l.ticket_id, l.place, l.ledger \
             FROM unnest($1::uuid[]) AS x(id) \
             JOIN evaluation_ledgers l ON l.ticket_id = x.id",
        )
        .bind(uuids(tickets))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TicketLedger {
                    ticket_id: TicketId::from_uuid(r.try_get("ticket_id")?),
                    subdistrict_code: code("subdistrict_code", r.try_get("subdistrict_code")?)?,
                    place: from_json("place", r.try_get("place")?)?,
                    ledger: from_json("ledger", r.try_get("ledger")?)?,
                })
            })
            .collect()
    }

    async fn ticket_places(&self, tickets: &[TicketId]) -> Result<Vec<TicketPlace>> {
        // Joined on the key per id, as the ledgers above.
        let rows = sqlx::query(
            "SELECT t.id, t.subdistrict_code, t.grid_code \
             FROM unnest($1::uuid[]) AS x(id) JOIN tickets t ON t.id = x.id",
        )
        .bind(uuids(tickets))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TicketPlace {
                    ticket_id: TicketId::from_uuid(r.try_get("id")?),
                    subdistrict_code: code("subdistrict_code", r.try_get("subdistrict_code")?)?,
                    grid_code: code("grid_code", r.try_get("grid_code")?)?,
                })
            })
            .collect()
    }

    async fn apply_rollup_step(&self, step: &RollupStep) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        // The row lock makes a second process taking the same step wait, then find the
        // cursor moved.
        let moved = sqlx::query(
            "UPDATE projection_cursors SET cursor = $1 WHERE name = $2 AND cursor = $3",
        )
        .bind(step.to_cursor)
        .bind(ROLLUPS)
        .bind(step.from_cursor)
        .execute(&mut *tx)
        .await?;
        if moved.rows_affected() != 1 {
            let current: i64 =
                sqlx::query_scalar("SELECT cursor FROM projection_cursors WHERE name = $1")
                    .bind(ROLLUPS)
                    .fetch_one(&mut *tx)
                    .await?;
            return Err(StoreError::Conflict {
                entity: ROLLUPS,
                key: ROLLUPS.into(),
                current_version: current,
            });
        }
        if !step.ledgers.is_empty() {
            let ledgers = step
                .ledgers
                .iter()
                .map(|l| {
                    Ok(serde_json::json!({
                        "subdistrict_code": l.subdistrict_code.as_str(),
                        "ticket_id": l.ticket_id.as_uuid(),
                        "place": to_json(&l.place)?,
                        "ledger": to_json(&l.ledger)?,
                    }))
                })
                .collect::<Result<Vec<_>>>()?;
            sqlx::query(
                "INSERT INTO evaluation_ledgers (subdistrict_code, ticket_id, place, ledger) \
                 SELECT x.subdistrict_code, x.ticket_id, x.place, x.ledger \
                 FROM jsonb_to_recordset($1) \
                   AS x(subdistrict_code text, ticket_id uuid, place text, ledger text) \
                 ON CONFLICT (subdistrict_code, ticket_id) \
                 DO UPDATE SET place = excluded.place, ledger = excluded.ledger",
            )
            .bind(serde_json::Value::Array(ledgers))
            .execute(&mut *tx)
            .await?;
        }
        if !step.evaluation.is_empty() {
            let rows: Vec<serde_json::Value> = step
                .evaluation
                .iter()
                .map(|(sub, key, figures)| {
                    let mut row = serde_json::Map::new();
                    row.insert("subdistrict_code".into(), sub.as_str().into());
                    row.insert("scope".into(), key.scope.as_str().into());
                    row.insert("day".into(), key.day.to_string().into());
                    row.insert("key".into(), key.key.clone().into());
                    row.insert("level".into(), key.level.map_or("", |l| l.as_str()).into());
                    row.insert("emergency".into(), key.emergency.into());
                    for (c, v) in figures.columns() {
                        row.insert(c.into(), v.into());
                    }
                    serde_json::Value::Object(row)
                })
                .collect();
            sqlx::query(ROLLUP_UPSERT.as_str())
                .bind(serde_json::Value::Array(rows))
                .execute(&mut *tx)
                .await?;
        }
        if !step.state_counts.is_empty() {
            let mut subs = Vec::new();
            let mut states = Vec::new();
            let mut ns = Vec::new();
            for (s, st, n) in &step.state_counts {
                subs.push(s.as_str().to_owned());
                states.push(st.as_str().to_owned());
                ns.push(*n);
            }
            sqlx::query(
                "INSERT INTO ticket_state_counts (subdistrict_code, state, n) \
                 SELECT * FROM unnest($1::text[], $2::text[], $3::int8[]) \
                 ON CONFLICT (subdistrict_code, state) \
                 DO UPDATE SET n = ticket_state_counts.n + excluded.n",
            )
            .bind(subs)
            .bind(states)
            .bind(ns)
            .execute(&mut *tx)
            .await?;
        }
        if !step.grid_open.is_empty() {
            let (mut subs, mut grids, mut ns) = (Vec::new(), Vec::new(), Vec::new());
            for (s, g, n) in &step.grid_open {
                subs.push(s.as_str().to_owned());
                grids.push(g.as_str().to_owned());
                ns.push(*n);
            }
            sqlx::query(
                "INSERT INTO grid_open_counts (subdistrict_code, grid_code, n) \
                 SELECT * FROM unnest($1::text[], $2::text[], $3::int8[]) \
                 ON CONFLICT (subdistrict_code, grid_code) \
                 DO UPDATE SET n = grid_open_counts.n + excluded.n",
            )
            .bind(subs)
            .bind(grids)
            .bind(ns)
            .execute(&mut *tx)
            .await?;
        }
        if !step.event_counts.is_empty() {
            let mut subs = Vec::new();
            let mut days = Vec::new();
            let mut kinds = Vec::new();
            let mut ns = Vec::new();
            for (s, d, k, n) in &step.event_counts {
                subs.push(s.as_str().to_owned());
                days.push(*d);
                kinds.push(k.as_str().to_owned());
                ns.push(*n);
            }
            sqlx::query(
                "INSERT INTO event_day_counts (subdistrict_code, day, kind, n) \
                 SELECT * FROM unnest($1::text[], $2::date[], $3::text[], $4::int8[]) \
                 ON CONFLICT (subdistrict_code, day, kind) \
                 DO UPDATE SET n = event_day_counts.n + excluded.n",
            )
            .bind(subs)
            .bind(days)
            .bind(kinds)
            .bind(ns)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn evaluation_totals(&self, query: &EvaluationQuery) -> Result<Vec<EvaluationTotals>> {
        let columns = figure_columns();
        let subs: Vec<String> = query
            .subdistrict_codes
            .iter()
            .map(|s| s.as_str().to_owned())
            .collect();
        let rows = sqlx::query(TOTALS.as_str())
            .bind(query.scope.as_str())
            .bind(query.from)
            .bind(query.until)
            .bind(subs)
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
             WHERE subdistrict_code = $1 AND n > 0 ORDER BY grid_code",
        )
        .bind(subdistrict.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(grid_count).collect()
    }

    async fn state_counts(&self, subdistrict: &AreaCode) -> Result<Vec<(TicketState, u64)>> {
        let rows = sqlx::query(
            "SELECT state, n FROM ticket_state_counts \
             WHERE subdistrict_code = $1 AND n > 0 ORDER BY state",
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
        let kinds: Vec<String> = kinds.iter().map(|k| k.as_str().to_owned()).collect();
        let n: i64 = sqlx::query_scalar(
            "SELECT COALESCE(SUM(n), 0)::int8 FROM event_day_counts \
             WHERE subdistrict_code = $1 AND day = $2 AND kind = ANY($3)",
        )
        .bind(subdistrict.as_str())
        .bind(day)
        .bind(kinds)
        .fetch_one(&self.pool)
        .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn reset_rollups(&self) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "TRUNCATE evaluation_ledgers, evaluation_rollups, ticket_state_counts, \
             grid_open_counts, event_day_counts",
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE projection_cursors SET cursor = 0 WHERE name = $1")
            .bind(ROLLUPS)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// A `grid_open_counts` row: the grid and its count.
fn grid_count(r: &sqlx::postgres::PgRow) -> Result<(AreaCode, u64)> {
    let n: i64 = r.try_get("n")?;
    Ok((
        crate::codec::code("grid_code", r.try_get("grid_code")?)?,
        u64::try_from(n).unwrap_or(0),
    ))
}
