//! The load tools' lean gRPC client (`wuzhang_bench::lean`) against the started binary:
//! what `submit-load` counts as a submission must be one, durable and answered with the
//! ticket, and what it counts as an error must be one, or its figures mean nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use http::HeaderValue;
use prost::Message;
use wuzhang_bench::lean;
#[path = "../harness.rs"]
mod harness;
use harness::{Server, authed, seed_small_tree};
use wuzhang_proto::v1::intake_service_client::IntakeServiceClient;
use wuzhang_proto::v1::{
    Crs, GeoPoint, ListMyIncidentsRequest, SubmitIncidentRequest, Ticket, TicketState,
};

const SUBMIT: &str = "/wuzhang.v1.IntakeService/SubmitIncident";

fn report(request_id: &str, category: &str) -> SubmitIncidentRequest {
    SubmitIncidentRequest {
        request_id: request_id.into(),
        category_code: category.into(),
        description: "楼道堆放杂物，影响通行".into(),
        // In grid 1 of the small tree.
        location: Some(GeoPoint {
            lat: 43.807,
            lng: 125.307,
            crs: Crs::Wgs84 as i32,
        }),
        contact_phone: "13812345678".into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn the_lean_client_counts_what_the_server_did() {
    let server = Server::start(&[]).unwrap();
    seed_small_tree(&server).await;
    let token = server.mint("resident", "lean", &[]).unwrap();
    let auth = HeaderValue::from_str(&format!("Bearer {token}")).unwrap();
    let addr = server.addr.to_string();

    // One call: the answer is the ticket, assigned in grid 1.
    let mut conn = lean::Connection::open(&addr).await.unwrap();
    let answer = conn
        .unary(SUBMIT, &auth, &report("lean-1", "N0103"))
        .await
        .unwrap();
    let first = Ticket::decode(answer).unwrap();
    assert_eq!(first.grid_code, "220102001001001");
    assert_eq!(first.state, TicketState::Assigned as i32);
    // A retry is answered with the same ticket, as through tonic.
    let again = Ticket::decode(
        conn.unary(SUBMIT, &auth, &report("lean-1", "N0103"))
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(again.id, first.id);
    // A refusal is an error, not a success: an unknown category (INVALID_ARGUMENT, 3) and
    // a bad token (UNAUTHENTICATED, 16).
    let refused = conn
        .unary(SUBMIT, &auth, &report("lean-2", "X9999"))
        .await
        .unwrap_err();
    assert!(
        format!("{refused:#}").contains("grpc-status"),
        "{refused:#}"
    );
    assert!(format!("{refused:#}").contains("\"3\""), "{refused:#}");
    let stranger = HeaderValue::from_static("Bearer not-a-token");
    let refused = conn
        .unary(SUBMIT, &stranger, &report("lean-3", "N0103"))
        .await
        .unwrap_err();
    assert!(format!("{refused:#}").contains("\"16\""), "{refused:#}");

    // Many callers on two threads: every call counted as done is a stored ticket, and a
    // call the server refuses is counted as an error. Every fifth call names an unknown
    // category; the callers stop after 40 calls in all.
    let stop = Arc::new(AtomicBool::new(false));
    let made = Arc::new(AtomicUsize::new(0));
    let running = {
        let (stop, made) = (Arc::clone(&stop), Arc::clone(&made));
        let addr = addr.clone();
        let auth = auth.clone();
        tokio::task::spawn_blocking(move || {
            let stop_after = Arc::clone(&stop);
            lean::run(&addr, &auth, SUBMIT, 4, 2, &stop, move |w, i| {
                let n = made.fetch_add(1, Ordering::SeqCst) + 1;
                if n >= 40 {
                    stop_after.store(true, Ordering::SeqCst);
                }
                let category = if n % 5 == 0 { "X9999" } else { "N0103" };
                report(&format!("many-{w}-{i}"), category)
            })
        })
        .await
        .unwrap()
        .unwrap()
    };
    let calls = tokio::task::spawn_blocking(move || running.join())
        .await
        .unwrap()
        .unwrap();
    let made = made.load(Ordering::SeqCst);
    assert!(made >= 40, "{made} calls made");
    assert_eq!(calls.latencies.len() + calls.errors, made);
    assert_eq!(calls.errors, made / 5);

    let mut intake = IntakeServiceClient::new(server.channel().await.unwrap());
    let mine = intake
        .list_my_incidents(authed(&token, ListMyIncidentsRequest::default()))
        .await
        .unwrap()
        .into_inner();
    // The first ticket, and one per call counted as done.
    assert_eq!(mine.total_size as usize, 1 + calls.latencies.len());
}
