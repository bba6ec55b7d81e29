//! Areas from an RFC 7946 GeoJSON FeatureCollection.
//!
//! [`import_areas`] runs every check and returns an [`AreaImport`]; the steps are public so
//! that a caller can swap the in-process repair for PostGIS `ST_MakeValid`:
//!
//! 1. [`parse`]: the file and each feature's fields and coordinates;
//! 2. [`check_validity`] (report invalid geometry) **or** [`repair`] (fix it in process);
//!    a database caller instead runs `check_validity`, sends the invalid geometries through
//!    `ST_MakeValid` as WKB ([`crate::geometry::to_wkb`]), puts the answers back into
//!    [`ParsedFeature::geometry`] ([`crate::geometry::from_wkb`]), clears
//!    [`ParsedFeature::ring_defects`] and runs `check_validity` again;
//! 3. [`check_tree`]: codes are unique, parents exist and sit one level up, no cycles;
//! 4. [`check_siblings`]: siblings do not overlap (issues) and children cover their
//!    parent (gaps are warnings);
//! 5. [`assemble`]: the records, parents before children.
//!
//! # Feature properties
//!
//! `code` (falls back to the feature `id`, string or number), `name` (1 to 200 characters
//! after trimming), `level` (district, subdistrict, street, lane, grid, building or unit;
//! falls back to [`AreaOptions::default_level`]), `parent_code` (falls back to
//! [`AreaOptions::default_parent_code`] for levels that have a parent), `community`.
//!
//! # Geometry
//!
//! Polygon or MultiPolygon, WGS84 longitude/latitude (a third coordinate is ignored).
//! Units have no footprint: a geometry given for one is dropped with a warning. Buildings
//! may be a Point, which becomes a square of 5 m × 5 m centred on it
//! ([`crate::geometry::point_footprint`]), with a warning saying so. Ring winding is not
//! an error (RFC 7946 says parsers should not reject it); records are always written with
//! exteriors counter-clockwise.
//!
//! # Sibling checks
//!
//! Overlaps are looked for among features of the same level and the same parent: an
//! R-tree of envelopes gives candidate pairs, pairs whose envelopes share less than the
//! tolerance are skipped, the rest are intersected exactly (`BooleanOps`) and measured in
//! m² ([`crate::geometry::area_m2`]). Gaps are looked for where children tile their parent:
//! district → subdistrict, subdistrict → street, street → lane and lane → grid (buildings
//! do not cover their grid); only parents with at least one child in the file are checked,
//! and gap pieces smaller than the tolerance (rounding slivers) are ignored. Both checks
//! only look at features whose geometry is valid (after repair, if repairing).

mod parse;
mod siblings;
mod tree;

use std::collections::{HashMap, HashSet};
use std::fmt;

use geo::{BoundingRect, MultiPolygon};
use wuzhang_domain::area::{Area, AreaCode, AreaLevel, BBox};
use wuzhang_store::AreaRecord;

use crate::geometry::{self, RepairKind};

pub use parse::parse;
pub use siblings::{SiblingReport, check_siblings};
pub use tree::check_tree;

/// Largest area file accepted, checked before anything is parsed.
pub const MAX_AREA_FILE_BYTES: usize = 64 * 1024 * 1024;

/// Why a whole area file was refused; nothing in it was looked at feature by feature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AreaFileError {
    #[error("file is {size} bytes, more than the {limit} bytes allowed")]
    TooLarge { size: usize, limit: usize },
    #[error("file is not valid utf-8 at line {line}")]
    NotUtf8 { line: usize },
    #[error("file is not valid json: {reason} at line {line} column {column}")]
    NotJson {
        reason: String,
        line: usize,
        column: usize,
    },
    #[error("file is not a geojson featurecollection: {reason}")]
    NotFeatureCollection { reason: String },
    #[error("featurecollection has no features")]
    Empty,
}

/// What kind of problem a [`FeatureIssue`] is, for callers that count or filter them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IssueKind {
    /// The entry in `features` is not a GeoJSON Feature object, or its properties are not
    /// an object.
    NotAFeature,
    /// The code is missing or not a valid area code.
    Code,
    /// Another feature earlier in the file has the same code.
    DuplicateCode,
    Name,
    /// The level is missing or unknown.
    Level,
    Community,
    /// The parent code is not a valid code, or the area names itself as parent.
    ParentCode,
    /// A level that needs a parent has none, or the parent is neither in the file nor in
    /// the store.
    MissingParent,
    /// The parent is not exactly one level up.
    WrongParentLevel,
    /// Parent codes form a cycle.
    Cycle,
    /// The geometry is missing, of an unsupported type or malformed.
    Geometry,
    /// A coordinate is outside longitude [-180, 180] / latitude [-90, 90].
    CoordinateRange,
    /// A ring's last position is not its first.
    UnclosedRing,
    /// A ring has fewer than 4 positions.
    ShortRing,
    /// Only in `repaired`: repeated positions were dropped.
    RepeatedPoints,
    /// Only in `repaired`: rings were reversed to the RFC 7946 winding.
    Orientation,
    /// Invalid by OGC rules (self-intersection, rings crossing, parts overlapping...).
    Invalid,
    /// Overlaps a sibling (same parent, same level) by more than the tolerance.
    Overlap,
    /// Warning: the children leave part of this area uncovered.
    Gap,
    /// Warning: a geometry was given where none is kept (units).
    IgnoredGeometry,
    /// Warning: a building given as a point got a small square footprint.
    PointFootprint,
}

/// One problem with one feature (or one repair made to it, or one warning about it).
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureIssue {
    /// Position of the feature in the file's `features` array, from 0.
    pub index: usize,
    /// The feature's code as written, when it has one (it may be the invalid code).
    pub code: Option<String>,
    pub kind: IssueKind,
    /// Lowercase, without a trailing period.
    pub reason: String,
    /// Where the problem is, as (latitude, longitude).
    pub location: Option<(f64, f64)>,
}

impl FeatureIssue {
    pub(crate) fn new(
        index: usize,
        code: Option<&str>,
        kind: IssueKind,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            index,
            code: code.map(str::to_owned),
            kind,
            reason: reason.into(),
            location: None,
        }
    }

    pub(crate) fn at(mut self, location: Option<geo::Coord<f64>>) -> Self {
        self.location = location.map(|c| (c.y, c.x));
        self
    }
}

impl fmt::Display for FeatureIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "feature {}", self.index)?;
        if let Some(code) = &self.code {
            write!(f, " ({code})")?;
        }
        write!(f, ": {}", self.reason)?;
        if let Some((lat, lng)) = self.location {
            write!(f, " near lat {lat:.6}, lng {lng:.6}")?;
        }
        Ok(())
    }
}

/// How to read and check an area file.
#[derive(Debug, Clone, PartialEq)]
pub struct AreaOptions {
    /// Level of features that have no `level` property (e.g. district for a file of
    /// district boundaries).
    pub default_level: Option<AreaLevel>,
    /// Parent of features that have no `parent_code`, for levels that have a parent.
    pub default_parent_code: Option<AreaCode>,
    /// Repair invalid geometry in process instead of reporting it.
    pub repair: bool,
    /// Sibling overlaps up to this many m² are rounding, not issues.
    pub overlap_tolerance_m2: f64,
    /// Gap pieces up to this many m² are rounding, not warnings.
    pub gap_tolerance_m2: f64,
    /// Largest file accepted. [`MAX_AREA_FILE_BYTES`] over the API; an administrator's
    /// command line may allow more (a million grids is a few hundred MiB of GeoJSON).
    pub max_file_bytes: usize,
}

impl Default for AreaOptions {
    fn default() -> Self {
        Self {
            default_level: None,
            default_parent_code: None,
            repair: false,
            overlap_tolerance_m2: 1.0,
            gap_tolerance_m2: 1.0,
            max_file_bytes: MAX_AREA_FILE_BYTES,
        }
    }
}

/// A feature that parsed well enough to have a code and a level.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedFeature {
    /// Position in the file's `features` array.
    pub index: usize,
    /// The area as read; `bbox` is filled by [`assemble`] from the final geometry.
    pub area: Area,
    /// The footprint with rings closed; `None` for units and for geometry that could not
    /// be read (an issue says why).
    pub geometry: Option<MultiPolygon<f64>>,
    /// Problems of the rings as written (unclosed, fewer than 4 positions): issues for
    /// [`check_validity`], fixed and listed as repairs by [`repair`].
    pub ring_defects: Vec<FeatureIssue>,
}

/// The result of [`parse`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ParsedAreas {
    pub features: Vec<ParsedFeature>,
    /// Problems found while reading (fields, coordinates, geometry types).
    pub issues: Vec<FeatureIssue>,
    pub warnings: Vec<FeatureIssue>,
}

/// The result of [`repair`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RepairReport {
    /// One entry per kind of fix per feature, saying what was wrong.
    pub repaired: Vec<FeatureIssue>,
    /// Geometries that could not be repaired.
    pub issues: Vec<FeatureIssue>,
}

/// The outcome of an area import.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AreaImport {
    /// The areas to write, parents before children. Empty whenever `issues` is not: an
    /// import is written whole or not at all.
    pub records: Vec<AreaRecord>,
    /// Problems that block the import.
    pub issues: Vec<FeatureIssue>,
    /// Fixes made by the in-process repair.
    pub repaired: Vec<FeatureIssue>,
    /// Things worth a look that do not block the import (gaps, ignored geometry).
    pub warnings: Vec<FeatureIssue>,
}

impl AreaImport {
    /// The records if there is no issue, else the issues.
    pub fn into_records(self) -> Result<Vec<AreaRecord>, Vec<FeatureIssue>> {
        if self.issues.is_empty() {
            Ok(self.records)
        } else {
            Err(self.issues)
        }
    }
}

/// Level of an area already in the store, by code; `None` when there is no such area.
pub type StoreLevels<'a> = &'a dyn Fn(&AreaCode) -> Option<AreaLevel>;

/// Who repairs invalid geometry when [`AreaOptions::repair`] is set.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Repairs {
    /// In process: [`repair`] (geo `MakeValid`, every input vertex kept).
    #[default]
    InProcess,
    /// Already repaired by the database (PostGIS `ST_MakeValid`): the new geometry of every
    /// feature that [`check_validity`] found fault with, by feature index, and the name of
    /// the tool for the report.
    External {
        geometries: HashMap<usize, MultiPolygon<f64>>,
        tool: &'static str,
    },
}

/// Reads, checks and (with [`AreaOptions::repair`]) repairs an area file in process.
/// `store_levels` answers for parents that are not in the file.
pub fn import_areas(
    bytes: &[u8],
    options: &AreaOptions,
    store_levels: StoreLevels<'_>,
) -> Result<AreaImport, AreaFileError> {
    Ok(finish(
        parse(bytes, options)?,
        options,
        store_levels,
        Repairs::InProcess,
    ))
}

/// Everything after [`parse`]: validity (or repair, by `repairs`), the tree, siblings, and
/// the records in write order. Callers that repair elsewhere parse first, send the
/// geometries [`check_validity`] faults to their tool, and hand the results back here.
pub fn finish(
    parsed: ParsedAreas,
    options: &AreaOptions,
    store_levels: StoreLevels<'_>,
    repairs: Repairs,
) -> AreaImport {
    let ParsedAreas {
        mut features,
        mut issues,
        mut warnings,
    } = parsed;
    let mut repaired = Vec::new();
    match (options.repair, repairs) {
        (false, _) => issues.extend(check_validity(&features)),
        (true, Repairs::InProcess) => {
            let report = repair(&mut features);
            repaired = report.repaired;
            issues.extend(report.issues);
        }
        (
            true,
            Repairs::External {
                mut geometries,
                tool,
            },
        ) => {
            for problem in check_validity(&features) {
                let fixed = geometries.contains_key(&problem.index);
                let mut note = problem;
                note.reason = if fixed {
                    format!("{}: repaired by {tool}", note.reason)
                } else {
                    format!("{}: not repaired by {tool}", note.reason)
                };
                if fixed {
                    repaired.push(note)
                } else {
                    issues.push(note)
                }
            }
            for f in &mut features {
                if let Some(mut g) = geometries.remove(&f.index) {
                    geometry::orient_rfc7946(&mut g);
                    f.ring_defects.clear();
                    if g.0.is_empty() {
                        issues.push(FeatureIssue::new(
                            f.index,
                            Some(f.area.code.as_str()),
                            IssueKind::Invalid,
                            format!("{tool} left no area"),
                        ));
                    }
                    f.geometry = Some(g);
                }
            }
            // What the tool gave back must pass our own check too.
            issues.extend(check_validity(&features));
        }
    }
    issues.extend(check_tree(&features, store_levels));

    let bad_geometry: HashSet<usize> = issues
        .iter()
        .filter(|i| is_geometry_issue(i.kind))
        .map(|i| i.index)
        .collect();
    let usable: Vec<&ParsedFeature> = features
        .iter()
        .filter(|f| f.geometry.is_some() && !bad_geometry.contains(&f.index))
        .collect();
    let siblings = check_siblings(&usable, options);
    issues.extend(siblings.overlaps);
    warnings.extend(siblings.gaps);
    assemble(features, issues, repaired, warnings)
}

fn is_geometry_issue(kind: IssueKind) -> bool {
    matches!(
        kind,
        IssueKind::Geometry
            | IssueKind::CoordinateRange
            | IssueKind::UnclosedRing
            | IssueKind::ShortRing
            | IssueKind::Invalid
    )
}

/// Reports ring defects and OGC-invalid geometry (with locations) as issues.
pub fn check_validity(features: &[ParsedFeature]) -> Vec<FeatureIssue> {
    let mut issues = Vec::new();
    for f in features {
        issues.extend(f.ring_defects.iter().cloned());
        let Some(g) = &f.geometry else { continue };
        for p in geometry::validity_problems(g) {
            issues.push(
                FeatureIssue::new(
                    f.index,
                    Some(f.area.code.as_str()),
                    IssueKind::Invalid,
                    p.reason,
                )
                .at(p.location),
            );
        }
    }
    issues
}

/// Repairs every geometry in place ([`crate::geometry::repair_multi_polygon`]): ring
/// defects and OGC invalidity become entries in `repaired`, and what cannot be repaired
/// becomes an issue.
pub fn repair(features: &mut [ParsedFeature]) -> RepairReport {
    let mut report = RepairReport::default();
    for f in features {
        let code = f.area.code.as_str().to_owned();
        for mut d in std::mem::take(&mut f.ring_defects) {
            d.reason = match d.kind {
                IssueKind::UnclosedRing => format!("{}: closed it", d.reason),
                _ => format!("{}: dropped it", d.reason),
            };
            report.repaired.push(d);
        }
        let Some(g) = &f.geometry else { continue };
        match geometry::repair_multi_polygon(g) {
            Ok(r) => {
                for n in r.notes {
                    let kind = match n.kind {
                        RepairKind::RepeatedPoints => IssueKind::RepeatedPoints,
                        RepairKind::DegenerateRing => IssueKind::ShortRing,
                        RepairKind::Rebuilt => IssueKind::Invalid,
                        RepairKind::Orientation => IssueKind::Orientation,
                    };
                    report.repaired.push(
                        FeatureIssue::new(f.index, Some(&code), kind, n.reason).at(n.location),
                    );
                }
                f.geometry = Some(r.geometry);
            }
            Err(reason) => {
                let location = geometry::validity_problems(g)
                    .into_iter()
                    .find_map(|p| p.location);
                report.issues.push(
                    FeatureIssue::new(f.index, Some(&code), IssueKind::Invalid, reason)
                        .at(location),
                );
            }
        }
    }
    report
}

/// Builds the import: records (only when there is no issue) with bbox and WKB from the
/// final geometry, parents before children; issues, repairs and warnings sorted by
/// feature.
pub fn assemble(
    features: Vec<ParsedFeature>,
    mut issues: Vec<FeatureIssue>,
    mut repaired: Vec<FeatureIssue>,
    mut warnings: Vec<FeatureIssue>,
) -> AreaImport {
    issues.sort_by_key(|i| i.index);
    repaired.sort_by_key(|i| i.index);
    warnings.sort_by_key(|i| i.index);
    let mut records = Vec::new();
    if issues.is_empty() {
        let order = tree::parents_first(&features);
        let mut features: Vec<Option<ParsedFeature>> = features.into_iter().map(Some).collect();
        for f in order.into_iter().filter_map(|i| features[i].take()) {
            let (index, record) = record(f);
            // The domain has the last word on what an area is; the checks above are meant
            // to be at least as strict, so this only fires if the two drift apart.
            if let Err(e) = record.area.validate() {
                let kind = match e.field.as_str() {
                    "name" => IssueKind::Name,
                    "parent_code" => IssueKind::MissingParent,
                    "bbox" => IssueKind::CoordinateRange,
                    _ => IssueKind::NotAFeature,
                };
                issues.push(FeatureIssue::new(
                    index,
                    Some(record.area.code.as_str()),
                    kind,
                    e.to_string(),
                ));
            }
            records.push(record);
        }
        if !issues.is_empty() {
            records.clear();
        }
    }
    AreaImport {
        records,
        issues,
        repaired,
        warnings,
    }
}

fn record(mut f: ParsedFeature) -> (usize, AreaRecord) {
    if let Some(g) = &mut f.geometry {
        geometry::orient_rfc7946(g);
    }
    let mut area = f.area;
    area.bbox = f
        .geometry
        .as_ref()
        .and_then(BoundingRect::bounding_rect)
        .map(|r| BBox {
            min_lng: r.min().x,
            min_lat: r.min().y,
            max_lng: r.max().x,
            max_lat: r.max().y,
        });
    let record = AreaRecord {
        area,
        geometry_wkb: f.geometry.as_ref().map(geometry::to_wkb),
    };
    (f.index, record)
}
