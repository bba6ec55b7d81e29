//! Rollups ([`RollupStore`](wuzhang_store::RollupStore)): events keep the facts evaluation
//! reads; a step moves the cursor and adds its figures at once, or not at all.

use time::Duration;
use time::macros::date;
use wuzhang_domain::chief::ChiefLevel;
use wuzhang_domain::evaluation::{Figures, Ledger, Place, RowKey, Scope};
use wuzhang_domain::event::EventKind;
use wuzhang_domain::ticket::{Command, Rating, TicketState};
use wuzhang_store::{EvaluationQuery, RollupStep, StoreError, TicketLedger};

use crate::fixtures::*;
use crate::{S, seed_tree};

pub(crate) async fn events_keep_deadlines_and_ratings(store: S) {
    seed_tree(&store).await;
    let new = assigned(SUB1, G1, "r1", T0, grid_chief(G1));
    let t = store.create_ticket(&new).await.unwrap();
    let t = store
        .update_ticket(&change(&t, Command::Accept, T0 + Duration::minutes(30)))
        .await
        .unwrap();
    let t = store
        .update_ticket(&change(&t, Command::Resolve, T0 + Duration::hours(1)))
        .await
        .unwrap();
    let rating = Rating::new(4, false, "好".into()).unwrap();
    store
        .update_ticket(&change(&t, Command::Rate(rating), T0 + Duration::hours(2)))
        .await
        .unwrap();
    let events = store.list_events(&t.id, 0, 10).await.unwrap();
    let kinds: Vec<EventKind> = events.iter().map(|e| e.event.kind).collect();
    assert_eq!(
        kinds,
        [
            EventKind::Submitted,
            EventKind::Assigned,
            EventKind::Accepted,
            EventKind::Resolved,
            EventKind::Rated
        ]
    );
    // The assignment's write recorded the deadlines the ticket had after it.
    let assigned = &events[1].facts;
    assert_eq!(
        assigned.accept_due_at,
        Some(truncate(T0 + Duration::hours(2)))
    );
    assert_eq!(
        assigned.resolve_due_at,
        Some(truncate(T0 + Duration::hours(24)))
    );
    assert_eq!(assigned.rating_stars, None);
    // Accepting stops the accept clock (the change keeps the resolve clock); resolving
    // stops both; the rating is kept on its event only.
    assert_eq!(events[2].facts.accept_due_at, None);
    assert_eq!(events[3].facts.resolve_due_at, None);
    assert_eq!(events[3].facts.rating_stars, None);
    assert_eq!(events[4].facts.rating_stars, Some(4));
    assert_eq!(events[4].facts.rating_not_solved, Some(false));
    // The feed reads the same facts.
    let feed = store.events_since(&[], 0, 10).await.unwrap();
    assert_eq!(feed[4].event.facts, events[4].facts);
}

fn truncate(t: time::OffsetDateTime) -> time::OffsetDateTime {
    wuzhang_domain::clock::truncate_to_micros(t)
}

fn figures(received: i64, resolved: i64) -> Figures {
    Figures {
        received,
        resolved,
        ..Figures::default()
    }
}

fn chief_row(day: time::Date, person: &str, level: ChiefLevel) -> RowKey {
    RowKey {
        day,
        scope: Scope::Chief,
        key: person.into(),
        level: Some(level),
        emergency: false,
    }
}

pub(crate) async fn rollup_steps_add_up_and_move_the_cursor(store: S) {
    seed_tree(&store).await;
    let new = assigned(SUB1, G1, "r1", T0, grid_chief(G1));
    let t = store.create_ticket(&new).await.unwrap();
    assert_eq!(store.rollup_cursor().await.unwrap(), 0);
    let d1 = date!(2026 - 03 - 02);
    let d2 = date!(2026 - 03 - 03);
    let ledger = TicketLedger {
        ticket_id: t.id,
        subdistrict_code: code(SUB1),
        place: Place {
            grid: Some(code(G1)),
            subdistrict: Some(code(SUB1)),
            ..Place::default()
        },
        ledger: Ledger::default(),
    };
    let step = RollupStep {
        from_cursor: 0,
        to_cursor: 5,
        ledgers: vec![ledger.clone()],
        evaluation: vec![
            (
                code(SUB1),
                chief_row(d1, "p1", ChiefLevel::Grid),
                figures(2, 1),
            ),
            (
                code(SUB1),
                chief_row(d2, "p1", ChiefLevel::Lane),
                figures(1, 0),
            ),
            (
                code(SUB2),
                chief_row(d1, "p2", ChiefLevel::Grid),
                figures(7, 7),
            ),
        ],
        state_counts: vec![
            (code(SUB1), TicketState::Assigned, 3),
            (code(SUB1), TicketState::Closed, 1),
        ],
        grid_open: vec![(code(SUB1), code(G1), 2), (code(SUB1), code(G2), 1)],
        event_counts: vec![(code(SUB1), d1, EventKind::Escalated, 2)],
    };
    store.apply_rollup_step(&step).await.unwrap();
    assert_eq!(store.rollup_cursor().await.unwrap(), 5);
    // The same step again finds the cursor moved: nothing is added twice.
    match store.apply_rollup_step(&step).await {
        Err(StoreError::Conflict {
            current_version, ..
        }) => assert_eq!(current_version, 5),
        other => panic!("expected a conflict, got {other:?}"),
    }
    // A second step adds to the first.
    store
        .apply_rollup_step(&RollupStep {
            from_cursor: 5,
            to_cursor: 9,
            ledgers: vec![],
            evaluation: vec![
                (
                    code(SUB1),
                    chief_row(d1, "p1", ChiefLevel::Grid),
                    figures(1, 1),
                ),
                // A holding received in emergency mode: a row of its own.
                (
                    code(SUB1),
                    RowKey {
                        emergency: true,
                        ..chief_row(d1, "p1", ChiefLevel::Grid)
                    },
                    figures(5, 5),
                ),
            ],
            state_counts: vec![
                (code(SUB1), TicketState::Assigned, -1),
                (code(SUB1), TicketState::Closed, 1),
            ],
            // G2's one ticket closes: the grid drops out.
            grid_open: vec![(code(SUB1), code(G2), -1), (code(SUB2), code(G3), 1)],
            event_counts: vec![
                (code(SUB1), d1, EventKind::Escalated, 1),
                (code(SUB1), d1, EventKind::AutoEscalated, 1),
            ],
        })
        .await
        .unwrap();

    let period = |from, until| EvaluationQuery {
        subdistrict_codes: vec![code(SUB1)],
        scope: Scope::Chief,
        from,
        until,
        emergency: Some(false),
    };
    // The periods apart, and together.
    let both = store
        .evaluation_totals(&EvaluationQuery {
            emergency: None,
            ..period(d1, date!(2026 - 03 - 04))
        })
        .await
        .unwrap();
    assert_eq!(both[0].figures, figures(9, 7));
    let emergency = store
        .evaluation_totals(&EvaluationQuery {
            emergency: Some(true),
            ..period(d1, date!(2026 - 03 - 04))
        })
        .await
        .unwrap();
    assert_eq!(emergency[0].figures, figures(5, 5));
    assert_eq!(emergency[0].level, Some(ChiefLevel::Grid));
    // Both days of SUB1: one row for p1, its levels merged to the highest.
    let rows = store
        .evaluation_totals(&period(d1, date!(2026 - 03 - 04)))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].key, "p1");
    assert_eq!(rows[0].level, Some(ChiefLevel::Lane));
    assert_eq!(rows[0].figures, figures(4, 2));
    // The end is exclusive.
    let rows = store.evaluation_totals(&period(d1, d2)).await.unwrap();
    assert_eq!(rows[0].figures, figures(3, 2));
    assert_eq!(rows[0].level, Some(ChiefLevel::Grid));
    // Every subdistrict, ordered by key.
    let all = store
        .evaluation_totals(&EvaluationQuery {
            subdistrict_codes: vec![],
            ..period(d1, d2)
        })
        .await
        .unwrap();
    let keys: Vec<&str> = all.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, ["p1", "p2"]);
    // Another scope has no rows.
    assert!(
        store
            .evaluation_totals(&EvaluationQuery {
                scope: Scope::Grid,
                ..period(d1, d2)
            })
            .await
            .unwrap()
            .is_empty()
    );

    assert_eq!(
        store.state_counts(&code(SUB1)).await.unwrap(),
        [(TicketState::Assigned, 2), (TicketState::Closed, 2)]
    );
    assert_eq!(
        store.open_by_grid(&code(SUB1)).await.unwrap(),
        [(code(G1), 2)]
    );
    assert_eq!(
        store.open_by_grid(&code(SUB2)).await.unwrap(),
        [(code(G3), 1)]
    );
    let escalations = [EventKind::Escalated, EventKind::AutoEscalated];
    assert_eq!(
        store
            .event_day_count(&code(SUB1), d1, &escalations)
            .await
            .unwrap(),
        4
    );
    assert_eq!(
        store
            .event_day_count(&code(SUB1), d2, &escalations)
            .await
            .unwrap(),
        0
    );
    let kept = store.ticket_ledgers(&[t.id]).await.unwrap();
    assert_eq!(kept, vec![ledger]);
    let places = store.ticket_places(&[t.id]).await.unwrap();
    assert_eq!(places.len(), 1);
    assert_eq!(places[0].grid_code, code(G1));

    store.reset_rollups().await.unwrap();
    assert_eq!(store.rollup_cursor().await.unwrap(), 0);
    assert!(store.state_counts(&code(SUB1)).await.unwrap().is_empty());
    assert!(store.open_by_grid(&code(SUB1)).await.unwrap().is_empty());
    assert!(store.ticket_ledgers(&[t.id]).await.unwrap().is_empty());
    assert!(
        store
            .evaluation_totals(&period(d1, d2))
            .await
            .unwrap()
            .is_empty()
    );
}
