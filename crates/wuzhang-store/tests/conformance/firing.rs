//! Firing due timers ([`TimerStore::fire_due_timers`](wuzhang_store::TimerStore::fire_due_timers)):
//! what the handler decides is written once, failures and conflicts are retried, and
//! concurrent workers fire each timer once.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use futures::{FutureExt, StreamExt};
use time::{Duration, OffsetDateTime};
use wuzhang_domain::chief::ChiefLevel;
use wuzhang_domain::event::{EventKind, SYSTEM_TIMER_ACTOR};
use wuzhang_domain::ticket::{Command, Ticket, TicketId, TicketState};
use wuzhang_domain::timer::{Timer, TimerKind};
use wuzhang_store::{
    Backend, FireReport, FnHandler, NewTicket, StoreError, TicketChange, TimerHandler, TimerOutcome,
};

use crate::S;
use crate::fixtures::*;

pub(crate) fn handler<F>(f: F) -> Arc<dyn TimerHandler>
where
    F: Fn(Timer, Ticket) -> wuzhang_store::Result<TimerOutcome> + Send + Sync + 'static,
{
    Arc::new(FnHandler(move |timer, ticket| {
        let outcome = f(timer, ticket);
        async move { outcome }.boxed()
    }))
}

/// Escalates the ticket to the lane chief, as the worker does when an accept deadline passes.
pub(crate) fn escalate(ticket: &mut Ticket, at: OffsetDateTime) -> TicketChange {
    let to = assignment(ChiefLevel::Lane, LN1, Some("p-lane"));
    let event = ticket
        .apply(
            Command::Escalate { to, auto: true },
            SYSTEM_TIMER_ACTOR,
            "accept deadline passed",
            at,
        )
        .unwrap();
    TicketChange {
        ticket: ticket.clone(),
        events: vec![event.event],
        timers: None,
        idempotency: None,
        add_follower: None,
        task_result: None,
    }
}

/// Records what the store asks of it: one `prepare` per batch with each claimed ticket
/// once, before any `decide`.
#[derive(Default)]
struct Recorder {
    log: Mutex<Vec<(&'static str, Vec<TicketId>)>>,
}

#[async_trait::async_trait]
impl TimerHandler for Recorder {
    async fn prepare(&self, tickets: &[&Ticket]) {
        let ids = tickets.iter().map(|t| t.id).collect();
        self.log.lock().unwrap().push(("prepare", ids));
    }

    async fn decide(&self, _timer: Timer, ticket: Ticket) -> wuzhang_store::Result<TimerOutcome> {
        self.log.lock().unwrap().push(("decide", vec![ticket.id]));
        Ok(TimerOutcome::Drop)
    }
}

pub(crate) async fn fire_prepares_the_batch_before_deciding(store: S) {
    let first = assigned(SUB1, G1, "r1", T0, grid_chief(G1));
    let second = assigned(SUB1, G1, "r2", T0 + Duration::minutes(1), grid_chief(G1));
    store.create_ticket(&first).await.unwrap();
    store.create_ticket(&second).await.unwrap();
    let now = T0 + Duration::days(3); // every timer of both is due
    let h = Recorder::default();
    let report = store
        .fire_due_timers(&code(SUB1), now, 100, Duration::minutes(1), &h)
        .await
        .unwrap();
    assert!(report.dropped >= 2, "{report:?}");
    let log = h.log.lock().unwrap().clone();
    assert_eq!(log[0].0, "prepare");
    let mut prepared = log[0].1.clone();
    prepared.sort();
    let mut want = vec![first.ticket.id, second.ticket.id];
    want.sort();
    assert_eq!(prepared, want, "each claimed ticket once");
    assert!(log[1..].iter().all(|(what, _)| *what == "decide"));
    assert!(log.len() > 2);
}

pub(crate) async fn fire_writes_change_and_deletes_timer(store: S) {
    let new = assigned(SUB1, G1, "r1", T0, grid_chief(G1));
    store.create_ticket(&new).await.unwrap();
    let now = T0 + Duration::hours(3);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let h = handler(move |timer, mut ticket| {
        log.lock().unwrap().push((timer.kind, ticket.version));
        Ok(TimerOutcome::Fire(escalate(&mut ticket, now)))
    });
    let report = store
        .fire_due_timers(&code(SUB1), now, 10, Duration::minutes(1), &*h)
        .await
        .unwrap();
    assert_eq!(
        report,
        FireReport {
            fired: 1,
            dropped: 0,
            failed: 0
        }
    );
    assert_eq!(*seen.lock().unwrap(), [(TimerKind::Accept, 2)]);
    let t = store.get_ticket(&new.ticket.id).await.unwrap();
    assert_eq!((t.level(), t.version), (Some(ChiefLevel::Lane), 3));
    let events = store.list_events(&t.id, 2, 100).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].seq, events[0].event.kind),
        (3, EventKind::AutoEscalated)
    );
    assert_eq!(events[0].event.actor, SYSTEM_TIMER_ACTOR);
    let left = store.list_timers(&t.id).await.unwrap();
    assert_eq!(
        left.iter().map(|t| t.kind).collect::<Vec<_>>(),
        [TimerKind::Resolve]
    );
    // Nothing more is due.
    let report = store
        .fire_due_timers(&code(SUB1), now, 10, Duration::minutes(1), &*h)
        .await
        .unwrap();
    assert_eq!(report, FireReport::default());
}

/// A timer's outcome usually changes only the assignment and clocks, but may change
/// anything: both kinds in one batch, and the rest of a row kept as it was.
pub(crate) async fn fire_writes_whatever_the_handler_changed(store: S) {
    let a = assigned(SUB1, G1, "r1", T0, grid_chief(G1));
    let b = assigned(SUB1, G1, "r2", T0, grid_chief(G1));
    store.create_ticket(&a).await.unwrap();
    store.create_ticket(&b).await.unwrap();
    let now = T0 + Duration::hours(3);
    let b_id = b.ticket.id;
    let h = handler(move |_, mut ticket| {
        if ticket.id == b_id {
            ticket.report.description = "补充：井盖已移位".into();
        }
        Ok(TimerOutcome::Fire(escalate(&mut ticket, now)))
    });
    let report = store
        .fire_due_timers(&code(SUB1), now, 10, Duration::minutes(1), &*h)
        .await
        .unwrap();
    assert_eq!(report.fired, 2);
    let a_now = store.get_ticket(&a.ticket.id).await.unwrap();
    let b_now = store.get_ticket(&b.ticket.id).await.unwrap();
    assert_eq!(a_now.level(), Some(ChiefLevel::Lane));
    assert_eq!(a_now.report.description, a.ticket.report.description);
    assert_eq!(b_now.level(), Some(ChiefLevel::Lane));
    assert_eq!(b_now.report.description, "补充：井盖已移位");

    // Only clocks changed: the rest of the row stays as it was.
    store
        .update_ticket(&change(&a_now, Command::Note, now))
        .await
        .unwrap();
    let before = store.get_ticket(&a.ticket.id).await.unwrap();
    let later = now + Duration::days(3);
    let note =
        handler(move |_, ticket| Ok(TimerOutcome::Fire(change(&ticket, Command::Note, later))));
    let report = store
        .fire_due_timers(&code(SUB1), later, 10, Duration::minutes(1), &*note)
        .await
        .unwrap();
    assert!(report.fired >= 1);
    let after = store.get_ticket(&a.ticket.id).await.unwrap();
    assert_eq!(after.report, before.report);
    assert_eq!(after.created_at, before.created_at);
    assert!(after.version > before.version);
}

pub(crate) async fn fire_with_new_timers_replaces_them(store: S) {
    let new = assigned(SUB1, G1, "r1", T0, grid_chief(G1));
    store.create_ticket(&new).await.unwrap();
    let now = T0 + Duration::hours(3);
    let h = handler(move |_, mut ticket| {
        let mut change = escalate(&mut ticket, now);
        change.ticket.accept_due_at = Some(now + Duration::hours(2));
        change.timers = Some(vec![timer(
            &ticket,
            TimerKind::Accept,
            now + Duration::hours(2),
            ChiefLevel::Lane,
        )]);
        Ok(TimerOutcome::Fire(change))
    });
    let report = store
        .fire_due_timers(&code(SUB1), now, 10, Duration::minutes(1), &*h)
        .await
        .unwrap();
    assert_eq!(report.fired, 1);
    let timers = store.list_timers(&new.ticket.id).await.unwrap();
    assert_eq!(
        timers,
        [timer(
            &new.ticket,
            TimerKind::Accept,
            now + Duration::hours(2),
            ChiefLevel::Lane
        )]
    );
    assert_eq!(
        store
            .get_ticket(&new.ticket.id)
            .await
            .unwrap()
            .accept_due_at,
        Some(now + Duration::hours(2))
    );
}

pub(crate) async fn fire_two_timers_of_one_ticket_in_one_batch(store: S) {
    let mut new = assigned(SUB1, G1, "r1", T0, grid_chief(G1));
    let warning = timer(
        &new.ticket,
        TimerKind::Warning,
        T0 + Duration::hours(1),
        ChiefLevel::Grid,
    );
    new.timers.push(warning);
    store.create_ticket(&new).await.unwrap();
    let now = T0 + Duration::hours(3);
    let versions = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&versions);
    let h = handler(move |timer, mut ticket| {
        log.lock().unwrap().push(ticket.version);
        let change = match timer.kind {
            TimerKind::Warning => {
                let event = ticket
                    .apply(Command::Warn, SYSTEM_TIMER_ACTOR, "", now)
                    .unwrap();
                TicketChange {
                    ticket,
                    events: vec![event.event],
                    timers: None,
                    idempotency: None,
                    add_follower: None,
                    task_result: None,
                }
            }
            _ => escalate(&mut ticket, now),
        };
        Ok(TimerOutcome::Fire(change))
    });
    let report = store
        .fire_due_timers(&code(SUB1), now, 10, Duration::minutes(1), &*h)
        .await
        .unwrap();
    assert_eq!(report.fired, 2);
    assert_eq!(
        *versions.lock().unwrap(),
        [2, 3],
        "the second sees the first's change"
    );
    let events = store.list_events(&new.ticket.id, 2, 100).await.unwrap();
    let got: Vec<_> = events.iter().map(|e| (e.seq, e.event.kind)).collect();
    assert_eq!(
        got,
        [
            (3, EventKind::DeadlineWarning),
            (4, EventKind::AutoEscalated)
        ]
    );
    assert_eq!(store.get_ticket(&new.ticket.id).await.unwrap().version, 4);
    let left = store.list_timers(&new.ticket.id).await.unwrap();
    assert_eq!(
        left.iter().map(|t| t.kind).collect::<Vec<_>>(),
        [TimerKind::Resolve]
    );
}

pub(crate) async fn fire_drop_deletes_timer(store: S) {
    let new = assigned(SUB1, G1, "r1", T0, grid_chief(G1));
    store.create_ticket(&new).await.unwrap();
    let h = handler(|_, _| Ok(TimerOutcome::Drop));
    let now = T0 + Duration::hours(2);
    let report = store
        .fire_due_timers(&code(SUB1), now, 10, Duration::minutes(1), &*h)
        .await
        .unwrap();
    assert_eq!(
        report,
        FireReport {
            fired: 0,
            dropped: 1,
            failed: 0
        }
    );
    assert_eq!(store.get_ticket(&new.ticket.id).await.unwrap(), new.ticket);
    assert_eq!(
        store
            .list_events(&new.ticket.id, 0, 100)
            .await
            .unwrap()
            .len(),
        2
    );
    let left = store.list_timers(&new.ticket.id).await.unwrap();
    assert_eq!(
        left.iter().map(|t| t.kind).collect::<Vec<_>>(),
        [TimerKind::Resolve]
    );
}

pub(crate) async fn fire_handler_error_reschedules(store: S) {
    let new = assigned(SUB1, G1, "r1", T0, grid_chief(G1));
    store.create_ticket(&new).await.unwrap();
    let calls = Arc::new(Mutex::new(0));
    let counter = Arc::clone(&calls);
    let h = handler(move |_, _| {
        *counter.lock().unwrap() += 1;
        Err(StoreError::internal("roster lookup failed"))
    });
    let now = T0 + Duration::hours(3);
    let retry = Duration::minutes(5);
    let report = store
        .fire_due_timers(&code(SUB1), now, 10, retry, &*h)
        .await
        .unwrap();
    assert_eq!(
        report,
        FireReport {
            fired: 0,
            dropped: 0,
            failed: 1
        }
    );
    let timers = store.list_timers(&new.ticket.id).await.unwrap();
    assert_eq!(timers[0].kind, TimerKind::Accept);
    assert_eq!(timers[0].due_at, now + retry, "moved to now + retry_after");
    assert_eq!(store.get_ticket(&new.ticket.id).await.unwrap(), new.ticket);
    // Not due again until then.
    let report = store
        .fire_due_timers(&code(SUB1), now, 10, retry, &*h)
        .await
        .unwrap();
    assert_eq!(report, FireReport::default());
    let later = now + retry;
    let report = store
        .fire_due_timers(&code(SUB1), later, 10, retry, &*h)
        .await
        .unwrap();
    assert_eq!(report.failed, 1);
    assert_eq!(*calls.lock().unwrap(), 2);
}

pub(crate) async fn fire_conflict_reschedules(store: S) {
    let one = assigned(SUB1, G1, "r1", T0, grid_chief(G1));
    let two = assigned(SUB1, G2, "r2", T0 + Duration::SECOND, grid_chief(G2));
    store.create_ticket(&one).await.unwrap();
    store.create_ticket(&two).await.unwrap();
    let now = T0 + Duration::hours(3);
    let (first, other) = (one.ticket.id, two.ticket.clone());
    let h = handler(move |_, mut ticket| {
        let mut change = escalate(&mut ticket, now);
        if ticket.id == first {
            change.ticket.version += 5; // written against a version the store does not have
        } else {
            change.ticket = other.clone(); // a change for another ticket than the timer's
            change.ticket.subdistrict_code = code(SUB2);
        }
        Ok(TimerOutcome::Fire(change))
    });
    let report = store
        .fire_due_timers(&code(SUB1), now, 10, Duration::minutes(2), &*h)
        .await
        .unwrap();
    assert_eq!(
        report,
        FireReport {
            fired: 0,
            dropped: 0,
            failed: 2
        }
    );
    for new in [&one, &two] {
        assert_eq!(store.get_ticket(&new.ticket.id).await.unwrap(), new.ticket);
        assert_eq!(
            store
                .list_events(&new.ticket.id, 0, 100)
                .await
                .unwrap()
                .len(),
            2
        );
        let timers = store.list_timers(&new.ticket.id).await.unwrap();
        assert_eq!(timers.len(), 2);
        assert_eq!(timers[0].due_at, now + Duration::minutes(2));
    }
}

/// Both of a ticket's timers are due in one batch and the first escalates with new
/// clocks: the second belonged to the replaced set, so it is gone (never handed to the
/// handler, and deleting it by kind must not take the new timer of that kind).
pub(crate) async fn fire_replacement_retires_old_claimed_timers(store: S) {
    let new = assigned(SUB1, G1, "r1", T0, grid_chief(G1));
    store.create_ticket(&new).await.unwrap();
    let now = T0 + Duration::hours(25);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let h = handler(move |due, mut ticket| {
        log.lock().unwrap().push(due.kind);
        let mut change = escalate(&mut ticket, now);
        change.timers = Some(vec![
            timer(
                &ticket,
                TimerKind::Accept,
                now + Duration::hours(2),
                ChiefLevel::Lane,
            ),
            timer(
                &ticket,
                TimerKind::Resolve,
                now + Duration::hours(24),
                ChiefLevel::Lane,
            ),
        ]);
        Ok(TimerOutcome::Fire(change))
    });
    let report = store
        .fire_due_timers(&code(SUB1), now, 10, Duration::minutes(1), &*h)
        .await
        .unwrap();
    assert_eq!(
        report,
        FireReport {
            fired: 1,
            dropped: 1,
            failed: 0
        }
    );
    assert_eq!(*seen.lock().unwrap(), [TimerKind::Accept]);
    let left = store.list_timers(&new.ticket.id).await.unwrap();
    let got: Vec<_> = left.iter().map(|t| (t.kind, t.due_at, t.level)).collect();
    assert_eq!(
        got,
        [
            (
                TimerKind::Accept,
                now + Duration::hours(2),
                ChiefLevel::Lane
            ),
            (
                TimerKind::Resolve,
                now + Duration::hours(24),
                ChiefLevel::Lane
            ),
        ]
    );
    assert_eq!(store.get_ticket(&new.ticket.id).await.unwrap().version, 3);
}

/// A chief acts on the ticket while its timer is being decided: the worker's change was
/// made from the old version, so it is not written and the timer comes back later.
/// (SQLite's claim holds the write lock, so nothing can change under it there.)
pub(crate) async fn fire_ticket_changed_since_claim_is_retried(store: S) {
    if store.backend() == Backend::Sqlite {
        return;
    }
    let new = assigned(SUB1, G1, "r1", T0, grid_chief(G1));
    store.create_ticket(&new).await.unwrap();
    let now = T0 + Duration::hours(3);
    let retry = Duration::minutes(2);
    let other = Arc::clone(&store);
    let h: Arc<dyn TimerHandler> = Arc::new(FnHandler(move |_, mut ticket: Ticket| {
        let other = Arc::clone(&other);
        async move {
            let mut meanwhile = ticket.clone();
            let accepted = meanwhile
                .apply(Command::Accept, "p-grid", "on my way", now)
                .unwrap();
            other
                .update_ticket(&TicketChange {
                    ticket: meanwhile,
                    events: vec![accepted.event],
                    timers: None,
                    idempotency: None,
                    add_follower: None,
                    task_result: None,
                })
                .await?;
            Ok(TimerOutcome::Fire(escalate(&mut ticket, now)))
        }
        .boxed()
    }));
    let report = store
        .fire_due_timers(&code(SUB1), now, 10, retry, &*h)
        .await
        .unwrap();
    assert_eq!(
        report,
        FireReport {
            fired: 0,
            dropped: 0,
            failed: 1
        }
    );
    let t = store.get_ticket(&new.ticket.id).await.unwrap();
    assert_eq!((t.state, t.version), (TicketState::Accepted, 3));
    let events = store.list_events(&t.id, 0, 100).await.unwrap();
    assert_eq!(events.last().unwrap().event.kind, EventKind::Accepted);
    assert_eq!(events.len(), 3, "the escalation was not written");
    let timers = store.list_timers(&t.id).await.unwrap();
    assert_eq!(timers[0].kind, TimerKind::Accept);
    assert_eq!(timers[0].due_at, now + retry);
}

pub(crate) async fn fire_respects_due_time_subdistrict_and_limit(store: S) {
    let mut ids = Vec::new();
    for i in 0..5 {
        // Accept timers due at +1 h … +5 h (created at -1 h … +3 h).
        let at = T0 + Duration::hours(i - 1);
        let new = assigned(SUB1, G1, &format!("r{i}"), at, grid_chief(G1));
        store.create_ticket(&new).await.unwrap();
        ids.push(new.ticket.id);
    }
    let elsewhere = assigned(SUB2, G3, "rx", T0, assignment(ChiefLevel::Lane, LN2, None));
    store.create_ticket(&elsewhere).await.unwrap();
    let fired = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&fired);
    let h = handler(move |timer, _| {
        log.lock().unwrap().push((timer.ticket_id, timer.kind));
        Ok(TimerOutcome::Drop)
    });
    let now = T0 + Duration::hours(4) + Duration::minutes(30);
    let r = store
        .fire_due_timers(&code(SUB1), now, 3, Duration::minutes(1), &*h)
        .await
        .unwrap();
    assert_eq!(r.dropped, 3);
    let accept = |id| (id, TimerKind::Accept);
    assert_eq!(
        *fired.lock().unwrap(),
        [accept(ids[0]), accept(ids[1]), accept(ids[2])],
        "earliest first"
    );
    let r = store
        .fire_due_timers(&code(SUB1), now, 3, Duration::minutes(1), &*h)
        .await
        .unwrap();
    assert_eq!(r.dropped, 1, "the +5 h timer is not due yet");
    let r = store
        .fire_due_timers(&code(SUB1), now, 3, Duration::minutes(1), &*h)
        .await
        .unwrap();
    assert_eq!(r, FireReport::default());
    assert_eq!(store.list_timers(&ids[4]).await.unwrap().len(), 2);
    // SUB2's due accept timer was not touched by SUB1's rounds.
    assert_eq!(
        store.list_timers(&elsewhere.ticket.id).await.unwrap().len(),
        2
    );
    assert_eq!(fired.lock().unwrap().len(), 4);
}

pub(crate) async fn concurrent_workers_fire_each_timer_once(store: S) {
    const TICKETS: usize = 300;
    let news: Vec<NewTicket> = (0..TICKETS)
        .map(|i| {
            let mut new = assigned(SUB1, G1, &format!("r{i}"), T0, grid_chief(G1));
            new.timers.truncate(1); // the accept timer, due at T0 + 2 h
            new
        })
        .collect();
    futures::stream::iter(&news)
        .map(|n| {
            let store = Arc::clone(&store);
            async move { store.create_ticket(n).await.map(|_| ()) }
        })
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<Vec<()>, _>>()
        .unwrap();

    let now = T0 + Duration::hours(2);
    let calls: Arc<Mutex<HashMap<TicketId, usize>>> = Arc::default();
    let log = Arc::clone(&calls);
    let h = handler(move |_, mut ticket| {
        *log.lock().unwrap().entry(ticket.id).or_default() += 1;
        let event = ticket
            .apply(Command::Warn, SYSTEM_TIMER_ACTOR, "", now)
            .unwrap();
        Ok(TimerOutcome::Fire(TicketChange {
            ticket,
            events: vec![event.event],
            timers: None,
            idempotency: None,
            add_follower: None,
            task_result: None,
        }))
    });
    let workers: Vec<_> = (0..3)
        .map(|_| {
            let (store, h) = (Arc::clone(&store), Arc::clone(&h));
            tokio::spawn(async move {
                let mut fired = 0;
                loop {
                    let r = store
                        .fire_due_timers(&code(SUB1), now, 25, Duration::minutes(1), &*h)
                        .await
                        .unwrap();
                    assert_eq!(r.failed + r.dropped, 0, "{r:?}");
                    if r.fired == 0 {
                        return fired;
                    }
                    fired += r.fired;
                }
            })
        })
        .collect();
    let mut total = 0;
    for w in workers {
        total += w.await.unwrap();
    }
    // Workers stop when they find nothing unclaimed; sweep up anything a stopped
    // worker could not see because another held it.
    total += store
        .fire_due_timers(&code(SUB1), now, 1000, Duration::minutes(1), &*h)
        .await
        .unwrap()
        .fired;
    assert_eq!(total, TICKETS);
    let calls = calls.lock().unwrap().clone();
    assert_eq!(calls.len(), TICKETS);
    assert!(
        calls.values().all(|&n| n == 1),
        "each timer fired exactly once"
    );
    let mut warnings = 0;
    let mut cursor = 0;
    loop {
        let batch = store
            .events_since(&[code(SUB1)], cursor, 500)
            .await
            .unwrap();
        let Some(last) = batch.last() else { break };
        cursor = last.cursor;
        warnings += batch
            .iter()
            .filter(|e| e.event.event.kind == EventKind::DeadlineWarning)
            .count();
    }
    assert_eq!(warnings, TICKETS);
    assert!(
        store
            .subdistricts_with_due_timers(now + Duration::days(1))
            .await
            .unwrap()
            .is_empty()
    );
    let distinct: HashSet<_> = news.iter().map(|n| n.ticket.id).collect();
    assert_eq!(distinct.len(), TICKETS);
}
