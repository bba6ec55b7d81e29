use super::*;
use geo::{Coord, polygon};

fn code(s: &str) -> AreaCode {
    AreaCode::new(s).unwrap()
}

fn square(x0: f64, y0: f64, size: f64) -> Polygon<f64> {
    polygon![
        (x: x0, y: y0),
        (x: x0 + size, y: y0),
        (x: x0 + size, y: y0 + size),
        (x: x0, y: y0 + size),
    ]
}

fn mp(p: Polygon<f64>) -> MultiPolygon<f64> {
    MultiPolygon::new(vec![p])
}

#[test]
fn sizes_that_the_memory_budget_rests_on() {
    assert_eq!(size_of::<Leaf>(), 28);
    // rstar's node enum: the leaf fits beside the parent's Vec (whose capacity field
    // provides the niche for the tag), so a node is 40 bytes either way.
    assert!(
        size_of::<RTreeNode<Leaf>>() <= 40,
        "{}",
        size_of::<RTreeNode<Leaf>>()
    );
}

#[test]
fn index_is_send_sync() {
    fn check<T: Send + Sync + 'static>() {}
    check::<GridIndex>();
}

/// A 2×2 block of unit squares at (125, 43), codes "D" "C" / "A" "B" (A bottom left),
/// so that the smallest code is not the first pushed.
fn block() -> GridIndex {
    GridIndex::build([
        (code("D"), mp(square(125.0, 44.0, 1.0))),
        (code("C"), mp(square(126.0, 44.0, 1.0))),
        (code("A"), mp(square(125.0, 43.0, 1.0))),
        (code("B"), mp(square(126.0, 43.0, 1.0))),
    ])
}

fn at(idx: &GridIndex, x: f64, y: f64) -> Option<&str> {
    idx.locate(x, y).map(|h| h.code)
}

#[test]
fn interiors_edges_and_corners() {
    let idx = block();
    assert_eq!(idx.len(), 4);
    assert_eq!(at(&idx, 125.5, 43.5), Some("A"));
    assert_eq!(at(&idx, 126.5, 43.5), Some("B"));
    assert_eq!(at(&idx, 126.5, 44.5), Some("C"));
    assert_eq!(at(&idx, 125.5, 44.5), Some("D"));
    // Shared edges: the smaller code of the two.
    assert_eq!(at(&idx, 126.0, 43.25), Some("A")); // A|B
    assert_eq!(at(&idx, 126.0, 44.75), Some("C")); // D|C
    assert_eq!(at(&idx, 125.3, 44.0), Some("A")); // A/D
    assert_eq!(at(&idx, 126.7, 44.0), Some("B")); // B/C
    // The corner where all four meet.
    assert_eq!(at(&idx, 126.0, 44.0), Some("A"));
    // Outer boundary and vertices belong to their only grid.
    assert_eq!(at(&idx, 125.0, 43.0), Some("A"));
    assert_eq!(at(&idx, 127.0, 45.0), Some("C"));
    assert_eq!(at(&idx, 127.0, 43.5), Some("B"));
    // Outside, and a hair outside.
    assert_eq!(at(&idx, 124.9, 43.5), None);
    assert_eq!(at(&idx, 127.0f64.next_up(), 43.5), None);
    assert_eq!(at(&idx, 125.5, 43.0f64.next_down()), None);
    assert_eq!(at(&idx, f64::NAN, 43.5), None);
    // A hair inside the far side of an edge is the neighbour's.
    assert_eq!(at(&idx, 126.0f64.next_up(), 43.25), Some("B"));
}

#[test]
fn shared_edges_with_inexact_coordinates() {
    use geo::Intersects;
    // Two triangles split a square along its diagonal. The corners are decimals with
    // no exact binary form; the diagonal's steps (0.125, 0.25) are exact, so its
    // midpoint is exactly on it.
    let (x0, y0) = (125.1, 43.7);
    let (x1, y1) = (x0 + 0.125, y0 + 0.25);
    let t1 = polygon![(x: x0, y: y0), (x: x1, y: y0), (x: x1, y: y1)];
    let t2 = polygon![(x: x0, y: y0), (x: x1, y: y1), (x: x0, y: y1)];
    let idx = GridIndex::build([(code("T2"), mp(t2.clone())), (code("T1"), mp(t1.clone()))]);
    let (mx, my) = (x0 + 0.0625, y0 + 0.125);
    let on = robust::orient2d(
        robust::Coord { x: x0, y: y0 },
        robust::Coord { x: x1, y: y1 },
        robust::Coord { x: mx, y: my },
    );
    assert_eq!(on, 0.0, "the test point must be exactly on the diagonal");
    assert!(t1.intersects(&Coord { x: mx, y: my }));
    assert!(t2.intersects(&Coord { x: mx, y: my }));
    assert_eq!(at(&idx, mx, my), Some("T1"));
    // Vertices of the diagonal belong to both too.
    assert_eq!(at(&idx, x0, y0), Some("T1"));
    assert_eq!(at(&idx, x1, y1), Some("T1"));
    assert_eq!(at(&idx, x0, y1), Some("T2"));
    // Points computed along the diagonal round to one side, the other, or onto it:
    // whatever geo decides exactly, the index decides the same.
    let mut sides = [0; 3];
    for i in 1..1_000 {
        let t = f64::from(i) / 1_000.0;
        let (x, y) = (x0 + t * (x1 - x0), y0 + t * (y1 - y0));
        let c = Coord { x, y };
        let (in1, in2) = (t1.intersects(&c), t2.intersects(&c));
        let want = if in1 {
            Some("T1")
        } else if in2 {
            Some("T2")
        } else {
            None
        };
        assert_eq!(at(&idx, x, y), want, "t = {t}");
        sides[usize::from(in1) + 2 * usize::from(in2) - 1] += 1;
    }
    // All three cases occur: only T1, only T2, both (exactly on the diagonal).
    assert!(sides.iter().all(|&n| n > 0), "{sides:?}");
}

#[test]
fn holes_and_multipolygons() {
    // An outer square with a hole, a second part far away, and an island grid
    // filling the hole exactly.
    let outer = Polygon::new(
        square(125.0, 43.0, 1.0).exterior().clone(),
        vec![square(125.25, 43.25, 0.5).exterior().clone()],
    );
    let far = square(130.0, 40.0, 0.1);
    let idx = GridIndex::build([
        (code("B-ring"), MultiPolygon::new(vec![outer, far])),
        (code("C-island"), mp(square(125.25, 43.25, 0.5))),
    ]);
    assert_eq!(idx.len(), 2);
    assert_eq!(idx.polygon_count(), 3);
    assert_eq!(at(&idx, 125.1, 43.1), Some("B-ring"));
    assert_eq!(at(&idx, 130.05, 40.05), Some("B-ring"));
    // Inside the hole: only the island.
    assert_eq!(at(&idx, 125.5, 43.5), Some("C-island"));
    // On the hole's boundary: both contain it, B-ring < C-island.
    assert_eq!(at(&idx, 125.25, 43.5), Some("B-ring"));
    assert_eq!(at(&idx, 125.75, 43.75), Some("B-ring"));
    // Between the parts.
    assert_eq!(at(&idx, 128.0, 42.0), None);

    // Without the island, the hole is empty but its boundary is still B-ring's.
    let outer = Polygon::new(
        square(125.0, 43.0, 1.0).exterior().clone(),
        vec![square(125.25, 43.25, 0.5).exterior().clone()],
    );
    let idx = GridIndex::build([(code("B-ring"), mp(outer))]);
    assert_eq!(at(&idx, 125.5, 43.5), None);
    assert_eq!(at(&idx, 125.25, 43.25), Some("B-ring"));
    assert_eq!(at(&idx, 125.5, 43.75), Some("B-ring"));
}

/// A star-shaped polygon with `n` vertices around (cx, cy), radius between r and 2r:
/// many edges, ragged boundary.
fn star(cx: f64, cy: f64, r: f64, n: usize) -> Polygon<f64> {
    let pts: Vec<Coord<f64>> = (0..n)
        .map(|i| {
            let a = i as f64 / n as f64 * std::f64::consts::TAU;
            let rr = if i % 2 == 0 { r } else { 2.0 * r };
            Coord {
                x: cx + rr * a.cos(),
                y: cy + rr * a.sin(),
            }
        })
        .collect();
    Polygon::new(LineString::new(pts), vec![])
}

#[test]
fn big_polygons_use_bands_and_agree_with_geo() {
    use geo::Intersects;
    // Star with a star-shaped hole, and a grid sharing the hole boundary.
    let hole = star(125.0, 43.0, 0.05, 400);
    let poly = Polygon::new(
        star(125.0, 43.0, 0.2, 2_000).exterior().clone(),
        vec![hole.exterior().clone()],
    );
    let idx = GridIndex::build([(code("Z"), mp(poly.clone())), (code("Y"), mp(hole.clone()))]);
    assert_eq!(idx.bands.len(), 2);
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        rng ^= rng << 7;
        rng ^= rng >> 9;
        (rng >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut hits = [0; 3];
    for i in 0..20_000 {
        let (x, y) = if i % 4 == 0 {
            // Vertices of both rings, exactly.
            let ring = if i % 8 == 0 {
                poly.exterior()
            } else {
                hole.exterior()
            };
            let c = ring.0[(next() * (ring.0.len() - 1) as f64) as usize];
            (c.x, c.y)
        } else {
            (124.55 + next() * 0.9, 42.55 + next() * 0.9)
        };
        let c = Coord { x, y };
        let want = if hole.intersects(&c) {
            Some("Y")
        } else if poly.intersects(&c) {
            Some("Z")
        } else {
            None
        };
        let got = at(&idx, x, y);
        assert_eq!(got, want, "at ({x}, {y})");
        hits[match got {
            Some("Y") => 0,
            Some(_) => 1,
            None => 2,
        }] += 1;
    }
    assert!(hits.iter().all(|&h| h > 1_000), "{hits:?}");
}

#[test]
fn nearest_within_tolerance() {
    let idx = block();
    // 0.001° of longitude west of A at 43.5°N is about 80.6 m.
    let west = idx.locate_or_nearest(124.999, 43.5, 100.0).unwrap();
    assert_eq!(west.code, "A");
    let d = west.fallback_distance_m.unwrap();
    assert!((d - 80.65).abs() < 0.5, "{d}");
    assert!(idx.locate_or_nearest(124.999, 43.5, 50.0).is_none());
    assert!(idx.locate(124.999, 43.5).is_none());
    // Inside: no fallback.
    assert_eq!(
        idx.locate_or_nearest(125.5, 43.5, 100.0),
        Some(Hit {
            code: "A",
            fallback_distance_m: None
        })
    );
    // South of the A|B edge's end: equidistant from A and B (their shared corner),
    // so the smaller code.
    let s = idx.locate_or_nearest(126.0, 42.9995, 100.0).unwrap();
    assert_eq!(s.code, "A");
    assert!((s.fallback_distance_m.unwrap() - 55.6).abs() < 0.5);
    // North of C, nearer to C than D.
    assert_eq!(
        idx.locate_or_nearest(126.01, 45.0003, 100.0).unwrap().code,
        "C"
    );
    // Bad tolerances.
    assert!(idx.locate_or_nearest(124.999, 43.5, f64::NAN).is_none());
    assert!(idx.locate_or_nearest(124.999, 43.5, -1.0).is_none());
    assert!(idx.locate_or_nearest(124.999, 43.5, 0.0).is_none());
}

#[test]
fn nearest_counts_hole_boundaries() {
    let outer = Polygon::new(
        square(125.0, 43.0, 1.0).exterior().clone(),
        vec![square(125.25, 43.25, 0.5).exterior().clone()],
    );
    let idx = GridIndex::build([(code("R"), mp(outer))]);
    // 0.0005° north of the hole's south edge, inside the hole.
    let h = idx.locate_or_nearest(125.5, 43.2505, 100.0).unwrap();
    assert_eq!(h.code, "R");
    assert!((h.fallback_distance_m.unwrap() - 55.6).abs() < 0.5);
}

#[test]
fn degenerate_input() {
    let nan = polygon![(x: f64::NAN, y: 0.0), (x: 1.0, y: 0.0), (x: 1.0, y: 1.0)];
    let idx = GridIndex::build([
        (code("N"), mp(nan)),
        (code("E"), MultiPolygon::new(vec![])),
        (code("S"), mp(square(125.0, 43.0, 1.0))),
        // The same code twice: both parts answer "S".
        (code("S"), mp(square(127.0, 43.0, 1.0))),
    ]);
    assert_eq!(idx.skipped_polygons(), 1);
    assert_eq!(idx.len(), 2);
    assert_eq!(idx.polygon_count(), 2);
    assert_eq!(at(&idx, 127.5, 43.5), Some("S"));
    assert_eq!(at(&idx, 125.5, 43.5), Some("S"));
    assert_eq!(at(&idx, 0.5, 0.5), None);
    let empty = GridIndex::default();
    assert!(empty.is_empty());
    assert_eq!(empty.locate(125.0, 43.0), None);
    assert_eq!(empty.locate_or_nearest(125.0, 43.0, 1e6), None);
    assert!(empty.memory_bytes() >= size_of::<GridIndex>());
    assert!(format!("{empty:?}").contains("grids: 0"));
}

#[test]
fn unclosed_rings_are_closed() {
    // geo's polygon! closes rings itself; build one by hand that is not closed.
    let ring = LineString::new(vec![
        Coord { x: 125.0, y: 43.0 },
        Coord { x: 126.0, y: 43.0 },
        Coord { x: 126.0, y: 44.0 },
    ]);
    let p = Polygon::new(ring, vec![]);
    let mut b = Builder::new();
    // Polygon::new closes it; push a raw unclosed copy through push_ring too.
    b.push("T", &mp(p));
    assert_eq!(b.coords.first(), b.coords.last());
    let mut b = Builder::new();
    b.push_ring(&LineString::new(vec![
        Coord { x: 1.0, y: 2.0 },
        Coord { x: 3.0, y: 4.0 },
    ]));
    assert_eq!(b.coords, vec![[1.0, 2.0], [3.0, 4.0], [1.0, 2.0]]);
}

#[test]
fn memory_is_accounted() {
    let items: Vec<_> = (0..1_000)
        .map(|i| {
            let (r, c) = (i / 40, i % 40);
            (
                code(&format!("220100{i:09}")),
                mp(square(
                    125.0 + c as f64 * 0.001,
                    43.0 + r as f64 * 0.001,
                    0.001,
                )),
            )
        })
        .collect();
    let idx = GridIndex::build(items);
    assert_eq!(idx.len(), 1_000);
    assert_eq!(idx.vertex_count(), 5_000);
    let per_grid = idx.memory_bytes() as f64 / 1_000.0;
    // 80 bytes of coordinates, 8 of offsets, 15 of code, R-tree ~50.
    assert!(
        per_grid > 140.0 && per_grid < 200.0,
        "{per_grid} bytes per grid"
    );
}
