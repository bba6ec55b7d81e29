//! The ticket writers' own connections (outside the store's pool): a batch abandoned
//! half-way or a connection the database dropped costs no ticket, and the writers come
//! back on fresh connections.

use sqlx::Connection;

use super::fixtures::*;
use super::*;

/// The writers' `application_name` after the pool's, as the store sets it.
const WRITER_NAME: &str = "ticket-writer";

async fn writer_backends(conn: &mut sqlx::PgConnection, name: &str) -> Vec<i32> {
    sqlx::query_scalar("SELECT pid FROM pg_stat_activity WHERE application_name = $1")
        .bind(name)
        .fetch_all(&mut *conn)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_survive_abandoned_batches_and_dropped_connections() {
    let Some(harness) = harness::postgres().await else {
        return;
    };
    let store = Arc::clone(&harness.store);
    let name = format!("{} {WRITER_NAME}", harness.pg_schema().unwrap());
    let mut admin = harness.pg_connection().await.unwrap();

    let first = store
        .create_ticket(&submitted(SUB1, G1, "r1", T0))
        .await
        .unwrap();
    let pids = writer_backends(&mut admin, &name).await;
    assert!(
        !pids.is_empty(),
        "the writers have connections named {name}"
    );

    // The database drops the writers' connections (a restart, an admin's kill).
    for pid in &pids {
        let killed: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
            .bind(pid)
            .fetch_one(&mut admin)
            .await
            .unwrap();
        assert!(killed);
    }
    // The next ticket is written all the same, and writers connect again.
    let second = store
        .create_ticket(&submitted(SUB1, G1, "r2", T0))
        .await
        .unwrap();
    let third = store
        .create_ticket(&submitted(SUB1, G1, "r3", T0))
        .await
        .unwrap();
    let again = writer_backends(&mut admin, &name).await;
    assert!(!again.is_empty(), "the writers reconnected");
    assert!(
        again.iter().all(|p| !pids.contains(p)),
        "on new connections"
    );

    // Submissions whose callers go away half-way: each is written or not, whole.
    let mut abandoned = Vec::new();
    for i in 0..20 {
        let new = submitted(SUB1, G1, &format!("gone{i}"), T0);
        let (id, events) = (new.ticket.id, new.events.len());
        let task = tokio::spawn({
            let store = Arc::clone(&store);
            async move { store.create_ticket(&new).await }
        });
        // Cancel at different points of the write.
        tokio::time::sleep(std::time::Duration::from_micros(100 * i)).await;
        task.abort();
        abandoned.push((id, events));
    }
    // Nothing is left stuck: later tickets go through, and an abandoned one is
    // either wholly there (ticket and its events) or not at all.
    for i in 0..5 {
        store
            .create_ticket(&submitted(SUB1, G1, &format!("after{i}"), T0))
            .await
            .unwrap();
    }
    for (id, events) in abandoned {
        match store.get_ticket(&id).await {
            Ok(t) => {
                let stored = store.list_events(&t.id, 0, 100).await.unwrap();
                assert_eq!(stored.len(), events, "all its events, or nothing");
            }
            Err(wuzhang_store::StoreError::NotFound { .. }) => {
                assert!(store.list_events(&id, 0, 100).await.unwrap().is_empty());
            }
            Err(e) => panic!("{e}"),
        }
    }
    for t in [first, second, third] {
        assert_eq!(store.get_ticket(&t.id).await.unwrap().id, t.id);
    }

    admin.close().await.ok();
    drop(store);
    harness.finish().await;
}
