//! The gRPC server: every enabled service behind bearer-token authentication, plus health
//! and reflection (v1 and v1alpha) open to all, on a listener the caller provides.

use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::server::NamedService;
use tonic::transport::Server;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use wuzhang_auth::Authenticator;
use wuzhang_domain::clock::Clock;
use wuzhang_proto::v1::admin_service_server::AdminServiceServer;
use wuzhang_proto::v1::escalation_service_server::EscalationServiceServer;
use wuzhang_proto::v1::intake_service_server::IntakeServiceServer;
use wuzhang_proto::v1::routing_service_server::RoutingServiceServer;
use wuzhang_proto::v1::supervision_service_server::SupervisionServiceServer;
use wuzhang_store::Store;

use crate::config::ServiceName;

/// What a running server is made of; built once by [`crate::app::App`] and shared by
/// every service.
#[derive(Debug, Clone)]
pub struct ServerParts {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub authenticator: Authenticator,
    pub services: Vec<ServiceName>,
    /// Answers where points are; its index is followed while the server runs.
    pub locator: wuzhang_routing::Locator,
    /// How often the area index checks the store for changes.
    pub index_refresh: std::time::Duration,
}

/// Largest AdminService request: above the imports' own 64 MiB limit, so a file just
/// over it gets the import's INVALID_ARGUMENT naming the field, not a transport error.
pub const ADMIN_MAX_MESSAGE_BYTES: usize = 80 * 1024 * 1024;

/// How long in-flight calls may take to finish after shutdown is requested. Idle
/// connections whose clients ignore GOAWAY would otherwise hold the process forever.
pub const DRAIN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Serves gRPC on `listener` until `shutdown` completes, then drains in-flight calls for
/// at most [`DRAIN_GRACE`].
pub async fn run(
    parts: ServerParts,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let ServerParts {
        store,
        clock,
        authenticator,
        services,
        locator,
        index_refresh,
    } = parts;
    // One shutdown for the server and every background task (each takes
    // `stop_tx.subscribe()`).
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let follower = locator
        .index()
        .spawn_follower(Arc::clone(&store), index_refresh, async move {
            let _ = stop_rx.wait_for(|stop| *stop).await;
        });
    let enabled = |s: ServiceName| services.contains(&s);

    let (health, health_service) = tonic_health::server::health_reporter();
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(wuzhang_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(wuzhang_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;

    let intake = enabled(ServiceName::Intake).then(|| {
        IntakeServiceServer::with_interceptor(
            wuzhang_intake::Intake::new(Arc::clone(&store), Arc::clone(&clock)),
            authenticator.clone(),
        )
    });
    let routing = enabled(ServiceName::Routing).then(|| {
        RoutingServiceServer::with_interceptor(
            wuzhang_routing::Routing::new(Arc::clone(&store), locator.clone()),
            authenticator.clone(),
        )
    });
    let escalation = enabled(ServiceName::Escalation).then(|| {
        EscalationServiceServer::with_interceptor(
            wuzhang_escalation::Escalation::new(Arc::clone(&store), Arc::clone(&clock)),
            authenticator.clone(),
        )
    });
    let supervision = enabled(ServiceName::Supervision).then(|| {
        SupervisionServiceServer::with_interceptor(
            wuzhang_supervision::Supervision::new(Arc::clone(&store), Arc::clone(&clock)),
            authenticator.clone(),
        )
    });
    let admin = enabled(ServiceName::Admin).then(|| {
        // Imports carry whole files (64 MiB of GeoJSON at most, checked by the import with
        // a clear error); tonic's 4 MiB default would refuse them before they arrive.
        tonic::service::interceptor::InterceptedService::new(
            AdminServiceServer::new(wuzhang_admin::Admin::new(
                Arc::clone(&store),
                Arc::clone(&clock),
            ))
            .max_decoding_message_size(ADMIN_MAX_MESSAGE_BYTES),
            authenticator.clone(),
        )
    });

    // Health answers per service name, and "" for the whole server.
    for (name, service) in [
        (
            ServiceName::Intake,
            <IntakeServiceServer<wuzhang_intake::Intake> as NamedService>::NAME,
        ),
        (
            ServiceName::Routing,
            <RoutingServiceServer<wuzhang_routing::Routing> as NamedService>::NAME,
        ),
        (
            ServiceName::Escalation,
            <EscalationServiceServer<wuzhang_escalation::Escalation> as NamedService>::NAME,
        ),
        (
            ServiceName::Supervision,
            <SupervisionServiceServer<wuzhang_supervision::Supervision> as NamedService>::NAME,
        ),
        (
            ServiceName::Admin,
            <AdminServiceServer<wuzhang_admin::Admin> as NamedService>::NAME,
        ),
    ] {
        let status = if enabled(name) {
            tonic_health::ServingStatus::Serving
        } else {
            tonic_health::ServingStatus::NotServing
        };
        health.set_service_status(service, status).await;
    }
    health
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;

    let local = listener.local_addr()?;
    tracing::info!(addr = %local, services = ?services, "grpc serving");

    let (drain_tx, drain_rx) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        shutdown.await;
        let _ = stop_tx.send(true);
        let _ = drain_tx.send(());
    };
    let serve = Server::builder()
        .trace_fn(|req: &http::Request<()>| {
            let span = tracing::info_span!(
                "grpc",
                rpc = %req.uri().path(),
                otel.kind = "server",
            );
            // Continue the caller's trace when it sent W3C trace context.
            let _ = span.set_parent(wuzhang_telemetry::extract_context(req.headers()));
            span
        })
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_optional_service(intake)
        .add_optional_service(routing)
        .add_optional_service(escalation)
        .add_optional_service(supervision)
        .add_optional_service(admin)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown);
    let drain_deadline = async {
        if drain_rx.await.is_ok() {
            tokio::time::sleep(DRAIN_GRACE).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        result = serve => result?,
        () = drain_deadline => {
            tracing::warn!(grace = ?DRAIN_GRACE, "drain deadline passed: closing remaining connections");
        }
    }
    // The server is down; make sure the follower is too, whichever way we got here.
    follower.abort();
    tracing::info!("grpc stopped");
    Ok(())
}
