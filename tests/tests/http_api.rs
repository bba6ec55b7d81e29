//! The whole API over HTTP/JSON (issue 23), driven by a client this project did not write
//! (Python `requests`, tests/http/client_check.py): report, read, list, scope and
//! authentication, bad input named by its field with nothing written, a ticket's events as
//! Server-Sent Events resumed with Last-Event-ID, the command center's reads. And the same
//! request answered alike over gRPC and over HTTP.

use std::process::Command;

#[path = "../harness.rs"]
mod harness;
use harness::{Server, authed, seed_small_tree};
use wuzhang_proto::v1::intake_service_client::IntakeServiceClient;
use wuzhang_proto::v1::{Crs, GeoPoint, GetIncidentRequest, SubmitIncidentRequest};

const SUB: &str = "220102001";

/// The Python that has the clients (the same venv as the Open311 check's); its absence
/// fails the test when `WUZHANG_REQUIRE_OPEN311=1`, as CI sets it.
fn python() -> Option<String> {
    let python = std::env::var("WUZHANG_OPEN311_PYTHON").unwrap_or_else(|_| "python3".into());
    let has = Command::new(&python)
        .args([
            "-c",
            "import requests, sseclient, websockets, openapi_spec_validator",
        ])
        .status()
        .is_ok_and(|s| s.success());
    let required = std::env::var("WUZHANG_REQUIRE_OPEN311").is_ok_and(|v| v == "1");
    assert!(
        has || !required,
        "WUZHANG_REQUIRE_OPEN311=1 but {python} cannot import requests \
         (pip install -r tests/http/requirements.txt)"
    );
    has.then_some(python)
}

#[tokio::test]
async fn a_resident_and_a_command_center_over_http_json() {
    let server = Server::start(&[]).unwrap();
    seed_small_tree(&server).await;
    let Some(python) = python() else {
        println!("python requests not installed: HTTP client check skipped");
        return;
    };
    let resident = server.mint("resident", "http-r1", &[]).unwrap();
    let other = server.mint("resident", "http-r2", &[]).unwrap();
    let cc = server.mint("command_center", "cc-1", &[SUB]).unwrap();
    let out = Command::new(python)
        .arg(harness::tests_dir().join("http/client_check.py"))
        .args(["--base-url", &format!("http://{}", server.http_addr)])
        .args(["--resident", &resident, "--other", &other])
        .args(["--command-center", &cc, "--subdistrict", SUB])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "client_check.py failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("all ok"), "{stdout}");
}

/// A raw HTTP/1.1 request: status and body.
async fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    token: &str,
    body: &str,
) -> (u16, serde_json::Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Authorization: Bearer {token}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let body = serde_json::from_slice(&raw[split + 4..]).unwrap_or(serde_json::Value::Null);
    (status, body)
}

#[tokio::test]
async fn grpc_and_http_answer_alike() {
    let server = Server::start(&[]).unwrap();
    seed_small_tree(&server).await;
    let resident = server.mint("resident", "alike-r1", &[]).unwrap();
    let mut intake = IntakeServiceClient::new(server.channel().await.unwrap());
    let ticket = intake
        .submit_incident(authed(
            &resident,
            SubmitIncidentRequest {
                request_id: "alike-1".into(),
                category_code: "E0102".into(),
                description: "路灯不亮".into(),
                location: Some(GeoPoint {
                    lat: 43.807,
                    lng: 125.307,
                    crs: Crs::Wgs84 as i32,
                }),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let by_grpc = intake
        .get_incident(authed(
            &resident,
            GetIncidentRequest {
                ticket_id: ticket.id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let path = format!("/v1/incidents/{}", ticket.id);
    let (status, by_http) = http(server.http_addr, "GET", &path, &resident, "").await;
    assert_eq!(status, 200, "{by_http}");
    assert_eq!(by_http["id"], by_grpc.id);
    assert_eq!(by_http["gridCode"], by_grpc.grid_code);
    assert_eq!(by_http["categoryCode"], by_grpc.category_code);
    assert_eq!(by_http["description"], by_grpc.description);
    assert_eq!(
        by_http["version"],
        by_grpc.version.to_string(),
        "int64 as a string"
    );
    assert_eq!(by_http["state"], "TICKET_STATE_ASSIGNED");
    let created = by_grpc.created_at.unwrap();
    let text = by_http["createdAt"].as_str().unwrap();
    let parsed =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).unwrap();
    assert_eq!(parsed.unix_timestamp(), created.seconds, "{text}");

    // An error answers alike: the same code, and the field named in the same details.
    let (status, body) = http(
        server.http_addr,
        "POST",
        "/v1/incidents",
        &resident,
        r#"{"requestId": "alike-2", "categoryCode": "NOPE", "description": "x",
            "location": {"lat": 43.807, "lng": 125.307}}"#,
    )
    .await;
    let by_grpc = intake
        .submit_incident(authed(
            &resident,
            SubmitIncidentRequest {
                request_id: "alike-3".into(),
                category_code: "NOPE".into(),
                description: "x".into(),
                location: Some(GeoPoint {
                    lat: 43.807,
                    lng: 125.307,
                    crs: 0,
                }),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], by_grpc.code() as i32);
    let fields: Vec<&str> = body["details"][0]["fieldViolations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["field"].as_str().unwrap())
        .collect();
    use tonic_types::StatusExt;
    let grpc_fields: Vec<String> = by_grpc
        .get_details_bad_request()
        .unwrap()
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect();
    assert_eq!(fields, grpc_fields);
}

/// A raw HTTP/1.1 exchange: status, head (lowercased) and body (de-chunked).
async fn raw(addr: std::net::SocketAddr, head: &str, body: &[u8]) -> (u16, String, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let mut rest = raw[split + 4..].to_vec();
    if head.contains("transfer-encoding: chunked") {
        let mut body = Vec::new();
        while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
            let size = usize::from_str_radix(std::str::from_utf8(&rest[..eol]).unwrap().trim(), 16)
                .unwrap();
            if size == 0 {
                break;
            }
            body.extend_from_slice(&rest[eol + 2..eol + 2 + size]);
            rest = rest[eol + 2 + size + 2..].to_vec();
        }
        rest = body;
    }
    (status, head, rest)
}

#[tokio::test]
async fn browsers_of_allowed_origins_and_grpc_web() {
    const ORIGIN: &str = "https://cc.example.cn";
    let server =
        Server::start_env(None, None, &[("WUZHANG_CORS_ALLOWED_ORIGINS", ORIGIN)], &[]).unwrap();
    let resident = server.mint("resident", "web-r1", &[]).unwrap();
    // A preflight from the allowed origin is answered; from another, not allowed.
    for (origin, allowed) in [(ORIGIN, true), ("https://evil.example.com", false)] {
        let (status, head, _) = raw(
            server.http_addr,
            &format!(
                "OPTIONS /v1/incidents HTTP/1.1\r\nHost: x\r\nConnection: close\r\nOrigin: {origin}\r\n\
                 Access-Control-Request-Method: POST\r\n\
                 Access-Control-Request-Headers: authorization, content-type\r\n\r\n"
            ),
            b"",
        )
        .await;
        assert_eq!(status, 200, "{head}");
        assert_eq!(
            head.contains(&format!("access-control-allow-origin: {origin}")),
            allowed,
            "{head}"
        );
    }
    // grpc-web on the gRPC port, over HTTP/1.1: one ListIncidentCategories call, framed as a
    // browser's grpc-web client frames it, answered with the trailers in the body.
    let call = |token: &str| {
        format!(
            "POST /wuzhang.v1.IntakeService/ListIncidentCategories HTTP/1.1\r\nHost: x\r\n\
             Connection: close\r\nContent-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1\r\n\
             Origin: {ORIGIN}\r\nAuthorization: Bearer {token}\r\nContent-Length: 5\r\n\r\n"
        )
    };
    let (status, head, body) = raw(server.addr, &call(&resident), &[0, 0, 0, 0, 0]).await;
    assert_eq!(status, 200, "{head}");
    assert!(
        head.contains("content-type: application/grpc-web"),
        "{head}"
    );
    assert!(
        head.contains(&format!("access-control-allow-origin: {ORIGIN}")),
        "{head}"
    );
    assert_eq!(body[0], 0, "a message frame first");
    let len = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
    let trailers = String::from_utf8_lossy(&body[5 + len + 5..]).to_ascii_lowercase();
    assert_eq!(body[5 + len], 0x80, "then the trailers frame");
    assert!(trailers.contains("grpc-status:0"), "{trailers}");
    assert!(
        String::from_utf8_lossy(&body[5..5 + len]).contains("E0102"),
        "the categories are in the message"
    );
    // A refusal comes as trailers only: in the head, where grpc-web puts them then.
    let (status, head, body) = raw(server.addr, &call("not-a-token"), &[0, 0, 0, 0, 0]).await;
    let all = format!("{head}\n{}", String::from_utf8_lossy(&body)).replace(": ", ":");
    assert_eq!(status, 200);
    assert!(all.contains("grpc-status:16"), "{all}");
}
