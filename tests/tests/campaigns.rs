//! Campaigns (专项行动) over real gRPC against the started binary, on both stores: a
//! campaign fans a task out to every grid chief of the small tree in one call; a chief
//! finds it in the inbox and resolves it with a structured result; progress by grid and
//! in total follows; retries, bad input, other levels and scope.

use tonic::Code;
use tonic::transport::Channel;
#[path = "../harness.rs"]
mod harness;
use harness::{
    Server, assert_field, authed, fresh_pg_url, secs_from_now, seed_small_tree, submit_report,
};
use wuzhang_proto::v1::escalation_service_client::EscalationServiceClient;
use wuzhang_proto::v1::supervision_service_client::SupervisionServiceClient;
use wuzhang_proto::v1::{
    AcceptTicketRequest, CampaignGrouping, CampaignProgress, CampaignTaskResult, ChiefLevel,
    CreateCampaignRequest, Crs, GeoPoint, GetCampaignProgressRequest, GetCampaignRequest,
    ListInboxRequest, ResolveTicketRequest, TaskCount, Ticket,
};

const SUB: &str = "220102001";
const GRID_1: &str = "220102001001001";
const GRID_2: &str = "220102001001002";

type Desk = EscalationServiceClient<Channel>;
type Center = SupervisionServiceClient<Channel>;

fn create(rid: &str, level: ChiefLevel) -> CreateCampaignRequest {
    CreateCampaignRequest {
        request_id: rid.into(),
        area_code: SUB.into(),
        level: level as i32,
        title: "燃气安全入户排查".into(),
        instructions: "逐户检查燃气报警器和软管".into(),
        category_code: "C0104".into(),
        deadline: Some(secs_from_now(7200)),
        checklist: vec!["燃气报警器".into(), "软管老化".into()],
        counts: vec!["入户数".into(), "隐患数".into()],
    }
}

fn count(name: &str, value: i64) -> TaskCount {
    TaskCount {
        name: name.into(),
        value,
    }
}

async fn progress(cc: &mut Center, token: &str, id: &str) -> CampaignProgress {
    cc.get_campaign_progress(authed(
        token,
        GetCampaignProgressRequest {
            campaign_id: id.into(),
            group_by: CampaignGrouping::Grid as i32,
        },
    ))
    .await
    .unwrap()
    .into_inner()
}

async fn inbox(desk: &mut Desk, chief: &str) -> Vec<Ticket> {
    desk.list_inbox(authed(chief, ListInboxRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .tickets
}

fn resolve(rid: &str, t: &Ticket, result: Option<CampaignTaskResult>) -> ResolveTicketRequest {
    ResolveTicketRequest {
        request_id: rid.into(),
        ticket_id: t.id.clone(),
        expected_version: 0,
        note: "已完成排查".into(),
        media_urls: vec![],
        task_result: result,
    }
}

async fn campaign_flow(server: &Server) {
    seed_small_tree(server).await;
    let center = server.mint("command_center", "cc-1", &[SUB]).unwrap();
    let grid_chief = server.mint("chief", "P003", &[GRID_1]).unwrap();
    let mut cc: Center = SupervisionServiceClient::new(server.channel().await.unwrap());
    let mut desk: Desk = EscalationServiceClient::new(server.channel().await.unwrap());

    // Every grid of the subdistrict: grid 1 (张网格 P003) and grid 2 (李路长 P002).
    let first = create("cp-1", ChiefLevel::Grid);
    let campaign = cc
        .create_campaign(authed(&center, first.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(campaign.tasks, 2);
    assert_eq!(campaign.vacant_posts, 0);
    assert_eq!(campaign.subdistrict_code, SUB);
    assert_eq!(campaign.created_by, "cc-1");
    // A retry with the same id answers the same campaign and fans out nothing more.
    let again = cc
        .create_campaign(authed(&center, first))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.id, campaign.id);
    let read = cc
        .get_campaign(authed(
            &center,
            GetCampaignRequest {
                campaign_id: campaign.id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.title, "燃气安全入户排查");
    assert_eq!(read.counts, ["入户数", "隐患数"]);

    let before = progress(&mut cc, &center, &campaign.id).await;
    let total = before.total.clone().unwrap();
    assert_eq!(
        (total.tasks, total.done, total.open, total.overdue),
        (2, 0, 2, 0)
    );
    let keys: Vec<&str> = before.rows.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, [GRID_1, GRID_2]);

    // The grid chief finds the task in the inbox, with the campaign's deadline.
    let tasks: Vec<Ticket> = inbox(&mut desk, &grid_chief)
        .await
        .into_iter()
        .filter(|t| t.description.starts_with("专项行动: 燃气安全入户排查"))
        .collect();
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    let task = &tasks[0];
    assert_eq!(task.grid_code, GRID_1);
    assert_eq!(
        task.resolve_due_at.as_ref().map(|t| t.seconds),
        campaign.deadline.as_ref().map(|t| t.seconds)
    );
    desk.accept_ticket(authed(
        &grid_chief,
        AcceptTicketRequest {
            request_id: "cp-a".into(),
            ticket_id: task.id.clone(),
            expected_version: 0,
            note: String::new(),
        },
    ))
    .await
    .unwrap();
    // A result must name what the campaign asks for.
    let err = desk
        .resolve_ticket(authed(
            &grid_chief,
            resolve(
                "cp-r0",
                task,
                Some(CampaignTaskResult {
                    counts: vec![count("人口", 3)],
                    checked: vec![],
                }),
            ),
        ))
        .await
        .unwrap_err();
    assert_field(&err, "task_result.counts[人口]");
    let err = desk
        .resolve_ticket(authed(
            &grid_chief,
            resolve(
                "cp-r1",
                task,
                Some(CampaignTaskResult {
                    counts: vec![],
                    checked: vec!["门窗".into()],
                }),
            ),
        ))
        .await
        .unwrap_err();
    assert_field(&err, "task_result.checked");
    desk.resolve_ticket(authed(
        &grid_chief,
        resolve(
            "cp-r2",
            task,
            Some(CampaignTaskResult {
                counts: vec![count("入户数", 40), count("隐患数", 2)],
                checked: vec!["软管老化".into()],
            }),
        ),
    ))
    .await
    .unwrap();

    let after = progress(&mut cc, &center, &campaign.id).await;
    let total = after.total.unwrap();
    assert_eq!((total.tasks, total.done, total.open), (2, 1, 1));
    assert_eq!(total.done_pct, 50.0);
    assert_eq!(total.counts, [count("入户数", 40), count("隐患数", 2)]);
    assert_eq!(
        total.checked,
        [count("燃气报警器", 0), count("软管老化", 1)]
    );
    let grid_1 = &after.rows[0];
    assert_eq!(
        (grid_1.key.as_str(), grid_1.done, grid_1.open),
        (GRID_1, 1, 0)
    );
    assert_eq!(after.rows[1].done, 0);
    // Grouped by lane: both grids lie in the one lane.
    let by_lane = cc
        .get_campaign_progress(authed(
            &center,
            GetCampaignProgressRequest {
                campaign_id: campaign.id.clone(),
                group_by: CampaignGrouping::Lane as i32,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_lane.rows.len(), 1);
    assert_eq!((by_lane.rows[0].tasks, by_lane.rows[0].done), (2, 1));

    // A result on a ticket that is not a task is refused by field.
    let report = submit_report(
        server,
        &server.mint("resident", "r-cp", &[]).unwrap(),
        "cp-report",
        "C0102",
        GeoPoint {
            lat: 43.807,
            lng: 125.307,
            crs: Crs::Wgs84 as i32,
        },
    )
    .await;
    let err = desk
        .resolve_ticket(authed(
            &grid_chief,
            resolve(
                "cp-r3",
                &report,
                Some(CampaignTaskResult {
                    counts: vec![],
                    checked: vec![],
                }),
            ),
        ))
        .await
        .unwrap_err();
    assert_field(&err, "task_result");

    // Units: the one unit chief; buildings: the deputy acting for the building chief on
    // leave.
    let units = cc
        .create_campaign(authed(&center, create("cp-u", ChiefLevel::Unit)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(units.tasks, 1);
    let buildings = cc
        .create_campaign(authed(&center, create("cp-b", ChiefLevel::Building)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(buildings.tasks, 1);
    let deputy = server
        .mint("chief", "P005", &["220102001001001B01"])
        .unwrap();
    assert_eq!(
        inbox(&mut desk, &deputy)
            .await
            .iter()
            .filter(|t| t.description.starts_with("专项行动"))
            .count(),
        1
    );

    // Bad requests name their field.
    let mut bad = create("cp-x1", ChiefLevel::Street);
    let err = cc
        .create_campaign(authed(&center, bad.clone()))
        .await
        .unwrap_err();
    assert_field(&err, "level");
    bad = create("cp-x2", ChiefLevel::Grid);
    bad.deadline = None;
    let err = cc
        .create_campaign(authed(&center, bad.clone()))
        .await
        .unwrap_err();
    assert_field(&err, "deadline");
    bad = create("cp-x3", ChiefLevel::Grid);
    bad.title = "  ".into();
    let err = cc
        .create_campaign(authed(&center, bad.clone()))
        .await
        .unwrap_err();
    assert_field(&err, "title");
    bad = create("cp-x4", ChiefLevel::Grid);
    bad.category_code = "Z9999".into();
    let err = cc
        .create_campaign(authed(&center, bad.clone()))
        .await
        .unwrap_err();
    assert_field(&err, "category_code");
    bad = create("cp-x5", ChiefLevel::Grid);
    bad.counts = vec!["入户数".into(), "入户数".into()];
    let err = cc.create_campaign(authed(&center, bad)).await.unwrap_err();
    assert_field(&err, "counts[1]");

    // Scope: another subdistrict's center sees neither the area nor the campaign; a chief
    // may not create one.
    let other = server
        .mint("command_center", "cc-2", &["220102002"])
        .unwrap();
    let err = cc
        .create_campaign(authed(&other, create("cp-o", ChiefLevel::Grid)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    let err = cc
        .get_campaign(authed(
            &other,
            GetCampaignRequest {
                campaign_id: campaign.id.clone(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    let err = cc
        .create_campaign(authed(&grid_chief, create("cp-c", ChiefLevel::Grid)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn campaigns_on_sqlite() {
    let server = Server::start(&[]).unwrap();
    campaign_flow(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn campaigns_on_postgres() {
    let Some(url) = fresh_pg_url().await else {
        return;
    };
    let server = Server::start_env(Some(url), None, &[], &[]).unwrap();
    campaign_flow(&server).await;
}
