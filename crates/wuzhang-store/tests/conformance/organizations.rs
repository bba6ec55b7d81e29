//! Organizations, and tickets they hold, on both backends.

use time::Duration;
use wuzhang_domain::chief::PersonId;
use wuzhang_domain::event::EventKind;
use wuzhang_domain::organization::{Organization, OrganizationCode, OrganizationKind};
use wuzhang_domain::ticket::{Assignment, Command};
use wuzhang_store::{PageRequest, TicketOrder, TicketQuery};

use crate::S;
use crate::fixtures::*;

fn org(c: &str, areas: &[&str]) -> Organization {
    Organization {
        code: OrganizationCode::new(c).unwrap(),
        name: format!("{c} 物业"),
        kind: OrganizationKind::PropertyCompany,
        org_type: "property".into(),
        red_heart: true,
        areas: areas.iter().map(|a| code(a)).collect(),
        staff: vec![PersonId::new("s-1").unwrap()],
        calendar_code: Some("cn".into()),
    }
}

pub(crate) async fn organizations_round_trip_and_hold_tickets(store: S) {
    assert!(store.organizations().await.unwrap().is_empty());
    let counters = store.reference_change_counters().await.unwrap();
    let wy = org("wy-1", &[B1, G1]);
    let mut gr = org("gr-1", &[SUB2]);
    gr.kind = OrganizationKind::Department;
    gr.red_heart = false;
    gr.org_type = "heating".into();
    gr.calendar_code = None;
    store
        .upsert_organizations(&[wy.clone(), gr.clone()])
        .await
        .unwrap();
    assert_eq!(
        store.organizations().await.unwrap(),
        [gr.clone(), wy.clone()]
    );
    // A changed import replaces by code, and moves the roster counter (caches drop them).
    let mut wy2 = wy.clone();
    wy2.staff.push(PersonId::new("s-2").unwrap());
    store.upsert_organizations(&[wy2.clone()]).await.unwrap();
    assert_eq!(store.organizations().await.unwrap(), [gr.clone(), wy2]);
    assert!(store.reference_change_counters().await.unwrap().roster > counters.roster);
    // A bad one writes nothing of its batch.
    let mut bad = org("wy-3", &[G1]);
    bad.areas.clear();
    assert!(
        store
            .upsert_organizations(&[org("wy-4", &[G1]), bad])
            .await
            .is_err()
    );
    assert_eq!(store.organizations().await.unwrap().len(), 2);

    // A ticket an organization holds keeps it on the ticket and on its events, and the
    // organization's inbox finds it.
    let held = Assignment::organization(wy.code.clone(), code(G1), Some(pid("p-grid")));
    let t = assigned(SUB1, G1, "r1", T0, held.clone());
    let chain = assigned(SUB1, G1, "r2", T0, grid_chief(G1));
    store.create_ticket(&t).await.unwrap();
    store.create_ticket(&chain).await.unwrap();
    let read = store.get_ticket(&t.ticket.id).await.unwrap();
    assert_eq!(read.assignment, Some(held));
    let events = store.list_events(&t.ticket.id, 0, 10).await.unwrap();
    assert_eq!(
        events.last().unwrap().event.assignee_org_code,
        Some(wy.code.clone())
    );
    let inbox = |orgs: Vec<OrganizationCode>| TicketQuery {
        assignee_org_codes: orgs,
        order: TicketOrder::DueSoonest,
        ..Default::default()
    };
    let page = store
        .list_tickets(&inbox(vec![wy.code.clone()]), &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(
        page.items.iter().map(|t| t.id).collect::<Vec<_>>(),
        [t.ticket.id]
    );
    assert!(
        store
            .list_tickets(&inbox(vec![gr.code.clone()]), &PageRequest::first(10))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    // Returned to the command center: the organization's inbox empties, the event says so.
    let mut back = change(
        &read,
        Command::Return {
            to: assignment(wuzhang_domain::chief::ChiefLevel::CommandCenter, SUB1, None),
        },
        T0 + Duration::minutes(5),
    );
    back.timers = None;
    let written = store.update_ticket(&back).await.unwrap();
    assert_eq!(written.assignment.unwrap().organization, None);
    let events = store.list_events(&t.ticket.id, 0, 10).await.unwrap();
    let last = &events.last().unwrap().event;
    assert_eq!(
        (last.kind, last.assignee_org_code.clone()),
        (EventKind::Returned, None)
    );
    assert_eq!(
        store
            .count_tickets(&inbox(vec![wy.code.clone()]))
            .await
            .unwrap(),
        0
    );
}
