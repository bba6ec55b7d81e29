//! [`AreaStore`]: the administrative areas with their geometry, the tree they form
//! (lineage) and the change counter the in-process spatial indexes follow.

use async_trait::async_trait;
use wuzhang_domain::area::{Area, AreaCode, AreaLevel};

use crate::error::Result;
use crate::model::{AreaQuery, AreaRecord, Page, PageRequest};

/// Areas and what the area index is built from.
#[async_trait]
pub trait AreaStore: Send + Sync {
    /// Inserts or replaces `areas` by code, all or nothing, and bumps the area change
    /// counter once. Parents may come in the same batch in any order; a parent that is
    /// neither stored nor in the batch, or is not of the level above
    /// ([`Area::check_parent`]), is [`StoreError::Invalid`] (field `parent_code`), as is
    /// anything [`Area::validate`] refuses and a code given twice (field `code`).
    /// Geometry must be a 2D Polygon or MultiPolygon in WKB (else field `geometry_wkb`);
    /// it is stored as a MultiPolygon, and an area given without a bbox gets the envelope
    /// of its geometry. Returns the new value of the change counter.
    ///
    /// [`StoreError::Invalid`]: crate::StoreError::Invalid
    async fn upsert_areas(&self, areas: &[AreaRecord]) -> Result<i64>;

    /// One area without its geometry. NotFound if absent.
    async fn get_area(&self, code: &AreaCode) -> Result<Area>;

    /// Areas by code, without geometry, ordered by code; codes not found are left out.
    /// Imports use it to check parents and post areas in one round trip per batch.
    async fn get_areas(&self, codes: &[AreaCode]) -> Result<Vec<Area>>;

    /// One area with its geometry. NotFound if absent.
    async fn get_area_record(&self, code: &AreaCode) -> Result<AreaRecord>;

    /// Areas matching `query`, ordered by code, paged.
    async fn list_areas(&self, query: &AreaQuery, page: &PageRequest) -> Result<Page<Area>>;

    /// How many areas match `query` (as [`list_areas`](Self::list_areas) filters them),
    /// counted up to `cap + 1` and no further, so a listing's total costs the same over a
    /// city of any size: a result above `cap` means "more than `cap`".
    async fn count_areas_capped(&self, query: &AreaQuery, cap: u64) -> Result<u64>;

    /// Every area of the given levels (all areas if `levels` is empty) with its geometry,
    /// ordered by code: what the spatial index is built from. Postgres gives the geometry
    /// back in its own encoding (little-endian WKB on usual hardware).
    async fn load_area_records(&self, levels: &[AreaLevel]) -> Result<Vec<AreaRecord>>;

    /// Every area of the given levels (all areas if `levels` is empty) without its
    /// geometry, ordered by code: what processes keep in memory beside the spatial index.
    async fn load_areas(&self, levels: &[AreaLevel]) -> Result<Vec<Area>>;

    /// The area and its ancestors, itself first, up to the root. NotFound if `code` is absent.
    async fn lineage(&self, code: &AreaCode) -> Result<Vec<Area>>;

    /// The area and every area below it down to `down_to` (inclusive), without geometry,
    /// ordered by code (one query whatever the depth: a campaign fans out over a
    /// subdistrict's units with it; the overview stops at the grids). Empty if `code` is
    /// absent.
    async fn subtree(&self, code: &AreaCode, down_to: AreaLevel) -> Result<Vec<Area>>;

    /// Repairs polygon geometries (OGC WKB) with the database's own tool, returning
    /// polygonal WKB in the same order: PostGIS `ST_MakeValid`, keeping only its polygonal
    /// parts. `None` when the backend has no such tool (SQLite): callers repair in process.
    async fn make_valid(&self, geometries: &[Vec<u8>]) -> Result<Option<Vec<Vec<u8>>>>;

    /// A number that grows whenever areas change; processes poll it to rebuild their index.
    async fn area_change_counter(&self) -> Result<i64>;
}
