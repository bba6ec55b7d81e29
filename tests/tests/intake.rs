//! Residents report and follow over real gRPC against the started binary: routing to the
//! right chief, idempotent retries (also across a restart), duplicates merged, live watch
//! with resume, cancel and rate rules, uploads, and a corpus of bad input that writes
//! nothing. Run on SQLite and on Postgres.

use std::time::Duration;

use futures::StreamExt;
use tonic::Code;
use tonic::transport::Channel;
use tonic_types::StatusExt;
#[path = "../harness.rs"]
mod harness;
use harness::{Server, authed, fresh_pg_url, seed_small_tree};
use wuzhang_proto::v1::admin_service_client::AdminServiceClient;
use wuzhang_proto::v1::intake_service_client::IntakeServiceClient;
use wuzhang_proto::v1::{
    CancelIncidentRequest, ChiefLevel, Crs, EventKind, GeoPoint, GetCategoryRequest,
    GetIncidentRequest, ListCategoriesRequest, ListIncidentCategoriesRequest,
    ListMyIncidentsRequest, RateIncidentRequest, SubmitIncidentRequest, Ticket, TicketState,
    UploadMediaMetadata, UploadMediaRequest, UpsertCategoryRequest, WatchIncidentRequest,
    upload_media_request,
};

const GRID1: &str = "220102001001001";
const OPEN311_KEYS_VAR: &str = "WUZHANG_OPEN311_API_KEYS";
const OPEN311_KEYS: &str = "civic-key=civic-app,other-key=other-app";
const SUB: &str = "220102001";
const BUILDING: &str = "220102001001001B01";
const UNIT: &str = "220102001001001B01U1";

fn wgs(lat: f64, lng: f64) -> Option<GeoPoint> {
    Some(GeoPoint {
        lat,
        lng,
        crs: Crs::Wgs84 as i32,
    })
}

/// In grid 1, outside the building.
fn in_grid1() -> Option<GeoPoint> {
    wgs(43.807, 125.307)
}

type Intake = IntakeServiceClient<Channel>;

struct World {
    server: Server,
    admin: String,
}

impl World {
    async fn start(db: Option<String>) -> World {
        let server = Server::start_env(db, None, &[(OPEN311_KEYS_VAR, OPEN311_KEYS)], &[]).unwrap();
        Self::seeded(server).await
    }

    async fn seeded(server: Server) -> World {
        let admin = seed_small_tree(&server).await;
        World { server, admin }
    }

    fn resident(&self, subject: &str) -> String {
        self.server.mint("resident", subject, &[]).unwrap()
    }

    async fn intake(&self) -> Intake {
        IntakeServiceClient::new(self.server.channel().await.unwrap())
    }
}

fn report(request_id: &str, category: &str, at: Option<GeoPoint>) -> SubmitIncidentRequest {
    SubmitIncidentRequest {
        request_id: request_id.into(),
        category_code: category.into(),
        description: format!("{category} 问题描述"),
        location: at,
        contact_phone: "13812345678".into(),
        ..Default::default()
    }
}

async fn submit(intake: &mut Intake, token: &str, req: SubmitIncidentRequest) -> Ticket {
    intake
        .submit_incident(authed(token, req))
        .await
        .unwrap_or_else(|e| panic!("submit failed: {e:?}"))
        .into_inner()
}

fn level(t: &Ticket) -> ChiefLevel {
    ChiefLevel::try_from(t.level).unwrap()
}

fn violations(status: &tonic::Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

/// Each category's start level, or the lowest staffed level above it.
async fn routes_to_the_right_chief(w: &World) {
    let r1 = w.resident("r1");
    let mut intake = w.intake().await;

    // 暴露垃圾 starts at the grid: 张网格 (P003).
    let t = submit(&mut intake, &r1, report("route-1", "E0102", in_grid1())).await;
    assert_eq!(
        TicketState::try_from(t.state).unwrap(),
        TicketState::Assigned
    );
    assert_eq!(
        (level(&t), t.assignee_person_id.as_str()),
        (ChiefLevel::Grid, "P003")
    );
    assert_eq!(
        (t.grid_code.as_str(), t.subdistrict_code.as_str()),
        (GRID1, SUB)
    );
    assert_eq!(t.assignee_area_code, GRID1);
    assert_eq!(
        t.contact_phone, "13812345678",
        "the reporter sees their own number"
    );
    let (accept, resolve) = (t.accept_due_at.unwrap(), t.resolve_due_at.unwrap());
    let created = t.created_at.unwrap();
    assert!(created.seconds < accept.seconds && accept.seconds <= resolve.seconds);

    // 邻里纠纷 starts at the unit the resident names: 孙单元长 (P006).
    let mut req = report("route-2", "N0101", in_grid1());
    req.building_code = BUILDING.into();
    req.unit_code = UNIT.into();
    let t = submit(&mut intake, &r1, req).await;
    assert_eq!(
        (level(&t), t.assignee_person_id.as_str()),
        (ChiefLevel::Unit, "P006")
    );
    assert_eq!(
        (t.building_code.as_str(), t.unit_code.as_str()),
        (BUILDING, UNIT)
    );

    // 楼道灯 starts at the building found by location; its holder is on leave, so the deputy.
    let t = submit(
        &mut intake,
        &r1,
        report("route-3", "C0501", wgs(43.8025, 125.3025)),
    )
    .await;
    assert_eq!(
        (level(&t), t.assignee_person_id.as_str()),
        (ChiefLevel::Building, "P005")
    );

    // 占道广告牌 starts at the lane: 李路长 (P002).
    let t = submit(&mut intake, &r1, report("route-4", "E0203", in_grid1())).await;
    assert_eq!(
        (level(&t), t.assignee_person_id.as_str()),
        (ChiefLevel::Lane, "P002")
    );

    // 无证掘路 starts at the street, whose post is vacant: the command center takes it.
    let t = submit(&mut intake, &r1, report("route-5", "E0304", in_grid1())).await;
    assert_eq!(level(&t), ChiefLevel::CommandCenter);
    assert_eq!(
        (t.assignee_person_id.as_str(), t.assignee_area_code.as_str()),
        ("", SUB)
    );

    // 路面塌陷 is urgent: the grid chief at once, and the command center alerted.
    let t = submit(&mut intake, &r1, report("route-6", "E0401", in_grid1())).await;
    assert!(t.urgent);
    assert_eq!(
        (level(&t), t.assignee_person_id.as_str()),
        (ChiefLevel::Grid, "P003")
    );
    let full = intake
        .get_incident(authed(
            &r1,
            GetIncidentRequest {
                ticket_id: t.id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let kinds: Vec<EventKind> = full
        .events
        .iter()
        .map(|e| EventKind::try_from(e.kind).unwrap())
        .collect();
    assert_eq!(
        kinds,
        [EventKind::Submitted, EventKind::Assigned, EventKind::Note]
    );
    assert!(
        full.events[2].note.contains("command center"),
        "{:?}",
        full.events[2]
    );

    // Outside every grid and beyond the tolerance.
    let err = intake
        .submit_incident(authed(&r1, report("route-7", "E0102", wgs(45.0, 120.0))))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");

    // The resident's list: newest first, with a total, filtered by state.
    let list = intake
        .list_my_incidents(authed(
            &r1,
            ListMyIncidentsRequest {
                page_size: 4,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((list.tickets.len(), list.total_size), (4, 6));
    assert_eq!(list.tickets[0].category_code, "E0401");
    assert!(!list.next_page_token.is_empty());
    let rest = intake
        .list_my_incidents(authed(
            &r1,
            ListMyIncidentsRequest {
                page_size: 4,
                page_token: list.next_page_token.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.tickets.len(), 2);
    assert_eq!(rest.tickets[1].category_code, "E0102");
    assert!(rest.next_page_token.is_empty());
}

/// A retry returns the first ticket; another payload under the same id is refused.
async fn retries_are_idempotent(w: &World) -> String {
    let r1 = w.resident("idem");
    let mut intake = w.intake().await;
    let first = submit(&mut intake, &r1, report("same-id", "N0102", in_grid1())).await;
    let again = submit(&mut intake, &r1, report("same-id", "N0102", in_grid1())).await;
    assert_eq!(first, again);
    let mut other = report("same-id", "N0102", in_grid1());
    other.description = "另一件事".into();
    let err = intake
        .submit_incident(authed(&r1, other))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(err.message().contains("same-id"), "{err:?}");
    // The same id from another resident is another request.
    let r2 = w.resident("idem-2");
    let theirs = submit(&mut intake, &r2, report("same-id", "N0102", in_grid1())).await;
    assert_ne!(theirs.id, first.id);
    first.id
}

/// A second report near an open one of the same category is merged; its reporter
/// follows the original.
async fn duplicates_merge(w: &World) {
    let (a, b, c) = (
        w.resident("dup-a"),
        w.resident("dup-b"),
        w.resident("dup-c"),
    );
    let mut intake = w.intake().await;
    let original = submit(
        &mut intake,
        &a,
        report("d-1", "E0104", wgs(43.8050, 125.3050)),
    )
    .await;

    // Watch the original from the start: history first, then live events.
    let mut watch = intake
        .watch_incident(authed(
            &a,
            WatchIncidentRequest {
                ticket_id: original.id.clone(),
                after_seq: 0,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(10), watch.next())
            .await
            .expect("an event within 10 s")
            .expect("stream open")
            .expect("no error")
    };
    assert_eq!(next().await.kind, EventKind::Submitted as i32);
    assert_eq!(next().await.kind, EventKind::Assigned as i32);

    // 40 m north: merged.
    let dup = submit(
        &mut intake,
        &b,
        report("d-2", "E0104", wgs(43.80536, 125.3050)),
    )
    .await;
    assert_eq!(
        TicketState::try_from(dup.state).unwrap(),
        TicketState::Merged
    );
    assert_eq!(dup.duplicate_of, original.id);
    let joined = next().await;
    assert_eq!(joined.kind, EventKind::ReporterJoined as i32);
    assert_eq!(joined.seq, 3);
    // A retry of the merged report gets the first answer and changes nothing: no second
    // ticket, no second ReporterJoined on the original.
    let again = submit(
        &mut intake,
        &b,
        report("d-2", "E0104", wgs(43.80536, 125.3050)),
    )
    .await;
    assert_eq!(again, dup);
    let history = intake
        .get_incident(authed(
            &a,
            GetIncidentRequest {
                ticket_id: original.id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(history.events.len(), 3, "{:?}", history.events);

    // The new reporter follows the original: they see it, without the first reporter's
    // number or identity.
    let seen = intake
        .get_incident(authed(
            &b,
            GetIncidentRequest {
                ticket_id: original.id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(seen.contact_phone, "138****5678");
    assert!(seen.reporter_id.is_empty());
    // A third resident does not: NOT_FOUND, as for a ticket that does not exist.
    let err = intake
        .get_incident(authed(
            &c,
            GetIncidentRequest {
                ticket_id: original.id.clone(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    // A category that does not merge (duplicate radius 0): two reports at one spot are two.
    let n1 = submit(
        &mut intake,
        &c,
        report("d-n1", "N0103", wgs(43.8050, 125.3050)),
    )
    .await;
    let n2 = submit(
        &mut intake,
        &b,
        report("d-n2", "N0103", wgs(43.8050, 125.3050)),
    )
    .await;
    assert_ne!(n1.id, n2.id);
    assert_eq!(
        TicketState::try_from(n2.state).unwrap(),
        TicketState::Assigned
    );

    // 300 m away: a ticket of its own. Another category at the same spot: its own too.
    let far = submit(
        &mut intake,
        &c,
        report("d-3", "E0104", wgs(43.8077, 125.3050)),
    )
    .await;
    assert_eq!(
        TicketState::try_from(far.state).unwrap(),
        TicketState::Assigned
    );
    let other = submit(
        &mut intake,
        &c,
        report("d-4", "E0102", wgs(43.8050, 125.3050)),
    )
    .await;
    assert_eq!(
        TicketState::try_from(other.state).unwrap(),
        TicketState::Assigned
    );

    // A reconnecting phone resumes after the last seq it saw.
    drop(watch);
    let mut resumed = intake
        .watch_incident(authed(
            &b,
            WatchIncidentRequest {
                ticket_id: original.id.clone(),
                after_seq: 2,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let e = resumed.next().await.unwrap().unwrap();
    assert_eq!((e.seq, e.kind), (3, EventKind::ReporterJoined as i32));

    // Cancelling ends the stream after the final event.
    intake
        .cancel_incident(authed(
            &a,
            CancelIncidentRequest {
                request_id: "c-1".into(),
                ticket_id: original.id.clone(),
                reason: "已自行解决".into(),
            },
        ))
        .await
        .unwrap();
    let e = tokio::time::timeout(Duration::from_secs(10), resumed.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(e.kind, EventKind::Cancelled as i32);
    assert!(
        tokio::time::timeout(Duration::from_secs(10), resumed.next())
            .await
            .unwrap()
            .is_none(),
        "the stream ends at a final state"
    );
}

/// Cancel only while work is owed and only by the reporter; rate only resolved work.
async fn cancel_and_rate_rules(w: &World) {
    let r = w.resident("rules");
    let other = w.resident("rules-other");
    let mut intake = w.intake().await;
    let t = submit(&mut intake, &r, report("cr-1", "N0103", in_grid1())).await;
    let rate = RateIncidentRequest {
        request_id: "rate-1".into(),
        ticket_id: t.id.clone(),
        stars: 5,
        ..Default::default()
    };
    let err = intake
        .rate_incident(authed(&r, rate.clone()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    let err = intake
        .rate_incident(authed(&r, RateIncidentRequest { stars: 6, ..rate }))
        .await
        .unwrap_err();
    assert_eq!(violations(&err), ["stars"]);
    let cancel = CancelIncidentRequest {
        request_id: "cr-c1".into(),
        ticket_id: t.id.clone(),
        reason: "不需要了".into(),
    };
    let err = intake
        .cancel_incident(authed(&other, cancel.clone()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let cancelled = intake
        .cancel_incident(authed(&r, cancel.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        TicketState::try_from(cancelled.state).unwrap(),
        TicketState::Cancelled
    );
    assert!(
        cancelled.accept_due_at.is_none(),
        "no clocks run on a cancelled ticket"
    );
    // The retry gets the same answer; a new request is refused by the state machine.
    let again = intake
        .cancel_incident(authed(&r, cancel))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again, cancelled);
    let err = intake
        .cancel_incident(authed(
            &r,
            CancelIncidentRequest {
                request_id: "cr-c2".into(),
                ticket_id: t.id.clone(),
                reason: String::new(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
}

/// Bad input: a clear INVALID_ARGUMENT naming each field, and nothing written.
async fn bad_input_writes_nothing(w: &World) {
    let r = w.resident("bad");
    let mut intake = w.intake().await;
    let ok = || report("bad-1", "E0102", in_grid1());
    let cases: Vec<(SubmitIncidentRequest, Vec<&str>)> = vec![
        (
            SubmitIncidentRequest {
                description: "长".repeat(2001),
                ..ok()
            },
            vec!["description"],
        ),
        (
            SubmitIncidentRequest {
                description: String::new(),
                ..ok()
            },
            vec!["description"],
        ),
        (
            SubmitIncidentRequest {
                location: wgs(f64::NAN, 125.3),
                ..ok()
            },
            vec!["location.lat"],
        ),
        (
            SubmitIncidentRequest {
                location: wgs(43.8, f64::INFINITY),
                ..ok()
            },
            vec!["location.lng"],
        ),
        (
            SubmitIncidentRequest {
                location: wgs(91.0, 125.3),
                ..ok()
            },
            vec!["location.lat"],
        ),
        (
            SubmitIncidentRequest {
                location: Some(GeoPoint {
                    lat: 43.8,
                    lng: 125.3,
                    crs: 99,
                }),
                ..ok()
            },
            vec!["location.crs"],
        ),
        (
            SubmitIncidentRequest {
                location: None,
                ..ok()
            },
            vec!["location"],
        ),
        (
            SubmitIncidentRequest {
                category_code: "NOPE".into(),
                ..ok()
            },
            vec!["category_code"],
        ),
        (
            SubmitIncidentRequest {
                category_code: String::new(),
                ..ok()
            },
            vec!["category_code"],
        ),
        (
            SubmitIncidentRequest {
                contact_phone: "12345".into(),
                ..ok()
            },
            vec!["contact_phone"],
        ),
        (
            SubmitIncidentRequest {
                media_urls: vec!["javascript:alert(1)".into()],
                ..ok()
            },
            vec!["media_urls[0]"],
        ),
        (
            SubmitIncidentRequest {
                media_urls: (0..10)
                    .map(|i| format!("https://m.example/{i}.jpg"))
                    .collect(),
                ..ok()
            },
            vec!["media_urls"],
        ),
        (
            SubmitIncidentRequest {
                address: "x".repeat(201),
                ..ok()
            },
            vec!["address"],
        ),
        (
            SubmitIncidentRequest {
                request_id: String::new(),
                ..ok()
            },
            vec!["request_id"],
        ),
        (
            SubmitIncidentRequest {
                request_id: "a b".into(),
                ..ok()
            },
            vec!["request_id"],
        ),
        (
            SubmitIncidentRequest {
                description: String::new(),
                contact_phone: "1".into(),
                ..ok()
            },
            vec!["description", "contact_phone"],
        ),
    ];
    for (i, (req, fields)) in cases.into_iter().enumerate() {
        let err = intake
            .submit_incident(authed(&r, req.clone()))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "case {i}: {err:?}");
        assert_eq!(violations(&err), fields, "case {i}: {err:?}");
    }
    let mine = intake
        .list_my_incidents(authed(&r, ListMyIncidentsRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(mine.total_size, 0, "nothing was written");
}

/// A photo goes up in chunks, is checked against its bytes, and is served over HTTP.
async fn uploads_photos(w: &World) {
    let r = w.resident("photo");
    let mut intake = w.intake().await;
    let png: Vec<u8> = [
        &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A][..],
        &[0u8; 200][..],
    ]
    .concat();
    let upload = |request_id: &str, content_type: &str, bytes: Vec<u8>| {
        let mut msgs = vec![UploadMediaRequest {
            payload: Some(upload_media_request::Payload::Metadata(
                UploadMediaMetadata {
                    request_id: request_id.into(),
                    content_type: content_type.into(),
                    filename: "a.png".into(),
                },
            )),
        }];
        for chunk in bytes.chunks(64) {
            msgs.push(UploadMediaRequest {
                payload: Some(upload_media_request::Payload::Chunk(chunk.to_vec())),
            });
        }
        authed(&r, futures::stream::iter(msgs))
    };
    let media = intake
        .upload_media(upload("up-1", "image/png", png.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (media.content_type.as_str(), media.size_bytes),
        ("image/png", 208)
    );
    assert!(
        media
            .url
            .starts_with(&format!("http://{}/media/", w.server.http_addr))
    );
    let err = intake
        .upload_media(upload("up-2", "image/jpeg", png.clone()))
        .await
        .unwrap_err();
    assert_eq!(violations(&err), ["metadata.content_type"], "{err:?}");

    let (status, headers, body) = http_get(w.server.http_addr, &media.url).await;
    assert_eq!(status, 200);
    assert!(
        headers
            .to_ascii_lowercase()
            .contains("content-type: image/png"),
        "{headers}"
    );
    assert_eq!(body, png);

    let mut req = report("up-ticket", "E0102", in_grid1());
    req.media_urls = vec![media.url.clone()];
    let t = submit(&mut intake, &r, req).await;
    assert_eq!(t.media_urls, [media.url]);
}

/// A minimal HTTP/1.1 GET: status, raw headers, body.
async fn http_get(addr: std::net::SocketAddr, url: &str) -> (u16, String, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let path = url.split_once(&addr.to_string()).map_or(url, |(_, p)| p);
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head, raw[split + 4..].to_vec())
}

async fn categories_are_there_from_the_start(w: &World) {
    let r = w.resident("cats");
    let mut intake = w.intake().await;
    let all = intake
        .list_incident_categories(authed(&r, ListIncidentCategoriesRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert!(all.total_size >= 50, "{}", all.total_size);
    let urgent = intake
        .list_incident_categories(authed(
            &r,
            ListIncidentCategoriesRequest {
                parent_code: "E04".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(
        urgent
            .categories
            .iter()
            .all(|c| c.urgent && c.parent_code == "E04")
    );
    assert_eq!(urgent.total_size as usize, urgent.categories.len());
}

/// The administrator edits the taxonomy; residents see the change at once.
async fn admin_edits_categories(w: &World) {
    let mut admin = AdminServiceClient::new(w.server.channel().await.unwrap());
    let mut cat = admin
        .get_category(authed(
            &w.admin,
            GetCategoryRequest {
                code: "E0102".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cat.name, "暴露垃圾");
    cat.code = "X01".into();
    cat.name = "试点类别".into();
    cat.parent_code = String::new();
    let upsert = |request_id: &str, c: &wuzhang_proto::v1::Category| UpsertCategoryRequest {
        request_id: request_id.into(),
        category: Some(c.clone()),
    };
    let saved = admin
        .upsert_category(authed(&w.admin, upsert("cat-1", &cat)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(saved.name, "试点类别");
    // Retired: residents can no longer report under it, and it leaves their form.
    cat.active = false;
    admin
        .upsert_category(authed(&w.admin, upsert("cat-2", &cat)))
        .await
        .unwrap();
    let r = w.resident("cat-user");
    let mut intake = w.intake().await;
    let err = intake
        .submit_incident(authed(&r, report("x-1", "X01", in_grid1())))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    let listed = admin
        .list_categories(authed(
            &w.admin,
            ListCategoriesRequest {
                include_inactive: true,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(
        listed
            .categories
            .iter()
            .any(|c| c.code == "X01" && !c.active)
    );
    // A bad category names the field; a resident may not edit.
    let mut bad = cat.clone();
    bad.start_level = 0;
    let err = admin
        .upsert_category(authed(&w.admin, upsert("cat-3", &bad)))
        .await
        .unwrap_err();
    assert_eq!(violations(&err), ["category.start_level"], "{err:?}");
    let err = admin
        .upsert_category(authed(&r, upsert("cat-4", &cat)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

/// A raw HTTP/1.1 request (so bytes that are not UTF-8 can be sent): status and body.
async fn http(addr: std::net::SocketAddr, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw).to_string();
    let status = text.split(' ').nth(1).unwrap().parse().unwrap();
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Open311 GeoReport v2 on the same binary: a real client library from PyPI drives it,
/// and bad requests get the spec's errors with nothing written.
async fn open311_over_http(w: &World) {
    let addr = w.server.http_addr;
    let base = format!("http://{addr}/open311/v2");
    let python = std::env::var("WUZHANG_OPEN311_PYTHON").unwrap_or_else(|_| "python3".into());
    let required = std::env::var("WUZHANG_REQUIRE_OPEN311").is_ok_and(|v| v == "1");
    let script = harness::tests_dir().join("open311/client_check.py");
    let has_client = std::process::Command::new(&python)
        .args(["-c", "import civicbot, georeport"])
        .status()
        .is_ok_and(|s| s.success());
    if has_client {
        let out = std::process::Command::new(&python)
            .arg(script)
            .args(["--base-url", &base, "--api-key", "civic-key"])
            .args([
                "--service-code",
                "E0102",
                "--lat",
                "43.8072",
                "--lng",
                "125.3172",
            ])
            .output()
            .unwrap();
        if !out.status.success() {
            let (_, listed) = http(
                addr,
                "GET",
                "/open311/v2/requests.json?api_key=civic-key",
                b"",
            )
            .await;
            panic!(
                "client_check.py failed:\n{}\n{}\nrequests: {listed}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    } else {
        assert!(
            !required,
            "WUZHANG_REQUIRE_OPEN311=1 but {python} cannot import civicbot and georeport \
             (pip install -r tests/open311/requirements.txt)"
        );
        println!("open311 client libraries not installed: library check skipped");
    }

    // The request made through Open311 is a ticket routed like any other.
    let (status, body) = http(
        addr,
        "POST",
        "/open311/v2/requests.json",
        format!(
            "api_key=civic-key&service_code=E0105&lat=43.8061&long=125.3061&description={}",
            "%E6%B2%B3%E9%81%93%E6%BC%82%E6%B5%AE%E7%89%A9"
        )
        .as_bytes(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("service_request_id"), "{body}");
    let (status, body) = http(
        addr,
        "GET",
        "/open311/v2/requests.json?api_key=civic-key&service_code=E0105",
        b"",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"status\":\"open\""), "{body}");
    assert!(
        body.contains("网格长"),
        "agency_responsible names the post: {body}"
    );
    // Another app's key does not see it; nor does an anonymous reader.
    let (_, body) = http(
        addr,
        "GET",
        "/open311/v2/requests.json?api_key=other-key",
        b"",
    )
    .await;
    assert_eq!(body.trim(), "[]");

    // Bad input: the spec's error format, the field named, nothing written.
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (
            b"service_code=E0102&lat=43.8061&long=125.3061&description=x".to_vec(),
            403,
            "api_key",
        ),
        (
            b"api_key=wrong&service_code=E0102&lat=43.8061&long=125.3061&description=x".to_vec(),
            403,
            "api_key",
        ),
        (
            b"api_key=civic-key&service_code=E0102&lat=43.8061&long=125.3061&description=%FF%FE"
                .to_vec(),
            400,
            "description",
        ),
        (
            b"api_key=civic-key&service_code=E0102&lat=NaN&long=125.3061&description=x".to_vec(),
            400,
            "lat",
        ),
        (
            b"api_key=civic-key&service_code=NOPE&lat=43.8061&long=125.3061&description=x".to_vec(),
            404,
            "service_code",
        ),
        (
            b"api_key=civic-key&lat=43.8061&long=125.3061&description=x".to_vec(),
            400,
            "service_code",
        ),
        (
            b"api_key=civic-key&service_code=E0102&lat=43.8061&long=125.3061".to_vec(),
            400,
            "description",
        ),
    ];
    for (body, status, field) in cases {
        let (got, text) = http(addr, "POST", "/open311/v2/requests.json", &body).await;
        assert_eq!(got, status, "{}: {text}", String::from_utf8_lossy(&body));
        assert!(text.contains("\"code\""), "spec error format: {text}");
        assert!(text.contains(field), "names {field}: {text}");
    }
    let (_, xml) = http(
        addr,
        "POST",
        "/open311/v2/requests.xml",
        b"api_key=civic-key&service_code=E0102&lat=91&long=125.3&description=x",
    )
    .await;
    assert!(
        xml.contains("<errors>") && xml.contains("<code>400</code>"),
        "{xml}"
    );
    let (_, body) = http(
        addr,
        "GET",
        "/open311/v2/requests.json?api_key=civic-key&service_code=E0102",
        b"",
    )
    .await;
    let made_by_script = usize::from(has_client);
    assert_eq!(
        body.matches("service_request_id").count(),
        made_by_script,
        "{body}"
    );
}

/// Each scenario as a test of its own on each store, on a server of its own (the
/// conformance suite's pattern): `cargo test -p wuzhang --test intake duplicates_merge`
/// runs one, and a failure names it.
macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let w = super::World::start(None).await;
                    let _ = super::$name(&w).await;
                }
            )*
        }

        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(url) = super::fresh_pg_url().await else {
                        return;
                    };
                    let w = super::World::start(Some(url)).await;
                    let _ = super::$name(&w).await;
                }
            )*
        }
    };
}

scenarios!(
    categories_are_there_from_the_start,
    admin_edits_categories,
    routes_to_the_right_chief,
    retries_are_idempotent,
    duplicates_merge,
    cancel_and_rate_rules,
    bad_input_writes_nothing,
    uploads_photos,
    open311_over_http,
);

/// The first answer survives a restart: the record is in the store, not in memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_are_answered_after_a_restart() {
    let w = World::start(None).await;
    let id = retries_are_idempotent(&w).await;
    let dir = w.server.stop();
    let server = Server::start_with(None, Some(dir), &[]).unwrap();
    let r1 = server.mint("resident", "idem", &[]).unwrap();
    let mut intake = IntakeServiceClient::new(server.channel().await.unwrap());
    let again = submit(&mut intake, &r1, report("same-id", "N0102", in_grid1())).await;
    assert_eq!(again.id, id);
}
