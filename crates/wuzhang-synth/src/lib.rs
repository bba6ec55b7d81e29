//! A synthetic but complete area tree over the real Changchun districts, with a roster to
//! staff it, for the demo, tests and benchmarks. [`generate`] repairs each published
//! district boundary (they are all invalid as delivered), splits it into its real
//! subdistricts (from `divisions.csv`) as vertical bands of unit-lattice columns, the
//! subdistricts into streets (horizontal bands) and the streets into lanes (vertical
//! bands), fills it with ~100 m unit grids coded GB/T 30428.1 style under the real
//! communities, and puts buildings with units in the grids that are whole cells. Every
//! band boundary lies on a lattice line, so each grid lies in exactly one lane and the
//! levels nest exactly. The roster gives every post a made-up person, with vacancies,
//! deputies, leave and a few people holding two posts. Output is deterministic for a
//! seed; reading the two input files is the only I/O besides the writers.
//!
//! Layout:
//! - [`input`]: [`Inputs`], the district boundaries and division list as read.
//! - `tiling`: boundary repair, balanced bands on lattice lines, cutting and snapping.
//! - `tree`: one district's areas, district down to unit.
//! - `roster`: persons and posts.
//! - [`output`]: [`write_geojson`] and [`write_roster_csv`].

pub mod input;
pub mod output;
mod roster;
mod tiling;
mod tree;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use geo::MultiPolygon;
use rand::SeedableRng;
use rand::rngs::StdRng;
use time::OffsetDateTime;
use wuzhang_domain::area::AreaLevel;
use wuzhang_domain::chief::{Person, Post};
use wuzhang_store::AreaRecord;

pub use input::Inputs;
pub use output::{ROSTER_HEADER, write_geojson, write_roster_csv};

/// What to generate. `Options::default()` is the demo's tree: every district, 100 m
/// cells, two buildings of two units per whole cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// District codes (GB/T 2260, e.g. `220102`) to generate, in this order; `None` for
    /// every district in the GeoJSON, by code.
    pub districts: Option<Vec<String>>,
    /// About how many grids to make in all: the cell size is chosen from the districts'
    /// areas and boundary lengths, and `cell_m` is ignored.
    pub target_grids: Option<usize>,
    /// Cell side in metres (GB/T 30428.1 unit grids are about 100 m).
    pub cell_m: f64,
    /// Footprints per whole (uncut) cell; 0 for benchmarks that only need grids.
    pub buildings_per_grid: u32,
    pub units_per_building: u32,
    /// Share of posts left vacant (never a subdistrict's command center).
    pub vacancy_rate: f64,
    /// Share of filled posts whose holder has a leave period (half of them cover `now`).
    pub leave_rate: f64,
    /// Share of filled posts with a deputy.
    pub deputy_rate: f64,
    /// Share of street and lane chiefs who also hold the post of one of their children
    /// (a lane chief who is also a grid chief), as small offices do.
    pub dual_post_rate: f64,
    pub seed: u64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            districts: None,
            target_grids: None,
            cell_m: 100.0,
            buildings_per_grid: 2,
            units_per_building: 2,
            vacancy_rate: 0.05,
            leave_rate: 0.02,
            deputy_rate: 0.3,
            dual_post_rate: 0.05,
            seed: 0,
        }
    }
}

impl Options {
    fn validate(&self) -> Result<(), SynthError> {
        let bad = |field: &'static str, reason: &str| {
            Err(SynthError::Option {
                field,
                reason: reason.into(),
            })
        };
        if !(self.cell_m.is_finite() && self.cell_m >= 1.0) {
            return bad("cell_m", "must be at least 1 metre");
        }
        if self.target_grids == Some(0) {
            return bad("target_grids", "must be positive");
        }
        if self.buildings_per_grid > 99 {
            return bad("buildings_per_grid", "must be at most 99");
        }
        if self.units_per_building > 99 {
            return bad("units_per_building", "must be at most 99");
        }
        for (field, rate) in [
            ("vacancy_rate", self.vacancy_rate),
            ("leave_rate", self.leave_rate),
            ("deputy_rate", self.deputy_rate),
            ("dual_post_rate", self.dual_post_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return bad(field, "must be within [0, 1]");
            }
        }
        Ok(())
    }
}

/// Why nothing was generated.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{what}: {reason}")]
    Parse { what: &'static str, reason: String },
    #[error("option {field}: {reason}")]
    Option { field: &'static str, reason: String },
    #[error("district {0} is not in the districts file")]
    UnknownDistrict(String),
    #[error("district {0} has no area")]
    EmptyDistrict(String),
    #[error(
        "cells of {cell_m} m are too coarse: district {district} has {columns} cell columns for {subdistricts} subdistricts"
    )]
    TooCoarse {
        district: String,
        cell_m: f64,
        columns: usize,
        subdistricts: usize,
    },
    #[error("subdistrict {subdistrict} would need more than 999 communities for {grids} grids")]
    TooManyGrids { subdistrict: String, grids: usize },
    #[error("synthetic code {code:?} is invalid: {reason}")]
    Code { code: String, reason: String },
    #[error("area {0} came out with an empty geometry")]
    EmptyGeometry(String),
}

/// A generated tree and its roster.
#[derive(Debug, Clone)]
pub struct Tree {
    /// Every area, parents before children: all districts, then all subdistricts, and so
    /// on down to units.
    pub areas: Vec<AreaRecord>,
    /// Every person named by a post (holders and deputies), by id.
    pub persons: Vec<Person>,
    /// One post per area with a chief level, in the order of `areas`.
    pub posts: Vec<Post>,
    /// The cell side used, in metres (chosen from `target_grids` when that was given).
    pub cell_m: f64,
}

impl Tree {
    /// Counts for a report line.
    pub fn summary(&self) -> Summary {
        let mut areas = BTreeMap::new();
        for r in &self.areas {
            *areas.entry(r.area.level).or_insert(0) += 1;
        }
        Summary {
            areas,
            persons: self.persons.len(),
            posts: self.posts.len(),
            vacancies: self.posts.iter().filter(|p| p.holder.is_none()).count(),
            with_deputy: self.posts.iter().filter(|p| p.deputy.is_some()).count(),
            with_leave: self.posts.iter().filter(|p| !p.leave.is_empty()).count(),
        }
    }
}

/// How many of each thing a [`Tree`] holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub areas: BTreeMap<AreaLevel, usize>,
    pub persons: usize,
    pub posts: usize,
    pub vacancies: usize,
    pub with_deputy: usize,
    pub with_leave: usize,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (level, n) in &self.areas {
            write!(f, "{level} {n}, ")?;
        }
        write!(
            f,
            "persons {}, posts {}, vacancies {}, with deputy {}, with leave {}",
            self.persons, self.posts, self.vacancies, self.with_deputy, self.with_leave
        )
    }
}

/// Reads the two input files and generates a tree; see [`generate`].
pub fn generate_from_files(
    districts_geojson: impl AsRef<Path>,
    divisions_csv: impl AsRef<Path>,
    opts: &Options,
    now: OffsetDateTime,
) -> Result<Tree, SynthError> {
    generate(&Inputs::read(districts_geojson, divisions_csv)?, opts, now)
}

/// Generates the tree and roster for `opts` over `inputs`. Leave periods are placed
/// relative to `now` (some cover it), so a demo started at any time has people away.
pub fn generate(inputs: &Inputs, opts: &Options, now: OffsetDateTime) -> Result<Tree, SynthError> {
    opts.validate()?;
    let selected: Vec<&input::DistrictInput> = match &opts.districts {
        None => {
            let mut all: Vec<_> = inputs.districts.iter().collect();
            all.sort_by(|a, b| a.code.cmp(&b.code));
            all
        }
        Some(codes) => {
            let mut seen = std::collections::HashSet::new();
            codes
                .iter()
                .filter(|c| seen.insert(c.as_str()))
                .map(|c| {
                    inputs
                        .districts
                        .iter()
                        .find(|d| d.code.as_str() == c)
                        .ok_or_else(|| SynthError::UnknownDistrict(c.clone()))
                })
                .collect::<Result<_, _>>()?
        }
    };
    let valid: Vec<MultiPolygon<f64>> = selected
        .iter()
        .map(|d| tiling::repair(&d.boundary))
        .collect();
    let cell_m = match opts.target_grids {
        Some(n) => cell_size_for(&valid, n),
        None => opts.cell_m,
    };

    let mut levels: [Vec<AreaRecord>; 7] = Default::default();
    for (d, valid) in selected.iter().zip(&valid) {
        let spec = tree::DistrictSpec {
            input: d,
            valid,
            subdistricts: inputs
                .subdistricts
                .get(&d.code)
                .map_or(&[][..], Vec::as_slice),
            communities: &inputs.communities,
            cell_m,
        };
        // Each district draws from its own stream, so a district comes out the same
        // whichever others are generated with it.
        let mut rng = StdRng::seed_from_u64(mix(opts.seed, d.code.as_str()));
        tree::district_areas(&spec, opts, &mut rng, &mut levels)?;
    }
    let mut areas = Vec::with_capacity(levels.iter().map(Vec::len).sum());
    for level in levels {
        areas.extend(level);
    }
    let now = now.replace_nanosecond(0).unwrap_or(now);
    let mut rng = StdRng::seed_from_u64(mix(opts.seed, "roster"));
    let (persons, posts) = roster::roster(&areas, opts, now, &mut rng);
    Ok(Tree {
        areas,
        persons,
        posts,
        cell_m,
    })
}

/// The cell side that gives about `target` grids over `districts`: interior cells number
/// area / side², and the boundary adds about one cut cell per lattice line it crosses,
/// half of them outside the area (boundary length measured east-west plus north-south).
fn cell_size_for(districts: &[MultiPolygon<f64>], target: usize) -> f64 {
    let area: f64 = districts.iter().map(tiling::area_m2).sum();
    let boundary: f64 = districts.iter().map(tiling::manhattan_perimeter_m).sum();
    let n = target as f64;
    // n·c² − k·P·c − A = 0
    let kp = BOUNDARY_CELLS_PER_CROSSING * boundary;
    let c = (kp + (kp * kp + 4.0 * n * area).sqrt()) / (2.0 * n);
    c.max(1.0)
}

/// Extra cut cells per lattice line crossed by a boundary; see [`cell_size_for`].
const BOUNDARY_CELLS_PER_CROSSING: f64 = 0.5;

/// A seed for one named stream (splitmix64 over the seed and an FNV-1a hash of the name).
fn mix(seed: u64, name: &str) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for b in name.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let mut z = seed ^ h;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
