//! The command center's commands on one ticket over real gRPC against the started binary:
//! verify (pass closes, fail sends it back to the chief with new clocks: 返工), reopen,
//! close, reject; scope (another subdistrict's center gets NOT_FOUND, a resident
//! PERMISSION_DENIED), required reasons named by field, optimistic concurrency and
//! idempotent retries. The same flow on both stores.

use std::time::Duration;

use futures::StreamExt;
use tonic::Code;
use tonic::transport::Channel;
#[path = "../harness.rs"]
mod harness;
use harness::{
    Server, assert_field, authed, fresh_pg_url, secs_from_now, seed_small_tree, submit_report,
};
use wuzhang_proto::v1::admin_service_client::AdminServiceClient;
use wuzhang_proto::v1::escalation_service_client::EscalationServiceClient;
use wuzhang_proto::v1::intake_service_client::IntakeServiceClient;
use wuzhang_proto::v1::supervision_service_client::SupervisionServiceClient;
use wuzhang_proto::v1::{
    AcceptTicketRequest, Category, ChiefLevel, CloseTicketRequest, Crs, EscalateTicketRequest,
    EventKind, GeoPoint, GetCategoryRequest, GetIncidentRequest, GetOverviewRequest, GridLight,
    ImportRosterRequest, IssueSupervisionRequest, ListInboxRequest, ListTicketsRequest,
    ListTicketsResponse, MergeTicketRequest, PauseState, RateIncidentRequest,
    ReassignTicketRequest, RejectTicketRequest, ReopenTicketRequest, RequestPauseRequest,
    ResolveTicketRequest, StateCount, SupervisionSeverity, Ticket, TicketEvent, TicketState,
    UpsertCategoryRequest, VerifyTicketRequest, WatchEventsRequest, WatchIncidentRequest,
};

const SUB: &str = "220102001";

type Desk = EscalationServiceClient<Channel>;
type Center = SupervisionServiceClient<Channel>;

/// A report from grid 1 of the small tree, category C0102 (starts at the grid chief).
async fn submit(server: &Server, resident: &str, id: &str) -> Ticket {
    let at = GeoPoint {
        lat: 43.807,
        lng: 125.307,
        crs: Crs::Wgs84 as i32,
    };
    submit_report(server, resident, id, "C0102", at).await
}

fn state(t: &Ticket) -> TicketState {
    TicketState::try_from(t.state).unwrap()
}

/// The grid chief accepts and resolves it.
async fn work(desk: &mut Desk, chief: &str, t: &Ticket, round: &str) -> Ticket {
    let accepted = desk
        .accept_ticket(authed(
            chief,
            AcceptTicketRequest {
                request_id: format!("acc-{round}"),
                ticket_id: t.id.clone(),
                expected_version: t.version,
                note: String::new(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let resolved = desk
        .resolve_ticket(authed(
            chief,
            ResolveTicketRequest {
                request_id: format!("res-{round}"),
                ticket_id: t.id.clone(),
                expected_version: accepted.version,
                note: "已修复".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state(&resolved), TicketState::Resolved);
    assert_eq!(
        resolved.accept_due_at, None,
        "a resolved ticket has no clocks"
    );
    resolved
}

/// The chief asks to pause `t` for an hour.
async fn ask_pause(desk: &mut Desk, chief: &str, t: &Ticket, rid: &str) -> Ticket {
    let until = secs_from_now(3600);
    desk.request_pause(authed(
        chief,
        RequestPauseRequest {
            request_id: rid.into(),
            ticket_id: t.id.clone(),
            expected_version: t.version,
            reason: "等待配件".into(),
            until: Some(until),
        },
    ))
    .await
    .unwrap()
    .into_inner()
}

/// The ticket with its history, as its reporter reads it.
async fn as_resident_sees(server: &Server, resident: &str, t: &Ticket) -> Ticket {
    let mut intake = IntakeServiceClient::new(server.channel().await.unwrap());
    intake
        .get_incident(authed(
            resident,
            GetIncidentRequest {
                ticket_id: t.id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
}

fn verify(rid: &str, t: &Ticket, pass: bool, note: &str) -> VerifyTicketRequest {
    VerifyTicketRequest {
        request_id: rid.into(),
        ticket_id: t.id.clone(),
        expected_version: t.version,
        pass,
        note: note.into(),
    }
}

async fn center_flow(server: &Server) {
    seed_small_tree(server).await;
    let resident = server.mint("resident", "r-cc", &[]).unwrap();
    let chief = server.mint("chief", "P003", &["220102001001001"]).unwrap();
    let center = server.mint("command_center", "cc-1", &[SUB]).unwrap();
    let other_center = server
        .mint("command_center", "cc-2", &["220102002"])
        .unwrap();
    let mut desk: Desk = EscalationServiceClient::new(server.channel().await.unwrap());
    let mut cc: Center = SupervisionServiceClient::new(server.channel().await.unwrap());

    let t = submit(server, &resident, "cc-s1").await;
    assert_eq!(t.level, ChiefLevel::Grid as i32);
    // Only resolved work is verified.
    let err = cc
        .verify_ticket(authed(&center, verify("v-0", &t, true, "")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");

    let resolved = work(&mut desk, &chief, &t, "1").await;
    // Residents do not verify; another subdistrict's center does not see the ticket.
    let err = cc
        .verify_ticket(authed(&resident, verify("v-r", &resolved, true, "")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    let err = cc
        .verify_ticket(authed(&other_center, verify("v-x", &resolved, true, "")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    // Failing the work needs findings.
    let err = cc
        .verify_ticket(authed(&center, verify("v-1", &resolved, false, "")))
        .await
        .unwrap_err();
    assert_field(&err, "note");

    // 返工: back to the grid chief who resolved it, with clocks from now.
    let reworked = cc
        .verify_ticket(authed(&center, verify("v-2", &resolved, false, "灯仍不亮")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state(&reworked), TicketState::Assigned);
    assert_eq!(reworked.level, ChiefLevel::Grid as i32);
    assert_eq!(reworked.assignee_person_id, "P003");
    assert!(reworked.accept_due_at.is_some() && reworked.resolve_due_at.is_some());
    assert_eq!(
        reworked.contact_phone, "13912345678",
        "the center calls back"
    );
    // A retry answers as the first time; the same id for another request is refused.
    let again = cc
        .verify_ticket(authed(&center, verify("v-2", &resolved, false, "灯仍不亮")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again, reworked);
    let err = cc
        .verify_ticket(authed(&center, verify("v-2", &resolved, false, "别的")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    // A stale reader learns the ticket moved.
    let err = cc
        .close_ticket(authed(
            &center,
            CloseTicketRequest {
                request_id: "c-stale".into(),
                ticket_id: t.id.clone(),
                expected_version: resolved.version,
                note: String::new(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Aborted, "{err:?}");

    // Done properly this time: passed, closed, no clocks.
    let resolved = work(&mut desk, &chief, &reworked, "2").await;
    let closed = cc
        .verify_ticket(authed(&center, verify("v-3", &resolved, true, "")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state(&closed), TicketState::Closed);
    assert_eq!((closed.accept_due_at, closed.resolve_due_at), (None, None));

    // A complaint reopens a closed ticket, with a reason.
    let reopen = |rid: &str, version: i64, reason: &str| ReopenTicketRequest {
        request_id: rid.into(),
        ticket_id: t.id.clone(),
        expected_version: version,
        reason: reason.into(),
    };
    let err = cc
        .reopen_ticket(authed(&center, reopen("o-1", closed.version, "")))
        .await
        .unwrap_err();
    assert_field(&err, "reason");
    let reopened = cc
        .reopen_ticket(authed(
            &center,
            reopen("o-2", closed.version, "居民投诉又坏了"),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state(&reopened), TicketState::Assigned);
    assert_eq!(reopened.assignee_person_id, "P003");
    assert!(reopened.accept_due_at.is_some());

    // Resolved again and closed without a verification round.
    let resolved = work(&mut desk, &chief, &reopened, "3").await;
    let closed = cc
        .close_ticket(authed(
            &center,
            CloseTicketRequest {
                request_id: "c-1".into(),
                ticket_id: t.id.clone(),
                expected_version: resolved.version,
                note: "电话回访满意".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state(&closed), TicketState::Closed);

    // The resident's history shows each step, in order.
    let mine = as_resident_sees(server, &resident, &t).await;
    let kinds: Vec<EventKind> = mine
        .events
        .iter()
        .map(|e| EventKind::try_from(e.kind).unwrap())
        .filter(|k| {
            matches!(
                k,
                EventKind::Reopened | EventKind::Verified | EventKind::Closed
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            EventKind::Reopened,
            EventKind::Verified,
            EventKind::Reopened,
            EventKind::Closed
        ]
    );

    // Not a governance matter: rejected with a reason the resident reads.
    let t2 = submit(server, &resident, "cc-s2").await;
    let reject = |rid: &str, reason: &str| RejectTicketRequest {
        request_id: rid.into(),
        ticket_id: t2.id.clone(),
        expected_version: t2.version,
        reason: reason.into(),
    };
    let err = cc
        .reject_ticket(authed(&center, reject("j-1", "")))
        .await
        .unwrap_err();
    assert_field(&err, "reason");
    let err = cc
        .reject_ticket(authed(&other_center, reject("j-x", "不属于")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    let rejected = cc
        .reject_ticket(authed(
            &center,
            reject("j-2", "属于物业合同纠纷，请联系物业"),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state(&rejected), TicketState::Rejected);
    assert_eq!(
        (rejected.accept_due_at, rejected.resolve_due_at),
        (None, None)
    );
    let seen = as_resident_sees(server, &resident, &t2).await;
    assert_eq!(state(&seen), TicketState::Rejected);
    assert_eq!(
        seen.events.last().map(|e| e.note.as_str()),
        Some("属于物业合同纠纷，请联系物业")
    );
    // Nothing more happens to a rejected ticket.
    let err = cc
        .reopen_ticket(authed(
            &center,
            ReopenTicketRequest {
                request_id: "o-j".into(),
                ticket_id: t2.id.clone(),
                expected_version: 0,
                reason: "再看看".into(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
}

/// The command center gives a ticket to another post: one of its chain by level, a named
/// area and person, or itself.
async fn reassign_flow(server: &Server) {
    let resident = server.mint("resident", "r-ra", &[]).unwrap();
    let center = server.mint("command_center", "cc-1", &[SUB]).unwrap();
    let other_center = server
        .mint("command_center", "cc-2", &["220102002"])
        .unwrap();
    let lane_chief = server.mint("chief", "P002", &["220102001S01L01"]).unwrap();
    let mut cc: Center = SupervisionServiceClient::new(server.channel().await.unwrap());
    let mut desk: Desk = EscalationServiceClient::new(server.channel().await.unwrap());
    let t = submit(server, &resident, "ra-1").await;
    let req = |rid: &str, level: ChiefLevel, area: &str, person: &str, reason: &str| {
        ReassignTicketRequest {
            request_id: rid.into(),
            ticket_id: t.id.clone(),
            expected_version: 0,
            to_level: level as i32,
            to_area_code: area.into(),
            to_person_id: person.into(),
            reason: reason.into(),
        }
    };
    let why = "需路长协调";
    // Each refused for its field: no reason, no level, an area of another level, an
    // area that does not exist, a person not on the roster.
    for (request, field) in [
        (req("ra-e1", ChiefLevel::Lane, "", "", ""), "reason"),
        (
            req("ra-e2", ChiefLevel::Unspecified, "", "", why),
            "to_level",
        ),
        (
            req("ra-e3", ChiefLevel::Grid, "220102001S01L01", "", why),
            "to_area_code",
        ),
        (
            req("ra-e4", ChiefLevel::Grid, "220102009001001", "", why),
            "to_area_code",
        ),
        (
            req("ra-e5", ChiefLevel::Lane, "", "P999", why),
            "to_person_id",
        ),
    ] {
        let err = cc
            .reassign_ticket(authed(&center, request))
            .await
            .unwrap_err();
        assert_field(&err, field);
    }
    // The street post above the grid is vacant: a person must be named.
    let err = cc
        .reassign_ticket(authed(
            &center,
            req("ra-s", ChiefLevel::Street, "", "", why),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    let err = cc
        .reassign_ticket(authed(
            &other_center,
            req("ra-x", ChiefLevel::Lane, "", "", why),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");

    // To the lane of its chain: whoever acts for it now, with clocks from now.
    let lane = cc
        .reassign_ticket(authed(&center, req("ra-1", ChiefLevel::Lane, "", "", why)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state(&lane), TicketState::Assigned);
    assert_eq!(lane.level, ChiefLevel::Lane as i32);
    assert_eq!(lane.assignee_person_id, "P002");
    assert!(lane.accept_due_at.is_some());
    let inbox = desk
        .list_inbox(authed(&lane_chief, ListInboxRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert!(
        inbox.tickets.iter().any(|x| x.id == t.id),
        "in the lane chief's inbox"
    );

    // To a named grid and person.
    let grid = cc
        .reassign_ticket(authed(
            &center,
            req("ra-2", ChiefLevel::Grid, "220102001001002", "P003", why),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(grid.level, ChiefLevel::Grid as i32);
    assert_eq!(
        (
            grid.assignee_area_code.as_str(),
            grid.assignee_person_id.as_str()
        ),
        ("220102001001002", "P003")
    );

    // To the command center itself: a desk, no one in particular.
    let center_owned = cc
        .reassign_ticket(authed(
            &center,
            req("ra-3", ChiefLevel::CommandCenter, "", "", "中心直接处置"),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(center_owned.level, ChiefLevel::CommandCenter as i32);
    assert_eq!(center_owned.assignee_person_id, "");
    // Each move is in the history the resident reads.
    let mine = as_resident_sees(server, &resident, &t).await;
    let moves = mine
        .events
        .iter()
        .filter(|e| e.kind == EventKind::Reassigned as i32)
        .count();
    assert_eq!(moves, 3);
}

/// The command center's list: every ticket of its subdistrict, newest first, filtered
/// and paged; another subdistrict's list is NOT_FOUND. Runs after the flows above, whose
/// three tickets (closed, rejected, at the command center) are in it.
async fn list_flow(server: &Server) {
    let resident = server.mint("resident", "r-list", &[]).unwrap();
    let chief = server.mint("chief", "P003", &["220102001001001"]).unwrap();
    let center = server.mint("command_center", "cc-1", &[SUB]).unwrap();
    let other_center = server
        .mint("command_center", "cc-2", &["220102002"])
        .unwrap();
    let two = server
        .mint("command_center", "cc-3", &[SUB, "220102002"])
        .unwrap();
    let cc: Center = SupervisionServiceClient::new(server.channel().await.unwrap());
    let mut desk: Desk = EscalationServiceClient::new(server.channel().await.unwrap());
    let at = GeoPoint {
        lat: 43.807,
        lng: 125.307,
        crs: Crs::Wgs84 as i32,
    };
    let urgent = submit_report(server, &resident, "l-1", "E0401", at).await;
    // 300 m south, away from the open C0102 ticket of the flow above (it would merge).
    let south = GeoPoint {
        lat: 43.807 - 300.0 / 111_000.0,
        ..at
    };
    let plain = submit_report(server, &resident, "l-2", "C0102", south).await;
    assert_eq!(state(&plain), TicketState::Assigned);
    // The grid chief asks to pause the plain one: it waits in the center's queue.
    ask_pause(&mut desk, &chief, &plain, "l-p").await;

    let list = |token: &str, r: ListTicketsRequest| {
        let mut cc = cc.clone();
        let token = token.to_owned();
        async move { cc.list_tickets(authed(&token, r)).await }
    };
    let ids = |r: &ListTicketsResponse| r.tickets.iter().map(|t| t.id.clone()).collect::<Vec<_>>();
    let all = list(&center, ListTicketsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.total_size, 5);
    assert_eq!(
        ids(&all)[..2],
        [plain.id.clone(), urgent.id.clone()],
        "newest first"
    );
    assert!(all.tickets.iter().all(|t| t.contact_phone == "13912345678"));
    let only = |r: ListTicketsRequest| {
        let center = center.clone();
        async move { ids(&list(&center, r).await.unwrap().into_inner()) }
    };
    assert_eq!(
        only(ListTicketsRequest {
            urgent_only: true,
            ..Default::default()
        })
        .await,
        std::slice::from_ref(&urgent.id)
    );
    assert_eq!(
        only(ListTicketsRequest {
            pause: PauseState::Requested as i32,
            ..Default::default()
        })
        .await,
        std::slice::from_ref(&plain.id)
    );
    assert_eq!(
        only(ListTicketsRequest {
            states: vec![TicketState::Closed as i32, TicketState::Rejected as i32],
            ..Default::default()
        })
        .await
        .len(),
        2
    );
    assert_eq!(
        only(ListTicketsRequest {
            level: ChiefLevel::CommandCenter as i32,
            states: vec![TicketState::Assigned as i32],
            ..Default::default()
        })
        .await
        .len(),
        1
    );
    // Pages of two: every ticket once, in the same order.
    let mut paged = Vec::new();
    let mut token = String::new();
    loop {
        let page = list(
            &center,
            ListTicketsRequest {
                page_size: 2,
                page_token: token.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .into_inner();
        assert!(page.tickets.len() <= 2);
        paged.extend(ids(&page));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(paged, ids(&all));

    // Scope: another center sees none of it; one with two subdistricts must name one.
    let err = list(
        &other_center,
        ListTicketsRequest {
            subdistrict_code: SUB.into(),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    let theirs = list(&other_center, ListTicketsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(theirs.total_size, 0);
    let err = list(&two, ListTicketsRequest::default()).await.unwrap_err();
    assert_field(&err, "subdistrict_code");
    let err = list(&resident, ListTicketsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    let err = list(
        &center,
        ListTicketsRequest {
            page_size: -1,
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_field(&err, "page_size");
    // Above the maximum is served at the maximum, as every listing does (AIP-158).
    let big = list(
        &center,
        ListTicketsRequest {
            page_size: 501,
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .into_inner();
    assert_eq!(big.tickets.len(), 5);
    let err = list(
        &center,
        ListTicketsRequest {
            states: vec![0],
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_field(&err, "states[0]");
}

/// The next event of a stream, within 20 s.
async fn next(s: &mut tonic::Streaming<TicketEvent>) -> TicketEvent {
    tokio::time::timeout(Duration::from_secs(20), s.next())
        .await
        .expect("an event within 20 s")
        .expect("the stream goes on")
        .expect("an event, not an error")
}

/// The command center's live feed of its subdistrict: new events as they happen, only the
/// kinds asked for, resumable after the last cursor seen.
async fn watch_flow(server: &Server) {
    let resident = server.mint("resident", "r-watch", &[]).unwrap();
    let center = server.mint("command_center", "cc-1", &[SUB]).unwrap();
    let other_center = server
        .mint("command_center", "cc-2", &["220102002"])
        .unwrap();
    let cc: Center = SupervisionServiceClient::new(server.channel().await.unwrap());
    let watch = |token: &str, r: WatchEventsRequest| {
        let mut cc = cc.clone();
        let token = token.to_owned();
        async move { cc.watch_events(authed(&token, r)).await }
    };
    let mut live = watch(&center, WatchEventsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let mut assigned_only = watch(
        &center,
        WatchEventsRequest {
            kinds: vec![EventKind::Assigned as i32],
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .into_inner();

    // A category no open ticket has, so it is a ticket of its own.
    let at = GeoPoint {
        lat: 43.807,
        lng: 125.307,
        crs: Crs::Wgs84 as i32,
    };
    let t = submit_report(server, &resident, "w-1", "E0304", at).await;
    let submitted = next(&mut live).await;
    let assigned = next(&mut live).await;
    assert_eq!(
        (submitted.ticket_id.as_str(), submitted.kind),
        (t.id.as_str(), EventKind::Submitted as i32)
    );
    assert_eq!(
        (assigned.ticket_id.as_str(), assigned.kind),
        (t.id.as_str(), EventKind::Assigned as i32)
    );
    let first: i64 = submitted.cursor.parse().unwrap();
    let second: i64 = assigned.cursor.parse().unwrap();
    assert!(first < second, "cursors increase: {first} < {second}");
    let only = next(&mut assigned_only).await;
    assert_eq!(
        only, assigned,
        "the filtered stream skips the SUBMITTED event"
    );

    // A dashboard that reconnects after the first event gets the second next.
    drop(live);
    let mut resumed = watch(
        &center,
        WatchEventsRequest {
            after_cursor: submitted.cursor.clone(),
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .into_inner();
    assert_eq!(next(&mut resumed).await, assigned);

    // Refusals: a cursor that is not one, another subdistrict, a resident.
    for bad in ["abc", "-1", "999999999999"] {
        let err = watch(
            &center,
            WatchEventsRequest {
                after_cursor: bad.into(),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
        assert_field(&err, "after_cursor");
    }
    let err = watch(
        &other_center,
        WatchEventsRequest {
            subdistrict_code: SUB.into(),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    let err = watch(&resident, WatchEventsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
}

/// The dashboard's snapshot on a fresh subdistrict: counts, today's figures, pause
/// requests, every grid's load (idle ones too) and the vacant street post of the roster.
async fn overview_flow(server: &Server) {
    seed_small_tree(server).await;
    let resident = server.mint("resident", "r-ov", &[]).unwrap();
    let chief = server.mint("chief", "P003", &["220102001001001"]).unwrap();
    let center = server.mint("command_center", "cc-1", &[SUB]).unwrap();
    let other_center = server
        .mint("command_center", "cc-2", &["220102002"])
        .unwrap();
    let admin = server.mint("admin", "root", &[]).unwrap();
    let mut cc: Center = SupervisionServiceClient::new(server.channel().await.unwrap());
    let mut desk: Desk = EscalationServiceClient::new(server.channel().await.unwrap());

    let light = submit(server, &resident, "ov-1").await;
    let south = GeoPoint {
        lat: 43.807 - 300.0 / 111_000.0,
        lng: 125.307,
        crs: Crs::Wgs84 as i32,
    };
    submit_report(server, &resident, "ov-2", "E0304", south).await;
    // Another resident reports the same light from further off.
    let neighbour = server.mint("resident", "r-ov2", &[]).unwrap();
    let third = submit_report(server, &neighbour, "ov-3", "C0102", south).await;
    // The grid chief passes one up by hand and asks to pause another.
    desk.escalate_ticket(authed(
        &chief,
        EscalateTicketRequest {
            request_id: "ov-e".into(),
            ticket_id: third.id.clone(),
            expected_version: third.version,
            reason: "需路长协调".into(),
        },
    ))
    .await
    .unwrap();
    ask_pause(&mut desk, &chief, &light, "ov-p").await;

    // 督办 on the first: severity and deadline are required, the deadline in the future.
    let in_secs = |secs: i64| Some(secs_from_now(secs));
    let order = |rid: &str, severity: SupervisionSeverity, deadline| IssueSupervisionRequest {
        request_id: rid.into(),
        ticket_id: light.id.clone(),
        expected_version: 0,
        deadline,
        severity: severity as i32,
        note: "限期修复路灯".into(),
    };
    for (request, field) in [
        (
            order("sv-e1", SupervisionSeverity::Unspecified, in_secs(3600)),
            "severity",
        ),
        (
            order("sv-e2", SupervisionSeverity::Serious, None),
            "deadline",
        ),
        (
            order("sv-e3", SupervisionSeverity::Serious, in_secs(-60)),
            "deadline",
        ),
    ] {
        let err = cc
            .issue_supervision(authed(&center, request))
            .await
            .unwrap_err();
        assert_field(&err, field);
    }
    let err = cc
        .issue_supervision(authed(
            &other_center,
            order("sv-x", SupervisionSeverity::Serious, in_secs(3600)),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    let first = cc
        .issue_supervision(authed(
            &center,
            order("sv-1", SupervisionSeverity::Serious, in_secs(3600)),
        ))
        .await
        .unwrap()
        .into_inner();
    let o = first
        .supervision
        .clone()
        .expect("the order is on the ticket");
    assert_eq!(
        (o.severity, o.note.as_str(), o.issued_by.as_str()),
        (SupervisionSeverity::Serious as i32, "限期修复路灯", "cc-1")
    );
    assert_eq!(first.supervision_count, 1);
    // A second, sharper order with a deadline two seconds away: it replaces the first and
    // its clock warns the owner when it passes.
    let mut intake = IntakeServiceClient::new(server.channel().await.unwrap());
    let mut watch = intake
        .watch_incident(authed(
            &resident,
            WatchIncidentRequest {
                ticket_id: light.id.clone(),
                after_seq: first.version,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let second = cc
        .issue_supervision(authed(
            &center,
            order("sv-2", SupervisionSeverity::Critical, in_secs(2)),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            second.supervision.as_ref().map(|o| o.severity),
            second.supervision_count
        ),
        (Some(SupervisionSeverity::Critical as i32), 2)
    );
    let supervised = next(&mut watch).await;
    assert_eq!(supervised.kind, EventKind::Supervised as i32);
    // The chief accepts before the order's deadline: its clock still runs.
    desk.accept_ticket(authed(
        &chief,
        AcceptTicketRequest {
            request_id: "ov-a".into(),
            ticket_id: light.id.clone(),
            expected_version: second.version,
            note: String::new(),
        },
    ))
    .await
    .unwrap();
    assert_eq!(next(&mut watch).await.kind, EventKind::Accepted as i32);
    let warned = next(&mut watch).await;
    assert_eq!(warned.kind, EventKind::DeadlineWarning as i32);
    assert!(warned.note.contains("supervision deadline"), "{warned:?}");
    let listed = cc
        .list_tickets(authed(
            &center,
            ListTicketsRequest {
                supervised_only: true,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        listed.tickets.iter().map(|t| &t.id).collect::<Vec<_>>(),
        [&light.id]
    );

    let ov = cc
        .get_overview(authed(&center, GetOverviewRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (ov.subdistrict_code.as_str(), ov.subdistrict_name.as_str()),
        (SUB, "南岭街道")
    );
    assert_eq!(
        ov.counts_by_state,
        [
            StateCount {
                state: TicketState::Accepted as i32,
                count: 1
            },
            StateCount {
                state: TicketState::Assigned as i32,
                count: 2
            }
        ]
    );
    assert_eq!((ov.open, ov.overdue), (3, 0));
    assert_eq!((ov.submitted_today, ov.escalations_today), (3, 1));
    assert_eq!((ov.pause_requests, ov.supervised_open), (1, 1));
    let loads: Vec<(&str, i64)> = ov
        .grid_loads
        .iter()
        .map(|g| (g.grid_code.as_str(), g.open))
        .collect();
    assert_eq!(loads, [("220102001001001", 3), ("220102001001002", 0)]);
    let vacant: Vec<(&str, i32, bool)> = ov
        .vacancies
        .iter()
        .map(|v| (v.area_code.as_str(), v.level, v.holder_on_leave))
        .collect();
    assert_eq!(
        vacant,
        [("220102001S01", ChiefLevel::Street as i32, false)],
        "the street post has no holder in the roster"
    );
    assert!(ov.as_of.is_some());

    // Scope: another center gets NOT_FOUND; an administrator names the subdistrict.
    let named = GetOverviewRequest {
        subdistrict_code: SUB.into(),
    };
    let err = cc
        .get_overview(authed(&other_center, named.clone()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    let err = cc
        .get_overview(authed(&admin, GetOverviewRequest::default()))
        .await
        .unwrap_err();
    assert_field(&err, "subdistrict_code");
    let by_admin = cc
        .get_overview(authed(&admin, named))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_admin.open, 3);
    // The street post is filled: the next snapshot has no vacancy (the tree it keeps
    // between snapshots is read again after a roster change).
    let mut admin_client = AdminServiceClient::new(server.channel().await.unwrap());
    admin_client
        .import_roster(authed(
            &admin,
            ImportRosterRequest {
                request_id: "ov-street".into(),
                csv: "area_code,person_id,person_name,phone,deputy_person_id,deputy_name,\
                      deputy_phone,leave_starts_at,leave_ends_at\n\
                      220102001S01,P009,赵街长,13900000009,,,,,\n"
                    .as_bytes()
                    .to_vec(),
                dry_run: false,
            },
        ))
        .await
        .unwrap();
    let refilled = cc
        .get_overview(authed(&center, GetOverviewRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert!(refilled.vacancies.is_empty(), "{:?}", refilled.vacancies);
    let err = cc
        .get_overview(authed(&resident, GetOverviewRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    merge_flow(server, &center, &neighbour, &light, &third).await;
}

/// The command center folds a duplicate into the open ticket it repeats: the duplicate is
/// MERGED, its reporter follows the other ticket, both in one write.
async fn merge_flow(
    server: &Server,
    center: &str,
    neighbour: &str,
    light: &Ticket,
    third: &Ticket,
) {
    let mut cc: Center = SupervisionServiceClient::new(server.channel().await.unwrap());
    let other_center = server
        .mint("command_center", "cc-2", &["220102002"])
        .unwrap();
    let mut intake = IntakeServiceClient::new(server.channel().await.unwrap());
    let read = |who: &str, t: &Ticket| {
        authed(
            who,
            GetIncidentRequest {
                ticket_id: t.id.clone(),
            },
        )
    };
    let err = intake
        .get_incident(read(neighbour, light))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "not theirs yet: {err:?}");
    let merge = |rid: &str, into: &str| MergeTicketRequest {
        request_id: rid.into(),
        ticket_id: third.id.clone(),
        expected_version: 0,
        into_ticket_id: into.into(),
        note: "同一路灯".into(),
    };
    let err = cc
        .merge_ticket(authed(center, merge("m-0", &third.id)))
        .await
        .unwrap_err();
    assert_field(&err, "into_ticket_id");
    let err = cc
        .merge_ticket(authed(&other_center, merge("m-x", &light.id)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");

    let merged = cc
        .merge_ticket(authed(center, merge("m-1", &light.id)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state(&merged), TicketState::Merged);
    assert_eq!(merged.duplicate_of, light.id);
    assert_eq!((merged.accept_due_at, merged.resolve_due_at), (None, None));
    let again = cc
        .merge_ticket(authed(center, merge("m-1", &light.id)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again, merged, "a retry answers as the first time");
    let err = cc
        .merge_ticket(authed(center, merge("m-2", &light.id)))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::FailedPrecondition,
        "merged already: {err:?}"
    );

    // The neighbour now follows the light's ticket, whose history says who joined.
    let followed = intake
        .get_incident(read(neighbour, light))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        followed.events.last().map(|e| e.kind),
        Some(EventKind::ReporterJoined as i32)
    );
}

/// A report of a broken light (C0102, duplicates within 20 m merge) at a point of grid 1.
async fn submit_at(server: &Server, resident: &str, id: &str, lat: f64, lng: f64) -> Ticket {
    let at = GeoPoint {
        lat,
        lng,
        crs: Crs::Wgs84 as i32,
    };
    submit_report(server, resident, id, "C0102", at).await
}

/// The resident rates `t`.
async fn rate(server: &Server, resident: &str, t: &Ticket, rid: &str, not_solved: bool) -> Ticket {
    let mut intake = IntakeServiceClient::new(server.channel().await.unwrap());
    intake
        .rate_incident(authed(
            resident,
            RateIncidentRequest {
                request_id: rid.into(),
                ticket_id: t.id.clone(),
                stars: if not_solved { 1 } else { 5 },
                not_solved,
                comment: "还是不亮".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
}

/// The ids of the center's reopen queue (newest first) and its total, as listed.
async fn reopen_queue(cc: &mut Center, center: &str, states: Vec<i32>) -> (Vec<String>, i32) {
    let r = cc
        .list_tickets(authed(
            center,
            ListTicketsRequest {
                subdistrict_code: SUB.into(),
                reopen_requested_only: true,
                states,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    (r.tickets.into_iter().map(|t| t.id).collect(), r.total_size)
}

async fn overview(cc: &mut Center, center: &str) -> wuzhang_proto::v1::Overview {
    cc.get_overview(authed(
        center,
        GetOverviewRequest {
            subdistrict_code: SUB.into(),
        },
    ))
    .await
    .unwrap()
    .into_inner()
}

/// Issue 22: a not_solved rating puts a ticket in the command center's reopen queue
/// (ListTickets filter, overview count) until someone reopens it; a category with
/// reopen_on_not_solved reopens it at once, through the same rules as ReopenTicket.
async fn reopen_queue_flow(server: &Server) {
    let admin = seed_small_tree(server).await;
    let resident = server.mint("resident", "r-rq", &[]).unwrap();
    let chief = server.mint("chief", "P003", &["220102001001001"]).unwrap();
    let center = server.mint("command_center", "cc-1", &[SUB]).unwrap();
    let mut desk: Desk = EscalationServiceClient::new(server.channel().await.unwrap());
    let mut cc: Center = SupervisionServiceClient::new(server.channel().await.unwrap());
    let mut admin_client = AdminServiceClient::new(server.channel().await.unwrap());

    // The default: the flag is off, and shown so.
    let category = admin_client
        .get_category(authed(
            &admin,
            GetCategoryRequest {
                code: "C0102".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(!category.reopen_on_not_solved);
    assert_eq!(overview(&mut cc, &center).await.reopen_requests, 0);

    // Two resolved tickets, one rated satisfied, one not solved: only that one waits.
    let happy = submit_at(server, &resident, "rq-1", 43.801, 125.301).await;
    let happy = work(&mut desk, &chief, &happy, "rq-1").await;
    rate(server, &resident, &happy, "rq-1r", false).await;
    let sad = submit_at(server, &resident, "rq-2", 43.804, 125.304).await;
    let sad = work(&mut desk, &chief, &sad, "rq-2").await;
    let rated = rate(server, &resident, &sad, "rq-2r", true).await;
    assert_eq!(state(&rated), TicketState::Resolved, "the center decides");
    assert_eq!(rated.accept_due_at, None);
    assert_eq!(
        reopen_queue(&mut cc, &center, vec![]).await,
        (vec![sad.id.clone()], 1)
    );
    // Combined with the other filters: it is RESOLVED, not CLOSED.
    assert_eq!(
        reopen_queue(&mut cc, &center, vec![TicketState::Closed as i32]).await,
        (vec![], 0)
    );
    assert_eq!(overview(&mut cc, &center).await.reopen_requests, 1);

    // Reopening takes it out of the queue (the rating is cleared with the reopen).
    cc.reopen_ticket(authed(
        &center,
        ReopenTicketRequest {
            request_id: "rq-2o".into(),
            ticket_id: sad.id.clone(),
            expected_version: rated.version,
            reason: "居民反映未解决".into(),
        },
    ))
    .await
    .unwrap();
    assert_eq!(reopen_queue(&mut cc, &center, vec![]).await, (vec![], 0));
    assert_eq!(overview(&mut cc, &center).await.reopen_requests, 0);

    // The category now reopens by itself.
    let flagged = admin_client
        .upsert_category(authed(
            &admin,
            UpsertCategoryRequest {
                request_id: "rq-cat".into(),
                category: Some(Category {
                    reopen_on_not_solved: true,
                    ..category.clone()
                }),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(flagged.reopen_on_not_solved);
    let listed = admin_client
        .get_category(authed(
            &admin,
            GetCategoryRequest {
                code: "C0102".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.reopen_on_not_solved, "stored");

    let again = submit_at(server, &resident, "rq-3", 43.807, 125.307).await;
    let again = work(&mut desk, &chief, &again, "rq-3").await;
    // A satisfied rating of a flagged category changes nothing.
    let closed_happy = {
        let t = submit_at(server, &resident, "rq-4", 43.809, 125.309).await;
        let t = work(&mut desk, &chief, &t, "rq-4").await;
        rate(server, &resident, &t, "rq-4r", false).await
    };
    assert_eq!(state(&closed_happy), TicketState::Resolved);
    assert!(closed_happy.rating.is_some());

    let reopened = rate(server, &resident, &again, "rq-3r", true).await;
    assert_eq!(state(&reopened), TicketState::Assigned, "reopened at once");
    assert_eq!(reopened.level, ChiefLevel::Grid as i32);
    assert_eq!(
        reopened.assignee_person_id, "P003",
        "to the chief who resolved it"
    );
    assert!(reopened.accept_due_at.is_some() && reopened.resolve_due_at.is_some());
    assert_eq!(reopened.rating, None, "a reopen clears the rating");
    // A retry of the rating answers as the first time.
    assert_eq!(
        rate(server, &resident, &again, "rq-3r", true).await,
        reopened
    );
    // The history: the rating, then the reopen by intake, in one step.
    let history = as_resident_sees(server, &resident, &again).await;
    let tail: Vec<(i32, String)> = history.events[history.events.len() - 2..]
        .iter()
        .map(|e| (e.kind, e.actor.clone()))
        .collect();
    assert_eq!(
        tail,
        vec![
            (EventKind::Rated as i32, "r-rq".to_owned()),
            (EventKind::Reopened as i32, "system:intake".to_owned()),
        ]
    );
    // The chief's inbox has it again; the queue does not.
    let inbox = desk
        .list_inbox(authed(&chief, ListInboxRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert!(inbox.tickets.iter().any(|t| t.id == again.id));
    assert_eq!(reopen_queue(&mut cc, &center, vec![]).await, (vec![], 0));
    assert_eq!(overview(&mut cc, &center).await.reopen_requests, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopen_queue_on_sqlite() {
    let server = Server::start(&[]).unwrap();
    reopen_queue_flow(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopen_queue_on_postgres() {
    let Some(url) = fresh_pg_url().await else {
        return;
    };
    let server = Server::start_env(Some(url), None, &[], &[]).unwrap();
    reopen_queue_flow(&server).await;
}

/// Issue 22: every grid's load carries its light, by the thresholds configured
/// (here: yellow from 2 open, red from 1 overdue or 1 supervised).
async fn grid_light_flow(server: &Server) {
    seed_small_tree(server).await;
    let resident = server.mint("resident", "r-gl", &[]).unwrap();
    let center = server.mint("command_center", "cc-1", &[SUB]).unwrap();
    let mut cc: Center = SupervisionServiceClient::new(server.channel().await.unwrap());
    let lights = |o: &wuzhang_proto::v1::Overview| -> Vec<(String, i64, i64, i32)> {
        o.grid_loads
            .iter()
            .map(|g| (g.grid_code.clone(), g.open, g.supervised, g.light))
            .collect()
    };
    let (g1, g2) = ("220102001001001".to_owned(), "220102001001002".to_owned());
    let (green, yellow, red) = (
        GridLight::Green as i32,
        GridLight::Yellow as i32,
        GridLight::Red as i32,
    );

    assert_eq!(
        lights(&overview(&mut cc, &center).await),
        vec![(g1.clone(), 0, 0, green), (g2.clone(), 0, 0, green)]
    );
    let first = submit_at(server, &resident, "gl-1", 43.801, 125.301).await;
    assert_eq!(
        lights(&overview(&mut cc, &center).await),
        vec![(g1.clone(), 1, 0, green), (g2.clone(), 0, 0, green)]
    );
    submit_at(server, &resident, "gl-2", 43.805, 125.305).await;
    assert_eq!(
        lights(&overview(&mut cc, &center).await),
        vec![(g1.clone(), 2, 0, yellow), (g2.clone(), 0, 0, green)],
        "a backlog"
    );
    cc.issue_supervision(authed(
        &center,
        IssueSupervisionRequest {
            request_id: "gl-s".into(),
            ticket_id: first.id.clone(),
            expected_version: 0,
            deadline: Some(secs_from_now(3600)),
            severity: SupervisionSeverity::Serious as i32,
            note: "限期修复".into(),
        },
    ))
    .await
    .unwrap();
    let o = overview(&mut cc, &center).await;
    assert_eq!(
        lights(&o),
        vec![(g1.clone(), 2, 1, red), (g2, 0, 0, green)],
        "supervised"
    );
    assert_eq!(o.supervised_open, 1);
}

/// Thresholds by environment, as a deployment sets them.
const LIGHTS: (&str, &str) = (
    "WUZHANG_GRID_LIGHT",
    "{red_overdue=1,red_supervised=1,yellow_open=2}",
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grid_lights_on_sqlite() {
    let server = Server::start_env(None, None, &[LIGHTS], &[]).unwrap();
    grid_light_flow(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grid_lights_on_postgres() {
    let Some(url) = fresh_pg_url().await else {
        return;
    };
    let server = Server::start_env(Some(url), None, &[LIGHTS], &[]).unwrap();
    grid_light_flow(&server).await;
}

#[test]
fn bad_grid_light_thresholds_stop_the_start() {
    let err = Server::start_env(
        None,
        None,
        &[("WUZHANG_GRID_LIGHT", "{yellow_open=0}")],
        &[],
    )
    .unwrap_err();
    assert!(err.to_string().contains("did not announce"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overview_on_sqlite() {
    let server = Server::start(&[]).unwrap();
    overview_flow(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overview_on_postgres() {
    let Some(url) = fresh_pg_url().await else {
        return;
    };
    let server = Server::start_env(Some(url), None, &[], &[]).unwrap();
    overview_flow(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn center_on_sqlite() {
    let server = Server::start(&[]).unwrap();
    center_flow(&server).await;
    reassign_flow(&server).await;
    list_flow(&server).await;
    watch_flow(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn center_on_postgres() {
    let Some(url) = fresh_pg_url().await else {
        return;
    };
    let server = Server::start_env(Some(url), None, &[], &[]).unwrap();
    center_flow(&server).await;
    reassign_flow(&server).await;
    list_flow(&server).await;
    watch_flow(&server).await;
}
