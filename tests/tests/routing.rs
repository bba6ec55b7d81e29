//! Areas and roster in through AdminService, answers out through RoutingService, over
//! real gRPC against the started binary: the chain a ticket will be dispatched along.

use std::time::{Duration, Instant};
use tonic::Code;
use tonic_types::StatusExt;
#[path = "../harness.rs"]
mod harness;
use harness::{Server, assert_field, authed, data_file, fixture, fresh_pg_url};
use wuzhang_proto::v1::admin_service_client::AdminServiceClient;
use wuzhang_proto::v1::routing_service_client::RoutingServiceClient;
use wuzhang_proto::v1::{
    AreaLevel, BBox, ChiefLevel, Crs, GeoPoint, GetAreaRequest, ImportAreasRequest,
    ImportRosterRequest, ListAreasRequest, ListPostsRequest, ListPostsResponse, LocateBatchRequest,
    LocateRequest, LocateResponse, import_areas_request, list_areas_request, locate_batch_result,
};

const X0: f64 = 125.300;
const Y0: f64 = 43.800;

fn wgs(lat: f64, lng: f64) -> Option<GeoPoint> {
    Some(GeoPoint {
        lat,
        lng,
        crs: Crs::Wgs84 as i32,
    })
}

fn import(request_id: &str, bytes: Vec<u8>) -> ImportAreasRequest {
    ImportAreasRequest {
        request_id: request_id.into(),
        source: Some(import_areas_request::Source::Geojson(bytes)),
        ..Default::default()
    }
}

async fn locate(
    routing: &mut RoutingServiceClient<tonic::transport::Channel>,
    token: &str,
    req: LocateRequest,
) -> Result<LocateResponse, tonic::Status> {
    routing
        .locate(authed(token, req))
        .await
        .map(tonic::Response::into_inner)
}

/// Imports the small tree and roster; returns (admin token, resident token).
async fn seed(server: &Server) -> (String, String) {
    let admin = server.mint("admin", "admin", &[]).unwrap();
    let resident = server.mint("resident", "r1", &[]).unwrap();
    let mut client = AdminServiceClient::new(server.channel().await.unwrap());
    let resp = client
        .import_areas(authed(
            &admin,
            import("areas-1", fixture("small-tree.geojson")),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resp.imported, 7, "{resp:?}");
    let resp = client
        .import_roster(authed(
            &admin,
            ImportRosterRequest {
                request_id: "roster-1".into(),
                csv: fixture("small-roster.csv"),
                dry_run: false,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (resp.posts, resp.vacancies, resp.persons),
        (7, 1, 6),
        "{resp:?}"
    );
    (admin, resident)
}

/// Waits until the server's index answers for a point in grid 1 (it follows the store).
async fn until_indexed(routing: &mut RoutingServiceClient<tonic::transport::Channel>, token: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = locate(
            routing,
            token,
            LocateRequest {
                point: wgs(Y0 + 0.005, X0 + 0.005),
                ..Default::default()
            },
        )
        .await;
        match r {
            Ok(_) => return,
            Err(e) if e.code() == Code::NotFound && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("index never caught up: {e:?}"),
        }
    }
}

async fn chain_and_borders(server: &Server) {
    let (_, resident) = seed(server).await;
    let mut routing = RoutingServiceClient::new(server.channel().await.unwrap());
    until_indexed(&mut routing, &resident).await;

    // Inside building 1 of grid 1: the whole chain, bottom up.
    let r = locate(
        &mut routing,
        &resident,
        LocateRequest {
            point: wgs(Y0 + 0.0025, X0 + 0.0025),
            unit_code: "220102001001001B01U1".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(r.grid.as_ref().unwrap().code, "220102001001001");
    assert_eq!(r.building.as_ref().unwrap().code, "220102001001001B01");
    assert_eq!(r.unit.as_ref().unwrap().code, "220102001001001B01U1");
    assert!(!r.fallback);
    let levels: Vec<i32> = r.chain.iter().map(|l| l.level).collect();
    assert_eq!(
        levels,
        [
            ChiefLevel::Unit,
            ChiefLevel::Building,
            ChiefLevel::Grid,
            ChiefLevel::Lane,
            ChiefLevel::Street,
            ChiefLevel::CommandCenter
        ]
        .map(|l| l as i32)
    );
    let people: Vec<(&str, bool, bool)> = r
        .chain
        .iter()
        .map(|l| (l.person_id.as_str(), l.vacant, l.deputy))
        .collect();
    assert_eq!(
        people,
        [
            ("P006", false, false),
            ("P005", false, true), // the holder is on leave: the deputy acts
            ("P003", false, false),
            ("P002", false, false),
            ("", true, false), // the street post is vacant
            ("P001", false, false),
        ]
    );
    assert_eq!(r.chain[2].person_name, "张网格");

    // The shared edge between grid 1 and grid 2 belongs to the smaller code, always.
    for lat in [Y0 + 0.001, Y0 + 0.005, Y0 + 0.0099] {
        let r = locate(
            &mut routing,
            &resident,
            LocateRequest {
                point: wgs(lat, X0 + 0.01),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(r.grid.unwrap().code, "220102001001001");
    }
    let r = locate(
        &mut routing,
        &resident,
        LocateRequest {
            point: wgs(Y0 + 0.005, X0 + 0.015),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(r.grid.unwrap().code, "220102001001002");

    // GCJ-02 input is converted: the same spot as seen on an Amap phone.
    let (glng, glat) = wuzhang_spatial::crs::wgs84_to_gcj02(X0 + 0.015, Y0 + 0.005);
    let r = locate(
        &mut routing,
        &resident,
        LocateRequest {
            point: Some(GeoPoint {
                lat: glat,
                lng: glng,
                crs: Crs::Gcj02 as i32,
            }),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(r.grid.unwrap().code, "220102001001002");
    let w = r.wgs84.unwrap();
    assert!(
        (w.lng - (X0 + 0.015)).abs() < 1e-7 && (w.lat - (Y0 + 0.005)).abs() < 1e-7,
        "{w:?}"
    );

    // Just outside (about 20 m east of grid 2): the nearest grid, flagged as a fallback.
    let r = locate(
        &mut routing,
        &resident,
        LocateRequest {
            point: wgs(Y0 + 0.005, X0 + 0.02025),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(
        r.fallback && r.distance_m > 10.0 && r.distance_m < 30.0,
        "{r:?}"
    );
    assert_eq!(r.grid.unwrap().code, "220102001001002");
    // Far outside: NOT_FOUND, said plainly.
    let err = locate(
        &mut routing,
        &resident,
        LocateRequest {
            point: wgs(Y0 + 0.5, X0),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    // Bad points name the field.
    for (p, field) in [
        (
            GeoPoint {
                lat: f64::NAN,
                lng: X0,
                crs: 0,
            },
            "point.lat",
        ),
        (
            GeoPoint {
                lat: 91.0,
                lng: X0,
                crs: 0,
            },
            "point.lat",
        ),
        (
            GeoPoint {
                lat: Y0,
                lng: f64::INFINITY,
                crs: 0,
            },
            "point.lng",
        ),
        (
            GeoPoint {
                lat: Y0,
                lng: X0,
                crs: 42,
            },
            "point.crs",
        ),
    ] {
        let err = locate(
            &mut routing,
            &resident,
            LocateRequest {
                point: Some(p),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
        let br = err.get_details_bad_request().expect("bad request details");
        assert_eq!(br.field_violations[0].field, field, "{err:?}");
    }
    let err = locate(&mut routing, &resident, LocateRequest::default())
        .await
        .unwrap_err();
    assert_eq!(
        err.get_details_bad_request().unwrap().field_violations[0].field,
        "point"
    );
    let err = locate(
        &mut routing,
        &resident,
        LocateRequest {
            point: wgs(Y0 + 0.005, X0 + 0.005),
            building_code: "220102001001002".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.get_details_bad_request().unwrap().field_violations[0].field,
        "building_code"
    );

    // A batch answers point by point.
    let batch = routing
        .locate_batch(authed(
            &resident,
            LocateBatchRequest {
                points: vec![
                    GeoPoint {
                        lat: Y0 + 0.005,
                        lng: X0 + 0.005,
                        crs: 0,
                    },
                    GeoPoint {
                        lat: f64::NAN,
                        lng: X0,
                        crs: 0,
                    },
                    GeoPoint {
                        lat: Y0 + 0.5,
                        lng: X0,
                        crs: 0,
                    },
                ],
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let outcomes: Vec<_> = batch
        .results
        .iter()
        .map(|r| r.outcome.clone().unwrap())
        .collect();
    assert!(
        matches!(&outcomes[0], locate_batch_result::Outcome::Location(l) if l.grid.as_ref().unwrap().code == "220102001001001")
    );
    assert!(
        matches!(&outcomes[1], locate_batch_result::Outcome::Error(e) if e.field == "points[1].lat")
    );
    assert!(
        matches!(&outcomes[2], locate_batch_result::Outcome::Error(e) if e.code == Code::NotFound as i32)
    );

    // Areas by code, parent and box.
    let area = routing
        .get_area(authed(
            &resident,
            GetAreaRequest {
                code: "220102001001001".into(),
                include_geometry: true,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (area.level, area.parent_code.as_str()),
        (AreaLevel::Grid as i32, "220102001S01L01")
    );
    assert!(
        area.geojson.starts_with(r#"{"type":"MultiPolygon""#),
        "{}",
        area.geojson
    );
    let children = routing
        .list_areas(authed(
            &resident,
            ListAreasRequest {
                filter: Some(list_areas_request::Filter::ParentCode(
                    "220102001S01L01".into(),
                )),
                page_size: 1,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(children.areas.len(), 1);
    assert!(
        !children.next_page_token.is_empty(),
        "a second page follows"
    );
}

#[tokio::test]
async fn locate_walks_the_chain_on_sqlite() {
    let server = Server::start(&[]).unwrap();
    chain_and_borders(&server).await;
}

#[tokio::test]
async fn locate_walks_the_chain_on_postgres() {
    let Some(url) = fresh_pg_url().await else {
        return;
    };
    let server = Server::start_with(Some(url), None, &[]).unwrap();
    chain_and_borders(&server).await;
}

#[tokio::test]
async fn bad_area_files_are_refused_whole() {
    let server = Server::start(&[]).unwrap();
    let admin = server.mint("admin", "admin", &[]).unwrap();
    let mut client = AdminServiceClient::new(server.channel().await.unwrap());
    let good = String::from_utf8(fixture("small-tree.geojson")).unwrap();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "empty",
            r#"{"type":"FeatureCollection","features":[]}"#.into(),
            "geojson",
        ),
        ("not json", "{".into(), "geojson"),
        ("infinite", good.replacen("125.3,", "1e999,", 1), "geojson"),
        (
            "out of range",
            good.replacen("125.3,", "225.3,", 1),
            "geojson.features[0].geometry",
        ),
        (
            "wrong level",
            good.replacen(r#""level": "lane""#, r#""level": "alley""#, 1),
            "geojson.features[2].properties.level",
        ),
        (
            "wrong parent level",
            good.replacen(
                r#""parent_code": "220102001S01L01""#,
                r#""parent_code": "220102001S01""#,
                1,
            ),
            "geojson.features[3].properties.parent_code",
        ),
        (
            "cycle",
            good.replacen(
                r#""name": "南岭街道",
    "level": "subdistrict""#,
                r#""name": "南岭街道",
    "level": "subdistrict",
    "parent_code": "220102001001001B01U1""#,
                1,
            ),
            "properties.parent_code",
        ),
    ];
    for (name, body, field) in cases {
        let err = client
            .import_areas(authed(
                &admin,
                ImportAreasRequest {
                    request_id: format!("bad-{}", name.replace(' ', "-")),
                    source: Some(import_areas_request::Source::GeojsonText(body)),
                    ..Default::default()
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{name}: {err:?}");
        let br = err
            .get_details_bad_request()
            .unwrap_or_else(|| panic!("{name}: no details"));
        assert!(
            br.field_violations.iter().any(|v| v.field.contains(field)),
            "{name}: expected a violation on {field}: {:?}",
            br.field_violations
        );
    }
    // Nothing was written by any of them.
    let resident = server.mint("resident", "r1", &[]).unwrap();
    let mut routing = RoutingServiceClient::new(server.channel().await.unwrap());
    let listed = routing
        .list_areas(authed(&resident, ListAreasRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.areas.is_empty(), "{:?}", listed.areas);
}

#[tokio::test]
async fn changchun_districts_are_refused_plain_and_accepted_repaired_on_sqlite() {
    let server = Server::start(&[]).unwrap();
    changchun_districts(&server, None).await;
}

#[tokio::test]
async fn changchun_districts_are_refused_plain_and_accepted_repaired_on_postgres() {
    let Some(url) = fresh_pg_url().await else {
        return;
    };
    let server = Server::start_with(Some(url), None, &[]).unwrap();
    // On Postgres, PostGIS repairs: the report says so.
    changchun_districts(&server, Some("ST_MakeValid")).await;
}

async fn changchun_districts(server: &Server, repaired_by: Option<&str>) {
    let admin = server.mint("admin", "admin", &[]).unwrap();
    let mut client = AdminServiceClient::new(server.channel().await.unwrap());
    let request = |id: &str, repair: bool| ImportAreasRequest {
        request_id: id.into(),
        source: Some(import_areas_request::Source::Geojson(data_file(
            "changchun/districts.geojson",
        ))),
        repair,
        default_level: AreaLevel::District as i32,
        ..Default::default()
    };
    let err = client
        .import_areas(authed(&admin, request("plain", false)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let violations = err.get_details_bad_request().unwrap().field_violations;
    assert!(
        violations.iter().all(|v| v.field.ends_with(".geometry")),
        "{violations:?}"
    );
    assert!(
        violations
            .iter()
            .any(|v| v.description.contains("self-intersection")),
        "{violations:?}"
    );
    for i in 0..10 {
        assert!(
            violations
                .iter()
                .any(|v| v.field == format!("geojson.features[{i}].geometry")),
            "feature {i}"
        );
    }

    let dry = client
        .import_areas(authed(
            &admin,
            ImportAreasRequest {
                dry_run: true,
                ..request("dry", true)
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(
        dry.dry_run && dry.imported == 10 && dry.issues.is_empty(),
        "{dry:?}"
    );

    let ok = client
        .import_areas(authed(&admin, request("repaired", true)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ok.imported, 10);
    let repaired: std::collections::HashSet<i32> = ok.repaired.iter().map(|r| r.index).collect();
    assert_eq!(
        repaired.len(),
        10,
        "every district was repaired: {:?}",
        ok.repaired
    );
    assert!(ok.repaired.iter().any(|r| r.location.is_some()));
    if let Some(tool) = repaired_by {
        assert!(
            ok.repaired.iter().all(|r| r.reason.contains(tool)),
            "{:?}",
            ok.repaired
        );
    }
    // The repaired districts are in the store and answer Locate-level queries by box.
    let resident = server.mint("resident", "r1", &[]).unwrap();
    let mut routing = RoutingServiceClient::new(server.channel().await.unwrap());
    let area = routing
        .get_area(authed(
            &resident,
            GetAreaRequest {
                code: "220102".into(),
                include_geometry: false,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (area.name.as_str(), area.level),
        ("南关区", AreaLevel::District as i32)
    );

    // A retry with the same request id answers the same, a different payload is refused.
    let again = client
        .import_areas(authed(&admin, request("repaired", true)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again, ok);
    let err = client
        .import_areas(authed(&admin, request("repaired", false)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
}

#[tokio::test]
async fn every_process_follows_an_import() {
    // Two processes on one Postgres schema: an import through the first reaches the
    // second's index within seconds.
    let Some(url) = fresh_pg_url().await else {
        return;
    };
    let a = Server::start_with(Some(url.clone()), None, &[]).unwrap();
    let b = Server::start_with(Some(url), None, &[]).unwrap();
    let token_b = b.mint("resident", "r1", &[]).unwrap();
    let mut routing_b = RoutingServiceClient::new(b.channel().await.unwrap());
    let err = locate(
        &mut routing_b,
        &token_b,
        LocateRequest {
            point: wgs(Y0 + 0.005, X0 + 0.005),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    seed(&a).await;
    until_indexed(&mut routing_b, &token_b).await;
}

#[tokio::test]
async fn large_area_files_arrive_and_huge_ones_are_refused_clearly() {
    let server = Server::start(&[]).unwrap();
    let admin = server.mint("admin", "admin", &[]).unwrap();
    let mut client = AdminServiceClient::new(server.channel().await.unwrap())
        .max_encoding_message_size(100 << 20);
    // Over tonic's 4 MiB default: a subdistrict with 20,000 unit grids.
    let mut text = String::from(r#"{"type":"FeatureCollection","features":["#);
    text.push_str(r#"{"type":"Feature","properties":{"code":"S","name":"s","level":"subdistrict"},"geometry":{"type":"Polygon","coordinates":[[[125,43],[126,43],[126,44],[125,44],[125,43]]]}}"#);
    for i in 0..20_000u32 {
        let (x, y) = (
            125.0 + f64::from(i % 200) * 0.001,
            43.0 + f64::from(i / 200) * 0.001,
        );
        text.push_str(&format!(
            r#",{{"type":"Feature","properties":{{"code":"S{i:05}","name":"street {i}","level":"street","parent_code":"S"}},"geometry":{{"type":"Polygon","coordinates":[[[{x},{y}],[{x1},{y}],[{x1},{y1}],[{x},{y1}],[{x},{y}]]]}}}}"#,
            x1 = x + 0.001,
            y1 = y + 0.001
        ));
    }
    text.push_str("]}");
    assert!(text.len() > 4 << 20, "{} bytes", text.len());
    let ok = client
        .import_areas(authed(
            &admin,
            ImportAreasRequest {
                request_id: "big".into(),
                source: Some(import_areas_request::Source::GeojsonText(text)),
                dry_run: true,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ok.imported, 20_001, "{:?}", ok.issues.first());

    // Over the imports' 64 MiB: refused with the field named, not a transport error.
    let huge = " ".repeat(65 << 20);
    let err = client
        .import_areas(authed(
            &admin,
            ImportAreasRequest {
                request_id: "huge".into(),
                source: Some(import_areas_request::Source::GeojsonText(huge)),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert_eq!(
        err.get_details_bad_request().unwrap().field_violations[0].field,
        "geojson"
    );
}

/// The posts `r` lists, as (area code, holder id, deputy id, vacant).
fn posts_of(r: &ListPostsResponse) -> Vec<(&str, &str, &str, bool)> {
    r.posts
        .iter()
        .map(|p| {
            (
                p.area_code.as_str(),
                p.holder.as_ref().map_or("", |h| h.id.as_str()),
                p.deputy.as_ref().map_or("", |d| d.id.as_str()),
                p.vacant,
            )
        })
        .collect()
}

async fn list_posts(
    routing: &mut RoutingServiceClient<tonic::transport::Channel>,
    token: &str,
    req: ListPostsRequest,
) -> Result<ListPostsResponse, tonic::Status> {
    routing
        .list_posts(authed(token, req))
        .await
        .map(tonic::Response::into_inner)
}

/// Issue 22: imports seen at once by the answering process, ListPosts by scope, and
/// ListAreas totals.
async fn posts_totals_and_fresh_imports(server: &Server) {
    let (admin, resident) = seed(server).await;
    let mut routing = RoutingServiceClient::new(server.channel().await.unwrap());
    let in_grid_2 = || LocateRequest {
        point: wgs(Y0 + 0.005, X0 + 0.015),
        ..Default::default()
    };

    // Answered OK means seen: Locate at once, no wait and no retry.
    let r = locate(&mut routing, &resident, in_grid_2())
        .await
        .expect("the import is seen at once");
    let grid = r.grid.unwrap();
    assert_eq!(
        (grid.code.as_str(), grid.name.as_str()),
        ("220102001001002", "南岭社区第2网格")
    );
    let grid_link = r.chain.iter().find(|l| l.level == ChiefLevel::Grid as i32);
    assert_eq!(grid_link.unwrap().person_id, "P002");

    // ListPosts. An admin sees every post by area code, vacancies included (the street has
    // no holder; the building's holder is away but a deputy acts; the command center is
    // never vacant), phones whole.
    let all = list_posts(&mut routing, &admin, ListPostsRequest::default())
        .await
        .unwrap();
    assert_eq!(
        posts_of(&all),
        vec![
            ("220102001", "P001", "", false),
            ("220102001001001", "P003", "", false),
            ("220102001001001B01", "P004", "P005", false),
            ("220102001001001B01U1", "P006", "", false),
            ("220102001001002", "P002", "", false),
            ("220102001S01", "", "", true),
            ("220102001S01L01", "P002", "", false),
        ]
    );
    assert_eq!(all.total_size, 7);
    assert!(all.next_page_token.is_empty());
    let building = &all.posts[2];
    assert_eq!(building.level, ChiefLevel::Building as i32);
    assert_eq!(building.area_name, "1号楼");
    assert_eq!(building.leave.len(), 1, "the holder's leave runs to 2099");
    assert_eq!(building.holder.as_ref().unwrap().phone, "13900000004");
    // Filters, alone and together.
    let only = |req: ListPostsRequest| {
        let mut routing = routing.clone();
        let admin = admin.clone();
        async move { list_posts(&mut routing, &admin, req).await.unwrap() }
    };
    let vacant = only(ListPostsRequest {
        vacant_only: true,
        ..Default::default()
    })
    .await;
    assert_eq!(posts_of(&vacant), vec![("220102001S01", "", "", true)]);
    assert_eq!(vacant.total_size, 1);
    let grids = only(ListPostsRequest {
        level: ChiefLevel::Grid as i32,
        ..Default::default()
    })
    .await;
    assert_eq!(grids.posts.len(), 2);
    let lane_chief = only(ListPostsRequest {
        person_id: "P002".into(),
        ..Default::default()
    })
    .await;
    let codes: Vec<&str> = lane_chief
        .posts
        .iter()
        .map(|p| p.area_code.as_str())
        .collect();
    assert_eq!(codes, ["220102001001002", "220102001S01L01"]);
    let deputy = only(ListPostsRequest {
        person_id: "P005".into(),
        area_code: "220102001001001".into(),
        ..Default::default()
    })
    .await;
    assert_eq!(deputy.posts.len(), 1, "deputies count");
    // Paged like ListAreas: the total on every page, a token until the last.
    let mut token = String::new();
    let mut paged = Vec::new();
    for expected in [3, 3, 1] {
        let page = only(ListPostsRequest {
            page_size: 3,
            page_token: token.clone(),
            ..Default::default()
        })
        .await;
        assert_eq!((page.posts.len(), page.total_size), (expected, 7));
        paged.extend(page.posts);
        token = page.next_page_token;
    }
    assert!(token.is_empty());
    assert_eq!(paged, all.posts);

    // Bad input names the field; an unknown area is NOT_FOUND.
    for (req, field) in [
        (
            ListPostsRequest {
                area_code: "no spaces".into(),
                ..Default::default()
            },
            "area_code",
        ),
        (
            ListPostsRequest {
                person_id: "P 1".into(),
                ..Default::default()
            },
            "person_id",
        ),
        (
            ListPostsRequest {
                level: 99,
                ..Default::default()
            },
            "level",
        ),
        (
            ListPostsRequest {
                page_size: -1,
                ..Default::default()
            },
            "page_size",
        ),
        (
            ListPostsRequest {
                page_token: "not-a-token".into(),
                ..Default::default()
            },
            "page_token",
        ),
    ] {
        let err = list_posts(&mut routing, &admin, req).await.unwrap_err();
        assert_field(&err, field);
    }
    let err = list_posts(
        &mut routing,
        &admin,
        ListPostsRequest {
            area_code: "220102999".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");

    // Scope. A resident may not list posts at all.
    let err = list_posts(&mut routing, &resident, ListPostsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    // A command center: its subdistrict's tree, phones whole.
    let center = server
        .mint("command_center", "cc-1", &["220102001"])
        .unwrap();
    let mine = list_posts(&mut routing, &center, ListPostsRequest::default())
        .await
        .unwrap();
    assert_eq!(mine.posts, all.posts);
    let grid_1 = list_posts(
        &mut routing,
        &center,
        ListPostsRequest {
            area_code: "220102001001001".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(grid_1.total_size, 3, "the grid, its building and unit");
    // Another subdistrict's center sees none of it.
    let other = server
        .mint("command_center", "cc-2", &["220102002"])
        .unwrap();
    let none = list_posts(&mut routing, &other, ListPostsRequest::default())
        .await
        .unwrap();
    assert_eq!((none.posts.len(), none.total_size), (0, 0));
    let err = list_posts(
        &mut routing,
        &other,
        ListPostsRequest {
            area_code: "220102001001001".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    // A chief: the trees of their posts (by the roster), phones masked.
    let grid_chief = server.mint("chief", "P003", &["220102001001001"]).unwrap();
    let own = list_posts(&mut routing, &grid_chief, ListPostsRequest::default())
        .await
        .unwrap();
    assert_eq!(
        posts_of(&own),
        vec![
            ("220102001001001", "P003", "", false),
            ("220102001001001B01", "P004", "P005", false),
            ("220102001001001B01U1", "P006", "", false),
        ]
    );
    assert_eq!(own.posts[0].holder.as_ref().unwrap().phone, "139****0003");
    let err = list_posts(
        &mut routing,
        &grid_chief,
        ListPostsRequest {
            area_code: "220102001S01L01".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.code(),
        Code::NotFound,
        "above the chief's post: {err:?}"
    );
    let lane = server.mint("chief", "P002", &["220102001S01L01"]).unwrap();
    let own = list_posts(&mut routing, &lane, ListPostsRequest::default())
        .await
        .unwrap();
    let codes: Vec<&str> = own.posts.iter().map(|p| p.area_code.as_str()).collect();
    assert_eq!(
        codes,
        [
            "220102001001001",
            "220102001001001B01",
            "220102001001001B01U1",
            "220102001001002",
            "220102001S01L01"
        ],
        "the lane's tree, its grid post listed once"
    );

    // ListAreas counts what matches, whatever the page.
    let areas = |filter, level: AreaLevel, page_size| ListAreasRequest {
        filter,
        level: level as i32,
        page_size,
        ..Default::default()
    };
    for (req, total) in [
        (areas(None, AreaLevel::Unspecified, 2), 7),
        (areas(None, AreaLevel::Grid, 1), 2),
        (
            areas(
                Some(list_areas_request::Filter::ParentCode(
                    "220102001S01L01".into(),
                )),
                AreaLevel::Unspecified,
                1,
            ),
            2,
        ),
        (
            areas(
                Some(list_areas_request::Filter::Bbox(BBox {
                    min_lng: 125.315,
                    min_lat: 43.801,
                    max_lng: 125.318,
                    max_lat: 43.802,
                })),
                AreaLevel::Grid,
                0,
            ),
            1,
        ),
    ] {
        let r = routing
            .list_areas(authed(&resident, req.clone()))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.total_size, total, "{req:?}");
        assert!(!r.total_size_is_estimate);
    }

    // A second import into a running index: grid 2 renamed, and a new grid chief. Both
    // answered OK, both seen at once.
    let renamed = r#"{"type": "FeatureCollection", "features": [{"type": "Feature",
        "properties": {"code": "220102001001002", "name": "南岭社区第二网格", "level": "grid",
        "parent_code": "220102001S01L01", "community": "南岭社区"},
        "geometry": {"type": "Polygon", "coordinates": [[[125.31, 43.8], [125.32, 43.8],
        [125.32, 43.81], [125.31, 43.81], [125.31, 43.8]]]}}]}"#;
    let mut admin_client = AdminServiceClient::new(server.channel().await.unwrap());
    admin_client
        .import_areas(authed(
            &admin,
            import("areas-2", renamed.as_bytes().to_vec()),
        ))
        .await
        .unwrap();
    let r = locate(&mut routing, &resident, in_grid_2()).await.unwrap();
    assert_eq!(r.grid.unwrap().name, "南岭社区第二网格");
    admin_client
        .import_roster(authed(
            &admin,
            ImportRosterRequest {
                request_id: "roster-2".into(),
                csv: "area_code,person_id,person_name,phone,deputy_person_id,deputy_name,\
                      deputy_phone,leave_starts_at,leave_ends_at\n\
                      220102001001002,P007,周网格,13900000007,,,,,\n"
                    .as_bytes()
                    .to_vec(),
                dry_run: false,
            },
        ))
        .await
        .unwrap();
    let r = locate(&mut routing, &resident, in_grid_2()).await.unwrap();
    let grid_link = r.chain.iter().find(|l| l.level == ChiefLevel::Grid as i32);
    assert_eq!(grid_link.unwrap().person_id, "P007");
    let posts = list_posts(
        &mut routing,
        &admin,
        ListPostsRequest {
            area_code: "220102001001002".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        posts_of(&posts),
        vec![("220102001001002", "P007", "", false)]
    );
    assert_eq!(posts.posts[0].area_name, "南岭社区第二网格");
}

#[tokio::test]
async fn posts_totals_and_fresh_imports_on_sqlite() {
    let server = Server::start(&[]).unwrap();
    posts_totals_and_fresh_imports(&server).await;
}

#[tokio::test]
async fn posts_totals_and_fresh_imports_on_postgres() {
    let Some(url) = fresh_pg_url().await else {
        return;
    };
    let server = Server::start_with(Some(url), None, &[]).unwrap();
    posts_totals_and_fresh_imports(&server).await;
}
