//! Areas ([`AreaStore`](wuzhang_store::AreaStore)): round trips with geometry and lineage,
//! listing and paging, the checks that write nothing, the change counter, loading for the
//! index, repairing geometry.

use std::collections::BTreeSet;

use wuzhang_domain::area::{Area, AreaLevel};
use wuzhang_store::{AreaQuery, Backend, PageRequest, StoreError, TicketQuery};

use crate::fixtures::*;
use crate::{S, invalid_field, seed_tree};

pub(crate) fn codes(areas: &[Area]) -> Vec<&str> {
    areas.iter().map(|a| a.code.as_str()).collect()
}

/// Every area `query` lists; their count is what `count_areas_capped` says.
async fn all_areas(store: &S, query: &AreaQuery) -> Vec<Area> {
    let items = store
        .list_areas(query, &PageRequest::first(1000))
        .await
        .unwrap()
        .items;
    let counted = store.count_areas_capped(query, 1000).await.unwrap();
    assert_eq!(counted, items.len() as u64, "{query:?}");
    items
}

pub(crate) async fn make_valid_repairs_or_declines(store: S) {
    // A bow-tie: one ring crossing itself at (1, 1).
    let bowtie = wkb_polygon(&[(0.0, 0.0), (2.0, 2.0), (2.0, 0.0), (0.0, 2.0), (0.0, 0.0)]);
    match store.backend() {
        Backend::Sqlite => assert_eq!(store.make_valid(&[bowtie]).await.unwrap(), None),
        Backend::Postgres => {
            let fixed = store
                .make_valid(&[bowtie.clone(), bowtie])
                .await
                .unwrap()
                .unwrap();
            assert_eq!(fixed.len(), 2);
            // A MultiPolygon (type 6) of the two triangles.
            assert_eq!(fixed[0][0], 1, "little endian");
            assert_eq!(u32::from_le_bytes(fixed[0][1..5].try_into().unwrap()), 6);
            assert_eq!(u32::from_le_bytes(fixed[0][5..9].try_into().unwrap()), 2);
            assert!(store.make_valid(&[]).await.unwrap().unwrap().is_empty());
        }
    }
}

pub(crate) async fn areas_round_trip_with_lineage(store: S) {
    assert_eq!(store.upsert_areas(&tree()).await.unwrap(), 1);
    for r in tree() {
        let got = store.get_area(&r.area.code).await.unwrap();
        let mut want = r.area.clone();
        if r.geometry_wkb.is_some() {
            assert!(got.bbox.is_some(), "bbox filled from the geometry");
            want.bbox = got.bbox;
        }
        assert_eq!(got, want);
    }
    let g1 = store.get_area(&code(G1)).await.unwrap();
    assert_eq!(g1.bbox, Some(bbox(125.30, 43.80, 125.31, 43.81)));
    assert_eq!(g1.community.as_deref(), Some("南湖社区"));

    // In one round trip, ordered by code, unknown codes left out.
    let some = store
        .get_areas(&[code(G1), code("nowhere"), code(SUB1), code(G1)])
        .await
        .unwrap();
    assert_eq!(codes(&some), [SUB1, G1]);
    assert!(store.get_areas(&[]).await.unwrap().is_empty());

    let chain = store.lineage(&code(U1)).await.unwrap();
    assert_eq!(codes(&chain), [U1, B1, G1, LN1, ST1, SUB1]);
    assert_eq!(chain[2], g1);
    assert_eq!(codes(&store.lineage(&code(SUB2)).await.unwrap()), [SUB2]);

    // The subtree: the area and what lies below it down to a level, by code.
    let all = store.subtree(&code(SUB1), AreaLevel::Unit).await.unwrap();
    assert_eq!(codes(&all), [SUB1, B1, G1, G2, LN1, ST1, U1]);
    assert_eq!(all.iter().find(|a| a.code.as_str() == G1), Some(&g1));
    let posts = store.subtree(&code(SUB1), AreaLevel::Grid).await.unwrap();
    assert_eq!(codes(&posts), [SUB1, G1, G2, LN1, ST1]);
    let lane = store
        .subtree(&code(LN1), AreaLevel::Building)
        .await
        .unwrap();
    assert_eq!(codes(&lane), [B1, G1, G2, LN1]);
    assert!(
        store
            .subtree(&code("nowhere"), AreaLevel::Unit)
            .await
            .unwrap()
            .is_empty()
    );

    let missing = code("nowhere");
    assert_err!(
        store.get_area(&missing).await,
        StoreError::NotFound { entity: "area", .. }
    );
    assert_err!(
        store.get_area_record(&missing).await,
        StoreError::NotFound { .. }
    );
    assert_err!(store.lineage(&missing).await, StoreError::NotFound { .. });
}

pub(crate) async fn area_geometry_round_trips(store: S) {
    seed_tree(&store).await;
    // Canonical little-endian MultiPolygon: identical bytes on both backends.
    let g1 = store.get_area_record(&code(G1)).await.unwrap();
    assert_eq!(
        g1.geometry_wkb,
        Some(rect_wkb(125.30, 43.80, 125.31, 43.81))
    );
    let sub = store.get_area_record(&code(SUB1)).await.unwrap();
    assert_eq!(sub.geometry_wkb, None);

    // A big-endian Polygon comes back as a MultiPolygon with the same points and a
    // bbox computed from it; an explicit bbox is kept as given.
    let poly = rect_polygon_wkb_be(125.5, 43.5, 125.75, 43.625);
    let given = bbox(125.0, 43.0, 126.0, 44.0);
    store
        .upsert_areas(&[
            record(
                area("g-poly", AreaLevel::Grid, Some(LN1)),
                Some(poly.clone()),
            ),
            record(
                Area {
                    bbox: Some(given),
                    ..area("g-boxed", AreaLevel::Grid, Some(LN1))
                },
                Some(rect_wkb(125.5, 43.5, 125.75, 43.625)),
            ),
        ])
        .await
        .unwrap();
    let got = store.get_area_record(&code("g-poly")).await.unwrap();
    let (kind, points) = decode_wkb(got.geometry_wkb.as_deref().unwrap());
    assert_eq!(kind, 6, "stored as a MultiPolygon");
    assert_eq!(points, decode_wkb(&poly).1);
    assert_eq!(got.area.bbox, Some(bbox(125.5, 43.5, 125.75, 43.625)));
    let boxed = store.get_area(&code("g-boxed")).await.unwrap();
    assert_eq!(boxed.bbox, Some(given));
}

pub(crate) async fn invalid_geometry_writes_nothing(store: S) {
    seed_tree(&store).await;
    let counter = store.area_change_counter().await.unwrap();
    let mut truncated = rect_wkb(0.0, 0.0, 1.0, 1.0);
    truncated.pop();
    let mut point = vec![1u8];
    point.extend_from_slice(&1u32.to_le_bytes());
    point.extend_from_slice(&1f64.to_le_bytes());
    point.extend_from_slice(&1f64.to_le_bytes());
    for bad in [truncated, point, vec![], b"not wkb at all".to_vec()] {
        let err = store
            .upsert_areas(&[
                record(area("g-ok", AreaLevel::Grid, Some(LN1)), None),
                record(area("g-bad", AreaLevel::Grid, Some(LN1)), Some(bad)),
            ])
            .await
            .unwrap_err();
        assert_eq!(invalid_field(&err), "geometry_wkb");
    }
    assert_err!(
        store.get_area(&code("g-ok")).await,
        StoreError::NotFound { .. }
    );
    assert_eq!(store.area_change_counter().await.unwrap(), counter);
}

pub(crate) async fn areas_list_by_parent_level_and_bbox(store: S) {
    seed_tree(&store).await;
    let by_parent = AreaQuery {
        parent_code: Some(code(LN1)),
        ..Default::default()
    };
    assert_eq!(codes(&all_areas(&store, &by_parent).await), [G1, G2]);
    let grids = AreaQuery {
        level: Some(AreaLevel::Grid),
        ..Default::default()
    };
    assert_eq!(codes(&all_areas(&store, &grids).await), [G1, G2, G3]);
    let subs = AreaQuery {
        level: Some(AreaLevel::Subdistrict),
        ..Default::default()
    };
    assert_eq!(codes(&all_areas(&store, &subs).await), [SUB1, SUB2]);
    let both = AreaQuery {
        parent_code: Some(code(LN2)),
        level: Some(AreaLevel::Grid),
        ..Default::default()
    };
    assert_eq!(codes(&all_areas(&store, &both).await), [G3]);
    let none = AreaQuery {
        parent_code: Some(code(U1)),
        ..Default::default()
    };
    assert!(all_areas(&store, &none).await.is_empty());

    let in_box = |b| AreaQuery {
        bbox: Some(b),
        ..Default::default()
    };
    // Inside G1 only.
    let q = in_box(bbox(125.301, 43.801, 125.302, 43.802));
    assert_eq!(codes(&all_areas(&store, &q).await), [G1]);
    // The shared edge of G1 and G2 touches both (bounds are inclusive).
    let q = in_box(bbox(125.31, 43.805, 125.31, 43.805));
    assert_eq!(codes(&all_areas(&store, &q).await), [G1, G2]);
    // Covering everything: areas without a bbox are not in any box.
    let q = in_box(bbox(120.0, 40.0, 130.0, 50.0));
    assert_eq!(codes(&all_areas(&store, &q).await), [G1, G2, G3]);
    let q = AreaQuery {
        level: Some(AreaLevel::Grid),
        ..in_box(bbox(125.35, 43.85, 125.45, 43.95))
    };
    assert_eq!(codes(&all_areas(&store, &q).await), [G3]);
    assert!(
        all_areas(&store, &in_box(bbox(0.0, 0.0, 1.0, 1.0)))
            .await
            .is_empty()
    );

    let err = store
        .list_areas(
            &in_box(bbox(126.0, 43.0, 125.0, 44.0)),
            &PageRequest::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(invalid_field(&err), "bbox");
    let err = store
        .count_areas_capped(&in_box(bbox(126.0, 43.0, 125.0, 44.0)), 10)
        .await
        .unwrap_err();
    assert_eq!(invalid_field(&err), "bbox");
}

pub(crate) async fn areas_page_to_the_end(store: S) {
    seed_tree(&store).await;
    let extra: Vec<_> = (0..25)
        .map(|i| {
            record(
                area(&format!("220102001-gp{i:02}"), AreaLevel::Grid, Some(LN1)),
                None,
            )
        })
        .collect();
    store.upsert_areas(&extra).await.unwrap();
    let query = AreaQuery {
        level: Some(AreaLevel::Grid),
        ..Default::default()
    };
    let mut seen = Vec::new();
    let mut page = PageRequest::first(7);
    let mut pages = 0;
    loop {
        let got = store.list_areas(&query, &page).await.unwrap();
        pages += 1;
        assert!(got.items.len() <= 7);
        seen.extend(got.items.into_iter().map(|a| a.code.as_str().to_owned()));
        match got.next_token {
            Some(t) => page.token = Some(t),
            None => break,
        }
    }
    assert_eq!(seen.len(), 28);
    assert_eq!(pages, 4, "28 grids in pages of 7: no empty page at the end");
    let unique: BTreeSet<_> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "no duplicates");
    assert_eq!(
        seen,
        unique.into_iter().collect::<Vec<_>>(),
        "ordered by code"
    );

    // Size 0 is the default page size (50): everything, no token.
    let all = store
        .list_areas(&query, &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(all.items.len(), 28);
    assert_eq!(all.next_token, None);

    // Counted whatever the page, up to one more than the cap and no further.
    assert_eq!(store.count_areas_capped(&query, 28).await.unwrap(), 28);
    assert_eq!(store.count_areas_capped(&query, 10).await.unwrap(), 11);
    assert_eq!(store.count_areas_capped(&query, 0).await.unwrap(), 1);
}

pub(crate) async fn bad_page_tokens_are_invalid(store: S) {
    seed_tree(&store).await;
    store.upsert_category(&category("0101")).await.unwrap();
    store.upsert_category(&category("0102")).await.unwrap();
    let cat_token = store
        .list_categories(&PageRequest::first(1))
        .await
        .unwrap()
        .next_token
        .expect("a second page");
    let area_token = store
        .list_areas(&AreaQuery::default(), &PageRequest::first(1))
        .await
        .unwrap()
        .next_token
        .expect("a second page");
    let bad = |t: &str| PageRequest {
        size: 10,
        token: Some(t.to_owned()),
    };
    for token in ["garbage!", "e30", "bm90IGpzb24", cat_token.as_str()] {
        let err = store
            .list_areas(&AreaQuery::default(), &bad(token))
            .await
            .unwrap_err();
        assert_eq!(invalid_field(&err), "page_token", "{token}");
    }
    let err = store.list_categories(&bad(&area_token)).await.unwrap_err();
    assert_eq!(invalid_field(&err), "page_token");
    let err = store
        .list_tickets(&TicketQuery::default(), &bad(&area_token))
        .await
        .unwrap_err();
    assert_eq!(invalid_field(&err), "page_token");
}

pub(crate) async fn missing_parent_writes_nothing(store: S) {
    let err = store
        .upsert_areas(&[
            record(area(SUB1, AreaLevel::Subdistrict, None), None),
            record(area(G1, AreaLevel::Grid, Some("lane-nowhere")), None),
        ])
        .await
        .unwrap_err();
    assert_eq!(invalid_field(&err), "parent_code");
    assert_err!(
        store.get_area(&code(SUB1)).await,
        StoreError::NotFound { .. }
    );
    assert_eq!(store.area_change_counter().await.unwrap(), 0);

    // A parent of the wrong level, stored or in the batch, is refused as well.
    seed_tree(&store).await;
    let err = store
        .upsert_areas(&[record(area("g-x", AreaLevel::Grid, Some(ST1)), None)])
        .await
        .unwrap_err();
    assert_eq!(invalid_field(&err), "parent_code");
    let err = store
        .upsert_areas(&[
            record(area("s-x", AreaLevel::Street, Some(SUB1)), None),
            record(area("g-y", AreaLevel::Grid, Some("s-x")), None),
        ])
        .await
        .unwrap_err();
    assert_eq!(invalid_field(&err), "parent_code");
    assert_err!(
        store.get_area(&code("s-x")).await,
        StoreError::NotFound { .. }
    );
    // A non-root level without a parent, and a duplicate code.
    let err = store
        .upsert_areas(&[record(area("g-z", AreaLevel::Grid, None), None)])
        .await
        .unwrap_err();
    assert_eq!(invalid_field(&err), "parent_code");
    let err = store
        .upsert_areas(&[
            record(area("d-1", AreaLevel::District, None), None),
            record(area("d-1", AreaLevel::District, None), None),
        ])
        .await
        .unwrap_err();
    assert_eq!(invalid_field(&err), "code");
    assert_eq!(store.area_change_counter().await.unwrap(), 1);
}

pub(crate) async fn parents_may_come_later_in_the_batch(store: S) {
    let mut reversed = tree();
    reversed.reverse();
    store.upsert_areas(&reversed).await.unwrap();
    assert_eq!(codes(&store.lineage(&code(U1)).await.unwrap()).len(), 6);
    // A later batch may hang areas under stored parents.
    store
        .upsert_areas(&[
            record(area("220102001-u2", AreaLevel::Unit, Some(B1)), None),
            record(area("220102001-b2", AreaLevel::Building, Some(G2)), None),
            record(
                area("220102001-u3", AreaLevel::Unit, Some("220102001-b2")),
                None,
            ),
        ])
        .await
        .unwrap();
    let chain = store.lineage(&code("220102001-u3")).await.unwrap();
    assert_eq!(
        codes(&chain),
        ["220102001-u3", "220102001-b2", G2, LN1, ST1, SUB1]
    );
}

pub(crate) async fn area_change_counter_increases(store: S) {
    assert_eq!(store.area_change_counter().await.unwrap(), 0);
    assert_eq!(store.upsert_areas(&tree()).await.unwrap(), 1);
    let renamed = record(
        Area {
            name: "新名字".into(),
            ..area(SUB1, AreaLevel::Subdistrict, None)
        },
        None,
    );
    assert_eq!(store.upsert_areas(&[renamed]).await.unwrap(), 2);
    assert_eq!(store.area_change_counter().await.unwrap(), 2);
    assert_eq!(store.get_area(&code(SUB1)).await.unwrap().name, "新名字");
    // Replacing drops the old geometry and bbox too.
    store
        .upsert_areas(&[record(area(G2, AreaLevel::Grid, Some(LN1)), None)])
        .await
        .unwrap();
    let g2 = store.get_area_record(&code(G2)).await.unwrap();
    assert_eq!((g2.area.bbox, g2.geometry_wkb), (None, None));
    assert_eq!(store.area_change_counter().await.unwrap(), 3);
}

pub(crate) async fn load_area_records_by_level(store: S) {
    seed_tree(&store).await;
    let grids = store.load_area_records(&[AreaLevel::Grid]).await.unwrap();
    assert_eq!(
        grids
            .iter()
            .map(|r| r.area.code.as_str())
            .collect::<Vec<_>>(),
        [G1, G2, G3]
    );
    assert!(
        grids
            .iter()
            .all(|r| r.geometry_wkb.is_some() && r.area.bbox.is_some())
    );
    assert_eq!(
        grids[2].geometry_wkb,
        Some(rect_wkb(125.40, 43.90, 125.41, 43.91))
    );
    let some = store
        .load_area_records(&[AreaLevel::Unit, AreaLevel::Subdistrict])
        .await
        .unwrap();
    assert_eq!(
        some.iter()
            .map(|r| r.area.code.as_str())
            .collect::<Vec<_>>(),
        [SUB1, U1, SUB2]
    );
    assert_eq!(
        store.load_area_records(&[]).await.unwrap().len(),
        tree().len()
    );
    assert!(
        store
            .load_area_records(&[AreaLevel::District])
            .await
            .unwrap()
            .is_empty()
    );
}

pub(crate) async fn load_areas_without_geometry(store: S) {
    seed_tree(&store).await;
    let all = store.load_areas(&[]).await.unwrap();
    let records = store.load_area_records(&[]).await.unwrap();
    assert_eq!(
        all,
        records.into_iter().map(|r| r.area).collect::<Vec<_>>(),
        "the same areas, in code order"
    );
    assert_eq!(all.len(), tree().len());
    let grids = store.load_areas(&[AreaLevel::Grid]).await.unwrap();
    assert_eq!(
        grids.iter().map(|a| a.code.as_str()).collect::<Vec<_>>(),
        [G1, G2, G3]
    );
    assert!(grids.iter().all(|a| a.bbox.is_some()));
    assert!(
        store
            .load_areas(&[AreaLevel::District])
            .await
            .unwrap()
            .is_empty()
    );
}
