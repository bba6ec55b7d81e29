//! The subdistrict command center: overview, listing, 督办, verify, reassign, close, evaluation, live events.
//!
//! Every handler authenticates first (the interceptor put a [`Principal`] on the request),
//! then admits only the roles the RPC is for; object-level scope checks come with each
//! RPC's implementation. RPCs whose issue is not done answer UNIMPLEMENTED, naming it.
//!
//! Layout: [`Supervision`], the `wuzhang.v1.SupervisionService` implementation.
//!
//! [`Principal`]: wuzhang_domain::access::Principal

use futures::stream::BoxStream;
use std::sync::Arc;
use tonic::{Request, Response, Status};
use wuzhang_auth::principal;
use wuzhang_domain::access::Role;
use wuzhang_domain::clock::Clock;
use wuzhang_proto::v1::supervision_service_server::SupervisionService;
use wuzhang_proto::v1::{
    CloseTicketRequest, DecidePauseRequest, Evaluation, GetEvaluationRequest, GetOverviewRequest,
    IssueSupervisionRequest, ListTicketsRequest, ListTicketsResponse, MergeTicketRequest, Overview,
    ReassignTicketRequest, RejectTicketRequest, ReopenTicketRequest, Ticket, TicketEvent,
    VerifyTicketRequest, WatchEventsRequest,
};
use wuzhang_rpc::ApiError;
use wuzhang_rpc::access::admit;
use wuzhang_store::Store;

/// The `SupervisionService` over a store.
#[derive(Debug, Clone)]
pub struct Supervision {
    #[expect(dead_code, reason = "read by the handlers their issues build")]
    store: Arc<dyn Store>,
    #[expect(dead_code, reason = "read by the handlers their issues build")]
    clock: Arc<dyn Clock>,
}

impl Supervision {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }
}

#[tonic::async_trait]
impl SupervisionService for Supervision {
    type WatchEventsStream = BoxStream<'static, Result<TicketEvent, Status>>;

    async fn get_overview(
        &self,
        request: Request<GetOverviewRequest>,
    ) -> Result<Response<Overview>, Status> {
        admit(
            principal(&request)?,
            &[Role::CommandCenter, Role::Admin],
            "GetOverview",
        )?;
        Err(
            ApiError::unimplemented("GetOverview", "the command center issue, not yet filed")
                .into(),
        )
    }

    async fn list_tickets(
        &self,
        request: Request<ListTicketsRequest>,
    ) -> Result<Response<ListTicketsResponse>, Status> {
        admit(
            principal(&request)?,
            &[Role::CommandCenter, Role::Admin],
            "ListTickets",
        )?;
        Err(
            ApiError::unimplemented("ListTickets", "the command center issue, not yet filed")
                .into(),
        )
    }

    async fn issue_supervision(
        &self,
        request: Request<IssueSupervisionRequest>,
    ) -> Result<Response<Ticket>, Status> {
        admit(
            principal(&request)?,
            &[Role::CommandCenter, Role::Admin],
            "IssueSupervision",
        )?;
        Err(ApiError::unimplemented(
            "IssueSupervision",
            "the command center issue, not yet filed",
        )
        .into())
    }

    async fn verify_ticket(
        &self,
        request: Request<VerifyTicketRequest>,
    ) -> Result<Response<Ticket>, Status> {
        admit(
            principal(&request)?,
            &[Role::CommandCenter, Role::Admin],
            "VerifyTicket",
        )?;
        Err(
            ApiError::unimplemented("VerifyTicket", "the command center issue, not yet filed")
                .into(),
        )
    }

    async fn reassign_ticket(
        &self,
        request: Request<ReassignTicketRequest>,
    ) -> Result<Response<Ticket>, Status> {
        admit(
            principal(&request)?,
            &[Role::CommandCenter, Role::Admin],
            "ReassignTicket",
        )?;
        Err(
            ApiError::unimplemented("ReassignTicket", "the command center issue, not yet filed")
                .into(),
        )
    }

    async fn close_ticket(
        &self,
        request: Request<CloseTicketRequest>,
    ) -> Result<Response<Ticket>, Status> {
        admit(
            principal(&request)?,
            &[Role::CommandCenter, Role::Admin],
            "CloseTicket",
        )?;
        Err(
            ApiError::unimplemented("CloseTicket", "the command center issue, not yet filed")
                .into(),
        )
    }

    async fn reject_ticket(
        &self,
        request: Request<RejectTicketRequest>,
    ) -> Result<Response<Ticket>, Status> {
        admit(
            principal(&request)?,
            &[Role::CommandCenter, Role::Admin],
            "RejectTicket",
        )?;
        Err(
            ApiError::unimplemented("RejectTicket", "the command center issue, not yet filed")
                .into(),
        )
    }

    async fn decide_pause(
        &self,
        request: Request<DecidePauseRequest>,
    ) -> Result<Response<Ticket>, Status> {
        admit(
            principal(&request)?,
            &[Role::CommandCenter, Role::Admin],
            "DecidePause",
        )?;
        Err(
            ApiError::unimplemented("DecidePause", "the command center issue, not yet filed")
                .into(),
        )
    }

    async fn reopen_ticket(
        &self,
        request: Request<ReopenTicketRequest>,
    ) -> Result<Response<Ticket>, Status> {
        admit(
            principal(&request)?,
            &[Role::CommandCenter, Role::Admin],
            "ReopenTicket",
        )?;
        Err(
            ApiError::unimplemented("ReopenTicket", "the command center issue, not yet filed")
                .into(),
        )
    }

    async fn merge_ticket(
        &self,
        request: Request<MergeTicketRequest>,
    ) -> Result<Response<Ticket>, Status> {
        admit(
            principal(&request)?,
            &[Role::CommandCenter, Role::Admin],
            "MergeTicket",
        )?;
        Err(
            ApiError::unimplemented("MergeTicket", "the command center issue, not yet filed")
                .into(),
        )
    }

    async fn get_evaluation(
        &self,
        request: Request<GetEvaluationRequest>,
    ) -> Result<Response<Evaluation>, Status> {
        admit(
            principal(&request)?,
            &[Role::CommandCenter, Role::Admin],
            "GetEvaluation",
        )?;
        Err(
            ApiError::unimplemented("GetEvaluation", "the command center issue, not yet filed")
                .into(),
        )
    }

    async fn watch_events(
        &self,
        request: Request<WatchEventsRequest>,
    ) -> Result<Response<Self::WatchEventsStream>, Status> {
        admit(
            principal(&request)?,
            &[Role::CommandCenter, Role::Admin],
            "WatchEvents",
        )?;
        Err(
            ApiError::unimplemented("WatchEvents", "the command center issue, not yet filed")
                .into(),
        )
    }
}
