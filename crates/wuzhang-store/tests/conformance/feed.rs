//! Events ([`TicketStore`](wuzhang_store::TicketStore)): per ticket, and the feed across
//! subdistricts, which must miss nothing however writers interleave.

use std::collections::HashSet;
use std::sync::Arc;

use time::Duration;
use wuzhang_domain::ticket::{Command, TicketId};

use crate::S;
use crate::fixtures::*;

pub(crate) async fn list_events_after_seq(store: S) {
    let new = assigned(SUB1, G1, "r1", T0, grid_chief(G1));
    store.create_ticket(&new).await.unwrap();
    let mut t = new.ticket.clone();
    for i in 0..3 {
        let c = change(&t, Command::Note, T0 + Duration::minutes(i));
        t = store.update_ticket(&c).await.unwrap();
    }
    let seqs =
        |v: Vec<wuzhang_domain::event::TicketEvent>| v.iter().map(|e| e.seq).collect::<Vec<_>>();
    assert_eq!(
        seqs(store.list_events(&t.id, 0, 100).await.unwrap()),
        [1, 2, 3, 4, 5]
    );
    assert_eq!(
        seqs(store.list_events(&t.id, 2, 100).await.unwrap()),
        [3, 4, 5]
    );
    assert_eq!(seqs(store.list_events(&t.id, 1, 2).await.unwrap()), [2, 3]);
    assert!(store.list_events(&t.id, 5, 100).await.unwrap().is_empty());
    assert!(
        store
            .list_events(&TicketId::new(T0), 0, 100)
            .await
            .unwrap()
            .is_empty()
    );
}

pub(crate) async fn events_since_across_subdistricts(store: S) {
    let a = assigned(SUB1, G1, "r1", T0, grid_chief(G1)); // 2 events
    let b = submitted(SUB2, G3, "r2", T0); // 1 event
    store.create_ticket(&a).await.unwrap();
    store.create_ticket(&b).await.unwrap();
    store
        .update_ticket(&change(&a.ticket, Command::Accept, T0))
        .await
        .unwrap(); // 1 more

    let all = store.events_since(&[], 0, 100).await.unwrap();
    assert_eq!(all.len(), 4);
    assert!(
        all.windows(2).all(|w| w[0].cursor < w[1].cursor),
        "cursor order"
    );
    let order: Vec<_> = all
        .iter()
        .map(|e| (e.event.ticket_id, e.event.seq))
        .collect();
    assert_eq!(
        order,
        [
            (a.ticket.id, 1),
            (a.ticket.id, 2),
            (b.ticket.id, 1),
            (a.ticket.id, 3)
        ]
    );
    assert_eq!(
        store
            .events_since(&[code(SUB1), code(SUB2)], 0, 100)
            .await
            .unwrap(),
        all
    );

    let sub2 = store.events_since(&[code(SUB2)], 0, 100).await.unwrap();
    assert_eq!(sub2, [all[2].clone()]);
    // Resume a SUB1 stream two events at a time.
    let first = store.events_since(&[code(SUB1)], 0, 2).await.unwrap();
    assert_eq!(first, all[..2]);
    let rest = store
        .events_since(&[code(SUB1)], first[1].cursor, 2)
        .await
        .unwrap();
    assert_eq!(rest, [all[3].clone()]);
    assert!(
        store
            .events_since(&[code(SUB1)], rest[0].cursor, 2)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .events_since(&[], all[3].cursor, 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.events_since(&[], all[1].cursor, 100).await.unwrap(),
        all[2..]
    );
}

/// A stream that always resumes after the last cursor it saw must see every event, even
/// while writers commit concurrently (a cursor handed out before a lower one commits
/// would make it skip that one for good).
pub(crate) async fn events_since_misses_nothing_under_concurrent_writers(store: S) {
    const WRITERS: usize = 4;
    const TICKETS: usize = 20; // per writer, 3 events each
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                for i in 0..TICKETS {
                    let sub = if i % 2 == 0 { SUB1 } else { SUB2 };
                    let new = submitted(sub, G1, &format!("w{w}-{i}"), T0);
                    let t = store.create_ticket(&new).await.unwrap();
                    store
                        .update_ticket(&change(&t, Command::Note, T0))
                        .await
                        .unwrap();
                    let t = store.get_ticket(&t.id).await.unwrap();
                    store
                        .update_ticket(&change(&t, Command::Note, T0))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    let mut seen = HashSet::new();
    let mut cursor = 0;
    let mut read = |batch: Vec<wuzhang_store::LoggedEvent>, cursor: &mut i64| {
        for e in batch {
            assert!(e.cursor > *cursor, "cursors increase");
            *cursor = e.cursor;
            assert!(
                seen.insert((e.event.ticket_id, e.event.seq)),
                "no event twice"
            );
        }
    };
    while writers.iter().any(|w| !w.is_finished()) {
        read(
            store.events_since(&[], cursor, 7).await.unwrap(),
            &mut cursor,
        );
        tokio::task::yield_now().await;
    }
    for w in writers {
        w.await.unwrap();
    }
    loop {
        let batch = store.events_since(&[], cursor, 7).await.unwrap();
        if batch.is_empty() {
            break;
        }
        read(batch, &mut cursor);
    }
    assert_eq!(
        seen.len(),
        WRITERS * TICKETS * 3,
        "the stream missed events"
    );
}
