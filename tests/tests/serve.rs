//! The binary as operators and clients meet it: started on port 0, probed with real gRPC
//! health and reflection clients, called with and without tokens, stopped with SIGTERM.

use std::time::Duration;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
#[path = "../harness.rs"]
mod harness;
use harness::{Server, authed, fresh_pg_url};
use wuzhang_proto::v1::routing_service_client::RoutingServiceClient;
use wuzhang_proto::v1::{GeoPoint, LocateRequest};

const WUZHANG_SERVICES: [&str; 5] = [
    "wuzhang.v1.IntakeService",
    "wuzhang.v1.RoutingService",
    "wuzhang.v1.EscalationService",
    "wuzhang.v1.SupervisionService",
    "wuzhang.v1.AdminService",
];

async fn health(server: &Server, service: &str) -> ServingStatus {
    let mut client = HealthClient::new(server.channel().await.unwrap());
    let resp = client
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await
        .unwrap_or_else(|e| panic!("health check of {service:?}: {e}"));
    ServingStatus::try_from(resp.into_inner().status).unwrap()
}

async fn reflection_v1_services(server: &Server) -> Vec<String> {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let mut client = ServerReflectionClient::new(server.channel().await.unwrap());
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = client
        .server_reflection_info(tokio_stream::iter([req]))
        .await
        .unwrap()
        .into_inner();
    let resp = stream.message().await.unwrap().expect("one response");
    match resp.message_response {
        Some(MessageResponse::ListServicesResponse(list)) => {
            list.service.into_iter().map(|s| s.name).collect()
        }
        other => panic!("unexpected reflection answer {other:?}"),
    }
}

async fn reflection_v1alpha_file_for(server: &Server, symbol: &str) -> Vec<Vec<u8>> {
    use tonic_reflection::pb::v1alpha::ServerReflectionRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse;
    let mut client = ServerReflectionClient::new(server.channel().await.unwrap());
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::FileContainingSymbol(symbol.into())),
    };
    let mut stream = client
        .server_reflection_info(tokio_stream::iter([req]))
        .await
        .unwrap()
        .into_inner();
    let resp = stream.message().await.unwrap().expect("one response");
    match resp.message_response {
        Some(MessageResponse::FileDescriptorResponse(f)) => f.file_descriptor_proto,
        other => panic!("unexpected reflection answer {other:?}"),
    }
}

fn locate_request(token: Option<&str>) -> tonic::Request<LocateRequest> {
    let req = LocateRequest {
        point: Some(GeoPoint {
            lat: 43.88,
            lng: 125.32,
            crs: 0,
        }),
        ..Default::default()
    };
    match token {
        Some(t) => authed(t, req),
        None => tonic::Request::new(req),
    }
}

async fn check_health_and_reflection(server: &Server) {
    assert_eq!(health(server, "").await, ServingStatus::Serving);
    for s in WUZHANG_SERVICES {
        assert_eq!(health(server, s).await, ServingStatus::Serving, "{s}");
    }
    let listed = reflection_v1_services(server).await;
    for s in WUZHANG_SERVICES.iter().chain(&[
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
    ]) {
        assert!(
            listed.iter().any(|l| l == s),
            "reflection v1 lists {s}: {listed:?}"
        );
    }
    // grpcio's Python reflection client speaks only v1alpha.
    let files = reflection_v1alpha_file_for(server, "wuzhang.v1.IntakeService").await;
    assert!(
        !files.is_empty(),
        "v1alpha answers with the file descriptor"
    );
}

#[tokio::test]
async fn serves_health_and_reflection_on_sqlite() {
    let server = Server::start(&[]).unwrap();
    check_health_and_reflection(&server).await;
    assert!(
        server.data_dir.path().join("wuzhang.db").exists(),
        "SQLite file created on start"
    );
    assert!(
        server.data_dir.path().join("jwt.key").exists(),
        "signing key created on start"
    );
}

#[tokio::test]
async fn serves_health_and_reflection_on_postgres() {
    let Some(url) = fresh_pg_url().await else {
        return;
    };
    let server = Server::start_with(Some(url), None, &[]).unwrap();
    check_health_and_reflection(&server).await;
}

#[tokio::test]
async fn rpcs_need_a_valid_bearer_token() {
    let server = Server::start(&[]).unwrap();
    let mut client = RoutingServiceClient::new(server.channel().await.unwrap());

    let err = client.locate(locate_request(None)).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
    let err = client
        .locate(locate_request(Some("not-a-jwt")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");

    // A token signed by another installation's key.
    let other = Server::start(&[]).unwrap();
    let foreign = other.mint("admin", "admin", &[]).unwrap();
    let err = client
        .locate(locate_request(Some(&foreign)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");

    // A good token reaches the handler: an empty installation has no grid there.
    let token = server.mint("resident", "resident-1", &[]).unwrap();
    let err = client
        .locate(locate_request(Some(&token)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    assert!(err.message().starts_with("no grid at"), "{}", err.message());

    // A role an RPC is not for is refused as such.
    let mut supervision =
        wuzhang_proto::v1::supervision_service_client::SupervisionServiceClient::new(
            server.channel().await.unwrap(),
        );
    let req = authed(
        &token,
        wuzhang_proto::v1::GetOverviewRequest {
            subdistrict_code: "220102001".into(),
        },
    );
    let err = supervision.get_overview(req).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
}

#[tokio::test]
async fn runs_a_subset_of_services() {
    let server = Server::start(&["--services", "routing,admin"]).unwrap();
    assert_eq!(
        health(&server, "wuzhang.v1.RoutingService").await,
        ServingStatus::Serving
    );
    assert_eq!(
        health(&server, "wuzhang.v1.IntakeService").await,
        ServingStatus::NotServing
    );
    let listed = reflection_v1_services(&server).await;
    assert!(listed.iter().any(|s| s == "wuzhang.v1.RoutingService"));

    let token = server.mint("admin", "admin", &[]).unwrap();
    let mut intake = wuzhang_proto::v1::intake_service_client::IntakeServiceClient::new(
        server.channel().await.unwrap(),
    );
    let req = authed(
        &token,
        wuzhang_proto::v1::GetIncidentRequest {
            ticket_id: "0193e0a0-0000-7000-8000-000000000000".into(),
        },
    );
    let err = intake.get_incident(req).await.unwrap_err();
    assert_eq!(
        err.code(),
        Code::Unimplemented,
        "a service not mounted is unknown: {err:?}"
    );
}

#[tokio::test]
async fn stops_cleanly_on_sigterm() {
    let mut server = Server::start(&[]).unwrap();
    assert_eq!(health(&server, "").await, ServingStatus::Serving);
    assert!(
        server.terminate(Duration::from_secs(10)).unwrap(),
        "exit 0 within 10 s of SIGTERM"
    );
}

#[tokio::test]
async fn restarts_on_the_same_data_keep_the_key() {
    let server = Server::start(&[]).unwrap();
    let token = server.mint("admin", "admin", &[]).unwrap();
    let dir = server.stop();
    // A second process on the same directory honours tokens minted for the first.
    let second = Server::start_with(None, Some(dir), &[]).unwrap();
    let mut client = RoutingServiceClient::new(second.channel().await.unwrap());
    let err = client
        .locate(locate_request(Some(&token)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
}
