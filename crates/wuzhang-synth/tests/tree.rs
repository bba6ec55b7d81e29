//! The generated tree over real Changchun districts: its shape, its geometry and its
//! roster, checked the way an importer and the router would rely on them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use geo::{
    Area as _, BooleanOps, BoundingRect, Contains, InteriorPoint, Intersects, MultiPolygon,
    Validation, unary_union,
};
use time::OffsetDateTime;
use time::macros::datetime;
use wuzhang_domain::area::{AreaCode, AreaLevel};
use wuzhang_spatial::wkb_io::multipolygon_from_wkb;
use wuzhang_synth::{Inputs, Options, SynthError, Tree, generate};

const GEOJSON: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../data/changchun/districts.geojson"
);
const DIVISIONS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../data/changchun/divisions.csv"
);
const NOW: OffsetDateTime = datetime!(2026-05-01 09:00 +08:00);

fn inputs() -> Inputs {
    Inputs::read(GEOJSON, DIVISIONS).expect("the reference data reads")
}

/// 朝阳区 and 绿园区 (286 and 319 km², 25 subdistricts) in coarse 400 m cells.
fn small_options() -> Options {
    Options {
        districts: Some(vec!["220104".into(), "220106".into()]),
        cell_m: 400.0,
        seed: 7,
        ..Options::default()
    }
}

fn geometry(tree: &Tree) -> HashMap<&str, MultiPolygon<f64>> {
    tree.areas
        .iter()
        .filter_map(|r| {
            let wkb = r.geometry_wkb.as_ref()?;
            Some((r.area.code.as_str(), multipolygon_from_wkb(wkb).unwrap()))
        })
        .collect()
}

fn children(tree: &Tree) -> HashMap<&str, Vec<&str>> {
    let mut out: HashMap<&str, Vec<&str>> = HashMap::new();
    for r in &tree.areas {
        if let Some(p) = &r.area.parent_code {
            out.entry(p.as_str())
                .or_default()
                .push(r.area.code.as_str());
        }
    }
    out
}

#[test]
fn the_tree_nests_level_by_level_with_valid_unique_codes() {
    let inputs = inputs();
    let tree = generate(&inputs, &small_options(), NOW).unwrap();
    let mut seen: HashMap<&str, AreaLevel> = HashMap::new();
    for r in &tree.areas {
        let a = &r.area;
        a.validate().unwrap();
        // A code that survives a round trip through AreaCode's checks.
        assert_eq!(AreaCode::new(a.code.as_str()).unwrap(), a.code);
        match (&a.parent_code, a.level.parent_level()) {
            (None, Some(_)) | (Some(_), None) => panic!("{} has the wrong parent", a.code),
            (Some(p), Some(want)) => {
                // Parents come first, and are exactly one level up.
                assert_eq!(seen.get(p.as_str()), Some(&want), "parent of {}", a.code);
            }
            (None, None) => assert_eq!(a.level, AreaLevel::District),
        }
        assert!(
            seen.insert(a.code.as_str(), a.level).is_none(),
            "{} twice",
            a.code
        );
        assert_eq!(
            r.geometry_wkb.is_some(),
            a.level.has_geometry(),
            "{}",
            a.code
        );
        assert_eq!(a.bbox.is_some(), a.level.has_geometry(), "{}", a.code);
        assert_eq!(
            a.community.is_some(),
            a.level == AreaLevel::Grid,
            "{}",
            a.code
        );
    }
    let s = tree.summary();
    assert_eq!(s.areas[&AreaLevel::District], 2);
    assert_eq!(s.areas[&AreaLevel::Subdistrict], 11 + 14);
    assert!(s.areas[&AreaLevel::Grid] > 3_500, "{s}");
    assert_eq!(
        s.areas[&AreaLevel::Unit],
        2 * s.areas[&AreaLevel::Building],
        "{s}"
    );

    // Streets per subdistrict, lanes per street, as asked; fewer only where the cells
    // under an area span too few rows (columns) to cut, as with coarse cells.
    let kids = children(&tree);
    let bbox: HashMap<&str, wuzhang_domain::area::BBox> = tree
        .areas
        .iter()
        .filter_map(|r| Some((r.area.code.as_str(), r.area.bbox?)))
        .collect();
    // Extent of the cells under an area, in cells, along one axis.
    let cell_deg = 400.0 / 111_195.0;
    let span = |code: &str, lng: bool| {
        let (lo, hi) = grandchildren_extent(code, &kids, &bbox, lng);
        let step = if lng {
            cell_deg / 43.9_f64.to_radians().cos()
        } else {
            cell_deg
        };
        ((hi - lo) / step).round() as usize
    };
    let mut counts = [0usize; 5];
    for r in &tree.areas {
        let code = r.area.code.as_str();
        let n = kids.get(code).map_or(0, Vec::len);
        if matches!(r.area.level, AreaLevel::Subdistrict | AreaLevel::Street) {
            counts[n.min(4)] += 1;
        }
        match r.area.level {
            AreaLevel::Subdistrict if n < 2 => assert!(span(code, false) <= 1, "{code}"),
            AreaLevel::Subdistrict => assert!(n <= 4, "{code}: {n}"),
            AreaLevel::Street if n < 2 => assert!(span(code, true) <= 1, "{code}"),
            AreaLevel::Street => assert!(n <= 3, "{code}: {n}"),
            AreaLevel::Lane => assert!(n > 0, "{code} has no grids"),
            _ => {}
        }
    }
    // Even at 400 m, almost every area is cut as asked.
    assert!(
        counts[1] * 10 < counts[2] + counts[3] + counts[4],
        "{counts:?}"
    );
}

/// West-east (`lng`) or south-north extent of the grids under `code`.
fn grandchildren_extent(
    code: &str,
    kids: &HashMap<&str, Vec<&str>>,
    bbox: &HashMap<&str, wuzhang_domain::area::BBox>,
    lng: bool,
) -> (f64, f64) {
    let mut stack = vec![code];
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    while let Some(c) = stack.pop() {
        match kids.get(c) {
            Some(k) if !c.contains('L') => stack.extend(k.iter().copied()),
            Some(grids) => {
                for g in grids {
                    let b = bbox[g];
                    let (a, z) = if lng {
                        (b.min_lng, b.max_lng)
                    } else {
                        (b.min_lat, b.max_lat)
                    };
                    lo = lo.min(a);
                    hi = hi.max(z);
                }
            }
            None => {}
        }
    }
    (lo, hi)
}

#[test]
fn real_subdistricts_and_communities_name_the_tree() {
    let inputs = inputs();
    let tree = generate(&inputs, &small_options(), NOW).unwrap();
    let district = AreaCode::new("220104").unwrap();
    let real: Vec<(&str, &str)> = inputs.subdistricts[&district]
        .iter()
        .map(|d| (d.code.as_str(), d.name.as_str()))
        .collect();
    let made: Vec<(&str, &str)> = tree
        .areas
        .iter()
        .filter(|r| r.area.parent_code.as_ref() == Some(&district))
        .map(|r| (r.area.code.as_str(), r.area.name.as_str()))
        .collect();
    assert_eq!(made, real);

    // Street and lane codes and names extend their parent's.
    let by_code: HashMap<&str, &wuzhang_domain::area::Area> = tree
        .areas
        .iter()
        .map(|r| (r.area.code.as_str(), &r.area))
        .collect();
    let street = by_code["220104001S01"];
    assert_eq!(street.level, AreaLevel::Street);
    assert_eq!(street.name, format!("{}第1街", by_code["220104001"].name));
    let lane = by_code["220104001S01L02"];
    assert_eq!(lane.name, format!("{}第2路", street.name));

    // Grid codes: the community's 12 digits and a 3-digit sequence from 001, under the
    // real communities of the grid's own subdistrict.
    let communities: HashMap<&str, &str> = inputs
        .communities
        .values()
        .flatten()
        .map(|c| (c.code.as_str(), c.name.as_str()))
        .collect();
    let mut per_community: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
    for r in tree
        .areas
        .iter()
        .filter(|r| r.area.level == AreaLevel::Grid)
    {
        let code = r.area.code.as_str();
        assert!(
            code.len() == 15 && code.bytes().all(|b| b.is_ascii_digit()),
            "{code}"
        );
        let (community, seq) = code.split_at(12);
        assert_eq!(
            Some(&r.area.community.as_deref().unwrap()),
            communities.get(community)
        );
        assert_eq!(
            r.area.name,
            format!(
                "{}第{}网格",
                communities[community],
                seq.parse::<u32>().unwrap()
            )
        );
        // The lane's code starts with the subdistrict's, and so does the community's.
        let lane = r.area.parent_code.as_ref().unwrap().as_str();
        assert_eq!(&lane[..9], &community[..9], "{code} under {lane}");
        per_community
            .entry(community)
            .or_default()
            .push(seq.parse().unwrap());
    }
    for (c, mut seqs) in per_community {
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=seqs.len() as u32).collect::<Vec<_>>(), "{c}");
    }

    // Buildings and units.
    let b = tree
        .areas
        .iter()
        .find(|r| r.area.level == AreaLevel::Building)
        .unwrap();
    let grid = b.area.parent_code.as_ref().unwrap();
    assert_eq!(b.area.code.as_str(), format!("{grid}B01"));
    assert_eq!(b.area.name, format!("{}1号楼", by_code[grid.as_str()].name));
    assert_eq!(
        by_code[&*format!("{}U2", b.area.code)].name,
        format!("{}2单元", b.area.name)
    );
}

#[test]
fn every_geometry_is_valid_and_each_level_tiles_its_parent() {
    let inputs = inputs();
    // The delivered boundaries are invalid; the premise of the repair.
    assert!(inputs.districts.iter().all(|d| !d.boundary.is_valid()));
    let tree = generate(&inputs, &small_options(), NOW).unwrap();
    let geom = geometry(&tree);
    for (code, mp) in &geom {
        assert!(mp.is_valid(), "{code}: {:?}", mp.validation_errors());
        assert!(mp.unsigned_area() > 0.0, "{code} is empty");
    }
    let level: HashMap<&str, AreaLevel> = tree
        .areas
        .iter()
        .map(|r| (r.area.code.as_str(), r.area.level))
        .collect();
    let kids = children(&tree);
    let close = |a: f64, b: f64, tol: f64| (a - b).abs() <= tol * b;

    for (parent, children) in &kids {
        let lvl = level[parent];
        if !matches!(
            lvl,
            AreaLevel::District | AreaLevel::Subdistrict | AreaLevel::Street | AreaLevel::Lane
        ) {
            continue;
        }
        let p = &geom[parent];
        let parts: Vec<&MultiPolygon<f64>> = children.iter().map(|c| &geom[c]).collect();
        let sum: f64 = parts.iter().map(|m| m.unsigned_area()).sum();
        // Children add up to their parent ...
        assert!(
            close(sum, p.unsigned_area(), 0.005),
            "{parent}: {sum} vs {}",
            p.unsigned_area()
        );
        if lvl == AreaLevel::Lane || lvl == AreaLevel::Street {
            // ... without overlapping each other (their union is as large as their sum) ...
            let union = unary_union(parts.iter().copied());
            assert!(
                close(union.unsigned_area(), sum, 1e-6),
                "{parent}: siblings overlap"
            );
            // ... and cover it.
            let gap = p.difference(&union).unsigned_area();
            assert!(gap <= 0.005 * p.unsigned_area(), "{parent}: gap {gap}");
        }
    }

    // Grids of a subdistrict add up to it.
    let mut grid_area: HashMap<&str, f64> = HashMap::new();
    for r in tree
        .areas
        .iter()
        .filter(|r| r.area.level == AreaLevel::Grid)
    {
        *grid_area.entry(&r.area.code.as_str()[..9]).or_default() +=
            geom[r.area.code.as_str()].unsigned_area();
    }
    for r in tree
        .areas
        .iter()
        .filter(|r| r.area.level == AreaLevel::Subdistrict)
    {
        let want = geom[r.area.code.as_str()].unsigned_area();
        let got = grid_area[r.area.code.as_str()];
        assert!(
            close(got, want, 0.005),
            "{}: grids {got} vs {want}",
            r.area.code
        );
    }

    // Subdistricts are west-to-east bands: their extents follow one another in longitude.
    for d in ["220104", "220106"] {
        let xs: Vec<(f64, f64)> = kids[d]
            .iter()
            .map(|s| {
                let r = geom[s].bounding_rect().unwrap();
                (r.min().x, r.max().x)
            })
            .collect();
        for w in xs.windows(2) {
            assert!(w[0].1 <= w[1].0, "{d}: bands out of order {w:?}");
        }
    }
}

#[test]
fn a_point_inside_a_grid_is_inside_every_area_above_it() {
    let tree = generate(&inputs(), &small_options(), NOW).unwrap();
    let geom = geometry(&tree);
    let parent: HashMap<&str, &str> = tree
        .areas
        .iter()
        .filter_map(|r| Some((r.area.code.as_str(), r.area.parent_code.as_ref()?.as_str())))
        .collect();
    let mut checked = 0;
    for r in tree
        .areas
        .iter()
        .filter(|r| r.area.level == AreaLevel::Grid)
    {
        let grid = &geom[r.area.code.as_str()];
        let pt = grid.interior_point().unwrap();
        let mut code = r.area.code.as_str();
        for _ in 0..4 {
            code = parent[code];
            assert!(
                geom[code].intersects(&pt),
                "{pt:?} of {} not in {code}",
                r.area.code
            );
        }
        // Four steps up from a grid is its district.
        assert!(["220104", "220106"].contains(&code), "{code}");
        checked += 1;
    }
    assert!(checked > 3_500);

    // Buildings sit inside their grid, apart from one another.
    let kids = children(&tree);
    for r in tree
        .areas
        .iter()
        .filter(|r| r.area.level == AreaLevel::Grid)
    {
        let Some(bs) = kids.get(r.area.code.as_str()) else {
            continue;
        };
        let grid = &geom[r.area.code.as_str()];
        assert_eq!(bs.len(), 2);
        for b in bs {
            assert!(grid.contains(&geom[b]), "{b} outside its grid");
            // About 20 m a side: 400 m² within the lattice's distortion.
            let side_m =
                (geom[b].unsigned_area() * 111_195.0_f64.powi(2) * 43.9_f64.to_radians().cos())
                    .sqrt();
            assert!((side_m - 20.0).abs() < 0.5, "{b}: {side_m} m");
        }
        assert!(!geom[bs[0]].intersects(&geom[bs[1]]), "{bs:?} overlap");
    }
}

#[test]
fn the_roster_staffs_every_post() {
    let opts = Options {
        districts: Some(vec!["220104".into()]),
        cell_m: 300.0,
        seed: 3,
        ..Options::default()
    };
    let tree = generate(&inputs(), &opts, NOW).unwrap();
    let s = tree.summary();
    let with_chief = tree
        .areas
        .iter()
        .filter(|r| r.area.level.chief_level().is_some())
        .count();
    assert_eq!(tree.posts.len(), with_chief);
    assert!(with_chief > 10_000, "{s}");

    let persons: HashMap<&str, &wuzhang_domain::chief::Person> =
        tree.persons.iter().map(|p| (p.id.as_str(), p)).collect();
    assert_eq!(persons.len(), tree.persons.len(), "person ids are unique");
    let phones: HashSet<&str> = tree
        .persons
        .iter()
        .map(|p| p.phone.as_deref().unwrap())
        .collect();
    assert_eq!(phones.len(), tree.persons.len(), "phones are unique");
    for p in &tree.persons {
        let id = p.id.as_str();
        assert!(
            id.len() == 7 && id.starts_with('P') && id[1..].bytes().all(|b| b.is_ascii_digit())
        );
        let phone = p.phone.as_deref().unwrap().as_bytes();
        // ^1[3-9]\d{9}$
        assert!(
            phone.len() == 11
                && phone[0] == b'1'
                && (b'3'..=b'9').contains(&phone[1])
                && phone.iter().all(u8::is_ascii_digit),
            "{p:?}"
        );
        let n = p.name.chars().count();
        assert!((2..=3).contains(&n), "{}", p.name);
    }

    let level: HashMap<&str, AreaLevel> = tree
        .areas
        .iter()
        .map(|r| (r.area.code.as_str(), r.area.level))
        .collect();
    let parent: HashMap<&str, &str> = tree
        .areas
        .iter()
        .filter_map(|r| Some((r.area.code.as_str(), r.area.parent_code.as_ref()?.as_str())))
        .collect();
    let mut referenced = HashSet::new();
    let mut posts_of: HashMap<&str, Vec<&str>> = HashMap::new();
    let (mut covering_now, mut other_leave) = (0, 0);
    for post in &tree.posts {
        let area_level = level[post.area_code.as_str()];
        assert_eq!(post.level.area_level(), area_level);
        if area_level == AreaLevel::Subdistrict {
            assert!(
                post.holder.is_some(),
                "command center {} vacant",
                post.area_code
            );
        }
        match &post.holder {
            Some(h) => {
                assert!(persons.contains_key(h.as_str()));
                referenced.insert(h.as_str());
                posts_of
                    .entry(h.as_str())
                    .or_default()
                    .push(post.area_code.as_str());
            }
            None => assert!(post.deputy.is_none() && post.leave.is_empty()),
        }
        if let Some(d) = &post.deputy {
            assert!(persons.contains_key(d.as_str()));
            assert_ne!(Some(d), post.holder.as_ref());
            referenced.insert(d.as_str());
        }
        for l in &post.leave {
            assert!(l.from < l.until);
            if l.covers(NOW) {
                covering_now += 1;
                // On leave now: the deputy acts, or no one does.
                assert_eq!(post.acting(NOW), post.deputy.as_ref());
            } else {
                other_leave += 1;
            }
        }
    }
    assert_eq!(
        referenced.len(),
        tree.persons.len(),
        "every person holds something"
    );

    // Rates land near what was asked.
    let rate = |n: usize| n as f64 / with_chief as f64;
    assert!((rate(s.vacancies) - 0.05).abs() < 0.01, "{s}");
    assert!(
        (s.with_deputy as f64 / (with_chief - s.vacancies) as f64 - 0.3).abs() < 0.02,
        "{s}"
    );
    assert!(
        covering_now > 20 && other_leave > 20,
        "{covering_now} {other_leave}"
    );

    // A few people hold two posts, one directly under the other.
    let dual: Vec<&Vec<&str>> = posts_of.values().filter(|v| v.len() > 1).collect();
    assert!(
        !dual.is_empty() && dual.len() < with_chief / 100,
        "{}",
        dual.len()
    );
    for posts in dual {
        assert_eq!(posts.len(), 2, "{posts:?}");
        assert_eq!(parent[posts[1]], posts[0], "{posts:?}");
        assert!(matches!(
            level[posts[0]],
            AreaLevel::Street | AreaLevel::Lane
        ));
    }
}

#[test]
fn a_seed_gives_one_tree_and_a_district_comes_out_alone_as_in_company() {
    let inputs = inputs();
    let one = Options {
        districts: Some(vec!["220106".into()]),
        cell_m: 1000.0,
        seed: 11,
        ..Options::default()
    };
    let a = generate(&inputs, &one, NOW).unwrap();
    let b = generate(&inputs, &one, NOW).unwrap();
    assert_eq!(a.areas, b.areas);
    assert_eq!(a.posts, b.posts);
    assert_eq!(a.persons, b.persons);

    let other_seed = generate(
        &inputs,
        &Options {
            seed: 12,
            ..one.clone()
        },
        NOW,
    )
    .unwrap();
    assert_ne!(a.areas, other_seed.areas);

    // The same district generated next to another: same areas (the roster differs, as
    // persons are numbered across the whole tree).
    let both = Options {
        districts: Some(vec!["220104".into(), "220106".into()]),
        ..one
    };
    let c = generate(&inputs, &both, NOW).unwrap();
    let mine: Vec<_> = c
        .areas
        .iter()
        .filter(|r| r.area.code.as_str().starts_with("220106"))
        .cloned()
        .collect();
    assert_eq!(mine, a.areas);
}

#[test]
fn target_grids_sets_the_cell_size() {
    let opts = Options {
        districts: Some(vec!["220104".into(), "220106".into()]),
        target_grids: Some(3_000),
        buildings_per_grid: 0,
        ..Options::default()
    };
    let tree = generate(&inputs(), &opts, NOW).unwrap();
    let grids = tree.summary().areas[&AreaLevel::Grid];
    assert!(
        (2_850..=3_150).contains(&grids),
        "{grids} grids at {} m",
        tree.cell_m
    );
    assert!(!tree.summary().areas.contains_key(&AreaLevel::Building));
}

/// The default 100 m cells over one district, as the demo uses them.
#[test]
fn default_cells_over_one_district() {
    let opts = Options {
        districts: Some(vec!["220104".into()]),
        ..Options::default()
    };
    let t = Instant::now();
    let tree = generate(&inputs(), &opts, NOW).unwrap();
    println!("220104 at 100 m in {:.2?}: {}", t.elapsed(), tree.summary());
    let s = tree.summary();
    // 286 km² of 100 m cells, plus the cut cells along the boundary.
    let grids = s.areas[&AreaLevel::Grid];
    assert!((28_000..32_000).contains(&grids), "{s}");
    // Most cells are whole and get two buildings.
    assert!(s.areas[&AreaLevel::Building] > grids * 3 / 2, "{s}");
    // Spot-check validity and nesting on a sample of the grids.
    let geom = geometry(&tree);
    for r in tree
        .areas
        .iter()
        .filter(|r| r.area.level == AreaLevel::Grid)
        .step_by(97)
    {
        let g = &geom[r.area.code.as_str()];
        assert!(g.is_valid(), "{}", r.area.code);
        let lane = &geom[r.area.parent_code.as_ref().unwrap().as_str()];
        assert!(
            lane.intersects(&g.interior_point().unwrap()),
            "{}",
            r.area.code
        );
    }
}

/// About 100k grids over all ten districts, without buildings, as a benchmark sets up.
#[test]
fn a_hundred_thousand_grids_over_every_district() {
    let opts = Options {
        target_grids: Some(100_000),
        buildings_per_grid: 0,
        ..Options::default()
    };
    let inputs = inputs();
    let t = Instant::now();
    let tree = generate(&inputs, &opts, NOW).unwrap();
    println!(
        "~100k grids over every district in {:.2?} ({:.1} m cells): {}",
        t.elapsed(),
        tree.cell_m,
        tree.summary()
    );
    let s = tree.summary();
    assert_eq!(s.areas[&AreaLevel::District], 10);
    let subdistricts: usize = inputs
        .districts
        .iter()
        .map(|d| inputs.subdistricts[&d.code].len())
        .sum();
    assert_eq!(s.areas[&AreaLevel::Subdistrict], subdistricts);
    let grids = s.areas[&AreaLevel::Grid];
    assert!((95_000..=105_000).contains(&grids), "{s}");
    assert_eq!(s.posts, tree.areas.len() - 10);
}

#[test]
fn unusable_requests_are_refused() {
    let inputs = inputs();
    let err = |opts: Options| generate(&inputs, &opts, NOW).unwrap_err();
    let e = err(Options {
        districts: Some(vec!["220171".into()]),
        ..Options::default()
    });
    assert!(
        matches!(e, SynthError::UnknownDistrict(ref c) if c == "220171"),
        "{e}"
    );
    let e = err(Options {
        districts: Some(vec!["220104".into()]),
        cell_m: 5_000.0,
        ..Options::default()
    });
    assert!(
        matches!(
            e,
            SynthError::TooCoarse {
                subdistricts: 11,
                ..
            }
        ),
        "{e}"
    );
    let e = err(Options {
        vacancy_rate: 1.5,
        ..Options::default()
    });
    assert_eq!(e.to_string(), "option vacancy_rate: must be within [0, 1]");
}
