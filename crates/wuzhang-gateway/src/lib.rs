//! HTTP/JSON for every RPC of `wuzhang.v1`, for mini-programs (小程序), H5 pages and
//! browsers, which speak HTTPS and JSON rather than gRPC.
//!
//! The routes are not written here: each RPC's `google.api.http` rule in the protos
//! (AIP-127, as grpc-gateway and Envoy's transcoder read them) is read from the descriptor
//! set when the gateway is built ([`rules`]), and a build fails if an RPC has none. A
//! request becomes the RPC's request message ([`request`]: path variables, query string,
//! JSON body, checked field by field so a bad one is named), and is then called **in
//! process on the server's own gRPC routes** ([`call`]): the same bearer authentication,
//! scope checks, idempotency and validation as a gRPC caller gets, from the same handlers.
//! The answer is the response message as canonical proto3 JSON (lowerCamelCase, enums by
//! name, 64-bit integers as strings, RFC 3339 times), or a `google.rpc.Status` in JSON with
//! the HTTP status of its code ([`status`]).
//!
//! Server streams (`WatchIncident`, `WatchEvents`) answer as Server-Sent Events: each
//! message an event whose `id:` is its position (`seq`, `cursor`), resumed by
//! `Last-Event-ID` into the request's matching `after_…` field, with heartbeats.

pub mod call;
pub mod openapi;
pub mod request;
pub mod rules;
pub mod status;
pub mod upload;
pub mod websocket;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use prost::Message as _;
use prost_reflect::{DynamicMessage, MessageDescriptor, SerializeOptions};
use serde_json::json;
use tonic::Status;
use tonic::service::Routes;
use tracing::Instrument;

use crate::call::{Next, Stream};
use crate::request::Violation;
use crate::rules::{BodyRule, Route, RuleError};

/// What the gateway takes at most, and how it keeps streams alive.
#[derive(Debug, Clone)]
pub struct Options {
    /// The largest body taken (413 above it, naming `body`): the gRPC services' own
    /// message limit (4 MiB), which a JSON body's message is never larger than.
    pub max_body_bytes: usize,
    /// Larger limits for the methods that carry files, by full method or service name
    /// prefix: the imports (a 64 MiB file is a third more as JSON base64) and uploads
    /// (20 MiB of media in 1 MiB messages).
    pub larger_bodies: Vec<(String, usize)>,
    /// How often an idle event stream sends a comment, so proxies and mini-program
    /// runtimes do not close it.
    pub heartbeat: Duration,
}

impl Default for Options {
    fn default() -> Self {
        const MIB: usize = 1024 * 1024;
        Self {
            max_body_bytes: 4 * MIB,
            larger_bodies: vec![
                ("wuzhang.v1.AdminService".into(), 110 * MIB),
                ("wuzhang.v1.IntakeService.UploadMedia".into(), 21 * MIB),
            ],
            heartbeat: Duration::from_secs(15),
        }
    }
}

impl Options {
    /// The largest body `rpc` takes.
    fn body_limit(&self, rpc: &prost_reflect::MethodDescriptor) -> usize {
        self.larger_bodies
            .iter()
            .filter(|(prefix, _)| rpc.full_name().starts_with(prefix.as_str()))
            .map(|(_, n)| *n)
            .max()
            .unwrap_or(self.max_body_bytes)
    }
}

/// The gateway: its routes and the gRPC routes it calls.
#[derive(Debug)]
pub struct Gateway {
    routes: Vec<Route>,
    grpc: Routes,
    options: Options,
    /// The OpenAPI document, made once.
    openapi: Bytes,
}

impl Gateway {
    /// The gateway for every RPC of `wuzhang.v1`, calling `grpc` (the server's routes,
    /// each service with its interceptor).
    pub fn new(grpc: Routes, options: Options) -> Result<Self, RuleError> {
        let (pool, routes) = rules::routes(wuzhang_proto::FILE_DESCRIPTOR_SET, "wuzhang.v1")?;
        let openapi = Bytes::from(openapi::document(&pool, &routes).to_string());
        Ok(Self {
            routes,
            grpc,
            options,
            openapi,
        })
    }

    /// The axum router serving `/v1/…` and the OpenAPI document at `/openapi.json`.
    pub fn into_router(self) -> axum::Router {
        axum::Router::new()
            .route("/v1/{*rest}", axum::routing::any(handle))
            .route("/openapi.json", axum::routing::get(openapi_json))
            .with_state(Arc::new(self))
    }
}

async fn openapi_json(State(gw): State<Arc<Gateway>>) -> Response {
    (
        [(http::header::CONTENT_TYPE, "application/json")],
        gw.openapi.clone(),
    )
        .into_response()
}

async fn handle(State(gw): State<Arc<Gateway>>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    let mut other_method = false;
    for route in &gw.routes {
        let Some(vars) = route.template.matches(&path) else {
            continue;
        };
        if route.method != req.method() {
            other_method = true;
            continue;
        }
        return serve(&gw, route, vars, req).await;
    }
    if other_method {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            axum::Json(json!({
                "code": tonic::Code::Unimplemented as i32,
                "message": format!("{path} does not take {}", req.method()),
            })),
        )
            .into_response();
    }
    status::response(&Status::not_found(format!("no method at {path}")))
}

async fn serve(gw: &Gateway, route: &Route, vars: Vec<(String, String)>, req: Request) -> Response {
    let span = tracing::info_span!("http", rpc = %route.rpc_name(), otel.kind = "server");
    serve_in(gw, route, vars, req).instrument(span).await
}

async fn serve_in(
    gw: &Gateway,
    route: &Route,
    vars: Vec<(String, String)>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let limit = gw.options.body_limit(&route.rpc);
    let Some(body) = read_body(body, limit).await else {
        return too_large(limit);
    };
    if route.rpc.is_client_streaming() {
        return upload(gw, route, &parts, body).await;
    }
    let body = (!body.is_empty()).then_some(body);
    if body.is_some() && route.body != BodyRule::None && !is_json(&parts.headers) {
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            status::invalid(Violation::new("content-type", "must be application/json")),
        )
            .into_response();
    }
    let mut query = parts.uri.query().unwrap_or_default().to_owned();
    if let (Some(resume), Some(last)) = (&route.resume, parts.headers.get("last-event-id"))
        && let Ok(last) = last.to_str()
        && !form_urlencoded::parse(query.as_bytes())
            .any(|(k, _)| k == resume.after.0 || k == resume.after.1)
    {
        let mut q = form_urlencoded::Serializer::new(query);
        q.append_pair(&resume.after.0, last);
        query = q.finish();
    }
    let message = match request::build(route, vars, Some(&query), body.as_deref()) {
        Ok(m) => m,
        Err(v) => return status::invalid(v),
    };
    let framed = match call::frame(&message.encode_to_vec()) {
        Ok(f) => f,
        Err(s) => return status::response(&s),
    };
    let output = route.rpc.output();
    if route.rpc.is_server_streaming() {
        let id_field = route.resume.as_ref().map(|r| r.id.clone());
        let mut parts = parts;
        let upgrade = match websocket::upgrade(&mut parts).await {
            Ok(u) => u,
            Err(refused) => return refused,
        };
        let headers = match &upgrade {
            Some((_, headers)) => headers,
            None => &parts.headers,
        };
        let stream = match Stream::open(&gw.grpc, &route.grpc_path, headers, framed).await {
            Ok(stream) => stream,
            Err(s) => return status::response(&s),
        };
        return match upgrade {
            Some((ws, _)) => websocket::serve(ws, stream, output, gw.options.heartbeat),
            None => sse(stream, output, id_field, gw.options.heartbeat),
        };
    }
    unary(gw, route, &parts.headers, framed).await
}

/// A unary call's answer: the response message as JSON, or the status.
async fn unary(gw: &Gateway, route: &Route, headers: &HeaderMap, framed: Bytes) -> Response {
    let answer = call::unary(&gw.grpc, &route.grpc_path, headers, framed)
        .await
        .and_then(|bytes| to_json(&route.rpc.output(), bytes));
    match answer {
        Ok(json) => ([(http::header::CONTENT_TYPE, "application/json")], json).into_response(),
        Err(s) => status::response(&s),
    }
}

/// A client-streaming call (an upload) from one request: a raw body with its metadata in
/// the query string, or a `multipart/form-data` form.
async fn upload(
    gw: &Gateway,
    route: &Route,
    parts: &http::request::Parts,
    body: Bytes,
) -> Response {
    let input = route.rpc.input();
    let Some(shape) = upload::UploadShape::of(&input) else {
        return status::response(&Status::unimplemented(format!(
            "{} streams requests of a shape HTTP does not carry; call it over gRPC",
            route.rpc_name()
        )));
    };
    let content_type = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let framed = if content_type
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        upload::from_form(&shape, &input, content_type, body).await
    } else {
        shape.from_raw(
            &input,
            parts.uri.query().unwrap_or_default(),
            &parts.headers,
            &body,
        )
    };
    let framed = match framed {
        Ok(f) => f,
        Err(v) => return status::invalid(v),
    };
    unary(gw, route, &parts.headers, framed).await
}

/// How much of a body over its limit is still read (and dropped) before the answer: a
/// client that sends its whole body before reading (most do) then gets the 413 rather
/// than a connection closed under it. Beyond this the connection is closed.
const DRAIN_BYTES: usize = 16 * 1024 * 1024;

/// The body, or `None` if it is over `limit` (or breaks off).
async fn read_body(mut body: axum::body::Body, limit: usize) -> Option<Bytes> {
    use http_body_util::BodyExt;
    let mut buf = bytes::BytesMut::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.ok()?.into_data() else {
            continue;
        };
        seen = seen.saturating_add(data.len());
        if seen <= limit {
            buf.extend_from_slice(&data);
        } else if seen > limit.saturating_add(DRAIN_BYTES) {
            return None;
        }
    }
    (seen <= limit).then(|| buf.freeze())
}

fn too_large(max: usize) -> Response {
    let mut r = status::invalid(Violation::new(
        "body",
        format!("is over the limit of {max} bytes"),
    ));
    *r.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
    r
}

/// `application/json`, with or without parameters (`; charset=utf-8`).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
}

/// A response message as canonical proto3 JSON.
pub(crate) fn to_json(desc: &MessageDescriptor, bytes: Bytes) -> Result<Vec<u8>, Status> {
    message_json(&decode(desc, bytes)?)
}

fn decode(desc: &MessageDescriptor, bytes: Bytes) -> Result<DynamicMessage, Status> {
    DynamicMessage::decode(desc.clone(), bytes)
        .map_err(|e| Status::internal(format!("gateway: the answer does not decode: {e}")))
}

fn message_json(message: &DynamicMessage) -> Result<Vec<u8>, Status> {
    let mut out = serde_json::Serializer::new(Vec::new());
    message
        .serialize_with_options(&mut out, &SerializeOptions::new())
        .map_err(|e| Status::internal(format!("gateway: the answer does not encode: {e}")))?;
    Ok(out.into_inner())
}

/// A server stream as Server-Sent Events: each message a `message` event with its id; an
/// error ends the stream with an `error` event carrying the `google.rpc.Status`.
fn sse(
    stream: Stream,
    output: MessageDescriptor,
    id_field: Option<String>,
    heartbeat: Duration,
) -> Response {
    let events = futures::stream::unfold(Some(stream), move |state| {
        let output = output.clone();
        let id_field = id_field.clone();
        async move {
            let mut stream = state?;
            match stream.next().await {
                Next::Message(bytes) => {
                    let event = match event_of(&output, bytes, id_field.as_deref()) {
                        Ok(e) => e,
                        Err(s) => return Some((Ok::<_, Infallible>(error_event(&s)), None)),
                    };
                    Some((Ok(event), Some(stream)))
                }
                Next::End(s) if s.code() == tonic::Code::Ok => None,
                Next::End(s) => Some((Ok(error_event(&s)), None)),
            }
        }
    });
    Sse::new(events)
        .keep_alive(KeepAlive::new().interval(heartbeat))
        .into_response()
}

fn event_of(
    output: &MessageDescriptor,
    bytes: Bytes,
    id_field: Option<&str>,
) -> Result<Event, Status> {
    let message = decode(output, bytes)?;
    let json = message_json(&message)?;
    let data = String::from_utf8(json)
        .map_err(|e| Status::internal(format!("gateway: the event is not UTF-8: {e}")))?;
    let mut event = Event::default().event("message").data(data);
    if let Some(field) = id_field
        && let Some(value) = message.get_field_by_name(field)
    {
        use prost_reflect::Value;
        let id = match value.as_ref() {
            Value::String(s) => Some(s.clone()),
            Value::I64(n) => Some(n.to_string()),
            Value::U64(n) => Some(n.to_string()),
            Value::I32(n) => Some(n.to_string()),
            Value::U32(n) => Some(n.to_string()),
            _ => None,
        };
        if let Some(id) = id {
            event = event.id(id);
        }
    }
    Ok(event)
}

fn error_event(status: &Status) -> Event {
    Event::default()
        .event("error")
        .data(status::body(status).to_string())
}
