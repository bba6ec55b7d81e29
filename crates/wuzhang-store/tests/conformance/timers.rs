//! Timers ([`TimerStore`](wuzhang_store::TimerStore)): listed, replaced, where they are due.

use std::sync::Arc;

use time::Duration;
use wuzhang_domain::chief::ChiefLevel;
use wuzhang_domain::ticket::{Command, TicketId};
use wuzhang_domain::timer::TimerKind;

use crate::fixtures::*;
use crate::{S, invalid_field};

pub(crate) async fn timers_are_listed_and_replaced(store: S) {
    let new = assigned(SUB1, G1, "r1", T0, grid_chief(G1));
    store.create_ticket(&new).await.unwrap();
    let timers = store.list_timers(&new.ticket.id).await.unwrap();
    assert_eq!(
        timers.iter().map(|t| t.kind).collect::<Vec<_>>(),
        [TimerKind::Accept, TimerKind::Resolve]
    );
    let mut c = change(&new.ticket, Command::Note, T0);
    let warning = timer(
        &c.ticket,
        TimerKind::Warning,
        T0 + Duration::minutes(90),
        ChiefLevel::Grid,
    );
    let supervision = timer(
        &c.ticket,
        TimerKind::Supervision,
        T0 + Duration::minutes(30),
        ChiefLevel::Grid,
    );
    c.timers = Some(vec![warning.clone(), supervision.clone()]);
    store.update_ticket(&c).await.unwrap();
    assert_eq!(
        store.list_timers(&new.ticket.id).await.unwrap(),
        [supervision, warning]
    );

    let other = submitted(SUB1, G1, "r2", T0);
    let mut bad = change(&c.ticket, Command::Note, T0);
    bad.timers = Some(vec![timer(
        &other.ticket,
        TimerKind::Accept,
        T0,
        ChiefLevel::Grid,
    )]);
    assert_eq!(
        invalid_field(&store.update_ticket(&bad).await.unwrap_err()),
        "timers"
    );
    assert!(
        store
            .list_timers(&TicketId::new(T0))
            .await
            .unwrap()
            .is_empty()
    );
}

pub(crate) async fn subdistricts_with_due_timers(store: S) {
    // SUB1 timers at +2 h and +24 h, SUB2 at +3 h and +25 h.
    store
        .create_ticket(&assigned(SUB1, G1, "r1", T0, grid_chief(G1)))
        .await
        .unwrap();
    let lane = assignment(ChiefLevel::Lane, LN2, None);
    store
        .create_ticket(&assigned(SUB2, G3, "r2", T0 + Duration::hours(1), lane))
        .await
        .unwrap();
    let due = |at| {
        let store = Arc::clone(&store);
        async move {
            let codes = store.subdistricts_with_due_timers(at).await.unwrap();
            codes
                .iter()
                .map(|c| c.as_str().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert!(due(T0).await.is_empty());
    assert_eq!(
        due(T0 + Duration::hours(2)).await,
        [SUB1],
        "due at exactly now counts"
    );
    assert_eq!(due(T0 + Duration::hours(4)).await, [SUB1, SUB2]);
}
