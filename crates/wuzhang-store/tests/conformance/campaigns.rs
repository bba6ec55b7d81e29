//! Campaigns ([`CampaignStore`](wuzhang_store::CampaignStore)): a campaign and its tasks are
//! written whole or not at all; a task's result is kept with its change.

use time::Duration;
use wuzhang_domain::campaign::{Campaign, CampaignId, TaskResult};
use wuzhang_domain::category::CategoryCode;
use wuzhang_domain::chief::ChiefLevel;
use wuzhang_domain::evaluation::Place;
use wuzhang_domain::ticket::{Command, TicketState};
use wuzhang_store::{NewCampaignTask, StoreError};

use crate::fixtures::*;
use crate::{S, seed_tree};

fn campaign(id: CampaignId) -> Campaign {
    Campaign {
        id,
        subdistrict_code: code(SUB1),
        area_code: code(SUB1),
        level: ChiefLevel::Grid,
        title: "入户排查".into(),
        instructions: String::new(),
        category_code: CategoryCode::new("0101").unwrap(),
        checklist: vec!["报警器".into()],
        counts: vec!["入户数".into()],
        deadline: T0 + Duration::days(2),
        created_by: "cc".into(),
        created_at: T0,
        tasks: 2,
    }
}

fn task(grid: &str, reporter: &str, at: time::OffsetDateTime) -> NewCampaignTask {
    NewCampaignTask {
        new: assigned(SUB1, grid, reporter, at, grid_chief(grid)),
        area_code: code(grid),
        place: Place {
            grid: Some(code(grid)),
            lane: Some(code(LN1)),
            street: Some(code(ST1)),
            subdistrict: Some(code(SUB1)),
        },
    }
}

pub(crate) async fn campaigns_are_written_whole_or_not_at_all(store: S) {
    seed_tree(&store).await;
    let id = CampaignId::new(T0);
    let tasks = vec![
        task(G1, "cc", T0),
        task(G2, "cc", T0 + Duration::microseconds(1)),
    ];
    let key = idempotency("cc/CreateCampaign", "c-1", T0);
    store
        .create_campaign(&campaign(id), &tasks, Some(&key))
        .await
        .unwrap();
    assert_eq!(store.get_campaign(&id).await.unwrap(), campaign(id));
    let rows = store.campaign_tasks(&id).await.unwrap();
    let grids: Vec<_> = rows.iter().map(|r| r.area_code.clone()).collect();
    assert_eq!(grids, [code(G1), code(G2)]);
    assert!(rows.iter().all(|r| r.state == TicketState::Assigned));
    assert_eq!(rows[0].place.lane, Some(code(LN1)));
    assert!(rows[0].resolve_due_at.is_some());
    let first = &tasks[0].new.ticket;
    assert_eq!(
        store
            .campaign_of_task(&first.id)
            .await
            .unwrap()
            .map(|c| c.id),
        Some(id)
    );
    // Its tickets are ordinary tickets, with their events.
    assert_eq!(store.list_events(&first.id, 0, 10).await.unwrap().len(), 2);

    // The same campaign id again: refused, and none of its new tickets is written.
    let again = vec![task(G1, "cc", T0 + Duration::seconds(5))];
    assert!(matches!(
        store.create_campaign(&campaign(id), &again, None).await,
        Err(StoreError::AlreadyExists {
            entity: "campaign",
            ..
        })
    ));
    assert!(matches!(
        store.get_ticket(&again[0].new.ticket.id).await,
        Err(StoreError::NotFound { .. })
    ));
    // The same key with a new campaign: refused as a taken key, nothing written.
    let other = CampaignId::new(T0 + Duration::seconds(6));
    let more = vec![task(G1, "cc", T0 + Duration::seconds(6))];
    let err = store
        .create_campaign(&campaign(other), &more, Some(&key))
        .await
        .unwrap_err();
    assert!(err.is_taken_request_id(), "{err:?}");
    assert!(matches!(
        store.get_campaign(&other).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.get_ticket(&more[0].new.ticket.id).await,
        Err(StoreError::NotFound { .. })
    ));

    // A result is kept with its task's change.
    let stored = store.get_ticket(&first.id).await.unwrap();
    let mut c = change(&stored, Command::Accept, T0 + Duration::minutes(5));
    let accepted = store.update_ticket(&c).await.unwrap();
    c = change(&accepted, Command::Resolve, T0 + Duration::minutes(9));
    let result = TaskResult {
        counts: vec![("入户数".into(), 12)],
        checked: vec!["报警器".into()],
    };
    c.task_result = Some(result.clone());
    store.update_ticket(&c).await.unwrap();
    let rows = store.campaign_tasks(&id).await.unwrap();
    assert_eq!(rows[0].state, TicketState::Resolved);
    assert_eq!(rows[0].result, Some(result.clone()));
    assert_eq!(rows[1].result, None);

    // On a ticket that is no task: Invalid, and the change is not written.
    let plain = store
        .create_ticket(&assigned(SUB1, G1, "r9", T0, grid_chief(G1)))
        .await
        .unwrap();
    let mut c = change(&plain, Command::Accept, T0 + Duration::minutes(1));
    c.task_result = Some(result);
    assert!(matches!(
        store.update_ticket(&c).await,
        Err(StoreError::Invalid { ref field, .. }) if field == "task_result"
    ));
    assert_eq!(
        store.get_ticket(&plain.id).await.unwrap().version,
        plain.version
    );
}
