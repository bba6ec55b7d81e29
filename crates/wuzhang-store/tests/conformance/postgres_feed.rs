//! Postgres only: event writers commit in any order, and the feed must not run ahead of
//! one still in flight (SQLite has one writer at a time, so its log is always final).

use sqlx::{Connection, Executor};

use super::fixtures::*;
use super::*;

/// The event log lock's key, as the store takes it. If the two ever differ, the
/// feed stops waiting for the writer below and this test fails.
const EVENT_LOG_LOCK: i64 = 0x7775_7a68_616e_6701;

/// Begins a transaction on `conn` that appends one event the way the store does
/// (lock, then insert) and leaves it uncommitted: a copy of the event at `cursor`,
/// numbered `seq` in its ticket. Returns the new event's cursor.
async fn half_written_event(conn: &mut sqlx::PgConnection, cursor: i64, seq: i64) -> i64 {
    conn.execute("BEGIN").await.unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock_shared($1)")
        .bind(EVENT_LOG_LOCK)
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::query_scalar(
        "INSERT INTO ticket_events (subdistrict_code, ticket_id, seq, kind, actor, \
           from_state, to_state, level, assignee_person_id, note, at) \
         SELECT subdistrict_code, ticket_id, $2, kind, actor, from_state, \
           to_state, level, assignee_person_id, note, at \
         FROM ticket_events WHERE cursor = $1 RETURNING cursor",
    )
    .bind(cursor)
    .bind(seq)
    .fetch_one(&mut *conn)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feed_waits_for_writers_in_flight() {
    let Some(harness) = harness::postgres().await else {
        return;
    };
    let store = Arc::clone(&harness.store);
    let mut writer = harness.pg_connection().await.unwrap();

    store
        .create_ticket(&submitted(SUB1, G1, "r1", T0))
        .await
        .unwrap();
    let start = store.events_since(&[], 0, 100).await.unwrap();
    let c0 = start.last().unwrap().cursor;
    assert_eq!(store.event_cursor_head().await.unwrap(), c0);

    // A writer has drawn c1 and not committed; a later ticket commits after it.
    let c1 = half_written_event(&mut writer, c0, 1001).await;
    store
        .create_ticket(&submitted(SUB1, G1, "r2", T0))
        .await
        .unwrap();
    assert!(
        store.events_since(&[], c0, 100).await.unwrap().is_empty(),
        "the feed passed a cursor that may still be committed below it"
    );
    // A feed starting now waits for the writer, rather than start below what it drew.
    let head = tokio::spawn({
        let store = Arc::clone(&store);
        async move { store.event_cursor_head().await.unwrap() }
    });
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert!(!head.is_finished(), "the head did not wait for the writer");

    // Once it commits, both come, in cursor order.
    writer.execute("COMMIT").await.unwrap();
    let head = head.await.unwrap();
    let after = store.events_since(&[], c0, 100).await.unwrap();
    assert_eq!(after.first().map(|e| e.cursor), Some(c1));
    assert!(after.len() >= 2, "the later ticket's events follow");
    assert!(after.windows(2).all(|w| w[0].cursor < w[1].cursor));
    let c2 = after.last().unwrap().cursor;
    assert_eq!(head, c2, "the head is the end of the log once settled");

    // A writer that rolls back leaves a gap the feed steps over once it is gone.
    let gap = half_written_event(&mut writer, c0, 1002).await;
    store
        .create_ticket(&submitted(SUB1, G1, "r3", T0))
        .await
        .unwrap();
    assert!(store.events_since(&[], c2, 100).await.unwrap().is_empty());
    writer.execute("ROLLBACK").await.unwrap();
    let after = store.events_since(&[], c2, 100).await.unwrap();
    assert!(!after.is_empty());
    assert!(after.iter().all(|e| e.cursor > gap));
    assert!(store.event_cursor_head().await.unwrap() >= after.last().unwrap().cursor);

    writer.close().await.ok();
    drop(store);
    harness.finish().await;
}
