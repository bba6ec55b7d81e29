//! The index against brute force: for every query point, the naive answer is "test every
//! grid with geo's `Intersects`, keep the smallest code". Worlds are built so that the
//! hard cases are common: jittered lattices whose cells share exact (slanted) edges,
//! corners where four cells meet, cells with holes (some filled by island grids that
//! share the hole's ring), multipolygon grids, gaps, one overlapping grid, and a large
//! block polygon with a hole whose boundary runs through shared lattice vertices (so it
//! takes the banded path).

use geo::{
    BoundingRect, Closest, Coord, Distance, Haversine, HaversineClosestPoint, Intersects,
    LineString, MultiPolygon, Point, Polygon, Rect,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use wuzhang_domain::area::AreaCode;
use wuzhang_spatial::index::BAND_MIN_EDGES;
use wuzhang_spatial::wkb_io::{from_wkb, multipolygon_to_wkb};
use wuzhang_spatial::{GridIndex, Hit};

const N: usize = 31; // lattice vertices per side → 30 × 30 cells

struct World {
    items: Vec<(AreaCode, MultiPolygon<f64>)>,
    /// Points that lie exactly on shared vertices and (in dyadic worlds) exactly on edges.
    special: Vec<[f64; 2]>,
    bbox: Rect<f64>,
}

/// A lattice of jittered vertices. In a dyadic world every coordinate is a multiple of
/// 2^-14 near 125°, so points at k/8 along any edge are exactly representable and lie
/// exactly on it; in a decimal world coordinates are arbitrary doubles.
fn world(dyadic: bool, seed: u64) -> World {
    let mut rng = StdRng::seed_from_u64(seed);
    let (x0, y0, d) = if dyadic {
        (125.0, 43.75, 2f64.powi(-9))
    } else {
        (
            125.3 + rng.random::<f64>() * 1e-3,
            43.8 + rng.random::<f64>() * 1e-3,
            0.00137,
        )
    };
    let mut v = vec![[0.0; 2]; N * N];
    for i in 0..N {
        for j in 0..N {
            let (jx, jy) = if dyadic {
                (
                    f64::from(rng.random_range(-3i32..=3)) * 2f64.powi(-13),
                    f64::from(rng.random_range(-3i32..=3)) * 2f64.powi(-13),
                )
            } else {
                (
                    (rng.random::<f64>() - 0.5) * d * 0.4,
                    (rng.random::<f64>() - 0.5) * d * 0.4,
                )
            };
            v[i * N + j] = [x0 + i as f64 * d + jx, y0 + j as f64 * d + jy];
        }
    }
    let vx = |i: usize, j: usize| v[i * N + j];
    let c = |p: [f64; 2]| Coord { x: p[0], y: p[1] };
    let ring = |pts: Vec<[f64; 2]>| LineString::new(pts.into_iter().map(c).collect());
    let quad = |i: usize, j: usize| {
        vec![
            vx(i, j),
            vx(i + 1, j),
            vx(i + 1, j + 1),
            vx(i, j + 1),
            vx(i, j),
        ]
    };
    // Walk the boundary of the block of cells [i0, i1) × [j0, j1) through every lattice
    // vertex on it, counter-clockwise.
    let block = |i0: usize, i1: usize, j0: usize, j1: usize| {
        let mut pts = Vec::new();
        pts.extend((i0..i1).map(|i| vx(i, j0)));
        pts.extend((j0..j1).map(|j| vx(i1, j)));
        pts.extend((i0 + 1..=i1).rev().map(|i| vx(i, j1)));
        pts.extend((j0 + 1..=j1).rev().map(|j| vx(i0, j)));
        pts.push(vx(i0, j0));
        pts
    };
    let code = |s: String| AreaCode::new(s).unwrap();

    let mut items = Vec::new();
    let mut special = Vec::new();
    let in_block = |i: usize, j: usize| (2..12).contains(&i) && (2..12).contains(&j);
    let in_hole = |i: usize, j: usize| (5..8).contains(&i) && (5..8).contains(&j);
    for i in 0..N - 1 {
        for j in 0..N - 1 {
            if in_block(i, j) && !in_hole(i, j) {
                continue;
            }
            let k = i * (N - 1) + j;
            if (i * 11 + j * 2) % 29 == 0 {
                continue; // a gap
            }
            // Codes in an order unrelated to position.
            let name = if (i * 7 + j * 13) % 23 == 0 {
                format!("M{}", (i + j) % 3) // multipolygon grids, scattered parts
            } else {
                format!("G{:05}", (k * 7919) % 10007)
            };
            let outer = quad(i, j);
            if (i * 5 + j * 3) % 19 == 0 && !in_hole(i, j) {
                // A hole in the middle third of the cell, sharing no vertex with it.
                let m = |a: [f64; 2], b: [f64; 2], t: f64| {
                    [a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])]
                };
                let (p00, p11) = (vx(i, j), vx(i + 1, j + 1));
                let (p10, p01) = (vx(i + 1, j), vx(i, j + 1));
                let hole = vec![
                    m(p00, p11, 0.375),
                    m(p01, p10, 0.625),
                    m(p00, p11, 0.625),
                    m(p01, p10, 0.375),
                    m(p00, p11, 0.375),
                ];
                special.extend(hole.iter().copied());
                special.push(m(hole[0], hole[1], 0.5));
                if (i + j) % 2 == 0 {
                    items.push((code(format!("I{k:04}")), mp(ring(hole.clone()), vec![])));
                }
                items.push((code(name), mp(ring(outer), vec![ring(hole)])));
            } else {
                items.push((code(name), mp(ring(outer), vec![])));
            }
        }
    }
    // The big block, with the 3 × 3 island cells above as its hole.
    let outer = block(2, 12, 2, 12);
    let hole = block(5, 8, 5, 8);
    assert!(
        outer.len() - 1 > BAND_MIN_EDGES,
        "the block must take the banded path"
    );
    items.push((code("B-block".into()), mp(ring(outer), vec![ring(hole)])));
    // One grid overlapping others, with the smallest code of all.
    let (a, b) = (vx(20, 20), vx(24, 23));
    items.push((
        code("0-overlap".into()),
        mp(ring(vec![a, [b[0], a[1]], b, [a[0], b[1]], a]), vec![]),
    ));

    for i in 0..N {
        for j in 0..N {
            special.push(vx(i, j));
            for (di, dj) in [(1, 0), (0, 1)] {
                if i + di < N && j + dj < N {
                    let (p, q) = (vx(i, j), vx(i + di, j + dj));
                    for t in [0.125, 0.5, 0.875] {
                        special.push([p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])]);
                    }
                }
            }
        }
    }
    let bbox = Rect::new(c(vx(0, 0)), c(vx(N - 1, N - 1)));
    World {
        items,
        special,
        bbox,
    }
}

fn mp(exterior: LineString<f64>, holes: Vec<LineString<f64>>) -> MultiPolygon<f64> {
    MultiPolygon::new(vec![Polygon::new(exterior, holes)])
}

/// The naive answer: every grid whose closed polygon contains the point, smallest code.
fn naive(items: &[(AreaCode, MultiPolygon<f64>, Rect<f64>)], x: f64, y: f64) -> Option<&str> {
    let c = Coord { x, y };
    items
        .iter()
        .filter(|(_, _, r)| r.min().x <= x && x <= r.max().x && r.min().y <= y && y <= r.max().y)
        .filter(|(_, g, _)| g.intersects(&c))
        .map(|(code, _, _)| code.as_str())
        .min()
}

fn with_rects(
    items: &[(AreaCode, MultiPolygon<f64>)],
) -> Vec<(AreaCode, MultiPolygon<f64>, Rect<f64>)> {
    items
        .iter()
        .map(|(c, g)| (c.clone(), g.clone(), g.bounding_rect().unwrap()))
        .collect()
}

fn check_world(dyadic: bool, seed: u64) {
    let w = world(dyadic, seed);
    let idx = GridIndex::build(w.items.clone());
    let naive_items = with_rects(&w.items);
    let mut rng = StdRng::seed_from_u64(seed ^ 0xdead_beef);
    let (lo, hi) = (w.bbox.min(), w.bbox.max());
    let margin = (hi.x - lo.x) * 0.05;

    let mut points: Vec<[f64; 2]> = (0..20_000)
        .map(|_| {
            [
                rng.random_range(lo.x - margin..hi.x + margin),
                rng.random_range(lo.y - margin..hi.y + margin),
            ]
        })
        .collect();
    points.extend(w.special.iter().copied());

    let (mut found, mut none, mut on_border) = (0, 0, 0);
    for &[x, y] in &points {
        let want = naive(&naive_items, x, y);
        let got = idx.locate(x, y).map(|h| h.code);
        assert_eq!(got, want, "dyadic={dyadic} seed={seed} at ({x:?}, {y:?})");
        if want.is_some() {
            found += 1;
        } else {
            none += 1;
        }
        let c = Coord { x, y };
        if naive_items
            .iter()
            .filter(|(_, g, _)| g.intersects(&c))
            .count()
            > 1
        {
            on_border += 1;
        }
    }
    // The world exercises what it should.
    assert!(found > 15_000 && none > 1_000, "found {found}, none {none}");
    // Shared vertices and edges: most special points are in two or more grids (in a
    // decimal world, edge points round off the edge, so fewer).
    let min_border = if dyadic {
        w.special.len() / 2
    } else {
        w.special.len() / 5
    };
    assert!(
        on_border > min_border,
        "only {on_border} border points of {}",
        w.special.len()
    );
}

#[test]
fn index_matches_brute_force_on_dyadic_worlds() {
    for seed in 1..=3 {
        check_world(true, seed);
    }
}

#[test]
fn index_matches_brute_force_on_decimal_worlds() {
    for seed in 11..=13 {
        check_world(false, seed);
    }
}

#[test]
fn answers_do_not_depend_on_input_order() {
    let w = world(true, 7);
    let a = GridIndex::build(w.items.clone());
    let mut shuffled = w.items.clone();
    shuffled.reverse();
    shuffled.rotate_left(w.items.len() / 3);
    let b = GridIndex::build(shuffled);
    for &[x, y] in &w.special {
        assert_eq!(a.locate(x, y), b.locate(x, y), "({x}, {y})");
    }
}

#[test]
fn index_built_from_wkb_answers_the_same() {
    let w = world(false, 21);
    let direct = GridIndex::build(w.items.clone());
    let via_wkb = GridIndex::build(
        w.items
            .iter()
            .map(|(code, g)| from_wkb(code.clone(), &multipolygon_to_wkb(g)).unwrap()),
    );
    assert_eq!(direct.len(), via_wkb.len());
    assert_eq!(direct.memory_bytes(), via_wkb.memory_bytes());
    for &[x, y] in &w.special {
        assert_eq!(direct.locate(x, y), via_wkb.locate(x, y));
    }
}

/// Nearest fallback against geo's spherical closest point, on points in gaps and
/// outside the world. Where two grids are within a few centimetres of equally near the
/// two metrics may legitimately disagree, so only clear cases compare codes.
#[test]
fn nearest_fallback_matches_geo() {
    let w = world(false, 31);
    let idx = GridIndex::build(w.items.clone());
    let mut rng = StdRng::seed_from_u64(99);
    let (lo, hi) = (w.bbox.min(), w.bbox.max());
    let margin = (hi.x - lo.x) * 0.05;
    let tol = 120.0;
    let (mut compared, mut fallbacks) = (0, 0);
    for _ in 0..3_000 {
        let (x, y) = (
            rng.random_range(lo.x - margin..hi.x + margin),
            rng.random_range(lo.y - margin..hi.y + margin),
        );
        if idx.locate(x, y).is_some() {
            continue;
        }
        let from = Point::new(x, y);
        let mut dists: Vec<(f64, &str)> = w
            .items
            .iter()
            .map(|(code, g)| {
                let d = g
                    .iter()
                    .map(|p| match p.haversine_closest_point(&from) {
                        Closest::SinglePoint(q) | Closest::Intersection(q) => {
                            Haversine.distance(from, q)
                        }
                        Closest::Indeterminate => f64::INFINITY,
                    })
                    .fold(f64::INFINITY, f64::min);
                (d, code.as_str())
            })
            .collect();
        dists.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(b.1)));
        let got = idx.locate_or_nearest(x, y, tol);
        let (best_d, best_code) = dists[0];
        if best_d > tol + 0.05 {
            assert_eq!(got, None, "({x}, {y}) nearest is {best_d} m away");
            continue;
        }
        if best_d < tol - 0.05 {
            let Some(Hit {
                code,
                fallback_distance_m: Some(d),
            }) = got
            else {
                panic!("({x}, {y}): expected a fallback to {best_code} at {best_d} m, got {got:?}");
            };
            fallbacks += 1;
            assert!(
                (d - best_d).abs() < 0.05,
                "({x}, {y}): {d} m vs geo's {best_d} m"
            );
            // Clear winner (or the same grid twice, e.g. a multipolygon's parts).
            let runner_up = dists.iter().find(|(_, c)| *c != best_code);
            if runner_up.is_none_or(|(d2, _)| d2 - best_d > 0.05) {
                assert_eq!(code, best_code, "({x}, {y})");
                compared += 1;
            }
        }
    }
    assert!(
        fallbacks > 100 && compared > 100,
        "{fallbacks} fallbacks, {compared} compared"
    );
}
