//! Siblings that overlap, and parents their children do not cover.

use std::collections::HashMap;

use geo::{Area, BooleanOps, BoundingRect, InteriorPoint, MultiPolygon, Polygon, unary_union};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree, RTreeObject};
use wuzhang_domain::area::AreaLevel;

use super::{AreaOptions, FeatureIssue, IssueKind, ParsedFeature};
use crate::geometry::{area_m2, deg2_to_m2};

/// The result of [`check_siblings`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SiblingReport {
    /// Pairs of siblings that overlap by more than the tolerance, reported on the later
    /// feature of each pair.
    pub overlaps: Vec<FeatureIssue>,
    /// Parents that their children leave partly uncovered (warnings).
    pub gaps: Vec<FeatureIssue>,
}

type Entry = GeomWithData<Rectangle<[f64; 2]>, usize>;

/// Looks for overlaps between siblings and gaps between children and their parent. The
/// geometries must be valid (boolean operations on invalid ones mean little), so pass only
/// features whose geometry passed [`super::check_validity`] or [`super::repair`].
pub fn check_siblings(features: &[&ParsedFeature], options: &AreaOptions) -> SiblingReport {
    SiblingReport {
        overlaps: overlaps(features, options.overlap_tolerance_m2),
        gaps: gaps(features, options.gap_tolerance_m2),
    }
}

fn overlaps(features: &[&ParsedFeature], tolerance_m2: f64) -> Vec<FeatureIssue> {
    // Siblings share a parent and a level; number the groups so comparing is cheap.
    let mut groups: HashMap<(Option<&str>, AreaLevel), u32> = HashMap::new();
    let mut group = Vec::with_capacity(features.len());
    let mut entries = Vec::with_capacity(features.len());
    for (pos, f) in features.iter().enumerate() {
        let next = groups.len() as u32;
        let key = (
            f.area.parent_code.as_ref().map(|p| p.as_str()),
            f.area.level,
        );
        group.push(*groups.entry(key).or_insert(next));
        if let Some(rect) = f.geometry.as_ref().and_then(BoundingRect::bounding_rect) {
            let (min, max) = (rect.min(), rect.max());
            entries.push(Entry::new(
                Rectangle::from_corners([min.x, min.y], [max.x, max.y]),
                pos,
            ));
        }
    }
    let tree = RTree::bulk_load(entries);
    let mut issues = Vec::new();
    for a in tree.iter() {
        let env = a.envelope();
        for b in tree.locate_in_envelope_intersecting(&env) {
            let (i, j) = (a.data, b.data);
            if j <= i || group[i] != group[j] {
                continue;
            }
            // Two envelopes that share less than the tolerance cannot hide a larger
            // overlap: this skips neighbours that only touch, the common case.
            if envelope_overlap_m2(&env, &b.envelope()) <= tolerance_m2 {
                continue;
            }
            let (Some(ga), Some(gb)) = (&features[i].geometry, &features[j].geometry) else {
                continue;
            };
            let common = ga.intersection(gb);
            let overlap = area_m2(&common);
            if overlap > tolerance_m2 {
                let (fa, fb) = (features[i], features[j]);
                issues.push(
                    FeatureIssue::new(
                        fb.index,
                        Some(fb.area.code.as_str()),
                        IssueKind::Overlap,
                        format!(
                            "overlaps its sibling {} (feature {}) by {overlap:.1} m²",
                            fa.area.code, fa.index
                        ),
                    )
                    .at(largest_piece_point(&common)),
                );
            }
        }
    }
    issues.sort_by_key(|i| i.index);
    issues
}

fn envelope_overlap_m2(a: &AABB<[f64; 2]>, b: &AABB<[f64; 2]>) -> f64 {
    let w = a.upper()[0].min(b.upper()[0]) - a.lower()[0].max(b.lower()[0]);
    let h = a.upper()[1].min(b.upper()[1]) - a.lower()[1].max(b.lower()[1]);
    if w <= 0.0 || h <= 0.0 {
        return 0.0;
    }
    let lat = (a.lower()[1].max(b.lower()[1]) + a.upper()[1].min(b.upper()[1])) / 2.0;
    w * h * deg2_to_m2(lat)
}

/// A point inside the largest polygon of `mp`, as a location to show.
fn largest_piece_point(mp: &MultiPolygon<f64>) -> Option<geo::Coord<f64>> {
    mp.0.iter()
        .max_by(|a, b| a.unsigned_area().total_cmp(&b.unsigned_area()))
        .and_then(Polygon::interior_point)
        .map(|p| p.0)
}

/// Whether children of `level` are meant to tile their parent.
fn children_tile(level: AreaLevel) -> bool {
    matches!(
        level,
        AreaLevel::District | AreaLevel::Subdistrict | AreaLevel::Street | AreaLevel::Lane
    )
}

fn gaps(features: &[&ParsedFeature], tolerance_m2: f64) -> Vec<FeatureIssue> {
    let mut children: HashMap<&str, Vec<(AreaLevel, &MultiPolygon<f64>)>> = HashMap::new();
    for f in features {
        let (Some(parent), Some(g)) = (&f.area.parent_code, &f.geometry) else {
            continue;
        };
        children
            .entry(parent.as_str())
            .or_default()
            .push((f.area.level, g));
    }
    let mut warnings = Vec::new();
    for f in features {
        let Some(parent_geometry) = &f.geometry else {
            continue;
        };
        if !children_tile(f.area.level) {
            continue;
        }
        let Some(kids) = children.get(f.area.code.as_str()) else {
            continue;
        };
        // Children of the wrong level (already an issue) do not tile this parent.
        let kids: Vec<&MultiPolygon<f64>> = kids
            .iter()
            .filter(|(level, _)| level.parent_level() == Some(f.area.level))
            .map(|(_, g)| *g)
            .collect();
        if kids.is_empty() {
            continue;
        }
        let covered = unary_union(kids);
        let uncovered = parent_geometry.difference(&covered);
        let pieces: Vec<(f64, &Polygon<f64>)> = uncovered
            .0
            .iter()
            .map(|p| (polygon_area_m2(p), p))
            .filter(|(a, _)| *a > tolerance_m2)
            .collect();
        if pieces.is_empty() {
            continue;
        }
        let total: f64 = pieces.iter().map(|(a, _)| a).sum();
        let largest = pieces
            .iter()
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .and_then(|(_, p)| p.interior_point())
            .map(|p| p.0);
        warnings.push(
            FeatureIssue::new(
                f.index,
                Some(f.area.code.as_str()),
                IssueKind::Gap,
                format!(
                    "its children leave {total:.1} m² uncovered in {} places",
                    pieces.len()
                ),
            )
            .at(largest),
        );
    }
    warnings
}

fn polygon_area_m2(p: &Polygon<f64>) -> f64 {
    p.bounding_rect().map_or(0.0, |r| {
        p.unsigned_area() * deg2_to_m2((r.min().y + r.max().y) / 2.0)
    })
}
