//! Garbage in: every entry point answers (Ok with issues, or Err) and never panics.

use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use serde_json::json;
use wuzhang_domain::area::{AreaCode, AreaLevel};
use wuzhang_import::areas::{AreaFileError, AreaOptions, import_areas};
use wuzhang_import::geometry::{from_wkb, repair_wkb, to_wkb};
use wuzhang_import::roster::import_roster;

fn store(code: &AreaCode) -> Option<AreaLevel> {
    match code.as_str() {
        "L9" => Some(AreaLevel::Lane),
        "G1" => Some(AreaLevel::Grid),
        _ => None,
    }
}

fn both_modes(bytes: &[u8]) {
    for repair in [false, true] {
        let options = AreaOptions {
            repair,
            default_level: Some(AreaLevel::Grid),
            ..AreaOptions::default()
        };
        if let Ok(import) = import_areas(bytes, &options, &store) {
            assert!(import.issues.is_empty() || import.records.is_empty());
        }
    }
}

/// A small file with a bit of everything: a valid grid, a bow-tie, a building point,
/// a unit, a multipolygon with a hole.
fn sample() -> Vec<u8> {
    serde_json::to_vec(&json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": "G2", "properties": {"name": "a", "parent_code": "L9"},
         "geometry": {"type": "Polygon", "coordinates": [[[125.0, 43.0], [125.01, 43.0], [125.01, 43.01], [125.0, 43.01], [125.0, 43.0]]]}},
        {"type": "Feature", "properties": {"code": "G3", "name": "b", "level": "grid", "parent_code": "L9"},
         "geometry": {"type": "Polygon", "coordinates": [[[125.0, 43.0], [125.01, 43.01], [125.01, 43.0], [125.0, 43.01], [125.0, 43.0]]]}},
        {"type": "Feature", "properties": {"code": "B1", "name": "c", "level": "building", "parent_code": "G1"},
         "geometry": {"type": "Point", "coordinates": [125.001, 43.001]}},
        {"type": "Feature", "properties": {"code": "U1", "name": "d", "level": "unit", "parent_code": "B1"}, "geometry": null},
        {"type": "Feature", "properties": {"code": "G4", "name": "e", "level": "grid", "parent_code": "L9"},
         "geometry": {"type": "MultiPolygon", "coordinates": [
            [[[125.02, 43.0], [125.03, 43.0], [125.03, 43.01], [125.02, 43.01], [125.02, 43.0]],
             [[125.022, 43.002], [125.024, 43.002], [125.024, 43.004], [125.022, 43.002]]],
            [[[125.04, 43.0], [125.05, 43.0], [125.05, 43.01], [125.04, 43.0]]]]}}
    ]}))
    .unwrap()
}

#[test]
fn random_bytes() {
    let mut rng = StdRng::seed_from_u64(0x5eed);
    for len in (0..64).chain([1000, 10_000]) {
        let mut bytes = vec![0u8; len];
        rng.fill_bytes(&mut bytes);
        both_modes(&bytes);
        let _ = import_roster(&bytes, &store);
        let _ = from_wkb(&bytes);
        let _ = repair_wkb(&bytes);
    }
}

#[test]
fn every_truncation_of_a_valid_file() {
    let bytes = sample();
    both_modes(&bytes);
    for end in 0..bytes.len() {
        let cut = &bytes[..end];
        let options = AreaOptions::default();
        assert!(import_areas(cut, &options, &store).is_err(), "cut at {end}");
    }
}

#[test]
fn mutated_files() {
    let bytes = sample();
    let mut rng = StdRng::seed_from_u64(42);
    let alphabet = b"[]{}\",:-.0123456789eE \"type\"nulltruefalse";
    for _ in 0..1500 {
        let mut m = bytes.clone();
        for _ in 0..rng.random_range(1..4) {
            let at = rng.random_range(0..m.len());
            m[at] = alphabet[rng.random_range(0..alphabet.len())];
        }
        both_modes(&m);
    }
}

#[test]
fn mutated_numbers_make_odd_but_parsable_geometry() {
    // Keep the JSON valid and move coordinates around: spikes, zero-area rings, holes
    // outside shells, huge and tiny values.
    let mut rng = StdRng::seed_from_u64(7);
    let values: [f64; 11] = [
        0.0,
        -0.0,
        1e-300,
        5e-324,
        180.0,
        -180.0,
        90.0,
        125.0,
        43.0,
        1e300,
        125.00000000000001,
    ];
    for _ in 0..300 {
        let mut v: serde_json::Value = serde_json::from_slice(&sample()).unwrap();
        for _ in 0..rng.random_range(1..6) {
            let f = rng.random_range(0..5usize);
            let g = &mut v["features"][f]["geometry"]["coordinates"];
            let target = match g {
                serde_json::Value::Array(a) if !a.is_empty() => {
                    let i = rng.random_range(0..a.len());
                    &mut a[i]
                }
                _ => continue,
            };
            *target = json!(values[rng.random_range(0..values.len())]);
        }
        both_modes(&serde_json::to_vec(&v).unwrap());
        let mut v: serde_json::Value = serde_json::from_slice(&sample()).unwrap();
        let ring = &mut v["features"][1]["geometry"]["coordinates"][0];
        for p in ring.as_array_mut().unwrap() {
            p[0] = json!(values[rng.random_range(0..values.len())].clamp(-180.0, 180.0));
            p[1] = json!(values[rng.random_range(0..values.len())].clamp(-90.0, 90.0));
        }
        both_modes(&serde_json::to_vec(&v).unwrap());
    }
}

#[test]
fn deeply_nested_json() {
    for open in ["[", "{\"a\":"] {
        let bytes = open.repeat(200_000).into_bytes();
        let err = import_areas(&bytes, &AreaOptions::default(), &store).unwrap_err();
        assert!(matches!(err, AreaFileError::NotJson { .. }), "{err}");
    }
    let deep = format!(
        r#"{{"type":"FeatureCollection","features":[{{"type":"Feature","properties":{{}},"geometry":{{"type":"Polygon","coordinates":{}1{}}}}}]}}"#,
        "[".repeat(100),
        "]".repeat(100)
    );
    both_modes(deep.as_bytes());
}

#[test]
fn truncated_real_file() {
    let bytes = include_bytes!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/changchun/districts.geojson"
    ));
    for end in [1, 100, 10_000, bytes.len() / 2, bytes.len() - 1] {
        assert!(import_areas(&bytes[..end], &AreaOptions::default(), &store).is_err());
    }
}

#[test]
fn mutated_wkb() {
    let mp: geo::MultiPolygon<f64> = geo::wkt!(MULTIPOLYGON(
        ((0. 0., 0. 10., 10. 0., 10. 10., 0. 0.)),
        ((20. 0., 30. 0., 30. 10., 20. 0.), (21. 1., 22. 1., 22. 2., 21. 1.))
    ));
    let wkb = to_wkb(&mp);
    assert!(repair_wkb(&wkb).is_ok());
    let mut rng = StdRng::seed_from_u64(99);
    for _ in 0..3000 {
        let mut m = wkb.clone();
        for _ in 0..rng.random_range(1..4) {
            let at = rng.random_range(0..m.len());
            m[at] = rng.random();
        }
        let cut = rng.random_range(0..=m.len());
        let _ = from_wkb(&m);
        let _ = repair_wkb(&m);
        let _ = repair_wkb(&m[..cut]);
    }
}

#[test]
fn garbage_rosters() {
    let good = "area_code,person_id,person_name,phone,deputy_person_id,deputy_name,deputy_phone,leave_starts_at,leave_ends_at\nG1,p1,张三,13800138000,p2,李四,,2026-10-01T00:00:00Z,2026-10-08T00:00:00Z\n";
    let bytes = good.as_bytes();
    assert!(import_roster(bytes, &store).unwrap().issues.is_empty());
    let mut rng = StdRng::seed_from_u64(3);
    let alphabet = b",\"\n\r\t x0123456789-:TZ+";
    for _ in 0..2000 {
        let mut m = bytes.to_vec();
        for _ in 0..rng.random_range(1..4) {
            let at = rng.random_range(0..m.len());
            m[at] = alphabet[rng.random_range(0..alphabet.len())];
        }
        let _ = import_roster(&m, &store);
        let cut = rng.random_range(0..=m.len());
        let _ = import_roster(&m[..cut], &store);
    }
}
