//! The store as a whole: migrations and the reference change counters (over the roster
//! and categories).

use wuzhang_domain::chief::ChiefLevel;

use crate::fixtures::*;
use crate::roster::{person, post};
use crate::{S, seed_tree};

pub(crate) async fn migrate_is_idempotent(store: S) {
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    store.ping().await.unwrap();
    assert_eq!(store.area_change_counter().await.unwrap(), 0);
}

pub(crate) async fn reference_counters_follow_roster_and_categories(store: S) {
    seed_tree(&store).await;
    let start = store.reference_change_counters().await.unwrap();
    let here = store.reference_writes_here();
    let counters = async || store.reference_change_counters().await.unwrap();

    store
        .upsert_roster(
            &[person("p1", None)],
            &[post(G1, ChiefLevel::Grid, Some("p1"), None)],
        )
        .await
        .unwrap();
    let after_roster = counters().await;
    assert!(after_roster.roster > start.roster, "{after_roster:?}");
    assert_eq!(after_roster.categories, start.categories);
    assert_eq!(store.reference_writes_here(), here + 1);

    // Refused: nothing written, nothing bumped.
    let bad = post(G1, ChiefLevel::Street, Some("p1"), None);
    store.upsert_roster(&[], &[bad]).await.unwrap_err();
    assert_eq!(counters().await, after_roster);
    let mut c = category("0101");
    c.name = String::new();
    store.upsert_category(&c).await.unwrap_err();
    assert_eq!(counters().await, after_roster);
    assert_eq!(store.reference_writes_here(), here + 1);

    store.upsert_category(&category("0101")).await.unwrap();
    let after_category = counters().await;
    assert!(after_category.categories > after_roster.categories);
    assert_eq!(after_category.roster, after_roster.roster);
    assert_eq!(store.reference_writes_here(), here + 2);
    // Areas have their own counter.
    store.upsert_areas(&tree()).await.unwrap();
    assert_eq!(counters().await, after_category);
}
