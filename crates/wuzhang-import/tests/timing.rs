//! How long 100 000 grid squares take to read and check. Nothing is asserted about time
//! (machines differ); the numbers are printed (`cargo test -- --nocapture`).

use std::fmt::Write;
use std::time::Instant;

use wuzhang_domain::area::{AreaCode, AreaLevel};
use wuzhang_import::areas::{self, AreaOptions, import_areas};

const SIDE: usize = 317; // 317 × 317 ≈ 100 000 squares of 0.001° (~80 m × 111 m)

fn squares() -> Vec<u8> {
    let mut s = String::with_capacity(SIDE * SIDE * 220);
    s.push_str(r#"{"type":"FeatureCollection","features":["#);
    for row in 0..SIDE {
        for col in 0..SIDE {
            // Corners from integer steps, so neighbours share exactly the same numbers.
            let x = |c: usize| (125_000 + c) as f64 / 1000.0;
            let y = |r: usize| (43_500 + r) as f64 / 1000.0;
            let (x0, x1, y0, y1) = (x(col), x(col + 1), y(row), y(row + 1));
            if row + col > 0 {
                s.push(',');
            }
            write!(
                s,
                r#"{{"type":"Feature","properties":{{"code":"G{row}_{col}","name":"网格{row}-{col}","level":"grid","parent_code":"L9"}},"geometry":{{"type":"Polygon","coordinates":[[[{x0},{y0}],[{x1},{y0}],[{x1},{y1}],[{x0},{y1}],[{x0},{y0}]]]}}}}"#
            )
            .unwrap();
        }
    }
    s.push_str("]}");
    s.into_bytes()
}

fn store(code: &AreaCode) -> Option<AreaLevel> {
    (code.as_str() == "L9").then_some(AreaLevel::Lane)
}

#[test]
fn hundred_thousand_squares() {
    let bytes = squares();
    let n = SIDE * SIDE;
    let options = AreaOptions::default();

    let t = Instant::now();
    let parsed = areas::parse(&bytes, &options).unwrap();
    let parse = t.elapsed();
    assert_eq!(parsed.features.len(), n);
    assert!(parsed.issues.is_empty());

    let t = Instant::now();
    assert!(areas::check_validity(&parsed.features).is_empty());
    let validity = t.elapsed();

    let t = Instant::now();
    let usable: Vec<_> = parsed.features.iter().collect();
    let siblings = areas::check_siblings(&usable, &options);
    assert!(siblings.overlaps.is_empty());
    let overlaps = t.elapsed();

    let t = Instant::now();
    let import = import_areas(&bytes, &options, &store).unwrap();
    let whole = t.elapsed();
    assert!(import.issues.is_empty());
    assert_eq!(import.records.len(), n);

    println!(
        "{n} squares, {:.1} MiB: parse {parse:.2?}, validity {validity:.2?}, sibling overlaps {overlaps:.2?}; whole import (with tree and records) {whole:.2?}",
        bytes.len() as f64 / (1024.0 * 1024.0)
    );
}
