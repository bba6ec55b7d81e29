//! Open311 GeoReport v2 over HTTP, so the civic apps that already speak it can report to
//! wuzhang. The crate is the edge only: it decodes and validates requests, renders answers
//! in XML and JSON exactly as the spec writes them, and hands typed values to an
//! [`Open311Backend`] that the application implements on top of intake. It knows nothing
//! of the store or of other services.
//!
//! [`router`] serves, under [`PREFIX`] (`/open311/v2`), each resource in `.xml` and `.json`:
//! `GET services`, `GET services/{service_code}`, `POST requests`, `GET requests`,
//! `GET requests/{service_request_id}`, `GET tokens/{token}` and `GET discovery`.
//!
//! Decisions where the spec leaves room, or where we part from it:
//! - **Privacy.** Every GET takes an optional `api_key`. The backend decides what a
//!   caller sees (`client` is `None` without a key); the application shows a client only
//!   the requests submitted with its own key, and an anonymous caller none, because a
//!   resident's description and address are theirs, not the public's. A request that
//!   exists but is not visible is answered exactly like one that does not exist (404). An
//!   unknown key is 403 on every resource but discovery.
//! - **api_key on POST.** Missing or unknown are both 403, as the spec's "403 - Missing
//!   or Invalid API Key" says; a key that is not UTF-8 is 400 naming `api_key`.
//! - **Services.** Categories are services with `metadata=false` and `type=realtime`;
//!   `group` is the parent category's name. `services/{code}` still answers, with an empty
//!   attribute list, since the spec calls that request unneeded, not wrong.
//! - **Tokens.** Services are realtime, so POST answers with the `service_request_id`;
//!   when the backend also makes a token, the answer carries it too (the spec's "should
//!   not" is advice for batch servers), so clients that track tokens can use
//!   `tokens/{token}`.
//! - **Description.** Required, 1 to 2000 characters after trimming (our domain's rule;
//!   the spec's limit is 4000 and optional).
//! - **Status codes.** 400 for invalid input (one error per bad field, each naming it),
//!   403 for api_key problems, 404 for what does not exist (including an unknown format
//!   extension), and, beyond the spec's list, 405 for a wrong method, 413 for a body over
//!   [`MAX_BODY_BYTES`], 415 for a body that is not a form, 503 when the backend is
//!   unavailable and 500 for our own faults (the spec would say 400 for both, which would
//!   tell clients the fault is theirs).
//! - **Times** are written in the W3C profile of ISO 8601 with whole seconds
//!   (`2010-01-01T00:00:00Z`); `start_date`/`end_date` accept RFC 3339 or a bare date.
//! - `jurisdiction_id` is ignored: one server, one jurisdiction.
//!
//! Layout:
//! - [`backend`]: [`Open311Backend`] and the values that cross it.
//! - `routes`: the resources and what each does.
//! - `validate`: form fields and query parameters to typed values, naming bad fields.
//! - `form`: urlencoded decoding that keeps invalid UTF-8 attributable to its field.
//! - `services`: categories, requests and tokens as answer trees.
//! - `render`: one answer tree, written as XML or JSON; W3C times.
//! - `error`: errors in the spec's format; [`status_of`] maps backend errors to HTTP.
//! - [`memory`]: [`memory::MemoryBackend`], an in-memory backend for tests and demos.

use std::sync::Arc;

use wuzhang_domain::clock::{Clock, SystemClock};

pub mod backend;
mod error;
mod form;
pub mod memory;
mod render;
mod routes;
mod services;
mod validate;

pub use backend::{
    BackendError, DEFAULT_WINDOW, MAX_REQUESTS, NewServiceRequest, Open311Backend, Open311Client,
    RequestFilter, RequestStatus, ServiceRequest, TokenStatus,
};
pub use error::status_of;
pub use validate::{
    MAX_ADDRESS_CHARS, MAX_ATTRIBUTE_VALUE_CHARS, MAX_ATTRIBUTES, MAX_EMAIL_CHARS, MAX_ID_CHARS,
    MAX_MEDIA_URL_CHARS, MAX_NAME_CHARS, MAX_PHONE_CHARS,
};

/// Where the routes live; [`router`]'s paths already start with it.
pub const PREFIX: &str = "/open311/v2";

/// Largest POST body; a larger one is answered 413 without being read whole.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What the edge needs besides the backend.
#[derive(Debug, Clone)]
pub struct Options {
    /// "Now" for the default 90-day window of GET requests.
    pub clock: Arc<dyn Clock>,
    /// Discovery's `contact`: how to reach the people running this endpoint.
    pub contact: String,
    /// Discovery's `key_service`: how to get an api_key.
    pub key_service: String,
    /// Discovery's `changeset`: a sortable stamp of the last change to the service list.
    pub changeset: String,
    /// Discovery's endpoint `url`; when None, made from the request's Host header.
    pub endpoint_url: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            contact: "the command center of your subdistrict (街道指挥中心)".into(),
            key_service: "api keys are issued by the administrator of this wuzhang server".into(),
            changeset: "2026-01-01T00:00:00Z".into(),
            endpoint_url: None,
        }
    }
}

/// The GeoReport v2 routes, under [`PREFIX`], with default [`Options`] (the wall clock).
pub fn router(backend: Arc<dyn Open311Backend>) -> axum::Router {
    router_with(backend, Options::default())
}

/// The GeoReport v2 routes, under [`PREFIX`].
pub fn router_with(backend: Arc<dyn Open311Backend>, options: Options) -> axum::Router {
    routes::router(backend, options)
}
