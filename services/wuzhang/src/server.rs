//! The servers of one process: gRPC (every enabled service behind bearer-token
//! authentication, plus health and reflection v1 and v1alpha open to all) and HTTP
//! (Open311, media downloads, `/healthz`), on listeners the caller provides, with the
//! background tasks they need, all stopped by one shutdown.

use std::future::Future;
use std::sync::Arc;

use futures::TryStreamExt;
use tokio::net::TcpListener;
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

/// What a running server is made of; built once by [`crate::app::build`] and shared by
/// every service.
#[derive(Debug, Clone)]
pub struct ServerParts {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub authenticator: Authenticator,
    pub services: Vec<ServiceName>,
    /// Answers where points are; its index is followed while the server runs.
    pub locator: wuzhang_routing::Locator,
    /// The process's cache of roster and categories (the locator's and intake's).
    pub reference: wuzhang_store::ReferenceCache,
    /// How often every process's reference cache checks the store for changes.
    pub reference_refresh: std::time::Duration,
    /// How often the area index checks the store for changes.
    pub index_refresh: std::time::Duration,
    /// How often the event hub reads the log for other processes' writes.
    pub event_poll: std::time::Duration,
    /// How long request ids are remembered.
    pub idempotency_ttl: time::Duration,
    /// Intake for any transport (gRPC and Open311 share it).
    pub intake: wuzhang_intake::IntakeCore,
    /// The process's live-event hub; the server runs its reader, every service that
    /// changes tickets wakes it, the command center's streams follow it.
    pub hub: wuzhang_feed::EventHub,
    /// Working calendars deadlines count on.
    pub calendars: Arc<wuzhang_domain::deadline::CalendarBook>,
    /// Timer worker tasks to run here.
    pub timer_workers: usize,
    /// The process's fold of the event log into rollups, and how often it runs.
    pub rollups: wuzhang_app::rollups::Rollups,
    pub rollup_poll: std::time::Duration,
    /// Weights of the composite evaluation score.
    pub evaluation_weights: wuzhang_domain::evaluation::Weights,
    /// Thresholds of the grids' lights on the overview's map.
    pub grid_light: wuzhang_supervision::GridLights,
    /// How often an idle timer worker looks for due timers.
    pub timer_poll: std::time::Duration,
    /// Uploaded photos and videos.
    pub media: Arc<dyn wuzhang_media::MediaStore>,
    /// Base of the URLs handed out for media; `None` means `http://` + the HTTP address.
    pub public_url: Option<String>,
    /// Open311 api_key → app name.
    pub open311_keys: std::collections::HashMap<String, String>,
    /// Browser origins allowed to call the API (CORS); none when empty.
    pub cors_origins: Vec<http::HeaderValue>,
}

/// Where the servers listen; bound by the caller so tests can use port 0.
#[derive(Debug)]
pub struct Listeners {
    pub grpc: TcpListener,
    pub http: TcpListener,
}

/// This process's area index and roster cache, brought up to date by the admin service
/// after an import and before its answer: Locate through this process sees an import at
/// once (the follower task would take up to `index_refresh`, the cache up to
/// `reference_refresh_ms`).
#[derive(Debug)]
struct FollowImports {
    store: Arc<dyn Store>,
    index: wuzhang_routing::AreaIndex,
    reference: wuzhang_store::ReferenceCache,
}

impl FollowImports {
    fn unavailable(e: wuzhang_store::StoreError) -> wuzhang_app::ApiError {
        wuzhang_app::ApiError::Unavailable(format!(
            "the import is stored, but this process could not load it yet; retry with the \
             same request_id: {e}"
        ))
    }
}

#[tonic::async_trait]
impl wuzhang_admin::ImportFollower for FollowImports {
    async fn areas_imported(&self) -> Result<(), wuzhang_app::ApiError> {
        self.index
            .refresh(self.store.as_ref())
            .await
            .map_err(Self::unavailable)?;
        Ok(())
    }

    async fn roster_imported(&self) -> Result<(), wuzhang_app::ApiError> {
        self.reference.refresh().await.map_err(Self::unavailable)?;
        Ok(())
    }
}

/// CORS for `origins` (none: no layer, so no page of another origin may call): the
/// methods and headers the JSON API and grpc-web use, and the gRPC status headers exposed
/// to the page.
fn cors(origins: &[http::HeaderValue]) -> Option<tower_http::cors::CorsLayer> {
    use http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName};
    if origins.is_empty() {
        return None;
    }
    let h = HeaderName::from_static;
    Some(
        tower_http::cors::CorsLayer::new()
            .allow_origin(origins.to_vec())
            .allow_methods([
                http::Method::GET,
                http::Method::POST,
                http::Method::PUT,
                http::Method::PATCH,
                http::Method::DELETE,
            ])
            .allow_headers([
                AUTHORIZATION,
                CONTENT_TYPE,
                h("last-event-id"),
                h("x-grpc-web"),
                h("x-user-agent"),
                h("grpc-timeout"),
                h("traceparent"),
                h("tracestate"),
            ])
            .expose_headers([
                h("grpc-status"),
                h("grpc-message"),
                h("grpc-status-details-bin"),
            ])
            .max_age(std::time::Duration::from_secs(600)),
    )
}

/// How often expired idempotency records are deleted.
const PURGE_EVERY: std::time::Duration = std::time::Duration::from_secs(600);

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
    listeners: Listeners,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let ServerParts {
        store,
        clock,
        authenticator,
        services,
        locator,
        reference,
        reference_refresh,
        index_refresh,
        event_poll,
        idempotency_ttl,
        intake: intake_core,
        hub,
        calendars,
        timer_workers,
        timer_poll,
        rollups,
        rollup_poll,
        evaluation_weights,
        grid_light,
        media,
        public_url,
        open311_keys,
        cors_origins,
    } = parts;
    let Listeners {
        grpc: listener,
        http: http_listener,
    } = listeners;
    // One shutdown for the server and every background task (each takes
    // `stop_tx.subscribe()`).
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let follower = locator
        .index()
        .spawn_follower(Arc::clone(&store), index_refresh, async move {
            let _ = stop_rx.wait_for(|stop| *stop).await;
        });
    let enabled = |s: ServiceName| services.contains(&s);
    let hub_reader = hub.spawn_reader(Arc::clone(&store), event_poll, stop_tx.subscribe());
    let wake = {
        let hub = hub.clone();
        move || hub.wake()
    };
    // One worker, cloned: the clones share the areas and posts it keeps, so N workers read
    // each chain once between them, not N times.
    let escalator = wuzhang_escalation::worker::Escalator::new(
        Arc::clone(&store),
        Arc::clone(&clock),
        Arc::clone(&calendars),
        wuzhang_escalation::worker::WorkerConfig::default(),
    )
    .on_change(wake.clone());
    let workers: Vec<_> = (0..timer_workers)
        .map(|_| escalator.clone().spawn(timer_poll, stop_tx.subscribe()))
        .collect();
    let rollup_folder = rollups.clone().spawn(rollup_poll, stop_tx.subscribe());
    let calendar_follower = tokio::spawn(follow_calendars(
        Arc::clone(&store),
        Arc::clone(&calendars),
        stop_tx.subscribe(),
    ));
    let purger = tokio::spawn(purge_idempotency(
        Arc::clone(&store),
        Arc::clone(&clock),
        idempotency_ttl,
        stop_tx.subscribe(),
    ));

    let http_addr = http_listener.local_addr()?;
    let media_base = public_url.unwrap_or_else(|| format!("http://{http_addr}"));
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
            wuzhang_intake::Intake::new(
                intake_core.clone(),
                Arc::clone(&media),
                media_base.clone(),
            ),
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
            wuzhang_escalation::Escalation::new(
                Arc::clone(&store),
                Arc::clone(&clock),
                Arc::clone(&calendars),
            )
            .on_change(wake.clone()),
            authenticator.clone(),
        )
    });
    let supervision = enabled(ServiceName::Supervision).then(|| {
        SupervisionServiceServer::with_interceptor(
            wuzhang_supervision::Supervision::new(
                Arc::clone(&store),
                Arc::clone(&clock),
                Arc::clone(&calendars),
                hub.clone(),
                rollups.clone(),
            )
            .with_weights(evaluation_weights)
            .with_grid_lights(grid_light)
            .with_reference_refresh(reference_refresh)
            .on_change(wake.clone()),
            authenticator.clone(),
        )
    });
    let admin = enabled(ServiceName::Admin).then(|| {
        // Imports carry whole files (64 MiB of GeoJSON at most, checked by the import with
        // a clear error); tonic's 4 MiB default would refuse them before they arrive.
        tonic::service::interceptor::InterceptedService::new(
            AdminServiceServer::new(
                wuzhang_admin::Admin::new(
                    Arc::clone(&store),
                    Arc::clone(&clock),
                    Arc::clone(&calendars),
                )
                .with_follower(Arc::new(FollowImports {
                    store: Arc::clone(&store),
                    index: locator.index().clone(),
                    reference: reference.clone(),
                })),
            )
            .max_decoding_message_size(ADMIN_MAX_MESSAGE_BYTES),
            authenticator.clone(),
        )
    });

    // The API's services, each with its interceptor: served over gRPC, and called in
    // process by the HTTP/JSON gateway, so both doors run the same handlers.
    let mut api = tonic::service::Routes::builder();
    if let Some(s) = intake {
        api.add_service(s);
    }
    if let Some(s) = routing {
        api.add_service(s);
    }
    if let Some(s) = escalation {
        api.add_service(s);
    }
    if let Some(s) = supervision {
        api.add_service(s);
    }
    if let Some(s) = admin {
        api.add_service(s);
    }
    let api = api.routes().prepare();

    // HTTP: the API as JSON (and its OpenAPI document), Open311 (with intake), media
    // downloads, health.
    let gateway = wuzhang_gateway::Gateway::new(api.clone(), wuzhang_gateway::Options::default())?;
    let mut http_app = axum::Router::new()
        .merge(wuzhang_media::router(Arc::clone(&media)))
        .merge(healthz(Arc::clone(&store)))
        .merge(gateway.into_router());
    if enabled(ServiceName::Intake) {
        let backend =
            wuzhang_intake::open311::Open311Intake::new(intake_core.clone(), open311_keys);
        http_app = http_app.merge(wuzhang_open311::router_with(
            Arc::new(backend),
            wuzhang_open311::Options {
                clock: Arc::clone(&clock),
                endpoint_url: Some(format!("{media_base}{}", wuzhang_open311::PREFIX)),
                ..Default::default()
            },
        ));
    }
    let http_app = http_app.layer(tower::util::option_layer(cors(&cors_origins)));
    let mut http_stop = stop_tx.subscribe();
    let http = tokio::spawn(async move {
        axum::serve(http_listener, http_app)
            .with_graceful_shutdown(async move {
                let _ = http_stop.wait_for(|stop| *stop).await;
            })
            .await
    });
    tracing::info!(addr = %http_addr, "http serving");

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
    let stop_tx_keep = stop_tx.clone();
    let shutdown = async move {
        shutdown.await;
        let _ = stop_tx.send(true);
        let _ = drain_tx.send(());
    };
    // grpc-web (HTTP/1.1 or 2, from browsers' gRPC clients) beside native gRPC, with the
    // same CORS origins as the HTTP port.
    let serve = Server::builder()
        .accept_http1(true)
        .layer(tower::util::option_layer(cors(&cors_origins)))
        .layer(tonic_web::GrpcWebLayer::new())
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
        .add_routes(api)
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .serve_with_incoming_shutdown(
            // Small RPC answers must not wait for Nagle's algorithm (a 40 ms stall against
            // the peer's delayed ACK), so every accepted socket sends at once; and each
            // answer leaves in one write (see [`crate::socket`]).
            tonic::transport::server::TcpIncoming::from(listener)
                .with_nodelay(Some(true))
                .map_ok(crate::socket::OneWrite),
            shutdown,
        );
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
    // The server is down; make sure the background tasks are too, whichever way we got here.
    let _ = stop_tx_keep.send(true);
    follower.abort();
    hub_reader.abort();
    purger.abort();
    rollup_folder.abort();
    calendar_follower.abort();
    for w in workers {
        w.abort();
    }
    match tokio::time::timeout(DRAIN_GRACE, http).await {
        Ok(Ok(Err(e))) => tracing::warn!(error = %e, "http server failed"),
        Err(_) => tracing::warn!("http server did not stop in time"),
        _ => {}
    }
    tracing::info!("grpc stopped");
    Ok(())
}

/// `GET /healthz`: 200 when the store answers, 503 otherwise (for load balancers and
/// Kubernetes probes, which speak HTTP rather than gRPC health).
fn healthz(store: Arc<dyn Store>) -> axum::Router {
    axum::Router::new().route(
        "/healthz",
        axum::routing::get(move || {
            let store = Arc::clone(&store);
            async move {
                match store.ping().await {
                    Ok(()) => (http::StatusCode::OK, "ok\n"),
                    Err(_) => (http::StatusCode::SERVICE_UNAVAILABLE, "store unavailable\n"),
                }
            }
        }),
    )
}

/// Deletes idempotency records older than `ttl`, now and every [`PURGE_EVERY`].
async fn purge_idempotency(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    ttl: time::Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        match store.purge_idempotency(clock.now() - ttl).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(records = n, "expired request ids forgotten"),
            Err(e) => tracing::warn!(error = %e, "cannot purge idempotency records"),
        }
        tokio::select! {
            _ = tokio::time::sleep(PURGE_EVERY) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// Re-reads the calendars every minute, so a SetCalendar made through another replica
/// reaches this one's deadlines too.
async fn follow_calendars(
    store: Arc<dyn Store>,
    book: Arc<wuzhang_domain::deadline::CalendarBook>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(60)) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        match wuzhang_admin::calendars::load(store.as_ref()).await {
            Ok(c) => book.replace(c),
            Err(e) => tracing::warn!(error = %e, "cannot reload the calendars"),
        }
    }
}
