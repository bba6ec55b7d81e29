//! The one seam between the HTTP edge and the application: [`Open311Backend`], and the
//! values that cross it. Everything here has already been validated by the edge (or is
//! about to be rendered by it), so a backend deals in typed values, never in form fields.

use std::collections::BTreeMap;

use async_trait::async_trait;
use time::{Duration, OffsetDateTime};
use wuzhang_domain::FieldError;
use wuzhang_domain::category::{Category, CategoryCode};
use wuzhang_domain::point::GeoPoint;

/// What the application does for the Open311 edge. Every method may be called
/// concurrently; none is retried by the edge.
#[async_trait]
pub trait Open311Backend: Send + Sync + std::fmt::Debug + 'static {
    /// The app an api_key belongs to; None if the key is unknown.
    async fn client(&self, api_key: &str) -> Result<Option<Open311Client>, BackendError>;

    /// Active categories (services), ordered by code.
    async fn services(&self) -> Result<Vec<Category>, BackendError>;

    /// Creates a ticket from a validated request. Returns the created request.
    ///
    /// The edge has already checked that `request.service_code` is among
    /// [`services`](Self::services); a backend that finds otherwise (a category
    /// deactivated in between) answers [`BackendError::NotFound`].
    async fn submit(
        &self,
        client: &Open311Client,
        request: NewServiceRequest,
    ) -> Result<ServiceRequest, BackendError>;

    /// One request visible to this client (None if absent or not visible).
    async fn request(
        &self,
        client: Option<&Open311Client>,
        id: &str,
    ) -> Result<Option<ServiceRequest>, BackendError>;

    /// Requests visible to this client matching the spec's filters, newest first, at most
    /// `filter.limit` of them. [`RequestFilter::matches`] says what matching means.
    async fn requests(
        &self,
        client: Option<&Open311Client>,
        filter: RequestFilter,
    ) -> Result<Vec<ServiceRequest>, BackendError>;

    /// The request created for a token (tokens/{token}), if visible.
    async fn token(
        &self,
        client: Option<&Open311Client>,
        token: &str,
    ) -> Result<Option<TokenStatus>, BackendError>;
}

/// An application that holds an api_key (a civic app, a partner's CRM). Requests carry it
/// so the backend can record who submitted what and decide who may read it back.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Open311Client {
    pub name: String,
}

/// A POST requests body after validation at the edge: every text field is valid UTF-8,
/// free of control characters and within its length; empty fields are `None` (the spec
/// treats an empty parameter as an absent one).
#[derive(Debug, Clone, PartialEq)]
pub struct NewServiceRequest {
    pub service_code: CategoryCode,
    /// `lat` + `long`, WGS84 as the spec says; finite and in range by construction.
    /// At least one of `point`, `address_string` and `address_id` is present.
    pub point: Option<GeoPoint>,
    pub address_string: Option<String>,
    pub address_id: Option<String>,
    pub email: Option<String>,
    pub device_id: Option<String>,
    pub account_id: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    /// Trimmed; 1 to [`wuzhang_domain::ticket::MAX_DESCRIPTION_CHARS`] characters. The
    /// spec makes it optional, but a ticket without a description cannot be handled.
    pub description: String,
    /// An http(s) URL of at most [`MAX_MEDIA_URL_CHARS`](crate::MAX_MEDIA_URL_CHARS).
    pub media_url: Option<String>,
    /// `attribute[code]=value` and `attribute[code][]=value` pairs, by code. Our
    /// categories define no attributes, so the application may reject any it gets.
    pub attributes: BTreeMap<String, Vec<String>>,
}

/// `status` of a request: the spec knows only these two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RequestStatus {
    /// Work is still owed.
    Open,
    /// Resolved, or ended without work (rejected, cancelled, merged).
    Closed,
}

impl RequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Open => "open",
            RequestStatus::Closed => "closed",
        }
    }
}

impl std::str::FromStr for RequestStatus {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "open" => Ok(RequestStatus::Open),
            "closed" => Ok(RequestStatus::Closed),
            other => Err(FieldError::new(
                "status",
                format!("{other:?} is neither open nor closed"),
            )),
        }
    }
}

/// One request as GET requests answers it: every field of the spec's response, plus the
/// token the POST answered with, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceRequest {
    pub service_request_id: String,
    pub status: RequestStatus,
    /// Why the status is what it is ("duplicate of …", the chief's resolution note).
    pub status_notes: Option<String>,
    pub service_name: String,
    pub service_code: CategoryCode,
    pub description: Option<String>,
    /// Who handles it now (a level of the chain or the command center).
    pub agency_responsible: Option<String>,
    pub service_notice: Option<String>,
    pub requested_datetime: OffsetDateTime,
    /// For a closed request, when it was closed.
    pub updated_datetime: OffsetDateTime,
    /// The resolve deadline, when one is running.
    pub expected_datetime: Option<OffsetDateTime>,
    pub address: Option<String>,
    pub address_id: Option<String>,
    pub zipcode: Option<String>,
    pub lat: Option<f64>,
    pub long: Option<f64>,
    pub media_url: Option<String>,
    /// Returned by POST next to the id (see the crate doc) and resolved by tokens/{token}.
    /// Never part of a GET requests answer: the spec has no such field there.
    pub token: Option<String>,
}

/// What tokens/{token} answers: the request a token stands for, once it has an id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenStatus {
    pub token: String,
    /// None while a batch submission has not become a request yet.
    pub service_request_id: Option<String>,
}

/// The spec's default and largest window for GET requests.
pub const DEFAULT_WINDOW: Duration = Duration::days(90);
/// The spec's "first 1000 requests returned".
pub const MAX_REQUESTS: usize = 1000;

/// The filters of GET requests, with the spec's defaults already applied by the edge.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestFilter {
    /// `service_request_id=a,b,c`. When not empty it overrides every other filter (the
    /// spec says so): those requests are answered whenever they were made.
    pub service_request_ids: Vec<String>,
    /// `service_code=a,b`; empty means every service.
    pub service_codes: Vec<CategoryCode>,
    /// `requested_datetime` from `start_date` to `end_date`, both inclusive; at most
    /// [`DEFAULT_WINDOW`] apart. Without either date, the last 90 days.
    pub start_date: OffsetDateTime,
    pub end_date: OffsetDateTime,
    /// `status=open,closed`; empty means every status.
    pub statuses: Vec<RequestStatus>,
    /// At most this many requests, newest first.
    pub limit: usize,
}

impl RequestFilter {
    /// The default query at `now`: every request of the last 90 days, at most 1000.
    pub fn recent(now: OffsetDateTime) -> Self {
        Self {
            service_request_ids: Vec::new(),
            service_codes: Vec::new(),
            start_date: now - DEFAULT_WINDOW,
            end_date: now,
            statuses: Vec::new(),
            limit: MAX_REQUESTS,
        }
    }

    /// Whether `r` is one of the requests this filter asks for (visibility and the limit
    /// are the backend's part).
    pub fn matches(&self, r: &ServiceRequest) -> bool {
        if !self.service_request_ids.is_empty() {
            return self.service_request_ids.contains(&r.service_request_id);
        }
        (self.service_codes.is_empty() || self.service_codes.contains(&r.service_code))
            && (self.statuses.is_empty() || self.statuses.contains(&r.status))
            && self.start_date <= r.requested_datetime
            && r.requested_datetime <= self.end_date
    }
}

/// What went wrong in the backend, by what the caller can do about it. The edge maps each
/// kind to one HTTP status and renders it in the spec's error format.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BackendError {
    /// 400: fix the request; each error names the field and why.
    #[error("invalid request: {}", describe(.0))]
    Invalid(Vec<FieldError>),
    /// 404: not there, or not visible to this client (the two look the same).
    #[error("{0}")]
    NotFound(String),
    /// 403: this client may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// 503: try again later.
    #[error("{0}")]
    Unavailable(String),
    /// 500: our fault. Logged, never sent to the client.
    #[error("{0}")]
    Internal(String),
}

fn describe(v: &[FieldError]) -> String {
    v.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn request(id: &str, code: &str, status: RequestStatus, at: OffsetDateTime) -> ServiceRequest {
        ServiceRequest {
            service_request_id: id.into(),
            status,
            status_notes: None,
            service_name: "x".into(),
            service_code: CategoryCode::new(code).unwrap(),
            description: None,
            agency_responsible: None,
            service_notice: None,
            requested_datetime: at,
            updated_datetime: at,
            expected_datetime: None,
            address: None,
            address_id: None,
            zipcode: None,
            lat: None,
            long: None,
            media_url: None,
            token: None,
        }
    }

    #[test]
    fn filters_match_as_the_spec_says() {
        let now = datetime!(2026-06-01 0:00 UTC);
        let recent = request("a", "0101", RequestStatus::Open, now - Duration::days(1));
        let old = request("b", "0102", RequestStatus::Closed, now - Duration::days(91));
        let f = RequestFilter::recent(now);
        assert!(f.matches(&recent));
        assert!(!f.matches(&old), "outside the 90-day window");

        let by_id = RequestFilter {
            service_request_ids: vec!["b".into()],
            statuses: vec![RequestStatus::Open],
            ..RequestFilter::recent(now)
        };
        assert!(by_id.matches(&old), "ids override every other filter");
        assert!(!by_id.matches(&recent));

        let by_code = RequestFilter {
            service_codes: vec![CategoryCode::new("0102").unwrap()],
            ..RequestFilter::recent(now)
        };
        assert!(!by_code.matches(&recent));
        let closed = RequestFilter {
            statuses: vec![RequestStatus::Closed],
            ..RequestFilter::recent(now)
        };
        assert!(!closed.matches(&recent));
        assert_eq!("closed".parse::<RequestStatus>(), Ok(RequestStatus::Closed));
        assert_eq!("shut".parse::<RequestStatus>().unwrap_err().field, "status");
    }
}
