//! 考评 over real gRPC against the started binary, on both stores: a scripted day of work
//! (accept, resolve, verify, rate, escalate by hand, 督办, reopen) and the evaluation rows
//! it must give, computed by hand below; the CSV; who may read which rows; and the period
//! checks. The rules are in docs/evaluation.md; each is tested on its own in the domain.

use tonic::Code;
use tonic::transport::Channel;
#[path = "../harness.rs"]
mod harness;
use harness::{Server, authed, fresh_pg_url, seed_small_tree, submit_report};
use wuzhang_proto::v1::escalation_service_client::EscalationServiceClient;
use wuzhang_proto::v1::intake_service_client::IntakeServiceClient;
use wuzhang_proto::v1::supervision_service_client::SupervisionServiceClient;
use wuzhang_proto::v1::{
    AcceptTicketRequest, ChiefLevel, Crs, EscalateTicketRequest, EvaluationFormat, EvaluationRow,
    EvaluationScope, GeoPoint, GetEvaluationRequest, IssueSupervisionRequest, RateIncidentRequest,
    ReopenTicketRequest, ResolveTicketRequest, SupervisionSeverity, Ticket, VerifyTicketRequest,
};

const SUB: &str = "220102001";
const GRID: &str = "220102001001001";
const GRID_CHIEF: &str = "P003";
const LANE_CHIEF: &str = "P002";

type Desk = EscalationServiceClient<Channel>;
type Center = SupervisionServiceClient<Channel>;

fn at_grid_1() -> GeoPoint {
    GeoPoint {
        lat: 43.807,
        lng: 125.307,
        crs: Crs::Wgs84 as i32,
    }
}

/// Local (UTC+8) midnights: yesterday's and the day after tomorrow's, so a run that
/// crosses midnight still holds every event.
fn period() -> (prost_types::Timestamp, prost_types::Timestamp) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let offset = 8 * 3600;
    let today = (now + offset).div_euclid(86_400) * 86_400 - offset;
    let ts = |seconds| prost_types::Timestamp { seconds, nanos: 0 };
    (ts(today - 86_400), ts(today + 2 * 86_400))
}

fn ask(group_by: EvaluationScope, format: EvaluationFormat) -> GetEvaluationRequest {
    let (start, end) = period();
    GetEvaluationRequest {
        subdistrict_code: SUB.into(),
        period_start: Some(start),
        period_end: Some(end),
        group_by: group_by as i32,
        format: format as i32,
        period: 0,
    }
}

async fn accept(desk: &mut Desk, chief: &str, t: &Ticket, rid: &str) -> Ticket {
    desk.accept_ticket(authed(
        chief,
        AcceptTicketRequest {
            request_id: rid.into(),
            ticket_id: t.id.clone(),
            expected_version: 0,
            note: String::new(),
        },
    ))
    .await
    .unwrap()
    .into_inner()
}

async fn resolve(desk: &mut Desk, chief: &str, t: &Ticket, rid: &str) -> Ticket {
    desk.resolve_ticket(authed(
        chief,
        ResolveTicketRequest {
            request_id: rid.into(),
            ticket_id: t.id.clone(),
            expected_version: 0,
            note: "已处理".into(),
            ..Default::default()
        },
    ))
    .await
    .unwrap()
    .into_inner()
}

fn row<'a>(rows: &'a [EvaluationRow], key: &str) -> &'a EvaluationRow {
    rows.iter()
        .find(|r| r.key == key)
        .unwrap_or_else(|| panic!("no row {key} in {rows:?}"))
}

/// The figures every row is compared on, in one tuple so a failure shows them all.
fn counts(r: &EvaluationRow) -> [i64; 14] {
    [
        r.received,
        r.reported,
        r.accepted,
        r.accepted_on_time,
        r.resolved,
        r.resolved_on_time,
        r.closed,
        r.closed_on_time,
        r.reopened,
        r.rated,
        r.satisfied,
        r.overdue,
        r.escalations,
        r.supervision_orders,
    ]
}

async fn evaluation_flow(server: &Server) {
    seed_small_tree(server).await;
    let resident = server.mint("resident", "r-ev", &[]).unwrap();
    let grid_chief = server.mint("chief", GRID_CHIEF, &[GRID]).unwrap();
    let lane_chief = server
        .mint("chief", LANE_CHIEF, &["220102001S01L01", "220102001001002"])
        .unwrap();
    let center = server.mint("command_center", "cc-1", &[SUB]).unwrap();
    let mut desk: Desk = EscalationServiceClient::new(server.channel().await.unwrap());
    let mut cc: Center = SupervisionServiceClient::new(server.channel().await.unwrap());
    let mut intake = IntakeServiceClient::new(server.channel().await.unwrap());

    // 1. The grid chief handles a report; the center verifies it; the resident rates 5.
    let one = submit_report(server, &resident, "ev-1", "C0102", at_grid_1()).await;
    assert_eq!(one.assignee_person_id, GRID_CHIEF);
    accept(&mut desk, &grid_chief, &one, "ev-1a").await;
    resolve(&mut desk, &grid_chief, &one, "ev-1r").await;
    cc.verify_ticket(authed(
        &center,
        VerifyTicketRequest {
            request_id: "ev-1v".into(),
            ticket_id: one.id.clone(),
            expected_version: 0,
            pass: true,
            note: String::new(),
        },
    ))
    .await
    .unwrap();
    intake
        .rate_incident(authed(
            &resident,
            RateIncidentRequest {
                request_id: "ev-1s".into(),
                ticket_id: one.id.clone(),
                stars: 5,
                not_solved: false,
                comment: "很快".into(),
            },
        ))
        .await
        .unwrap();

    // 2. The grid chief passes a report up by hand; the lane chief resolves it; the center
    //    sends it back (返工), to the lane chief.
    let two = submit_report(server, &resident, "ev-2", "C0102", at_grid_1()).await;
    let up = desk
        .escalate_ticket(authed(
            &grid_chief,
            EscalateTicketRequest {
                request_id: "ev-2e".into(),
                ticket_id: two.id.clone(),
                expected_version: 0,
                reason: "需路长协调".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(up.assignee_person_id, LANE_CHIEF);
    accept(&mut desk, &lane_chief, &two, "ev-2a").await;
    resolve(&mut desk, &lane_chief, &two, "ev-2r").await;
    let back = cc
        .reopen_ticket(authed(
            &center,
            ReopenTicketRequest {
                request_id: "ev-2o".into(),
                ticket_id: two.id.clone(),
                expected_version: 0,
                reason: "未修好".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(back.assignee_person_id, LANE_CHIEF);

    // 3. A third report, of another category (the same one there would be folded into
    //    the open second as a duplicate), still open, gets a 督办.
    let three = submit_report(server, &resident, "ev-3", "C0104", at_grid_1()).await;
    assert_eq!(three.assignee_person_id, GRID_CHIEF);
    cc.issue_supervision(authed(
        &center,
        IssueSupervisionRequest {
            request_id: "ev-3s".into(),
            ticket_id: three.id.clone(),
            expected_version: 0,
            deadline: Some(harness::secs_from_now(3600)),
            severity: SupervisionSeverity::Serious as i32,
            note: "今日办结".into(),
        },
    ))
    .await
    .unwrap();

    // By chief. The grid chief received three (one escalated away, one supervised) and
    // handled one through closure and a 5-star rating; the lane chief received two (the
    // escalation, then the reopen) and resolved one, which was reopened. Every deadline
    // was hours away: all on time, none overdue.
    //            recv rep acc acc⏱ res res⏱ cls cls⏱ reop rated sat ovd esc sup
    let grid_chief_row = [3, 0, 1, 1, 1, 1, 1, 1, 0, 1, 1, 0, 1, 1];
    let lane_chief_row = [2, 0, 1, 1, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0];
    let by_chief = cc
        .get_evaluation(authed(
            &center,
            ask(EvaluationScope::Chief, EvaluationFormat::Csv),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_chief.subdistrict_code, SUB);
    assert_eq!(by_chief.rows.len(), 2, "{:?}", by_chief.rows);
    let p3 = row(&by_chief.rows, GRID_CHIEF);
    assert_eq!(counts(p3), grid_chief_row);
    assert_eq!(p3.name, "张网格");
    assert_eq!(p3.level, ChiefLevel::Grid as i32);
    // 响应率 100, on time 100, 解决率 1/3, 满意率 100, 返工率 0 (counted as 100):
    // (100·0.2 + 100·0.3 + 33.33·0.2 + 100·0.2 + 100·0.1) / 1.0 = 86.67.
    assert!((p3.resolution_rate - 100.0 / 3.0).abs() < 1e-9);
    assert_eq!(p3.score, 86.67);
    let p2 = row(&by_chief.rows, LANE_CHIEF);
    assert_eq!(counts(p2), lane_chief_row);
    assert_eq!(p2.level, ChiefLevel::Lane as i32);
    assert_eq!(p2.reopen_rate, 100.0);
    // The CSV: a header and one line per row, in key order.
    let csv = String::from_utf8(by_chief.csv.clone()).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[0].starts_with("key,name,level,received,"), "{csv}");
    assert!(
        lines[1].starts_with("P002,李路长,CHIEF_LEVEL_LANE,2,0,1,1,100.00,"),
        "{csv}"
    );
    assert!(
        lines[2].starts_with("P003,张网格,CHIEF_LEVEL_GRID,3,0,1,1,100.00,"),
        "{csv}"
    );
    assert!(lines[2].ends_with(",86.67"), "{csv}");
    // Rows only unless CSV is asked for.
    let plain = cc
        .get_evaluation(authed(
            &center,
            ask(EvaluationScope::Chief, EvaluationFormat::Rows),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(plain.csv.is_empty());
    assert_eq!(plain.rows, by_chief.rows);

    // By area: every holding of a ticket in the grid counts on the grid, its lane and the
    // subdistrict; three tickets were reported there.
    let area_row = [5, 3, 2, 2, 2, 2, 1, 1, 1, 1, 1, 0, 1, 1];
    for (scope, key) in [
        (EvaluationScope::Grid, GRID),
        (EvaluationScope::Lane, "220102001S01L01"),
        (EvaluationScope::Subdistrict, SUB),
    ] {
        let e = cc
            .get_evaluation(authed(&center, ask(scope, EvaluationFormat::Rows)))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(e.rows.len(), 1, "{scope:?}: {:?}", e.rows);
        assert_eq!(e.rows[0].key, key);
        assert_eq!(counts(&e.rows[0]), area_row, "{scope:?}");
    }

    // A chief sees their own row only, and only by chief.
    let own = cc
        .get_evaluation(authed(
            &grid_chief,
            ask(EvaluationScope::Chief, EvaluationFormat::Rows),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(own.rows.len(), 1);
    assert_eq!(counts(&own.rows[0]), grid_chief_row);
    let err = cc
        .get_evaluation(authed(
            &grid_chief,
            ask(EvaluationScope::Grid, EvaluationFormat::Rows),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    // Another subdistrict's center does not see this one; a resident may not ask.
    let other = server
        .mint("command_center", "cc-2", &["220102002"])
        .unwrap();
    let err = cc
        .get_evaluation(authed(
            &other,
            ask(EvaluationScope::Grid, EvaluationFormat::Rows),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    let err = cc
        .get_evaluation(authed(
            &resident,
            ask(EvaluationScope::Grid, EvaluationFormat::Rows),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    // An admin compares every subdistrict.
    let admin = server.mint("admin", "root", &[]).unwrap();
    let all = cc
        .get_evaluation(authed(
            &admin,
            GetEvaluationRequest {
                subdistrict_code: String::new(),
                ..ask(EvaluationScope::Subdistrict, EvaluationFormat::Rows)
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.subdistrict_code, "");
    assert_eq!(counts(row(&all.rows, SUB)), area_row);

    // The period: whole local days, named by field.
    let mut bad = ask(EvaluationScope::Grid, EvaluationFormat::Rows);
    bad.period_start.as_mut().unwrap().seconds += 60;
    assert_field(&cc, &center, bad, "period_start").await;
    let mut bad = ask(EvaluationScope::Grid, EvaluationFormat::Rows);
    bad.period_end = bad.period_start;
    assert_field(&cc, &center, bad, "period_end").await;
    let mut bad = ask(EvaluationScope::Grid, EvaluationFormat::Rows);
    bad.period_end.as_mut().unwrap().seconds += 400 * 86_400;
    assert_field(&cc, &center, bad, "period_end").await;
    let bad = ask(EvaluationScope::Unspecified, EvaluationFormat::Rows);
    assert_field(&cc, &center, bad, "group_by").await;
    let mut bad = ask(EvaluationScope::Grid, EvaluationFormat::Rows);
    bad.period_start = None;
    assert_field(&cc, &center, bad, "period_start").await;
}

async fn assert_field(cc: &Center, token: &str, request: GetEvaluationRequest, field: &str) {
    let err = cc
        .clone()
        .get_evaluation(authed(token, request))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    let details = tonic_types::StatusExt::get_details_bad_request(&err).expect("BadRequest");
    assert!(
        details.field_violations.iter().any(|v| v.field == field),
        "{field} named in {details:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evaluation_on_sqlite() {
    let server = Server::start(&[]).unwrap();
    evaluation_flow(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evaluation_on_postgres() {
    let Some(url) = fresh_pg_url().await else {
        return;
    };
    let server = Server::start_env(Some(url), None, &[], &[]).unwrap();
    evaluation_flow(&server).await;
}
