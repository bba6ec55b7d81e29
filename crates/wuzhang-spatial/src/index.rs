//! [`GridIndex`]: which polygon contains a point, for a million grids in microseconds.
//!
//! # The border rule
//!
//! A point belongs to **the grid with the smallest code (byte order) among all grids
//! whose closed polygon contains it** (boundary included). A point on an edge shared by
//! two grids, or on a corner where four meet, therefore always lands in the same grid,
//! whatever order the grids were loaded in and whatever the R-tree looks like. PostGIS
//! states the same rule as
//! `SELECT code FROM areas WHERE ST_Intersects(geom, pt) ORDER BY code COLLATE "C" LIMIT 1`
//! (the `COLLATE "C"` matters: a locale collation does not order by bytes).
//!
//! Containment is decided exactly, with the same semantics as geo's
//! `Intersects<Point> for MultiPolygon`: a polygon contains a point when the point is on
//! any of its rings, or inside its exterior (non-zero winding) and not inside any hole.
//! Orientation tests use Shewchuk's adaptive-precision predicates (`robust`), so a point
//! exactly on an edge shared by two polygons is found in both, never in neither.
//!
//! # Layout in memory
//!
//! Geometry lives in flat arenas, not in a `geo::MultiPolygon` and a `String` per grid:
//!
//! - `coords`: every ring's vertices, closed (first vertex repeated), one `[f64; 2]` each;
//! - `ring_start`, `code_start`: `u32` offsets (ring → its vertices, grid → its code),
//!   each with one trailing sentinel;
//! - `codes`: all codes concatenated in one string;
//! - `tree`: an rstar R-tree whose leaves are the polygon table: one leaf per polygon
//!   with its exterior's envelope in `f32` (relative to the index's centre, rounded
//!   outwards), its grid and its range of rings (28 bytes; it fits beside the `Vec` of
//!   rstar's node enum, so a node stays 40 bytes). A candidate found in the tree needs
//!   no other table to be tested: ring offsets, then coordinates;
//! - polygons with more than [`BAND_MIN_EDGES`] edges (district boundaries, irregular
//!   community grids) also get horizontal bands, each listing the edges that reach into
//!   it. A point is tested against the edges of its band only, so a lookup in a polygon
//!   with thousands of vertices costs about as much as one in a square.
//!
//! A 5-vertex grid (a closed square ring) with a 15-character code costs about 146
//! bytes at a million grids (80 coordinates, 8 offsets, 15 code, ~43 R-tree), about
//! 155 by process RSS; see [`GridIndex::memory_bytes`].

use std::fmt;
use std::mem::size_of;
use std::ops::ControlFlow;

use geo::{LineString, MultiPolygon, Polygon};
use rstar::{AABB, ParentNode, RStarInsertionStrategy, RTree, RTreeNode, RTreeObject, RTreeParams};
use wuzhang_domain::area::AreaCode;

use crate::distance::{LocalFrame, METRES_PER_DEGREE};

/// Polygons with more edges than this get a band structure; below it, testing every
/// edge is as fast as finding the band.
pub const BAND_MIN_EDGES: usize = 32;
/// Bands are sized so that each holds about this many edges of a typical polygon.
const EDGES_PER_BAND: usize = 4;
/// Upper bound on bands per polygon, so a pathological polygon cannot explode memory.
const MAX_BANDS: usize = 1 << 20;

/// R-tree fan-out. Wider nodes than rstar's default (6) make the tree shallower: fewer
/// dependent cache misses per lookup and fewer nodes in memory. Measured at 1M grids
/// (random lookups, p50 / p99 / bytes per grid): 8 → 1.45 / 3.1 µs / 162, 12 → 1.28 /
/// 2.1 µs / 151, 16 → 1.19 / 2.1 µs / 146, 24 → 1.14 / 1.6 µs / 146, 32 → 1.29 / 2.0
/// µs / 145; 16 keeps neighbour-walk lookups as fast as narrower nodes (24 and 32 slow
/// them by 10–40 %). The tree is only bulk-loaded, so the insertion parameters are
/// merely valid.
#[derive(Debug)]
struct Params;

impl RTreeParams for Params {
    const MIN_SIZE: usize = 6;
    const MAX_SIZE: usize = 16;
    const REINSERTION_COUNT: usize = 3;
    type DefaultInsertionStrategy = RStarInsertionStrategy;
}

/// One R-tree entry, and the only record of a polygon: its exterior's envelope
/// (relative to [`GridIndex::origin`]), its grid, and its rings
/// `first_ring..first_ring + rings` (the exterior first).
#[derive(Debug, Clone, Copy)]
struct Leaf {
    env: AABB<[f32; 2]>,
    grid: u32,
    first_ring: u32,
    rings: u32,
}

impl Leaf {
    fn rings(&self) -> std::ops::Range<usize> {
        self.first_ring as usize..(self.first_ring + self.rings) as usize
    }
}

impl RTreeObject for Leaf {
    type Envelope = AABB<[f32; 2]>;
    fn envelope(&self) -> Self::Envelope {
        self.env
    }
}

/// The band structure of one large polygon: band `i` covers latitudes
/// `[y0 + i/inv_h, y0 + (i+1)/inv_h)` and lists every edge whose latitude range reaches
/// into it.
#[derive(Debug, Clone, Copy)]
struct Bands {
    /// The polygon's first ring: identifies it.
    first_ring: u32,
    y0: f64,
    inv_h: f64,
    count: u32,
    /// Index of band 0's offset in `band_start`; the polygon has `count + 1` offsets.
    first: u32,
}

impl Bands {
    /// The band for latitude `y`. Monotone non-decreasing in `y` (subtraction,
    /// multiplication by a positive number, floor and the saturating cast all are), so
    /// an edge spanning `[lo, hi]` is listed in the band of every `y` in that range,
    /// whatever the rounding.
    fn band_of(&self, y: f64) -> usize {
        let b = ((y - self.y0) * self.inv_h).floor() as usize;
        b.min(self.count as usize - 1)
    }
}

/// The answer to a lookup.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit<'a> {
    /// The code of the grid the point belongs to.
    pub code: &'a str,
    /// `None` when the point is in the grid; the distance in metres from the point to the
    /// grid's boundary when the grid was chosen as the nearest within a tolerance.
    pub fallback_distance_m: Option<f64>,
}

impl Hit<'_> {
    /// The grid's code as an owned [`AreaCode`].
    pub fn area_code(&self) -> AreaCode {
        AreaCode::new(self.code).expect("codes in the index came from AreaCode values")
    }
}

/// An immutable point-in-polygon index over grid polygons (or building footprints, or
/// any areas with codes). Build it once, share it (`Send + Sync`), and swap in a new one
/// when the areas change.
pub struct GridIndex {
    tree: RTree<Leaf, Params>,
    /// Centre of everything indexed; R-tree envelopes are stored relative to it so that
    /// `f32` keeps centimetre precision instead of metre precision at longitude 125.
    origin: [f64; 2],
    coords: Vec<[f64; 2]>,
    ring_start: Vec<u32>,
    code_start: Vec<u32>,
    codes: String,
    /// Sorted by polygon (first ring), looked up only for polygons with more than
    /// [`BAND_MIN_EDGES`] edges, so small polygons pay nothing for it.
    bands: Vec<Bands>,
    band_start: Vec<u32>,
    band_edges: Vec<u32>,
    skipped_polygons: usize,
}

impl fmt::Debug for GridIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GridIndex")
            .field("grids", &self.len())
            .field("polygons", &self.polygon_count())
            .field("vertices", &self.coords.len())
            .field("banded_polygons", &self.bands.len())
            .field("skipped_polygons", &self.skipped_polygons)
            .field("memory_bytes", &self.memory_bytes())
            .finish()
    }
}

impl Default for GridIndex {
    fn default() -> Self {
        Self::build(std::iter::empty())
    }
}

impl GridIndex {
    /// Builds an index over `(code, geometry)` pairs, in WGS84 degrees (x = longitude).
    ///
    /// Holes and multipolygons are handled; rings need not be closed. Polygons with an
    /// empty exterior have no area and are left out; polygons with a non-finite
    /// coordinate are left out and counted in [`GridIndex::skipped_polygons`]. The same
    /// code may appear more than once: its polygons all answer with that code. Input
    /// order does not affect any answer.
    pub fn build(items: impl IntoIterator<Item = (AreaCode, MultiPolygon<f64>)>) -> Self {
        let mut b = Builder::new();
        for (code, mp) in items {
            b.push(code.as_str(), &mp);
        }
        b.finish()
    }

    /// Number of grids (codes with at least one indexed polygon).
    pub fn len(&self) -> usize {
        self.code_start.len() - 1
    }

    /// Whether nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of indexed polygons.
    pub fn polygon_count(&self) -> usize {
        self.tree.size()
    }

    /// Number of stored vertices (rings are stored closed).
    pub fn vertex_count(&self) -> usize {
        self.coords.len()
    }

    /// Polygons left out at build because they had a non-finite coordinate.
    pub fn skipped_polygons(&self) -> usize {
        self.skipped_polygons
    }

    /// The grid containing `(lng, lat)` (WGS84 degrees), by the border rule in the
    /// [module docs](self): among all grids whose closed polygon contains the point, the
    /// smallest code. `None` when no grid contains it (or a coordinate is not finite).
    pub fn locate(&self, lng: f64, lat: f64) -> Option<Hit<'_>> {
        self.locate_grid(lng, lat).map(|g| Hit {
            code: self.code(g),
            fallback_distance_m: None,
        })
    }

    /// Like [`locate`](Self::locate), but a point outside every grid falls back to the
    /// grid whose boundary is nearest, if it is within `tolerance_m` metres (ties go to
    /// the smallest code). The hit then says how far it was. Distances are great-circle
    /// distances to the nearest point of the boundary; tolerances are meant to be metres
    /// to kilometres, not continents.
    pub fn locate_or_nearest(&self, lng: f64, lat: f64, tolerance_m: f64) -> Option<Hit<'_>> {
        if let Some(hit) = self.locate(lng, lat) {
            return Some(hit);
        }
        if !(lng.is_finite() && lat.is_finite()) || tolerance_m.is_nan() || tolerance_m <= 0.0 {
            return None;
        }
        let (grid, d) = self.nearest_grid(lng, lat, tolerance_m)?;
        Some(Hit {
            code: self.code(grid),
            fallback_distance_m: Some(d),
        })
    }

    /// Heap and inline bytes held by the index: every arena at its capacity, the band
    /// structures, and the R-tree's nodes. The R-tree's node vectors are not visible
    /// through rstar's API; their capacities are computed from how rstar 0.12's bulk
    /// load allocates them (leaf-level vectors exact, upper levels grown by doubling
    /// from 4). Allocator bookkeeping (about 16 bytes per allocation, mostly R-tree
    /// nodes) is not included; the benchmark cross-checks against process RSS.
    pub fn memory_bytes(&self) -> usize {
        fn vec<T>(v: &Vec<T>) -> usize {
            v.capacity() * size_of::<T>()
        }
        size_of::<Self>()
            + vec(&self.coords)
            + vec(&self.ring_start)
            + vec(&self.code_start)
            + self.codes.capacity()
            + vec(&self.bands)
            + vec(&self.band_start)
            + vec(&self.band_edges)
            + rtree_heap_bytes(self.tree.root())
    }

    fn code(&self, grid: u32) -> &str {
        let g = grid as usize;
        &self.codes[self.code_start[g] as usize..self.code_start[g + 1] as usize]
    }

    fn locate_grid(&self, x: f64, y: f64) -> Option<u32> {
        if !(x.is_finite() && y.is_finite()) {
            return None;
        }
        let q = [(x - self.origin[0]) as f32, (y - self.origin[1]) as f32];
        let mut best: Option<u32> = None;
        let _ = self
            .tree
            .locate_in_envelope_intersecting_int(&AABB::from_point(q), |leaf| {
                let better = match best {
                    None => true,
                    Some(b) => self.code(leaf.grid) < self.code(b),
                };
                if better && self.polygon_contains(leaf, x, y) {
                    best = Some(leaf.grid);
                }
                ControlFlow::<()>::Continue(())
            });
        best
    }

    /// Vertex range of ring `r`.
    fn ring(&self, r: usize) -> &[[f64; 2]] {
        &self.coords[self.ring_start[r] as usize..self.ring_start[r + 1] as usize]
    }

    fn polygon_contains(&self, leaf: &Leaf, x: f64, y: f64) -> bool {
        let rings = leaf.rings();
        let edges =
            (self.ring_start[rings.end] - self.ring_start[rings.start]) as usize - rings.len();
        if edges > BAND_MIN_EDGES
            && let Ok(i) = self
                .bands
                .binary_search_by_key(&leaf.first_ring, |b| b.first_ring)
        {
            return self.banded_contains(&self.bands[i], rings, x, y);
        }
        let exterior = rings.start;
        for r in rings {
            let mut winding = 0;
            for e in self.ring(r).windows(2) {
                if edge_step(e[0], e[1], x, y, &mut winding) {
                    return true;
                }
            }
            if let Some(answer) = ring_verdict(r == exterior, winding) {
                return answer;
            }
        }
        true
    }

    /// [`polygon_contains`](Self::polygon_contains) over the edges of one band. Edges
    /// that do not reach latitude `y` cannot change a winding number or touch the point,
    /// so skipping them is exact. The band lists edges in storage order, so rings come
    /// in order (exterior first) and each ring's verdict is final before the next one
    /// starts, as in geo.
    fn banded_contains(&self, b: &Bands, rings: std::ops::Range<usize>, x: f64, y: f64) -> bool {
        let band = b.first as usize + b.band_of(y);
        let edges =
            &self.band_edges[self.band_start[band] as usize..self.band_start[band + 1] as usize];
        let exterior = rings.start;
        let mut ring = exterior;
        let mut ring_end = self.ring_start[ring + 1];
        let mut winding = 0;
        for &e in edges {
            while e >= ring_end {
                if let Some(answer) = ring_verdict(ring == exterior, winding) {
                    return answer;
                }
                ring += 1;
                ring_end = self.ring_start[ring + 1];
                winding = 0;
            }
            let e = e as usize;
            if edge_step(self.coords[e], self.coords[e + 1], x, y, &mut winding) {
                return true;
            }
        }
        // Rings after the last listed edge have winding 0: outside them.
        ring_verdict(ring == exterior, winding).unwrap_or(true)
    }

    /// The grid with the nearest boundary within `tol` metres, and that distance.
    fn nearest_grid(&self, x: f64, y: f64, tol: f64) -> Option<(u32, f64)> {
        // Every point within `tol` of (x, y) lies in this box: a degree of latitude is
        // never shorter than METRES_PER_DEGREE on the sphere, and a degree of longitude
        // is shortest at the box's most poleward latitude.
        let dlat = tol / METRES_PER_DEGREE * 1.001 + 1e-9;
        let cos = (y.abs() + dlat).min(90.0).to_radians().cos();
        let dlng = if cos > 1e-9 {
            tol / (METRES_PER_DEGREE * cos) * 1.001 + 1e-9
        } else {
            360.0
        };
        let (lo, hi) = ([x - dlng, y - dlat], [x + dlng, y + dlat]);
        let env = AABB::from_corners(
            [
                round_down(lo[0] - self.origin[0]),
                round_down(lo[1] - self.origin[1]),
            ],
            [
                round_up(hi[0] - self.origin[0]),
                round_up(hi[1] - self.origin[1]),
            ],
        );
        let frame = LocalFrame::new(x, y);
        let mut best: Option<(u32, f64)> = None;
        let _ = self.tree.locate_in_envelope_intersecting_int(&env, |leaf| {
            let grid = leaf.grid;
            let mut nearest: Option<(f64, [f64; 2])> = None;
            for r in leaf.rings() {
                for e in self.ring(r).windows(2) {
                    let (a, b) = (e[0], e[1]);
                    // Edges wholly outside the box cannot be within `tol`.
                    if a[0].max(b[0]) < lo[0]
                        || a[0].min(b[0]) > hi[0]
                        || a[1].max(b[1]) < lo[1]
                        || a[1].min(b[1]) > hi[1]
                    {
                        continue;
                    }
                    let (d2, at) = frame.nearest_on_segment(a, b);
                    if nearest.is_none_or(|(best_d2, _)| d2 < best_d2) {
                        nearest = Some((d2, at));
                    }
                }
            }
            if let Some((_, at)) = nearest {
                let d = frame.distance_m(at);
                let better = d <= tol
                    && match best {
                        None => true,
                        Some((g, bd)) => d < bd || (d == bd && self.code(grid) < self.code(g)),
                    };
                if better {
                    best = Some((grid, d));
                }
            }
            ControlFlow::<()>::Continue(())
        });
        best
    }
}

/// What a finished ring says about the polygon, following geo's `CoordinatePosition`:
/// outside the exterior, or inside a hole, means outside the polygon (`Some(false)`);
/// otherwise keep going (`None`). Boundary hits return earlier.
fn ring_verdict(is_exterior: bool, winding: i32) -> Option<bool> {
    match (is_exterior, winding != 0) {
        (true, false) | (false, true) => Some(false),
        _ => None,
    }
}

/// One edge `a → b` of a ring against the point `(x, y)`: updates the winding number of
/// the ring around the point and returns `true` if the point lies on the edge.
///
/// Exact: a ray from the point towards +x is crossed by an upward edge with
/// `a.y <= y < b.y` when the point is left of it, and by a downward edge with
/// `b.y <= y < a.y` when right of it; the half-open ranges count a vertex on the ray
/// once. Left/right/on comes from an exact orientation test, which is skipped when both
/// ends are on the same side of the point in x. A point equal to a vertex is caught as
/// the start of the edge leaving it (rings are closed, so every vertex starts one).
#[inline(always)]
fn edge_step(a: [f64; 2], b: [f64; 2], x: f64, y: f64, winding: &mut i32) -> bool {
    if a[1] <= y {
        if b[1] > y {
            if a[0] > x && b[0] > x {
                *winding += 1;
            } else if a[0] >= x || b[0] >= x {
                let o = orient(a, b, x, y);
                if o > 0.0 {
                    *winding += 1;
                } else if o == 0.0 {
                    return true;
                }
            }
        } else if a[1] == y {
            if b[1] == y {
                return (a[0] <= x && x <= b[0]) || (b[0] <= x && x <= a[0]);
            }
            return a[0] == x;
        }
    } else if b[1] <= y {
        if a[0] > x && b[0] > x {
            *winding -= 1;
        } else if a[0] >= x || b[0] >= x {
            let o = orient(a, b, x, y);
            if o < 0.0 {
                *winding -= 1;
            } else if o == 0.0 {
                return true;
            }
        }
    }
    false
}

/// Positive when `(x, y)` is left of `a → b`, zero when on its line; exact.
#[inline(always)]
fn orient(a: [f64; 2], b: [f64; 2], x: f64, y: f64) -> f64 {
    robust::orient2d(
        robust::Coord { x: a[0], y: a[1] },
        robust::Coord { x: b[0], y: b[1] },
        robust::Coord { x, y },
    )
}

/// The largest `f32` not above `v`.
fn round_down(v: f64) -> f32 {
    let f = v as f32;
    if f64::from(f) > v { f.next_down() } else { f }
}

/// The smallest `f32` not below `v`.
fn round_up(v: f64) -> f32 {
    let f = v as f32;
    if f64::from(f) < v { f.next_up() } else { f }
}

/// Heap bytes of an rstar tree built by `bulk_load`: each node's children vector, at the
/// capacity rstar 0.12's bulk load gives it (see [`GridIndex::memory_bytes`]).
fn rtree_heap_bytes(node: &ParentNode<Leaf>) -> usize {
    let children = node.children();
    let leaf_level = children.iter().all(RTreeNode::is_leaf);
    // Leaf-level vectors are collected from an exact-size iterator; upper levels from an
    // iterator without a size hint, which Vec grows 4, 8, 16, ...
    let capacity = if leaf_level || children.is_empty() {
        children.len()
    } else {
        children.len().next_power_of_two().max(4)
    };
    let mut bytes = capacity * size_of::<RTreeNode<Leaf>>();
    for child in children {
        if let RTreeNode::Parent(p) = child {
            bytes += rtree_heap_bytes(p);
        }
    }
    bytes
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).expect("a grid index holds fewer than 2^32 vertices, rings and polygons")
}

/// Accumulates grids into the arenas, then lays out the R-tree and bands. The polygon
/// tables (`poly_ring`, `poly_grid`) exist only while building: the R-tree's leaves
/// carry the same facts afterwards.
struct Builder {
    coords: Vec<[f64; 2]>,
    ring_start: Vec<u32>,
    poly_ring: Vec<u32>,
    poly_grid: Vec<u32>,
    code_start: Vec<u32>,
    codes: String,
    skipped_polygons: usize,
}

impl Builder {
    fn new() -> Self {
        Self {
            coords: Vec::new(),
            ring_start: vec![0],
            poly_ring: vec![0],
            poly_grid: Vec::new(),
            code_start: vec![0],
            codes: String::new(),
            skipped_polygons: 0,
        }
    }

    fn push(&mut self, code: &str, mp: &MultiPolygon<f64>) {
        let grid = to_u32(self.code_start.len() - 1);
        let mut any = false;
        for poly in mp {
            any |= self.push_polygon(grid, poly);
        }
        if any {
            self.codes.push_str(code);
            self.code_start.push(to_u32(self.codes.len()));
        }
    }

    fn push_polygon(&mut self, grid: u32, poly: &Polygon<f64>) -> bool {
        if poly.exterior().0.is_empty() {
            return false;
        }
        let finite = std::iter::once(poly.exterior())
            .chain(poly.interiors())
            .flat_map(|r| &r.0)
            .all(|c| c.x.is_finite() && c.y.is_finite());
        if !finite {
            self.skipped_polygons += 1;
            return false;
        }
        self.push_ring(poly.exterior());
        for hole in poly.interiors() {
            // An empty hole removes nothing (geo treats it as outside everything).
            if !hole.0.is_empty() {
                self.push_ring(hole);
            }
        }
        self.poly_ring.push(to_u32(self.ring_start.len() - 1));
        self.poly_grid.push(grid);
        true
    }

    fn push_ring(&mut self, ring: &LineString<f64>) {
        self.coords.extend(ring.0.iter().map(|c| [c.x, c.y]));
        let first = [ring.0[0].x, ring.0[0].y];
        if self.coords.last() != Some(&first) || ring.0.len() == 1 {
            self.coords.push(first);
        }
        self.ring_start.push(to_u32(self.coords.len()));
    }

    fn finish(mut self) -> GridIndex {
        let polys = self.poly_grid.len();
        let exterior = |p: usize| {
            let r = self.poly_ring[p] as usize;
            &self.coords[self.ring_start[r] as usize..self.ring_start[r + 1] as usize]
        };

        // Centre of all exteriors: the origin of the f32 envelopes.
        let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
        for p in 0..polys {
            for c in exterior(p) {
                for i in 0..2 {
                    lo[i] = lo[i].min(c[i]);
                    hi[i] = hi[i].max(c[i]);
                }
            }
        }
        let origin = if polys == 0 {
            [0.0, 0.0]
        } else {
            [(lo[0] + hi[0]) / 2.0, (lo[1] + hi[1]) / 2.0]
        };

        let mut leaves = Vec::with_capacity(polys);
        let mut bands = Vec::new();
        let mut band_start = Vec::new();
        let mut band_edges = Vec::new();
        for p in 0..polys {
            let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
            for c in exterior(p) {
                for i in 0..2 {
                    lo[i] = lo[i].min(c[i]);
                    hi[i] = hi[i].max(c[i]);
                }
            }
            leaves.push(Leaf {
                env: AABB::from_corners(
                    [round_down(lo[0] - origin[0]), round_down(lo[1] - origin[1])],
                    [round_up(hi[0] - origin[0]), round_up(hi[1] - origin[1])],
                ),
                grid: self.poly_grid[p],
                first_ring: self.poly_ring[p],
                rings: self.poly_ring[p + 1] - self.poly_ring[p],
            });
            let rings = self.poly_ring[p] as usize..self.poly_ring[p + 1] as usize;
            let first = self.ring_start[rings.start] as usize;
            let last = self.ring_start[rings.end] as usize;
            let edges = last - first - rings.len();
            if edges > BAND_MIN_EDGES {
                let b = make_bands(
                    self.poly_ring[p],
                    (lo[1], hi[1]),
                    edges,
                    rings.map(|r| self.ring_start[r] as usize..self.ring_start[r + 1] as usize),
                    &self.coords,
                    &mut band_start,
                    &mut band_edges,
                );
                bands.push(b);
            }
        }
        self.coords.shrink_to_fit();
        self.ring_start.shrink_to_fit();
        self.code_start.shrink_to_fit();
        self.codes.shrink_to_fit();
        bands.shrink_to_fit();
        band_start.shrink_to_fit();
        band_edges.shrink_to_fit();
        GridIndex {
            tree: RTree::bulk_load_with_params(leaves),
            origin,
            coords: self.coords,
            ring_start: self.ring_start,
            code_start: self.code_start,
            codes: self.codes,
            bands,
            band_start,
            band_edges,
            skipped_polygons: self.skipped_polygons,
        }
    }
}

/// Builds the bands of one polygon spanning latitudes `y_range` (its exterior's), with
/// `edges` edges in `rings` (vertex ranges of closed rings), by counting sort: count the
/// edges per band, turn counts into offsets, then place each edge in every band it
/// reaches. Edge numbers are global vertex indices of the edge's start.
fn make_bands(
    first_ring: u32,
    (y0, y1): (f64, f64),
    edges: usize,
    rings: impl Iterator<Item = std::ops::Range<usize>> + Clone,
    coords: &[[f64; 2]],
    band_start: &mut Vec<u32>,
    band_edges: &mut Vec<u32>,
) -> Bands {
    let mut count = (edges / EDGES_PER_BAND).clamp(1, MAX_BANDS);
    let mut inv_h = count as f64 / (y1 - y0);
    if !inv_h.is_finite() {
        count = 1;
        inv_h = 0.0;
    }
    let bands = Bands {
        first_ring,
        y0,
        inv_h,
        count: to_u32(count),
        first: to_u32(band_start.len()),
    };
    let span = |e: usize| {
        let (a, b) = (coords[e][1], coords[e + 1][1]);
        bands.band_of(a.min(b))..=bands.band_of(a.max(b))
    };
    let mut counts = vec![0u32; count + 1];
    for r in rings.clone() {
        for e in r.start..r.end - 1 {
            for band in span(e) {
                counts[band + 1] += 1;
            }
        }
    }
    for i in 1..=count {
        counts[i] += counts[i - 1];
    }
    let base = band_edges.len();
    band_start.extend(counts.iter().map(|&c| to_u32(base + c as usize)));
    band_edges.resize(base + counts[count] as usize, 0);
    let mut next = counts;
    for r in rings {
        for e in r.start..r.end - 1 {
            for band in span(e) {
                band_edges[base + next[band] as usize] = to_u32(e);
                next[band] += 1;
            }
        }
    }
    bands
}

#[cfg(test)]
mod tests;
