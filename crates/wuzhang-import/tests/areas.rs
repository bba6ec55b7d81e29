//! Hand-made area files, one per kind of problem.

use geo::{Area, GeodesicArea, Validation, wkt};
use serde_json::{Value, json};
use wuzhang_domain::area::{AreaCode, AreaLevel};
use wuzhang_import::areas::{
    self, AreaFileError, AreaImport, AreaOptions, IssueKind, MAX_AREA_FILE_BYTES, import_areas,
};
use wuzhang_import::geometry::from_wkb;

const X0: f64 = 125.0;
const Y0: f64 = 43.0;
const D: f64 = 0.01;

fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> Value {
    json!({"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]})
}

fn feature(code: &str, level: &str, parent: Option<&str>, geometry: Value) -> Value {
    let mut props = json!({"code": code, "name": format!("{level} {code}"), "level": level});
    if let Some(p) = parent {
        props["parent_code"] = json!(p);
    }
    json!({"type": "Feature", "properties": props, "geometry": geometry})
}

fn collection(features: Vec<Value>) -> Vec<u8> {
    serde_json::to_vec(&json!({"type": "FeatureCollection", "features": features})).unwrap()
}

/// A clean tree: subdistrict S1 (in the store's district D0) > street ST1 > lane L1 >
/// grids G1 (west half) and G2 (east half) > building B1 (a point in G1) > unit U1.
fn tree() -> Vec<Value> {
    let (x1, y1, xm) = (X0 + D, Y0 + D, X0 + D / 2.0);
    vec![
        feature("U1", "unit", Some("B1"), Value::Null),
        feature("G2", "grid", Some("L1"), rect(xm, Y0, x1, y1)),
        feature("S1", "subdistrict", Some("D0"), rect(X0, Y0, x1, y1)),
        feature("ST1", "street", Some("S1"), rect(X0, Y0, x1, y1)),
        feature("L1", "lane", Some("ST1"), rect(X0, Y0, x1, y1)),
        feature("G1", "grid", Some("L1"), rect(X0, Y0, xm, y1)),
        feature(
            "B1",
            "building",
            Some("G1"),
            json!({"type": "Point", "coordinates": [X0 + 0.002, Y0 + 0.005]}),
        ),
    ]
}

fn store(code: &AreaCode) -> Option<AreaLevel> {
    match code.as_str() {
        "D0" => Some(AreaLevel::District),
        "S9" => Some(AreaLevel::Subdistrict),
        "L9" => Some(AreaLevel::Lane),
        _ => None,
    }
}

fn run(features: Vec<Value>) -> AreaImport {
    run_with(features, &AreaOptions::default())
}

fn run_with(features: Vec<Value>, options: &AreaOptions) -> AreaImport {
    import_areas(&collection(features), options, &store).unwrap()
}

/// Asserts the import is refused with an issue of `kind` on feature `index`, and returns
/// that issue's reason.
fn refused(import: &AreaImport, index: usize, kind: IssueKind) -> String {
    assert!(import.records.is_empty(), "records despite issues");
    assert!(import.clone().into_records().is_err());
    import
        .issues
        .iter()
        .find(|i| i.index == index && i.kind == kind)
        .unwrap_or_else(|| panic!("no {kind:?} on feature {index} in {:#?}", import.issues))
        .reason
        .clone()
}

#[test]
fn clean_tree_is_imported_parents_first() {
    let import = run(tree());
    assert!(import.issues.is_empty(), "{:#?}", import.issues);
    assert!(import.repaired.is_empty());
    let codes: Vec<&str> = import
        .records
        .iter()
        .map(|r| r.area.code.as_str())
        .collect();
    assert_eq!(codes.len(), 7);
    for (i, r) in import.records.iter().enumerate() {
        if let Some(p) = &r.area.parent_code
            && let Some(at) = codes.iter().position(|c| *c == p.as_str())
        {
            assert!(at < i, "{p} after its child {} in {codes:?}", r.area.code);
        }
    }
    let by_code = |c: &str| {
        import
            .records
            .iter()
            .find(|r| r.area.code.as_str() == c)
            .unwrap()
    };
    let unit = by_code("U1");
    assert!(unit.geometry_wkb.is_none() && unit.area.bbox.is_none());
    let g1 = by_code("G1");
    let bbox = g1.area.bbox.unwrap();
    assert_eq!((bbox.min_lng, bbox.max_lng), (X0, X0 + D / 2.0));
    assert_eq!(g1.area.name, "grid G1");
    // The building point became a 5 m square, with a warning saying so.
    let b1 = from_wkb(by_code("B1").geometry_wkb.as_deref().unwrap()).unwrap();
    let m2 = b1.geodesic_area_unsigned();
    assert!((m2 - 25.0).abs() < 0.5, "{m2}");
    assert_eq!(import.warnings.len(), 1);
    assert_eq!(import.warnings[0].kind, IssueKind::PointFootprint);
    let g2 = from_wkb(by_code("G2").geometry_wkb.as_deref().unwrap()).unwrap();
    assert!(g2.is_valid());
}

#[test]
fn clockwise_rings_are_accepted_and_written_counter_clockwise() {
    let mut t = tree();
    t[1]["geometry"]["coordinates"][0]
        .as_array_mut()
        .unwrap()
        .reverse();
    let import = run(t);
    assert!(import.issues.is_empty(), "{:#?}", import.issues);
    let g2 = import
        .records
        .iter()
        .find(|r| r.area.code.as_str() == "G2")
        .unwrap();
    let mp = from_wkb(g2.geometry_wkb.as_deref().unwrap()).unwrap();
    assert!(mp.signed_area() > 0.0);
}

#[test]
fn whole_file_errors() {
    let opts = AreaOptions::default();
    let err = |bytes: &[u8]| import_areas(bytes, &opts, &store).unwrap_err();
    assert_eq!(err(&collection(vec![])), AreaFileError::Empty);
    assert!(matches!(
        err(b"not json"),
        AreaFileError::NotJson { line: 1, .. }
    ));
    assert!(matches!(err(b""), AreaFileError::NotJson { .. }));
    assert!(matches!(
        err(b"{\"type\": \"FeatureCollection\",\n \"features\": [NaN]}"),
        AreaFileError::NotJson { line: 2, .. }
    ));
    // JSON has no NaN or infinity: a number too large for f64 is refused by the parser.
    assert!(matches!(err(b"[1e400]"), AreaFileError::NotJson { .. }));
    let feature = serde_json::to_vec(&tree()[1]).unwrap();
    let e = err(&feature);
    assert!(
        matches!(e, AreaFileError::NotFeatureCollection { .. }),
        "{e}"
    );
    assert!(e.to_string().contains("\"Feature\""), "{e}");
    assert!(matches!(
        err(b"[]"),
        AreaFileError::NotFeatureCollection { .. }
    ));
    assert!(matches!(
        err(br#"{"type": "FeatureCollection", "features": {}}"#),
        AreaFileError::NotFeatureCollection { .. }
    ));
    assert!(matches!(
        err(br#"{"type": "FeatureCollection"}"#),
        AreaFileError::NotFeatureCollection { .. }
    ));
    let mut bad_utf8 = b"{\"type\":\n\"FeatureCollection\",\n\"features\": [\"".to_vec();
    bad_utf8.extend([0xff, 0xfe, b'"', b']', b'}']);
    assert_eq!(err(&bad_utf8), AreaFileError::NotUtf8 { line: 3 });
    let huge = vec![b' '; MAX_AREA_FILE_BYTES + 1];
    assert!(matches!(err(&huge), AreaFileError::TooLarge { .. }));
    // Errors are lowercase.
    assert_eq!(err(b"{").to_string(), err(b"{").to_string().to_lowercase());
    // A byte-order mark is not an error.
    let mut bom = "\u{feff}".as_bytes().to_vec();
    bom.extend(collection(tree()));
    assert!(import_areas(&bom, &opts, &store).unwrap().issues.is_empty());
}

#[test]
fn code_falls_back_to_the_feature_id_and_defaults_fill_level_and_parent() {
    let f = |id: Value| {
        json!({"type": "Feature", "id": id, "properties": {"name": "二道区"},
               "geometry": rect(X0, Y0, X0 + D, Y0 + D)})
    };
    let options = AreaOptions {
        default_level: Some(AreaLevel::Subdistrict),
        default_parent_code: Some(AreaCode::new("D0").unwrap()),
        ..AreaOptions::default()
    };
    let import = run_with(vec![f(json!("220105001")), json!({})], &options);
    assert_eq!(import.issues.len(), 1, "{:#?}", import.issues);
    assert_eq!(import.issues[0].kind, IssueKind::NotAFeature);
    let import = run_with(vec![f(json!(220105001))], &options);
    let rec = &import.records[0];
    assert_eq!(rec.area.code.as_str(), "220105001");
    assert_eq!(rec.area.level, AreaLevel::Subdistrict);
    assert_eq!(rec.area.parent_code.as_ref().unwrap().as_str(), "D0");
    // properties.code wins over id; explicit level wins over the default.
    let mut g = f(json!("X"));
    g["properties"]["code"] = json!("S2");
    g["properties"]["level"] = json!("subdistrict");
    g["properties"]["community"] = json!(" 长山花园社区 ");
    let import = run_with(vec![g], &options);
    assert_eq!(import.records[0].area.code.as_str(), "S2");
    assert_eq!(
        import.records[0].area.community.as_deref(),
        Some("长山花园社区")
    );
}

#[test]
fn bad_codes_names_and_levels() {
    let mut t = tree();
    t[1]["properties"].as_object_mut().unwrap().remove("code");
    let r = refused(&run(t), 1, IssueKind::Code);
    assert!(r.contains("missing code"), "{r}");

    let mut t = tree();
    t[1]["properties"]["code"] = json!("G 2");
    let import = run(t);
    let r = refused(&import, 1, IssueKind::Code);
    assert!(r.contains("may contain only"), "{r}");
    assert_eq!(import.issues[0].code.as_deref(), Some("G 2"));

    let mut t = tree();
    t[1]["properties"]["code"] = json!(["G2"]);
    refused(&run(t), 1, IssueKind::Code);

    let mut t = tree();
    t[1]["properties"]["name"] = json!("   ");
    refused(&run(t), 1, IssueKind::Name);
    let mut t = tree();
    t[1]["properties"]["name"] = json!("长".repeat(201));
    refused(&run(t), 1, IssueKind::Name);
    let mut t = tree();
    t[1]["properties"]["name"] = json!("长".repeat(200));
    assert!(run(t).issues.is_empty());
    let mut t = tree();
    t[1]["properties"].as_object_mut().unwrap().remove("name");
    refused(&run(t), 1, IssueKind::Name);

    let mut t = tree();
    t[1]["properties"]["level"] = json!("city");
    let r = refused(&run(t), 1, IssueKind::Level);
    assert!(r.contains("unknown level \"city\""), "{r}");
    let mut t = tree();
    t[1]["properties"].as_object_mut().unwrap().remove("level");
    refused(&run(t), 1, IssueKind::Level);

    let mut t = tree();
    t[1]["properties"]["community"] = json!(7);
    refused(&run(t), 1, IssueKind::Community);
}

#[test]
fn duplicate_codes() {
    let mut t = tree();
    t[5]["properties"]["code"] = json!("G2");
    let r = refused(&run(t), 5, IssueKind::DuplicateCode);
    assert!(r.contains("first used by feature 1"), "{r}");
}

#[test]
fn parents_must_exist_one_level_up() {
    // A grid under a street.
    let mut t = tree();
    t[1]["properties"]["parent_code"] = json!("ST1");
    let r = refused(&run(t), 1, IssueKind::WrongParentLevel);
    assert!(r.contains("is a street, but a grid needs a lane"), "{r}");
    // A grid under a store subdistrict.
    let mut t = tree();
    t[1]["properties"]["parent_code"] = json!("S9");
    let r = refused(&run(t), 1, IssueKind::WrongParentLevel);
    assert!(r.contains("in the store"), "{r}");
    // A grid under a lane in the store is fine.
    let mut t = tree();
    t[1]["properties"]["parent_code"] = json!("L9");
    let import = run(t);
    assert!(import.issues.is_empty(), "{:#?}", import.issues);
    // A parent nowhere.
    let mut t = tree();
    t[1]["properties"]["parent_code"] = json!("NOPE");
    let r = refused(&run(t), 1, IssueKind::MissingParent);
    assert!(r.contains("neither in the file nor in the store"), "{r}");
    // No parent at all.
    let mut t = tree();
    t[1]["properties"]
        .as_object_mut()
        .unwrap()
        .remove("parent_code");
    let r = refused(&run(t), 1, IssueKind::MissingParent);
    assert!(r.contains("a grid must have a parent lane"), "{r}");
    // A district with a parent; an area of its own.
    let d = feature("D1", "district", Some("D0"), rect(X0, Y0, X0 + D, Y0 + D));
    refused(&run(vec![d]), 0, IssueKind::WrongParentLevel);
    let s = feature(
        "S3",
        "subdistrict",
        Some("S3"),
        rect(X0, Y0, X0 + D, Y0 + D),
    );
    let import = run(vec![s]);
    refused(&import, 0, IssueKind::ParentCode);
    assert_eq!(
        import.issues.len(),
        1,
        "one mistake, one issue: {:#?}",
        import.issues
    );
    // A subdistrict may be a root.
    let s = feature("S3", "subdistrict", None, rect(X0, Y0, X0 + D, Y0 + D));
    assert!(run(vec![s]).issues.is_empty());
}

#[test]
fn cycles_are_reported_once() {
    let g = || rect(X0, Y0, X0 + D, Y0 + D);
    let import = run(vec![
        feature("C", "street", Some("A"), g()),
        feature("A", "street", Some("B"), g()),
        feature("B", "street", Some("C"), g()),
        feature("E", "street", Some("C"), g()),
    ]);
    let cycles: Vec<_> = import
        .issues
        .iter()
        .filter(|i| i.kind == IssueKind::Cycle)
        .collect();
    assert_eq!(cycles.len(), 1, "{cycles:#?}");
    assert_eq!(cycles[0].index, 0);
    assert_eq!(cycles[0].reason, "parent codes form a cycle: C → A → B → C");
    assert!(import.records.is_empty());
}

#[test]
fn coordinates_out_of_range() {
    let mut t = tree();
    t[1]["geometry"] = rect(179.99, Y0, 180.5, Y0 + D);
    let r = refused(&run(t), 1, IssueKind::CoordinateRange);
    assert!(r.contains("longitude 180.5 is outside [-180, 180]"), "{r}");
    assert!(r.contains("geometry.coordinates[0][1]"), "{r}");
    let mut t = tree();
    t[1]["geometry"] = rect(X0, 89.99, X0 + D, 95.0);
    let r = refused(&run(t), 1, IssueKind::CoordinateRange);
    assert!(r.contains("latitude 95 is outside"), "{r}");
    let mut t = tree();
    t[1]["geometry"]["coordinates"][0][2] = json!([125.0, "43"]);
    refused(&run(t), 1, IssueKind::Geometry);
}

#[test]
fn geometry_kinds() {
    let mut t = tree();
    t[1]["geometry"] = json!({"type": "LineString", "coordinates": [[X0, Y0], [X0 + D, Y0]]});
    let r = refused(&run(t), 1, IssueKind::Geometry);
    assert!(r.contains("unsupported geometry type"), "{r}");
    let mut t = tree();
    t[1]["geometry"] = Value::Null;
    let r = refused(&run(t), 1, IssueKind::Geometry);
    assert!(r.contains("a grid needs a polygon"), "{r}");
    let mut t = tree();
    t[1]["geometry"] = json!({"type": "Point", "coordinates": [X0, Y0]});
    refused(&run(t), 1, IssueKind::Geometry);
    let mut t = tree();
    t[1]["geometry"] = json!({"type": "MultiPolygon", "coordinates": []});
    refused(&run(t), 1, IssueKind::Geometry);
    // A unit's geometry is dropped with a warning.
    let mut t = tree();
    t[0]["geometry"] = rect(X0, Y0, X0 + 0.0001, Y0 + 0.0001);
    let import = run(t);
    assert!(import.issues.is_empty());
    assert!(
        import
            .warnings
            .iter()
            .any(|w| w.kind == IssueKind::IgnoredGeometry)
    );
    let unit = import
        .records
        .iter()
        .find(|r| r.area.code.as_str() == "U1")
        .unwrap();
    assert!(unit.geometry_wkb.is_none());
    // A MultiPolygon is fine.
    let mut t = tree();
    t[1]["geometry"] = json!({"type": "MultiPolygon", "coordinates": [
        rect(X0 + D / 2.0, Y0, X0 + D, Y0 + D / 2.0)["coordinates"],
        rect(X0 + D / 2.0, Y0 + D / 2.0 + 0.001, X0 + D, Y0 + D)["coordinates"],
    ]});
    let import = run(t);
    assert!(import.issues.is_empty(), "{:#?}", import.issues);
}

#[test]
fn ring_defects_are_issues_or_repairs() {
    let unclosed = json!({"type": "Polygon", "coordinates": [[
        [X0 + D / 2.0, Y0], [X0 + D, Y0], [X0 + D, Y0 + D], [X0 + D / 2.0, Y0 + D]
    ]]});
    let mut t = tree();
    t[1]["geometry"] = unclosed;
    let import = run(t.clone());
    let issue = import
        .issues
        .iter()
        .find(|i| i.kind == IssueKind::UnclosedRing)
        .unwrap();
    assert_eq!(issue.location, Some((Y0, X0 + D / 2.0)));
    assert!(import.records.is_empty());
    let fixed = run_with(
        t,
        &AreaOptions {
            repair: true,
            ..AreaOptions::default()
        },
    );
    assert!(fixed.issues.is_empty(), "{:#?}", fixed.issues);
    assert!(
        fixed
            .repaired
            .iter()
            .any(|r| r.kind == IssueKind::UnclosedRing && r.index == 1)
    );

    let short = json!({"type": "Polygon", "coordinates": [[[X0, Y0], [X0 + D, Y0], [X0, Y0]]]});
    let mut t = tree();
    t[1]["geometry"] = short;
    let import = run(t.clone());
    let r = refused(&import, 1, IssueKind::ShortRing);
    assert!(r.contains("has 3 positions"), "{r}");
    // Nothing with an area is left: repair cannot help.
    let fixed = run_with(
        t,
        &AreaOptions {
            repair: true,
            ..AreaOptions::default()
        },
    );
    refused(&fixed, 1, IssueKind::Invalid);
}

#[test]
fn self_intersections_are_located_and_repaired() {
    let (xm, x1, y1) = (X0 + D / 2.0, X0 + D, Y0 + D);
    // A bow-tie over G2's square: crosses in its middle.
    let bow = json!({"type": "Polygon", "coordinates": [[[xm, Y0], [x1, y1], [x1, Y0], [xm, y1], [xm, Y0]]]});
    let mut t = tree();
    t[1]["geometry"] = bow;
    let import = run(t.clone());
    let issue = import
        .issues
        .iter()
        .find(|i| i.kind == IssueKind::Invalid)
        .unwrap();
    assert!(issue.reason.contains("self-intersection"), "{issue}");
    let (lat, lng) = issue.location.unwrap();
    assert!((lat - (Y0 + D / 2.0)).abs() < 1e-9 && (lng - (xm + D / 4.0)).abs() < 1e-9);

    let fixed = run_with(
        t,
        &AreaOptions {
            repair: true,
            ..AreaOptions::default()
        },
    );
    assert!(fixed.issues.is_empty(), "{:#?}", fixed.issues);
    let rebuilt = fixed
        .repaired
        .iter()
        .find(|r| r.kind == IssueKind::Invalid)
        .unwrap();
    assert!(
        rebuilt.reason.contains("rebuilt into 2 polygons"),
        "{rebuilt}"
    );
    let g2 = fixed
        .records
        .iter()
        .find(|r| r.area.code.as_str() == "G2")
        .unwrap();
    let mp = from_wkb(g2.geometry_wkb.as_deref().unwrap()).unwrap();
    assert!(mp.is_valid());
    assert_eq!(mp.0.len(), 2);
    // The bow-tie's lobes leave the square's other two triangles uncovered.
    assert!(
        fixed
            .warnings
            .iter()
            .any(|w| w.kind == IssueKind::Gap && w.index == 4)
    );
}

#[test]
fn overlapping_siblings_are_reported_with_the_area() {
    // G2 reaches 0.001° into G1: 0.001° × 0.01° of overlap.
    let mut t = tree();
    t[1]["geometry"] = rect(X0 + D / 2.0 - 0.001, Y0, X0 + D, Y0 + D);
    let import = run(t);
    let overlap = import
        .issues
        .iter()
        .find(|i| i.kind == IssueKind::Overlap)
        .unwrap();
    let expected =
        wkt!(POLYGON((125.004 43.0, 125.005 43.0, 125.005 43.01, 125.004 43.01, 125.004 43.0)))
            .geodesic_area_unsigned();
    let reported: f64 = overlap
        .reason
        .split("by ")
        .nth(1)
        .and_then(|s| s.trim_end_matches(" m²").parse().ok())
        .unwrap();
    assert!(
        (reported / expected - 1.0).abs() < 0.01,
        "{reported} vs {expected}"
    );
    assert!(
        overlap.reason.contains("sibling G2 (feature 1)"),
        "{overlap}"
    );
    assert_eq!(overlap.index, 5);
    let (lat, lng) = overlap.location.unwrap();
    assert!((125.004..=125.005).contains(&lng) && (43.0..=43.01).contains(&lat));
    assert!(import.records.is_empty());
    assert_eq!(import.issues.len(), 1, "{:#?}", import.issues);
}

#[test]
fn touching_and_tiny_overlaps_are_not_issues_and_cousins_may_overlap() {
    // 5e-9° × 0.01° ≈ 0.45 m²: under the 1 m² tolerance.
    let mut t = tree();
    t[1]["geometry"] = rect(X0 + D / 2.0 - 5e-9, Y0, X0 + D, Y0 + D);
    let import = run(t);
    assert!(import.issues.is_empty(), "{:#?}", import.issues);
    // Same footprint but different parents: not siblings.
    let g = || rect(X0, Y0, X0 + D, Y0 + D);
    let import = run(vec![
        feature("G8", "grid", Some("L9"), g()),
        feature("L8", "lane", Some("ST8"), g()),
        feature("ST8", "street", Some("S9"), g()),
        feature("G7", "grid", Some("L8"), g()),
    ]);
    assert!(import.issues.is_empty(), "{:#?}", import.issues);
}

#[test]
fn gaps_are_warnings() {
    // G2 covers only the east 30% instead of the east half: 20% of L1 uncovered.
    let mut t = tree();
    t[1]["geometry"] = rect(X0 + 0.7 * D, Y0, X0 + D, Y0 + D);
    let import = run(t);
    assert!(import.issues.is_empty(), "{:#?}", import.issues);
    assert_eq!(import.records.len(), 7, "warnings do not block");
    let gap = import
        .warnings
        .iter()
        .find(|w| w.kind == IssueKind::Gap)
        .unwrap();
    assert_eq!(gap.code.as_deref(), Some("L1"));
    let lane = wkt!(POLYGON((125.0 43.0, 125.01 43.0, 125.01 43.01, 125.0 43.01, 125.0 43.0)))
        .geodesic_area_unsigned();
    let reported: f64 = gap
        .reason
        .split("leave ")
        .nth(1)
        .and_then(|s| s.split(" m²").next())
        .and_then(|s| s.parse().ok())
        .unwrap();
    assert!((reported / (0.2 * lane) - 1.0).abs() < 0.01, "{gap}");
    let (_, lng) = gap.location.unwrap();
    assert!((X0 + 0.5 * D..X0 + 0.7 * D).contains(&lng), "{gap}");
    // Buildings do not tile grids: a grid with one small building has no gap warning.
    assert!(
        import
            .warnings
            .iter()
            .all(|w| w.code.as_deref() != Some("G1"))
    );
}

#[test]
fn steps_can_be_run_one_by_one() {
    let mut t = tree();
    t[1]["geometry"] = json!({"type": "Polygon", "coordinates": [[
        [X0 + D / 2.0, Y0], [X0 + D, Y0 + D], [X0 + D, Y0], [X0 + D / 2.0, Y0 + D], [X0 + D / 2.0, Y0]
    ]]});
    let bytes = collection(t);
    let mut parsed = areas::parse(&bytes, &AreaOptions::default()).unwrap();
    assert!(parsed.issues.is_empty());
    assert_eq!(areas::check_validity(&parsed.features).len(), 1);
    let report = areas::repair(&mut parsed.features);
    assert!(report.issues.is_empty());
    assert!(areas::check_validity(&parsed.features).is_empty());
    assert!(areas::check_tree(&parsed.features, &store).is_empty());
}
