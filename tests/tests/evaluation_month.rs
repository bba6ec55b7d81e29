//! A scripted month of history (November 2026, Asia/Shanghai) against the started binary,
//! on both stores, with the binary's clock read from a file the test moves
//! (`WUZHANG_TEST_CLOCK_FILE`): reports, 签收, resolutions, a deadline the timer worker
//! escalates on, a 返工, verification, a rating; then `GetEvaluation` for the month by
//! chief and by grid, CSV included, equal to figures computed by hand below.
//!
//! The category is 井盖缺失或破损 (C0101): natural time, accept within 1 h, resolve within
//! 2 days. Times are local (+08:00).
//!
//! | when | what | whose holding |
//! |---|---|---|
//! | 11-02 09:00 | A reported, to 张网格 (P003) | P003 #1 received |
//! | 11-02 09:30 | P003 accepts A (due 10:00) | on time, response 1,800 s |
//! | 11-03 15:00 | P003 resolves A (due 11-04 09:00) | on time, handling 108,000 s |
//! | 11-03 16:00 | the command center verifies A | closed, on time |
//! | 11-03 17:00 | the resident rates A 5 stars | rated, satisfied |
//! | 11-05 09:00 | B reported, to P003 | P003 #2 received |
//! | 11-05 10:01 | the accept hour passed: the worker escalates B to 李路长 (P002) | P003 #2 overdue, escalation; P002 #1 received |
//! | 11-05 10:30 | P002 accepts B (due 11:01) | on time, response 1,740 s |
//! | 11-10 09:00 | P002 resolves B (due 11-07 10:01) | late: overdue; handling 428,340 s |
//! | 11-10 10:00 | verification fails (返工) | P002 #1 reopened; P002 #2 received |
//! | 11-10 10:20 | P002 accepts (due 11:00) | on time, response 1,200 s |
//! | 11-11 10:00 | P002 resolves (due 11-12 10:00) | on time, handling 86,400 s |
//! | 11-11 11:00 | the command center closes B | closed, on time |

use std::time::{Duration, Instant};

use prost_types::Timestamp;
use tonic::transport::Channel;
#[path = "../harness.rs"]
mod harness;
use harness::{Server, TestClock, authed, fresh_pg_url, seed_small_tree_as, submit_report};
use wuzhang_proto::v1::escalation_service_client::EscalationServiceClient;
use wuzhang_proto::v1::intake_service_client::IntakeServiceClient;
use wuzhang_proto::v1::supervision_service_client::SupervisionServiceClient;
use wuzhang_proto::v1::{
    AcceptTicketRequest, ChiefLevel, CloseTicketRequest, Crs, EvaluationFormat, EvaluationRow,
    EvaluationScope, GeoPoint, GetEvaluationRequest, GetTicketRequest, RateIncidentRequest,
    ResolveTicketRequest, VerifyTicketRequest,
};

const SUB: &str = "220102001";
const GRID: &str = "220102001001001";
const CATEGORY: &str = "C0101";
/// Tokens outlive the month (the clock runs through it).
const HOURS: u32 = 24 * 60;

fn at(local: &str) -> String {
    format!("2026-{local}:00+08:00")
}

fn stamp(rfc3339: &str) -> Timestamp {
    let t = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .unwrap();
    Timestamp {
        seconds: t.unix_timestamp(),
        nanos: 0,
    }
}

/// A spot in grid 1, `north` metres up (reports far enough apart not to be merged).
fn spot(north: f64) -> GeoPoint {
    GeoPoint {
        lat: 43.807 + north / 111_000.0,
        lng: 125.307,
        crs: Crs::Wgs84 as i32,
    }
}

struct Desk {
    desk: EscalationServiceClient<Channel>,
    cc: SupervisionServiceClient<Channel>,
    center: String,
}

impl Desk {
    async fn accept(&mut self, token: &str, rid: &str, id: &str) {
        self.desk
            .accept_ticket(authed(
                token,
                AcceptTicketRequest {
                    request_id: rid.into(),
                    ticket_id: id.into(),
                    expected_version: 0,
                    note: String::new(),
                },
            ))
            .await
            .unwrap();
    }

    async fn resolve(&mut self, token: &str, rid: &str, id: &str) {
        self.desk
            .resolve_ticket(authed(
                token,
                ResolveTicketRequest {
                    request_id: rid.into(),
                    ticket_id: id.into(),
                    expected_version: 0,
                    note: "已修复".into(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap();
    }

    async fn verify(&mut self, rid: &str, id: &str, pass: bool) {
        self.cc
            .verify_ticket(authed(
                &self.center,
                VerifyTicketRequest {
                    request_id: rid.into(),
                    ticket_id: id.into(),
                    expected_version: 0,
                    pass,
                    note: if pass {
                        String::new()
                    } else {
                        "井盖仍松动".into()
                    },
                },
            ))
            .await
            .unwrap();
    }

    async fn level(&mut self, id: &str) -> i32 {
        self.desk
            .get_ticket(authed(
                &self.center,
                GetTicketRequest {
                    ticket_id: id.into(),
                },
            ))
            .await
            .unwrap()
            .into_inner()
            .level
    }
}

/// The counts of a row, in a fixed order, for one comparison.
fn counts(r: &EvaluationRow) -> [i64; 14] {
    [
        r.received,
        r.accepted,
        r.accepted_on_time,
        r.resolved,
        r.resolved_on_time,
        r.reopened,
        r.closed,
        r.closed_on_time,
        r.rated,
        r.satisfied,
        r.overdue,
        r.escalations,
        r.mean_response_time.as_ref().map_or(0, |d| d.seconds),
        r.mean_handling_time.as_ref().map_or(0, |d| d.seconds),
    ]
}

async fn month(server: &Server, clock: &TestClock) {
    let admin = server.mint_for("admin", "admin", &[], HOURS).unwrap();
    seed_small_tree_as(server, &admin).await;
    let center = server
        .mint_for("command_center", "cc-1", &[SUB], HOURS)
        .unwrap();
    let resident = server.mint_for("resident", "r-m", &[], HOURS).unwrap();
    let grid_chief = server.mint_for("chief", "P003", &[GRID], HOURS).unwrap();
    let lane_chief = server
        .mint_for("chief", "P002", &["220102001S01L01"], HOURS)
        .unwrap();
    let mut d = Desk {
        desk: EscalationServiceClient::new(server.channel().await.unwrap()),
        cc: SupervisionServiceClient::new(server.channel().await.unwrap()),
        center: center.clone(),
    };

    // Ticket A: handled on time, verified, rated.
    clock.set(&at("11-02T09:00"));
    let a = submit_report(server, &resident, "m-a", CATEGORY, spot(0.0)).await;
    assert_eq!(a.assignee_person_id, "P003");
    clock.set(&at("11-02T09:30"));
    d.accept(&grid_chief, "a-acc", &a.id).await;
    clock.set(&at("11-03T15:00"));
    d.resolve(&grid_chief, "a-res", &a.id).await;
    clock.set(&at("11-03T16:00"));
    d.verify("a-ver", &a.id, true).await;
    clock.set(&at("11-03T17:00"));
    IntakeServiceClient::new(server.channel().await.unwrap())
        .rate_incident(authed(
            &resident,
            RateIncidentRequest {
                request_id: "a-rate".into(),
                ticket_id: a.id.clone(),
                stars: 5,
                not_solved: false,
                comment: "及时".into(),
            },
        ))
        .await
        .unwrap();

    // Ticket B: the accept hour passes; the timer worker sends it up to the lane chief.
    clock.set(&at("11-05T09:00"));
    let b = submit_report(server, &resident, "m-b", CATEGORY, spot(300.0)).await;
    assert_eq!(b.assignee_person_id, "P003");
    clock.set(&at("11-05T10:01"));
    // The worker polls on its own period: wait for it, the time stands still meanwhile.
    let deadline = Instant::now() + Duration::from_secs(30);
    while d.level(&b.id).await != ChiefLevel::Lane as i32 {
        assert!(Instant::now() < deadline, "the worker never escalated B");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    clock.set(&at("11-05T10:30"));
    d.accept(&lane_chief, "b-acc", &b.id).await;
    clock.set(&at("11-10T09:00"));
    d.resolve(&lane_chief, "b-res", &b.id).await;
    clock.set(&at("11-10T10:00"));
    d.verify("b-ver", &b.id, false).await;
    clock.set(&at("11-10T10:20"));
    d.accept(&lane_chief, "b-acc2", &b.id).await;
    clock.set(&at("11-11T10:00"));
    d.resolve(&lane_chief, "b-res2", &b.id).await;
    clock.set(&at("11-11T11:00"));
    d.cc.close_ticket(authed(
        &center,
        CloseTicketRequest {
            request_id: "b-close".into(),
            ticket_id: b.id.clone(),
            expected_version: 0,
            note: String::new(),
        },
    ))
    .await
    .unwrap();

    // The month's evaluation, read at the start of December.
    clock.set(&at("12-01T09:00"));
    let ask = |scope: EvaluationScope| GetEvaluationRequest {
        subdistrict_code: SUB.into(),
        period_start: Some(stamp(&at("11-01T00:00"))),
        period_end: Some(stamp(&at("12-01T00:00"))),
        group_by: scope as i32,
        format: EvaluationFormat::Csv as i32,
        period: 0,
    };
    let by_chief =
        d.cc.get_evaluation(authed(&center, ask(EvaluationScope::Chief)))
            .await
            .unwrap()
            .into_inner();
    let row = |key: &str| {
        by_chief
            .rows
            .iter()
            .find(|r| r.key == key)
            .unwrap_or_else(|| panic!("no row {key} in {:?}", by_chief.rows))
    };
    // received, accepted, on time, resolved, on time, reopened, closed, on time, rated,
    // satisfied, overdue, escalations, mean response s, mean handling s.
    assert_eq!(
        counts(row("P003")),
        [2, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1_800, 108_000]
    );
    assert_eq!(
        counts(row("P002")),
        [
            2,
            2,
            2,
            2,
            1,
            1,
            1,
            1,
            0,
            0,
            1,
            0,
            (1_740 + 1_200) / 2,
            (428_340 + 86_400) / 2
        ]
    );
    assert_eq!(row("P002").reopen_rate, 50.0);
    assert_eq!(row("P003").satisfaction_rate, 100.0);
    assert_eq!(by_chief.rows.len(), 2, "{:?}", by_chief.rows);
    let csv = String::from_utf8(by_chief.csv).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(
        lines[1].starts_with("P002,李路长,CHIEF_LEVEL_LANE,2,"),
        "{csv}"
    );
    assert!(
        lines[2].starts_with("P003,张网格,CHIEF_LEVEL_GRID,2,"),
        "{csv}"
    );

    // The grid: both tickets lie in it; every holding counts on it (属地).
    let by_grid =
        d.cc.get_evaluation(authed(&center, ask(EvaluationScope::Grid)))
            .await
            .unwrap()
            .into_inner();
    let grid = by_grid.rows.iter().find(|r| r.key == GRID).unwrap();
    assert_eq!(grid.reported, 2);
    assert_eq!(
        counts(grid),
        [
            4,
            3,
            3,
            3,
            2,
            1,
            2,
            2,
            1,
            1,
            2,
            1,
            (1_800 + 1_740 + 1_200) / 3,
            (108_000 + 428_340 + 86_400) / 3
        ]
    );

    // October and December hold none of it.
    let mut empty = ask(EvaluationScope::Chief);
    empty.period_start = Some(stamp(&at("10-01T00:00")));
    empty.period_end = Some(stamp(&at("11-01T00:00")));
    let october =
        d.cc.get_evaluation(authed(&center, empty))
            .await
            .unwrap()
            .into_inner();
    assert!(october.rows.is_empty(), "{:?}", october.rows);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scripted_month_on_sqlite() {
    let clock = TestClock::at(&at("11-01T08:00"));
    let (k, v) = clock.env();
    let server = Server::start_env(None, None, &[(k, &v)], &[]).unwrap();
    month(&server, &clock).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scripted_month_on_postgres() {
    let Some(url) = fresh_pg_url().await else {
        return;
    };
    let clock = TestClock::at(&at("11-01T08:00"));
    let (k, v) = clock.env();
    let server = Server::start_env(Some(url), None, &[(k, &v)], &[]).unwrap();
    month(&server, &clock).await;
}
