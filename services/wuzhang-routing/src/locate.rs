//! From a reported point to a grid, a building and the chain of chiefs above them.

use std::collections::HashMap;
use std::sync::Arc;
use wuzhang_app::ApiError;
use wuzhang_domain::area::{Area, AreaCode, AreaLevel};
use wuzhang_domain::chief::{ChiefLevel, Person, PersonId};
use wuzhang_domain::clock::Clock;
use wuzhang_domain::point::GeoPoint;
use wuzhang_store::{ReferenceCache, Store, StoreError};

use crate::AreaIndex;
use crate::index::Snapshot;

/// What a resident's report names about where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct LocateQuery {
    /// As reported, in its own CRS.
    pub point: GeoPoint,
    /// A building the resident picked; it wins over the point's footprint lookup.
    pub building_code: Option<AreaCode>,
    /// A unit of that building, from the resident's address.
    pub unit_code: Option<AreaCode>,
}

/// One level of the chain as it stands now.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainLink {
    pub level: ChiefLevel,
    pub area: Area,
    /// Who acts for the post now; `None` when vacant (or, at the command center, when the
    /// center acts as a desk with no named head).
    pub person: Option<Person>,
    /// The acting person is the deputy (the holder is away or there is none).
    pub deputy: bool,
    /// No one acts for this post now: routing skips it and the command center is told.
    pub vacant: bool,
}

/// Where a point is.
#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    /// The point in WGS84, as routing used it.
    pub wgs84: GeoPoint,
    pub grid: Area,
    pub building: Option<Area>,
    pub unit: Option<Area>,
    pub subdistrict: Area,
    /// From the lowest level known (unit, else building, else grid) up to the command
    /// center.
    pub chain: Vec<ChainLink>,
    /// Set when no grid contains the point and the nearest one within the tolerance was
    /// taken: how far away it was, in metres.
    pub fallback_distance_m: Option<f64>,
}

/// Locates points against the current [`AreaIndex`] (areas and lineage come from the same
/// snapshot as the point's grid) and the roster, cached in a [`ReferenceCache`].
#[derive(Debug, Clone)]
pub struct Locator {
    store: Arc<dyn Store>,
    index: AreaIndex,
    roster: ReferenceCache,
    clock: Arc<dyn Clock>,
    /// A point outside every grid but within this many metres of one is placed in it.
    tolerance_m: f64,
}

impl Locator {
    pub fn new(
        store: Arc<dyn Store>,
        index: AreaIndex,
        roster: ReferenceCache,
        clock: Arc<dyn Clock>,
        tolerance_m: f64,
    ) -> Self {
        Self {
            store,
            index,
            roster,
            clock,
            tolerance_m,
        }
    }

    pub fn index(&self) -> &AreaIndex {
        &self.index
    }

    /// The clock vacancies are judged by.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub async fn locate(&self, q: &LocateQuery) -> Result<Location, ApiError> {
        let wgs84 = wuzhang_spatial::crs::to_wgs84(q.point);
        let snapshot = self.index.snapshot();

        let named_building = match &q.building_code {
            Some(code) => Some(
                self.area_of_level(&snapshot, code, AreaLevel::Building, "building_code")
                    .await?,
            ),
            None => None,
        };
        let (grid_code, fallback_distance_m) = match &named_building {
            // The resident named their building: its grid is the grid, wherever GPS put them.
            Some(b) => (
                b.parent_code.clone().ok_or_else(|| {
                    ApiError::FailedPrecondition(format!("building {} has no grid", b.code))
                })?,
                None,
            ),
            None => {
                let hit = snapshot
                    .grids
                    .locate_or_nearest(wgs84.lng(), wgs84.lat(), self.tolerance_m)
                    .ok_or_else(|| {
                        ApiError::NotFound(format!(
                            "no grid at ({:.6}, {:.6}) or within {} m of it",
                            wgs84.lat(),
                            wgs84.lng(),
                            self.tolerance_m
                        ))
                    })?;
                (hit.area_code(), hit.fallback_distance_m)
            }
        };
        let building = match named_building {
            Some(b) => Some(b),
            None => match snapshot.buildings.locate(wgs84.lng(), wgs84.lat()) {
                // A footprint counts only if it belongs to the grid we found.
                // The snapshot that found the footprint has its area.
                Some(hit) => snapshot
                    .area(&hit.area_code())
                    .filter(|b| b.parent_code.as_ref() == Some(&grid_code))
                    .cloned(),
                None => None,
            },
        };
        let unit = match &q.unit_code {
            Some(code) => {
                let unit = self
                    .area_of_level(&snapshot, code, AreaLevel::Unit, "unit_code")
                    .await?;
                let Some(b) = &building else {
                    return Err(ApiError::invalid(
                        "unit_code",
                        "a unit needs its building (building_code)",
                    ));
                };
                if unit.parent_code.as_ref() != Some(&b.code) {
                    return Err(ApiError::invalid(
                        "unit_code",
                        format!("unit {} is not in building {}", unit.code, b.code),
                    ));
                }
                Some(unit)
            }
            None => None,
        };

        let lowest = unit
            .as_ref()
            .or(building.as_ref())
            .map_or(&grid_code, |a| &a.code);
        let lineage = match snapshot.lineage(lowest) {
            Some(lineage) => lineage,
            // Named by the resident and newer than the snapshot: ask the store.
            None => self.store.lineage(lowest).await?,
        };
        let grid = lineage
            .iter()
            .find(|a| a.code == grid_code)
            .cloned()
            .ok_or_else(|| {
                ApiError::internal(format!("grid {grid_code} missing from its own lineage"))
            })?;
        let subdistrict = lineage
            .iter()
            .find(|a| a.level == AreaLevel::Subdistrict)
            .cloned()
            .ok_or_else(|| {
                ApiError::FailedPrecondition(format!("grid {grid_code} is not under a subdistrict"))
            })?;
        let chain = self.chain(&lineage).await?;
        Ok(Location {
            wgs84,
            grid,
            building,
            unit,
            subdistrict,
            chain,
            fallback_distance_m,
        })
    }

    /// The chain of posts over `lineage` (lowest first), with who acts for each now (from
    /// the cached posts, at this moment: leave starts and ends without a roster change).
    async fn chain(&self, lineage: &[Area]) -> Result<Vec<ChainLink>, ApiError> {
        let now = self.clock.now();
        let with_posts: Vec<&Area> = lineage
            .iter()
            .filter(|a| a.level.chief_level().is_some())
            .collect();
        let codes: Vec<AreaCode> = with_posts.iter().map(|a| a.code.clone()).collect();
        let posts: HashMap<AreaCode, _> = self
            .roster
            .posts_for_areas(&codes)
            .await?
            .into_iter()
            .map(|p| (p.area_code.clone(), p))
            .collect();
        let acting: Vec<(AreaCode, PersonId, bool)> = posts
            .values()
            .filter_map(|p| {
                p.acting(now).map(|who| {
                    (
                        p.area_code.clone(),
                        who.clone(),
                        p.holder.as_ref() != Some(who),
                    )
                })
            })
            .collect();
        let ids: Vec<PersonId> = acting.iter().map(|(_, id, _)| id.clone()).collect();
        let persons: HashMap<PersonId, Person> = self
            .roster
            .get_persons(&ids)
            .await?
            .into_iter()
            .map(|p| (p.id.clone(), p))
            .collect();
        let acting: HashMap<AreaCode, (PersonId, bool)> = acting
            .into_iter()
            .map(|(area, id, deputy)| (area, (id, deputy)))
            .collect();

        Ok(with_posts
            .into_iter()
            .filter_map(|area| {
                let level = area.level.chief_level()?;
                let who = acting.get(&area.code);
                let person = who.and_then(|(id, _)| persons.get(id).cloned());
                Some(ChainLink {
                    level,
                    area: area.clone(),
                    deputy: who.is_some_and(|(_, d)| *d),
                    // The command center is a desk: it is never vacant.
                    vacant: person.is_none() && level != ChiefLevel::CommandCenter,
                    person,
                })
            })
            .collect())
    }

    /// The area named by a resident, from the snapshot, or from the store if it is newer
    /// than the snapshot.
    async fn area_of_level(
        &self,
        snapshot: &Snapshot,
        code: &AreaCode,
        level: AreaLevel,
        field: &'static str,
    ) -> Result<Area, ApiError> {
        let found = match snapshot.area(code) {
            Some(a) => Ok(a.clone()),
            None => self.store.get_area(code).await,
        };
        match found {
            Ok(a) if a.level == level => Ok(a),
            Ok(a) => Err(ApiError::invalid(
                field,
                format!("{} is a {}, not a {level}", a.code, a.level),
            )),
            Err(StoreError::NotFound { .. }) => {
                Err(ApiError::invalid(field, format!("unknown {level} {code}")))
            }
            Err(e) => Err(e.into()),
        }
    }
}
