//! Geometry helpers shared by the area import: OGC validity with the place of the
//! problem, the in-process repair, areas in square metres, and WKB in and out.
//!
//! # Validity
//!
//! [`validity_problems`] is geo's [`Validation`] (OGC simple-features rules), plus a
//! location for each problem, which geo does not give. For geometries with a ring longer
//! than [`SWEEP_ABOVE_POSITIONS`], geo's all-pairs ring test is swapped for an equivalent
//! sort-and-sweep ([`validation_errors_by_sweep`], tested to agree with geo), so one large
//! boundary cannot stall an import.
//!
//! # Repair method
//!
//! [`repair_multi_polygon`] is the in-process stand-in for PostGIS `ST_MakeValid`:
//!
//! 1. consecutive repeated points are dropped;
//! 2. rings with fewer than 4 positions (3 distinct points) or no area are dropped, and a
//!    polygon whose exterior is dropped goes with its holes;
//! 3. if what is left is still invalid by geo's [`Validation`], it is rebuilt with geo's
//!    [`MakeValid`] (Ledoux, Arroyo Ohori & Meijers 2014, the "prepair" method): all edges
//!    are noded into a constrained triangulation and triangles are labelled inside or
//!    outside by the **odd-even** rule. That is what `ST_MakeValid`'s default
//!    `method=linework` does for the common cases: a bow-tie becomes two triangles that
//!    touch at the crossing, a spike (an edge that goes out and comes back) cancels out,
//!    a hole touching its shell is split off, and the orientation of the input rings does
//!    not matter. Unlike a boolean-op based rebuild it keeps every input vertex exactly
//!    (only crossing points are added), so two neighbours that shared a border before
//!    the repair still share it after, with no slivers of overlap or gap. On the
//!    Changchun districts this gives zero overlap between neighbours, where rebuilding
//!    through `i_overlay` (which snaps to an integer grid) left 17 slivers of up to 4 m².
//!    Where the parts of a multipolygon overlap each other, odd-even would cut their
//!    common area out; here parts are repaired one by one and then unioned instead
//!    (what `ST_MakeValid(..., 'method=structure')` does), since a footprint drawn
//!    twice is meant to be covered, not punched out. If the triangulation fails
//!    (coordinates it cannot represent), the rebuild falls back to `i_overlay` with the
//!    even-odd fill rule, which has the same semantics with snapped coordinates;
//! 4. rings are oriented as RFC 7946 asks (exteriors counter-clockwise, holes clockwise);
//! 5. the result must pass [`Validation`], else the repair fails with the reason.

use geo::algorithm::bool_ops::FillRule;
use geo::coordinate_position::CoordPos;
use geo::dimensions::Dimensions;
use geo::line_intersection::{LineIntersection, line_intersection};
use geo::validation::{CoordIndex, GeometryIndex, InvalidMultiPolygon, InvalidPolygon, RingRole};
use geo::{
    Area, BooleanOps, BoundingRect, Coord, CoordinatePosition, InteriorPoint, Intersects, Line,
    LineString, MakeValid, MultiPolygon, OpType, Polygon, PreparedGeometry, Relate, Validation,
    unary_union,
};

/// Metres per degree of latitude on the mean Earth sphere (R = 6 371 008.8 m).
pub const METRES_PER_DEGREE: f64 = 6_371_008.8 * std::f64::consts::PI / 180.0;

/// Half the side of the square footprint a building given as a point gets, in metres.
pub const POINT_FOOTPRINT_HALF_SIDE_M: f64 = 2.5;

/// One reason a geometry is invalid, with where it is when that can be found.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// geo's description, e.g. "polygon at index 0 is invalid: exterior ring has a
    /// self-intersection".
    pub reason: String,
    /// A coordinate at (or next to) the problem: a crossing point, a touching segment, a
    /// vertex outside its shell.
    pub location: Option<Coord<f64>>,
}

/// What the repair did, one note per kind of change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RepairKind {
    /// Consecutive duplicate positions were dropped.
    RepeatedPoints,
    /// Rings (or whole polygons) with too few points or no area were dropped.
    DegenerateRing,
    /// The geometry was invalid and was rebuilt (self-intersections, spikes, rings that
    /// cross or touch on a line, overlapping parts).
    Rebuilt,
    /// Rings were reversed to the RFC 7946 winding.
    Orientation,
}

/// One change the repair made, saying what was wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct RepairNote {
    pub kind: RepairKind,
    pub reason: String,
    pub location: Option<Coord<f64>>,
}

/// A repaired geometry and what was done to it. `notes` is empty when nothing changed.
#[derive(Debug, Clone, PartialEq)]
pub struct Repaired {
    pub geometry: MultiPolygon<f64>,
    pub notes: Vec<RepairNote>,
}

/// Rings with more positions than this get [`validation_errors_by_sweep`] instead of
/// geo's [`Validation`].
pub const SWEEP_ABOVE_POSITIONS: usize = 1024;

/// All OGC validity problems of `mp` by geo's [`Validation`], each with a location where
/// one can be found (geo itself names only rings and polygons, so the crossing point,
/// shared segment or stray vertex is searched for here). Geometries with a ring longer
/// than [`SWEEP_ABOVE_POSITIONS`] go through [`validation_errors_by_sweep`], which gives
/// the same answers without geo's quadratic ring test.
pub fn validity_problems(mp: &MultiPolygon<f64>) -> Vec<Problem> {
    let large = mp.0.iter().any(|p| {
        std::iter::once(p.exterior())
            .chain(p.interiors())
            .any(|r| r.0.len() > SWEEP_ABOVE_POSITIONS)
    });
    let errors = if large {
        validation_errors_by_sweep(mp)
    } else {
        mp.validation_errors()
    };
    errors
        .into_iter()
        .map(|err| Problem {
            location: locate(mp, &err),
            reason: err.to_string(),
        })
        .collect()
}

/// geo's [`Validation`] of a multipolygon, check for check and in the same order, except
/// that a ring's self-intersection is found by a sort-and-sweep over its segments
/// ([`self_intersection`], O(n log n) for real boundaries) instead of geo's test of every
/// pair of segments, which takes minutes on a boundary of 100 000 points and would let one
/// large feature stall an import. The checks between rings and between polygons are geo's
/// own (DE-9IM relate).
pub fn validation_errors_by_sweep(mp: &MultiPolygon<f64>) -> Vec<InvalidMultiPolygon> {
    let mut out = Vec::new();
    for (i, poly) in mp.0.iter().enumerate() {
        let mut push = |e| out.push(InvalidMultiPolygon::InvalidPolygon(GeometryIndex(i), e));
        if !poly.exterior().0.is_empty() {
            polygon_errors(poly, &mut push);
        }
        for (j, other) in mp.0.iter().enumerate().skip(i + 1) {
            let im = poly.relate(other);
            if im.get(CoordPos::Inside, CoordPos::Inside) == Dimensions::TwoDimensional {
                out.push(InvalidMultiPolygon::ElementsOverlaps(
                    GeometryIndex(i),
                    GeometryIndex(j),
                ));
            }
            if im.get(CoordPos::OnBoundary, CoordPos::OnBoundary) == Dimensions::OneDimensional {
                out.push(InvalidMultiPolygon::ElementsTouchOnALine(
                    GeometryIndex(i),
                    GeometryIndex(j),
                ));
            }
        }
    }
    out
}

fn polygon_errors(poly: &Polygon<f64>, push: &mut dyn FnMut(InvalidPolygon)) {
    let rings = std::iter::once(poly.exterior()).chain(poly.interiors());
    for (k, ring) in rings.enumerate() {
        if ring.0.is_empty() {
            continue;
        }
        let role = match k {
            0 => RingRole::Exterior,
            k => RingRole::Interior(k - 1),
        };
        let mut distinct = ring.0.clone();
        distinct.dedup();
        if distinct.len() < 4 {
            push(InvalidPolygon::TooFewPointsInRing(role));
        }
        if self_intersection(ring).is_some() {
            push(InvalidPolygon::SelfIntersection(role));
        }
        for (c, coord) in ring.0.iter().enumerate() {
            if !(coord.x.is_finite() && coord.y.is_finite()) {
                push(InvalidPolygon::NonFiniteCoord(role, CoordIndex(c)));
            }
        }
    }
    if poly.interiors().iter().all(|r| r.0.is_empty()) {
        return;
    }
    let shell = Polygon::new(poly.exterior().clone(), vec![]);
    let shell = PreparedGeometry::from(&shell);
    for (a, hole) in poly.interiors().iter().enumerate() {
        if hole.0.is_empty() {
            continue;
        }
        let hole_poly = Polygon::new(hole.clone(), vec![]);
        let hole_prepared = PreparedGeometry::from(&hole_poly);
        let im = shell.relate(&hole_prepared);
        if !im.is_contains() {
            push(InvalidPolygon::InteriorRingNotContainedInExteriorRing(
                RingRole::Interior(a),
            ));
        }
        if im.get(CoordPos::OnBoundary, CoordPos::OnBoundary) == Dimensions::OneDimensional {
            push(InvalidPolygon::IntersectingRingsOnALine(
                RingRole::Exterior,
                RingRole::Interior(a),
            ));
        }
        for (b, other) in poly.interiors().iter().enumerate().skip(a + 1) {
            if other.0.is_empty() {
                continue;
            }
            let im = hole_prepared.relate(&Polygon::new(other.clone(), vec![]));
            if im.get(CoordPos::Inside, CoordPos::Inside) == Dimensions::TwoDimensional {
                push(InvalidPolygon::IntersectingRingsOnAnArea(
                    RingRole::Interior(a),
                    RingRole::Interior(b),
                ));
            }
            if im.get(CoordPos::OnBoundary, CoordPos::OnBoundary) == Dimensions::OneDimensional {
                push(InvalidPolygon::IntersectingRingsOnALine(
                    RingRole::Interior(a),
                    RingRole::Interior(b),
                ));
            }
        }
    }
}

fn ring(poly: &Polygon<f64>, role: RingRole) -> Option<&LineString<f64>> {
    match role {
        RingRole::Exterior => Some(poly.exterior()),
        RingRole::Interior(i) => poly.interiors().get(i),
    }
}

fn locate(mp: &MultiPolygon<f64>, err: &InvalidMultiPolygon) -> Option<Coord<f64>> {
    match err {
        InvalidMultiPolygon::InvalidPolygon(i, e) => {
            let poly = mp.0.get(i.0)?;
            match e {
                InvalidPolygon::TooFewPointsInRing(role) => ring(poly, *role)?.0.first().copied(),
                InvalidPolygon::SelfIntersection(role) => self_intersection(ring(poly, *role)?),
                InvalidPolygon::NonFiniteCoord(..) => None,
                InvalidPolygon::InteriorRingNotContainedInExteriorRing(role) => {
                    let hole = ring(poly, *role)?;
                    let shell = Polygon::new(poly.exterior().clone(), vec![]);
                    hole.0
                        .iter()
                        .find(|c| shell.coordinate_position(c) == CoordPos::Outside)
                        .or_else(|| hole.0.first())
                        .copied()
                }
                InvalidPolygon::IntersectingRingsOnALine(a, b)
                | InvalidPolygon::IntersectingRingsOnAnArea(a, b) => {
                    rings_intersection(ring(poly, *a)?, ring(poly, *b)?)
                }
            }
        }
        InvalidMultiPolygon::ElementsOverlaps(i, j) => {
            let (a, b) = (mp.0.get(i.0)?, mp.0.get(j.0)?);
            a.intersection(b)
                .interior_point()
                .map(|p| p.0)
                .or_else(|| rings_intersection(a.exterior(), b.exterior()))
        }
        InvalidMultiPolygon::ElementsTouchOnALine(i, j) => {
            rings_intersection(mp.0.get(i.0)?.exterior(), mp.0.get(j.0)?.exterior())
        }
    }
}

/// A segment with its x/y extent, for a sort-and-sweep search of crossings.
struct Seg {
    line: Line<f64>,
    min_x: f64,
    max_x: f64,
    min_y: f64,
    max_y: f64,
    ring: u8,
}

fn segments(ring_id: u8, ls: &LineString<f64>) -> impl Iterator<Item = Seg> + '_ {
    ls.lines().map(move |line| Seg {
        min_x: line.start.x.min(line.end.x),
        max_x: line.start.x.max(line.end.x),
        min_y: line.start.y.min(line.end.y),
        max_y: line.start.y.max(line.end.y),
        line,
        ring: ring_id,
    })
}

/// Sort-and-sweep over segments by x: returns the first pair accepted by `wanted` that
/// intersects, as the intersection point. O(n log n + candidate pairs).
fn sweep(mut segs: Vec<Seg>, wanted: impl Fn(&Seg, &Seg) -> bool) -> Option<Coord<f64>> {
    if segs
        .iter()
        .any(|s| !(s.min_x.is_finite() && s.max_x.is_finite()))
    {
        return None;
    }
    segs.sort_by(|a, b| a.min_x.total_cmp(&b.min_x));
    for (k, a) in segs.iter().enumerate() {
        for b in &segs[k + 1..] {
            if b.min_x > a.max_x {
                break;
            }
            if b.min_y > a.max_y || a.min_y > b.max_y || !wanted(a, b) {
                continue;
            }
            if a.line.intersects(&b.line) {
                return Some(match line_intersection(a.line, b.line) {
                    Some(LineIntersection::SinglePoint { intersection, .. }) => intersection,
                    Some(LineIntersection::Collinear { intersection }) => {
                        (intersection.start + intersection.end) / 2.0
                    }
                    None => a.line.end,
                });
            }
        }
    }
    None
}

/// Where a ring crosses or touches itself, by the same rule geo's validation uses
/// (two segments meet, other than one ending where the other starts).
pub fn self_intersection(ls: &LineString<f64>) -> Option<Coord<f64>> {
    sweep(segments(0, ls).collect(), |a, b| {
        a.line.start != b.line.end && a.line.end != b.line.start
    })
}

/// A point where two rings meet.
pub fn rings_intersection(a: &LineString<f64>, b: &LineString<f64>) -> Option<Coord<f64>> {
    sweep(segments(0, a).chain(segments(1, b)).collect(), |s, t| {
        s.ring != t.ring
    })
}

/// Area of a geometry in square metres, by an equirectangular projection centred on the
/// geometry's own latitude. Good to well under 1% for anything up to a city's size; it is
/// used for tolerances and reports, not for surveying.
pub fn area_m2(mp: &MultiPolygon<f64>) -> f64 {
    let Some(rect) = mp.bounding_rect() else {
        return 0.0;
    };
    let lat = (rect.min().y + rect.max().y) / 2.0;
    mp.unsigned_area() * deg2_to_m2(lat)
}

/// Square metres in one square degree at latitude `lat`.
pub fn deg2_to_m2(lat: f64) -> f64 {
    METRES_PER_DEGREE * METRES_PER_DEGREE * lat.to_radians().cos().abs()
}

/// A square of `2 * POINT_FOOTPRINT_HALF_SIDE_M` metres centred on a point, for buildings
/// that are given as a point only.
pub fn point_footprint(center: Coord<f64>) -> MultiPolygon<f64> {
    let dlat = POINT_FOOTPRINT_HALF_SIDE_M / METRES_PER_DEGREE;
    let dlng = dlat / center.y.to_radians().cos().max(1e-6);
    let (x0, x1) = ((center.x - dlng).max(-180.0), (center.x + dlng).min(180.0));
    let (y0, y1) = ((center.y - dlat).max(-90.0), (center.y + dlat).min(90.0));
    let ring = LineString::from(vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]);
    MultiPolygon::new(vec![Polygon::new(ring, vec![])])
}

/// Signed area of a closed ring (positive when counter-clockwise).
fn signed_ring_area(ls: &LineString<f64>) -> f64 {
    ls.lines().map(|l| l.determinant()).sum::<f64>() / 2.0
}

/// Orients every ring as RFC 7946 asks; returns how many rings were reversed.
pub fn orient_rfc7946(mp: &mut MultiPolygon<f64>) -> usize {
    let mut reversed = 0;
    for poly in &mut mp.0 {
        poly.exterior_mut(|ext| {
            if signed_ring_area(ext) < 0.0 {
                ext.0.reverse();
                reversed += 1;
            }
        });
        poly.interiors_mut(|holes| {
            for hole in holes {
                if signed_ring_area(hole) > 0.0 {
                    hole.0.reverse();
                    reversed += 1;
                }
            }
        });
    }
    reversed
}

fn has_non_finite(mp: &MultiPolygon<f64>) -> bool {
    mp.0.iter().any(|p| {
        std::iter::once(p.exterior())
            .chain(p.interiors())
            .flat_map(|r| r.0.iter())
            .any(|c| !(c.x.is_finite() && c.y.is_finite()))
    })
}

/// Whether a ring cannot bound any area: fewer than 4 positions, or all of them on one
/// line (which also covers fewer than 3 distinct points). A bow-tie has a net signed area
/// of zero but is not degenerate, so the area is not the test.
fn ring_is_degenerate(ls: &LineString<f64>) -> bool {
    let c = &ls.0;
    if c.len() < 4 {
        return true;
    }
    let p0 = c[0];
    let Some(p1) = c.iter().find(|p| **p != p0) else {
        return true;
    };
    let (dx, dy) = (p1.x - p0.x, p1.y - p0.y);
    c.iter()
        .all(|p| dx * (p.y - p0.y) - dy * (p.x - p0.x) == 0.0)
}

/// Repairs a multipolygon in process; see the [module docs](self) for the method. Fails
/// (with a lowercase reason) when the input has non-finite coordinates, when nothing with
/// an area is left, or when the result is still invalid.
pub fn repair_multi_polygon(mp: &MultiPolygon<f64>) -> Result<Repaired, String> {
    if has_non_finite(mp) {
        return Err("geometry has a non-finite coordinate".into());
    }
    let mut notes = Vec::new();
    let mut work = mp.clone();
    normalise_zeros(&mut work);

    // 1. Repeated points.
    let mut repeated = 0;
    let mut first_repeat = None;
    for poly in &mut work.0 {
        let mut dedup = |ls: &mut LineString<f64>| {
            let before = ls.0.len();
            if first_repeat.is_none() {
                first_repeat = ls.0.windows(2).find(|w| w[0] == w[1]).map(|w| w[0]);
            }
            ls.0.dedup();
            repeated += before - ls.0.len();
        };
        poly.exterior_mut(&mut dedup);
        poly.interiors_mut(|holes| holes.iter_mut().for_each(&mut dedup));
    }
    if repeated > 0 {
        notes.push(RepairNote {
            kind: RepairKind::RepeatedPoints,
            reason: format!("dropped {repeated} repeated points"),
            location: first_repeat,
        });
    }

    // 2. Degenerate rings and polygons.
    let mut dropped_rings = 0;
    let mut dropped_polys = 0;
    let mut first_dropped = None;
    let mut kept = Vec::with_capacity(work.0.len());
    for poly in work.0 {
        let (ext, holes) = poly.into_inner();
        if ring_is_degenerate(&ext) {
            dropped_polys += 1;
            first_dropped = first_dropped.or(ext.0.first().copied());
            continue;
        }
        let before = holes.len();
        let holes: Vec<_> = holes
            .into_iter()
            .filter(|h| {
                let bad = ring_is_degenerate(h);
                if bad {
                    first_dropped = first_dropped.or(h.0.first().copied());
                }
                !bad
            })
            .collect();
        dropped_rings += before - holes.len();
        kept.push(Polygon::new(ext, holes));
    }
    if dropped_rings + dropped_polys > 0 {
        notes.push(RepairNote {
            kind: RepairKind::DegenerateRing,
            reason: format!(
                "dropped {dropped_polys} polygons and {dropped_rings} holes with fewer than 3 distinct points or all points on a line"
            ),
            location: first_dropped,
        });
    }
    let mut work = MultiPolygon::new(kept);
    if work.0.is_empty() {
        return Err("nothing with an area is left after dropping degenerate rings".into());
    }

    // 3. Rebuild what is still invalid.
    let problems = validity_problems(&work);
    if let Some(first) = problems.first() {
        let before = work.unsigned_area();
        work = rebuild(&work);
        let after = work.unsigned_area();
        let change = if before > 0.0 {
            (after / before - 1.0) * 100.0
        } else {
            0.0
        };
        let more = match problems.len() {
            1 => String::new(),
            n => format!(" (and {} more problems)", n - 1),
        };
        notes.push(RepairNote {
            kind: RepairKind::Rebuilt,
            reason: format!(
                "{}{more}: rebuilt into {} polygons, area changed by {change:+.4}%",
                first.reason,
                work.0.len()
            ),
            location: first.location,
        });
        work.0.retain(|p| p.unsigned_area() > 0.0);
        if work.0.is_empty() {
            return Err(format!("{}: nothing with an area is left", first.reason));
        }
    }

    // 4. Orientation.
    let reversed = orient_rfc7946(&mut work);
    if reversed > 0 {
        notes.push(RepairNote {
            kind: RepairKind::Orientation,
            reason: format!("reversed {reversed} rings to the rfc 7946 winding"),
            location: None,
        });
    }

    // 5. The result must be valid.
    if let Some(p) = validity_problems(&work).into_iter().next() {
        return Err(format!("still invalid after repair: {}", p.reason));
    }
    Ok(Repaired {
        geometry: work,
        notes,
    })
}

/// Odd-even rebuild of one geometry, falling back to i_overlay when the triangulation
/// cannot take the coordinates. geo's triangulation has internal assertions that odd
/// inputs can trip; such a panic is caught and treated as a failure too, because an
/// import must answer for any input.
fn make_valid<G>(g: &G) -> MultiPolygon<f64>
where
    G: MakeValid<f64> + BooleanOps<Scalar = f64> + std::panic::RefUnwindSafe,
{
    match std::panic::catch_unwind(|| g.make_valid()) {
        Ok(Ok(mp)) => mp,
        _ => g.boolean_op_with_fill_rule(
            &MultiPolygon::<f64>::new(vec![]),
            OpType::Union,
            FillRule::EvenOdd,
        ),
    }
}

/// Turns `-0.0` into `0.0`: the two compare equal but sort apart, which trips geo's
/// sweep-line code (found by the garbage tests).
pub fn normalise_zeros(mp: &mut MultiPolygon<f64>) {
    use geo::MapCoordsInPlace;
    mp.map_coords_in_place(|c| Coord {
        x: c.x + 0.0,
        y: c.y + 0.0,
    });
}

fn rebuild(mp: &MultiPolygon<f64>) -> MultiPolygon<f64> {
    let whole = make_valid(mp);
    if mp.0.len() < 2 {
        return whole;
    }
    // Parts repaired alone and the whole repaired at once cover the same area unless
    // parts overlap (odd-even then cuts the overlap out): union them in that case.
    let parts: Vec<MultiPolygon<f64>> = mp.0.iter().map(make_valid).collect();
    let sum: f64 = parts.iter().map(Area::unsigned_area).sum();
    if (sum - whole.unsigned_area()).abs() <= sum * 1e-9 {
        whole
    } else {
        unary_union(&parts)
    }
}

/// OGC WKB (little endian) of a multipolygon, as the store takes it.
pub fn to_wkb(mp: &MultiPolygon<f64>) -> Vec<u8> {
    wuzhang_spatial::wkb_io::multipolygon_to_wkb(mp)
}

/// Reads OGC WKB (either byte order; ISO/EWKB Z and M are dropped) holding a Polygon or a
/// MultiPolygon.
pub fn from_wkb(bytes: &[u8]) -> Result<MultiPolygon<f64>, String> {
    let mut mp = wuzhang_spatial::wkb_io::multipolygon_from_wkb(bytes)
        .map_err(|e| format!("not usable wkb: {}", e.to_string().to_lowercase()))?;
    normalise_zeros(&mut mp);
    Ok(mp)
}

/// [`repair_multi_polygon`] on WKB in and out, for geometry that comes from (or goes to)
/// a database rather than a file.
pub fn repair_wkb(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mp = from_wkb(bytes)?;
    repair_multi_polygon(&mp).map(|r| to_wkb(&r.geometry))
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::wkt;

    #[test]
    fn bow_tie_becomes_two_triangles() {
        let mp = MultiPolygon::new(vec![wkt!(POLYGON((0. 0., 0. 10., 10. 0., 10. 10., 0. 0.)))]);
        let problems = validity_problems(&mp);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].reason.contains("self-intersection"));
        assert_eq!(problems[0].location, Some(Coord { x: 5.0, y: 5.0 }));
        let r = repair_multi_polygon(&mp).unwrap();
        assert_eq!(r.geometry.0.len(), 2);
        assert!(r.geometry.is_valid());
        assert!((r.geometry.unsigned_area() - 50.0).abs() < 1e-9);
        assert!(r.notes.iter().any(|n| n.kind == RepairKind::Rebuilt));
    }

    #[test]
    fn spike_is_cut_off() {
        let mp = MultiPolygon::new(vec![wkt!(POLYGON((
            0. 0., 10. 0., 15. 5., 10. 0., 10. 10., 0. 10., 0. 0.
        )))]);
        assert!(!mp.is_valid());
        let r = repair_multi_polygon(&mp).unwrap();
        assert!(r.geometry.is_valid());
        assert!((r.geometry.unsigned_area() - 100.0).abs() < 1e-9);
        let xs: Vec<f64> = r.geometry.0[0].exterior().0.iter().map(|c| c.x).collect();
        assert!(xs.iter().all(|x| *x <= 10.0), "{xs:?}");
    }

    #[test]
    fn overlapping_parts_are_merged_not_cut() {
        let mp = wkt!(MULTIPOLYGON(
            ((0. 0., 10. 0., 10. 10., 0. 10., 0. 0.)),
            ((5. 0., 15. 0., 15. 10., 5. 10., 5. 0.))
        ));
        assert!(!mp.is_valid());
        let r = repair_multi_polygon(&mp).unwrap();
        assert!(r.geometry.is_valid());
        assert!((r.geometry.unsigned_area() - 150.0).abs() < 1e-6);
    }

    #[test]
    fn clockwise_valid_polygon_is_only_reoriented() {
        let mp = MultiPolygon::new(vec![wkt!(POLYGON((0. 0., 0. 1., 1. 1., 1. 0., 0. 0.)))]);
        let r = repair_multi_polygon(&mp).unwrap();
        assert_eq!(r.notes.len(), 1);
        assert_eq!(r.notes[0].kind, RepairKind::Orientation);
        assert!(signed_ring_area(r.geometry.0[0].exterior()) > 0.0);
    }

    #[test]
    fn degenerate_parts_are_dropped_and_nothing_left_fails() {
        let line = MultiPolygon::new(vec![wkt!(POLYGON((0. 0., 1. 1., 2. 2., 0. 0.)))]);
        assert!(repair_multi_polygon(&line).is_err());
        let nan = MultiPolygon::new(vec![Polygon::new(
            LineString::from(vec![(0., 0.), (f64::NAN, 1.), (1., 1.), (0., 0.)]),
            vec![],
        )]);
        assert!(repair_multi_polygon(&nan).is_err());
    }

    #[test]
    fn sweep_validation_agrees_with_geo() {
        use rand::rngs::StdRng;
        use rand::{Rng, SeedableRng};
        let mut rng = StdRng::seed_from_u64(11);
        let mut ring = |n: usize, x0: f64| {
            let mut c: Vec<(f64, f64)> = (0..n)
                .map(|_| {
                    (
                        x0 + rng.random_range(0..5) as f64,
                        rng.random_range(0..5) as f64,
                    )
                })
                .collect();
            c.push(c[0]);
            LineString::from(c)
        };
        let mut invalid = 0;
        for _ in 0..2000 {
            let mp = MultiPolygon::new(vec![
                Polygon::new(ring(6, 0.0), vec![ring(4, 0.0)]),
                Polygon::new(ring(5, 3.0), vec![]),
            ]);
            let geo_says = mp.validation_errors();
            invalid += usize::from(!geo_says.is_empty());
            assert_eq!(validation_errors_by_sweep(&mp), geo_says, "{mp:?}");
        }
        assert!(
            invalid > 100,
            "the random shapes should be mostly invalid: {invalid}"
        );
    }

    #[test]
    fn long_rings_are_checked_quickly() {
        let n = 100_000;
        let circle = |r: f64| -> LineString<f64> {
            let mut c: Vec<(f64, f64)> = (0..n)
                .map(|i| {
                    let a = i as f64 / n as f64 * std::f64::consts::TAU;
                    (125.0 + r * a.cos(), 43.0 + r * a.sin())
                })
                .collect();
            c.push(c[0]);
            LineString::from(c)
        };
        let mp = MultiPolygon::new(vec![Polygon::new(circle(0.5), vec![circle(0.1)])]);
        assert!(validity_problems(&mp).is_empty());
        // Swap two neighbouring points: a tiny bow-tie in a huge ring.
        let mut bad = circle(0.5);
        bad.0.swap(500, 501);
        let problems = validity_problems(&MultiPolygon::new(vec![Polygon::new(bad, vec![])]));
        assert_eq!(problems.len(), 1);
        assert!(problems[0].reason.contains("self-intersection"));
        let at = problems[0].location.unwrap();
        assert!(
            (at.x - (125.0 + 0.5)).abs() < 0.01 && (at.y - 43.0).abs() < 0.02,
            "{at:?}"
        );
    }

    #[test]
    fn negative_zero_does_not_trip_the_triangulation() {
        let ring = LineString::from(vec![
            (43.0, -90.0),
            (-0.0, 90.0),
            (-0.0, -0.0),
            (-0.0, -0.0),
            (90.0, 90.0),
            (0.0, 43.0),
            (43.0, -90.0),
        ]);
        let mp = MultiPolygon::new(vec![Polygon::new(ring, vec![])]);
        let r = repair_multi_polygon(&mp).unwrap();
        assert!(r.geometry.is_valid());
    }

    #[test]
    fn wkb_round_trips_and_rejects_garbage() {
        let mp = wkt!(MULTIPOLYGON(((0. 0., 1. 0., 1. 1., 0. 0.))));
        let bytes = to_wkb(&mp);
        assert_eq!(bytes[0], 1, "little endian");
        assert_eq!(from_wkb(&bytes).unwrap(), mp);
        assert!(from_wkb(&[]).is_err());
        assert!(from_wkb(&bytes[..bytes.len() - 3]).is_err());
        let point = {
            let mut v = vec![1u8, 1, 0, 0, 0];
            v.extend(1f64.to_le_bytes());
            v.extend(2f64.to_le_bytes());
            v
        };
        assert!(from_wkb(&point).unwrap_err().contains("point"));
        let bow = to_wkb(&MultiPolygon::new(vec![wkt!(POLYGON((
            0. 0., 0. 10., 10. 0., 10. 10., 0. 0.
        )))]));
        let fixed = from_wkb(&repair_wkb(&bow).unwrap()).unwrap();
        assert!(fixed.is_valid());
    }

    #[test]
    fn area_in_square_metres_is_close() {
        // 0.01° x 0.01° at 43.9°N: 1113.2 m x 801.9 m (sphere).
        let mp =
            wkt!(MULTIPOLYGON(((125. 43.9, 125.01 43.9, 125.01 43.91, 125. 43.91, 125. 43.9))));
        let a = area_m2(&mp);
        assert!((a - 1_111.95 * 801.0).abs() / a < 0.01, "{a}");
        let square = point_footprint(Coord { x: 125.3, y: 43.9 });
        assert!((area_m2(&square) - 25.0).abs() < 0.1);
    }
}
