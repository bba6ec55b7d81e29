//! Synthetic unit grids: regular cells of about `cell_m` metres (GB/T 30428.1 "unit
//! grids" are about 100 m), over a box or clipped to a parent area. Benchmarks use them
//! now; the demo and import tooling will use them to fill real subdistricts.
//!
//! Cells are laid on a [`UnitLattice`]: fixed steps in degrees, square in metres at the
//! lattice's reference latitude. Every vertex is computed from its integer lattice
//! position by one formula, so neighbouring cells share bit-identical edges, and cells
//! cut by a parent boundary have their cut pieces snapped back onto the lattice lines;
//! the index's border rule then sees true shared edges everywhere.

use geo::{BooleanOps, Coord, LineString, MultiPolygon, Polygon, Rect};
use wuzhang_domain::area::{AreaCode, BBox};

use crate::distance::METRES_PER_DEGREE;

/// Centre of Changchun (longitude, latitude), where [`changchun_grids`] puts its cells.
pub const CHANGCHUN_CENTRE: (f64, f64) = (125.32, 43.88);

/// Position of a cell on its lattice: row 0 is the southernmost, column 0 the westernmost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CellId {
    pub row: u32,
    pub col: u32,
}

/// A lattice of cells `dlng` × `dlat` degrees from a south-west origin.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UnitLattice {
    pub origin_lng: f64,
    pub origin_lat: f64,
    pub dlng: f64,
    pub dlat: f64,
}

impl UnitLattice {
    /// A lattice whose cells are `cell_m` metres on a side at latitude `at_lat` (they
    /// narrow slightly to the north of it and widen to the south: about 0.15 % per km).
    pub fn new(origin_lng: f64, origin_lat: f64, cell_m: f64, at_lat: f64) -> Self {
        assert!(
            cell_m > 0.0 && cell_m.is_finite(),
            "cell size must be positive, got {cell_m}"
        );
        let dlat = cell_m / METRES_PER_DEGREE;
        Self {
            origin_lng,
            origin_lat,
            dlng: dlat / at_lat.to_radians().cos(),
            dlat,
        }
    }

    /// Longitude of the lattice line west of column `col`.
    pub fn lng(&self, col: u32) -> f64 {
        self.origin_lng + f64::from(col) * self.dlng
    }

    /// Latitude of the lattice line south of row `row`.
    pub fn lat(&self, row: u32) -> f64 {
        self.origin_lat + f64::from(row) * self.dlat
    }

    /// The cell as a polygon: a closed, counter-clockwise ring of 5 coordinates.
    pub fn cell(&self, id: CellId) -> Polygon<f64> {
        let (x0, x1) = (self.lng(id.col), self.lng(id.col + 1));
        let (y0, y1) = (self.lat(id.row), self.lat(id.row + 1));
        Polygon::new(
            LineString::new(vec![
                Coord { x: x0, y: y0 },
                Coord { x: x1, y: y0 },
                Coord { x: x1, y: y1 },
                Coord { x: x0, y: y1 },
                Coord { x: x0, y: y0 },
            ]),
            vec![],
        )
    }

    /// Columns and rows needed to cover `bbox` from the origin.
    fn cover(&self, bbox: &BBox) -> (u32, u32) {
        let n = |extent: f64, step: f64| ((extent / step).ceil().max(1.0)) as u32;
        (
            n(bbox.max_lng - self.origin_lng, self.dlng),
            n(bbox.max_lat - self.origin_lat, self.dlat),
        )
    }
}

/// Codes `prefix` followed by a sequence number, zero-padded to `width` digits, in the
/// order cells are generated (starting at 1).
///
/// # Panics
/// When called for a cell whose code would be invalid (`prefix` not made of
/// `[A-Za-z0-9_-]`, or longer than 32 characters with the number).
pub fn sequential_codes(prefix: &str, width: usize) -> impl FnMut(CellId) -> AreaCode + use<> {
    let prefix = prefix.to_owned();
    let mut seq = 0u64;
    move |_| {
        seq += 1;
        AreaCode::new(format!("{prefix}{seq:0width$}"))
            .unwrap_or_else(|e| panic!("synthetic code {prefix}{seq:0width$}: {e}"))
    }
}

/// Cells of `cell_m` metres covering `bbox`, row by row from the south-west corner
/// (the last row and column may reach past the box's north and east edges). Lazy, so a
/// million cells can stream into [`GridIndex::build`](crate::index::GridIndex::build)
/// without being held twice.
pub fn unit_grids_in_bbox(
    bbox: BBox,
    cell_m: f64,
    mut code: impl FnMut(CellId) -> AreaCode,
) -> impl Iterator<Item = (AreaCode, MultiPolygon<f64>)> {
    let lattice = UnitLattice::new(
        bbox.min_lng,
        bbox.min_lat,
        cell_m,
        (bbox.min_lat + bbox.max_lat) / 2.0,
    );
    let (cols, rows) = lattice.cover(&bbox);
    (0..u64::from(rows) * u64::from(cols)).map(move |i| {
        let id = CellId {
            row: (i / u64::from(cols)) as u32,
            col: (i % u64::from(cols)) as u32,
        };
        (code(id), MultiPolygon::new(vec![lattice.cell(id)]))
    })
}

/// `n` cells of 100 m in a near-square block centred on Changchun, coded
/// `220100` + a 9-digit sequence from 000000000 (15 characters, like a GB/T 30428.1 grid
/// code). Rows run south to north, so a 1,000,000-cell block is 1000 × 1000 cells,
/// about 100 km a side.
pub fn changchun_grids(n: usize) -> impl Iterator<Item = (AreaCode, MultiPolygon<f64>)> {
    let lattice = changchun_lattice(n);
    let cols = changchun_columns(n);
    (0..n).map(move |i| {
        let id = CellId {
            row: (i / cols) as u32,
            col: (i % cols) as u32,
        };
        let code = AreaCode::new(format!("220100{i:09}")).expect("15 digits is a valid code");
        (code, MultiPolygon::new(vec![lattice.cell(id)]))
    })
}

/// The lattice [`changchun_grids`] lays `n` cells on (to aim queries at them).
pub fn changchun_lattice(n: usize) -> UnitLattice {
    let cols = changchun_columns(n);
    let rows = n.div_ceil(cols).max(1);
    let (lng, lat) = CHANGCHUN_CENTRE;
    let probe = UnitLattice::new(lng, lat, 100.0, lat);
    UnitLattice::new(
        lng - probe.dlng * cols as f64 / 2.0,
        lat - probe.dlat * rows as f64 / 2.0,
        100.0,
        lat,
    )
}

fn changchun_columns(n: usize) -> usize {
    ((n as f64).sqrt().ceil() as usize).max(1)
}

/// Cells of `cell_m` metres filling `parent`, as clipped by it: cells wholly inside are
/// kept as they are (no clipping work), cells across its boundary are intersected with
/// it (geo `BooleanOps`, even-odd fill, so self-intersecting real-world boundaries still
/// give an answer), cells wholly outside are dropped. The lattice starts at the parent's
/// south-west corner; codes are asked for in row-major order, only for cells kept.
///
/// Cut pieces have their vertices snapped back onto the lattice lines they were cut
/// from (the overlay engine rounds to its own integer grid), so a cut cell and its uncut
/// neighbour still share an exact edge.
pub fn unit_grids_clipped(
    parent: &MultiPolygon<f64>,
    cell_m: f64,
    mut code: impl FnMut(CellId) -> AreaCode,
) -> Vec<(AreaCode, MultiPolygon<f64>)> {
    let Some(bbox) = bounding_box(parent) else {
        return Vec::new();
    };
    let lattice = UnitLattice::new(
        bbox.min_lng,
        bbox.min_lat,
        cell_m,
        (bbox.min_lat + bbox.max_lat) / 2.0,
    );
    let (cols, rows) = lattice.cover(&bbox);
    let edges: Vec<[[f64; 2]; 2]> = parent
        .iter()
        .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
        .flat_map(|ring| ring.lines())
        .map(|l| [[l.start.x, l.start.y], [l.end.x, l.end.y]])
        .collect();

    // Edges by the rows they reach (one extra row each side absorbs rounding).
    let row_of = |y: f64| ((y - lattice.origin_lat) / lattice.dlat).floor();
    let mut by_row: Vec<Vec<usize>> = vec![Vec::new(); rows as usize];
    for (i, [a, b]) in edges.iter().enumerate() {
        let lo = (row_of(a[1].min(b[1])) - 1.0).max(0.0) as usize;
        let hi = (row_of(a[1].max(b[1])) + 1.0).min(f64::from(rows) - 1.0) as usize;
        for r in by_row.iter_mut().take(hi + 1).skip(lo) {
            r.push(i);
        }
    }

    let mut out = Vec::new();
    let mut crosses = Vec::new();
    let mut boundary = vec![false; cols as usize];
    for row in 0..rows {
        let (y0, y1) = (lattice.lat(row), lattice.lat(row + 1));
        // Columns the boundary passes through in this row (plus one either side).
        boundary.iter_mut().for_each(|b| *b = false);
        for &e in &by_row[row as usize] {
            let [a, b] = edges[e];
            let Some((xa, xb)) = x_extent_in_slab(a, b, y0, y1) else {
                continue;
            };
            let col_of = |x: f64| ((x - lattice.origin_lng) / lattice.dlng).floor();
            let lo = (col_of(xa.min(xb)) - 1.0).max(0.0) as usize;
            let hi = (col_of(xa.max(xb)) + 1.0).min(f64::from(cols) - 1.0);
            if hi < 0.0 {
                continue;
            }
            for flag in boundary.iter_mut().take(hi as usize + 1).skip(lo) {
                *flag = true;
            }
        }
        // Where the row's centre line crosses the boundary: cells away from the boundary
        // are inside when an odd number of crossings lie west of their centre.
        let yc = (y0 + y1) / 2.0;
        crosses.clear();
        for &e in &by_row[row as usize] {
            let [a, b] = edges[e];
            if (a[1] > yc) != (b[1] > yc) {
                crosses.push(a[0] + (yc - a[1]) * (b[0] - a[0]) / (b[1] - a[1]));
            }
        }
        crosses.sort_by(f64::total_cmp);

        // The parent cut to this row, so each boundary cell is clipped against a small
        // piece rather than the whole parent.
        let mut strip: Option<MultiPolygon<f64>> = None;
        for col in 0..cols {
            let id = CellId { row, col };
            if !boundary[col as usize] {
                let xc = (lattice.lng(col) + lattice.lng(col + 1)) / 2.0;
                let west = crosses.partition_point(|&x| x < xc);
                if west % 2 == 1 {
                    out.push((code(id), MultiPolygon::new(vec![lattice.cell(id)])));
                }
                continue;
            }
            let strip = strip.get_or_insert_with(|| {
                let rect = Rect::new(
                    Coord {
                        x: bbox.min_lng - 1.0,
                        y: y0,
                    },
                    Coord {
                        x: bbox.max_lng + 1.0,
                        y: y1,
                    },
                );
                parent.intersection(&rect.to_polygon())
            });
            let cell = lattice.cell(id);
            let cut = cell.intersection(&*strip);
            let (x0, x1) = (lattice.lng(col), lattice.lng(col + 1));
            if let Some(piece) = snap_to_cell(cut, [x0, x1], [y0, y1]) {
                out.push((code(id), piece));
            }
        }
    }
    out
}

/// Longitude range of segment `a`–`b` within latitudes `[y0, y1]`, if it reaches them.
fn x_extent_in_slab(a: [f64; 2], b: [f64; 2], y0: f64, y1: f64) -> Option<(f64, f64)> {
    if a[1].max(b[1]) < y0 || a[1].min(b[1]) > y1 {
        return None;
    }
    if a[1] == b[1] {
        return Some((a[0], b[0]));
    }
    let at = |y: f64| {
        let t = ((y - a[1]) / (b[1] - a[1])).clamp(0.0, 1.0);
        a[0] + t * (b[0] - a[0])
    };
    Some((at(y0), at(y1)))
}

/// Snaps a clipped cell's vertices within a millimetre of the cell's sides onto them,
/// drops repeated vertices and rings left without area, and returns what remains.
fn snap_to_cell(mp: MultiPolygon<f64>, xs: [f64; 2], ys: [f64; 2]) -> Option<MultiPolygon<f64>> {
    // Far above the overlay engine's rounding (~1e-10° here), far below any real feature.
    const EPS: f64 = 1e-8;
    let snap = |v: f64, lines: [f64; 2]| {
        lines
            .into_iter()
            .find(|l| (v - l).abs() <= EPS)
            .unwrap_or(v)
    };
    let fix = |ring: &LineString<f64>| -> Option<LineString<f64>> {
        let mut pts: Vec<Coord<f64>> = Vec::with_capacity(ring.0.len());
        for c in &ring.0 {
            let c = Coord {
                x: snap(c.x, xs),
                y: snap(c.y, ys),
            };
            if pts.last() != Some(&c) {
                pts.push(c);
            }
        }
        // Closed ring with at least three distinct corners.
        (pts.len() >= 4).then(|| LineString::new(pts))
    };
    let polys: Vec<Polygon<f64>> = mp
        .iter()
        .filter_map(|p| {
            let ext = fix(p.exterior())?;
            Some(Polygon::new(
                ext,
                p.interiors().iter().filter_map(fix).collect(),
            ))
        })
        .collect();
    (!polys.is_empty()).then(|| MultiPolygon::new(polys))
}

fn bounding_box(mp: &MultiPolygon<f64>) -> Option<BBox> {
    use geo::BoundingRect;
    let r = mp.bounding_rect()?;
    Some(BBox {
        min_lng: r.min().x,
        min_lat: r.min().y,
        max_lng: r.max().x,
        max_lat: r.max().y,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distance::haversine_m;
    use crate::index::GridIndex;
    use geo::{Area, Intersects};

    #[test]
    fn cells_are_about_the_right_size_and_share_edges() {
        let bbox = BBox {
            min_lng: 125.3,
            min_lat: 43.87,
            max_lng: 125.31,
            max_lat: 43.875,
        };
        let cells: Vec<_> = unit_grids_in_bbox(bbox, 100.0, sequential_codes("G", 4)).collect();
        // 0.01° of longitude ≈ 802 m → 9 columns; 0.005° of latitude ≈ 556 m → 6 rows.
        assert_eq!(cells.len(), 9 * 6);
        assert_eq!(cells[0].0.as_str(), "G0001");
        assert_eq!(cells[53].0.as_str(), "G0054");
        let ring = &cells[0].1.0[0].exterior().0;
        assert_eq!(ring.len(), 5);
        let w = haversine_m(ring[0].x, ring[0].y, ring[1].x, ring[1].y);
        let h = haversine_m(ring[1].x, ring[1].y, ring[2].x, ring[2].y);
        assert!(
            (w - 100.0).abs() < 0.5 && (h - 100.0).abs() < 0.01,
            "{w} × {h}"
        );
        // Cell 1 is east of cell 0: its west edge is cell 0's east edge, bit for bit.
        let east = &cells[1].1.0[0].exterior().0;
        assert_eq!((east[0], east[3]), (ring[1], ring[2]));
        // Cell 9 is north of cell 0.
        let north = &cells[9].1.0[0].exterior().0;
        assert_eq!((north[0], north[1]), (ring[3], ring[2]));
    }

    #[test]
    fn changchun_block() {
        let cells: Vec<_> = changchun_grids(10_000).collect();
        assert_eq!(cells.len(), 10_000);
        assert_eq!(cells[0].0.as_str(), "220100000000000");
        assert_eq!(cells[9_999].0.as_str(), "220100000009999");
        let idx = GridIndex::build(cells);
        // The centre of the block is the centre of Changchun.
        let (x, y) = CHANGCHUN_CENTRE;
        let hit = idx.locate(x + 1e-6, y + 1e-6).unwrap();
        // 100 × 100 cells; the cell north-east of the centre is row 50, column 50.
        assert_eq!(hit.code, "220100000005050");
        let l = changchun_lattice(10_000);
        assert!((l.lng(50) - x).abs() < 1e-9 && (l.lat(50) - y).abs() < 1e-9);
        // Counts that are not squares still give exactly n cells.
        assert_eq!(changchun_grids(7).count(), 7);
    }

    /// A jagged "district": an irregular polygon with a hole, about 3 × 2 km.
    fn district() -> MultiPolygon<f64> {
        let (cx, cy) = CHANGCHUN_CENTRE;
        let outer: Vec<Coord<f64>> = (0..40)
            .map(|i| {
                let a = f64::from(i) / 40.0 * std::f64::consts::TAU;
                let r = if i % 3 == 0 { 0.012 } else { 0.016 };
                Coord {
                    x: cx + 1.4 * r * a.cos(),
                    y: cy + r * a.sin(),
                }
            })
            .collect();
        let hole = LineString::new(vec![
            Coord {
                x: cx - 0.002,
                y: cy - 0.002,
            },
            Coord {
                x: cx - 0.002,
                y: cy + 0.003,
            },
            Coord {
                x: cx + 0.0035,
                y: cy + 0.003,
            },
            Coord {
                x: cx - 0.002,
                y: cy - 0.002,
            },
        ]);
        MultiPolygon::new(vec![Polygon::new(LineString::new(outer), vec![hole])])
    }

    #[test]
    fn clipped_cells_tile_the_parent() {
        let parent = district();
        let cells = unit_grids_clipped(&parent, 100.0, sequential_codes("C", 5));
        assert!(cells.len() > 500, "{}", cells.len());
        // Areas add up to the parent's (in square degrees; relative error).
        let total: f64 = cells.iter().map(|(_, mp)| mp.unsigned_area()).sum();
        let want = parent.unsigned_area();
        assert!((total - want).abs() / want < 1e-6, "{total} vs {want}");
        // Some cells were cut, most were not.
        let cut = cells
            .iter()
            .filter(|(_, mp)| mp.0[0].exterior().0.len() != 5 || mp.0.len() > 1)
            .count();
        assert!(
            cut > 30 && cut < cells.len() / 2,
            "{cut} cut of {}",
            cells.len()
        );

        // Every point of the parent is in exactly the cells that contain it, and the
        // index finds the smallest: check on a fine lattice of points, including points
        // exactly on lattice lines (shared edges) and their crossings (shared corners).
        let idx = GridIndex::build(cells.clone());
        let lattice = {
            let b = bounding_box(&parent).unwrap();
            UnitLattice::new(b.min_lng, b.min_lat, 100.0, (b.min_lat + b.max_lat) / 2.0)
        };
        let mut checked = 0;
        for r in 0..60 {
            for c in 0..90 {
                for (fx, fy) in [(0.0, 0.0), (0.5, 0.0), (0.0, 0.5), (0.37, 0.61)] {
                    let x = lattice.lng(c) + fx * lattice.dlng;
                    let y = lattice.lat(r) + fy * lattice.dlat;
                    let pt = Coord { x, y };
                    let want = cells
                        .iter()
                        .filter(|(_, mp)| mp.intersects(&pt))
                        .map(|(code, _)| code.as_str())
                        .min();
                    assert_eq!(idx.locate(x, y).map(|h| h.code), want, "({x}, {y})");
                    // Interior points of the parent are covered by some cell.
                    if parent.intersects(&pt) {
                        assert!(want.is_some(), "hole in the tiling at ({x}, {y})");
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 2_000, "{checked}");
    }

    #[test]
    fn empty_parent_gives_nothing() {
        let cells = unit_grids_clipped(&MultiPolygon::new(vec![]), 100.0, sequential_codes("X", 3));
        assert!(cells.is_empty());
    }

    #[test]
    #[should_panic(expected = "synthetic code")]
    fn bad_prefix_panics_with_the_code() {
        let mut c = sequential_codes("bad prefix", 3);
        c(CellId { row: 0, col: 0 });
    }
}
