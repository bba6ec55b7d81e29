//! A resident reports a problem and follows it: submit, get, list, watch, cancel, rate, upload photos.
//!
//! Every handler authenticates first (the interceptor put a [`Principal`] on the request),
//! then admits only the roles the RPC is for; object-level scope checks come with each
//! RPC's implementation. RPCs whose issue is not done answer UNIMPLEMENTED, naming it.
//!
//! Layout: [`Intake`], the `wuzhang.v1.IntakeService` implementation.
//!
//! [`Principal`]: wuzhang_domain::access::Principal

use futures::stream::BoxStream;
use std::sync::Arc;
use tonic::{Request, Response, Status, Streaming};
use wuzhang_auth::principal;
use wuzhang_domain::access::Role;
use wuzhang_domain::clock::Clock;
use wuzhang_proto::v1::intake_service_server::IntakeService;
use wuzhang_proto::v1::{
    CancelIncidentRequest, GetIncidentRequest, ListIncidentCategoriesRequest,
    ListIncidentCategoriesResponse, ListMyIncidentsRequest, ListMyIncidentsResponse, Media,
    RateIncidentRequest, SubmitIncidentRequest, Ticket, TicketEvent, UploadMediaRequest,
    WatchIncidentRequest,
};
use wuzhang_rpc::ApiError;
use wuzhang_rpc::access::admit;
use wuzhang_store::Store;

/// The `IntakeService` over a store.
#[derive(Debug, Clone)]
pub struct Intake {
    #[expect(dead_code, reason = "read by the handlers their issues build")]
    store: Arc<dyn Store>,
    #[expect(dead_code, reason = "read by the handlers their issues build")]
    clock: Arc<dyn Clock>,
}

impl Intake {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }
}

#[tonic::async_trait]
impl IntakeService for Intake {
    type WatchIncidentStream = BoxStream<'static, Result<TicketEvent, Status>>;

    async fn submit_incident(
        &self,
        request: Request<SubmitIncidentRequest>,
    ) -> Result<Response<Ticket>, Status> {
        admit(
            principal(&request)?,
            &[Role::Resident, Role::Admin],
            "SubmitIncident",
        )?;
        Err(ApiError::unimplemented("SubmitIncident", "issue #4").into())
    }

    async fn get_incident(
        &self,
        request: Request<GetIncidentRequest>,
    ) -> Result<Response<Ticket>, Status> {
        admit(
            principal(&request)?,
            &[Role::Resident, Role::Admin],
            "GetIncident",
        )?;
        Err(ApiError::unimplemented("GetIncident", "issue #4").into())
    }

    async fn list_my_incidents(
        &self,
        request: Request<ListMyIncidentsRequest>,
    ) -> Result<Response<ListMyIncidentsResponse>, Status> {
        admit(
            principal(&request)?,
            &[Role::Resident, Role::Admin],
            "ListMyIncidents",
        )?;
        Err(ApiError::unimplemented("ListMyIncidents", "issue #4").into())
    }

    async fn watch_incident(
        &self,
        request: Request<WatchIncidentRequest>,
    ) -> Result<Response<Self::WatchIncidentStream>, Status> {
        admit(
            principal(&request)?,
            &[Role::Resident, Role::Admin],
            "WatchIncident",
        )?;
        Err(ApiError::unimplemented("WatchIncident", "issue #4").into())
    }

    async fn cancel_incident(
        &self,
        request: Request<CancelIncidentRequest>,
    ) -> Result<Response<Ticket>, Status> {
        admit(
            principal(&request)?,
            &[Role::Resident, Role::Admin],
            "CancelIncident",
        )?;
        Err(ApiError::unimplemented("CancelIncident", "issue #4").into())
    }

    async fn rate_incident(
        &self,
        request: Request<RateIncidentRequest>,
    ) -> Result<Response<Ticket>, Status> {
        admit(
            principal(&request)?,
            &[Role::Resident, Role::Admin],
            "RateIncident",
        )?;
        Err(ApiError::unimplemented("RateIncident", "issue #4").into())
    }

    async fn upload_media(
        &self,
        request: Request<Streaming<UploadMediaRequest>>,
    ) -> Result<Response<Media>, Status> {
        admit(
            principal(&request)?,
            &[Role::Resident, Role::Chief, Role::Admin],
            "UploadMedia",
        )?;
        Err(ApiError::unimplemented("UploadMedia", "issue #4").into())
    }

    async fn list_incident_categories(
        &self,
        request: Request<ListIncidentCategoriesRequest>,
    ) -> Result<Response<ListIncidentCategoriesResponse>, Status> {
        admit(
            principal(&request)?,
            &[
                Role::Resident,
                Role::Chief,
                Role::CommandCenter,
                Role::Admin,
            ],
            "ListIncidentCategories",
        )?;
        Err(ApiError::unimplemented("ListIncidentCategories", "issue #4").into())
    }
}
