//! Reading tickets back ([`TicketStore`](wuzhang_store::TicketStore)): every filter, the
//! orders and pages, counts by state and grid, event counts.

use std::sync::Arc;

use time::Duration;
use wuzhang_domain::category::CategoryCode;
use wuzhang_domain::chief::ChiefLevel;
use wuzhang_domain::event::EventKind;
use wuzhang_domain::point::{Crs, GeoPoint};
use wuzhang_domain::ticket::{
    Command, Pause, Severity, SupervisionOrder, Ticket, TicketId, TicketState,
};
use wuzhang_store::{PageRequest, TicketGrouping, TicketOrder, TicketQuery, TimerOutcome};

use crate::firing::{escalate, handler};
use crate::fixtures::*;
use crate::{S, invalid_field};

/// Four tickets to filter: (A) SUB1/G1 by r1 at the grid chief, (B) SUB1/G2 by r2
/// just submitted in another category under a supervision order, (C) SUB2/G3 by r1 at the lane chief, urgent,
/// (D) SUB1/G1 by r1 assigned then cancelled. A's chief has asked for a pause.
async fn four_tickets(store: &S) -> [Ticket; 4] {
    let mut a = assigned(SUB1, G1, "r1", T0, grid_chief(G1));
    a.ticket.pause = Pause::Requested;
    let mut b = submitted_in(SUB1, G2, "r2", "0102", T0 + Duration::minutes(1));
    b.ticket.supervision = Some(SupervisionOrder {
        severity: Severity::Critical,
        deadline: T0 + Duration::days(1),
        note: "限期办结".into(),
        issued_by: "cc-1".into(),
        issued_at: T0 + Duration::minutes(1),
    });
    b.ticket.supervision_count = 1;
    let mut c = assigned(
        SUB2,
        G3,
        "r1",
        T0 + Duration::minutes(2),
        assignment(ChiefLevel::Lane, LN2, Some("p-lane")),
    );
    c.ticket.report.urgent = true;
    let mut d = assigned(SUB1, G1, "r1", T0 + Duration::minutes(3), grid_chief(G1));
    let e = d
        .ticket
        .apply(Command::Cancel, "r1", "", T0 + Duration::minutes(3))
        .unwrap();
    d.events.push(e.event);
    d.timers.clear();
    for t in [&a, &b, &c, &d] {
        store.create_ticket(t).await.unwrap();
    }
    [a.ticket, b.ticket, c.ticket, d.ticket]
}

pub(crate) async fn ids(store: &S, query: TicketQuery) -> Vec<TicketId> {
    let page = store
        .list_tickets(&query, &PageRequest::first(100))
        .await
        .unwrap();
    assert_eq!(page.next_token, None);
    page.items.into_iter().map(|t| t.id).collect()
}

/// Counts per state and per grid in one query each, and events by kind and time: what
/// a command center's overview is made of.
pub(crate) async fn tickets_and_events_are_counted(store: S) {
    let tickets = four_tickets(&store).await;
    let by = |q: TicketQuery, g| {
        let store = &store;
        async move { store.count_tickets_by(&q, g).await.unwrap() }
    };
    let owned = |pairs: &[(&str, u64)]| -> Vec<(String, u64)> {
        pairs.iter().map(|(k, n)| ((*k).to_owned(), *n)).collect()
    };
    assert_eq!(
        by(TicketQuery::default(), TicketGrouping::State).await,
        owned(&[("assigned", 2), ("cancelled", 1), ("submitted", 1)])
    );
    let sub2 = TicketQuery {
        subdistrict_codes: vec![code(SUB2)],
        ..TicketQuery::default()
    };
    assert_eq!(
        by(sub2.clone(), TicketGrouping::State).await,
        owned(&[("assigned", 1)])
    );
    let mut grids = owned(&[(G1, 2), (G2, 1), (G3, 1)]);
    grids.sort();
    assert_eq!(
        by(TicketQuery::default(), TicketGrouping::Grid).await,
        grids
    );
    // Filters apply as in a listing: open tickets of SUB1 per grid.
    let open_sub1 = TicketQuery {
        subdistrict_codes: vec![code(SUB1)],
        states: vec![TicketState::Submitted, TicketState::Assigned],
        ..TicketQuery::default()
    };
    assert_eq!(
        by(open_sub1, TicketGrouping::Grid).await,
        owned(&[(G1, 1), (G2, 1)])
    );

    // Events, against what the log holds.
    let mut all = Vec::new();
    for t in &tickets {
        all.extend(store.list_events(&t.id, 0, 100).await.unwrap());
    }
    let early = T0 - Duration::hours(1);
    assert_eq!(
        store.count_events(&[], &[], early).await.unwrap(),
        all.len() as u64
    );
    let in_sub2 = all.iter().filter(|e| e.subdistrict_code.as_str() == SUB2);
    assert_eq!(
        store.count_events(&[code(SUB2)], &[], early).await.unwrap(),
        in_sub2.count() as u64
    );
    assert_eq!(
        store
            .count_events(&[], &[EventKind::Cancelled], early)
            .await
            .unwrap(),
        1
    );
    let late = T0 + Duration::minutes(3);
    let since_late = all.iter().filter(|e| e.event.at >= late).count();
    assert!(since_late > 0 && since_late < all.len());
    assert_eq!(
        store.count_events(&[], &[], late).await.unwrap(),
        since_late as u64
    );
    assert_eq!(
        store
            .count_events(&[code(SUB2)], &[EventKind::Cancelled], early)
            .await
            .unwrap(),
        0
    );
}

pub(crate) async fn list_tickets_by_each_filter(store: S) {
    let [a, b, c, d] = four_tickets(&store).await;
    let (a, b, c, d) = (a.id, b.id, c.id, d.id);
    let q = TicketQuery::default;
    assert_eq!(ids(&store, q()).await, [d, c, b, a], "newest first");
    let subs = |s: &[&str]| TicketQuery {
        subdistrict_codes: s.iter().map(|c| code(c)).collect(),
        ..q()
    };
    assert_eq!(ids(&store, subs(&[SUB1])).await, [d, b, a]);
    assert_eq!(ids(&store, subs(&[SUB2, SUB1])).await, [d, c, b, a]);
    assert_eq!(ids(&store, subs(&["220102999"])).await, []);
    assert_eq!(
        ids(
            &store,
            TicketQuery {
                reporter_id: Some("r1".into()),
                ..q()
            }
        )
        .await,
        [d, c, a]
    );
    assert_eq!(
        ids(
            &store,
            TicketQuery {
                assignee_person_id: Some(pid("p-grid")),
                ..q()
            }
        )
        .await,
        [d, a]
    );
    assert_eq!(
        ids(
            &store,
            TicketQuery {
                assignee_area_codes: vec![code(LN2), code(G2)],
                ..q()
            }
        )
        .await,
        [c]
    );
    assert_eq!(
        ids(
            &store,
            TicketQuery {
                states: vec![TicketState::Submitted],
                ..q()
            }
        )
        .await,
        [b]
    );
    assert_eq!(
        ids(
            &store,
            TicketQuery {
                states: vec![TicketState::Assigned, TicketState::Cancelled],
                ..q()
            }
        )
        .await,
        [d, c, a]
    );
    assert_eq!(
        ids(
            &store,
            TicketQuery {
                level: Some(ChiefLevel::Grid),
                ..q()
            }
        )
        .await,
        [d, a]
    );
    assert_eq!(
        ids(
            &store,
            TicketQuery {
                grid_code: Some(code(G2)),
                ..q()
            }
        )
        .await,
        [b]
    );
    let cat = Some(CategoryCode::new("0102").unwrap());
    assert_eq!(
        ids(
            &store,
            TicketQuery {
                category_code: cat,
                ..q()
            }
        )
        .await,
        [b]
    );
    // Overdue: open, with a deadline before the instant (accept deadlines at +2 h).
    let overdue = |at| TicketQuery {
        overdue_at: Some(at),
        ..q()
    };
    assert_eq!(ids(&store, overdue(T0 + Duration::hours(1))).await, []);
    assert_eq!(ids(&store, overdue(T0 + Duration::minutes(121))).await, [a]);
    assert_eq!(ids(&store, overdue(T0 + Duration::hours(3))).await, [c, a]);
    let window = TicketQuery {
        created_from: Some(T0 + Duration::minutes(1)),
        created_before: Some(T0 + Duration::minutes(3)),
        ..q()
    };
    assert_eq!(ids(&store, window).await, [c, b]);
    let paused = |p| TicketQuery {
        pause: Some(p),
        ..q()
    };
    assert_eq!(ids(&store, paused(Pause::Requested)).await, [a]);
    assert_eq!(ids(&store, paused(Pause::None)).await, [d, c, b]);
    assert_eq!(ids(&store, paused(Pause::Paused)).await, []);
    let urgent = TicketQuery {
        urgent_only: true,
        ..q()
    };
    assert_eq!(ids(&store, urgent).await, [c]);
    let supervised = TicketQuery {
        supervised_only: true,
        ..q()
    };
    assert_eq!(ids(&store, supervised).await, [b]);
    let combined = TicketQuery {
        reporter_id: Some("r1".into()),
        subdistrict_codes: vec![code(SUB1)],
        states: vec![TicketState::Assigned],
        ..q()
    };
    assert_eq!(ids(&store, combined).await, [a]);
    let due = TicketQuery {
        order: TicketOrder::DueSoonest,
        ..q()
    };
    // a: +2 h, c: +2 h 2 min; b and d have no deadline: oldest first.
    assert_eq!(ids(&store, due).await, [a, c, b, d]);
}

/// The inbox filters (assignee person, assignee area) find a ticket under whoever holds
/// it now, whichever write moved it: the timer worker's batch, a single update, a
/// vacant post; and a write that keeps the assignment keeps it findable.
pub(crate) async fn assignee_filters_follow_each_reassignment(store: S) {
    let a = assigned(SUB1, G1, "r1", T0, grid_chief(G1));
    let other = assigned(SUB1, G1, "r2", T0 + Duration::seconds(1), grid_chief(G1));
    store.create_ticket(&a).await.unwrap();
    store.create_ticket(&other).await.unwrap();
    let by_person = |p: &str| TicketQuery {
        assignee_person_id: Some(pid(p)),
        ..TicketQuery::default()
    };
    let by_area = |c: &str| TicketQuery {
        assignee_area_codes: vec![code(c)],
        ..TicketQuery::default()
    };
    let (a_id, other_id) = (a.ticket.id, other.ticket.id);
    assert_eq!(ids(&store, by_person("p-grid")).await, [other_id, a_id]);

    // The timer worker moves `a` to the lane chief.
    let now = T0 + Duration::hours(3);
    let only_a = a_id;
    let h = handler(move |_, mut ticket| {
        Ok(if ticket.id == only_a {
            TimerOutcome::Fire(escalate(&mut ticket, now))
        } else {
            TimerOutcome::Drop
        })
    });
    store
        .fire_due_timers(&code(SUB1), now, 10, Duration::minutes(1), &*h)
        .await
        .unwrap();
    assert_eq!(ids(&store, by_person("p-grid")).await, [other_id]);
    assert_eq!(ids(&store, by_person("p-lane")).await, [a_id]);
    assert_eq!(ids(&store, by_area(LN1)).await, [a_id]);
    assert_eq!(ids(&store, by_area(G1)).await, [other_id]);

    // A note keeps the assignment; a single update moves it on to a vacant post.
    let lane = store.get_ticket(&a_id).await.unwrap();
    let note = change(&lane, Command::Note, now + Duration::minutes(1));
    store.update_ticket(&note).await.unwrap();
    assert_eq!(ids(&store, by_person("p-lane")).await, [a_id]);
    let to = assignment(ChiefLevel::Street, ST1, None);
    let up = change(
        &note.ticket,
        Command::Escalate { to, auto: false },
        now + Duration::minutes(2),
    );
    store.update_ticket(&up).await.unwrap();
    assert_eq!(ids(&store, by_person("p-lane")).await, []);
    assert_eq!(ids(&store, by_area(LN1)).await, []);
    assert_eq!(ids(&store, by_area(ST1)).await, [a_id]);
    assert_eq!(
        store.count_tickets(&by_area(ST1)).await.unwrap(),
        1,
        "counts filter the same way"
    );
}

pub(crate) async fn list_tickets_orders_and_pages(store: S) {
    let mut made = Vec::new();
    for i in 0..13i64 {
        // Pairs share a creation time, so ties fall to the id.
        let at = T0 + Duration::minutes(i / 2);
        let mut new = assigned(SUB1, G1, &format!("r{i}"), at, grid_chief(G1));
        match i % 3 {
            0 => {
                new.ticket.accept_due_at = None;
                new.ticket.resolve_due_at = None;
            }
            // Several share one deadline; one's resolve deadline comes first (an
            // escalation restarted its accept clock): its nearest deadline is that one.
            1 => {
                new.ticket.accept_due_at = Some(T0 + Duration::hours(3));
                if i == 7 {
                    new.ticket.resolve_due_at = Some(T0 + Duration::minutes(30));
                }
            }
            _ => {
                new.ticket.accept_due_at = None;
                new.ticket.resolve_due_at = Some(T0 + Duration::minutes(100 - 7 * i));
            }
        }
        new.timers.clear();
        store.create_ticket(&new).await.unwrap();
        made.push(new.ticket);
    }
    // Another subdistrict's ticket stays out of the filtered walk.
    store
        .create_ticket(&submitted(SUB2, G3, "rx", T0))
        .await
        .unwrap();

    let walk = |order: TicketOrder, size: u32| {
        let store = Arc::clone(&store);
        async move {
            let query = TicketQuery {
                subdistrict_codes: vec![code(SUB1)],
                order,
                ..Default::default()
            };
            let mut page = PageRequest::first(size);
            let mut out = Vec::new();
            loop {
                let got = store.list_tickets(&query, &page).await.unwrap();
                assert!(got.items.len() <= size as usize);
                out.extend(got.items);
                match got.next_token {
                    Some(t) => page.token = Some(t),
                    None => return out,
                }
            }
        }
    };

    let mut newest = made.clone();
    newest.sort_by_key(|t| std::cmp::Reverse((t.created_at, t.id)));
    assert_eq!(walk(TicketOrder::NewestFirst, 5).await, newest);
    assert_eq!(walk(TicketOrder::NewestFirst, 13).await, newest);

    let due_key = |t: &Ticket| {
        (
            t.next_deadline().is_none(),
            t.next_deadline(),
            t.created_at,
            t.id,
        )
    };
    let mut soonest = made.clone();
    soonest.sort_by_key(due_key);
    assert_eq!(walk(TicketOrder::DueSoonest, 4).await, soonest);
    assert_eq!(walk(TicketOrder::DueSoonest, 1).await, soonest);
    // The same order in an inbox (open tickets of an area: the inbox index's key).
    let inbox = TicketQuery {
        assignee_area_codes: vec![code(G1)],
        states: vec![TicketState::Assigned],
        order: TicketOrder::DueSoonest,
        ..Default::default()
    };
    let mut page = PageRequest::first(3);
    let mut walked = Vec::new();
    loop {
        let got = store.list_tickets(&inbox, &page).await.unwrap();
        walked.extend(got.items);
        match got.next_token {
            Some(t) => page.token = Some(t),
            None => break,
        }
    }
    assert_eq!(walked, soonest);
    // Overdue: past the nearest deadline, whichever it is (#7's resolve deadline).
    let overdue = TicketQuery {
        subdistrict_codes: vec![code(SUB1)],
        overdue_at: Some(T0 + Duration::hours(1)),
        ..Default::default()
    };
    let late: Vec<_> = store
        .list_tickets(&overdue, &PageRequest::first(50))
        .await
        .unwrap()
        .items
        .iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(late, [made[11].id, made[8].id, made[7].id]);
    assert_eq!(store.count_tickets(&overdue).await.unwrap(), 3);

    // A token is for the order that made it.
    let query = TicketQuery::default();
    let token = store
        .list_tickets(&query, &PageRequest::first(2))
        .await
        .unwrap()
        .next_token;
    let other = TicketQuery {
        order: TicketOrder::DueSoonest,
        ..Default::default()
    };
    let err = store
        .list_tickets(&other, &PageRequest { size: 2, token })
        .await
        .unwrap_err();
    assert_eq!(invalid_field(&err), "page_token");
}

pub(crate) async fn list_tickets_within_a_box(store: S) {
    let mut near = submitted(SUB1, G1, "r1", T0);
    near.ticket.report.location = GeoPoint::new(43.9, 125.3, Crs::Wgs84).unwrap();
    let mut edge = submitted(SUB1, G1, "r1", T0 + Duration::SECOND);
    edge.ticket.report.location = GeoPoint::new(43.91, 125.31, Crs::Wgs84).unwrap();
    let mut far = submitted(SUB1, G1, "r1", T0 + Duration::SECOND * 2);
    far.ticket.report.location = GeoPoint::new(43.95, 125.3, Crs::Wgs84).unwrap();
    for t in [&near, &edge, &far] {
        store.create_ticket(t).await.unwrap();
    }
    let found = ids(
        &store,
        TicketQuery {
            within: Some(bbox(125.29, 43.89, 125.31, 43.91)),
            order: TicketOrder::NewestFirst,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(found, [edge.ticket.id, near.ticket.id]);
}

pub(crate) async fn count_tickets_and_event_cursor_head(store: S) {
    assert_eq!(store.event_cursor_head().await.unwrap(), 0);
    let [a, b, ..] = four_tickets(&store).await;
    let all = store.count_tickets(&TicketQuery::default()).await.unwrap();
    assert_eq!(all, 4);
    let mine = TicketQuery {
        reporter_id: Some(a.report.reporter_id.clone()),
        ..Default::default()
    };
    let listed = ids(&store, mine.clone()).await;
    assert_eq!(
        store.count_tickets(&mine).await.unwrap(),
        listed.len() as u64
    );
    let head = store.event_cursor_head().await.unwrap();
    let newest = store.events_since(&[], 0, 1000).await.unwrap();
    assert_eq!(head, newest.last().unwrap().cursor);
    store
        .update_ticket(&change(&b, Command::Note, b.updated_at + Duration::SECOND))
        .await
        .unwrap();
    assert!(store.event_cursor_head().await.unwrap() > head);
}

/// Walks every page of `query`, `size` at a time.
async fn walk_ids(store: &S, query: &TicketQuery, size: u32) -> Vec<TicketId> {
    let mut page = PageRequest::first(size);
    let mut out = Vec::new();
    loop {
        let got = store.list_tickets(query, &page).await.unwrap();
        assert!(got.items.len() <= size as usize);
        out.extend(got.items.into_iter().map(|t| t.id));
        match got.next_token {
            Some(t) => page.token = Some(t),
            None => return out,
        }
    }
}

/// A chief's inbox (their areas' open tickets, nearest deadline first) follows each change
/// of deadline and of state, page by page, as the same listing without the area does:
/// Postgres orders it by a copy of the deadline beside the assignment (migration 0013),
/// which every ticket write has to keep.
pub(crate) async fn inbox_follows_deadlines_and_states(store: S) {
    let at = |m: i64| T0 + Duration::minutes(m);
    let mut made = Vec::new();
    for (i, r) in ["r1", "r2", "r3"].into_iter().enumerate() {
        let new = assigned(SUB1, G1, r, at(i as i64), grid_chief(G1));
        store.create_ticket(&new).await.unwrap();
        made.push(new.ticket);
    }
    // Another area's ticket, due first, stays out.
    let lane = assigned(SUB1, G1, "r4", T0 - Duration::hours(1), grid_chief(G2));
    store.create_ticket(&lane).await.unwrap();
    let [a, b, c] = [&made[0], &made[1], &made[2]].map(|t| t.id);
    let inbox = TicketQuery {
        assignee_area_codes: vec![code(G1)],
        states: vec![TicketState::Assigned, TicketState::Accepted],
        order: TicketOrder::DueSoonest,
        ..TicketQuery::default()
    };
    let check = |want: Vec<TicketId>| {
        let (store, inbox) = (Arc::clone(&store), inbox.clone());
        async move {
            for size in [1, 2, 50] {
                assert_eq!(
                    walk_ids(&store, &inbox, size).await,
                    want,
                    "pages of {size}"
                );
            }
            let own = TicketQuery {
                assignee_area_codes: Vec::new(),
                grid_code: Some(code(G1)),
                ..inbox.clone()
            };
            let own: Vec<TicketId> = walk_ids(&store, &own, 50)
                .await
                .into_iter()
                .filter(|id| want.contains(id))
                .collect();
            assert_eq!(own, want, "the tickets' own deadlines order alike");
            assert_eq!(
                store.count_tickets(&inbox).await.unwrap(),
                want.len() as u64
            );
        }
    };
    check(vec![a, b, c]).await;

    // Accepting `a` ends its accept clock: its resolve deadline (+24 h) now comes last.
    let mut accept = change(&made[0], Command::Accept, at(10));
    accept.ticket.accept_due_at = None;
    store.update_ticket(&accept).await.unwrap();
    check(vec![b, c, a]).await;

    // `b` accepted and resolved leaves the open inbox, and sorts last (no deadline) where
    // every state is asked for.
    let mut accept_b = change(&made[1], Command::Accept, at(11));
    accept_b.ticket.accept_due_at = None;
    let stored = store.update_ticket(&accept_b).await.unwrap();
    let mut resolve = change(&stored, Command::Resolve, at(12));
    resolve.ticket.resolve_due_at = None;
    store.update_ticket(&resolve).await.unwrap();
    check(vec![c, a]).await;
    let any_state = TicketQuery {
        states: Vec::new(),
        ..inbox.clone()
    };
    assert_eq!(walk_ids(&store, &any_state, 1).await, [c, a, b]);

    // Overdue at +3 h: `c`'s accept deadline (+2 h) has passed, `a`'s resolve (+24 h) not.
    let overdue = TicketQuery {
        overdue_at: Some(T0 + Duration::hours(3)),
        ..inbox.clone()
    };
    assert_eq!(walk_ids(&store, &overdue, 1).await, [c]);
}

/// A capped count is exact up to the cap and an estimate above it, never below the cap.
pub(crate) async fn tickets_are_counted_up_to_a_cap(store: S) {
    four_tickets(&store).await;
    let all = TicketQuery::default();
    for cap in [4, 5, 1000] {
        let n = store.count_tickets_capped(&all, cap).await.unwrap();
        assert_eq!((n.n, n.exact), (4, true), "cap {cap}");
    }
    for cap in [0, 1, 3] {
        let n = store.count_tickets_capped(&all, cap).await.unwrap();
        assert!(!n.exact && n.n > cap, "cap {cap}: {n:?}");
    }
    let none = TicketQuery {
        subdistrict_codes: vec![code("220102999")],
        ..TicketQuery::default()
    };
    let n = store.count_tickets_capped(&none, 0).await.unwrap();
    assert_eq!((n.n, n.exact), (0, true));
    // The filters are the listing's: open tickets of SUB1 in G1.
    let open_g1 = TicketQuery {
        subdistrict_codes: vec![code(SUB1)],
        grid_code: Some(code(G1)),
        states: vec![TicketState::Submitted, TicketState::Assigned],
        ..TicketQuery::default()
    };
    let n = store.count_tickets_capped(&open_g1, 10).await.unwrap();
    assert_eq!((n.n, n.exact), (1, true));
}
