//! The locator answers from memory what it used to read per request: areas and lineage
//! from the index snapshot.

use std::sync::Arc;
use std::time::Duration;

use geo::{MultiPolygon, Rect};
use time::macros::datetime;
use wuzhang_domain::area::{Area, AreaCode, AreaLevel};
use wuzhang_domain::clock::ManualClock;
use wuzhang_domain::point::{Crs, GeoPoint};
use wuzhang_routing::locate::LocateQuery;
use wuzhang_routing::{AreaIndex, Locator};
use wuzhang_spatial::wkb_io::multipolygon_to_wkb;
use wuzhang_store::prelude::*;
use wuzhang_store::{AreaRecord, ReferenceCache, SqliteStore, Store};

const SUB: &str = "220102001";
const ST: &str = "220102001-s1";
const LN1: &str = "220102001-l1";
const LN2: &str = "220102001-l2";
const G1: &str = "220102001-g1";
const B1: &str = "220102001-b1";
const U1: &str = "220102001-u1";

fn code(c: &str) -> AreaCode {
    AreaCode::new(c).unwrap()
}

fn rect(min_lng: f64, min_lat: f64, max_lng: f64, max_lat: f64) -> Option<Vec<u8>> {
    let r = Rect::new((min_lng, min_lat), (max_lng, max_lat));
    Some(multipolygon_to_wkb(&MultiPolygon(vec![r.to_polygon()])))
}

fn record(c: &str, level: AreaLevel, parent: Option<&str>, wkb: Option<Vec<u8>>) -> AreaRecord {
    AreaRecord {
        area: Area {
            code: code(c),
            name: format!("区域 {c}"),
            level,
            parent_code: parent.map(code),
            community: None,
            bbox: None,
        },
        geometry_wkb: wkb,
    }
}

fn tree(grid_lane: &str) -> Vec<AreaRecord> {
    use AreaLevel as L;
    vec![
        record(SUB, L::Subdistrict, None, None),
        record(ST, L::Street, Some(SUB), None),
        record(LN1, L::Lane, Some(ST), None),
        record(LN2, L::Lane, Some(ST), None),
        record(
            G1,
            L::Grid,
            Some(grid_lane),
            rect(125.30, 43.80, 125.31, 43.81),
        ),
        record(
            B1,
            L::Building,
            Some(G1),
            rect(125.302, 43.802, 125.303, 43.803),
        ),
        record(U1, L::Unit, Some(B1), None),
    ]
}

async fn store() -> Arc<dyn Store> {
    let store = SqliteStore::in_memory().await.unwrap();
    store.migrate().await.unwrap();
    store.upsert_areas(&tree(LN1)).await.unwrap();
    Arc::new(store)
}

fn codes(areas: &[Area]) -> Vec<&str> {
    areas.iter().map(|a| a.code.as_str()).collect()
}

#[tokio::test]
async fn the_snapshot_answers_lineage_as_the_store_does_and_follows_changes() {
    let store = store().await;
    let index = AreaIndex::load(store.as_ref()).await.unwrap();
    let snapshot = index.snapshot();
    assert_eq!(snapshot.area_count(), tree(LN1).len());
    for r in tree(LN1) {
        let code = &r.area.code;
        assert_eq!(
            snapshot.lineage(code).unwrap(),
            store.lineage(code).await.unwrap(),
            "{code}"
        );
        assert_eq!(
            snapshot.area(code),
            Some(&store.get_area(code).await.unwrap())
        );
    }
    assert_eq!(snapshot.lineage(&code("220102001-nope")), None);

    // The grid moves to the other lane: the old snapshot keeps its view, the next one
    // has the new parent.
    store.upsert_areas(&tree(LN2)).await.unwrap();
    assert!(index.refresh(store.as_ref()).await.unwrap());
    assert_eq!(codes(&snapshot.lineage(&code(U1)).unwrap())[3], LN1);
    let fresh = index.snapshot().lineage(&code(U1)).unwrap();
    assert_eq!(codes(&fresh), [U1, B1, G1, LN2, ST, SUB]);
    assert_eq!(fresh, store.lineage(&code(U1)).await.unwrap());
}

#[tokio::test]
async fn a_point_in_a_footprint_is_located_to_its_building() {
    let store = store().await;
    let index = AreaIndex::load(store.as_ref()).await.unwrap();
    let clock = Arc::new(ManualClock::new(datetime!(2026-03-02 10:00 +8)));
    let reference = ReferenceCache::new(Arc::clone(&store), Duration::ZERO);
    let locator = Locator::new(Arc::clone(&store), index, reference, clock, 50.0);
    let at = |lat, lng| LocateQuery {
        point: GeoPoint::new(lat, lng, Crs::Wgs84).unwrap(),
        building_code: None,
        unit_code: None,
    };
    let l = locator.locate(&at(43.8025, 125.3025)).await.unwrap();
    assert_eq!(l.building.as_ref().map(|b| b.code.as_str()), Some(B1));
    assert_eq!(
        (l.grid.code.as_str(), l.subdistrict.code.as_str()),
        (G1, SUB)
    );
    let l = locator.locate(&at(43.8075, 125.3075)).await.unwrap();
    assert_eq!(l.building, None);
    // A unit named by the resident, from memory too.
    let l = locator
        .locate(&LocateQuery {
            building_code: Some(code(B1)),
            unit_code: Some(code(U1)),
            ..at(43.8075, 125.3075)
        })
        .await
        .unwrap();
    assert_eq!(l.unit.map(|u| u.code.as_str().to_owned()), Some(U1.into()));
    assert_eq!(l.chain.first().map(|c| c.area.code.as_str()), Some(U1));
}

#[tokio::test]
async fn who_acts_is_decided_at_the_time_of_asking_not_when_cached() {
    use wuzhang_domain::chief::{ChiefLevel, LeavePeriod, Person, PersonId, Post};
    let store = store().await;
    let t0 = datetime!(2026-03-02 10:00 +8);
    let person = |id: &str| Person {
        id: PersonId::new(id).unwrap(),
        name: format!("姓名 {id}"),
        phone: None,
    };
    let grid_post = Post {
        area_code: code(G1),
        level: ChiefLevel::Grid,
        holder: Some(PersonId::new("p1").unwrap()),
        deputy: Some(PersonId::new("p2").unwrap()),
        leave: vec![LeavePeriod {
            from: t0 + time::Duration::hours(1),
            until: t0 + time::Duration::hours(3),
        }],
    };
    store
        .upsert_roster(&[person("p1"), person("p2")], &[grid_post])
        .await
        .unwrap();
    let index = AreaIndex::load(store.as_ref()).await.unwrap();
    let clock = Arc::new(ManualClock::new(t0));
    // Never checks the counters by itself: nothing changes in the store meanwhile.
    let reference = ReferenceCache::new(Arc::clone(&store), Duration::from_secs(3600));
    let locator = Locator::new(
        Arc::clone(&store),
        index,
        reference,
        Arc::clone(&clock) as _,
        50.0,
    );
    let q = LocateQuery {
        point: GeoPoint::new(43.8075, 125.3075, Crs::Wgs84).unwrap(),
        building_code: None,
        unit_code: None,
    };
    let grid_link = |l: wuzhang_routing::Location| {
        l.chain
            .into_iter()
            .find(|c| c.level == ChiefLevel::Grid)
            .unwrap()
    };
    let link = grid_link(locator.locate(&q).await.unwrap());
    assert_eq!(
        link.person.map(|p| p.id.as_str().to_owned()),
        Some("p1".into())
    );
    assert!(!link.deputy);
    clock.advance(time::Duration::hours(2));
    let link = grid_link(locator.locate(&q).await.unwrap());
    assert_eq!(
        link.person.map(|p| p.id.as_str().to_owned()),
        Some("p2".into())
    );
    assert!(link.deputy);
}
