//! Idempotency records ([`IdempotencyStore`](wuzhang_store::IdempotencyStore)), alone and
//! with a new ticket.

use time::Duration;
use wuzhang_domain::clock::truncate_to_micros;
use wuzhang_store::{PageRequest, StoreError, TicketQuery};

use crate::S;
use crate::fixtures::*;

pub(crate) async fn duplicate_idempotency_key_writes_nothing(store: S) {
    let mut first = submitted(SUB1, G1, "r1", T0);
    first.idempotency = Some(idempotency("resident-r1/SubmitIncident", "req-1", T0));
    store.create_ticket(&first).await.unwrap();
    let mut second = assigned(SUB1, G1, "r1", T0 + Duration::SECOND, grid_chief(G1));
    second.idempotency = Some(idempotency("resident-r1/SubmitIncident", "req-1", T0));
    assert_err!(
        store.create_ticket(&second).await,
        StoreError::AlreadyExists {
            entity: "idempotency",
            ..
        }
    );
    assert_err!(
        store.get_ticket(&second.ticket.id).await,
        StoreError::NotFound { .. }
    );
    assert!(
        store
            .list_events(&second.ticket.id, 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .list_timers(&second.ticket.id)
            .await
            .unwrap()
            .is_empty()
    );
    let mine = TicketQuery {
        reporter_id: Some("r1".into()),
        ..Default::default()
    };
    let listed = store
        .list_tickets(&mine, &PageRequest::default())
        .await
        .unwrap()
        .items;
    assert_eq!(listed, [first.ticket.clone()]);
    let record = store
        .get_idempotency("resident-r1/SubmitIncident", "req-1")
        .await
        .unwrap()
        .expect("the first request's record");
    assert_eq!(record, first.idempotency.clone().unwrap());
    // The same request id from another caller is another request.
    second.idempotency = Some(idempotency("resident-r2/SubmitIncident", "req-1", T0));
    store.create_ticket(&second).await.unwrap();
}

pub(crate) async fn idempotency_records(store: S) {
    assert_eq!(store.get_idempotency("s", "a").await.unwrap(), None);
    let a = idempotency("s", "a", T0 + Duration::nanoseconds(999));
    store.put_idempotency(&a).await.unwrap();
    let stored = store.get_idempotency("s", "a").await.unwrap().unwrap();
    assert_eq!(
        stored,
        wuzhang_store::IdempotencyRecord {
            created_at: truncate_to_micros(a.created_at),
            ..a.clone()
        }
    );
    assert_err!(
        store.put_idempotency(&idempotency("s", "a", T0)).await,
        StoreError::AlreadyExists {
            entity: "idempotency",
            ..
        }
    );
    store
        .put_idempotency(&idempotency("other-scope", "a", T0))
        .await
        .unwrap();
    store
        .put_idempotency(&idempotency("s", "b", T0 + Duration::hours(1)))
        .await
        .unwrap();
    store
        .put_idempotency(&idempotency("s", "c", T0 + Duration::hours(2)))
        .await
        .unwrap();
    assert_eq!(
        store
            .purge_idempotency(T0 + Duration::hours(1))
            .await
            .unwrap(),
        2
    );
    assert_eq!(store.get_idempotency("s", "a").await.unwrap(), None);
    assert!(
        store.get_idempotency("s", "b").await.unwrap().is_some(),
        "created exactly at `before` stays"
    );
    assert_eq!(store.purge_idempotency(T0).await.unwrap(), 0);
    assert_eq!(
        store
            .purge_idempotency(T0 + Duration::days(1))
            .await
            .unwrap(),
        2
    );
}
