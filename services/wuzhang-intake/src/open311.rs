//! Open311 GeoReport v2 mapped onto [`IntakeCore`].
//!
//! An Open311 client is an app holding an `api_key` (configured as `key=name` pairs). The
//! app is the reporter: its requests are filed as resident `open311:<name>`, and a key sees
//! only the requests made with it (an anonymous reader sees none), which is the resident
//! scope of the gRPC API. Of the personal fields Open311 carries, only `phone` is kept
//! (as the call-back number, shown to the chief and the command center); names and e-mail
//! addresses are not stored: the app that collected them keeps them.
//!
//! Statuses: SUBMITTED, ASSIGNED and ACCEPTED are `open`; everything else is `closed`,
//! with `status_notes` saying which (resolved and awaiting verification, merged into
//! another request, …). `agency_responsible` is the post that owns the ticket now.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use wuzhang_app::ApiError;
use wuzhang_domain::FieldError;
use wuzhang_domain::access::{Principal, Role};
use wuzhang_domain::category::Category;
use wuzhang_domain::chief::ChiefLevel;
use wuzhang_domain::ticket::{Ticket, TicketId, TicketState};
use wuzhang_open311::{
    BackendError, NewServiceRequest, Open311Backend, Open311Client, RequestFilter, RequestStatus,
    ServiceRequest, TokenStatus,
};
use wuzhang_store::{PageRequest, TicketOrder, TicketQuery};

use crate::core::{IntakeCore, RawSubmission, Submission};

/// The Open311 face of intake.
#[derive(Debug, Clone)]
pub struct Open311Intake {
    core: IntakeCore,
    /// api_key → app name.
    keys: Arc<HashMap<String, String>>,
}

impl Open311Intake {
    pub fn new(core: IntakeCore, keys: HashMap<String, String>) -> Self {
        Self {
            core,
            keys: Arc::new(keys),
        }
    }

    fn reporter(client: &Open311Client) -> Principal {
        Principal {
            subject: format!("open311:{}", client.name),
            role: Role::Resident,
            scope: Vec::new(),
        }
    }

    async fn category_names(&self) -> Result<HashMap<String, String>, BackendError> {
        Ok(wuzhang_app::categories::all(self.core.store().as_ref())
            .await
            .map_err(backend_error)?
            .into_iter()
            .map(|c| (c.code.to_string(), c.name))
            .collect())
    }

    async fn to_request(
        &self,
        t: &Ticket,
        names: &HashMap<String, String>,
    ) -> Result<ServiceRequest, BackendError> {
        let agency = match &t.assignment {
            None => None,
            Some(a) => {
                let area = self
                    .core
                    .store()
                    .get_area(&a.area_code)
                    .await
                    .map(|area| area.name)
                    .unwrap_or_else(|_| a.area_code.to_string());
                Some(format!("{area} {}", post_title(a.level)))
            }
        };
        let status = if t.state.is_open() {
            RequestStatus::Open
        } else {
            RequestStatus::Closed
        };
        let notes = match t.state {
            TicketState::Submitted => "received".to_owned(),
            TicketState::Assigned => "assigned, awaiting the chief's acceptance".to_owned(),
            TicketState::Accepted => "accepted, being handled".to_owned(),
            TicketState::Resolved => "resolved, awaiting verification".to_owned(),
            TicketState::Closed => "closed after verification".to_owned(),
            TicketState::Rejected => "rejected: not a matter for grid governance".to_owned(),
            TicketState::Cancelled => "cancelled by the reporter".to_owned(),
            TicketState::Merged => format!(
                "merged into request {}",
                t.duplicate_of.map(|d| d.to_string()).unwrap_or_default()
            ),
        };
        let r = &t.report;
        Ok(ServiceRequest {
            service_request_id: t.id.to_string(),
            status,
            status_notes: Some(notes),
            service_name: names
                .get(r.category_code.as_str())
                .cloned()
                .unwrap_or_else(|| r.category_code.to_string()),
            service_code: r.category_code.clone(),
            description: Some(r.description.clone()),
            agency_responsible: agency,
            service_notice: None,
            requested_datetime: t.created_at,
            updated_datetime: t.updated_at,
            expected_datetime: t.resolve_due_at,
            address: (!r.address.is_empty()).then(|| r.address.clone()),
            address_id: r.building_code.as_ref().map(ToString::to_string),
            zipcode: None,
            lat: Some(r.location.lat()),
            long: Some(r.location.lng()),
            media_url: r.media_urls.first().cloned(),
            token: Some(t.id.to_string()),
        })
    }

    /// The ticket `id` names, if `client` made it.
    async fn visible(
        &self,
        client: Option<&Open311Client>,
        id: &str,
    ) -> Result<Option<Ticket>, BackendError> {
        let (Some(client), Ok(id)) = (client, id.parse::<TicketId>()) else {
            return Ok(None);
        };
        match self.core.visible_ticket(&Self::reporter(client), &id).await {
            Ok((t, _)) => Ok(Some(t)),
            Err(ApiError::NotFound(_)) => Ok(None),
            Err(e) => Err(backend_error(e)),
        }
    }
}

/// The post that owns a ticket at `level`, as residents call it.
fn post_title(level: ChiefLevel) -> &'static str {
    match level {
        ChiefLevel::Unit => "单元长",
        ChiefLevel::Building => "楼栋长",
        ChiefLevel::Grid => "网格长",
        ChiefLevel::Lane => "路巷长",
        ChiefLevel::Street => "街长",
        ChiefLevel::CommandCenter => "指挥中心",
    }
}

/// Our field names in Open311's terms.
fn open311_field(field: &str) -> String {
    match field {
        "category_code" => "service_code".into(),
        "location" | "location.lat" => "lat".into(),
        "location.lng" => "long".into(),
        "location.crs" => "lat".into(),
        "contact_phone" => "phone".into(),
        "address" => "address_string".into(),
        "building_code" => "address_id".into(),
        f if f.starts_with("media_urls") => "media_url".into(),
        f => f.to_owned(),
    }
}

fn backend_error(e: ApiError) -> BackendError {
    match e {
        ApiError::Invalid(v) => BackendError::Invalid(
            v.into_iter()
                .map(|f| FieldError::new(open311_field(&f.field), f.reason))
                .collect(),
        ),
        // Outside every grid: the location is what is wrong.
        ApiError::NotFound(m) => BackendError::Invalid(vec![FieldError::new("lat", m)]),
        ApiError::FailedPrecondition(m) => {
            BackendError::Invalid(vec![FieldError::new("service_code", m)])
        }
        ApiError::Unavailable(m) | ApiError::Aborted(m) => BackendError::Unavailable(m),
        other => BackendError::Internal(other.to_string()),
    }
}

#[async_trait]
impl Open311Backend for Open311Intake {
    async fn client(&self, api_key: &str) -> Result<Option<Open311Client>, BackendError> {
        Ok(self
            .keys
            .get(api_key)
            .map(|name| Open311Client { name: name.clone() }))
    }

    async fn services(&self) -> Result<Vec<Category>, BackendError> {
        Ok(wuzhang_app::categories::all(self.core.store().as_ref())
            .await
            .map_err(backend_error)?
            .into_iter()
            .filter(|c| c.active)
            .collect())
    }

    async fn submit(
        &self,
        client: &Open311Client,
        request: NewServiceRequest,
    ) -> Result<ServiceRequest, BackendError> {
        let Some(point) = request.point else {
            return Err(BackendError::Invalid(vec![FieldError::new(
                "lat",
                "lat and long are required: requests are routed to a grid by location",
            )]));
        };
        let media: Vec<String> = request.media_url.iter().cloned().collect();
        let address = request.address_string.clone().unwrap_or_default();
        let submission = Submission::check(RawSubmission {
            category_code: request.service_code.as_str(),
            description: &request.description,
            location: Some(Ok(point)),
            address: &address,
            building_code: "",
            unit_code: "",
            media_urls: &media,
            contact_phone: request.phone.as_deref().unwrap_or(""),
        })
        .map_err(backend_error)?;
        let ticket = self
            .core
            .submit(&Self::reporter(client), submission, None)
            .await
            .map_err(backend_error)?;
        self.to_request(&ticket, &self.category_names().await?)
            .await
    }

    async fn request(
        &self,
        client: Option<&Open311Client>,
        id: &str,
    ) -> Result<Option<ServiceRequest>, BackendError> {
        match self.visible(client, id).await? {
            Some(t) => Ok(Some(
                self.to_request(&t, &self.category_names().await?).await?,
            )),
            None => Ok(None),
        }
    }

    async fn requests(
        &self,
        client: Option<&Open311Client>,
        filter: RequestFilter,
    ) -> Result<Vec<ServiceRequest>, BackendError> {
        let Some(client) = client else {
            return Ok(Vec::new());
        };
        let names = self.category_names().await?;
        let mut out = Vec::new();
        if !filter.service_request_ids.is_empty() {
            for id in &filter.service_request_ids {
                if let Some(t) = self.visible(Some(client), id).await? {
                    out.push(self.to_request(&t, &names).await?);
                }
            }
            return Ok(out);
        }
        let query = TicketQuery {
            reporter_id: Some(Self::reporter(client).subject),
            created_from: Some(filter.start_date),
            created_before: Some(filter.end_date + time::Duration::MICROSECOND),
            states: if filter.statuses == [RequestStatus::Open] {
                TicketState::ALL
                    .into_iter()
                    .filter(|s| s.is_open())
                    .collect()
            } else if filter.statuses == [RequestStatus::Closed] {
                TicketState::ALL
                    .into_iter()
                    .filter(|s| !s.is_open())
                    .collect()
            } else {
                Vec::new()
            },
            order: TicketOrder::NewestFirst,
            ..Default::default()
        };
        let mut page = PageRequest::first(200);
        while out.len() < filter.limit {
            let tickets = self
                .core
                .store()
                .list_tickets(&query, &page)
                .await
                .map_err(|e| backend_error(e.into()))?;
            for t in &tickets.items {
                let r = self.to_request(t, &names).await?;
                if filter.matches(&r) && out.len() < filter.limit {
                    out.push(r);
                }
            }
            match tickets.next_token {
                Some(next) => page.token = Some(next),
                None => break,
            }
        }
        Ok(out)
    }

    async fn token(
        &self,
        client: Option<&Open311Client>,
        token: &str,
    ) -> Result<Option<TokenStatus>, BackendError> {
        // Requests are created at once, so the token is the request's id.
        Ok(self.visible(client, token).await?.map(|t| TokenStatus {
            token: token.to_owned(),
            service_request_id: Some(t.id.to_string()),
        }))
    }
}
