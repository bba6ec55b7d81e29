//! `wuzhang.v1.SupervisionService`: thin handlers over the crate's parts.

use futures::StreamExt;
use futures::stream::BoxStream;
use std::sync::Arc;
use tonic::{Request, Response, Status};
use wuzhang_app::ApiError;
use wuzhang_app::access::admit;
use wuzhang_app::command::Call;
use wuzhang_app::idempotency::Key;
use wuzhang_app::organizations;
use wuzhang_app::request::{page, request_id};
use wuzhang_domain::area::AreaCode;
use wuzhang_domain::category::CategoryCode;
use wuzhang_domain::chief::PersonId;
use wuzhang_domain::clock::truncate_to_micros;
use wuzhang_domain::organization::OrganizationCode;
use wuzhang_domain::ticket::{Command, MAX_NOTE_CHARS, SupervisionOrder, TicketId, check_text};
use wuzhang_proto::convert::{self, PhoneVisibility};
use wuzhang_proto::v1::supervision_service_server::SupervisionService;
use wuzhang_proto::v1::{
    CloseTicketRequest, DecidePauseRequest, DispatchTicketRequest, Evaluation,
    GetEvaluationRequest, GetOverviewRequest, IssueSupervisionRequest, ListTicketsRequest,
    ListTicketsResponse, MergeTicketRequest, Overview, ReassignTicketRequest, RejectTicketRequest,
    ReopenTicketRequest, TicketEvent, VerifyTicketRequest, WatchEventsRequest,
};
use wuzhang_rpc::{caller, grpc, status};
use wuzhang_store::{TOTAL_SIZE_CAP, TicketOrder, TicketQuery};

use wuzhang_proto::v1 as pb;

use crate::merge::Merge;
use crate::scope::{optional, subdistricts_of};
use crate::{CENTER, EVALUATED, Supervision};

#[tonic::async_trait]
impl SupervisionService for Supervision {
    type WatchEventsStream = BoxStream<'static, Result<TicketEvent, Status>>;

    async fn get_overview(
        &self,
        request: Request<GetOverviewRequest>,
    ) -> Result<Response<Overview>, Status> {
        grpc(async move {
            let caller = admit(caller(&request)?, CENTER, "GetOverview")?.clone();
            let r = request.into_inner();
            let sub = match subdistricts_of(&caller, &r.subdistrict_code)?.pop() {
                Some(code) => code,
                // An administrator has no subdistrict of their own.
                None => return Err(ApiError::invalid("subdistrict_code", "is required").into()),
            };
            Ok(Response::new(self.overview(sub).await?))
        })
        .await
    }

    async fn list_tickets(
        &self,
        request: Request<ListTicketsRequest>,
    ) -> Result<Response<ListTicketsResponse>, Status> {
        grpc(async move {
            let caller = admit(caller(&request)?, CENTER, "ListTickets")?.clone();
            let r = request.into_inner();
            let subdistricts = subdistricts_of(&caller, &r.subdistrict_code)?;
            let states = convert::all_set("states", &r.states, convert::ticket_state_from_wire)
                .map_err(ApiError::from)?;
            let time = |field: &str, t: &Option<prost_types::Timestamp>| {
                t.as_ref()
                    .map(|t| convert::from_timestamp(field, t))
                    .transpose()
                    .map_err(ApiError::from)
            };
            let created_from = time("created_after", &r.created_after)?;
            let created_before = time("created_before", &r.created_before)?;
            let query = TicketQuery {
                subdistrict_codes: subdistricts,
                states,
                level: convert::chief_level_from_wire("level", r.level).map_err(ApiError::from)?,
                grid_code: optional(&r.grid_code, AreaCode::new, "grid_code")?,
                category_code: optional(&r.category_code, CategoryCode::new, "category_code")?,
                overdue_at: r.overdue_only.then(|| self.clock.now()),
                created_from,
                created_before,
                pause: convert::pause_from_wire("pause", r.pause).map_err(ApiError::from)?,
                urgent_only: r.urgent_only,
                supervised_only: r.supervised_only,
                reopen_requested: r.reopen_requested_only,
                assignee_org_codes: optional(
                    &r.organization_code,
                    OrganizationCode::new,
                    "organization_code",
                )?
                .into_iter()
                .collect(),
                order: TicketOrder::NewestFirst,
                ..Default::default()
            };
            // As every listing: 0 means 50, more than 500 is served as 500.
            let page = page(r.page_size, &r.page_token, 50, 500)?;
            let store = self.store.as_ref();
            let tickets = store
                .list_tickets(&query, &page)
                .await
                .map_err(ApiError::from)?;
            let total = store
                .count_tickets_capped(&query, TOTAL_SIZE_CAP)
                .await
                .map_err(ApiError::from)?;
            let now = self.clock.now();
            Ok(Response::new(ListTicketsResponse {
                tickets: tickets
                    .items
                    .iter()
                    .map(|t| convert::ticket(t, PhoneVisibility::Full, now))
                    .collect(),
                next_page_token: tickets.next_token.unwrap_or_default(),
                total_size: i32::try_from(total.n).unwrap_or(i32::MAX),
                total_size_is_estimate: !total.exact,
            }))
        })
        .await
    }

    async fn issue_supervision(
        &self,
        request: Request<IssueSupervisionRequest>,
    ) -> Result<Response<pb::Ticket>, Status> {
        grpc(async move {
            let caller = admit(caller(&request)?, CENTER, "IssueSupervision")?.clone();
            let r = request.into_inner();
            check_text("note", &r.note, MAX_NOTE_CHARS, false).map_err(ApiError::from)?;
            let severity = convert::severity_from_wire("severity", r.severity)
                .map_err(ApiError::from)?
                .ok_or_else(|| ApiError::invalid("severity", "is required"))?;
            let now = self.clock.now();
            let deadline = r
                .deadline
                .as_ref()
                .ok_or_else(|| ApiError::invalid("deadline", "is required"))?;
            let deadline = convert::from_timestamp("deadline", deadline).map_err(ApiError::from)?;
            if deadline <= now || deadline > now + time::Duration::days(366) {
                return Err(ApiError::invalid(
                    "deadline",
                    "must be in the future, at most a year ahead",
                )
                .into());
            }
            // The order's deadline joins the ticket's clocks, replacing an earlier order's
            // (the domain's rule).
            let order = SupervisionOrder {
                severity,
                deadline: truncate_to_micros(deadline),
                note: r.note.clone(),
                issued_by: caller.subject.clone(),
                issued_at: now,
            };
            let call = Call::new(
                &caller,
                "IssueSupervision",
                &r.request_id,
                &r,
                &r.ticket_id,
                r.expected_version,
            );
            let note = format!("{} ({}, by {})", r.note, severity.as_str(), order.deadline);
            let t = self
                .apply(call, Command::Supervise(order), note.trim())
                .await?;
            Ok(Response::new(t))
        })
        .await
    }

    async fn verify_ticket(
        &self,
        request: Request<VerifyTicketRequest>,
    ) -> Result<Response<pb::Ticket>, Status> {
        grpc(async move {
            let caller = admit(caller(&request)?, CENTER, "VerifyTicket")?.clone();
            let r = request.into_inner();
            // A failed check goes back to the chief, who must be told what is wrong.
            check_text("note", &r.note, MAX_NOTE_CHARS, !r.pass).map_err(ApiError::from)?;
            let call = Call::new(
                &caller,
                "VerifyTicket",
                &r.request_id,
                &r,
                &r.ticket_id,
                r.expected_version,
            );
            // Passed: closed, no clock runs. Failed: 返工, the same owner's clocks start
            // again from now (the domain's rule).
            let t = self
                .apply(call, Command::Verify { pass: r.pass }, &r.note)
                .await?;
            Ok(Response::new(t))
        })
        .await
    }

    async fn reassign_ticket(
        &self,
        request: Request<ReassignTicketRequest>,
    ) -> Result<Response<pb::Ticket>, Status> {
        grpc(async move {
            let caller = admit(caller(&request)?, CENTER, "ReassignTicket")?.clone();
            let r = request.into_inner();
            check_text("reason", &r.reason, MAX_NOTE_CHARS, true).map_err(ApiError::from)?;
            let to_level = convert::chief_level_from_wire("to_level", r.to_level)
                .map_err(ApiError::from)?
                .ok_or_else(|| ApiError::invalid("to_level", "is required"))?;
            let area = optional(&r.to_area_code, AreaCode::new, "to_area_code")?;
            let person = optional(&r.to_person_id, PersonId::new, "to_person_id")?;
            let id: TicketId = r.ticket_id.parse().map_err(ApiError::from)?;
            // Where it goes, decided on the ticket as read; the version check inside keeps it
            // honest.
            let current = self.in_command(&caller, &id).await?;
            let to = self.target(&current, to_level, area, person).await?;
            let from = current
                .level()
                .map_or_else(|| "unassigned".to_owned(), |l| l.to_string());
            let note = format!("{} ({from} → {} {})", r.reason, to.level, to.area_code);
            let call = Call::new(
                &caller,
                "ReassignTicket",
                &r.request_id,
                &r,
                &r.ticket_id,
                r.expected_version,
            );
            let t = self.apply(call, Command::Reassign(to), &note).await?;
            Ok(Response::new(t))
        })
        .await
    }

    async fn dispatch_ticket(
        &self,
        request: Request<DispatchTicketRequest>,
    ) -> Result<Response<pb::Ticket>, Status> {
        grpc(async move {
            let caller = admit(caller(&request)?, CENTER, "DispatchTicket")?.clone();
            let r = request.into_inner();
            check_text("note", &r.note, MAX_NOTE_CHARS, true).map_err(ApiError::from)?;
            let code = OrganizationCode::new(r.organization_code.clone())
                .map_err(|e| ApiError::invalid("organization_code", e.reason))?;
            let deadline = r
                .deadline
                .as_ref()
                .ok_or_else(|| ApiError::invalid("deadline", "is required"))?;
            let deadline = convert::from_timestamp("deadline", deadline).map_err(ApiError::from)?;
            let now = self.clock.now();
            if deadline <= now || deadline > now + time::Duration::days(366) {
                return Err(ApiError::invalid(
                    "deadline",
                    "must be in the future, at most a year ahead",
                )
                .into());
            }
            let deadline = truncate_to_micros(deadline);
            let id: TicketId = r.ticket_id.parse().map_err(ApiError::from)?;
            let current = self.in_command(&caller, &id).await?;
            let all = self.store.organizations().await.map_err(ApiError::from)?;
            let org = organizations::find(&all, &code, "organization_code")?;
            let areas = organizations::ticket_areas(self.store.as_ref(), &current).await?;
            if org.reach(&areas).is_none() {
                return Err(ApiError::invalid(
                    "organization_code",
                    format!(
                        "organization {code} does not serve the place of ticket {id} (grid {})",
                        current.grid_code
                    ),
                )
                .into());
            }
            let to = organizations::holding(self.store.as_ref(), &current, org, now).await?;
            let note = format!("派遣 → {} {}: {}", org.code, org.name, r.note);
            let call = Call::new(
                &caller,
                "DispatchTicket",
                &r.request_id,
                &r,
                &r.ticket_id,
                r.expected_version,
            );
            let t = self
                .apply(call, Command::Dispatch { to, deadline }, &note)
                .await?;
            Ok(Response::new(t))
        })
        .await
    }

    async fn close_ticket(
        &self,
        request: Request<CloseTicketRequest>,
    ) -> Result<Response<pb::Ticket>, Status> {
        grpc(async move {
            let caller = admit(caller(&request)?, CENTER, "CloseTicket")?.clone();
            let r = request.into_inner();
            check_text("note", &r.note, MAX_NOTE_CHARS, false).map_err(ApiError::from)?;
            let call = Call::new(
                &caller,
                "CloseTicket",
                &r.request_id,
                &r,
                &r.ticket_id,
                r.expected_version,
            );
            let t = self.apply(call, Command::Close, &r.note).await?;
            Ok(Response::new(t))
        })
        .await
    }

    async fn reject_ticket(
        &self,
        request: Request<RejectTicketRequest>,
    ) -> Result<Response<pb::Ticket>, Status> {
        grpc(async move {
            let caller = admit(caller(&request)?, CENTER, "RejectTicket")?.clone();
            let r = request.into_inner();
            // The resident reads why their report is not a governance matter.
            check_text("reason", &r.reason, MAX_NOTE_CHARS, true).map_err(ApiError::from)?;
            let call = Call::new(
                &caller,
                "RejectTicket",
                &r.request_id,
                &r,
                &r.ticket_id,
                r.expected_version,
            );
            let t = self.apply(call, Command::Reject, &r.reason).await?;
            Ok(Response::new(t))
        })
        .await
    }

    async fn decide_pause(
        &self,
        request: Request<DecidePauseRequest>,
    ) -> Result<Response<pb::Ticket>, Status> {
        grpc(async move {
            let caller = admit(caller(&request)?, CENTER, "DecidePause")?.clone();
            let r = request.into_inner();
            check_text("note", &r.note, MAX_NOTE_CHARS, false).map_err(ApiError::from)?;
            let call = Call::new(
                &caller,
                "DecidePause",
                &r.request_id,
                &r,
                &r.ticket_id,
                r.expected_version,
            );
            let t = self
                .apply(call, Command::DecidePause { approve: r.approve }, &r.note)
                .await?;
            Ok(Response::new(t))
        })
        .await
    }

    async fn reopen_ticket(
        &self,
        request: Request<ReopenTicketRequest>,
    ) -> Result<Response<pb::Ticket>, Status> {
        grpc(async move {
            let caller = admit(caller(&request)?, CENTER, "ReopenTicket")?.clone();
            let r = request.into_inner();
            check_text("reason", &r.reason, MAX_NOTE_CHARS, true).map_err(ApiError::from)?;
            let call = Call::new(
                &caller,
                "ReopenTicket",
                &r.request_id,
                &r,
                &r.ticket_id,
                r.expected_version,
            );
            // 返工: back to the owner who resolved it, with fresh clocks.
            let t = self.apply(call, Command::Reopen, &r.reason).await?;
            Ok(Response::new(t))
        })
        .await
    }

    async fn merge_ticket(
        &self,
        request: Request<MergeTicketRequest>,
    ) -> Result<Response<pb::Ticket>, Status> {
        grpc(async move {
            let caller = admit(caller(&request)?, CENTER, "MergeTicket")?.clone();
            let r = request.into_inner();
            let rid = request_id(&r.request_id)?;
            check_text("note", &r.note, MAX_NOTE_CHARS, false).map_err(ApiError::from)?;
            let duplicate: TicketId = r.ticket_id.parse().map_err(ApiError::from)?;
            let into: TicketId = r
                .into_ticket_id
                .parse()
                .map_err(|_| ApiError::invalid("into_ticket_id", "must be a ticket id (UUID)"))?;
            if into == duplicate {
                return Err(ApiError::invalid(
                    "into_ticket_id",
                    "must be another ticket than ticket_id",
                )
                .into());
            }
            if r.expected_version < 0 {
                return Err(ApiError::invalid("expected_version", "must not be negative").into());
            }
            let key = Key::new(&caller, "MergeTicket", rid, &r);
            let merge = Merge {
                duplicate,
                into,
                expected_version: r.expected_version,
                note: &r.note,
            };
            Ok(Response::new(self.merge(&caller, &key, merge).await?))
        })
        .await
    }

    async fn get_evaluation(
        &self,
        request: Request<GetEvaluationRequest>,
    ) -> Result<Response<Evaluation>, Status> {
        grpc(async move {
            let caller = admit(caller(&request)?, EVALUATED, "GetEvaluation")?.clone();
            Ok(Response::new(
                self.evaluation(&caller, request.into_inner()).await?,
            ))
        })
        .await
    }

    async fn create_campaign(
        &self,
        request: Request<pb::CreateCampaignRequest>,
    ) -> Result<Response<pb::Campaign>, Status> {
        grpc(async move {
            let caller = admit(caller(&request)?, CENTER, "CreateCampaign")?.clone();
            Ok(Response::new(
                Supervision::create_campaign(self, &caller, request.into_inner()).await?,
            ))
        })
        .await
    }

    async fn get_campaign(
        &self,
        request: Request<pb::GetCampaignRequest>,
    ) -> Result<Response<pb::Campaign>, Status> {
        grpc(async move {
            let caller = admit(caller(&request)?, CENTER, "GetCampaign")?.clone();
            Ok(Response::new(
                Supervision::get_campaign(self, &caller, request.into_inner()).await?,
            ))
        })
        .await
    }

    async fn set_emergency_mode(
        &self,
        request: Request<pb::SetEmergencyModeRequest>,
    ) -> Result<Response<pb::EmergencyModeState>, Status> {
        grpc(async move {
            let caller = admit(caller(&request)?, CENTER, "SetEmergencyMode")?.clone();
            Ok(Response::new(
                self.set_emergency_mode(&caller, request.into_inner())
                    .await?,
            ))
        })
        .await
    }

    async fn get_campaign_progress(
        &self,
        request: Request<pb::GetCampaignProgressRequest>,
    ) -> Result<Response<pb::CampaignProgress>, Status> {
        grpc(async move {
            let caller = admit(caller(&request)?, CENTER, "GetCampaignProgress")?.clone();
            Ok(Response::new(
                self.campaign_progress(&caller, request.into_inner())
                    .await?,
            ))
        })
        .await
    }

    async fn watch_events(
        &self,
        request: Request<WatchEventsRequest>,
    ) -> Result<Response<Self::WatchEventsStream>, Status> {
        grpc(async move {
            let caller = admit(caller(&request)?, CENTER, "WatchEvents")?.clone();
            let r = request.into_inner();
            let subdistricts = subdistricts_of(&caller, &r.subdistrict_code)?;
            let kinds = convert::all_set("kinds", &r.kinds, convert::event_kind_from_wire)
                .map_err(ApiError::from)?;
            let head = self
                .store
                .event_cursor_head()
                .await
                .map_err(ApiError::from)?;
            let after = if r.after_cursor.is_empty() {
                head
            } else {
                match r.after_cursor.parse::<i64>() {
                    Ok(c) if (0..=head).contains(&c) => c,
                    _ => {
                        return Err(ApiError::invalid(
                            "after_cursor",
                            "is not a cursor of this log; pass TicketEvent.cursor of an event \
                             received, or nothing to start with new events",
                        )
                        .into());
                    }
                }
            };
            let stream = self
                .feed
                .follow(Arc::clone(&self.store), subdistricts, after, kinds)
                .map(|item| {
                    item.map(|logged| {
                        let mut wire = TicketEvent::from(&logged.event);
                        wire.cursor = logged.cursor.to_string();
                        wire
                    })
                    .map_err(status)
                });
            let stream: Self::WatchEventsStream = Box::pin(stream);
            Ok(Response::new(stream))
        })
        .await
    }
}
