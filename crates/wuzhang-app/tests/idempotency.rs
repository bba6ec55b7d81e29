//! `once` with `Recording::WithTheEffectOptimistic`: runs first, and a recorded answer
//! still always wins.

use std::cell::Cell;
use time::macros::datetime;
use wuzhang_app::ApiError;
use wuzhang_app::idempotency::{Key, Recording, once};
use wuzhang_store::IdempotencyRecord;
use wuzhang_store::prelude::*;
use wuzhang_store::{SqliteStore, Store};

/// What the store answers a write whose request id another request took first.
fn taken_key() -> ApiError {
    ApiError::AlreadyExists {
        entity: IdempotencyRecord::ENTITY,
        key: "x".into(),
    }
}

fn key(hash: u8) -> Key {
    Key {
        scope: "resident:r1/SubmitIncident".into(),
        request_id: "req-1".into(),
        request_hash: vec![hash],
    }
}

/// A store holding the answer `"first"` under `key(1)`.
async fn answered() -> SqliteStore {
    let store = SqliteStore::in_memory().await.unwrap();
    store.migrate().await.unwrap();
    let record = key(1).record(&"first".to_owned(), datetime!(2026-01-01 0:00 UTC));
    store.put_idempotency(&record).await.unwrap();
    store
}

#[tokio::test]
async fn a_first_request_runs_and_answers() {
    let store = SqliteStore::in_memory().await.unwrap();
    store.migrate().await.unwrap();
    let ran = Cell::new(0);
    let answer = once(
        &store,
        &key(1),
        Recording::WithTheEffectOptimistic,
        || async {
            ran.set(ran.get() + 1);
            Ok("mine".to_owned())
        },
    )
    .await
    .unwrap();
    assert_eq!((answer.as_str(), ran.get()), ("mine", 1));
}

#[tokio::test]
async fn a_taken_key_replays_the_first_answer_or_refuses_another_payload() {
    let store = answered().await;
    let taken = || async { Err::<String, _>(taken_key()) };
    let answer = once(&store, &key(1), Recording::WithTheEffectOptimistic, taken)
        .await
        .unwrap();
    assert_eq!(answer, "first");
    let err = once(&store, &key(2), Recording::WithTheEffectOptimistic, taken)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ApiError::FailedPrecondition(m) if m.contains("req-1")),
        "{err}"
    );
}

#[tokio::test]
async fn a_retry_that_fails_early_still_gets_the_first_answer() {
    let store = answered().await;
    let answer = once(
        &store,
        &key(1),
        Recording::WithTheEffectOptimistic,
        || async { Err::<String, _>(ApiError::FailedPrecondition("category retired".into())) },
    )
    .await
    .unwrap();
    assert_eq!(answer, "first");
}

#[tokio::test]
async fn without_a_record_errors_are_the_requests_own() {
    let store = SqliteStore::in_memory().await.unwrap();
    store.migrate().await.unwrap();
    let err = once(
        &store,
        &key(1),
        Recording::WithTheEffectOptimistic,
        || async { Err::<String, _>(ApiError::FailedPrecondition("category retired".into())) },
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ApiError::FailedPrecondition(_)), "{err}");
    let err = once(
        &store,
        &key(1),
        Recording::WithTheEffectOptimistic,
        || async { Err::<String, _>(taken_key()) },
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ApiError::Aborted(_)), "{err}");
}
