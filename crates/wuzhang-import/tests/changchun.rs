//! The real district boundaries of Changchun: invalid as delivered (quantised to 1/1024
//! degree, so every polygon has self-intersections), valid after the in-process repair.

use geo::{Area, BooleanOps, BoundingRect, MultiPolygon, Validation};
use wuzhang_domain::area::{AreaCode, AreaLevel};
use wuzhang_import::areas::{self, AreaOptions, IssueKind, import_areas};
use wuzhang_import::geometry::{area_m2, deg2_to_m2, from_wkb};

const DISTRICTS: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../data/changchun/districts.geojson"
));

fn options(repair: bool) -> AreaOptions {
    AreaOptions {
        default_level: Some(AreaLevel::District),
        repair,
        ..AreaOptions::default()
    }
}

fn no_store(_: &AreaCode) -> Option<AreaLevel> {
    None
}

/// Inside Changchun's districts, roughly.
fn in_changchun((lat, lng): (f64, f64)) -> bool {
    (43.0..46.0).contains(&lat) && (124.0..128.0).contains(&lng)
}

/// The area as drawn, by the shoelace formula ring by ring (meaningful even for an invalid
/// polygon whose rings do not cross much), in m².
fn shoelace_m2(mp: &MultiPolygon<f64>) -> f64 {
    let rect = mp.bounding_rect().unwrap();
    let lat = (rect.min().y + rect.max().y) / 2.0;
    mp.0.iter().map(|p| p.signed_area().abs()).sum::<f64>() * deg2_to_m2(lat)
}

#[test]
fn plain_import_refuses_every_district_with_located_self_intersections() {
    let import = import_areas(DISTRICTS, &options(false), &no_store).unwrap();
    assert!(import.records.is_empty());
    assert!(import.repaired.is_empty());
    for index in 0..10 {
        let own: Vec<_> = import.issues.iter().filter(|i| i.index == index).collect();
        assert!(!own.is_empty(), "feature {index} has no issue");
        assert!(
            own.iter().all(|i| i.kind == IssueKind::Invalid),
            "feature {index}: {own:?}"
        );
        let crossing = own
            .iter()
            .find(|i| i.reason.contains("self-intersection"))
            .unwrap_or_else(|| panic!("feature {index}: no self-intersection in {own:?}"));
        let at = crossing.location.expect("self-intersection has a location");
        assert!(in_changchun(at), "{crossing}");
        assert_eq!(crossing.reason, crossing.reason.to_lowercase());
    }
    assert!(import.issues.iter().all(|i| i.index < 10));
    // 220102 南关区 is the first feature.
    assert_eq!(import.issues[0].code.as_deref(), Some("220102"));
    for i in &import.issues {
        println!("{i}");
    }
}

#[test]
fn repaired_import_accepts_every_district() {
    let original = areas::parse(DISTRICTS, &options(false)).unwrap();
    assert_eq!(original.features.len(), 10);
    assert!(original.issues.is_empty(), "{:?}", original.issues);

    let import = import_areas(DISTRICTS, &options(true), &no_store).unwrap();
    assert!(import.issues.is_empty(), "{:#?}", import.issues);
    assert_eq!(import.records.len(), 10);
    for index in 0..10 {
        assert!(
            import
                .repaired
                .iter()
                .any(|r| r.index == index && r.kind == IssueKind::Invalid),
            "feature {index} not listed as rebuilt"
        );
    }
    let mut repaired = Vec::new();
    for (record, before) in import.records.iter().zip(&original.features) {
        assert_eq!(
            record.area.code, before.area.code,
            "districts keep file order"
        );
        assert_eq!(record.area.level, AreaLevel::District);
        let mp = from_wkb(record.geometry_wkb.as_deref().unwrap()).unwrap();
        assert!(
            mp.is_valid(),
            "{}: {:?}",
            record.area.code,
            mp.validation_errors()
        );
        let was = shoelace_m2(before.geometry.as_ref().unwrap());
        let now = area_m2(&mp);
        let change = now / was - 1.0;
        println!(
            "{} {}: {} polygons, {:.3} km² -> {:.3} km² ({:+.4}%)",
            record.area.code,
            record.area.name,
            mp.0.len(),
            was / 1e6,
            now / 1e6,
            change * 100.0
        );
        assert!(
            change.abs() < 0.01,
            "{}: area changed by {change}",
            record.area.code
        );
        let bbox = record.area.bbox.unwrap();
        assert!(bbox.min_lng > 124.0 && bbox.max_lng < 128.0 && bbox.min_lat > 43.0);
        repaired.push(mp);
    }
    // Neighbours: measure what overlap is left between every pair.
    let mut worst: f64 = 0.0;
    for i in 0..repaired.len() {
        for j in i + 1..repaired.len() {
            worst = worst.max(area_m2(&repaired[i].intersection(&repaired[j])));
        }
    }
    println!("largest overlap between two repaired districts: {worst:.3} m²");
    assert!(worst <= 1.0);
    for r in &import.repaired {
        println!("repaired {r}");
    }
}

#[test]
fn database_repair_path_is_separable() {
    // What a PostGIS caller does: check, send the invalid geometry out as WKB, put the
    // repaired WKB back, check again. repair_wkb stands in for ST_MakeValid here.
    let mut parsed = areas::parse(DISTRICTS, &options(false)).unwrap();
    let invalid = areas::check_validity(&parsed.features);
    assert!(!invalid.is_empty());
    for f in &mut parsed.features {
        let wkb = wuzhang_import::to_wkb(f.geometry.as_ref().unwrap());
        let fixed = wuzhang_import::repair_wkb(&wkb).unwrap();
        f.geometry = Some(from_wkb(&fixed).unwrap());
        f.ring_defects.clear();
    }
    assert!(areas::check_validity(&parsed.features).is_empty());
    let usable: Vec<_> = parsed.features.iter().collect();
    let siblings = areas::check_siblings(&usable, &options(false));
    assert!(siblings.overlaps.is_empty(), "{:?}", siblings.overlaps);
    assert!(areas::check_tree(&parsed.features, &no_store).is_empty());
    let import = areas::assemble(parsed.features, vec![], vec![], vec![]);
    assert_eq!(import.records.len(), 10);
}
