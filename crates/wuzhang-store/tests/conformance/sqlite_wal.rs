//! SQLite only: the store checkpoints its WAL off the writers' path. SQLite starts a WAL
//! over only when a write begins with all of it copied back, which a copy running beside
//! a writer that never pauses does not reach by itself; the store finishes such a copy on
//! the writers' connection. Without that the WAL grows with every write (1.1 GB in 8 s
//! measured); here it must stay far below what the writes add up to.
//!
//! The checkpoints are the store's own (`SqliteStore::checkpoint`, what its background
//! task runs on a timer), called here after every [`CHECKPOINT_AFTER`] tickets written
//! while the writers go on, rather than on the timer: what is written between two
//! checkpoints then depends on the count, not on how fast this machine writes.

use std::sync::Arc;

use sqlx::sqlite::SqliteConnectOptions;
use time::Duration;
use tokio::sync::mpsc;
use wuzhang_store::prelude::*;
use wuzhang_store::{SqliteStore, Store};

use super::fixtures::*;

const WRITERS: i64 = 4;
const EACH: i64 = 1_500;
/// Tickets written between two checkpoints: a twentieth of the whole.
const CHECKPOINT_AFTER: i64 = 300;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_starts_over_under_writes_that_never_pause() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wal.db");
    let options = SqliteConnectOptions::new().filename(&path);
    let store = Arc::new(
        SqliteStore::open_with_checkpoints(options, None)
            .await
            .unwrap(),
    );
    store.migrate().await.unwrap();
    let wal = dir.path().join("wal.db-wal");

    // Each writer says when a ticket is in; the channel closes when all are done.
    let (written, mut progress) = mpsc::unbounded_channel();
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let (store, written) = (Arc::clone(&store), written.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..EACH {
                let at = T0 + Duration::milliseconds(w * EACH + i);
                let new = assigned(SUB1, G1, &format!("w{w}"), at, grid_chief(G1));
                store.create_ticket(&new).await.unwrap();
                written.send(()).unwrap();
            }
        }));
    }
    drop(written);
    // Checkpoints while the writers write: one each time another CHECKPOINT_AFTER
    // tickets are in, none after the last.
    let (mut count, mut checkpoints) = (0, 0);
    while progress.recv().await.is_some() {
        count += 1;
        if count % CHECKPOINT_AFTER == 0 && count < WRITERS * EACH {
            store.checkpoint().await.unwrap();
            checkpoints += 1;
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(checkpoints, WRITERS * EACH / CHECKPOINT_AFTER - 1);
    let database: u64 = sqlx::query_scalar::<_, i64>(
        "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
    )
    .fetch_one(store.pool())
    .await
    .unwrap()
    .try_into()
    .unwrap();
    let wal_size = std::fs::metadata(&wal).unwrap().len();
    // The WAL holds whole pages, one copy per transaction that touched them, so it
    // outgrows the database it describes between two restarts; that is bounded by
    // what is written between two checkpoints. Measured in a debug build here: 32 MB
    // for a 9.6 MB database, and 583 MB when the copy is never finished on the
    // writers' connection.
    assert!(
        wal_size < 8 * database,
        "the WAL ({wal_size} bytes) grew past 8 times the database ({database} bytes)"
    );
}

/// The schedule is wired: with checkpoints every millisecond and nobody calling
/// `checkpoint`, what was written reaches the database file (the writers' connection
/// never checkpoints by itself, so only the background task can have copied it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_background_checkpoint_copies_the_wal_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("timed.db");
    let options = SqliteConnectOptions::new().filename(&path);
    let every = std::time::Duration::from_millis(1);
    let store = SqliteStore::open_with_checkpoints(options, Some(every))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let file = || std::fs::metadata(&path).unwrap().len();
    let before = file();
    for i in 0..200 {
        let at = T0 + Duration::milliseconds(i);
        let new = assigned(SUB1, G1, "timed", at, grid_chief(G1));
        store.create_ticket(&new).await.unwrap();
    }
    // Polled, not slept on: the wait ends as soon as a copy has landed.
    let grown = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while file() <= before {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(
        grown.is_ok(),
        "the database file stayed at {before} bytes: no background checkpoint ran"
    );
}
