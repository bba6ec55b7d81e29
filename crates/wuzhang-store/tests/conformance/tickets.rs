//! Writing tickets ([`TicketStore`](wuzhang_store::TicketStore)): creating (alone, concurrently,
//! cancelled, merging), updating and its conflicts.

use std::sync::Arc;

use time::Duration;
use wuzhang_domain::chief::ChiefLevel;
use wuzhang_domain::clock::truncate_to_micros;
use wuzhang_domain::event::EventKind;
use wuzhang_domain::point::{Crs, GeoPoint};
use wuzhang_domain::ticket::{Command, Rating, TicketId, TicketState};
use wuzhang_domain::timer::TimerKind;
use wuzhang_store::{PageRequest, StoreError, TicketQuery};

use crate::fixtures::*;
use crate::{S, invalid_field};

pub(crate) async fn create_ticket_numbers_events(store: S) {
    let new = assigned(SUB1, G1, "r1", T0, grid_chief(G1));
    let created = store.create_ticket(&new).await.unwrap();
    assert_eq!(created, new.ticket);
    assert_eq!(store.get_ticket(&new.ticket.id).await.unwrap(), new.ticket);
    let events = store.list_events(&new.ticket.id, 0, 100).await.unwrap();
    assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(
        events.iter().map(|e| e.event.clone()).collect::<Vec<_>>(),
        new.events
    );
    assert!(
        events
            .iter()
            .all(|e| e.ticket_id == new.ticket.id && e.subdistrict_code.as_str() == SUB1)
    );
    assert_eq!(store.list_timers(&new.ticket.id).await.unwrap(), new.timers);
    assert_err!(
        store.get_ticket(&TicketId::new(T0)).await,
        StoreError::NotFound {
            entity: "ticket",
            ..
        }
    );
}

pub(crate) async fn create_ticket_keeps_every_field(store: S) {
    // Every optional field set, a rating, sub-microsecond times (cut to µs), a
    // pre-WGS84 original location.
    let at = T0 + Duration::nanoseconds(789);
    let mut new = assigned(SUB1, G1, "r1", at, grid_chief(G1));
    let t = &mut new.ticket;
    t.report.original_location = GeoPoint::new(43.8061, 125.3112, Crs::Gcj02).unwrap();
    t.report.address = "人民大街 1 号".into();
    t.report.building_code = Some(code(B1));
    t.report.unit_code = Some(code(U1));
    t.report.media_urls = vec![
        "https://m.example/a.jpg".into(),
        "https://m.example/b.mp4".into(),
    ];
    t.report.contact_phone = Some("13800000000".into());
    t.report.urgent = true;
    for c in [Command::Accept, Command::Resolve] {
        let e = t.apply(c, "p-grid", "", at + Duration::minutes(5)).unwrap();
        new.events.push(e.event);
    }
    let rating = Rating::new(2, true, "还是脏".into()).unwrap();
    let e = t
        .apply(Command::Rate(rating), "r1", "", at + Duration::minutes(9))
        .unwrap();
    new.events.push(e.event);
    t.accept_due_at = None;
    new.timers.clear();
    let created = store.create_ticket(&new).await.unwrap();
    let mut want = new.ticket.clone();
    want.created_at = truncate_to_micros(want.created_at);
    want.updated_at = truncate_to_micros(want.updated_at);
    want.resolve_due_at = want.resolve_due_at.map(truncate_to_micros);
    assert_eq!(created, want);
    assert_eq!(store.get_ticket(&want.id).await.unwrap(), want);
    let events = store.list_events(&want.id, 0, 100).await.unwrap();
    assert_eq!(events.len(), 5);
    assert_eq!(events[0].event.at, truncate_to_micros(at));
    assert_eq!(events[4].event.kind, EventKind::Rated);
    assert_eq!(events[4].event.from_state, Some(TicketState::Resolved));

    // A merged duplicate keeps its link.
    let mut dup = submitted(SUB1, G1, "r2", T0);
    let e = dup
        .ticket
        .apply(Command::Merge { into: want.id }, "system", "", T0)
        .unwrap();
    dup.events.push(e.event);
    store.create_ticket(&dup).await.unwrap();
    assert_eq!(
        store.get_ticket(&dup.ticket.id).await.unwrap().duplicate_of,
        Some(want.id)
    );
}

pub(crate) async fn duplicate_ticket_id_is_refused(store: S) {
    let new = assigned(SUB1, G1, "r1", T0, grid_chief(G1));
    store.create_ticket(&new).await.unwrap();
    let mut again = new.clone();
    again.idempotency = Some(idempotency("s", "r", T0));
    assert_err!(
        store.create_ticket(&again).await,
        StoreError::AlreadyExists {
            entity: "ticket",
            ..
        }
    );
    assert_eq!(store.get_idempotency("s", "r").await.unwrap(), None);
    // The id is unique across subdistricts too.
    let mut elsewhere = new.clone();
    elsewhere.ticket.subdistrict_code = code(SUB2);
    elsewhere.timers.clear();
    assert_err!(
        store.create_ticket(&elsewhere).await,
        StoreError::AlreadyExists {
            entity: "ticket",
            ..
        }
    );
    assert_eq!(
        store
            .list_events(&new.ticket.id, 0, 100)
            .await
            .unwrap()
            .len(),
        2
    );
}

pub(crate) async fn invalid_tickets_are_refused(store: S) {
    let mut broken = submitted(SUB1, G1, "r1", T0);
    broken.ticket.state = TicketState::Assigned; // with no owner
    assert_eq!(
        invalid_field(&store.create_ticket(&broken).await.unwrap_err()),
        "ticket"
    );

    let other = submitted(SUB1, G1, "r2", T0);
    let mut foreign = assigned(SUB1, G1, "r1", T0, grid_chief(G1));
    foreign.timers.push(timer(
        &other.ticket,
        TimerKind::Warning,
        T0,
        ChiefLevel::Grid,
    ));
    assert_eq!(
        invalid_field(&store.create_ticket(&foreign).await.unwrap_err()),
        "timers"
    );
    let mut twice = assigned(SUB1, G1, "r1", T0, grid_chief(G1));
    twice.timers.push(twice.timers[0].clone());
    assert_eq!(
        invalid_field(&store.create_ticket(&twice).await.unwrap_err()),
        "timers"
    );

    let listed = store
        .list_tickets(&TicketQuery::default(), &PageRequest::default())
        .await;
    assert!(listed.unwrap().items.is_empty());
}

pub(crate) async fn update_ticket_writes_change_events_timers(store: S) {
    let new = assigned(SUB1, G1, "r1", T0, grid_chief(G1));
    store.create_ticket(&new).await.unwrap();
    let at = T0 + Duration::minutes(10);
    let mut accept = change(&new.ticket, Command::Accept, at);
    accept.ticket.accept_due_at = None;
    let resolve_timer = timer(
        &accept.ticket,
        TimerKind::Resolve,
        T0 + Duration::hours(24),
        ChiefLevel::Grid,
    );
    accept.timers = Some(vec![resolve_timer.clone()]);
    accept.idempotency = Some(idempotency("chief-p-grid/AcceptTicket", "req-9", at));
    let written = store.update_ticket(&accept).await.unwrap();
    assert_eq!(written, accept.ticket);
    assert_eq!(written.version, 3);
    assert_eq!(
        store.get_ticket(&new.ticket.id).await.unwrap(),
        accept.ticket
    );
    let events = store.list_events(&new.ticket.id, 0, 100).await.unwrap();
    assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(events[2].event, accept.events[0]);
    assert_eq!(
        store.list_timers(&new.ticket.id).await.unwrap(),
        std::slice::from_ref(&resolve_timer)
    );
    assert_eq!(
        store
            .get_idempotency("chief-p-grid/AcceptTicket", "req-9")
            .await
            .unwrap(),
        accept.idempotency.clone()
    );

    // `timers: None` keeps them; `Some(vec![])` clears them.
    let note = change(&accept.ticket, Command::Note, at + Duration::minutes(1));
    store.update_ticket(&note).await.unwrap();
    assert_eq!(
        store.list_timers(&new.ticket.id).await.unwrap(),
        [resolve_timer]
    );
    let mut resolve = change(&note.ticket, Command::Resolve, at + Duration::minutes(2));
    resolve.timers = Some(vec![]);
    store.update_ticket(&resolve).await.unwrap();
    assert!(store.list_timers(&new.ticket.id).await.unwrap().is_empty());
    assert_eq!(
        store.get_ticket(&new.ticket.id).await.unwrap(),
        resolve.ticket
    );
    assert_eq!(
        store
            .list_events(&new.ticket.id, 0, 100)
            .await
            .unwrap()
            .len(),
        5
    );

    // An idempotency key already used fails the whole change.
    let mut again = change(&resolve.ticket, Command::Note, at + Duration::minutes(3));
    again.idempotency = accept.idempotency.clone();
    assert_err!(
        store.update_ticket(&again).await,
        StoreError::AlreadyExists {
            entity: "idempotency",
            ..
        }
    );
    assert_eq!(store.get_ticket(&new.ticket.id).await.unwrap().version, 5);
}

pub(crate) async fn update_ticket_conflicts(store: S) {
    let new = assigned(SUB1, G1, "r1", T0, grid_chief(G1));
    store.create_ticket(&new).await.unwrap();
    let first = change(&new.ticket, Command::Accept, T0 + Duration::minutes(1));
    store.update_ticket(&first).await.unwrap();
    // Built from version 2 as well: stale.
    let mut stale = change(&new.ticket, Command::Note, T0 + Duration::minutes(2));
    stale.timers = Some(vec![]);
    stale.idempotency = Some(idempotency("s", "stale", T0));
    assert_err!(
        store.update_ticket(&stale).await,
        StoreError::Conflict {
            entity: "ticket",
            current_version: 3,
            ..
        }
    );
    // From the future: also a conflict.
    let mut ahead = change(&first.ticket, Command::Note, T0 + Duration::minutes(2));
    ahead.ticket.version += 2;
    assert_err!(
        store.update_ticket(&ahead).await,
        StoreError::Conflict {
            current_version: 3,
            ..
        }
    );
    // Nothing of the losers was written.
    assert_eq!(
        store.get_ticket(&new.ticket.id).await.unwrap(),
        first.ticket
    );
    assert_eq!(
        store
            .list_events(&new.ticket.id, 0, 100)
            .await
            .unwrap()
            .len(),
        3
    );
    assert_eq!(store.list_timers(&new.ticket.id).await.unwrap().len(), 2);
    assert_eq!(store.get_idempotency("s", "stale").await.unwrap(), None);
}

/// Two tickets changed in one transaction: a conflict on the second leaves the first
/// as it was; both valid, both are written.
pub(crate) async fn update_tickets_writes_all_or_nothing(store: S) {
    let a = assigned(SUB1, G1, "r1", T0, grid_chief(G1));
    let b = assigned(SUB1, G2, "r2", T0, grid_chief(G2));
    store.create_ticket(&a).await.unwrap();
    store.create_ticket(&b).await.unwrap();
    let noted_a = change(&a.ticket, Command::Note, T0 + Duration::minutes(1));
    let mut stale_b = change(&b.ticket, Command::Note, T0 + Duration::minutes(1));
    stale_b.ticket.version += 1;
    assert_err!(
        store.update_tickets(&[noted_a.clone(), stale_b]).await,
        StoreError::Conflict { .. }
    );
    assert_eq!(store.get_ticket(&a.ticket.id).await.unwrap(), a.ticket);
    assert_eq!(
        store.list_events(&a.ticket.id, 0, 100).await.unwrap().len(),
        a.events.len()
    );
    let noted_b = change(&b.ticket, Command::Note, T0 + Duration::minutes(1));
    let stored = store
        .update_tickets(&[noted_a.clone(), noted_b.clone()])
        .await
        .unwrap();
    assert_eq!(stored, [noted_a.ticket.clone(), noted_b.ticket.clone()]);
    for t in [&noted_a.ticket, &noted_b.ticket] {
        assert_eq!(&store.get_ticket(&t.id).await.unwrap(), t);
    }
}

pub(crate) async fn update_ticket_not_found(store: S) {
    let never = assigned(SUB1, G1, "r1", T0, grid_chief(G1));
    let accept = change(&never.ticket, Command::Accept, T0);
    assert_err!(
        store.update_ticket(&accept).await,
        StoreError::NotFound {
            entity: "ticket",
            ..
        }
    );
    store.create_ticket(&never).await.unwrap();
    let mut moved = change(&never.ticket, Command::Accept, T0);
    moved.ticket.subdistrict_code = code(SUB2);
    assert_eq!(
        invalid_field(&store.update_ticket(&moved).await.unwrap_err()),
        "subdistrict_code"
    );
    let mut broken = change(&never.ticket, Command::Accept, T0);
    broken.ticket.assignment = None;
    assert_eq!(
        invalid_field(&store.update_ticket(&broken).await.unwrap_err()),
        "ticket"
    );
    assert_eq!(
        store.get_ticket(&never.ticket.id).await.unwrap(),
        never.ticket
    );
}

pub(crate) async fn concurrent_updates_one_wins(store: S) {
    for i in 0..5 {
        let new = assigned(SUB1, G1, "r1", T0 + Duration::minutes(i), grid_chief(G1));
        store.create_ticket(&new).await.unwrap();
        let accept = change(&new.ticket, Command::Accept, T0 + Duration::hours(1));
        let note = change(&new.ticket, Command::Note, T0 + Duration::hours(1));
        let (s1, s2) = (Arc::clone(&store), Arc::clone(&store));
        let (r1, r2) = tokio::join!(
            tokio::spawn(async move { s1.update_ticket(&accept).await }),
            tokio::spawn(async move { s2.update_ticket(&note).await }),
        );
        let results = [r1.unwrap(), r2.unwrap()];
        let wins = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(wins, 1, "{results:?}");
        for r in &results {
            if let Err(e) = r {
                assert!(
                    matches!(
                        e,
                        StoreError::Conflict {
                            current_version: 3,
                            ..
                        }
                    ),
                    "{e:?}"
                );
            }
        }
        let events = store.list_events(&new.ticket.id, 0, 100).await.unwrap();
        assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(store.get_ticket(&new.ticket.id).await.unwrap().version, 3);
    }
}

pub(crate) async fn merge_writes_both_tickets_or_neither(store: S) {
    let original = store
        .create_ticket(&assigned(SUB1, G1, "r1", T0, grid_chief(G1)))
        .await
        .unwrap();
    let at = T0 + Duration::minutes(5);
    let mut dup = submitted(SUB1, G1, "r2", at);
    let e = dup
        .ticket
        .apply(
            Command::Merge { into: original.id },
            "system:intake",
            "",
            at,
        )
        .unwrap();
    dup.events.push(e.event);
    let mut join = change(&original, Command::JoinReporter, at);
    join.add_follower = Some("r2".into());
    dup.followed = Some(join.clone());
    dup.idempotency = Some(idempotency("resident:r2/SubmitIncident", "m-1", at));
    let stored = store.create_ticket(&dup).await.unwrap();
    assert_eq!(stored.duplicate_of, Some(original.id));
    assert_eq!(store.ticket_followers(&original.id).await.unwrap(), ["r2"]);
    let events = store.list_events(&original.id, 0, 10).await.unwrap();
    assert_eq!(events.last().unwrap().event.kind, EventKind::ReporterJoined);
    assert_eq!(events.last().unwrap().seq, 3);
    assert_eq!(store.get_ticket(&original.id).await.unwrap().version, 3);

    // A stale change to the original fails the whole write: no merged ticket, no record.
    let mut late = submitted(SUB1, G1, "r3", at + Duration::SECOND);
    let e = late
        .ticket
        .apply(
            Command::Merge { into: original.id },
            "system:intake",
            "",
            at + Duration::SECOND,
        )
        .unwrap();
    late.events.push(e.event);
    let mut stale = join;
    stale.add_follower = Some("r3".into());
    late.followed = Some(stale);
    late.idempotency = Some(idempotency("resident:r3/SubmitIncident", "m-2", at));
    assert_err!(
        store.create_ticket(&late).await,
        StoreError::Conflict { .. }
    );
    assert_err!(
        store.get_ticket(&late.ticket.id).await,
        StoreError::NotFound { .. }
    );
    assert!(
        store
            .get_idempotency("resident:r3/SubmitIncident", "m-2")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.ticket_followers(&original.id).await.unwrap(), ["r2"]);
    assert!(
        store
            .ticket_followers(&late.ticket.id)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Many creates at once (which group commit may write in one transaction): each
/// succeeds or fails on its own, and a failing one takes no other down with it.
pub(crate) async fn concurrent_creates_each_succeed_or_fail_alone(store: S) {
    let mut tasks = Vec::new();
    for i in 0..64 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let at = T0 + Duration::milliseconds(i);
            let mut new = assigned(SUB1, G1, &format!("r{}", i % 8), at, grid_chief(G1));
            // Every eighth request reuses one key: exactly one of those wins.
            let key = if i % 8 == 0 {
                "shared".to_owned()
            } else {
                format!("k{i}")
            };
            new.idempotency = Some(idempotency("resident:x/SubmitIncident", &key, at));
            (new.ticket.id, store.create_ticket(&new).await)
        }));
    }
    let mut created = Vec::new();
    let mut refused = 0;
    for t in tasks {
        match t.await.unwrap() {
            (id, Ok(ticket)) => {
                assert_eq!(ticket.id, id);
                created.push(id);
            }
            (_, Err(StoreError::AlreadyExists { entity, .. })) => {
                assert_eq!(entity, "idempotency");
                refused += 1;
            }
            (_, Err(e)) => panic!("unexpected error {e}"),
        }
    }
    assert_eq!((created.len(), refused), (57, 7));
    for id in created {
        let events = store.list_events(&id, 0, 10).await.unwrap();
        assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(store.list_timers(&id).await.unwrap().len(), 2);
    }
}

/// A submission whose caller goes away (a cancelled request drops its future, which
/// may be writing its own batch) leaves its ticket whole or absent, and the store
/// goes on: no connection is left inside a transaction holding the write lock.
pub(crate) async fn cancelled_creates_leave_whole_tickets_or_none(store: S) {
    let mut tasks = Vec::new();
    for i in 0..48 {
        let new = assigned(
            SUB1,
            G1,
            &format!("c{i}"),
            T0 + Duration::milliseconds(i),
            grid_chief(G1),
        );
        let id = new.ticket.id;
        let task = {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.create_ticket(&new).await })
        };
        // Give up on each after a different number of turns: some before they
        // start, some while writing, some after.
        for _ in 0..i % 16 {
            tokio::task::yield_now().await;
        }
        task.abort();
        tasks.push((id, task));
    }
    for (id, task) in tasks {
        let _ = task.await;
        // Events and timers are read before the ticket: a statement whose caller went
        // away may still commit (Postgres finishes a statement before it notices the
        // client left), so a ticket absent at one read may be whole at the next. What
        // was seen before the ticket was found absent must be absent too.
        let events_before = store.list_events(&id, 0, 10).await.unwrap().len();
        let timers_before = store.list_timers(&id).await.unwrap().len();
        match store.get_ticket(&id).await {
            Ok(_) => {
                assert_eq!(store.list_events(&id, 0, 10).await.unwrap().len(), 2);
                assert_eq!(store.list_timers(&id).await.unwrap().len(), 2);
            }
            Err(StoreError::NotFound { .. }) => {
                assert_eq!(
                    (events_before, timers_before),
                    (0, 0),
                    "a part of ticket {id}"
                );
            }
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    // Writers go on at once (a lock left held would make these wait, then fail).
    let after = tokio::time::timeout(std::time::Duration::from_secs(3), async {
        for i in 0..8 {
            let new = assigned(SUB1, G1, "after", T0 + Duration::seconds(i), grid_chief(G1));
            store.create_ticket(&new).await.unwrap();
        }
    });
    after
        .await
        .expect("writes after cancelled ones were held up");
}
