//! Emergency modes ([`EmergencyStore`](wuzhang_store::EmergencyStore)): the mode as
//! switched last, the switches in order, a ticket's clock rate round trip, and the open
//! tickets a switch has still to carry over.

use time::Duration;
use wuzhang_domain::emergency::{ClockRate, EmergencyMode};
use wuzhang_domain::ticket::Command;

use crate::S;
use crate::fixtures::*;

pub(crate) async fn emergency_modes_switch_and_tickets_carry_their_rate(store: S) {
    let twice = ClockRate::from_hundredths("rate", 200).unwrap();
    assert!(store.emergency_modes().await.unwrap().is_empty());
    let on = EmergencyMode {
        rate: twice,
        since: T0,
        switched_by: "cc-1".into(),
        reason: "暴雨红色预警".into(),
    };
    store.switch_emergency_mode(&code(SUB1), &on).await.unwrap();
    let off = EmergencyMode {
        rate: ClockRate::PEACETIME,
        since: T0 + Duration::hours(6),
        switched_by: "cc-2".into(),
        reason: "预警解除".into(),
    };
    store.switch_emergency_mode(&code(SUB2), &on).await.unwrap();
    store
        .switch_emergency_mode(&code(SUB1), &off)
        .await
        .unwrap();
    assert_eq!(
        store.emergency_modes().await.unwrap(),
        [(code(SUB1), off.clone()), (code(SUB2), on.clone())]
    );
    assert_eq!(
        store.emergency_mode(&code(SUB2)).await.unwrap(),
        Some(on.clone())
    );
    assert_eq!(store.emergency_mode(&code(G1)).await.unwrap(), None);
    assert_eq!(
        store.emergency_switches().await.unwrap(),
        [
            (code(SUB1), on.clone()),
            (code(SUB1), off),
            (code(SUB2), on.clone())
        ]
    );

    // Tickets keep their rate; those of another rate are the ones still to carry over.
    let a = assigned(SUB2, G3, "r1", T0, grid_chief(G3));
    let mut b = assigned(SUB2, G3, "r2", T0, grid_chief(G3));
    b.ticket.clock_rate = twice;
    let closed = assigned(SUB2, G3, "r3", T0, grid_chief(G3));
    let other = assigned(SUB1, G1, "r4", T0, grid_chief(G1));
    for t in [&a, &b, &closed, &other] {
        store.create_ticket(t).await.unwrap();
    }
    assert_eq!(
        store.get_ticket(&b.ticket.id).await.unwrap().clock_rate,
        twice
    );
    let mut cancel = change(&closed.ticket, Command::Cancel, T0 + Duration::minutes(1));
    cancel.ticket.accept_due_at = None;
    cancel.ticket.resolve_due_at = None;
    cancel.timers = Some(Vec::new());
    store.update_ticket(&cancel).await.unwrap();
    let ids = |ts: Vec<wuzhang_domain::ticket::Ticket>| {
        let mut ids: Vec<_> = ts.into_iter().map(|t| t.id).collect();
        ids.sort();
        ids
    };
    let behind = store
        .tickets_off_rate(&code(SUB2), twice, 10)
        .await
        .unwrap();
    assert_eq!(ids(behind), [a.ticket.id]);
    let behind = store
        .tickets_off_rate(&code(SUB2), ClockRate::PEACETIME, 10)
        .await
        .unwrap();
    assert_eq!(ids(behind), [b.ticket.id]);
    let mut change_b = change(
        &b.ticket,
        Command::SetClockRate {
            from: twice,
            to: ClockRate::PEACETIME,
        },
        T0 + Duration::minutes(2),
    );
    change_b.timers = None;
    let written = store.update_ticket(&change_b).await.unwrap();
    assert_eq!(written.clock_rate, ClockRate::PEACETIME);
    assert!(
        store
            .tickets_off_rate(&code(SUB2), ClockRate::PEACETIME, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .tickets_off_rate(&code(SUB2), twice, 1)
            .await
            .unwrap()
            .len(),
        1,
        "up to the limit"
    );
}
