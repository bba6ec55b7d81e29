//! The chief's desk (`wuzhang.v1.EscalationService`): inbox, ticket with history, 签收,
//! resolve, escalate by hand, notes.
//!
//! Scope: a chief sees the tickets of the areas of their posts and below (a street chief
//! sees the street's grids), a command center those of its subdistricts, an administrator
//! all; anything else is NOT_FOUND. Acting on a ticket (accept, resolve, escalate) is for
//! whoever acts for the owning post now (the holder, or the deputy while the holder is on
//! leave), or the command center when it owns it; others get FAILED_PRECONDITION saying
//! who owns it. A ticket an organization holds (条块协同) is its staff's to act on (role
//! `organization`, on the organization's staff list); the grid chief who follows it as 属地
//! responsible sees it, in their inbox too, but does not act; staff return (退回) it to the
//! command center with ReturnTicket rather than escalate it. Every mutation takes
//! `expected_version`: a stale one, or losing a race, is ABORTED with the ticket's current
//! state and version.

use std::sync::Arc;

use tonic::{Request, Response, Status};
use wuzhang_app::ApiError;
use wuzhang_app::access::admit;
use wuzhang_app::command::{Call, TicketCommands, read_ticket};
use wuzhang_app::organizations;
use wuzhang_app::request::page;
use wuzhang_domain::access::{Principal, Role};
use wuzhang_domain::area::AreaCode;
use wuzhang_domain::campaign::TaskResult;
use wuzhang_domain::chief::ChiefLevel;
use wuzhang_domain::clock::Clock;
use wuzhang_domain::clock::truncate_to_micros;
use wuzhang_domain::deadline::CalendarBook;
use wuzhang_domain::organization::OrganizationCode;
use wuzhang_domain::ticket::{
    Applied, Assignment, Command, MAX_NOTE_CHARS, Ticket, TicketId, TicketState, check_text,
};
use wuzhang_proto::convert::{self, PhoneVisibility};
use wuzhang_proto::v1 as pb;
use wuzhang_proto::v1::escalation_service_server::EscalationService;
use wuzhang_rpc::{caller, grpc};
use wuzhang_store::{Store, TOTAL_SIZE_CAP, TicketOrder, TicketQuery};

use wuzhang_app::chain::ticket_chain as chain;
use wuzhang_domain::chain::{describe_move, next_above};

const DESK: &[Role] = &[
    Role::Chief,
    Role::CommandCenter,
    Role::Organization,
    Role::Admin,
];
const MAX_MEDIA_URLS: usize = 9;

/// The `EscalationService`.
#[derive(Clone)]
pub struct Escalation {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    commands: TicketCommands,
}

impl std::fmt::Debug for Escalation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Escalation").finish_non_exhaustive()
    }
}

/// What the caller is to a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    /// Acts for the post that owns it (or is its command center, or an administrator).
    Owner,
    /// Sees it (an area of theirs is above it) but does not own it.
    Observer,
}

impl Escalation {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, calendars: Arc<CalendarBook>) -> Self {
        let commands = TicketCommands::new(Arc::clone(&store), Arc::clone(&clock), calendars);
        Self {
            store,
            clock,
            commands,
        }
    }

    /// Calls `f` after every change (live streams wake on it).
    pub fn on_change(mut self, f: impl Fn() + Send + Sync + 'static) -> Self {
        self.commands = self.commands.on_change(f);
        self
    }

    /// Areas whose posts the caller acts for now, and all areas of their posts.
    async fn posts(&self, caller: &Principal) -> Result<(Vec<AreaCode>, Vec<AreaCode>), ApiError> {
        let Ok(id) = wuzhang_domain::chief::PersonId::new(&caller.subject) else {
            return Ok((Vec::new(), Vec::new()));
        };
        let now = self.clock.now();
        let posts = self.store.posts_of_person(&id).await?;
        let acting = posts
            .iter()
            .filter(|p| p.acting(now) == Some(&id))
            .map(|p| p.area_code.clone())
            .collect();
        let all = posts.into_iter().map(|p| p.area_code).collect();
        Ok((acting, all))
    }

    /// The ticket if the caller may see it, and what they are to it.
    async fn visible(
        &self,
        caller: &Principal,
        id: &TicketId,
    ) -> Result<(Ticket, Standing), ApiError> {
        let not_found = || ApiError::not_found(format!("ticket {id}"));
        let ticket = read_ticket(self.store.as_ref(), id).await?;
        let owner_area = ticket.assignment.as_ref().map(|a| &a.area_code);
        let at_center = ticket.level() == Some(ChiefLevel::CommandCenter);
        let holder = ticket
            .assignment
            .as_ref()
            .and_then(|a| a.organization.clone());
        match caller.role {
            Role::Organization => {
                let all = self.store.organizations().await?;
                let mine = organizations::staff_of(caller, &all);
                if holder.is_some_and(|h| mine.iter().any(|o| o.code == h)) {
                    Ok((ticket, Standing::Owner))
                } else {
                    Err(not_found())
                }
            }
            Role::Admin => Ok((ticket, Standing::Owner)),
            Role::CommandCenter if caller.commands_subdistrict(&ticket.subdistrict_code) => {
                let standing = if at_center {
                    Standing::Owner
                } else {
                    Standing::Observer
                };
                Ok((ticket, standing))
            }
            Role::Chief => {
                let (acting, all) = self.posts(caller).await?;
                // The grid chief only follows a ticket an organization holds.
                if owner_area.is_some_and(|a| acting.contains(a)) && !at_center && holder.is_none()
                {
                    return Ok((ticket, Standing::Owner));
                }
                let r = &ticket.report;
                let mut below: Vec<AreaCode> = self
                    .store
                    .lineage(&ticket.grid_code)
                    .await?
                    .into_iter()
                    .map(|a| a.code)
                    .collect();
                below.extend(r.building_code.iter().cloned());
                below.extend(r.unit_code.iter().cloned());
                if below.iter().any(|a| all.contains(a))
                    || owner_area.is_some_and(|a| all.contains(a))
                {
                    Ok((ticket, Standing::Observer))
                } else {
                    Err(not_found())
                }
            }
            _ => Err(not_found()),
        }
    }

    fn wire(&self, t: &Ticket, standing: Standing) -> pb::Ticket {
        // The assigned chief and the command center call the resident back.
        let phone = match standing {
            Standing::Owner => PhoneVisibility::Full,
            Standing::Observer => PhoneVisibility::Masked,
        };
        convert::ticket(t, phone, self.clock.now())
    }

    /// Checks, applies the command `decide` makes and writes it with its clocks, once per
    /// request id. `must_own`: only whoever acts for the owning post may.
    async fn act(
        &self,
        call: Call<'_, impl prost::Message>,
        must_own: bool,
        decide: impl FnOnce(&mut Ticket, time::OffsetDateTime) -> Result<Applied, ApiError> + Send,
    ) -> Result<pb::Ticket, ApiError> {
        let (caller, rpc) = (call.caller, call.rpc);
        self.commands
            .run(
                call,
                |id| async move { self.visible(caller, &id).await },
                |ticket, standing| {
                    if !must_own || *standing == Standing::Owner {
                        return Ok(());
                    }
                    let owner = match &ticket.assignment {
                        Some(a) => match &a.organization {
                            Some(o) => format!("organization {o}"),
                            None => format!("the {} of {}", a.level, a.area_code),
                        },
                        None => "no one yet".into(),
                    };
                    Err(ApiError::FailedPrecondition(format!(
                        "ticket {} is owned by {owner}; only they may {}",
                        ticket.id,
                        rpc_verb(rpc)
                    )))
                },
                |ticket, standing| self.wire(ticket, *standing),
                decide,
            )
            .await
    }

    /// A campaign task's result from a ResolveTicket request, checked against its campaign
    /// (field `task_result`); `None` when the request has none.
    async fn task_result(
        &self,
        caller: &Principal,
        r: &pb::ResolveTicketRequest,
    ) -> Result<Option<TaskResult>, ApiError> {
        let Some(wire) = &r.task_result else {
            return Ok(None);
        };
        let result = TaskResult {
            counts: wire
                .counts
                .iter()
                .map(|c| (c.name.clone(), c.value))
                .collect(),
            checked: wire.checked.clone(),
        };
        let id: TicketId = r.ticket_id.parse().map_err(ApiError::from)?;
        // NOT_FOUND first for a ticket the caller may not see, before saying anything
        // about what it is.
        self.visible(caller, &id).await?;
        match self.store.campaign_of_task(&id).await? {
            Some(campaign) => campaign.check_result(&result).map_err(ApiError::from)?,
            None => {
                return Err(ApiError::invalid(
                    "task_result",
                    "the ticket is not a campaign task",
                ));
            }
        }
        Ok(Some(result))
    }

    /// Runs `command` with `note`, as the caller: the shape of most of the desk's commands.
    async fn apply(
        &self,
        call: Call<'_, impl prost::Message>,
        must_own: bool,
        command: Command,
        note: String,
    ) -> Result<pb::Ticket, ApiError> {
        let actor = call.caller.subject.clone();
        self.act(call, must_own, move |t, now| {
            Ok(t.apply(command, &actor, &note, now)?)
        })
        .await
    }
}

/// The [`Call`] of a ticket command request `r` by `caller`.
macro_rules! call {
    ($caller:expr, $rpc:literal, $r:expr) => {
        Call::new(
            $caller,
            $rpc,
            &$r.request_id,
            &$r,
            &$r.ticket_id,
            $r.expected_version,
        )
    };
}

fn rpc_verb(rpc: &str) -> &'static str {
    match rpc {
        "AcceptTicket" => "accept it",
        "ResolveTicket" => "resolve it",
        "EscalateTicket" => "escalate it",
        _ => "act on it",
    }
}

fn note_with_media(field: &str, note: &str, media: &[String]) -> Result<String, ApiError> {
    check_text(field, note, MAX_NOTE_CHARS, false)?;
    if media.len() > MAX_MEDIA_URLS {
        return Err(ApiError::invalid(
            "media_urls",
            format!("at most {MAX_MEDIA_URLS} URLs"),
        ));
    }
    for (i, url) in media.iter().enumerate() {
        let ok = url.len() <= 512
            && (url.starts_with("https://") || url.starts_with("http://"))
            && !url.chars().any(|c| c.is_whitespace() || c.is_control());
        if !ok {
            return Err(ApiError::invalid(
                format!("media_urls[{i}]"),
                "must be an http(s) URL of at most 512 characters",
            ));
        }
    }
    Ok(if media.is_empty() {
        note.to_owned()
    } else {
        format!("{note}\n照片: {}", media.join(" "))
            .trim()
            .to_owned()
    })
}

#[tonic::async_trait]
impl EscalationService for Escalation {
    async fn list_inbox(
        &self,
        request: Request<pb::ListInboxRequest>,
    ) -> Result<Response<pb::ListInboxResponse>, Status> {
        grpc(async move {
            let caller = admit(caller(&request)?, DESK, "ListInbox")?.clone();
            let r = request.into_inner();
            let mut areas = match caller.role {
                Role::Chief => self.posts(&caller).await?.0,
                Role::CommandCenter => caller.scope.clone(),
                _ => Vec::new(),
            };
            // Organization staff: what their organizations hold.
            let orgs: Vec<OrganizationCode> = if caller.role == Role::Organization {
                let all = self.store.organizations().await.map_err(ApiError::from)?;
                organizations::staff_of(&caller, &all)
                    .into_iter()
                    .map(|o| o.code.clone())
                    .collect()
            } else {
                Vec::new()
            };
            if caller.role == Role::Organization && !r.area_code.is_empty() {
                return Err(ApiError::invalid(
                    "area_code",
                    "organization staff have no posts; leave it empty",
                )
                .into());
            }
            if !r.area_code.is_empty() {
                let a = AreaCode::new(&r.area_code)
                    .map_err(|e| ApiError::invalid("area_code", e.reason))?;
                if caller.role != Role::Admin && !areas.contains(&a) {
                    return Err(ApiError::invalid("area_code", "is not one of your posts").into());
                }
                areas = vec![a];
            }
            if areas.is_empty() && orgs.is_empty() && caller.role != Role::Admin {
                return Ok(Response::new(pb::ListInboxResponse::default()));
            }
            let mut states = convert::all_set("states", &r.states, convert::ticket_state_from_wire)
                .map_err(ApiError::from)?;
            if states.is_empty() {
                states = vec![TicketState::Assigned, TicketState::Accepted];
            }
            let level = convert::chief_level_from_wire("level", r.level).map_err(ApiError::from)?;
            let now = self.clock.now();
            let query = TicketQuery {
                // A command center's inbox is what its desk owns; a chief's, their posts'.
                assignee_area_codes: areas,
                assignee_org_codes: orgs,
                states,
                level,
                overdue_at: r.overdue_only.then_some(now),
                order: TicketOrder::DueSoonest,
                ..Default::default()
            };
            let page = page(r.page_size, &r.page_token, 50, 500)?;
            let tickets = self
                .store
                .list_tickets(&query, &page)
                .await
                .map_err(ApiError::from)?;
            let total = self
                .store
                .count_tickets_capped(&query, TOTAL_SIZE_CAP)
                .await
                .map_err(ApiError::from)?;
            Ok(Response::new(pb::ListInboxResponse {
                tickets: tickets
                    .items
                    .iter()
                    .map(|t| self.wire(t, Standing::Owner))
                    .collect(),
                next_page_token: tickets.next_token.unwrap_or_default(),
                total_size: i32::try_from(total.n).unwrap_or(i32::MAX),
                total_size_is_estimate: !total.exact,
            }))
        })
        .await
    }

    async fn get_ticket(
        &self,
        request: Request<pb::GetTicketRequest>,
    ) -> Result<Response<pb::Ticket>, Status> {
        grpc(async move {
            let caller = admit(caller(&request)?, DESK, "GetTicket")?.clone();
            let id: TicketId = request
                .get_ref()
                .ticket_id
                .parse()
                .map_err(ApiError::from)?;
            let (ticket, standing) = self.visible(&caller, &id).await?;
            let mut wire = self.wire(&ticket, standing);
            let events = self
                .store
                .list_events(&id, 0, 10_000)
                .await
                .map_err(ApiError::from)?;
            wire.events = events.iter().map(Into::into).collect();
            Ok(Response::new(wire))
        })
        .await
    }

    async fn accept_ticket(
        &self,
        request: Request<pb::AcceptTicketRequest>,
    ) -> Result<Response<pb::Ticket>, Status> {
        grpc(async move {
            let caller = admit(caller(&request)?, DESK, "AcceptTicket")?.clone();
            let r = request.into_inner();
            check_text("note", &r.note, MAX_NOTE_CHARS, false).map_err(ApiError::from)?;
            let t = self
                .apply(
                    call!(&caller, "AcceptTicket", r),
                    true,
                    Command::Accept,
                    r.note.clone(),
                )
                .await?;
            Ok(Response::new(t))
        })
        .await
    }

    async fn resolve_ticket(
        &self,
        request: Request<pb::ResolveTicketRequest>,
    ) -> Result<Response<pb::Ticket>, Status> {
        grpc(async move {
            let caller = admit(caller(&request)?, DESK, "ResolveTicket")?.clone();
            let r = request.into_inner();
            let note = note_with_media("note", &r.note, &r.media_urls)?;
            let result = self.task_result(&caller, &r).await?;
            let t = self
                .apply(
                    call!(&caller, "ResolveTicket", r).with_task_result(result),
                    true,
                    Command::Resolve,
                    note,
                )
                .await?;
            Ok(Response::new(t))
        })
        .await
    }

    async fn escalate_ticket(
        &self,
        request: Request<pb::EscalateTicketRequest>,
    ) -> Result<Response<pb::Ticket>, Status> {
        grpc(async move {
            let caller = admit(caller(&request)?, DESK, "EscalateTicket")?.clone();
            let r = request.into_inner();
            check_text("reason", &r.reason, MAX_NOTE_CHARS, true).map_err(ApiError::from)?;
            let id: TicketId = r.ticket_id.parse().map_err(ApiError::from)?;
            // Where it would go, read before the change; the version check inside keeps it honest.
            let current = read_ticket(self.store.as_ref(), &id).await?;
            if current
                .assignment
                .as_ref()
                .is_some_and(|a| a.organization.is_some())
            {
                // NOT_FOUND first for a ticket the caller may not see.
                self.visible(&caller, &id).await?;
                return Err(ApiError::FailedPrecondition(format!(
                    "ticket {id} is held by an organization, outside the chain: its staff \
                     return it to the command center with ReturnTicket"
                ))
                .into());
            }
            let links = chain(self.store.as_ref(), &current, self.clock.now())
                .await
                .map_err(ApiError::from)?;
            let from = current.level();
            let actor = caller.subject.clone();
            let reason = r.reason.clone();
            let sub = current.subdistrict_code.clone();
            let t = self
                .act(call!(&caller, "EscalateTicket", r), true, move |t, now| {
                    let from = from.ok_or_else(|| {
                        ApiError::FailedPrecondition("the ticket has no owner yet".into())
                    })?;
                    let (to, skipped) = next_above(&links, from, &sub);
                    let note = format!("{reason} ({})", describe_move(from, &to, &skipped));
                    Ok(t.apply(Command::Escalate { to, auto: false }, &actor, &note, now)?)
                })
                .await?;
            Ok(Response::new(t))
        })
        .await
    }

    async fn add_note(
        &self,
        request: Request<pb::AddNoteRequest>,
    ) -> Result<Response<pb::Ticket>, Status> {
        grpc(async move {
            let caller = admit(caller(&request)?, DESK, "AddNote")?.clone();
            let r = request.into_inner();
            if r.note.trim().is_empty() && r.media_urls.is_empty() {
                return Err(ApiError::invalid("note", "must not be empty").into());
            }
            let note = note_with_media("note", &r.note, &r.media_urls)?;
            let t = self
                .apply(call!(&caller, "AddNote", r), false, Command::Note, note)
                .await?;
            Ok(Response::new(t))
        })
        .await
    }

    async fn request_pause(
        &self,
        request: Request<pb::RequestPauseRequest>,
    ) -> Result<Response<pb::Ticket>, Status> {
        grpc(async move {
            let caller = admit(caller(&request)?, DESK, "RequestPause")?.clone();
            let r = request.into_inner();
            check_text("reason", &r.reason, MAX_NOTE_CHARS, true).map_err(ApiError::from)?;
            let now = self.clock.now();
            let until = r
                .until
                .as_ref()
                .ok_or_else(|| ApiError::invalid("until", "is required"))?;
            let until = convert::from_timestamp("until", until).map_err(ApiError::from)?;
            if until <= now || until > now + time::Duration::days(90) {
                return Err(ApiError::invalid(
                    "until",
                    "must be in the future, at most 90 days ahead",
                )
                .into());
            }
            // The clocks keep running until the command center decides; the pause's end joins
            // them (the domain's rule).
            let until = truncate_to_micros(until);
            let note = format!("{} (until {until})", r.reason);
            let call = call!(&caller, "RequestPause", r);
            let t = self
                .apply(call, true, Command::RequestPause { until }, note)
                .await?;
            Ok(Response::new(t))
        })
        .await
    }

    async fn return_ticket(
        &self,
        request: Request<pb::ReturnTicketRequest>,
    ) -> Result<Response<pb::Ticket>, Status> {
        grpc(async move {
            let caller = admit(caller(&request)?, DESK, "ReturnTicket")?.clone();
            let r = request.into_inner();
            check_text("reason", &r.reason, MAX_NOTE_CHARS, true).map_err(ApiError::from)?;
            let actor = caller.subject.clone();
            let reason = r.reason.clone();
            let t = self
                .act(call!(&caller, "ReturnTicket", r), true, move |t, now| {
                    let to = Assignment {
                        level: ChiefLevel::CommandCenter,
                        area_code: t.subdistrict_code.clone(),
                        person_id: None,
                        organization: None,
                    };
                    let org = t
                        .assignment
                        .as_ref()
                        .and_then(|a| a.organization.as_ref())
                        .map_or_else(String::new, |o| format!(" by {o}"));
                    let note = format!("退回{org}: {reason}");
                    Ok(t.apply(Command::Return { to }, &actor, &note, now)?)
                })
                .await?;
            Ok(Response::new(t))
        })
        .await
    }

    async fn resume_ticket(
        &self,
        request: Request<pb::ResumeTicketRequest>,
    ) -> Result<Response<pb::Ticket>, Status> {
        grpc(async move {
            let caller = admit(caller(&request)?, DESK, "ResumeTicket")?.clone();
            let r = request.into_inner();
            check_text("note", &r.note, MAX_NOTE_CHARS, false).map_err(ApiError::from)?;
            let t = self
                .apply(
                    call!(&caller, "ResumeTicket", r),
                    true,
                    Command::Resume,
                    r.note.clone(),
                )
                .await?;
            Ok(Response::new(t))
        })
        .await
    }
}
