//! One command on one ticket, run the way every mutating ticket RPC runs it, whichever
//! service it belongs to (the chief's desk, the command center): once per request id;
//! the ticket read and the caller's scope checked (out of scope is NOT_FOUND, by the
//! service's own rule); `expected_version` checked; the domain command applied, which
//! also decides what becomes of the ticket's clocks (`wuzhang_domain::clocks`); what that
//! effect needs read; ticket, event, timers and the idempotency record written in one
//! transaction; a lost race answered ABORTED with the ticket as it now stands.
//!
//! The services differ only in who may see and act on a ticket and in how the answer
//! shows it (the resident's phone masked or not), so those come in as closures.

use std::future::Future;
use std::sync::Arc;

use prost::Message;
use wuzhang_domain::access::Principal;
use wuzhang_domain::campaign::TaskResult;
use wuzhang_domain::clock::Clock;
use wuzhang_domain::clocks::ClockEffect;
use wuzhang_domain::deadline::{CalendarBook, DEFAULT_WARN_SHARE};
use wuzhang_domain::ticket::{Applied, Command, Ticket, TicketId};
use wuzhang_domain::timer::Timer;
use wuzhang_store::{ClockReadings, Store, StoreError, TicketChange};

use crate::ApiError;
use crate::idempotency::{Key, Recording, once};
use crate::request::request_id;

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
    /// A campaign task's result, written with the change (already checked against its
    /// campaign).
    pub task_result: Option<TaskResult>,
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
            task_result: None,
        }
    }

    /// The call, carrying a campaign task's result.
    pub fn with_task_result(mut self, result: Option<TaskResult>) -> Self {
        self.task_result = result;
        self
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

    /// The timers `effect` leaves on `ticket` (after its command at `now`), reading what
    /// the effect needs; `None`: they stand as they are.
    pub async fn clocks(
        &self,
        ticket: &mut Ticket,
        effect: &ClockEffect,
        now: time::OffsetDateTime,
    ) -> Result<Option<Vec<Timer>>, ApiError> {
        let readings = ClockReadings::read(self.store.as_ref(), ticket, effect, None).await?;
        let calendars = self.calendars.current();
        Ok(effect.timers(ticket, &readings.inputs(&calendars, self.warn_share), now)?)
    }

    /// Runs one command. `load` reads the ticket as the caller may see it (NOT_FOUND when
    /// out of scope) with what the caller is to it; `may_act` refuses a caller who may see
    /// but not do this (checked after the version, so a stale reader learns first that
    /// the ticket moved); `decide` applies the command at the time it is given, and the
    /// clocks follow the effect the domain decided with it; `wire` is the answer.
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
        D: FnOnce(&mut Ticket, time::OffsetDateTime) -> Result<Applied, ApiError>,
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
        once(
            self.store.as_ref(),
            &key,
            Recording::WithTheEffect,
            || async {
                let (mut ticket, standing) = load(id).await?;
                if call.expected_version != 0 && ticket.version != call.expected_version {
                    return Err(stale(&ticket));
                }
                may_act(&ticket, &standing)?;
                let now = self.clock.now();
                let Applied { event, clocks } = decide(&mut ticket, now)?;
                let timers = self.clocks(&mut ticket, &clocks, now).await?;
                let answer = wire(&ticket, &standing);
                let change = TicketChange {
                    ticket,
                    events: vec![event],
                    timers,
                    idempotency: Some(key.record(&answer, now)),
                    add_follower: None,
                    task_result: call.task_result.clone(),
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
            },
        )
        .await
    }

    /// Applies `command` to `ticket` (as read) for the system itself, by `actor`: no
    /// request id and no scope (the caller decided which tickets), the clocks as the
    /// domain says, the change written alone. `None` when the ticket moved since it was
    /// read (a lost race) or no longer takes the command: the caller reads it again.
    pub async fn apply_system(
        &self,
        mut ticket: Ticket,
        command: Command,
        actor: &str,
        note: &str,
    ) -> Result<Option<Ticket>, ApiError> {
        let now = self.clock.now();
        let Ok(Applied { event, clocks }) = ticket.apply(command, actor, note, now) else {
            return Ok(None);
        };
        let timers = self.clocks(&mut ticket, &clocks, now).await?;
        let change = TicketChange {
            ticket,
            events: vec![event],
            timers,
            idempotency: None,
            add_follower: None,
            task_result: None,
        };
        match self.store.update_ticket(&change).await {
            Ok(t) => {
                (self.on_change)();
                Ok(Some(t))
            }
            Err(StoreError::Conflict { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
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
