//! [`AreaStore`] on SQLite: areas with their geometry as WKB in a BLOB and their bbox in
//! four columns, which is all the bbox filter reads (there is no spatial index here; the
//! processes keep their own). [`area_levels`] also serves the roster's post checks.

use std::collections::HashMap;

use async_trait::async_trait;
use sqlx::{Row, Sqlite, SqliteConnection};
use time::OffsetDateTime;
use wuzhang_domain::area::{Area, AreaCode, AreaLevel};

use super::rows::{area, area_record};
use super::{SqliteStore, json_list};
use crate::codec::{self, from_micros};
use crate::error::{Result, StoreError};
use crate::interface::AreaStore;
use crate::model::{AreaQuery, AreaRecord, Page, PageRequest};
use crate::query::Dialect;
use crate::token::{PageKey, into_page};
use crate::validate;

/// Stored code → level, for parent and post checks.
pub(super) async fn area_levels(
    conn: &mut SqliteConnection,
    codes: &[String],
) -> Result<HashMap<String, AreaLevel>> {
    let mut levels = HashMap::with_capacity(codes.len());
    if codes.is_empty() {
        return Ok(levels);
    }
    let rows = sqlx::query(
        "SELECT code, level FROM areas WHERE code IN (SELECT value FROM json_each(?1))",
    )
    .bind(json_list(codes.iter().map(String::as_str)))
    .fetch_all(conn)
    .await?;
    for row in rows {
        let level: String = row.try_get("level")?;
        levels.insert(
            row.try_get("code")?,
            codec::parse::<AreaLevel>("level", &level)?,
        );
    }
    Ok(levels)
}

#[async_trait]
impl AreaStore for SqliteStore {
    #[tracing::instrument(skip_all, level = "debug", fields(count = areas.len()))]
    async fn upsert_areas(&self, areas: &[AreaRecord]) -> Result<i64> {
        let batch = validate::area_batch(areas)?;
        let mut tx = self.begin_write().await?;
        if !batch.outside_parents.is_empty() {
            let codes: Vec<String> = batch.outside_parents.keys().cloned().collect();
            let stored = area_levels(&mut tx, &codes).await?;
            validate::check_outside_parents(&batch, &stored)?;
        }
        let now = codec::to_micros(sqlite_now(&mut tx).await?);
        for a in &batch.rows {
            sqlx::query(
                "INSERT INTO areas (code, name, level, parent_code, community, \
                     min_lng, min_lat, max_lng, max_lat, geom, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
                 ON CONFLICT (code) DO UPDATE SET name = excluded.name, level = excluded.level, \
                     parent_code = excluded.parent_code, community = excluded.community, \
                     min_lng = excluded.min_lng, min_lat = excluded.min_lat, \
                     max_lng = excluded.max_lng, max_lat = excluded.max_lat, \
                     geom = excluded.geom, updated_at = excluded.updated_at",
            )
            .bind(&a.code)
            .bind(&a.name)
            .bind(&a.level)
            .bind(&a.parent_code)
            .bind(&a.community)
            .bind(a.min_lng)
            .bind(a.min_lat)
            .bind(a.max_lng)
            .bind(a.max_lat)
            .bind(&a.geom)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        let counter: i64 = sqlx::query_scalar(
            "UPDATE area_changes SET counter = counter + 1 WHERE id = 1 RETURNING counter",
        )
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(counter)
    }

    #[tracing::instrument(skip_all, level = "debug", fields(code = %code))]
    async fn get_area(&self, code: &AreaCode) -> Result<Area> {
        let row = sqlx::query(
            "SELECT code, name, level, parent_code, community, min_lng, min_lat, max_lng, \
             max_lat FROM areas WHERE code = ?1",
        )
        .bind(code.as_str())
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::not_found("area", code))?;
        area(&row)
    }

    #[tracing::instrument(skip_all, level = "debug", fields(count = codes.len()))]
    async fn get_areas(&self, codes: &[AreaCode]) -> Result<Vec<Area>> {
        let rows = sqlx::query(
            "SELECT code, name, level, parent_code, community, min_lng, min_lat, max_lng, \
             max_lat FROM areas WHERE code IN (SELECT value FROM json_each(?1)) ORDER BY code",
        )
        .bind(json_list(codes.iter().map(AreaCode::as_str)))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(area).collect()
    }

    #[tracing::instrument(skip_all, level = "debug", fields(code = %code))]
    async fn get_area_record(&self, code: &AreaCode) -> Result<AreaRecord> {
        let row = sqlx::query(
            "SELECT code, name, level, parent_code, community, min_lng, min_lat, max_lng, \
             max_lat, geom FROM areas WHERE code = ?1",
        )
        .bind(code.as_str())
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::not_found("area", code))?;
        area_record(&row)
    }

    #[tracing::instrument(skip_all, level = "debug", fields(?query))]
    async fn list_areas(&self, query: &AreaQuery, page: &PageRequest) -> Result<Page<Area>> {
        let (mut qb, size) = Sqlite::list_areas(query, page)?;
        let rows = qb.build().fetch_all(&self.pool).await?;
        let items = rows.iter().map(area).collect::<Result<Vec<_>>>()?;
        Ok(into_page(items, size, |a| PageKey::Area {
            code: a.code.as_str().to_owned(),
        }))
    }

    #[tracing::instrument(skip_all, level = "debug")]
    async fn count_areas_capped(&self, query: &AreaQuery, cap: u64) -> Result<u64> {
        let mut qb = Sqlite::count_areas_capped(query, cap)?;
        let n: i64 = qb.build_query_scalar().fetch_one(&self.pool).await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    #[tracing::instrument(skip_all, level = "debug", fields(?levels))]
    async fn load_area_records(&self, levels: &[AreaLevel]) -> Result<Vec<AreaRecord>> {
        let rows = sqlx::query(
            "SELECT code, name, level, parent_code, community, min_lng, min_lat, max_lng, \
             max_lat, geom FROM areas \
             WHERE json_array_length(?1) = 0 OR level IN (SELECT value FROM json_each(?1)) \
             ORDER BY code",
        )
        .bind(json_list(levels.iter().map(|l| l.as_str())))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(area_record).collect()
    }

    #[tracing::instrument(skip_all, level = "debug", fields(?levels))]
    async fn load_areas(&self, levels: &[AreaLevel]) -> Result<Vec<Area>> {
        let rows = sqlx::query(
            "SELECT code, name, level, parent_code, community, min_lng, min_lat, max_lng, \
             max_lat FROM areas \
             WHERE json_array_length(?1) = 0 OR level IN (SELECT value FROM json_each(?1)) \
             ORDER BY code",
        )
        .bind(json_list(levels.iter().map(|l| l.as_str())))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(area).collect()
    }

    #[tracing::instrument(skip_all, level = "debug", fields(code = %code))]
    async fn lineage(&self, code: &AreaCode) -> Result<Vec<Area>> {
        // Depth-bounded: levels strictly nest, so a real chain is at most 7 long.
        let rows = sqlx::query(
            "WITH RECURSIVE up (code, parent_code, depth) AS ( \
                 SELECT code, parent_code, 0 FROM areas WHERE code = ?1 \
                 UNION ALL \
                 SELECT a.code, a.parent_code, up.depth + 1 \
                 FROM areas a JOIN up ON a.code = up.parent_code WHERE up.depth < 16) \
             SELECT a.code, a.name, a.level, a.parent_code, a.community, a.min_lng, \
                 a.min_lat, a.max_lng, a.max_lat \
             FROM up JOIN areas a ON a.code = up.code ORDER BY up.depth",
        )
        .bind(code.as_str())
        .fetch_all(&self.pool)
        .await?;
        if rows.is_empty() {
            return Err(StoreError::not_found("area", code));
        }
        rows.iter().map(area).collect()
    }

    async fn subtree(&self, code: &AreaCode, down_to: AreaLevel) -> Result<Vec<Area>> {
        // Depth-bounded as `lineage`: levels strictly nest. The levels below `down_to`
        // are not walked (a subdistrict's units outnumber its grids a hundredfold).
        let levels: Vec<&str> = AreaLevel::ALL
            .into_iter()
            .filter(|l| *l <= down_to)
            .map(AreaLevel::as_str)
            .collect();
        let rows = sqlx::query(
            // Columns read where the walk finds each area, as on Postgres.
            "WITH RECURSIVE down AS ( \
                 SELECT code, name, level, parent_code, community, min_lng, min_lat, \
                     max_lng, max_lat, 0 AS depth \
                 FROM areas WHERE code = ?1 \
                 UNION ALL \
                 SELECT a.code, a.name, a.level, a.parent_code, a.community, a.min_lng, \
                     a.min_lat, a.max_lng, a.max_lat, down.depth + 1 \
                 FROM areas a JOIN down ON a.parent_code = down.code \
                 WHERE down.depth < 16 AND a.level IN (SELECT value FROM json_each(?2))) \
             SELECT code, name, level, parent_code, community, min_lng, min_lat, max_lng, \
                 max_lat \
             FROM down ORDER BY code",
        )
        .bind(code.as_str())
        .bind(json_list(levels))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(area).collect()
    }

    async fn make_valid(&self, _geometries: &[Vec<u8>]) -> Result<Option<Vec<Vec<u8>>>> {
        // No spatial functions here: the caller repairs in process.
        Ok(None)
    }

    #[tracing::instrument(skip_all, level = "debug")]
    async fn area_change_counter(&self) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT counter FROM area_changes WHERE id = 1")
                .fetch_one(&self.pool)
                .await?,
        )
    }
}

/// The database's clock, for the `updated_at` bookkeeping of areas (not part of any
/// answer, so it need not come from the injected clock).
async fn sqlite_now(conn: &mut SqliteConnection) -> Result<OffsetDateTime> {
    let micros: i64 = sqlx::query_scalar("SELECT CAST(unixepoch('subsec') * 1000000 AS INTEGER)")
        .fetch_one(conn)
        .await?;
    from_micros("updated_at", micros)
}
