//! Geometry helpers: repairing a published boundary, choosing band boundaries on lattice
//! lines, cutting a polygon to a band and snapping the cut back onto those lines.

use geo::{
    Area, BooleanOps, BoundingRect, Coord, LineString, MultiPolygon, Orient, Polygon, Rect,
    orient::Direction,
};
use wuzhang_spatial::distance::METRES_PER_DEGREE;
use wuzhang_spatial::synth::UnitLattice;

/// How far a vertex may be from a lattice line and still be put on it: far above the
/// overlay engine's rounding (~1e-10° at district scale), far below any real feature
/// (1e-8° ≈ 1 mm). The same tolerance `wuzhang_spatial::synth` snaps cut cells with.
const SNAP_EPS: f64 = 1e-8;

/// A valid version of a possibly invalid (self-intersecting) boundary, by the import's
/// own repair (geo `MakeValid`), which keeps every input vertex: neighbouring districts
/// repaired apart still share their borders exactly, as the import's overlap check
/// demands. Should that repair fail, the boundary goes through the overlay engine instead
/// (intersected with its padded bounding box: even-odd fill, OGC output), whose rounding
/// can leave slivers of a few m² between neighbours.
pub(crate) fn repair(mp: &MultiPolygon<f64>) -> MultiPolygon<f64> {
    if let Ok(r) = wuzhang_import::geometry::repair_multi_polygon(mp) {
        return node_touches(canonical(r.geometry.orient(Direction::Default)));
    }
    let Some(r) = mp.bounding_rect() else {
        return MultiPolygon::new(vec![]);
    };
    let pad = Coord { x: 0.01, y: 0.01 };
    let frame = Rect::new(r.min() - pad, r.max() + pad).to_polygon();
    node_touches(mp.intersection(&frame).orient(Direction::Default))
}

/// The same shape in one fixed form: the repair may hand back its polygons and rings in
/// any order and starting anywhere, but a seed must give the same tree every time.
fn canonical(mp: MultiPolygon<f64>) -> MultiPolygon<f64> {
    fn ring(ls: &LineString<f64>) -> LineString<f64> {
        let mut pts: Vec<Coord<f64>> = ls.0.clone();
        if pts.len() > 1 && pts.first() == pts.last() {
            pts.pop();
        }
        let start = pts
            .iter()
            .enumerate()
            .min_by(|(_, a), (_, b)| a.x.total_cmp(&b.x).then(a.y.total_cmp(&b.y)))
            .map_or(0, |(i, _)| i);
        pts.rotate_left(start);
        if let Some(first) = pts.first().copied() {
            pts.push(first);
        }
        LineString::new(pts)
    }
    fn key(ls: &LineString<f64>) -> (f64, f64) {
        ls.0.first().map_or((0.0, 0.0), |c| (c.x, c.y))
    }
    let mut polys: Vec<Polygon<f64>> =
        mp.0.iter()
            .map(|p| {
                let mut holes: Vec<LineString<f64>> = p.interiors().iter().map(ring).collect();
                holes.sort_by(|a, b| {
                    key(a)
                        .0
                        .total_cmp(&key(b).0)
                        .then(key(a).1.total_cmp(&key(b).1))
                });
                Polygon::new(ring(p.exterior()), holes)
            })
            .collect();
    polys.sort_by(|a, b| {
        let (ka, kb) = (key(a.exterior()), key(b.exterior()));
        ka.0.total_cmp(&kb.0).then(ka.1.total_cmp(&kb.1))
    });
    MultiPolygon::new(polys)
}

/// The lattice `unit_grids_clipped` lays over `parent`: it starts at the parent's
/// south-west corner and is square in metres at the parent's middle latitude. Computed
/// the same way, so the cell ids it hands out index this lattice.
pub(crate) fn lattice_of(parent: &MultiPolygon<f64>, cell_m: f64) -> Option<UnitLattice> {
    let r = parent.bounding_rect()?;
    Some(UnitLattice::new(
        r.min().x,
        r.min().y,
        cell_m,
        (r.min().y + r.max().y) / 2.0,
    ))
}

/// Splits the index range `0..counts.len()` into `n` consecutive bands with about equal
/// sums of `counts`, each band holding at least one non-zero entry. Returns the `n + 1`
/// boundaries (first 0, last `counts.len()`), or `None` when fewer than `n` entries are
/// non-zero.
pub(crate) fn split_balanced(counts: &[usize], n: usize) -> Option<Vec<u32>> {
    let nonzero: Vec<usize> = (0..counts.len()).filter(|&i| counts[i] > 0).collect();
    if n == 0 || nonzero.len() < n {
        return None;
    }
    let total: usize = counts.iter().sum();
    // prefix[j] = sum of the first j non-zero entries.
    let mut prefix = Vec::with_capacity(nonzero.len() + 1);
    prefix.push(0usize);
    for &i in &nonzero {
        prefix.push(prefix.last().copied().unwrap_or(0) + counts[i]);
    }
    let mut bounds = vec![0u32];
    let mut prev = 0usize;
    for k in 1..n {
        // Band k starts at non-zero entry j: at least one entry per band before and after.
        let (lo, hi) = (prev + 1, nonzero.len() - (n - k));
        let target = (total as f64) * (k as f64) / (n as f64);
        let j = (lo..=hi)
            .min_by(|&a, &b| {
                let d = |j: usize| (prefix[j] as f64 - target).abs();
                d(a).total_cmp(&d(b))
            })
            .unwrap_or(lo);
        bounds.push(nonzero[j] as u32);
        prev = j;
    }
    bounds.push(counts.len() as u32);
    Some(bounds)
}

/// Which band of `bounds` (as returned by [`split_balanced`]) index `i` falls in.
pub(crate) fn band_of(bounds: &[u32], i: u32) -> usize {
    // bounds[0] = 0 <= i, so the answer is at least 1 before the subtraction.
    bounds.partition_point(|&b| b <= i).saturating_sub(1)
}

/// The edges of a band in degrees: inner boundaries on lattice lines, the outer two
/// pushed a degree past the parent so they never cut it.
pub(crate) fn band_edges(
    bounds: &[u32],
    band: usize,
    line: impl Fn(u32) -> f64,
    min: f64,
    max: f64,
) -> (f64, f64) {
    let lo = if band == 0 {
        min - 1.0
    } else {
        line(bounds[band])
    };
    let hi = if band + 2 == bounds.len() {
        max + 1.0
    } else {
        line(bounds[band + 1])
    };
    (lo, hi)
}

/// `mp` cut to the rectangle `[x0, x1] × [y0, y1]`, with vertices within [`SNAP_EPS`] of
/// any of `xs` / `ys` put exactly on them, so pieces cut on the same lattice line share
/// bit-identical edges with each other and with the unit cells along it.
pub(crate) fn cut(
    mp: &MultiPolygon<f64>,
    [x0, x1]: [f64; 2],
    [y0, y1]: [f64; 2],
    xs: &[f64],
    ys: &[f64],
) -> MultiPolygon<f64> {
    let rect = Rect::new(Coord { x: x0, y: y0 }, Coord { x: x1, y: y1 }).to_polygon();
    let out = mp.intersection(&rect);
    node_touches(snap(out, xs, ys).orient(Direction::Default))
}

/// How near a vertex must be to another ring's edge to count as touching it: about the
/// overlay engine's integer grid (~1e-9° for a cut across a district) and what snapping
/// onto lattice lines moves, far below any real feature (1e-9° ≈ 0.1 mm).
const TOUCH_EPS: f64 = 1e-9;

/// Makes parts that touch at a point touch at a shared vertex. The overlay engine puts a
/// vertex exactly on another ring's edge in its integer space (where two parts of a
/// pinched boundary meet), but back in degrees, and after its neighbours were snapped onto
/// lattice lines, the vertex can fall a hair inside the other part, and exact predicates
/// then see the parts overlap. Splitting the
/// edge at that very vertex makes the touch exact again. Geometries that are already
/// valid are returned as they are.
pub(crate) fn node_touches(mp: MultiPolygon<f64>) -> MultiPolygon<f64> {
    use geo::Validation;
    if mp.is_valid() {
        return mp;
    }
    // Every vertex (first occurrences only: rings are closed), sorted by longitude.
    let mut vertices: Vec<Coord<f64>> = mp
        .iter()
        .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
        .flat_map(|r| r.0.iter().skip(1).copied())
        .collect();
    vertices.sort_by(|a, b| a.x.total_cmp(&b.x));
    let node = |ring: &LineString<f64>| -> LineString<f64> {
        let mut out = Vec::with_capacity(ring.0.len());
        let mut on_edge = Vec::new();
        for w in ring.0.windows(2) {
            let (a, b) = (w[0], w[1]);
            out.push(a);
            let (x0, x1) = (a.x.min(b.x) - TOUCH_EPS, a.x.max(b.x) + TOUCH_EPS);
            let (y0, y1) = (a.y.min(b.y) - TOUCH_EPS, a.y.max(b.y) + TOUCH_EPS);
            let start = vertices.partition_point(|v| v.x < x0);
            on_edge.clear();
            let d = b - a;
            let len2 = d.x * d.x + d.y * d.y;
            for &v in vertices[start..].iter().take_while(|v| v.x <= x1) {
                if v.y < y0 || v.y > y1 || v == a || v == b || len2 == 0.0 {
                    continue;
                }
                let t = ((v.x - a.x) * d.x + (v.y - a.y) * d.y) / len2;
                let cross = (v.x - a.x) * d.y - (v.y - a.y) * d.x;
                if t > 0.0 && t < 1.0 && cross.abs() <= TOUCH_EPS * len2.sqrt() {
                    on_edge.push((t, v));
                }
            }
            on_edge.sort_by(|p, q| p.0.total_cmp(&q.0));
            out.extend(on_edge.iter().map(|&(_, v)| v));
        }
        out.extend(ring.0.last().copied());
        out.dedup();
        LineString::new(out)
    };
    MultiPolygon::new(
        mp.iter()
            .map(|p| Polygon::new(node(p.exterior()), p.interiors().iter().map(node).collect()))
            .collect(),
    )
}

/// Puts vertices near the given vertical / horizontal lines on them, drops repeated
/// vertices and rings left with fewer than three corners.
pub(crate) fn snap(mp: MultiPolygon<f64>, xs: &[f64], ys: &[f64]) -> MultiPolygon<f64> {
    let to = |v: f64, lines: &[f64]| {
        lines
            .iter()
            .copied()
            .find(|l| (v - l).abs() <= SNAP_EPS)
            .unwrap_or(v)
    };
    let fix = |ring: &LineString<f64>| -> Option<LineString<f64>> {
        let mut pts: Vec<Coord<f64>> = Vec::with_capacity(ring.0.len());
        for c in &ring.0 {
            let c = Coord {
                x: to(c.x, xs),
                y: to(c.y, ys),
            };
            if pts.last() != Some(&c) {
                pts.push(c);
            }
        }
        (pts.len() >= 4).then(|| LineString::new(pts))
    };
    MultiPolygon::new(
        mp.iter()
            .filter_map(|p| {
                let ext = fix(p.exterior())?;
                Some(Polygon::new(
                    ext,
                    p.interiors().iter().filter_map(fix).collect(),
                ))
            })
            .collect(),
    )
}

/// Area in square metres, by an equirectangular projection at the geometry's middle
/// latitude: good to a fraction of a per cent over a district, which is all the cell-size
/// estimate needs.
pub(crate) fn area_m2(mp: &MultiPolygon<f64>) -> f64 {
    let Some(r) = mp.bounding_rect() else {
        return 0.0;
    };
    let lat = (r.min().y + r.max().y) / 2.0;
    mp.unsigned_area() * METRES_PER_DEGREE * METRES_PER_DEGREE * lat.to_radians().cos()
}

/// Sum over the boundary's edges of their east-west plus north-south extents, in metres:
/// about the number of lattice lines a boundary crosses, times the cell size.
pub(crate) fn manhattan_perimeter_m(mp: &MultiPolygon<f64>) -> f64 {
    let Some(r) = mp.bounding_rect() else {
        return 0.0;
    };
    let kx = METRES_PER_DEGREE * ((r.min().y + r.max().y) / 2.0).to_radians().cos();
    mp.iter()
        .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
        .flat_map(|ring| ring.lines())
        .map(|l| (l.dx().abs() * kx) + (l.dy().abs() * METRES_PER_DEGREE))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::Validation;

    #[test]
    fn bands_balance_and_never_come_out_empty() {
        let counts = [0, 5, 5, 0, 5, 5, 0, 0, 10, 0];
        let b = split_balanced(&counts, 3).unwrap();
        assert_eq!(b, vec![0, 4, 8, 10]);
        assert_eq!(band_of(&b, 0), 0);
        assert_eq!(band_of(&b, 3), 0);
        assert_eq!(band_of(&b, 4), 1);
        assert_eq!(band_of(&b, 9), 2);
        // Skewed: one heavy entry still leaves every band something.
        let b = split_balanced(&[100, 1, 1, 1], 4).unwrap();
        assert_eq!(b, vec![0, 1, 2, 3, 4]);
        let b = split_balanced(&[1, 1, 1, 100], 2).unwrap();
        assert_eq!(b, vec![0, 3, 4]);
        assert_eq!(split_balanced(&[0, 3, 0], 2), None);
        assert_eq!(split_balanced(&[0, 3, 0], 1).unwrap(), vec![0, 3]);
    }

    #[test]
    fn repair_makes_a_bow_tie_valid() {
        let bow = MultiPolygon::new(vec![Polygon::new(
            LineString::from(vec![
                (0.0, 0.0),
                (1.0, 1.0),
                (1.0, 0.0),
                (0.0, 1.0),
                (0.0, 0.0),
            ]),
            vec![],
        )]);
        assert!(!bow.is_valid());
        let fixed = repair(&bow);
        assert!(fixed.is_valid(), "{:?}", fixed.validation_errors());
        assert!((fixed.unsigned_area() - 0.5).abs() < 1e-9);
    }

    #[test]
    fn parts_touching_a_hair_inside_each_other_are_noded() {
        // A triangle whose tip should touch the square's east side at (1, 0.5), but, as
        // after a round through the overlay's integers, lies a hair inside it.
        let square = Rect::new((0.0, 0.0), (1.0, 1.0)).to_polygon();
        let tip = Coord {
            x: 1.0 - 1e-12,
            y: 0.5,
        };
        let triangle = Polygon::new(
            LineString::new(vec![tip, (2.0, 0.0).into(), (2.0, 1.0).into(), tip]),
            vec![],
        );
        let mp = MultiPolygon::new(vec![square, triangle]);
        assert!(!mp.is_valid());
        let area = mp.unsigned_area();
        let fixed = node_touches(mp);
        assert!(fixed.is_valid(), "{:?}", fixed.validation_errors());
        assert!(fixed.0[0].exterior().0.contains(&tip));
        assert!((fixed.unsigned_area() - area).abs() < 1e-11);
        // Parts that do not touch are left alone.
        let apart = MultiPolygon::new(vec![Rect::new((0.0, 0.0), (1.0, 1.0)).to_polygon()]);
        assert_eq!(node_touches(apart.clone()), apart);
    }

    #[test]
    fn cut_pieces_sit_exactly_on_the_line() {
        let square = MultiPolygon::new(vec![Rect::new((0.0, 0.0), (1.0, 1.0)).to_polygon()]);
        let line = 0.1 + 0.2; // not representable exactly: 0.30000000000000004
        let west = cut(&square, [-1.0, line], [-1.0, 2.0], &[line], &[]);
        let east = cut(&square, [line, 2.0], [-1.0, 2.0], &[line], &[]);
        let on_line =
            |mp: &MultiPolygon<f64>| mp.0[0].exterior().0.iter().filter(|c| c.x == line).count();
        // Closing point repeats one of them when it lies on the line.
        assert!(on_line(&west) >= 2 && on_line(&east) >= 2);
        assert!((west.unsigned_area() + east.unsigned_area() - 1.0).abs() < 1e-12);
    }
}
