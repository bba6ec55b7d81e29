//! The subdistrict command center: overview, listing, 督办, verify, reassign, close, evaluation, live events.
//!
//! Every handler authenticates first (the interceptor put a [`Principal`] on the request),
//! then admits only the roles the RPC is for; object-level scope checks come with each
//! RPC's implementation (a command center sees only its subdistricts: anything else is
//! NOT_FOUND). DecidePause is built (the chief's pause, issue #5); the rest answer
//! UNIMPLEMENTED, naming the command center issue.
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
use wuzhang_domain::deadline::after_pause_decision;
use wuzhang_domain::ticket::{Command, MAX_NOTE_CHARS, TicketId, check_text};
use wuzhang_proto::convert::{self, PhoneVisibility};
use wuzhang_proto::v1::supervision_service_server::SupervisionService;
use wuzhang_proto::v1::{
    CloseTicketRequest, DecidePauseRequest, Evaluation, GetEvaluationRequest, GetOverviewRequest,
    IssueSupervisionRequest, ListTicketsRequest, ListTicketsResponse, MergeTicketRequest, Overview,
    ReassignTicketRequest, RejectTicketRequest, ReopenTicketRequest, Ticket, TicketEvent,
    VerifyTicketRequest, WatchEventsRequest,
};
use wuzhang_rpc::ApiError;
use wuzhang_rpc::access::admit;
use wuzhang_rpc::idempotency::{Key, once_recorded};
use wuzhang_rpc::request::request_id;
use wuzhang_store::{Store, StoreError, TicketChange};

/// The `SupervisionService` over a store.
#[derive(Debug, Clone)]
pub struct Supervision {
    store: Arc<dyn Store>,
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
        let caller = admit(
            principal(&request)?,
            &[Role::CommandCenter, Role::Admin],
            "DecidePause",
        )?
        .clone();
        let r = request.into_inner();
        let rid = request_id(&r.request_id)?;
        let id: TicketId = r.ticket_id.parse().map_err(ApiError::from)?;
        check_text("note", &r.note, MAX_NOTE_CHARS, false).map_err(ApiError::from)?;
        if r.expected_version < 0 {
            return Err(ApiError::invalid("expected_version", "must not be negative").into());
        }
        let key = Key::new(&caller, "DecidePause", rid, &r);
        let answer = once_recorded(self.store.as_ref(), &key, || async {
            let not_found = || ApiError::not_found(format!("ticket {id}"));
            let mut ticket = match self.store.get_ticket(&id).await {
                Ok(t) => t,
                Err(StoreError::NotFound { .. }) => return Err(not_found()),
                Err(e) => return Err(e.into()),
            };
            // Another subdistrict's ticket does not exist for this command center.
            if !caller.commands_subdistrict(&ticket.subdistrict_code) {
                return Err(not_found());
            }
            if r.expected_version != 0 && r.expected_version != ticket.version {
                return Err(ApiError::Aborted(format!(
                    "ticket {id} changed: it is now {} at version {}",
                    ticket.state, ticket.version
                )));
            }
            let timers = self.store.list_timers(&id).await?;
            let now = self.clock.now();
            let event = ticket.apply(
                Command::DecidePause { approve: r.approve },
                &caller.subject,
                &r.note,
                now,
            )?;
            let timers = after_pause_decision(&timers, r.approve);
            let wire = convert::ticket(&ticket, PhoneVisibility::Full, now);
            let change = TicketChange {
                ticket,
                events: vec![event],
                timers: Some(timers),
                idempotency: Some(key.record(&wire, now)),
                add_follower: None,
            };
            let stored = self.store.update_ticket(&change).await?;
            Ok(convert::ticket(&stored, PhoneVisibility::Full, now))
        })
        .await?;
        Ok(Response::new(answer))
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
