//! [`MemoryBackend`]: an [`Open311Backend`] held in memory, for tests, the example server
//! and demos. It follows the same visibility rule the application does: a client sees
//! only the requests submitted with its own api_key, and a caller without a key sees none.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use wuzhang_domain::category::Category;
use wuzhang_domain::clock::Clock;
use wuzhang_domain::ticket::TicketId;

use crate::backend::{
    BackendError, NewServiceRequest, Open311Backend, Open311Client, RequestFilter, RequestStatus,
    ServiceRequest, TokenStatus,
};

#[derive(Debug)]
pub struct MemoryBackend {
    clock: Arc<dyn Clock>,
    categories: Vec<Category>,
    /// api_key → client name.
    keys: BTreeMap<String, String>,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// In submission order; each with the name of the client that submitted it.
    requests: Vec<(String, ServiceRequest)>,
    /// When set, the next call fails with it (to test error paths).
    fail_next: Option<BackendError>,
}

impl MemoryBackend {
    /// A backend offering the active ones of `categories`, with no api_keys yet.
    pub fn new(clock: Arc<dyn Clock>, mut categories: Vec<Category>) -> Self {
        categories.sort_by(|a, b| a.code.cmp(&b.code));
        Self {
            clock,
            categories,
            keys: BTreeMap::new(),
            state: Mutex::default(),
        }
    }

    /// Admits `api_key` as the client `name`.
    pub fn with_key(mut self, api_key: impl Into<String>, name: impl Into<String>) -> Self {
        self.keys.insert(api_key.into(), name.into());
        self
    }

    /// Closes a request, as a chief resolving it would. False if there is no such request.
    pub fn close(&self, id: &str, notes: &str) -> bool {
        let now = self.clock.now();
        let mut state = self.lock();
        match state
            .requests
            .iter_mut()
            .find(|(_, r)| r.service_request_id == id)
        {
            Some((_, r)) => {
                r.status = RequestStatus::Closed;
                r.status_notes = Some(notes.to_owned());
                r.updated_datetime = now;
                r.expected_datetime = None;
                true
            }
            None => false,
        }
    }

    /// Makes the next backend call fail with `error`.
    pub fn fail_next(&self, error: BackendError) {
        self.lock().fail_next = Some(error);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means a test thread panicked; the data is still whole.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn check_failure(&self) -> Result<(), BackendError> {
        match self.lock().fail_next.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// The requests `client` may see, newest first.
    fn visible(&self, client: Option<&Open311Client>) -> Vec<ServiceRequest> {
        let Some(client) = client else {
            return Vec::new();
        };
        let state = self.lock();
        let mut out: Vec<ServiceRequest> = state
            .requests
            .iter()
            .rev()
            .filter(|(owner, _)| *owner == client.name)
            .map(|(_, r)| r.clone())
            .collect();
        out.sort_by_key(|r| std::cmp::Reverse(r.requested_datetime));
        out
    }
}

#[async_trait]
impl Open311Backend for MemoryBackend {
    async fn client(&self, api_key: &str) -> Result<Option<Open311Client>, BackendError> {
        self.check_failure()?;
        Ok(self
            .keys
            .get(api_key)
            .map(|name| Open311Client { name: name.clone() }))
    }

    async fn services(&self) -> Result<Vec<Category>, BackendError> {
        self.check_failure()?;
        Ok(self
            .categories
            .iter()
            .filter(|c| c.active)
            .cloned()
            .collect())
    }

    async fn submit(
        &self,
        client: &Open311Client,
        request: NewServiceRequest,
    ) -> Result<ServiceRequest, BackendError> {
        self.check_failure()?;
        let category = self
            .categories
            .iter()
            .find(|c| c.active && c.code == request.service_code)
            .ok_or_else(|| {
                BackendError::NotFound(format!("service_code {} not found", request.service_code))
            })?;
        if let Some(code) = request.attributes.keys().next() {
            return Err(BackendError::Invalid(vec![
                wuzhang_domain::FieldError::new(
                    format!("attribute[{code}]"),
                    "this service has no attributes",
                ),
            ]));
        }
        let now = self.clock.now();
        let id = TicketId::new(now).to_string();
        let token = TicketId::new(now).as_uuid().simple().to_string();
        let created = ServiceRequest {
            service_request_id: id,
            status: RequestStatus::Open,
            status_notes: None,
            service_name: category.name.clone(),
            service_code: category.code.clone(),
            description: Some(request.description),
            agency_responsible: Some(category.start_level.title().to_owned()),
            service_notice: Some(format!("已受理，由{}处理", category.start_level.title())),
            requested_datetime: now,
            updated_datetime: now,
            expected_datetime: Some(now + category.resolve_within),
            address: request.address_string,
            address_id: request.address_id,
            zipcode: None,
            lat: request.point.map(|p| p.lat()),
            long: request.point.map(|p| p.lng()),
            media_url: request.media_url,
            token: Some(token),
        };
        self.lock()
            .requests
            .push((client.name.clone(), created.clone()));
        Ok(created)
    }

    async fn request(
        &self,
        client: Option<&Open311Client>,
        id: &str,
    ) -> Result<Option<ServiceRequest>, BackendError> {
        self.check_failure()?;
        Ok(self
            .visible(client)
            .into_iter()
            .find(|r| r.service_request_id == id))
    }

    async fn requests(
        &self,
        client: Option<&Open311Client>,
        filter: RequestFilter,
    ) -> Result<Vec<ServiceRequest>, BackendError> {
        self.check_failure()?;
        Ok(self
            .visible(client)
            .into_iter()
            .filter(|r| filter.matches(r))
            .take(filter.limit)
            .collect())
    }

    async fn token(
        &self,
        client: Option<&Open311Client>,
        token: &str,
    ) -> Result<Option<TokenStatus>, BackendError> {
        self.check_failure()?;
        Ok(self
            .visible(client)
            .into_iter()
            .find(|r| r.token.as_deref() == Some(token))
            .map(|r| TokenStatus {
                token: token.to_owned(),
                service_request_id: Some(r.service_request_id),
            }))
    }
}
