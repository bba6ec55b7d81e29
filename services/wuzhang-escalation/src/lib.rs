//! The chief's desk: inbox, accept, resolve, escalate, notes, pauses.
//!
//! Every handler authenticates first (the interceptor put a [`Principal`] on the request),
//! then admits only the roles the RPC is for; object-level scope checks come with each
//! RPC's implementation. RPCs whose issue is not done answer UNIMPLEMENTED, naming it.
//!
//! Layout: [`Escalation`], the `wuzhang.v1.EscalationService` implementation.
//!
//! [`Principal`]: wuzhang_domain::access::Principal

use std::sync::Arc;
use tonic::{Request, Response, Status};
use wuzhang_auth::principal;
use wuzhang_domain::access::Role;
use wuzhang_domain::clock::Clock;
use wuzhang_proto::v1::escalation_service_server::EscalationService;
use wuzhang_proto::v1::{
    AcceptTicketRequest, AddNoteRequest, EscalateTicketRequest, GetTicketRequest, ListInboxRequest,
    ListInboxResponse, RequestPauseRequest, ResolveTicketRequest, ResumeTicketRequest, Ticket,
};
use wuzhang_rpc::ApiError;
use wuzhang_rpc::access::admit;
use wuzhang_store::Store;

/// The `EscalationService` over a store.
#[derive(Debug, Clone)]
pub struct Escalation {
    #[expect(dead_code, reason = "read by the handlers their issues build")]
    store: Arc<dyn Store>,
    #[expect(dead_code, reason = "read by the handlers their issues build")]
    clock: Arc<dyn Clock>,
}

impl Escalation {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }
}

#[tonic::async_trait]
impl EscalationService for Escalation {
    async fn list_inbox(
        &self,
        request: Request<ListInboxRequest>,
    ) -> Result<Response<ListInboxResponse>, Status> {
        admit(
            principal(&request)?,
            &[Role::Chief, Role::CommandCenter, Role::Admin],
            "ListInbox",
        )?;
        Err(ApiError::unimplemented("ListInbox", "issue #5").into())
    }

    async fn get_ticket(
        &self,
        request: Request<GetTicketRequest>,
    ) -> Result<Response<Ticket>, Status> {
        admit(
            principal(&request)?,
            &[Role::Chief, Role::CommandCenter, Role::Admin],
            "GetTicket",
        )?;
        Err(ApiError::unimplemented("GetTicket", "issue #5").into())
    }

    async fn accept_ticket(
        &self,
        request: Request<AcceptTicketRequest>,
    ) -> Result<Response<Ticket>, Status> {
        admit(
            principal(&request)?,
            &[Role::Chief, Role::CommandCenter, Role::Admin],
            "AcceptTicket",
        )?;
        Err(ApiError::unimplemented("AcceptTicket", "issue #5").into())
    }

    async fn resolve_ticket(
        &self,
        request: Request<ResolveTicketRequest>,
    ) -> Result<Response<Ticket>, Status> {
        admit(
            principal(&request)?,
            &[Role::Chief, Role::CommandCenter, Role::Admin],
            "ResolveTicket",
        )?;
        Err(ApiError::unimplemented("ResolveTicket", "issue #5").into())
    }

    async fn escalate_ticket(
        &self,
        request: Request<EscalateTicketRequest>,
    ) -> Result<Response<Ticket>, Status> {
        admit(
            principal(&request)?,
            &[Role::Chief, Role::CommandCenter, Role::Admin],
            "EscalateTicket",
        )?;
        Err(ApiError::unimplemented("EscalateTicket", "issue #5").into())
    }

    async fn add_note(&self, request: Request<AddNoteRequest>) -> Result<Response<Ticket>, Status> {
        admit(
            principal(&request)?,
            &[Role::Chief, Role::CommandCenter, Role::Admin],
            "AddNote",
        )?;
        Err(ApiError::unimplemented("AddNote", "issue #5").into())
    }

    async fn request_pause(
        &self,
        request: Request<RequestPauseRequest>,
    ) -> Result<Response<Ticket>, Status> {
        admit(
            principal(&request)?,
            &[Role::Chief, Role::CommandCenter, Role::Admin],
            "RequestPause",
        )?;
        Err(ApiError::unimplemented("RequestPause", "issue #5").into())
    }

    async fn resume_ticket(
        &self,
        request: Request<ResumeTicketRequest>,
    ) -> Result<Response<Ticket>, Status> {
        admit(
            principal(&request)?,
            &[Role::Chief, Role::CommandCenter, Role::Admin],
            "ResumeTicket",
        )?;
        Err(ApiError::unimplemented("ResumeTicket", "issue #5").into())
    }
}
