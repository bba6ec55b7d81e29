//! Categories and calendars ([`CategoryStore`](wuzhang_store::CategoryStore)).

use time::Duration;
use wuzhang_domain::category::CategoryCode;
use wuzhang_store::{PageRequest, StoreError};

use crate::fixtures::*;
use crate::{S, invalid_field};

pub(crate) async fn categories_round_trip(store: S) {
    let mut cats: Vec<_> = ["0103", "0101", "0201", "0102", "01"]
        .map(category)
        .to_vec();
    cats[4].parent_code = None;
    cats[2].urgent = true;
    cats[2].active = false;
    cats[3].reopen_on_not_solved = true;
    for c in &cats {
        store.upsert_category(c).await.unwrap();
    }
    cats.sort_by(|a, b| a.code.cmp(&b.code));
    for c in &cats {
        assert_eq!(&store.get_category(&c.code).await.unwrap(), c);
    }
    let mut listed = Vec::new();
    let mut page = PageRequest::first(2);
    loop {
        let got = store.list_categories(&page).await.unwrap();
        listed.extend(got.items);
        match got.next_token {
            Some(t) => page.token = Some(t),
            None => break,
        }
    }
    assert_eq!(listed, cats);
    let mut replaced = category("0101");
    replaced.name = "换了名字".into();
    replaced.accept_within = Duration::minutes(30);
    replaced.reopen_on_not_solved = true;
    store.upsert_category(&replaced).await.unwrap();
    assert_eq!(store.get_category(&replaced.code).await.unwrap(), replaced);
    assert_err!(
        store
            .get_category(&CategoryCode::new("9999").unwrap())
            .await,
        StoreError::NotFound {
            entity: "category",
            ..
        }
    );
}

pub(crate) async fn invalid_categories_are_refused(store: S) {
    let mut c = category("0101");
    c.accept_within = Duration::milliseconds(1500);
    assert_eq!(
        invalid_field(&store.upsert_category(&c).await.unwrap_err()),
        "accept_within"
    );
    let mut c = category("0101");
    c.name = String::new();
    assert_eq!(
        invalid_field(&store.upsert_category(&c).await.unwrap_err()),
        "name"
    );
    assert!(
        store
            .list_categories(&PageRequest::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

pub(crate) async fn calendar_years_round_trip(store: S) {
    let year = |code: &str, y: i32, doc: &str| wuzhang_store::StoredCalendarYear {
        code: code.into(),
        year: y,
        document: doc.into(),
        updated_at: T0,
    };
    store
        .upsert_calendar_year(&year("cn", 2027, "{\"a\":1}"))
        .await
        .unwrap();
    store
        .upsert_calendar_year(&year("cn", 2026, "{}"))
        .await
        .unwrap();
    store
        .upsert_calendar_year(&year("bj", 2026, "{}"))
        .await
        .unwrap();
    store
        .upsert_calendar_year(&year("cn", 2027, "{\"a\":2}"))
        .await
        .unwrap();
    let all = store.list_calendar_years().await.unwrap();
    let keys: Vec<(&str, i32)> = all.iter().map(|y| (y.code.as_str(), y.year)).collect();
    assert_eq!(keys, [("bj", 2026), ("cn", 2026), ("cn", 2027)]);
    assert_eq!(all[2].document, "{\"a\":2}");
    assert_eq!(all[2].updated_at, T0);
}
