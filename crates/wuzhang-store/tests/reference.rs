//! [`ReferenceCache`]: answers from memory, sees this process's changes at once and
//! another's when it checks the counters. Two handles on one SQLite file stand for two
//! processes.

use std::sync::Arc;
use std::time::Duration;

use time::Duration as Span;
use wuzhang_domain::area::{Area, AreaCode, AreaLevel};
use wuzhang_domain::category::{Category, CategoryCode, CategoryKind, DeadlineKind};
use wuzhang_domain::chief::{ChiefLevel, Person, PersonId, Post};
use wuzhang_store::prelude::*;
use wuzhang_store::{AreaRecord, ReferenceCache, SqliteStore, Store, StoreError};

const G1: &str = "220102001-g1";
const G2: &str = "220102001-g2";
/// So long that only the process's own writes and explicit refreshes trigger a check.
const NEVER: Duration = Duration::from_secs(3600);

fn code(s: &str) -> AreaCode {
    AreaCode::new(s).unwrap()
}

fn pid(s: &str) -> PersonId {
    PersonId::new(s).unwrap()
}

fn person(id: &str, name: &str) -> Person {
    Person {
        id: pid(id),
        name: name.into(),
        phone: None,
    }
}

fn post(area: &str, holder: &str) -> Post {
    Post {
        area_code: code(area),
        level: ChiefLevel::Grid,
        holder: Some(pid(holder)),
        deputy: None,
        leave: vec![],
    }
}

fn category(code: &str, active: bool) -> Category {
    Category {
        code: CategoryCode::new(code).unwrap(),
        name: format!("类别 {code}"),
        parent_code: None,
        kind: CategoryKind::Event,
        start_level: ChiefLevel::Grid,
        accept_within: Span::hours(2),
        resolve_within: Span::hours(24),
        deadline_kind: DeadlineKind::WorkingHours,
        urgent: false,
        calendar_code: wuzhang_domain::category::DEFAULT_CALENDAR.into(),
        duplicate_radius_m: 0.0,
        duplicate_window: Span::ZERO,
        active,
        reopen_on_not_solved: false,
        organization_type: None,
    }
}

fn area(c: &str, level: AreaLevel, parent: Option<&str>) -> AreaRecord {
    AreaRecord {
        area: Area {
            code: code(c),
            name: format!("区域 {c}"),
            level,
            parent_code: parent.map(code),
            community: None,
            bbox: None,
        },
        geometry_wkb: None,
    }
}

/// Two handles on one migrated file with two grids, G1 held by p1.
async fn two_processes() -> (tempfile::TempDir, Arc<dyn Store>, Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wuzhang.db");
    let here = SqliteStore::open(path.to_str().unwrap()).await.unwrap();
    here.migrate().await.unwrap();
    let there = SqliteStore::open(path.to_str().unwrap()).await.unwrap();
    use AreaLevel as L;
    here.upsert_areas(&[
        area("220102001", L::Subdistrict, None),
        area("220102001-s1", L::Street, Some("220102001")),
        area("220102001-l1", L::Lane, Some("220102001-s1")),
        area(G1, L::Grid, Some("220102001-l1")),
        area(G2, L::Grid, Some("220102001-l1")),
    ])
    .await
    .unwrap();
    here.upsert_roster(&[person("p1", "张三")], &[post(G1, "p1")])
        .await
        .unwrap();
    here.upsert_category(&category("0101", true)).await.unwrap();
    (dir, Arc::new(here), Arc::new(there))
}

#[tokio::test]
async fn answers_from_memory_until_another_process_changes_and_it_checks() {
    let (_dir, here, there) = two_processes().await;
    let cache = ReferenceCache::new(Arc::clone(&here), NEVER);
    assert_eq!(
        cache.posts_for_areas(&[code(G1), code(G2)]).await.unwrap(),
        [post(G1, "p1")]
    );
    assert_eq!(
        cache.get_persons(&[pid("p1"), pid("p9")]).await.unwrap(),
        [person("p1", "张三")]
    );
    let c = cache
        .get_category(&CategoryCode::new("0101").unwrap())
        .await
        .unwrap();
    assert!(c.active);

    // Another process hands G2 to p2, renames p1 and retires the category: not seen
    // until the counters are read, then all of it.
    there
        .upsert_roster(
            &[person("p1", "张三丰"), person("p2", "李四")],
            &[post(G2, "p2")],
        )
        .await
        .unwrap();
    there
        .upsert_category(&category("0101", false))
        .await
        .unwrap();
    assert_eq!(
        cache.posts_for_areas(&[code(G1), code(G2)]).await.unwrap(),
        [post(G1, "p1")],
        "cached, including that G2 had no post"
    );
    assert_eq!(
        cache.get_persons(&[pid("p1")]).await.unwrap()[0].name,
        "张三"
    );
    assert!(cache.refresh().await.unwrap());
    let mut posts = cache.posts_for_areas(&[code(G1), code(G2)]).await.unwrap();
    posts.sort_by(|a, b| a.area_code.cmp(&b.area_code));
    assert_eq!(posts, [post(G1, "p1"), post(G2, "p2")]);
    assert_eq!(
        cache.get_persons(&[pid("p1")]).await.unwrap()[0].name,
        "张三丰"
    );
    let c = cache
        .get_category(&CategoryCode::new("0101").unwrap())
        .await
        .unwrap();
    assert!(!c.active);
    assert!(!cache.refresh().await.unwrap(), "nothing changed since");
}

#[tokio::test]
async fn sees_its_own_process_changes_at_once() {
    let (_dir, here, _there) = two_processes().await;
    let cache = ReferenceCache::new(Arc::clone(&here), NEVER);
    assert!(cache.posts_for_areas(&[code(G2)]).await.unwrap().is_empty());
    let retired = CategoryCode::new("0101").unwrap();
    assert!(cache.get_category(&retired).await.unwrap().active);
    here.upsert_roster(&[person("p2", "李四")], &[post(G2, "p2")])
        .await
        .unwrap();
    here.upsert_category(&category("0101", false))
        .await
        .unwrap();
    assert_eq!(
        cache.posts_for_areas(&[code(G2)]).await.unwrap(),
        [post(G2, "p2")]
    );
    assert!(!cache.get_category(&retired).await.unwrap().active);
}

#[tokio::test]
async fn checks_the_counters_every_interval() {
    let (_dir, here, there) = two_processes().await;
    let cache = ReferenceCache::new(Arc::clone(&here), Duration::ZERO);
    assert!(cache.posts_for_areas(&[code(G2)]).await.unwrap().is_empty());
    there
        .upsert_roster(&[person("p2", "李四")], &[post(G2, "p2")])
        .await
        .unwrap();
    assert_eq!(
        cache.posts_for_areas(&[code(G2)]).await.unwrap(),
        [post(G2, "p2")]
    );
}

#[tokio::test]
async fn unknown_categories_are_not_found_and_not_kept() {
    let (_dir, here, there) = two_processes().await;
    let cache = ReferenceCache::new(Arc::clone(&here), NEVER);
    let new = CategoryCode::new("0199").unwrap();
    assert!(matches!(
        cache.get_category(&new).await,
        Err(StoreError::NotFound { .. })
    ));
    // Created by another process: found at once, since a miss was not kept.
    there
        .upsert_category(&category("0199", true))
        .await
        .unwrap();
    assert_eq!(cache.get_category(&new).await.unwrap().code, new);
}

#[tokio::test]
async fn load_posts_fills_the_cache_and_a_code_asked_twice_keeps_its_post() {
    let (_dir, here, there) = two_processes().await;
    let loaded = ReferenceCache::new(Arc::clone(&here), NEVER);
    loaded
        .load_posts(&[code(G1), code(G1), code(G2)])
        .await
        .unwrap();
    let asked = ReferenceCache::new(Arc::clone(&here), NEVER);
    let first = asked.posts_for_areas(&[code(G1), code(G1)]).await.unwrap();
    assert!(first.iter().all(|p| *p == post(G1, "p1")) && !first.is_empty());
    // Another process hands G1 to p2: both caches still answer what they read.
    there
        .upsert_roster(&[person("p2", "李四")], &[post(G1, "p2")])
        .await
        .unwrap();
    for cache in [&loaded, &asked] {
        assert_eq!(
            cache.posts_for_areas(&[code(G1), code(G2)]).await.unwrap(),
            [post(G1, "p1")],
            "read before the change, and G2 known to have no post"
        );
    }
}
