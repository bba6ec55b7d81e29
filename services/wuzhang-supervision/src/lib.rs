//! The subdistrict command center: overview, listing, 督办, verify, reassign, close, evaluation, live events.
//!
//! Every handler authenticates first (the interceptor put a [`Principal`] on the request),
//! then admits only the roles the RPC is for, then checks the object: a command center
//! sees only the tickets of its subdistricts (anything else is NOT_FOUND), an
//! administrator all. Built: the commands on one ticket (DecidePause from issue #5;
//! VerifyTicket, CloseTicket, RejectTicket, ReopenTicket, ReassignTicket), each run by
//! [`TicketCommands`] as the chief's desk runs its own; GetOverview; ListTickets (every
//! filter but `supervised_only`, which needs supervision orders); WatchEvents (the
//! subdistrict's events, live and resumable by cursor). IssueSupervision, MergeTicket and
//! GetEvaluation answer UNIMPLEMENTED, naming the command center issue.
//!
//! Layout: [`Supervision`], the `wuzhang.v1.SupervisionService` implementation.
//!
//! [`Principal`]: wuzhang_domain::access::Principal

use futures::StreamExt;
use futures::stream::BoxStream;
use std::collections::HashMap;
use std::sync::Arc;
use tonic::{Request, Response, Status};
use wuzhang_auth::principal;
use wuzhang_domain::access::{Principal, Role};
use wuzhang_domain::area::{Area, AreaCode, AreaLevel};
use wuzhang_domain::category::{CategoryCode, DEFAULT_CALENDAR};
use wuzhang_domain::chief::{ChiefLevel, PersonId};
use wuzhang_domain::clock::Clock;
use wuzhang_domain::deadline::{CalendarBook, after_pause_decision};
use wuzhang_domain::event::EventKind;
use wuzhang_domain::ticket::{
    Assignment, Command, MAX_NOTE_CHARS, Pause, Ticket, TicketId, TicketState, check_text,
};
use wuzhang_feed::EventHub;
use wuzhang_proto::convert::{self, PhoneVisibility};
use wuzhang_proto::v1::supervision_service_server::SupervisionService;
use wuzhang_proto::v1::{
    CloseTicketRequest, DecidePauseRequest, Evaluation, GetEvaluationRequest, GetOverviewRequest,
    GridLoad, IssueSupervisionRequest, ListTicketsRequest, ListTicketsResponse, MergeTicketRequest,
    Overview, ReassignTicketRequest, RejectTicketRequest, ReopenTicketRequest, StateCount,
    TicketEvent, Vacancy, VerifyTicketRequest, WatchEventsRequest,
};
use wuzhang_rpc::ApiError;
use wuzhang_rpc::access::admit;
use wuzhang_rpc::chain::ticket_chain;
use wuzhang_rpc::command::{Call, Decided, TicketCommands, TimerPlan, read_ticket};
use wuzhang_rpc::request::page_size;
use wuzhang_store::{
    AreaQuery, PageRequest, Store, StoreError, TicketGrouping, TicketOrder, TicketQuery,
};

use wuzhang_proto::v1 as pb;

/// Who the command center's RPCs admit.
const CENTER: &[Role] = &[Role::CommandCenter, Role::Admin];

/// The `SupervisionService` over a store.
#[derive(Debug, Clone)]
pub struct Supervision {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    calendars: Arc<CalendarBook>,
    commands: TicketCommands,
    feed: EventHub,
}

impl Supervision {
    /// `feed` is the process's live event hub (its reader already running).
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        calendars: Arc<CalendarBook>,
        feed: EventHub,
    ) -> Self {
        let commands = TicketCommands::new(
            Arc::clone(&store),
            Arc::clone(&clock),
            Arc::clone(&calendars),
        );
        Self {
            store,
            clock,
            calendars,
            commands,
            feed,
        }
    }

    /// Calls `f` after every change (live streams wake on it).
    pub fn on_change(mut self, f: impl Fn() + Send + Sync + 'static) -> Self {
        self.commands = self.commands.on_change(f);
        self
    }

    /// The ticket, if it is in the caller's command: its subdistrict's command center, or
    /// an administrator. Anything else does not exist for the caller.
    async fn in_command(&self, caller: &Principal, id: &TicketId) -> Result<Ticket, ApiError> {
        let ticket = read_ticket(self.store.as_ref(), id).await?;
        match caller.role {
            Role::Admin => Ok(ticket),
            Role::CommandCenter if caller.commands_subdistrict(&ticket.subdistrict_code) => {
                Ok(ticket)
            }
            _ => Err(ApiError::not_found(format!("ticket {id}"))),
        }
    }

    /// Runs one command on a ticket in the caller's command. The command center calls the
    /// resident back, so its answers show the phone in full.
    async fn command(
        &self,
        call: Call<'_, impl prost::Message>,
        decide: impl FnOnce(&mut Ticket) -> Decided + Send,
    ) -> Result<pb::Ticket, ApiError> {
        let caller = call.caller;
        let now = self.clock.now();
        self.commands
            .run(
                call,
                |id| async move { Ok((self.in_command(caller, &id).await?, ())) },
                |_, ()| Ok(()),
                |t, ()| convert::ticket(t, PhoneVisibility::Full, now),
                decide,
            )
            .await
    }

    /// The post and person a reassignment names, completed from the ticket's own chain
    /// and the roster: the area of `level` in the ticket's chain unless one is named (it
    /// must then be of that level and in the ticket's subdistrict), whoever acts for
    /// the post now unless a person is named (who must be on the roster).
    async fn target(
        &self,
        ticket: &Ticket,
        level: ChiefLevel,
        area: Option<AreaCode>,
        person: Option<PersonId>,
    ) -> Result<Assignment, ApiError> {
        let store = self.store.as_ref();
        let now = self.clock.now();
        let area_code = match area {
            Some(code) => {
                let invalid = |why: String| ApiError::invalid("to_area_code", why);
                let found = match store.get_area(&code).await {
                    Ok(a) => a,
                    Err(StoreError::NotFound { .. }) => {
                        return Err(invalid(format!("no area {code}")));
                    }
                    Err(e) => return Err(e.into()),
                };
                if found.level.chief_level() != Some(level) {
                    return Err(invalid(format!(
                        "{code} is a {} area; the {level}'s post is on another level",
                        found.level
                    )));
                }
                let lineage = store.lineage(&code).await?;
                if !lineage.iter().any(|a| a.code == ticket.subdistrict_code) {
                    return Err(invalid(format!(
                        "{code} is not in subdistrict {}",
                        ticket.subdistrict_code
                    )));
                }
                code
            }
            None => ticket_chain(store, ticket, now)
                .await?
                .into_iter()
                .find(|l| l.level == level)
                .map(|l| l.area_code)
                .ok_or_else(|| {
                    ApiError::FailedPrecondition(format!(
                        "ticket {} has no {level} post in its chain (no such area was \
                         reported or lies above its grid); name one in to_area_code",
                        ticket.id
                    ))
                })?,
        };
        let person_id = match person {
            Some(id) => match store.get_person(&id).await {
                Ok(_) => Some(id),
                Err(StoreError::NotFound { .. }) => {
                    return Err(ApiError::invalid(
                        "to_person_id",
                        format!("{id} is not on the roster"),
                    ));
                }
                Err(e) => return Err(e.into()),
            },
            // The command center is a desk: no one in particular.
            None if level == ChiefLevel::CommandCenter => None,
            None => {
                let posts = store
                    .posts_for_areas(std::slice::from_ref(&area_code))
                    .await?;
                let acting = posts
                    .iter()
                    .find(|p| p.area_code == area_code)
                    .and_then(|p| p.acting(now).cloned());
                Some(acting.ok_or_else(|| {
                    ApiError::FailedPrecondition(format!(
                        "the {level} post of {area_code} is vacant; name a person in \
                         to_person_id"
                    ))
                })?)
            }
        };
        Ok(Assignment {
            level,
            area_code,
            person_id,
        })
    }

    /// The dashboard's snapshot of one subdistrict. Vacancies and grid loads come from a
    /// walk of its tree (one listing per street and lane); the counts from a handful of
    /// queries whatever the number of tickets.
    async fn overview(&self, sub: AreaCode) -> Result<Overview, ApiError> {
        let store = self.store.as_ref();
        let now = self.clock.now();
        let area = match store.get_area(&sub).await {
            Ok(a) => a,
            Err(StoreError::NotFound { .. }) => {
                return Err(ApiError::not_found(format!("subdistrict {sub}")));
            }
            Err(e) => return Err(e.into()),
        };
        // "Today" on the default working calendar's clock (China Standard Time).
        let midnight = self
            .calendars
            .current()
            .get(DEFAULT_CALENDAR)
            .start_of_day(now)
            .map_err(ApiError::internal)?;
        let of_sub = || TicketQuery {
            subdistrict_codes: vec![sub.clone()],
            ..Default::default()
        };
        let open_states: Vec<TicketState> = TicketState::ALL
            .into_iter()
            .filter(|s| s.is_open())
            .collect();
        let by_state = store
            .count_tickets_by(&of_sub(), TicketGrouping::State)
            .await?;
        let mut counts_by_state = Vec::with_capacity(by_state.len());
        let mut open = 0;
        for (state, count) in by_state {
            let state: TicketState = state.parse().map_err(ApiError::internal)?;
            if state.is_open() {
                open += count;
            }
            counts_by_state.push(StateCount {
                state: convert::ticket_state(state) as i32,
                count: count as i64,
            });
        }
        let overdue_q = TicketQuery {
            overdue_at: Some(now),
            ..of_sub()
        };
        let overdue = store.count_tickets(&overdue_q).await?;
        let open_q = TicketQuery {
            states: open_states.clone(),
            ..of_sub()
        };
        let open_by_grid: HashMap<String, u64> = store
            .count_tickets_by(&open_q, TicketGrouping::Grid)
            .await?
            .into_iter()
            .collect();
        let overdue_by_grid: HashMap<String, u64> = store
            .count_tickets_by(&overdue_q, TicketGrouping::Grid)
            .await?
            .into_iter()
            .collect();
        let pause_requests = store
            .count_tickets(&TicketQuery {
                states: open_states,
                pause: Some(Pause::Requested),
                ..of_sub()
            })
            .await?;
        let submitted_today = store
            .count_tickets(&TicketQuery {
                created_from: Some(midnight),
                ..of_sub()
            })
            .await?;
        let escalations_today = store
            .count_events(
                std::slice::from_ref(&sub),
                &[EventKind::Escalated, EventKind::AutoEscalated],
                midnight,
            )
            .await?;

        let tree = subtree(store, &sub).await?;
        let grid_loads = tree
            .iter()
            .filter(|a| a.level == AreaLevel::Grid)
            .map(|g| GridLoad {
                grid_code: g.code.to_string(),
                grid_name: g.name.clone(),
                open: open_by_grid.get(g.code.as_str()).copied().unwrap_or(0) as i64,
                overdue: overdue_by_grid.get(g.code.as_str()).copied().unwrap_or(0) as i64,
            })
            .collect();
        let vacancies = vacancies(store, &tree, now).await?;
        Ok(Overview {
            subdistrict_code: sub.to_string(),
            subdistrict_name: area.name,
            counts_by_state,
            open: open as i64,
            overdue: overdue as i64,
            vacancies,
            grid_loads,
            escalations_today: escalations_today as i64,
            submitted_today: submitted_today as i64,
            pause_requests: pause_requests as i64,
            // Supervision orders (IssueSupervision) are not built yet: none can exist.
            supervised_open: 0,
            as_of: Some(convert::timestamp(now)),
        })
    }

    /// Runs `command` with `note` as its event's note, leaving the clocks to `timers`.
    async fn apply(
        &self,
        call: Call<'_, impl prost::Message>,
        command: Command,
        note: &str,
        timers: TimerPlan,
    ) -> Result<pb::Ticket, ApiError> {
        let actor = call.caller.subject.clone();
        let now = self.clock.now();
        self.command(call, move |t| {
            let event = t.apply(command, &actor, note, now).map_err(ApiError::from);
            Decided::new(event, timers)
        })
        .await
    }
}

#[tonic::async_trait]
impl SupervisionService for Supervision {
    type WatchEventsStream = BoxStream<'static, Result<TicketEvent, Status>>;

    async fn get_overview(
        &self,
        request: Request<GetOverviewRequest>,
    ) -> Result<Response<Overview>, Status> {
        let caller = admit(principal(&request)?, CENTER, "GetOverview")?.clone();
        let r = request.into_inner();
        let sub = match subdistricts_of(&caller, &r.subdistrict_code)?.pop() {
            Some(code) => code,
            // An administrator has no subdistrict of their own.
            None => return Err(ApiError::invalid("subdistrict_code", "is required").into()),
        };
        Ok(Response::new(self.overview(sub).await?))
    }

    async fn list_tickets(
        &self,
        request: Request<ListTicketsRequest>,
    ) -> Result<Response<ListTicketsResponse>, Status> {
        let caller = admit(principal(&request)?, CENTER, "ListTickets")?.clone();
        let r = request.into_inner();
        let subdistricts = subdistricts_of(&caller, &r.subdistrict_code)?;
        if r.supervised_only {
            return Err(ApiError::unimplemented(
                "ListTickets with supervised_only (supervision orders, IssueSupervision)",
                "the command center issue, not yet filed",
            )
            .into());
        }
        let mut states = Vec::with_capacity(r.states.len());
        for (i, s) in r.states.iter().enumerate() {
            let field = format!("states[{i}]");
            match convert::ticket_state_from_wire(&field, *s).map_err(ApiError::from)? {
                Some(s) => states.push(s),
                None => return Err(ApiError::invalid(field, "must be set").into()),
            }
        }
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
            order: TicketOrder::NewestFirst,
            ..Default::default()
        };
        let size = match page_size(r.page_size)? {
            0 => 50,
            n if n > 500 => {
                return Err(ApiError::invalid("page_size", "must be at most 500").into());
            }
            n => n,
        };
        let page = PageRequest {
            size,
            token: (!r.page_token.is_empty()).then_some(r.page_token),
        };
        let store = self.store.as_ref();
        let tickets = store
            .list_tickets(&query, &page)
            .await
            .map_err(ApiError::from)?;
        let total = store.count_tickets(&query).await.map_err(ApiError::from)?;
        let now = self.clock.now();
        Ok(Response::new(ListTicketsResponse {
            tickets: tickets
                .items
                .iter()
                .map(|t| convert::ticket(t, PhoneVisibility::Full, now))
                .collect(),
            next_page_token: tickets.next_token.unwrap_or_default(),
            total_size: i32::try_from(total).unwrap_or(i32::MAX),
        }))
    }

    async fn issue_supervision(
        &self,
        request: Request<IssueSupervisionRequest>,
    ) -> Result<Response<pb::Ticket>, Status> {
        admit(principal(&request)?, CENTER, "IssueSupervision")?;
        Err(ApiError::unimplemented(
            "IssueSupervision",
            "the command center issue, not yet filed",
        )
        .into())
    }

    async fn verify_ticket(
        &self,
        request: Request<VerifyTicketRequest>,
    ) -> Result<Response<pb::Ticket>, Status> {
        let caller = admit(principal(&request)?, CENTER, "VerifyTicket")?.clone();
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
        // again from now.
        let timers = if r.pass {
            TimerPlan::Clear
        } else {
            TimerPlan::Restart
        };
        let t = self
            .apply(call, Command::Verify { pass: r.pass }, &r.note, timers)
            .await?;
        Ok(Response::new(t))
    }

    async fn reassign_ticket(
        &self,
        request: Request<ReassignTicketRequest>,
    ) -> Result<Response<pb::Ticket>, Status> {
        let caller = admit(principal(&request)?, CENTER, "ReassignTicket")?.clone();
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
        let t = self
            .apply(call, Command::Reassign(to), &note, TimerPlan::Restart)
            .await?;
        Ok(Response::new(t))
    }

    async fn close_ticket(
        &self,
        request: Request<CloseTicketRequest>,
    ) -> Result<Response<pb::Ticket>, Status> {
        let caller = admit(principal(&request)?, CENTER, "CloseTicket")?.clone();
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
        let t = self
            .apply(call, Command::Close, &r.note, TimerPlan::Clear)
            .await?;
        Ok(Response::new(t))
    }

    async fn reject_ticket(
        &self,
        request: Request<RejectTicketRequest>,
    ) -> Result<Response<pb::Ticket>, Status> {
        let caller = admit(principal(&request)?, CENTER, "RejectTicket")?.clone();
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
        let t = self
            .apply(call, Command::Reject, &r.reason, TimerPlan::Clear)
            .await?;
        Ok(Response::new(t))
    }

    async fn decide_pause(
        &self,
        request: Request<DecidePauseRequest>,
    ) -> Result<Response<pb::Ticket>, Status> {
        let caller = admit(principal(&request)?, CENTER, "DecidePause")?.clone();
        let r = request.into_inner();
        check_text("note", &r.note, MAX_NOTE_CHARS, false).map_err(ApiError::from)?;
        let id: TicketId = r.ticket_id.parse().map_err(ApiError::from)?;
        // Read before the change; the version check inside keeps it honest (every timer
        // change comes with a new ticket version).
        let timers = self.store.list_timers(&id).await.map_err(ApiError::from)?;
        let now = self.clock.now();
        let call = Call::new(
            &caller,
            "DecidePause",
            &r.request_id,
            &r,
            &r.ticket_id,
            r.expected_version,
        );
        let t = self
            .command(call, |t| {
                let event = t
                    .apply(
                        Command::DecidePause { approve: r.approve },
                        &caller.subject,
                        &r.note,
                        now,
                    )
                    .map_err(ApiError::from);
                let timers = after_pause_decision(&timers, r.approve);
                Decided::new(event, TimerPlan::Set(timers))
            })
            .await?;
        Ok(Response::new(t))
    }

    async fn reopen_ticket(
        &self,
        request: Request<ReopenTicketRequest>,
    ) -> Result<Response<pb::Ticket>, Status> {
        let caller = admit(principal(&request)?, CENTER, "ReopenTicket")?.clone();
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
        let t = self
            .apply(call, Command::Reopen, &r.reason, TimerPlan::Restart)
            .await?;
        Ok(Response::new(t))
    }

    async fn merge_ticket(
        &self,
        request: Request<MergeTicketRequest>,
    ) -> Result<Response<pb::Ticket>, Status> {
        admit(principal(&request)?, CENTER, "MergeTicket")?;
        Err(
            ApiError::unimplemented("MergeTicket", "the command center issue, not yet filed")
                .into(),
        )
    }

    async fn get_evaluation(
        &self,
        request: Request<GetEvaluationRequest>,
    ) -> Result<Response<Evaluation>, Status> {
        admit(principal(&request)?, CENTER, "GetEvaluation")?;
        Err(
            ApiError::unimplemented("GetEvaluation", "the command center issue, not yet filed")
                .into(),
        )
    }

    async fn watch_events(
        &self,
        request: Request<WatchEventsRequest>,
    ) -> Result<Response<Self::WatchEventsStream>, Status> {
        let caller = admit(principal(&request)?, CENTER, "WatchEvents")?.clone();
        let r = request.into_inner();
        let subdistricts = subdistricts_of(&caller, &r.subdistrict_code)?;
        let mut kinds = Vec::with_capacity(r.kinds.len());
        for (i, k) in r.kinds.iter().enumerate() {
            let field = format!("kinds[{i}]");
            match convert::event_kind_from_wire(&field, *k).map_err(ApiError::from)? {
                Some(k) => kinds.push(k),
                None => return Err(ApiError::invalid(field, "must be set").into()),
            }
        }
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
                .map_err(Status::from)
            });
        Ok(Response::new(Box::pin(stream)))
    }
}

/// An optional identifier field: empty means not given; anything else must parse.
fn optional<T>(
    value: &str,
    parse: impl FnOnce(String) -> Result<T, wuzhang_domain::FieldError>,
    field: &str,
) -> Result<Option<T>, ApiError> {
    if value.is_empty() {
        return Ok(None);
    }
    parse(value.to_owned())
        .map(Some)
        .map_err(|e| ApiError::invalid(field, e.reason))
}

/// The subdistricts a command-center listing covers: the one named (NOT_FOUND if the
/// caller does not command it, as if it did not exist), else the caller's only one; an
/// administrator who names none sees all.
fn subdistricts_of(caller: &Principal, named: &str) -> Result<Vec<AreaCode>, ApiError> {
    if !named.is_empty() {
        let code =
            AreaCode::new(named).map_err(|e| ApiError::invalid("subdistrict_code", e.reason))?;
        if !caller.commands_subdistrict(&code) {
            return Err(ApiError::not_found(format!("subdistrict {code}")));
        }
        return Ok(vec![code]);
    }
    match (caller.role, caller.scope.as_slice()) {
        (Role::Admin, _) => Ok(Vec::new()),
        (_, [only]) => Ok(vec![only.clone()]),
        _ => Err(ApiError::invalid(
            "subdistrict_code",
            "is required: you command more than one subdistrict",
        )),
    }
}

/// The streets, lanes and grids under a subdistrict, each level in code order: the posts
/// every ticket's chain passes through. Buildings and units (thousands per subdistrict,
/// many without a chief by design) are left out.
async fn subtree(store: &dyn Store, sub: &AreaCode) -> Result<Vec<Area>, ApiError> {
    let mut out = Vec::new();
    let mut parents = vec![sub.clone()];
    for level in [AreaLevel::Street, AreaLevel::Lane, AreaLevel::Grid] {
        let mut found = Vec::new();
        for parent in &parents {
            let query = AreaQuery {
                parent_code: Some(parent.clone()),
                level: Some(level),
                bbox: None,
            };
            let mut page = PageRequest::first(500);
            loop {
                let listed = store.list_areas(&query, &page).await?;
                found.extend(listed.items);
                match listed.next_token {
                    Some(token) => page.token = Some(token),
                    None => break,
                }
            }
        }
        found.sort_by(|a, b| a.code.cmp(&b.code));
        parents = found.iter().map(|a| a.code.clone()).collect();
        out.extend(found);
    }
    Ok(out)
}

/// The posts of `areas` that no one acts for at `now`, bottom level first: no holder (or
/// no roster row at all), or a holder on leave without a deputy.
async fn vacancies(
    store: &dyn Store,
    areas: &[Area],
    now: time::OffsetDateTime,
) -> Result<Vec<Vacancy>, ApiError> {
    let codes: Vec<AreaCode> = areas.iter().map(|a| a.code.clone()).collect();
    let posts = store.posts_for_areas(&codes).await?;
    let mut out: Vec<(ChiefLevel, Vacancy)> = Vec::new();
    for area in areas {
        let Some(level) = area.level.chief_level() else {
            continue;
        };
        let post = posts.iter().find(|p| p.area_code == area.code);
        if post.and_then(|p| p.acting(now)).is_some() {
            continue;
        }
        out.push((
            level,
            Vacancy {
                area_code: area.code.to_string(),
                area_name: area.name.clone(),
                level: convert::chief_level(level) as i32,
                holder_on_leave: post.is_some_and(|p| p.holder.is_some()),
            },
        ));
    }
    out.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| a.1.area_code.cmp(&b.1.area_code))
    });
    Ok(out.into_iter().map(|(_, v)| v).collect())
}
