//! The HTTP resources of GeoReport v2 and what each does, from the raw request to the
//! answer. Handlers take the raw URI and body: the edge decodes them itself so every
//! malformed part can be answered in the spec's error format, naming the field.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use axum::routing::any;
use wuzhang_domain::FieldError;
use wuzhang_domain::category::CategoryCode;

use crate::backend::{Open311Backend, Open311Client};
use crate::error::ApiError;
use crate::form::{Fields, decode};
use crate::render::{Document, Format, Node};
use crate::{MAX_BODY_BYTES, Options, PREFIX, services, validate};

/// An api_key longer than this cannot be one; it is refused without asking the backend.
const MAX_API_KEY_CHARS: usize = 256;

#[derive(Debug, Clone)]
struct AppState {
    backend: Arc<dyn Open311Backend>,
    options: Arc<Options>,
}

type Answer = Result<Document, ApiError>;

pub(crate) fn router(backend: Arc<dyn Open311Backend>, options: Options) -> Router {
    let state = AppState {
        backend,
        options: Arc::new(options),
    };
    // One catch-all route, dispatched here: axum refuses a catch-all beside a parameter at
    // the same depth, and without one, paths under the prefix that match nothing would
    // get the application's fallback instead of the spec's error format. (A router-level
    // fallback would make `Router::merge` with the application's own fallback panic.)
    Router::new()
        .route(&format!("{PREFIX}/{{*rest}}"), any(dispatch))
        .with_state(state)
}

async fn dispatch(State(s): State<AppState>, req: Request) -> Response {
    let path = req.uri().path();
    let rest = path.strip_prefix(PREFIX).unwrap_or(path);
    let segments: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        [_] => top_level(s, req).await,
        ["services", _] => service(s, req).await,
        ["requests", _] => request(s, req).await,
        ["tokens", _] => token(s, req).await,
        _ => not_found(req).await,
    }
}

/// `services.*`, `requests.*` (GET and POST) and `discovery.*`.
async fn top_level(s: AppState, req: Request) -> Response {
    let Some((stem, format)) = Format::split(last_segment(req.uri().path())) else {
        return not_found(req).await;
    };
    let method = req.method().clone();
    let readable = method == Method::GET || method == Method::HEAD;
    let answer = match stem {
        "services" if readable => list_services(&s, req.uri().query()).await,
        "requests" if readable => list_requests(&s, req.uri().query()).await,
        "discovery" if readable => Ok(discovery(&s, req.headers())),
        "requests" if method == Method::POST => {
            let (parts, body) = req.into_parts();
            create_request(&s, &parts.headers, parts.uri.query(), body).await
        }
        "requests" => return method_not_allowed(format, "GET, POST"),
        "services" | "discovery" => return method_not_allowed(format, "GET"),
        _ => return not_found(req).await,
    };
    respond(answer, format)
}

/// `services/{service_code}.*`: a service definition.
async fn service(s: AppState, req: Request) -> Response {
    one(req, "service_code", async |code: String, query| {
        caller(&s, &query, None, false).await?;
        let services = s.backend.services().await?;
        CategoryCode::new(code.as_str())
            .ok()
            .and_then(|c| services.iter().find(|x| x.code == c))
            .map(services::service_definition)
            .ok_or_else(|| ApiError::not_found(format!("service_code {code}")))
    })
    .await
}

/// `requests/{service_request_id}.*`: one request, if this caller may see it.
async fn request(s: AppState, req: Request) -> Response {
    one(req, "service_request_id", async |id: String, query| {
        let client = caller(&s, &query, None, false).await?;
        match s.backend.request(client.as_ref(), &id).await? {
            Some(r) => Ok(services::request_list(std::slice::from_ref(&r))),
            None => Err(ApiError::not_found(format!("service_request_id {id}"))),
        }
    })
    .await
}

/// `tokens/{token}.*`: the request a token stands for.
async fn token(s: AppState, req: Request) -> Response {
    one(req, "token", async |token: String, query| {
        let client = caller(&s, &query, None, false).await?;
        match s.backend.token(client.as_ref(), &token).await? {
            Some(t) => Ok(services::token(&t)),
            None => Err(ApiError::not_found(format!("token {token}"))),
        }
    })
    .await
}

/// The shape every `{kind}/{id}.{format}` resource shares: GET only, the id decoded from
/// the path and checked, the query parsed, then `answer`.
async fn one(
    req: Request,
    field: &str,
    answer: impl AsyncFnOnce(String, Fields) -> Answer,
) -> Response {
    let Some((raw, format)) = Format::split(last_segment(req.uri().path())) else {
        return not_found(req).await;
    };
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return method_not_allowed(format, "GET");
    }
    let id = match String::from_utf8(decode(raw.as_bytes(), false)) {
        Ok(id) => id,
        Err(_) => {
            let e = FieldError::new(field, "is not valid UTF-8");
            return ApiError::invalid(vec![e]).respond(format);
        }
    };
    if let Err(e) = validate::check_id(field, &id) {
        return ApiError::invalid(vec![e]).respond(format);
    }
    let query = Fields::parse(req.uri().query().unwrap_or_default().as_bytes());
    respond(answer(id, query).await, format)
}

async fn list_services(s: &AppState, query: Option<&str>) -> Answer {
    // Services are public; a key that is sent is still checked, as everywhere.
    let fields = Fields::parse(query.unwrap_or_default().as_bytes());
    caller(s, &fields, None, false).await?;
    Ok(services::service_list(&s.backend.services().await?))
}

async fn list_requests(s: &AppState, query: Option<&str>) -> Answer {
    let fields = Fields::parse(query.unwrap_or_default().as_bytes());
    let client = caller(s, &fields, None, false).await?;
    let filter =
        validate::request_filter(&fields, s.options.clock.now()).map_err(ApiError::invalid)?;
    let limit = filter.limit;
    let mut found = s.backend.requests(client.as_ref(), filter).await?;
    found.truncate(limit);
    Ok(services::request_list(&found))
}

async fn create_request(
    s: &AppState,
    headers: &HeaderMap,
    query: Option<&str>,
    body: Body,
) -> Answer {
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        let essence = ct
            .to_str()
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if essence != "application/x-www-form-urlencoded" {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "the body must be application/x-www-form-urlencoded",
            ));
        }
    }
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than {} KiB", MAX_BODY_BYTES / 1024),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| too_large())?;
    let fields = Fields::parse(&bytes);
    // Some clients put the key in the query string of a POST; the body wins.
    let query = Fields::parse(query.unwrap_or_default().as_bytes());
    let client = caller(s, &fields, Some(&query), true)
        .await?
        .ok_or_else(|| ApiError::forbidden("api_key is missing"))?;

    let new = validate::new_request(&fields).map_err(ApiError::invalid)?;
    let services = s.backend.services().await?;
    if !services.iter().any(|c| c.code == new.service_code) {
        return Err(ApiError::not_found(format!(
            "service_code {}",
            new.service_code
        )));
    }
    let account_id = new.account_id.clone();
    let created = s.backend.submit(&client, new).await?;
    Ok(services::created(&created, account_id.as_deref()))
}

/// The client an `api_key` names. Without a key: None, or 403 when one is `required`
/// (the spec's "403 - Missing or Invalid API Key"). An unknown key is 403 either way.
async fn caller(
    s: &AppState,
    fields: &Fields,
    fallback: Option<&Fields>,
    required: bool,
) -> Result<Option<Open311Client>, ApiError> {
    let mut key = None;
    for f in std::iter::once(fields).chain(fallback) {
        if f.is_garbled("api_key") {
            let e = FieldError::new("api_key", "is not valid UTF-8");
            return Err(ApiError::invalid(vec![e]));
        }
        key = f
            .single("api_key")
            .map_err(|e| ApiError::invalid(vec![e]))?;
        if key.is_some() {
            break;
        }
    }
    match key {
        None if required => Err(ApiError::forbidden(
            "api_key is missing: submitting a request needs one",
        )),
        None => Ok(None),
        Some(k) if k.chars().count() > MAX_API_KEY_CHARS => {
            Err(ApiError::forbidden("api_key is not valid"))
        }
        Some(k) => match s.backend.client(k).await? {
            Some(client) => Ok(Some(client)),
            None => Err(ApiError::forbidden("api_key is not valid")),
        },
    }
}

/// Service discovery, with this one endpoint. Its URL is the configured one, or else made
/// from the Host the client used.
fn discovery(s: &AppState, headers: &HeaderMap) -> Document {
    let o = &s.options;
    let url = o.endpoint_url.clone().unwrap_or_else(|| {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| {
                !h.is_empty()
                    && h.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
            })
            .unwrap_or("localhost");
        let scheme = match headers
            .get("x-forwarded-proto")
            .and_then(|h| h.to_str().ok())
        {
            Some("https") => "https",
            _ => "http",
        };
        format!("{scheme}://{host}{PREFIX}")
    });
    let text = |s: &str| Node::text(s);
    Document::new(
        "discovery",
        Node::Object(vec![
            ("changeset", text(&o.changeset)),
            ("contact", text(&o.contact)),
            ("key_service", text(&o.key_service)),
            (
                "endpoints",
                Node::List {
                    item: "endpoint",
                    items: vec![Node::Object(vec![
                        (
                            "specification",
                            text("http://wiki.open311.org/GeoReport_v2"),
                        ),
                        ("url", Node::text(url)),
                        ("changeset", text(&o.changeset)),
                        ("type", text("production")),
                        (
                            "formats",
                            Node::List {
                                item: "format",
                                items: vec![text("text/xml"), text("application/json")],
                            },
                        ),
                    ])],
                },
            ),
        ]),
    )
}

/// Anything else under the prefix: 404, in the format its extension names (JSON when it
/// names none we know).
async fn not_found(req: Request) -> Response {
    let format = Format::split(last_segment(req.uri().path())).map_or(Format::Json, |(_, f)| f);
    ApiError::not_found(format!("resource {}", req.uri().path())).respond(format)
}

fn method_not_allowed(format: Format, allow: &'static str) -> Response {
    let mut response =
        ApiError::new(StatusCode::METHOD_NOT_ALLOWED, format!("only {allow} here")).respond(format);
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}

fn respond(answer: Answer, format: Format) -> Response {
    match answer {
        Ok(doc) => doc.respond(StatusCode::OK, format),
        Err(e) => e.respond(format),
    }
}

fn last_segment(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or_default()
}
