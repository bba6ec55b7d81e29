//! [`AreaStore`] on PostgreSQL + PostGIS: geometry is a PostGIS MultiPolygon (written
//! from WKB, read back with `ST_AsBinary`), imports write a thousand areas per statement
//! with UNNEST, and PostGIS repairs geometries (`make_valid`). [`area_levels`] also serves
//! the roster's post checks.

use std::collections::HashMap;

use async_trait::async_trait;
use sqlx::{PgConnection, Postgres, Row};
use wuzhang_domain::area::{Area, AreaCode, AreaLevel};

use super::rows::{area, area_record};
use super::{PostgresStore, strings};
use crate::error::{Result, StoreError};
use crate::interface::AreaStore;
use crate::model::{AreaQuery, AreaRecord, Page, PageRequest};
use crate::query::Dialect;
use crate::token::{PageKey, into_page};
use crate::{codec, validate};

/// Stored code → level, for parent and post checks.
pub(super) async fn area_levels(
    conn: &mut PgConnection,
    codes: &[String],
) -> Result<HashMap<String, AreaLevel>> {
    let mut levels = HashMap::with_capacity(codes.len());
    if codes.is_empty() {
        return Ok(levels);
    }
    let rows = sqlx::query("SELECT code, level FROM areas WHERE code = ANY($1)")
        .bind(codes)
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
impl AreaStore for PostgresStore {
    #[tracing::instrument(skip_all, level = "debug", fields(count = areas.len()))]
    async fn upsert_areas(&self, areas: &[AreaRecord]) -> Result<i64> {
        let batch = validate::area_batch(areas)?;
        let mut tx = self.pool.begin().await?;
        if !batch.outside_parents.is_empty() {
            let codes: Vec<String> = batch.outside_parents.keys().cloned().collect();
            let stored = area_levels(&mut tx, &codes).await?;
            validate::check_outside_parents(&batch, &stored)?;
        }
        // UNNEST inserts a chunk per statement: imports bring tens of thousands of grids.
        for chunk in batch.rows.chunks(1000) {
            let mut cols: (Vec<_>, Vec<_>, Vec<_>, Vec<_>, Vec<_>) = Default::default();
            let mut bbox: (Vec<_>, Vec<_>, Vec<_>, Vec<_>) = Default::default();
            let mut geoms = Vec::with_capacity(chunk.len());
            for a in chunk {
                cols.0.push(a.code.clone());
                cols.1.push(a.name.clone());
                cols.2.push(a.level.clone());
                cols.3.push(a.parent_code.clone());
                cols.4.push(a.community.clone());
                bbox.0.push(a.min_lng);
                bbox.1.push(a.min_lat);
                bbox.2.push(a.max_lng);
                bbox.3.push(a.max_lat);
                geoms.push(a.geom.clone());
            }
            sqlx::query(
                "INSERT INTO areas (code, name, level, parent_code, community, \
                     min_lng, min_lat, max_lng, max_lat, geom, updated_at) \
                 SELECT code, name, level, parent_code, community, \
                     min_lng, min_lat, max_lng, max_lat, ST_Multi(ST_GeomFromWKB(wkb, 4326)), now() \
                 FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], \
                     $6::float8[], $7::float8[], $8::float8[], $9::float8[], $10::bytea[]) \
                     AS u(code, name, level, parent_code, community, \
                          min_lng, min_lat, max_lng, max_lat, wkb) \
                 ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, level = EXCLUDED.level, \
                     parent_code = EXCLUDED.parent_code, community = EXCLUDED.community, \
                     min_lng = EXCLUDED.min_lng, min_lat = EXCLUDED.min_lat, \
                     max_lng = EXCLUDED.max_lng, max_lat = EXCLUDED.max_lat, \
                     geom = EXCLUDED.geom, updated_at = EXCLUDED.updated_at",
            )
            .bind(cols.0)
            .bind(cols.1)
            .bind(cols.2)
            .bind(cols.3)
            .bind(cols.4)
            .bind(bbox.0)
            .bind(bbox.1)
            .bind(bbox.2)
            .bind(bbox.3)
            .bind(geoms)
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
             max_lat FROM areas WHERE code = $1",
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
             max_lat FROM areas WHERE code = ANY($1) ORDER BY code",
        )
        .bind(strings(codes.iter().map(AreaCode::as_str)))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(area).collect()
    }

    #[tracing::instrument(skip_all, level = "debug", fields(code = %code))]
    async fn get_area_record(&self, code: &AreaCode) -> Result<AreaRecord> {
        let row = sqlx::query(
            "SELECT code, name, level, parent_code, community, min_lng, min_lat, max_lng, \
             max_lat, ST_AsBinary(geom) AS geom FROM areas WHERE code = $1",
        )
        .bind(code.as_str())
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::not_found("area", code))?;
        area_record(&row)
    }

    #[tracing::instrument(skip_all, level = "debug", fields(?query))]
    async fn list_areas(&self, query: &AreaQuery, page: &PageRequest) -> Result<Page<Area>> {
        let (mut qb, size) = Postgres::list_areas(query, page)?;
        let rows = qb.build().fetch_all(&self.pool).await?;
        let items = rows.iter().map(area).collect::<Result<Vec<_>>>()?;
        Ok(into_page(items, size, |a| PageKey::Area {
            code: a.code.as_str().to_owned(),
        }))
    }

    #[tracing::instrument(skip_all, level = "debug")]
    async fn count_areas_capped(&self, query: &AreaQuery, cap: u64) -> Result<u64> {
        let mut qb = Postgres::count_areas_capped(query, cap)?;
        let n: i64 = qb.build_query_scalar().fetch_one(&self.pool).await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    #[tracing::instrument(skip_all, level = "debug", fields(?levels))]
    async fn load_area_records(&self, levels: &[AreaLevel]) -> Result<Vec<AreaRecord>> {
        let levels = strings(levels.iter().map(|l| l.as_str()));
        let rows = sqlx::query(
            "SELECT code, name, level, parent_code, community, min_lng, min_lat, max_lng, \
             max_lat, ST_AsBinary(geom) AS geom FROM areas \
             WHERE cardinality($1::text[]) = 0 OR level = ANY($1) ORDER BY code",
        )
        .bind(levels)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(area_record).collect()
    }

    #[tracing::instrument(skip_all, level = "debug", fields(?levels))]
    async fn load_areas(&self, levels: &[AreaLevel]) -> Result<Vec<Area>> {
        let levels = strings(levels.iter().map(|l| l.as_str()));
        let rows = sqlx::query(
            "SELECT code, name, level, parent_code, community, min_lng, min_lat, max_lng, \
             max_lat FROM areas \
             WHERE cardinality($1::text[]) = 0 OR level = ANY($1) ORDER BY code",
        )
        .bind(levels)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(area).collect()
    }

    #[tracing::instrument(skip_all, level = "debug", fields(code = %code))]
    async fn lineage(&self, code: &AreaCode) -> Result<Vec<Area>> {
        // Depth-bounded: levels strictly nest, so a real chain is at most 7 long.
        let rows = sqlx::query(
            "WITH RECURSIVE up (code, parent_code, depth) AS ( \
                 SELECT code, parent_code, 0 FROM areas WHERE code = $1 \
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
        // Each area's columns are read where the walk finds it (the children index, then
        // the row), not looked up again by code afterwards: a subdistrict's 44,000 areas
        // down to its units cost one lookup each instead of two.
        let rows = sqlx::query(
            "WITH RECURSIVE down AS ( \
                 SELECT code, name, level, parent_code, community, min_lng, min_lat, \
                     max_lng, max_lat, 0 AS depth \
                 FROM areas WHERE code = $1 \
                 UNION ALL \
                 SELECT a.code, a.name, a.level, a.parent_code, a.community, a.min_lng, \
                     a.min_lat, a.max_lng, a.max_lat, down.depth + 1 \
                 FROM areas a JOIN down ON a.parent_code = down.code \
                 WHERE down.depth < 16 AND a.level = ANY($2)) \
             SELECT code, name, level, parent_code, community, min_lng, min_lat, max_lng, \
                 max_lat \
             FROM down ORDER BY code",
        )
        .bind(code.as_str())
        .bind(strings(levels))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(area).collect()
    }

    #[tracing::instrument(skip_all, level = "debug", fields(count = geometries.len()))]
    async fn make_valid(&self, geometries: &[Vec<u8>]) -> Result<Option<Vec<Vec<u8>>>> {
        if geometries.is_empty() {
            return Ok(Some(Vec::new()));
        }
        // `method=structure` (GEOS ≥ 3.10) unions shells and subtracts holes. The default
        // `linework` method keeps self-overlapping spikes as extra area, which on the real
        // Changchun boundaries made neighbouring districts overlap by up to 17,000 m².
        let rows = sqlx::query(
            "SELECT ST_AsBinary(ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_GeomFromWKB(w, 4326), 'method=structure'), 3))) \
             FROM UNNEST($1::bytea[]) WITH ORDINALITY AS t(w, i) ORDER BY i",
        )
        .bind(geometries)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| match e {
            // Unparseable WKB is the caller's input, not our failure.
            sqlx::Error::Database(db) if db.code().as_deref() == Some("XX000") => {
                StoreError::invalid("geometry_wkb", db.message().to_owned())
            }
            other => other.into(),
        })?;
        Ok(Some(rows.iter().map(|r| r.get::<Vec<u8>, _>(0)).collect()))
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
