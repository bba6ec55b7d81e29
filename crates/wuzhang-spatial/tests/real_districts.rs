//! The index and the grid synthesiser on Changchun's real district boundaries
//! (`data/changchun/districts.geojson`): 1,000–7,000 vertices each (so every polygon
//! takes the banded path), neighbours sharing quantised vertices, repeated points, and
//! self-intersections, as real GIS files have.

use geo::{BoundingRect, Coord, Intersects, LineString, MultiPolygon, Polygon, Rect};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use wuzhang_domain::area::AreaCode;
use wuzhang_spatial::GridIndex;
use wuzhang_spatial::synth::{sequential_codes, unit_grids_clipped};

struct District {
    code: AreaCode,
    geom: MultiPolygon<f64>,
    /// A point inside, as published with the data.
    cp: [f64; 2],
}

fn districts() -> Vec<District> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/changchun/districts.geojson"
    );
    let text = std::fs::read_to_string(path).expect("read districts.geojson");
    let json: Value = serde_json::from_str(&text).expect("parse districts.geojson");
    let ring = |r: &Value| {
        LineString::new(
            r.as_array()
                .unwrap()
                .iter()
                .map(|c| Coord {
                    x: c[0].as_f64().unwrap(),
                    y: c[1].as_f64().unwrap(),
                })
                .collect(),
        )
    };
    let polygon = |p: &Value| {
        let rings = p.as_array().unwrap();
        Polygon::new(ring(&rings[0]), rings[1..].iter().map(ring).collect())
    };
    json["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let g = &f["geometry"];
            let geom = match g["type"].as_str().unwrap() {
                "Polygon" => MultiPolygon::new(vec![polygon(&g["coordinates"])]),
                "MultiPolygon" => MultiPolygon::new(
                    g["coordinates"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(polygon)
                        .collect(),
                ),
                other => panic!("unexpected geometry {other}"),
            };
            let cp = &f["properties"]["cp"];
            District {
                code: AreaCode::new(f["id"].as_str().unwrap()).unwrap(),
                geom,
                cp: [cp[0].as_f64().unwrap(), cp[1].as_f64().unwrap()],
            }
        })
        .collect()
}

#[test]
fn real_districts_match_brute_force() {
    let ds = districts();
    assert_eq!(ds.len(), 10);
    let idx = GridIndex::build(ds.iter().map(|d| (d.code.clone(), d.geom.clone())));
    assert_eq!(idx.len(), 10);
    let rects: Vec<Rect<f64>> = ds.iter().map(|d| d.geom.bounding_rect().unwrap()).collect();
    // Every district whose closed polygon contains the point.
    let containing = |x: f64, y: f64| -> Vec<&str> {
        let c = Coord { x, y };
        ds.iter()
            .zip(&rects)
            .filter(|(_, r)| r.min().x <= x && x <= r.max().x && r.min().y <= y && y <= r.max().y)
            .filter(|(d, _)| d.geom.intersects(&c))
            .map(|(d, _)| d.code.as_str())
            .collect()
    };

    // A third of the vertices of every district (many are shared with a neighbour,
    // some are where three districts meet), points halfway along a third of the edges,
    // and random points. (A third keeps the debug-build brute force to seconds.)
    let mut points: Vec<[f64; 2]> = Vec::new();
    for d in &ds {
        for p in &d.geom {
            for (i, w) in p.exterior().0.windows(2).enumerate() {
                match i % 3 {
                    0 => points.push([w[0].x, w[0].y]),
                    1 => points.push([(w[0].x + w[1].x) / 2.0, (w[0].y + w[1].y) / 2.0]),
                    _ => {}
                }
            }
        }
    }
    let all = rects.iter().skip(1).fold(rects[0], |a, r| {
        Rect::new(
            Coord {
                x: a.min().x.min(r.min().x),
                y: a.min().y.min(r.min().y),
            },
            Coord {
                x: a.max().x.max(r.max().x),
                y: a.max().y.max(r.max().y),
            },
        )
    });
    let mut rng = StdRng::seed_from_u64(2201);
    for _ in 0..10_000 {
        points.push([
            rng.random_range(all.min().x..all.max().x),
            rng.random_range(all.min().y..all.max().y),
        ]);
    }
    let (mut shared, mut inside) = (0, 0);
    for &[x, y] in &points {
        let hits = containing(x, y);
        let want = hits.iter().min().copied();
        assert_eq!(idx.locate(x, y).map(|h| h.code), want, "({x}, {y})");
        inside += usize::from(want.is_some());
        shared += usize::from(hits.len() > 1);
    }
    assert!(inside > points.len() / 2, "{inside} of {}", points.len());
    assert!(shared > 1_000, "only {shared} points on shared borders");

    // The published interior point of each district is in it.
    for d in &ds {
        assert_eq!(
            idx.locate(d.cp[0], d.cp[1]).map(|h| h.code),
            Some(d.code.as_str())
        );
    }
}

#[test]
fn unit_grids_fill_a_real_district() {
    let ds = districts();
    // 南关区: 2,578 vertices, self-intersecting as delivered.
    let nanguan = ds.iter().find(|d| d.code.as_str() == "220102").unwrap();
    let cells = unit_grids_clipped(&nanguan.geom, 250.0, sequential_codes("220102", 6));
    assert!(cells.len() > 1_000, "{} cells", cells.len());
    let idx = GridIndex::build(cells.clone());
    let parent = GridIndex::build([(nanguan.code.clone(), nanguan.geom.clone())]);

    // Points in the district are in a cell, points outside it are in none, except
    // within a hair of the boundary, where the overlay engine's rounding and the
    // even-odd reading of self-intersections may differ from geo's non-zero one.
    let r = nanguan.geom.bounding_rect().unwrap();
    let mut rng = StdRng::seed_from_u64(220102);
    let (mut agree, mut total) = (0, 0);
    for _ in 0..20_000 {
        let (x, y) = (
            rng.random_range(r.min().x..r.max().x),
            rng.random_range(r.min().y..r.max().y),
        );
        let in_parent = parent.locate(x, y).is_some();
        let in_cell = idx.locate(x, y).is_some();
        total += 1;
        agree += usize::from(in_parent == in_cell);
    }
    // Disagreement is confined to slivers: at most 0.1 % of random points.
    assert!(agree * 1000 >= total * 999, "{agree} of {total} agree");
}
