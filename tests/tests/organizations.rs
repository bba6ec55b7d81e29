//! Organizations beside the chain (条块协同, 红心物业) over real gRPC against the started
//! binary, on both stores: an administrator imports a property company and a heating
//! department (a bad file writes nothing); a category that routes to property companies
//! sends a resident's report to the one serving the building, the grid chief following as
//! 属地 responsible; the company's staff work it from their inbox to resolution and the
//! command center closes it; the command center dispatches (派遣) another ticket to the
//! heating department, which returns (退回) it; evaluation has a row per organization;
//! scope and bad input throughout.

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
    AcceptTicketRequest, Category, ChiefLevel, Crs, DispatchTicketRequest, EvaluationScope,
    EventKind, GeoPoint, GetCategoryRequest, GetEvaluationRequest, GetTicketRequest,
    ImportOrganizationsRequest, ListInboxRequest, ListOrganizationsRequest, ListTicketsRequest,
    ResolveTicketRequest, ReturnTicketRequest, SubmitIncidentRequest, Ticket, TicketState,
    UpsertCategoryRequest, VerifyTicketRequest,
};

const SUB: &str = "220102001";
const GRID: &str = "220102001001001";
const BUILDING: &str = "220102001001001B01";

const ORGS: &str = "code,name,kind,org_type,areas,staff,red_heart\n\
wy-1,红星物业,property_company,property,220102001001001B01,W01|W02,是\n\
gr-1,南关热力,department,heating,220102001,G01,\n";

fn spot() -> GeoPoint {
    GeoPoint {
        lat: 43.807,
        lng: 125.307,
        crs: Crs::Wgs84 as i32,
    }
}

fn import(rid: &str, csv: &str, dry_run: bool) -> ImportOrganizationsRequest {
    ImportOrganizationsRequest {
        request_id: rid.into(),
        csv: csv.as_bytes().to_vec(),
        dry_run,
    }
}

async fn list_orgs(server: &Server, token: &str) -> Result<Vec<String>, tonic::Status> {
    let mut admin = AdminServiceClient::new(server.channel().await.unwrap());
    Ok(admin
        .list_organizations(authed(token, ListOrganizationsRequest::default()))
        .await?
        .into_inner()
        .organizations
        .into_iter()
        .map(|o| o.code)
        .collect())
}

async fn ticket(desk: &mut EscalationServiceClient<Channel>, token: &str, id: &str) -> Ticket {
    desk.get_ticket(authed(
        token,
        GetTicketRequest {
            ticket_id: id.into(),
        },
    ))
    .await
    .unwrap()
    .into_inner()
}

async fn org_flow(server: &Server) {
    let admin = seed_small_tree(server).await;
    let mut admin_client = AdminServiceClient::new(server.channel().await.unwrap());
    let center = server.mint("command_center", "cc-1", &[SUB]).unwrap();
    let resident = server.mint("resident", "r-org", &[]).unwrap();
    let grid_chief = server.mint("chief", "P003", &[GRID]).unwrap();
    let wy_staff = server.mint("organization", "W01", &["wy-1"]).unwrap();
    let gr_staff = server.mint("organization", "G01", &["gr-1"]).unwrap();
    // A token naming the company for someone not on its staff list acts for nothing.
    let stranger = server.mint("organization", "X99", &["wy-1"]).unwrap();

    // ---- Import: a bad file names its line and column and writes nothing.
    let bad = "code,name,kind,org_type,areas,staff\n\
               wy-1,红星物业,property_company,property,NOPE,W01\n";
    let err = admin_client
        .import_organizations(authed(&admin, import("o-bad", bad, false)))
        .await
        .unwrap_err();
    assert_field(&err, "csv.line[2].areas");
    let err = admin_client
        .import_organizations(authed(&center, import("o-cc", ORGS, false)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let dry = admin_client
        .import_organizations(authed(&admin, import("o-dry", ORGS, true)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((dry.imported, dry.dry_run), (2, true));
    assert!(list_orgs(server, &admin).await.unwrap().is_empty());
    let done = admin_client
        .import_organizations(authed(&admin, import("o-1", ORGS, false)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(done.imported, 2);
    // Who sees which: the admin and the command center both (one serves a building of
    // its subdistrict, the other the subdistrict), staff their own, chiefs none.
    assert_eq!(list_orgs(server, &admin).await.unwrap(), ["gr-1", "wy-1"]);
    assert_eq!(list_orgs(server, &center).await.unwrap(), ["gr-1", "wy-1"]);
    assert_eq!(list_orgs(server, &wy_staff).await.unwrap(), ["wy-1"]);
    assert!(list_orgs(server, &stranger).await.unwrap().is_empty());
    let other_center = server
        .mint("command_center", "cc-2", &["220102002"])
        .unwrap();
    assert!(list_orgs(server, &other_center).await.unwrap().is_empty());
    assert_eq!(
        list_orgs(server, &grid_chief).await.unwrap_err().code(),
        Code::PermissionDenied
    );

    // ---- A category routed to property companies.
    let base = admin_client
        .get_category(authed(
            &admin,
            GetCategoryRequest {
                code: "C0101".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let bad_type = admin_client
        .upsert_category(authed(
            &admin,
            UpsertCategoryRequest {
                request_id: "cat-bad".into(),
                category: Some(Category {
                    code: "WY01".into(),
                    name: "物业服务".into(),
                    organization_type: "物业".into(),
                    duplicate_radius_m: 0.0,
                    ..base.clone()
                }),
            },
        ))
        .await
        .unwrap_err();
    assert_field(&bad_type, "category.organization_type");
    admin_client
        .upsert_category(authed(
            &admin,
            UpsertCategoryRequest {
                request_id: "cat-wy".into(),
                category: Some(Category {
                    code: "WY01".into(),
                    name: "物业服务".into(),
                    parent_code: String::new(),
                    organization_type: "property".into(),
                    duplicate_radius_m: 0.0,
                    ..base.clone()
                }),
            },
        ))
        .await
        .unwrap();

    // ---- Report → the property company of the building; the grid chief follows.
    let mut intake = IntakeServiceClient::new(server.channel().await.unwrap());
    let reported = intake
        .submit_incident(authed(
            &resident,
            SubmitIncidentRequest {
                request_id: "wy-r1".into(),
                category_code: "WY01".into(),
                description: "楼道灯坏了".into(),
                location: Some(spot()),
                building_code: BUILDING.into(),
                contact_phone: "13912345678".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reported.organization_code, "wy-1");
    assert_eq!(reported.level, ChiefLevel::Grid as i32);
    assert_eq!(reported.assignee_area_code, GRID);
    assert_eq!(reported.assignee_person_id, "P003");
    assert_eq!(reported.state, TicketState::Assigned as i32);
    let id = reported.id.clone();

    let mut desk = EscalationServiceClient::new(server.channel().await.unwrap());
    // The company's inbox has it; so does the grid chief's, who follows it.
    let inbox_desk = desk.clone();
    let inbox = |token: String| {
        let mut desk = inbox_desk.clone();
        async move {
            desk.list_inbox(authed(&token, ListInboxRequest::default()))
                .await
                .unwrap()
                .into_inner()
                .tickets
                .into_iter()
                .map(|t| t.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(inbox(wy_staff.clone()).await, std::slice::from_ref(&id));
    assert!(inbox(grid_chief.clone()).await.contains(&id));
    assert!(inbox(gr_staff.clone()).await.is_empty());
    assert!(inbox(stranger.clone()).await.is_empty());
    // Others of other organizations, or off the staff list, do not see it at all.
    for token in [&gr_staff, &stranger] {
        let err = desk
            .get_ticket(authed(
                token,
                GetTicketRequest {
                    ticket_id: id.clone(),
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::NotFound, "{err:?}");
    }
    // The grid chief sees it but does not act on it, nor escalate it.
    let err = desk
        .accept_ticket(authed(
            &grid_chief,
            AcceptTicketRequest {
                request_id: "g-acc".into(),
                ticket_id: id.clone(),
                expected_version: 0,
                note: String::new(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(err.message().contains("organization wy-1"), "{err:?}");
    let seen = ticket(&mut desk, &grid_chief, &id).await;
    assert_eq!(
        seen.contact_phone, "139****5678",
        "a follower sees the phone masked"
    );

    // The company accepts and resolves with a photo; the command center closes it.
    desk.accept_ticket(authed(
        &wy_staff,
        AcceptTicketRequest {
            request_id: "w-acc".into(),
            ticket_id: id.clone(),
            expected_version: 0,
            note: "马上到".into(),
        },
    ))
    .await
    .unwrap();
    // Accepted, it is no longer the company's to return.
    let err = desk
        .return_ticket(authed(
            &wy_staff,
            ReturnTicketRequest {
                request_id: "w-ret".into(),
                ticket_id: id.clone(),
                expected_version: 0,
                reason: "不归我们".into(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    let resolved = desk
        .resolve_ticket(authed(
            &wy_staff,
            ResolveTicketRequest {
                request_id: "w-res".into(),
                ticket_id: id.clone(),
                expected_version: 0,
                note: "已更换灯泡".into(),
                media_urls: vec!["https://example.org/after.jpg".into()],
                task_result: None,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resolved.state, TicketState::Resolved as i32);
    assert_eq!(
        resolved.contact_phone, "13912345678",
        "the holder calls back"
    );
    let mut cc = SupervisionServiceClient::new(server.channel().await.unwrap());
    cc.verify_ticket(authed(
        &center,
        VerifyTicketRequest {
            request_id: "cc-ver".into(),
            ticket_id: id.clone(),
            expected_version: 0,
            pass: true,
            note: String::new(),
        },
    ))
    .await
    .unwrap();
    let history = ticket(&mut desk, &center, &id).await;
    assert_eq!(history.state, TicketState::Closed as i32);
    let assigned = history
        .events
        .iter()
        .find(|e| e.kind == EventKind::Assigned as i32)
        .unwrap();
    assert_eq!(assigned.organization_code, "wy-1");
    let accepted = history
        .events
        .iter()
        .find(|e| e.kind == EventKind::Accepted as i32)
        .unwrap();
    assert_eq!(accepted.actor, "W01");

    // ---- 派遣 and 退回: a chain ticket dispatched to the heating department.
    let chain = submit_report(server, &resident, "hr-1", "C0101", spot()).await;
    assert_eq!(chain.organization_code, "");
    assert_eq!(chain.assignee_person_id, "P003");
    let dispatch = |rid: &str, org: &str, deadline_secs: i64, note: &str| DispatchTicketRequest {
        request_id: rid.into(),
        ticket_id: chain.id.clone(),
        expected_version: 0,
        organization_code: org.into(),
        deadline: Some(secs_from_now(deadline_secs)),
        note: note.into(),
    };
    // The company serves one building, not this ticket's place; unknown; past; no note.
    for (req, field) in [
        (
            dispatch("d-1", "wy-1", 86_400, "请处理"),
            "organization_code",
        ),
        (
            dispatch("d-2", "nope", 86_400, "请处理"),
            "organization_code",
        ),
        (dispatch("d-3", "gr-1", -60, "请处理"), "deadline"),
        (dispatch("d-4", "gr-1", 86_400, ""), "note"),
    ] {
        let err = cc.dispatch_ticket(authed(&center, req)).await.unwrap_err();
        assert_field(&err, field);
    }
    let err = cc
        .dispatch_ticket(authed(
            &grid_chief,
            dispatch("d-5", "gr-1", 86_400, "请处理"),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = cc
        .dispatch_ticket(authed(
            &other_center,
            dispatch("d-6", "gr-1", 86_400, "请处理"),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let sent = cc
        .dispatch_ticket(authed(
            &center,
            dispatch("d-ok", "gr-1", 86_400, "供热管道漏水"),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(sent.organization_code, "gr-1");
    assert_eq!(sent.state, TicketState::Assigned as i32);
    // The command center's deadline is the department's resolve deadline.
    let deadline = secs_from_now(86_400).seconds;
    let resolve_due = sent.resolve_due_at.as_ref().unwrap().seconds;
    assert!(
        (deadline - resolve_due).abs() <= 60,
        "{resolve_due} vs {deadline}"
    );
    // A retry answers the same, not a second dispatch.
    let again = cc
        .dispatch_ticket(authed(
            &center,
            dispatch("d-ok", "gr-1", 86_400, "供热管道漏水"),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.version, sent.version);
    assert_eq!(
        inbox(gr_staff.clone()).await,
        std::slice::from_ref(&chain.id)
    );
    // The command center lists what an organization holds.
    let held: Vec<String> = cc
        .list_tickets(authed(
            &center,
            ListTicketsRequest {
                organization_code: "gr-1".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .tickets
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(held, std::slice::from_ref(&chain.id));
    let err = cc
        .list_tickets(authed(
            &center,
            ListTicketsRequest {
                organization_code: "gr 1".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_field(&err, "organization_code");

    let err = desk
        .return_ticket(authed(
            &gr_staff,
            ReturnTicketRequest {
                request_id: "r-0".into(),
                ticket_id: chain.id.clone(),
                expected_version: 0,
                reason: String::new(),
            },
        ))
        .await
        .unwrap_err();
    assert_field(&err, "reason");
    let returned = desk
        .return_ticket(authed(
            &gr_staff,
            ReturnTicketRequest {
                request_id: "r-1".into(),
                ticket_id: chain.id.clone(),
                expected_version: 0,
                reason: "不是供热管道,是自来水".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(returned.level, ChiefLevel::CommandCenter as i32);
    assert_eq!(returned.organization_code, "");
    assert!(
        returned.accept_due_at.is_some(),
        "the command center's clocks run"
    );
    // No longer the department's: out of its sight.
    assert!(inbox(gr_staff.clone()).await.is_empty());
    let err = desk
        .get_ticket(authed(
            &gr_staff,
            GetTicketRequest {
                ticket_id: chain.id.clone(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    // A retry of the return answers what the first did (recorded with it).
    let replay = desk
        .return_ticket(authed(
            &gr_staff,
            ReturnTicketRequest {
                request_id: "r-1".into(),
                ticket_id: chain.id.clone(),
                expected_version: 0,
                reason: "不是供热管道,是自来水".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(replay.version, returned.version);
    let history = ticket(&mut desk, &center, &chain.id).await;
    let kinds: Vec<i32> = history.events.iter().map(|e| e.kind).collect();
    assert!(kinds.ends_with(&[EventKind::Dispatched as i32, EventKind::Returned as i32]));
    assert!(history.events.last().unwrap().note.contains("自来水"));

    // ---- Evaluation: a row per organization.
    let day = 86_400;
    let now = secs_from_now(0).seconds;
    let today = (now + 8 * 3600).div_euclid(day) * day - 8 * 3600;
    let eval_cc = cc.clone();
    let evaluation = |token: String, scope: EvaluationScope| {
        let mut cc = eval_cc.clone();
        async move {
            cc.get_evaluation(authed(
                &token,
                GetEvaluationRequest {
                    subdistrict_code: SUB.into(),
                    period_start: Some(prost_types::Timestamp {
                        seconds: today - day,
                        nanos: 0,
                    }),
                    period_end: Some(prost_types::Timestamp {
                        seconds: today + day,
                        nanos: 0,
                    }),
                    group_by: scope as i32,
                    format: 0,
                    period: 0,
                },
            ))
            .await
        }
    };
    let rows = evaluation(center.clone(), EvaluationScope::Organization)
        .await
        .unwrap()
        .into_inner()
        .rows;
    let keys: Vec<&str> = rows.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, ["gr-1", "wy-1"]);
    let wy = &rows[1];
    assert_eq!(wy.name, "红星物业");
    assert_eq!((wy.received, wy.accepted, wy.resolved), (1, 1, 1));
    assert_eq!(wy.accepted_on_time_pct, 100.0);
    let gr = &rows[0];
    assert_eq!((gr.received, gr.accepted, gr.resolved), (1, 0, 0));
    // The grid chief's row does not hold the company's work.
    let chiefs = evaluation(center.clone(), EvaluationScope::Chief)
        .await
        .unwrap()
        .into_inner()
        .rows;
    let p003 = chiefs.iter().find(|r| r.key == "P003").unwrap();
    assert_eq!(p003.resolved, 0);
    // Staff read their own organization's row only.
    let own = evaluation(wy_staff.clone(), EvaluationScope::Organization)
        .await
        .unwrap()
        .into_inner()
        .rows;
    assert_eq!(
        own.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(),
        ["wy-1"]
    );
    let err = evaluation(wy_staff.clone(), EvaluationScope::Grid)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organizations_on_sqlite() {
    let server = Server::start(&[]).unwrap();
    org_flow(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organizations_on_postgres() {
    let Some(url) = fresh_pg_url().await else {
        return;
    };
    let server = Server::start_env(Some(url), None, &[], &[]).unwrap();
    org_flow(&server).await;
}
