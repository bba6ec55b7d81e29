//! Emergency mode (战时, of 平战结合) over real gRPC against the started binary, on both
//! stores: the command center switches its subdistrict on with a factor, the open
//! ticket's deadlines shrink by what is left, a new ticket starts on short clocks, a
//! pause is refused; switching back gives the clocks back; scope, roles and bad input.
//! The binary runs on the wall clock, so times are checked within the window the call
//! took.

use prost_types::Timestamp;
use tonic::Code;
use tonic::transport::Channel;
#[path = "../harness.rs"]
mod harness;
use harness::{
    Server, assert_field, authed, fresh_pg_url, secs_from_now, seed_small_tree, submit_report,
};
use wuzhang_proto::v1::escalation_service_client::EscalationServiceClient;
use wuzhang_proto::v1::intake_service_client::IntakeServiceClient;
use wuzhang_proto::v1::supervision_service_client::SupervisionServiceClient;
use wuzhang_proto::v1::{
    ChiefLevel, CreateCampaignRequest, Crs, EmergencyModeState, EvaluationPeriod, EvaluationScope,
    EventKind, GeoPoint, GetEvaluationRequest, GetIncidentRequest, GetOverviewRequest,
    ListInboxRequest, RequestPauseRequest, SetEmergencyModeRequest, Ticket, WatchIncidentRequest,
};

const SUB: &str = "220102001";
/// 井盖缺失或破损: natural time, accept within 1 h, resolve within 2 days.
const CATEGORY: &str = "C0101";

type Center = SupervisionServiceClient<Channel>;

fn spot(north: f64) -> GeoPoint {
    GeoPoint {
        lat: 43.807 + north / 111_000.0,
        lng: 125.307,
        crs: Crs::Wgs84 as i32,
    }
}

/// Yesterday's and today's local days (Asia/Shanghai), as evaluation periods are: the
/// test's tickets lie in them whenever it runs.
fn two_local_days() -> (Timestamp, Timestamp) {
    let now = secs_from_now(0).seconds;
    let offset = 8 * 3600;
    let today = (now + offset).div_euclid(86_400) * 86_400 - offset;
    let ts = |seconds| Timestamp { seconds, nanos: 0 };
    (ts(today - 86_400), ts(today + 86_400))
}

fn micros(t: &Option<Timestamp>) -> i64 {
    let t = t.as_ref().expect("a time");
    t.seconds * 1_000_000 + i64::from(t.nanos) / 1_000
}

fn now_micros() -> i64 {
    micros(&Some(secs_from_now(0)))
}

fn switch(rid: &str, emergency: bool, factor: f64, reason: &str) -> SetEmergencyModeRequest {
    SetEmergencyModeRequest {
        request_id: rid.into(),
        subdistrict_code: SUB.into(),
        emergency,
        factor,
        reason: reason.into(),
        district_code: String::new(),
    }
}

async fn get(server: &Server, token: &str, id: &str) -> Ticket {
    let mut intake = IntakeServiceClient::new(server.channel().await.unwrap());
    intake
        .get_incident(authed(
            token,
            GetIncidentRequest {
                ticket_id: id.into(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
}

/// The switch at some instant in [`before`, `after`] (µs) moved a deadline `due` (µs) to
/// the switch + (due − switch) × `ratio`: the moved one lies between the two bounds
/// (a second either way for rounding to whole seconds).
fn assert_rescaled(moved: i64, due: i64, ratio: f64, before: i64, after: i64) {
    let at = |s: i64| s + ((due - s) as f64 * ratio) as i64;
    let (lo, hi) = (at(before).min(at(after)), at(before).max(at(after)));
    assert!(
        moved >= lo - 1_000_000 && moved <= hi + 1_000_000,
        "moved to {moved}, expected within [{lo}, {hi}] (due {due}, ratio {ratio})"
    );
}

async fn overview_mode(cc: &mut Center, token: &str) -> EmergencyModeState {
    cc.get_overview(authed(
        token,
        GetOverviewRequest {
            subdistrict_code: SUB.into(),
        },
    ))
    .await
    .unwrap()
    .into_inner()
    .emergency
    .expect("the mode")
}

async fn emergency_flow(server: &Server) {
    seed_small_tree(server).await;
    let center = server.mint("command_center", "cc-1", &[SUB]).unwrap();
    let resident = server.mint("resident", "r-em", &[]).unwrap();
    let grid_chief = server.mint("chief", "P003", &["220102001001001"]).unwrap();
    let mut cc: Center = SupervisionServiceClient::new(server.channel().await.unwrap());
    let mut desk = EscalationServiceClient::new(server.channel().await.unwrap());

    // Peacetime: an hour to accept, two days to resolve.
    let first = submit_report(server, &resident, "em-1", CATEGORY, spot(0.0)).await;
    assert_eq!(first.clock_rate, 1.0);
    let created = micros(&first.created_at);
    assert_eq!(micros(&first.accept_due_at) - created, 3_600_000_000);
    assert_eq!(micros(&first.resolve_due_at) - created, 2 * 86_400_000_000);
    let mode = overview_mode(&mut cc, &center).await;
    assert!(!mode.emergency);
    assert_eq!(mode.factor, 1.0);

    // Bad input, roles and scope change nothing.
    // Not faster, too fast, not a number.
    for factor in [1.0, 10.5, f64::NAN] {
        let err = cc
            .set_emergency_mode(authed(&center, switch("bad", true, factor, "暴雨")))
            .await
            .unwrap_err();
        assert_field(&err, "factor");
    }
    let err = cc
        .set_emergency_mode(authed(&center, switch("bad-2", false, 2.0, "解除")))
        .await
        .unwrap_err();
    assert_field(&err, "factor");
    let err = cc
        .set_emergency_mode(authed(&center, switch("bad-3", true, 2.0, " ")))
        .await
        .unwrap_err();
    assert_field(&err, "reason");
    let other = server
        .mint("command_center", "cc-2", &["220102002"])
        .unwrap();
    let err = cc
        .set_emergency_mode(authed(&other, switch("o-1", true, 2.0, "暴雨")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    let err = cc
        .set_emergency_mode(authed(&grid_chief, switch("c-1", true, 2.0, "暴雨")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    assert_eq!(get(server, &resident, &first.id).await.clock_rate, 1.0);

    // On, twice as fast: what is left of the open ticket's clocks halves.
    let before = now_micros();
    let on = cc
        .set_emergency_mode(authed(&center, switch("on-1", true, 2.0, "暴雨红色预警")))
        .await
        .unwrap()
        .into_inner();
    let after = now_micros();
    assert!(on.emergency);
    assert_eq!(on.factor, 2.0);
    assert_eq!(on.rescaled_tickets, 1);
    assert_eq!(on.switched_by, "cc-1");
    assert_eq!(on.reason, "暴雨红色预警");
    let moved = get(server, &resident, &first.id).await;
    assert_eq!(moved.clock_rate, 2.0);
    let half = 0.5;
    assert_rescaled(
        micros(&moved.accept_due_at),
        micros(&first.accept_due_at),
        half,
        before,
        after,
    );
    assert_rescaled(
        micros(&moved.resolve_due_at),
        micros(&first.resolve_due_at),
        half,
        before,
        after,
    );
    let mode = overview_mode(&mut cc, &center).await;
    assert!(mode.emergency);
    assert_eq!((mode.factor, mode.switched_by.as_str()), (2.0, "cc-1"));
    assert_eq!(mode.since, on.since);

    // A new ticket starts on half clocks.
    let second = submit_report(server, &resident, "em-2", CATEGORY, spot(-300.0)).await;
    assert_eq!(second.clock_rate, 2.0);
    let created = micros(&second.created_at);
    assert_eq!(micros(&second.accept_due_at) - created, 1_800_000_000);
    assert_eq!(micros(&second.resolve_due_at) - created, 86_400_000_000);

    // A campaign's tasks take the rate too (one per grid: two).
    let campaign = cc
        .create_campaign(authed(
            &center,
            CreateCampaignRequest {
                request_id: "cp-em".into(),
                area_code: SUB.into(),
                level: ChiefLevel::Grid as i32,
                title: "防汛巡查".into(),
                instructions: "查看低洼处积水".into(),
                category_code: CATEGORY.into(),
                deadline: Some(secs_from_now(7200)),
                checklist: vec![],
                counts: vec![],
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(campaign.tasks, 2);
    let inbox = desk
        .list_inbox(authed(&grid_chief, ListInboxRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .tickets;
    let task = inbox
        .iter()
        .find(|t| t.description.starts_with("防汛巡查") || t.description.contains("防汛巡查"))
        .expect("the grid chief's task");
    assert_eq!(task.clock_rate, 2.0);
    assert_eq!(
        micros(&task.accept_due_at) - micros(&task.created_at),
        1_800_000_000,
        "half the category's hour to accept"
    );

    // No pause in emergency mode.
    let err = desk
        .request_pause(authed(
            &grid_chief,
            RequestPauseRequest {
                request_id: "p-em".into(),
                ticket_id: second.id.clone(),
                expected_version: 0,
                reason: "等待配件".into(),
                until: Some(secs_from_now(3600)),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(err.message().contains("emergency mode"), "{err:?}");

    // Off again: what is left doubles, on both tickets; a retry answers the same.
    let (first_on, second_on) = (moved, get(server, &resident, &second.id).await);
    let before = now_micros();
    let off = cc
        .set_emergency_mode(authed(&center, switch("off-1", false, 0.0, "预警解除")))
        .await
        .unwrap()
        .into_inner();
    let after = now_micros();
    assert!(!off.emergency);
    // Both tickets and the campaign's two tasks.
    assert_eq!((off.factor, off.rescaled_tickets), (1.0, 4));
    let again = cc
        .set_emergency_mode(authed(&center, switch("off-1", false, 0.0, "预警解除")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again, off);
    for (was, id) in [(&first_on, &first.id), (&second_on, &second.id)] {
        let back = get(server, &resident, id).await;
        assert_eq!(back.clock_rate, 1.0);
        assert_rescaled(
            micros(&back.accept_due_at),
            micros(&was.accept_due_at),
            2.0,
            before,
            after,
        );
    }
    // The log says why the deadlines moved, with the deadlines after each move: the
    // first ticket's history ends with two changes of rate.
    let mut intake = IntakeServiceClient::new(server.channel().await.unwrap());
    let mut history = intake
        .watch_incident(authed(
            &resident,
            WatchIncidentRequest {
                ticket_id: first.id.clone(),
                after_seq: 0,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let mut kinds = Vec::new();
    while kinds.len() < 4 {
        let e = history.message().await.unwrap().expect("an event");
        kinds.push(EventKind::try_from(e.kind).unwrap());
    }
    assert_eq!(
        kinds,
        [
            EventKind::Submitted,
            EventKind::Assigned,
            EventKind::ClockRateChanged,
            EventKind::ClockRateChanged
        ]
    );
    assert!(!overview_mode(&mut cc, &center).await.emergency);

    // Evaluation keeps the periods apart: the first ticket was received in peacetime, the
    // second and the campaign's task in emergency mode (by the same grid chief, on the
    // same day).
    let received = |period: EvaluationPeriod| {
        let mut cc = cc.clone();
        let center = center.clone();
        async move {
            let (start, end) = two_local_days();
            let rows = cc
                .get_evaluation(authed(
                    &center,
                    GetEvaluationRequest {
                        subdistrict_code: SUB.into(),
                        period_start: Some(start),
                        period_end: Some(end),
                        group_by: EvaluationScope::Chief as i32,
                        format: 0,
                        period: period as i32,
                    },
                ))
                .await
                .unwrap()
                .into_inner()
                .rows;
            rows.iter()
                .find(|r| r.key == "P003")
                .map_or(0, |r| r.received)
        }
    };
    assert_eq!(received(EvaluationPeriod::Peacetime).await, 1);
    assert_eq!(received(EvaluationPeriod::Emergency).await, 2);
    assert_eq!(received(EvaluationPeriod::Unspecified).await, 3);
    // Pauses are allowed again.
    desk.request_pause(authed(
        &grid_chief,
        RequestPauseRequest {
            request_id: "p-peace".into(),
            ticket_id: second.id.clone(),
            expected_version: 0,
            reason: "等待配件".into(),
            until: Some(secs_from_now(3600)),
        },
    ))
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emergency_mode_on_sqlite() {
    let server = Server::start(&[]).unwrap();
    emergency_flow(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emergency_mode_on_postgres() {
    let Some(url) = fresh_pg_url().await else {
        return;
    };
    let server = Server::start_env(Some(url), None, &[], &[]).unwrap();
    emergency_flow(&server).await;
}

/// A district of two subdistricts (squares side by side), as GeoJSON.
fn district_tree() -> Vec<u8> {
    let square =
        |w: f64, e: f64| format!("[[[{w},43.0],[{e},43.0],[{e},43.2],[{w},43.2],[{w},43.0]]]");
    let feature = |code: &str, name: &str, level: &str, parent: &str, ring: String| {
        let parent = if parent.is_empty() {
            String::new()
        } else {
            format!(r#","parent_code":"{parent}""#)
        };
        format!(
            r#"{{"type":"Feature","properties":{{"code":"{code}","name":"{name}","level":"{level}"{parent}}},"geometry":{{"type":"Polygon","coordinates":{ring}}}}}"#
        )
    };
    let features = [
        feature("990001", "演练区", "district", "", square(125.0, 125.2)),
        feature(
            "990001001",
            "东街道",
            "subdistrict",
            "990001",
            square(125.0, 125.1),
        ),
        feature(
            "990001002",
            "西街道",
            "subdistrict",
            "990001",
            square(125.1, 125.2),
        ),
    ];
    format!(
        r#"{{"type":"FeatureCollection","features":[{}]}}"#,
        features.join(",")
    )
    .into_bytes()
}

async fn district_switch(server: &Server) {
    use wuzhang_proto::v1::ImportAreasRequest;
    use wuzhang_proto::v1::admin_service_client::AdminServiceClient;
    use wuzhang_proto::v1::import_areas_request::Source;
    let admin = server.mint("admin", "admin", &[]).unwrap();
    AdminServiceClient::new(server.channel().await.unwrap())
        .import_areas(authed(
            &admin,
            ImportAreasRequest {
                request_id: "district".into(),
                source: Some(Source::Geojson(district_tree())),
                ..Default::default()
            },
        ))
        .await
        .unwrap();
    let mut cc = SupervisionServiceClient::new(server.channel().await.unwrap());
    let district = |rid: &str, code: &str| SetEmergencyModeRequest {
        request_id: rid.into(),
        subdistrict_code: String::new(),
        emergency: true,
        factor: 1.5,
        reason: "全区防汛".into(),
        district_code: code.into(),
    };
    // A command center may not; a subdistrict's code is not a district's; not both.
    let center = server
        .mint("command_center", "cc-d", &["990001001"])
        .unwrap();
    let err = cc
        .set_emergency_mode(authed(&center, district("d-0", "990001")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = cc
        .set_emergency_mode(authed(&admin, district("d-1", "990001001")))
        .await
        .unwrap_err();
    assert_field(&err, "district_code");
    let err = cc
        .set_emergency_mode(authed(
            &admin,
            SetEmergencyModeRequest {
                subdistrict_code: "990001001".into(),
                ..district("d-2", "990001")
            },
        ))
        .await
        .unwrap_err();
    assert_field(&err, "subdistrict_code");

    let switched = cc
        .set_emergency_mode(authed(&admin, district("d-ok", "990001")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(switched.subdistrict_codes, ["990001001", "990001002"]);
    assert!(switched.emergency);
    assert_eq!(switched.factor, 1.5);
    // Each subdistrict is in emergency mode, as its command center sees it.
    for sub in ["990001001", "990001002"] {
        let mode = cc
            .get_overview(authed(
                &admin,
                GetOverviewRequest {
                    subdistrict_code: sub.into(),
                },
            ))
            .await
            .unwrap()
            .into_inner()
            .emergency
            .unwrap();
        assert!(mode.emergency, "{sub}");
        assert_eq!(mode.factor, 1.5, "{sub}");
        assert_eq!(mode.reason, "全区防汛");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_switches_a_whole_district_on_sqlite() {
    let server = Server::start(&[]).unwrap();
    district_switch(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_switches_a_whole_district_on_postgres() {
    let Some(url) = fresh_pg_url().await else {
        return;
    };
    let server = Server::start_env(Some(url), None, &[], &[]).unwrap();
    district_switch(&server).await;
}
