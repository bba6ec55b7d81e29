//! The chief's desk and live escalation over real gRPC against the started binary:
//! inbox, scope, 签收 with optimistic concurrency, notes, manual escalation past a vacant
//! post, resolution with photos, the resident's rating, and a drill whose few-second
//! deadline escalates on its own while the resident watches.

use std::time::Duration;

use futures::StreamExt;
use tonic::Code;
use tonic::transport::Channel;
#[path = "../harness.rs"]
mod harness;
use harness::{Server, authed, fresh_pg_url, secs_from_now, seed_small_tree, submit_report};
use wuzhang_proto::v1::admin_service_client::AdminServiceClient;
use wuzhang_proto::v1::escalation_service_client::EscalationServiceClient;
use wuzhang_proto::v1::intake_service_client::IntakeServiceClient;
use wuzhang_proto::v1::supervision_service_client::SupervisionServiceClient;
use wuzhang_proto::v1::{
    AcceptTicketRequest, AddNoteRequest, ChiefLevel, Crs, DecidePauseRequest,
    EscalateTicketRequest, EventKind, GeoPoint, GetCalendarRequest, GetCategoryRequest,
    GetTicketRequest, ListInboxRequest, LocalDate, PauseState, RateIncidentRequest,
    RequestPauseRequest, ResolveTicketRequest, SetCalendarRequest, Ticket, TicketState,
    UpsertCategoryRequest, WatchIncidentRequest,
};

const SUB: &str = "220102001";

type Desk = EscalationServiceClient<Channel>;

/// In grid 1, outside the building; `north` metres north of its middle.
fn spot(north: f64) -> Option<GeoPoint> {
    Some(GeoPoint {
        lat: 43.807 + north / 111_000.0,
        lng: 125.307,
        crs: Crs::Wgs84 as i32,
    })
}

async fn submit(server: &Server, resident: &str, id: &str, category: &str, north: f64) -> Ticket {
    let at = spot(north).expect("a point");
    submit_report(server, resident, id, category, at).await
}

fn level(t: &Ticket) -> ChiefLevel {
    ChiefLevel::try_from(t.level).unwrap()
}

fn state(t: &Ticket) -> TicketState {
    TicketState::try_from(t.state).unwrap()
}

async fn desk_flow(server: &Server) {
    seed_small_tree(server).await;
    let resident = server.mint("resident", "r-desk", &[]).unwrap();
    let grid_chief = server.mint("chief", "P003", &["220102001001001"]).unwrap();
    let lane_chief = server.mint("chief", "P002", &["220102001S01L01"]).unwrap();
    let unit_chief = server
        .mint("chief", "P006", &["220102001001001B01U1"])
        .unwrap();
    let center = server.mint("command_center", "cc-1", &[SUB]).unwrap();
    let mut desk: Desk = EscalationServiceClient::new(server.channel().await.unwrap());

    let t = submit(server, &resident, "s-1", "C0102", 0.0).await;
    assert_eq!(
        (level(&t), t.assignee_person_id.as_str()),
        (ChiefLevel::Grid, "P003")
    );

    // The grid chief's inbox has it, with the resident's number in full.
    let inbox = desk
        .list_inbox(authed(&grid_chief, ListInboxRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(inbox.total_size, 1);
    assert_eq!(inbox.tickets[0].id, t.id);
    assert_eq!(inbox.tickets[0].contact_phone, "13912345678");

    // The lane chief sees it (their lane is above the grid), masked, and may not act.
    let seen = desk
        .get_ticket(authed(
            &lane_chief,
            GetTicketRequest {
                ticket_id: t.id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(seen.contact_phone, "139****5678");
    assert_eq!(seen.events.len(), 2);
    let accept = |rid: &str, version: i64| AcceptTicketRequest {
        request_id: rid.into(),
        ticket_id: t.id.clone(),
        expected_version: version,
        note: "收到".into(),
    };
    let err = desk
        .accept_ticket(authed(&lane_chief, accept("a-lane", t.version)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    // The unit chief is below the grid: the ticket does not exist for them.
    let err = desk
        .get_ticket(authed(
            &unit_chief,
            GetTicketRequest {
                ticket_id: t.id.clone(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    // Two accepts at once on the same version: one wins, the other is ABORTED.
    let mut d1 = desk.clone();
    let mut d2 = desk.clone();
    let (a, b) = tokio::join!(
        d1.accept_ticket(authed(&grid_chief, accept("a-1", t.version))),
        d2.accept_ticket(authed(&grid_chief, accept("a-2", t.version))),
    );
    let (won, lost) = match (a, b) {
        (Ok(w), Err(l)) | (Err(l), Ok(w)) => (w.into_inner(), l),
        other => panic!("exactly one accept must win: {other:?}"),
    };
    assert_eq!(lost.code(), Code::Aborted, "{lost:?}");
    assert!(lost.message().contains("accepted"), "{lost:?}");
    assert_eq!(state(&won), TicketState::Accepted);
    assert!(won.accept_due_at.is_none() && won.resolve_due_at.is_some());
    // The winner's retry gets the same answer.
    let retried = desk
        .accept_ticket(authed(&grid_chief, accept("a-1", t.version)))
        .await;
    if let Ok(r) = retried {
        assert_eq!(r.into_inner().version, won.version);
    }

    // A note, then "beyond my level": up past nobody to the lane chief, new clocks.
    let noted = desk
        .add_note(authed(
            &grid_chief,
            AddNoteRequest {
                request_id: "n-1".into(),
                ticket_id: t.id.clone(),
                expected_version: won.version,
                note: "需要路灯所配合".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let err = desk
        .escalate_ticket(authed(
            &grid_chief,
            EscalateTicketRequest {
                request_id: "e-0".into(),
                ticket_id: t.id.clone(),
                expected_version: noted.version,
                reason: String::new(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "a reason is required");
    let up = desk
        .escalate_ticket(authed(
            &grid_chief,
            EscalateTicketRequest {
                request_id: "e-1".into(),
                ticket_id: t.id.clone(),
                expected_version: noted.version,
                reason: "超出网格处置能力".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (level(&up), up.assignee_person_id.as_str(), state(&up)),
        (ChiefLevel::Lane, "P002", TicketState::Assigned)
    );
    assert!(up.accept_due_at.is_some());

    // The lane chief accepts and resolves with a photo; the resident rates it.
    let acc = desk
        .accept_ticket(authed(
            &lane_chief,
            AcceptTicketRequest {
                request_id: "a-3".into(),
                ticket_id: t.id.clone(),
                expected_version: up.version,
                note: String::new(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let done = desk
        .resolve_ticket(authed(
            &lane_chief,
            ResolveTicketRequest {
                request_id: "r-1".into(),
                ticket_id: t.id.clone(),
                expected_version: acc.version,
                note: "已更换灯泡".into(),
                media_urls: vec!["https://img.example.cn/after.jpg".into()],
                task_result: None,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state(&done), TicketState::Resolved);
    assert!(done.resolve_due_at.is_none());
    let mut intake = IntakeServiceClient::new(server.channel().await.unwrap());
    let rated = intake
        .rate_incident(authed(
            &resident,
            RateIncidentRequest {
                request_id: "rate-1".into(),
                ticket_id: t.id.clone(),
                stars: 2,
                not_solved: true,
                comment: "晚上还是不亮".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let rating = rated.rating.unwrap();
    assert!(rating.not_solved && rating.stars == 2);
    let history = desk
        .get_ticket(authed(
            &center,
            GetTicketRequest {
                ticket_id: t.id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let kinds: Vec<EventKind> = history
        .events
        .iter()
        .map(|e| EventKind::try_from(e.kind).unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            EventKind::Submitted,
            EventKind::Assigned,
            EventKind::Accepted,
            EventKind::Note,
            EventKind::Escalated,
            EventKind::Accepted,
            EventKind::Resolved,
            EventKind::Rated,
        ]
    );
    assert!(history.events[6].note.contains("after.jpg"));
    assert!(history.events[7].note.contains("reopen"));

    // The command center's inbox: what its desk owns (a street matter; the street is vacant).
    let cc = submit(server, &resident, "s-2", "E0304", 300.0).await;
    assert_eq!(level(&cc), ChiefLevel::CommandCenter);
    let inbox = desk
        .list_inbox(authed(&center, ListInboxRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        inbox
            .tickets
            .iter()
            .map(|t| t.id.as_str())
            .collect::<Vec<_>>(),
        [cc.id.as_str()]
    );
}

/// A drill: a category with a 2-second accept deadline escalates on its own, and the
/// resident watching sees it happen.
async fn live_drill(server: &Server) {
    let admin = seed_small_tree(server).await;
    let mut admin_client = AdminServiceClient::new(server.channel().await.unwrap());
    let mut drill = admin_client
        .get_category(authed(
            &admin,
            GetCategoryRequest {
                code: "C0102".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    drill.code = "DRILL".into();
    drill.parent_code = String::new();
    drill.deadline_kind = wuzhang_proto::v1::DeadlineKind::Natural as i32;
    drill.accept_within = Some(prost_types::Duration {
        seconds: 2,
        nanos: 0,
    });
    drill.resolve_within = Some(prost_types::Duration {
        seconds: 60,
        nanos: 0,
    });
    admin_client
        .upsert_category(authed(
            &admin,
            UpsertCategoryRequest {
                request_id: "drill".into(),
                category: Some(drill),
            },
        ))
        .await
        .unwrap();
    let resident = server.mint("resident", "r-drill", &[]).unwrap();
    let t = submit(server, &resident, "d-1", "DRILL", -600.0).await;
    assert_eq!(level(&t), ChiefLevel::Grid);
    let mut intake = IntakeServiceClient::new(server.channel().await.unwrap());
    let mut watch = intake
        .watch_incident(authed(
            &resident,
            WatchIncidentRequest {
                ticket_id: t.id.clone(),
                after_seq: 0,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut kinds = Vec::new();
    while !kinds.contains(&EventKind::AutoEscalated) {
        let e = tokio::time::timeout_at(deadline, watch.next())
            .await
            .expect("AUTO_ESCALATED within 30 s")
            .unwrap()
            .unwrap();
        kinds.push(EventKind::try_from(e.kind).unwrap());
        if kinds.last() == Some(&EventKind::AutoEscalated) {
            assert_eq!(e.level, ChiefLevel::Lane as i32);
        }
    }
    assert!(kinds.contains(&EventKind::DeadlineWarning), "{kinds:?}");
}

/// 挂起: the chief asks, the command center refuses or approves, the clocks stop, and run
/// again by themselves at the time asked, moved on by the time they stood.
async fn pause_flow(server: &Server) {
    let resident = server.mint("resident", "r-pause", &[]).unwrap();
    let grid_chief = server.mint("chief", "P003", &["220102001001001"]).unwrap();
    let center = server.mint("command_center", "cc-1", &[SUB]).unwrap();
    let other_center = server
        .mint("command_center", "cc-2", &["220102002"])
        .unwrap();
    let mut desk: Desk = EscalationServiceClient::new(server.channel().await.unwrap());
    let mut cc = SupervisionServiceClient::new(server.channel().await.unwrap());
    let t = submit(server, &resident, "p-1", "C0102", -300.0).await;
    let ask = |rid: &str, version: i64, secs: i64| RequestPauseRequest {
        request_id: rid.into(),
        ticket_id: t.id.clone(),
        expected_version: version,
        reason: "等待配件".into(),
        until: Some(secs_from_now(secs)),
    };
    let err = desk
        .request_pause(authed(&grid_chief, ask("p-0", t.version, -5)))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::InvalidArgument,
        "until in the past: {err:?}"
    );
    let asked = desk
        .request_pause(authed(&grid_chief, ask("p-a", t.version, 3600)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(asked.pause, PauseState::Requested as i32);
    // Another subdistrict's command center cannot see it.
    let decide = |rid: &str, version: i64, approve: bool| DecidePauseRequest {
        request_id: rid.into(),
        ticket_id: t.id.clone(),
        expected_version: version,
        approve,
        note: String::new(),
    };
    let err = cc
        .decide_pause(authed(&other_center, decide("dp-x", asked.version, true)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    // Refused: the clocks run on, as before.
    let refused = cc
        .decide_pause(authed(&center, decide("dp-1", asked.version, false)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(refused.pause, PauseState::None as i32);
    assert_eq!(refused.accept_due_at, t.accept_due_at);
    // Asked again, for two seconds, and approved: the clocks stop.
    let asked = desk
        .request_pause(authed(&grid_chief, ask("p-b", refused.version, 2)))
        .await
        .unwrap()
        .into_inner();
    let paused = cc
        .decide_pause(authed(&center, decide("dp-2", asked.version, true)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(paused.pause, PauseState::Paused as i32);
    // The worker ends it at the time asked; the deadlines moved on by the pause.
    let mut intake = IntakeServiceClient::new(server.channel().await.unwrap());
    let mut watch = intake
        .watch_incident(authed(
            &resident,
            WatchIncidentRequest {
                ticket_id: t.id.clone(),
                after_seq: paused.version,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let resumed = tokio::time::timeout(Duration::from_secs(30), watch.next())
        .await
        .expect("resumed within 30 s")
        .unwrap()
        .unwrap();
    assert_eq!(resumed.kind, EventKind::Resumed as i32);
    let now = desk
        .get_ticket(authed(
            &grid_chief,
            GetTicketRequest {
                ticket_id: t.id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(now.pause, PauseState::None as i32);
    assert!(
        now.accept_due_at.unwrap().seconds > t.accept_due_at.unwrap().seconds,
        "the accept deadline moved on by the pause"
    );
}

/// The administrator reads the shipped holidays and sets next year's.
async fn calendars(server: &Server) {
    let admin = server.mint("admin", "admin", &[]).unwrap();
    let mut client = AdminServiceClient::new(server.channel().await.unwrap());
    let d = |year, month, day| LocalDate { year, month, day };
    let shipped = client
        .get_calendar(authed(
            &admin,
            GetCalendarRequest {
                calendar_code: String::new(),
                year: 2026,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(shipped.time_zone, "Asia/Shanghai");
    assert!(shipped.holidays.contains(&d(2026, 10, 1)));
    assert!(
        shipped.makeup_workdays.contains(&d(2026, 10, 10)),
        "调休 Saturday"
    );
    let err = client
        .get_calendar(authed(
            &admin,
            GetCalendarRequest {
                calendar_code: "cn".into(),
                year: 2031,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    let set = |rid: &str, holidays: Vec<LocalDate>, makeup: Vec<LocalDate>, zone: &str| {
        SetCalendarRequest {
            request_id: rid.into(),
            calendar_code: "cn".into(),
            year: 2027,
            holidays,
            makeup_workdays: makeup,
            working_hours: vec![],
            time_zone: zone.into(),
        }
    };
    let national: Vec<LocalDate> = (1..=7).map(|day| d(2027, 10, day)).collect();
    let saved = client
        .set_calendar(authed(
            &admin,
            set("cal-1", national.clone(), vec![d(2027, 10, 9)], ""),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(saved.holidays, national);
    assert_eq!(
        saved.working_hours.len(),
        2,
        "the default 08:30–12:00, 13:00–17:30"
    );
    let read = client
        .get_calendar(authed(
            &admin,
            GetCalendarRequest {
                calendar_code: "cn".into(),
                year: 2027,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (read.holidays, read.makeup_workdays),
        (national.clone(), vec![d(2027, 10, 9)])
    );

    // Bad input names the field; nothing changes.
    for (req, field) in [
        (
            set("cal-2", vec![d(2027, 13, 1)], vec![], ""),
            "holidays[0].month",
        ),
        (
            set("cal-3", vec![d(2027, 2, 30)], vec![], ""),
            "holidays[0]",
        ),
        (set("cal-4", vec![d(2026, 5, 1)], vec![], ""), "holidays[0]"),
        (
            set("cal-5", vec![d(2027, 5, 1)], vec![d(2027, 5, 1)], ""),
            "makeup_workdays[0]",
        ),
        (set("cal-6", vec![], vec![], "Europe/Berlin"), "time_zone"),
    ] {
        let err = client.set_calendar(authed(&admin, req)).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{field}: {err:?}");
        let fields: Vec<String> = tonic_types::StatusExt::get_details_bad_request(&err)
            .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
            .unwrap_or_default();
        assert_eq!(fields, [field], "{err:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desk_on_sqlite() {
    let server = Server::start_env(
        None,
        None,
        &[
            ("WUZHANG_TIMER_POLL_MS", "100"),
            ("WUZHANG_EVENT_POLL_MS", "100"),
        ],
        &[],
    )
    .unwrap();
    desk_flow(&server).await;
    live_drill(&server).await;
    calendars(&server).await;
    pause_flow(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desk_on_postgres() {
    let Some(url) = fresh_pg_url().await else {
        return;
    };
    let server = Server::start_env(
        Some(url),
        None,
        &[
            ("WUZHANG_TIMER_POLL_MS", "100"),
            ("WUZHANG_EVENT_POLL_MS", "100"),
        ],
        &[],
    )
    .unwrap();
    desk_flow(&server).await;
    live_drill(&server).await;
    calendars(&server).await;
    pause_flow(&server).await;
}
