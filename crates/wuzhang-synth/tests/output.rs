//! The GeoJSON and roster CSV writers, and made-up inputs that exercise the fallbacks
//! (no subdistricts, no communities, more grids than communities can number).

use std::collections::{BTreeMap, HashMap};

use geo::{Area as _, MultiPolygon, Validation};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::datetime;
use wuzhang_domain::area::AreaLevel;
use wuzhang_spatial::wkb_io::multipolygon_from_wkb;
use wuzhang_synth::{
    Inputs, Options, ROSTER_HEADER, Tree, generate, write_geojson, write_roster_csv,
};

const NOW: OffsetDateTime = datetime!(2026-05-01 09:00 +08:00);

fn small_tree() -> Tree {
    let inputs = Inputs::read(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../data/changchun/districts.geojson"
        ),
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../data/changchun/divisions.csv"
        ),
    )
    .unwrap();
    let opts = Options {
        districts: Some(vec!["220106".into()]),
        cell_m: 1000.0,
        leave_rate: 0.2,
        ..Options::default()
    };
    generate(&inputs, &opts, NOW).unwrap()
}

fn coords(v: &Value) -> Vec<[f64; 2]> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|c| [c[0].as_f64().unwrap(), c[1].as_f64().unwrap()])
        .collect()
}

#[test]
fn geojson_is_a_feature_collection_that_round_trips() {
    let tree = small_tree();
    let mut buf = Vec::new();
    write_geojson(&tree, &mut buf).unwrap();
    let doc: Value = serde_json::from_slice(&buf).expect("the output is JSON");
    assert_eq!(doc["type"], "FeatureCollection");
    let features = doc["features"].as_array().unwrap();
    assert_eq!(features.len(), tree.areas.len());
    for (f, r) in features.iter().zip(&tree.areas) {
        let a = &r.area;
        assert_eq!(f["type"], "Feature");
        let p = &f["properties"];
        assert_eq!(p["code"], a.code.as_str());
        assert_eq!(p["name"], a.name.as_str());
        assert_eq!(p["level"], a.level.as_str());
        match &a.parent_code {
            Some(c) => assert_eq!(p["parent_code"], c.as_str()),
            None => assert!(p["parent_code"].is_null()),
        }
        match &a.community {
            Some(c) => assert_eq!(p["community"], c.as_str()),
            None => assert!(p["community"].is_null()),
        }
        let g = &f["geometry"];
        let Some(wkb) = &r.geometry_wkb else {
            assert!(g.is_null(), "{}", a.code);
            continue;
        };
        assert_eq!(g["type"], "MultiPolygon");
        let want = multipolygon_from_wkb(wkb).unwrap();
        let polys = g["coordinates"].as_array().unwrap();
        assert_eq!(polys.len(), want.0.len());
        for (pj, pw) in polys.iter().zip(&want.0) {
            let rings = pj.as_array().unwrap();
            let ext = coords(&rings[0]);
            // (serde_json's own float parsing is not exact; see the test below for bits.)
            assert_eq!(ext.len(), pw.exterior().0.len());
            for (got, c) in ext.iter().zip(&pw.exterior().0) {
                assert!((got[0] - c.x).abs() < 1e-12 && (got[1] - c.y).abs() < 1e-12);
            }
            assert_eq!(ext.first(), ext.last(), "closed ring");
            assert_eq!(rings.len(), 1 + pw.interiors().len());
            // RFC 7946 right-hand rule: exteriors counter-clockwise, holes clockwise.
            let signed = |ring: &[[f64; 2]]| {
                ring.windows(2)
                    .map(|w| w[0][0] * w[1][1] - w[1][0] * w[0][1])
                    .sum::<f64>()
            };
            assert!(signed(&ext) > 0.0, "{} exterior is clockwise", a.code);
            for hole in &rings[1..] {
                assert!(
                    signed(&coords(hole)) < 0.0,
                    "{} hole is counter-clockwise",
                    a.code
                );
            }
        }
    }
}

#[test]
fn geojson_coordinates_are_written_bit_for_bit() {
    let tree = small_tree();
    let mut buf = Vec::new();
    write_geojson(&tree, &mut buf).unwrap();
    let text = String::from_utf8(buf).unwrap();
    // One feature per line, after the opening line.
    let lines: Vec<&str> = text.lines().skip(1).take(tree.areas.len()).collect();
    for (line, r) in lines.iter().zip(&tree.areas) {
        assert!(
            line.contains(&format!(r#""code":"{}""#, r.area.code)),
            "{line}"
        );
        let Some(wkb) = &r.geometry_wkb else {
            continue;
        };
        let (_, rest) = line.split_once(r#""coordinates":"#).unwrap();
        let got: Vec<f64> = rest
            .split(['[', ']', '}', ','])
            .filter(|t| !t.trim().is_empty())
            .map(|t| t.trim().parse().unwrap())
            .collect();
        let want: Vec<f64> = multipolygon_from_wkb(wkb)
            .unwrap()
            .iter()
            .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
            .flat_map(|ring| ring.0.iter().flat_map(|c| [c.x, c.y]))
            .collect();
        // Shared edges stay shared after a round trip.
        assert_eq!(got, want, "{}", r.area.code);
    }
}

#[test]
fn roster_csv_has_one_row_per_post() {
    let tree = small_tree();
    let mut buf = Vec::new();
    write_roster_csv(&tree, &mut buf).unwrap();
    let mut reader = csv::Reader::from_reader(&buf[..]);
    assert_eq!(
        reader.headers().unwrap(),
        &csv::StringRecord::from(ROSTER_HEADER.to_vec())
    );
    assert_eq!(
        ROSTER_HEADER.join(","),
        "area_code,person_id,person_name,phone,deputy_person_id,deputy_name,deputy_phone,leave_starts_at,leave_ends_at"
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), tree.posts.len());
    let persons: HashMap<&str, _> = tree.persons.iter().map(|p| (p.id.as_str(), p)).collect();
    let (mut vacant, mut deputies, mut leaves) = (0, 0, 0);
    for (row, post) in rows.iter().zip(&tree.posts) {
        assert_eq!(&row[0], post.area_code.as_str());
        match &post.holder {
            None => {
                assert!(row.iter().skip(1).all(str::is_empty), "{row:?}");
                vacant += 1;
            }
            Some(h) => {
                let p = persons[h.as_str()];
                assert_eq!((&row[1], &row[2]), (h.as_str(), p.name.as_str()));
                assert_eq!(&row[3], p.phone.as_deref().unwrap());
            }
        }
        match &post.deputy {
            Some(d) => {
                assert_eq!(&row[4], d.as_str());
                assert_eq!(&row[5], persons[d.as_str()].name.as_str());
                deputies += 1;
            }
            None => assert!(row[4].is_empty() && row[5].is_empty() && row[6].is_empty()),
        }
        match post.leave.first() {
            Some(l) => {
                assert_eq!(OffsetDateTime::parse(&row[7], &Rfc3339).unwrap(), l.from);
                assert_eq!(OffsetDateTime::parse(&row[8], &Rfc3339).unwrap(), l.until);
                leaves += 1;
            }
            None => assert!(row[7].is_empty() && row[8].is_empty()),
        }
    }
    assert!(
        vacant > 0 && deputies > 0 && leaves > 0,
        "{vacant} {deputies} {leaves}"
    );
}

/// Two made-up square districts: one with two subdistricts (one with a single real
/// community, one with none), one with no subdistricts at all.
fn made_up_inputs() -> Inputs {
    let square = |x: f64, y: f64| {
        format!(
            "[[[{x},{y}],[{},{y}],[{},{}],[{x},{}],[{x},{y}]]]",
            x + 0.06,
            x + 0.06,
            y + 0.05,
            y + 0.05
        )
    };
    let geojson = format!(
        r#"{{"type":"FeatureCollection","features":[
        {{"type":"Feature","id":"229901","properties":{{"name":"甲区"}},"geometry":{{"type":"Polygon","coordinates":{}}}}},
        {{"type":"Feature","id":"229902","properties":{{"name":"乙区"}},"geometry":{{"type":"Polygon","coordinates":{}}}}}]}}"#,
        square(125.3, 43.9),
        square(125.5, 43.9)
    );
    let csv = "code,name,level,parent_code\r\n\
               229901,甲区,district,2299\r\n\
               229901001,东街道,subdistrict,229901\r\n\
               229901002,西街道,subdistrict,229901\r\n\
               229901001001,东一社区,community,229901001\r\n";
    Inputs::parse(&geojson, csv).unwrap()
}

#[test]
fn missing_divisions_are_made_up_and_big_communities_spill() {
    let opts = Options {
        buildings_per_grid: 0,
        ..Options::default()
    };
    let tree = generate(&made_up_inputs(), &opts, NOW).unwrap();
    let mut per_community: BTreeMap<&str, (usize, &str)> = BTreeMap::new();
    for r in &tree.areas {
        let a = &r.area;
        if a.level == AreaLevel::Subdistrict && a.parent_code.as_ref().unwrap().as_str() == "229902"
        {
            assert_eq!(
                (a.code.as_str(), a.name.as_str()),
                ("229902001", "乙区街道")
            );
        }
        if a.level == AreaLevel::Grid {
            let e = per_community
                .entry(&a.code.as_str()[..12])
                .or_insert((0, a.community.as_deref().unwrap()));
            e.0 += 1;
        }
    }
    // 0.06° × 0.05° is about 48 × 56 cells of 100 m: ~1,340 grids per subdistrict, more
    // than one community can number.
    let codes: Vec<&str> = per_community.keys().copied().collect();
    assert_eq!(
        codes,
        [
            "229901001001",
            "229901001002",
            "229901002001",
            "229901002002",
            "229902001001",
            "229902001002",
            "229902001003"
        ]
    );
    assert_eq!(per_community["229901001001"].1, "东一社区");
    assert_eq!(per_community["229901001002"].1, "东街道002社区");
    assert_eq!(per_community["229902001003"].1, "乙区街道003社区");
    for (c, (n, _)) in &per_community {
        assert!((500..=999).contains(n), "{c}: {n}");
    }
    // Squares need no repair, and cut nothing: every grid of the interior is whole.
    for r in tree
        .areas
        .iter()
        .filter(|r| r.area.level == AreaLevel::District)
    {
        let mp: MultiPolygon<f64> =
            multipolygon_from_wkb(r.geometry_wkb.as_ref().unwrap()).unwrap();
        assert!(mp.is_valid());
        assert!((mp.unsigned_area() - 0.003).abs() < 1e-9);
    }
}
