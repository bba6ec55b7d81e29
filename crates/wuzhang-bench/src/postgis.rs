//! Grids in PostGIS, looked up by the same rule as `wuzhang_spatial::GridIndex`: among
//! the grids whose closed polygon contains the point, the smallest code (byte order).

use geo::MultiPolygon;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, Row};
use std::str::FromStr;
use wuzhang_domain::area::AreaCode;
use wuzhang_spatial::wkb_io::multipolygon_to_wkb;

/// A scratch schema holding one `grids` table; dropped by [`Scratch::drop_schema`].
#[derive(Debug, Clone)]
pub struct Scratch {
    pub pool: PgPool,
    pub schema: String,
}

impl Scratch {
    /// A new schema on `url` whose connections see it first and PostGIS in `public`.
    pub async fn create(url: &str, connections: u32) -> anyhow::Result<Scratch> {
        let schema = format!("bench_{:016x}", rand::random::<u64>());
        let admin = PgPool::connect(url).await?;
        // The name is ours: a fixed prefix and hex digits.
        sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&admin)
            .await?;
        admin.close().await;
        let options =
            PgConnectOptions::from_str(url)?.options([("search_path", format!("{schema},public"))]);
        let pool = PgPoolOptions::new()
            .max_connections(connections)
            .connect_with(options)
            .await?;
        sqlx::query(
            "CREATE TABLE grids (code TEXT COLLATE \"C\" PRIMARY KEY, \
             geom geometry(MultiPolygon, 4326) NOT NULL)",
        )
        .execute(&pool)
        .await?;
        Ok(Scratch { pool, schema })
    }

    /// Loads grids in batches, then builds the GiST index (faster than indexing as rows
    /// arrive) and analyses the table so the planner uses it.
    pub async fn load(
        &self,
        grids: impl IntoIterator<Item = (AreaCode, MultiPolygon<f64>)>,
    ) -> anyhow::Result<usize> {
        const BATCH: usize = 10_000;
        let mut codes = Vec::with_capacity(BATCH);
        let mut wkbs = Vec::with_capacity(BATCH);
        let mut total = 0;
        for (code, mp) in grids {
            codes.push(code.as_str().to_owned());
            wkbs.push(multipolygon_to_wkb(&mp));
            if codes.len() == BATCH {
                total += self.insert(&mut codes, &mut wkbs).await?;
            }
        }
        total += self.insert(&mut codes, &mut wkbs).await?;
        sqlx::query("CREATE INDEX grids_geom ON grids USING GIST (geom)")
            .execute(&self.pool)
            .await?;
        sqlx::query("ANALYZE grids").execute(&self.pool).await?;
        Ok(total)
    }

    async fn insert(
        &self,
        codes: &mut Vec<String>,
        wkbs: &mut Vec<Vec<u8>>,
    ) -> anyhow::Result<usize> {
        if codes.is_empty() {
            return Ok(0);
        }
        let n = codes.len();
        sqlx::query(
            "INSERT INTO grids (code, geom) \
             SELECT c, ST_Multi(ST_GeomFromWKB(w, 4326)) FROM UNNEST($1::text[], $2::bytea[]) AS t(c, w)",
        )
        .bind(&*codes)
        .bind(&*wkbs)
        .execute(&self.pool)
        .await?;
        codes.clear();
        wkbs.clear();
        Ok(n)
    }

    /// One lookup, one round trip: what a service without an in-memory index would do.
    /// `contains` uses `ST_Contains` (interior only, as a plain PostGIS lookup would);
    /// otherwise `ST_Intersects` with the border rule, which matches the index exactly.
    pub async fn locate(
        &self,
        lng: f64,
        lat: f64,
        contains: bool,
    ) -> anyhow::Result<Option<String>> {
        let sql = if contains {
            "SELECT code FROM grids WHERE ST_Contains(geom, ST_SetSRID(ST_MakePoint($1, $2), 4326)) \
             ORDER BY code LIMIT 1"
        } else {
            "SELECT code FROM grids WHERE ST_Intersects(geom, ST_SetSRID(ST_MakePoint($1, $2), 4326)) \
             ORDER BY code LIMIT 1"
        };
        let row = sqlx::query(sql)
            .bind(lng)
            .bind(lat)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.get::<String, _>(0)))
    }

    /// Many lookups in one statement (PostGIS work without per-query round trips), by the
    /// border rule. Answers in the order of `points`.
    pub async fn locate_many(&self, points: &[(f64, f64)]) -> anyhow::Result<Vec<Option<String>>> {
        let lngs: Vec<f64> = points.iter().map(|p| p.0).collect();
        let lats: Vec<f64> = points.iter().map(|p| p.1).collect();
        let rows = sqlx::query(
            "SELECT q.i, g.code FROM UNNEST($1::float8[], $2::float8[]) WITH ORDINALITY AS q(lng, lat, i) \
             LEFT JOIN LATERAL ( \
               SELECT code FROM grids \
               WHERE ST_Intersects(geom, ST_SetSRID(ST_MakePoint(q.lng, q.lat), 4326)) \
               ORDER BY code LIMIT 1) g ON true \
             ORDER BY q.i",
        )
        .bind(&lngs)
        .bind(&lats)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| r.get::<Option<String>, _>(1))
            .collect())
    }

    pub async fn drop_schema(self) -> anyhow::Result<()> {
        sqlx::query(AssertSqlSafe(format!(
            "DROP SCHEMA {} CASCADE",
            self.schema
        )))
        .execute(&self.pool)
        .await?;
        self.pool.close().await;
        Ok(())
    }
}
