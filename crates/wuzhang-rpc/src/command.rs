//! One command on one ticket, run the way every mutating ticket RPC runs it, whichever
//! service it belongs to (the chief's desk, the command center): once per request id;
//! the ticket read and the caller's scope checked (out of scope is NOT_FOUND, by the
//! service's own rule); `expected_version` checked; the domain command applied; the
//! ticket's clocks decided; ticket, event, timers and the idempotency record written in
//! one transaction; a lost race answered ABORTED with the ticket as it now stands.
//!
//! The services differ only in who may see and act on a ticket and in how the answer
//! shows it (the resident's phone masked or not), so those come in as closures.

use std::future::Future;
use std::sync::Arc;

use prost::Message;
use wuzhang_domain::access::Principal;
use wuzhang_domain::clock::Clock;
use wuzhang_domain::deadline::{CalendarBook, Clocks, DEFAULT_WARN_SHARE, after_accept};
use wuzhang_domain::event::NewEvent;
use wuzhang_domain::ticket::{Ticket, TicketId};
use wuzhang_domain::timer::{Timer, TimerKind};
use wuzhang_store::{Store, StoreError, TicketChange};

use crate::ApiError;
use crate::idempotency::{Key, once_recorded};
use crate::request::request_id;

/// What a command did and what becomes of the clocks.
#[derive(Debug)]
pub struct Decided {
    pub event: Result<NewEvent, ApiError>,
    pub timers: TimerPlan,
}

impl Decided {
    pub fn new(event: Result<NewEvent, ApiError>, timers: TimerPlan) -> Self {
        Self { event, timers }
    }
}

/// The ticket's timers after the command.
#[derive(Debug)]
pub enum TimerPlan {
    Keep,
    /// No clock runs any more (closed, rejected, resolved).
    Clear,
    /// Exactly these.
    Set(Vec<Timer>),
    /// Accepted: only the resolve clock (and its warning) runs on, and a supervision
    /// order's deadline if one stands.
    ResolveOnly,
    /// A new owner, or the same one again (返工): new clocks from now.
    Restart,
}

/// The request as the runner needs it.
#[derive(Debug)]
pub struct Call<'a, M> {
    pub caller: &'a Principal,
    pub rpc: &'static str,
    pub request_id: &'a str,
    /// The whole request, whose digest guards the request id.
    pub request: &'a M,
    pub ticket_id: &'a str,
    /// 0 skips the check (the API's convention); the store still refuses lost updates.
    pub expected_version: i64,
}

impl<'a, M> Call<'a, M> {
    pub fn new(
        caller: &'a Principal,
        rpc: &'static str,
        request_id: &'a str,
        request: &'a M,
        ticket_id: &'a str,
        expected_version: i64,
    ) -> Self {
        Self {
            caller,
            rpc,
            request_id,
            request,
            ticket_id,
            expected_version,
        }
    }
}

/// Runs ticket commands against a store; cheap to clone.
#[derive(Clone)]
pub struct TicketCommands {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    calendars: Arc<CalendarBook>,
    warn_share: f64,
    on_change: Arc<dyn Fn() + Send + Sync>,
}

impl std::fmt::Debug for TicketCommands {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TicketCommands").finish_non_exhaustive()
    }
}

impl TicketCommands {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, calendars: Arc<CalendarBook>) -> Self {
        Self {
            store,
            clock,
            calendars,
            warn_share: DEFAULT_WARN_SHARE,
            on_change: Arc::new(|| {}),
        }
    }

    /// Calls `f` after every change (live streams wake on it).
    pub fn on_change(mut self, f: impl Fn() + Send + Sync + 'static) -> Self {
        self.on_change = Arc::new(f);
        self
    }

    /// Tells live streams that a change was written outside [`run`](Self::run) (a change
    /// to two tickets at once).
    pub fn changed(&self) {
        (self.on_change)();
    }

    /// Runs one command. `load` reads the ticket as the caller may see it (NOT_FOUND when
    /// out of scope) with what the caller is to it; `may_act` refuses a caller who may see
    /// but not do this (checked after the version, so a stale reader learns first that
    /// the ticket moved); `decide` applies the command; `wire` is the answer.
    pub async fn run<M, S, A, L, LF, P, W, D>(
        &self,
        call: Call<'_, M>,
        load: L,
        may_act: P,
        wire: W,
        decide: D,
    ) -> Result<A, ApiError>
    where
        M: Message,
        A: Message + Default,
        L: FnOnce(TicketId) -> LF,
        LF: Future<Output = Result<(Ticket, S), ApiError>>,
        P: FnOnce(&Ticket, &S) -> Result<(), ApiError>,
        W: Fn(&Ticket, &S) -> A,
        D: FnOnce(&mut Ticket) -> Decided,
    {
        let rid = request_id(call.request_id)?;
        let id: TicketId = call.ticket_id.parse().map_err(ApiError::from)?;
        if call.expected_version < 0 {
            return Err(ApiError::invalid(
                "expected_version",
                "must not be negative",
            ));
        }
        let key = Key::new(call.caller, call.rpc, rid, call.request);
        once_recorded(self.store.as_ref(), &key, || async {
            let (mut ticket, standing) = load(id).await?;
            if call.expected_version != 0 && ticket.version != call.expected_version {
                return Err(stale(&ticket));
            }
            may_act(&ticket, &standing)?;
            let Decided { event, timers } = decide(&mut ticket);
            let now = self.clock.now();
            let event = event?;
            let timers = match timers {
                TimerPlan::Keep => None,
                TimerPlan::Clear => Some(Vec::new()),
                TimerPlan::Set(timers) => Some(timers),
                TimerPlan::ResolveOnly => {
                    let category = self
                        .store
                        .get_category(&ticket.report.category_code)
                        .await?;
                    let mut timers = after_accept(
                        &ticket,
                        &category,
                        &self.calendars.current(),
                        now,
                        self.warn_share,
                    );
                    // A supervision order's deadline still stands for the same owner.
                    let standing = self.store.list_timers(&id).await?;
                    timers.extend(
                        standing
                            .into_iter()
                            .filter(|t| t.kind == TimerKind::Supervision),
                    );
                    Some(timers)
                }
                TimerPlan::Restart => {
                    let category = self
                        .store
                        .get_category(&ticket.report.category_code)
                        .await?;
                    let clocks =
                        Clocks::start(&category, &self.calendars.current(), now, self.warn_share)
                            .map_err(ApiError::internal)?;
                    Some(clocks.apply(&mut ticket))
                }
            };
            let answer = wire(&ticket, &standing);
            let change = TicketChange {
                ticket,
                events: vec![event],
                timers,
                idempotency: Some(key.record(&answer, now)),
                add_follower: None,
            };
            let stored = match self.store.update_ticket(&change).await {
                Ok(t) => t,
                Err(StoreError::Conflict { .. }) => {
                    let current = self.store.get_ticket(&id).await?;
                    return Err(stale(&current));
                }
                Err(e) => return Err(e.into()),
            };
            (self.on_change)();
            Ok(wire(&stored, &standing))
        })
        .await
    }
}

/// ABORTED, with what the ticket is now, so the caller can read it again and decide.
pub fn stale(current: &Ticket) -> ApiError {
    ApiError::Aborted(format!(
        "ticket {} changed: it is now {} at version {}; read it again and decide",
        current.id, current.state, current.version
    ))
}

/// Reads a ticket; a missing one is NOT_FOUND, named as the API names it.
pub async fn read_ticket(store: &dyn Store, id: &TicketId) -> Result<Ticket, ApiError> {
    match store.get_ticket(id).await {
        Ok(t) => Ok(t),
        Err(StoreError::NotFound { .. }) => Err(ApiError::not_found(format!("ticket {id}"))),
        Err(e) => Err(e.into()),
    }
}
