//! The roster ([`RosterStore`](wuzhang_store::RosterStore)): persons and posts.

use time::Duration;
use wuzhang_domain::chief::{ChiefLevel, LeavePeriod, Person, Post};
use wuzhang_store::StoreError;

use crate::fixtures::*;
use crate::{S, invalid_field, seed_tree};

pub(crate) fn person(id: &str, phone: Option<&str>) -> Person {
    Person {
        id: pid(id),
        name: format!("姓名 {id}"),
        phone: phone.map(str::to_owned),
    }
}

pub(crate) fn post(
    area: &str,
    level: ChiefLevel,
    holder: Option<&str>,
    deputy: Option<&str>,
) -> Post {
    Post {
        area_code: code(area),
        level,
        holder: holder.map(pid),
        deputy: deputy.map(pid),
        leave: vec![],
    }
}

pub(crate) async fn roster_round_trip(store: S) {
    seed_tree(&store).await;
    let persons = [person("p1", Some("13800000001")), person("p2", None)];
    let mut grid_post = post(G1, ChiefLevel::Grid, Some("p1"), Some("p2"));
    grid_post.leave = vec![LeavePeriod {
        from: T0,
        until: T0 + Duration::days(7),
    }];
    let posts = [
        grid_post.clone(),
        post(ST1, ChiefLevel::Street, Some("p2"), None),
        post(SUB1, ChiefLevel::CommandCenter, None, None),
    ];
    store.upsert_roster(&persons, &posts).await.unwrap();

    assert_eq!(store.get_person(&pid("p1")).await.unwrap(), persons[0]);
    assert_err!(
        store.get_person(&pid("p9")).await,
        StoreError::NotFound {
            entity: "person",
            ..
        }
    );
    let mut got = store
        .get_persons(&[pid("p2"), pid("p9"), pid("p1")])
        .await
        .unwrap();
    got.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(got, persons);
    assert!(store.get_persons(&[]).await.unwrap().is_empty());

    let mut got = store
        .posts_for_areas(&[code(G1), code(LN1), code(ST1)])
        .await
        .unwrap();
    got.sort_by(|a, b| a.area_code.cmp(&b.area_code));
    assert_eq!(got, [grid_post.clone(), posts[1].clone()]);
    assert_eq!(
        store.posts_of_person(&pid("p2")).await.unwrap(),
        [grid_post, posts[1].clone()]
    );
    assert!(store.posts_of_person(&pid("p9")).await.unwrap().is_empty());

    // Upserting replaces persons and posts by key; posts may name stored persons.
    let changed = person("p1", Some("13900000009"));
    let vacant = post(G1, ChiefLevel::Grid, None, Some("p1"));
    store
        .upsert_roster(
            std::slice::from_ref(&changed),
            std::slice::from_ref(&vacant),
        )
        .await
        .unwrap();
    assert_eq!(store.get_person(&pid("p1")).await.unwrap(), changed);
    assert_eq!(
        store.posts_for_areas(&[code(G1)]).await.unwrap(),
        std::slice::from_ref(&vacant)
    );
    assert_eq!(store.posts_of_person(&pid("p1")).await.unwrap(), [vacant]);
    store.upsert_roster(&[], &[]).await.unwrap();
}

pub(crate) async fn invalid_roster_writes_nothing(store: S) {
    seed_tree(&store).await;
    let newcomer = person("p-new", None);
    let cases = [
        (post(ST1, ChiefLevel::Grid, Some("p-new"), None), "level"),
        (post(U1, ChiefLevel::Street, None, None), "level"),
        (
            post("no-such-area", ChiefLevel::Grid, None, None),
            "area_code",
        ),
        (post(G1, ChiefLevel::Grid, Some("p-ghost"), None), "holder"),
        (
            post(G1, ChiefLevel::Grid, Some("p-new"), Some("p-ghost")),
            "deputy",
        ),
    ];
    for (bad, field) in cases {
        let good = post(G2, ChiefLevel::Grid, Some("p-new"), None);
        let err = store
            .upsert_roster(std::slice::from_ref(&newcomer), &[good, bad])
            .await
            .unwrap_err();
        assert_eq!(invalid_field(&err), field);
        assert_err!(
            store.get_person(&pid("p-new")).await,
            StoreError::NotFound { .. }
        );
        assert!(store.posts_for_areas(&[code(G2)]).await.unwrap().is_empty());
    }
    let mut on_leave = post(G1, ChiefLevel::Grid, None, None);
    on_leave.leave = vec![LeavePeriod {
        from: T0,
        until: T0,
    }];
    let err = store.upsert_roster(&[], &[on_leave]).await.unwrap_err();
    assert_eq!(invalid_field(&err), "leave");
}
