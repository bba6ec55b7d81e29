//! The timer worker: deadlines kept in the store fire here, exactly once each.
//!
//! A round asks the store which subdistricts have due timers and claims a batch in each
//! (`FOR UPDATE SKIP LOCKED` on Postgres, so any number of workers in any number of
//! processes share the work without firing a timer twice; a worker that dies releases its
//! claims with its transaction). For each claimed timer [`Escalator::decide`] says what
//! happens, and the store writes it in the claim's transaction:
//!
//! - WARNING: a DEADLINE_WARNING event (the owner has used the configured share of the
//!   time to accept, or after acceptance, to resolve).
//! - ACCEPT passed while still ASSIGNED, or RESOLVE passed while ASSIGNED or ACCEPTED: the
//!   ticket moves to the next staffed level above (vacant posts and people on leave are
//!   passed over) with an AUTO_ESCALATED event, and new clocks start there. At the
//!   command center, the top of the chain, it stays and counts as overdue.
//! - A timer for a level the ticket has left, a state where it no longer applies, or a
//!   paused clock is dropped without a change.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use futures::FutureExt;
use time::{Duration, OffsetDateTime};
use tokio::sync::watch;
use tracing::{debug, info, warn};
use wuzhang_domain::chief::ChiefLevel;
use wuzhang_domain::clock::Clock;
use wuzhang_domain::deadline::{CalendarBook, Clocks};
use wuzhang_domain::event::SYSTEM_TIMER_ACTOR;
use wuzhang_domain::ticket::{Command, Pause, Ticket, TicketState};
use wuzhang_domain::timer::{Timer, TimerKind};
use wuzhang_store::{FireReport, Store, StoreError, TicketChange, TimerHandler, TimerOutcome};

use wuzhang_domain::area::AreaCode;
use wuzhang_domain::category::{Category, CategoryCode};

use crate::chain::{Link, chain, describe_move, next_above};

/// Settings of the worker.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Timers claimed per subdistrict per round.
    pub batch: u32,
    /// A timer whose handling failed is tried again this much later.
    pub retry_after: Duration,
    /// Share of a clock after which the owner is warned.
    pub warn_share: f64,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            batch: 500,
            retry_after: Duration::seconds(30),
            warn_share: wuzhang_domain::deadline::DEFAULT_WARN_SHARE,
        }
    }
}

/// Decides and fires due timers.
#[derive(Clone)]
pub struct Escalator {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    calendars: Arc<CalendarBook>,
    config: WorkerConfig,
    /// Told after a round that changed tickets (live streams wake on it).
    on_change: Arc<dyn Fn() + Send + Sync>,
    /// Chains and categories read in this round: a subdistrict's escalations share most
    /// of them, and a round is short enough for the roster not to change under it.
    round: Arc<std::sync::Mutex<RoundCache>>,
}

type ChainKey = (AreaCode, Option<AreaCode>, Option<AreaCode>);

#[derive(Default)]
struct RoundCache {
    chains: HashMap<ChainKey, Vec<Link>>,
    categories: HashMap<CategoryCode, Category>,
}

impl std::fmt::Debug for Escalator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Escalator")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Escalator {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        calendars: Arc<CalendarBook>,
        config: WorkerConfig,
    ) -> Self {
        Self {
            store,
            clock,
            calendars,
            config,
            on_change: Arc::new(|| {}),
            round: Arc::default(),
        }
    }

    /// Calls `f` after every round that changed a ticket.
    pub fn on_change(mut self, f: impl Fn() + Send + Sync + 'static) -> Self {
        self.on_change = Arc::new(f);
        self
    }

    /// What a due timer does to its ticket (see the module docs).
    pub async fn decide(
        &self,
        timer: Timer,
        mut ticket: Ticket,
    ) -> Result<TimerOutcome, StoreError> {
        let working = matches!(ticket.state, TicketState::Assigned | TicketState::Accepted);
        let now = self.clock.now();
        if timer.kind == TimerKind::Resume && working {
            return self.end_pause(ticket, now).await;
        }
        if !working || ticket.level() != Some(timer.level) || ticket.pause == Pause::Paused {
            return Ok(TimerOutcome::Drop);
        }
        match timer.kind {
            TimerKind::Warning => {
                let what = if ticket.state == TicketState::Assigned {
                    "accept"
                } else {
                    "resolve"
                };
                let due = if what == "accept" {
                    ticket.accept_due_at
                } else {
                    ticket.resolve_due_at
                };
                let note = match due {
                    Some(d) => format!("{what} deadline at {d} is near"),
                    None => format!("{what} deadline is near"),
                };
                let event = ticket
                    .apply(Command::Warn, SYSTEM_TIMER_ACTOR, &note, now)
                    .map_err(StoreError::internal)?;
                Ok(fire(ticket, event, None))
            }
            TimerKind::Accept if ticket.state == TicketState::Accepted => Ok(TimerOutcome::Drop),
            TimerKind::Accept | TimerKind::Resolve => {
                let what = if timer.kind == TimerKind::Accept {
                    "accept"
                } else {
                    "resolve"
                };
                self.escalate(ticket, &format!("{what} deadline passed"), now)
                    .await
            }
            TimerKind::Supervision | TimerKind::Resume => Ok(TimerOutcome::Drop),
        }
    }

    /// A pause's end time came: an approved pause ends and the clocks run again, shifted
    /// by the time they stood; a request nobody decided lapses.
    async fn end_pause(
        &self,
        mut ticket: Ticket,
        now: OffsetDateTime,
    ) -> Result<TimerOutcome, StoreError> {
        match ticket.pause {
            Pause::Paused => {
                let paused_at = paused_at(self.store.as_ref(), &ticket).await?;
                let event = ticket
                    .apply(
                        Command::Resume,
                        SYSTEM_TIMER_ACTOR,
                        "pause ended as asked",
                        now,
                    )
                    .map_err(StoreError::internal)?;
                let timers = wuzhang_domain::deadline::resume(&mut ticket, paused_at, now);
                Ok(fire(ticket, event, Some(timers)))
            }
            Pause::Requested => {
                let timers = self.store.list_timers(&ticket.id).await?;
                let event = ticket
                    .apply(
                        Command::DecidePause { approve: false },
                        SYSTEM_TIMER_ACTOR,
                        "the pause was not decided before its end; the clocks ran on",
                        now,
                    )
                    .map_err(StoreError::internal)?;
                let timers = wuzhang_domain::deadline::after_pause_decision(&timers, false);
                Ok(fire(ticket, event, Some(timers)))
            }
            Pause::None => Ok(TimerOutcome::Drop),
        }
    }

    /// One level up with new clocks; at the command center the ticket stays, overdue.
    async fn escalate(
        &self,
        mut ticket: Ticket,
        why: &str,
        now: OffsetDateTime,
    ) -> Result<TimerOutcome, StoreError> {
        let Some(current) = ticket.level() else {
            return Ok(TimerOutcome::Drop);
        };
        if current == ChiefLevel::CommandCenter {
            debug!(ticket = %ticket.id, "deadline passed at the command center: stays, overdue");
            return Ok(TimerOutcome::Drop);
        }
        let key: ChainKey = (
            ticket.grid_code.clone(),
            ticket.report.building_code.clone(),
            ticket.report.unit_code.clone(),
        );
        let cached = self.cache().chains.get(&key).cloned();
        let links = match cached {
            Some(l) => l,
            None => {
                let l = chain(self.store.as_ref(), &ticket, now).await?;
                self.cache().chains.insert(key, l.clone());
                l
            }
        };
        let (to, skipped) = next_above(&links, current, &ticket.subdistrict_code);
        let note = format!("{why}: {}", describe_move(current, &to, &skipped));
        let event = ticket
            .apply(
                Command::Escalate { to, auto: true },
                SYSTEM_TIMER_ACTOR,
                &note,
                now,
            )
            .map_err(StoreError::internal)?;
        let code = &ticket.report.category_code;
        let cached = self.cache().categories.get(code).cloned();
        let category = match cached {
            Some(c) => c,
            None => {
                let c = self.store.get_category(code).await?;
                self.cache().categories.insert(code.clone(), c.clone());
                c
            }
        };
        let clocks = Clocks::start(
            &category,
            &self.calendars.current(),
            now,
            self.config.warn_share,
        )
        .map_err(StoreError::internal)?;
        let timers = clocks.apply(&mut ticket);
        Ok(fire(ticket, event, Some(timers)))
    }

    /// One round: every subdistrict with due timers, one batch each.
    fn cache(&self) -> std::sync::MutexGuard<'_, RoundCache> {
        self.round.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub async fn run_once(&self) -> Result<FireReport, StoreError> {
        *self.cache() = RoundCache::default();
        let now = self.clock.now();
        let mut total = FireReport::default();
        let this = self.clone();
        let handler: Box<TimerHandler> = Box::new(move |timer, ticket| {
            let this = this.clone();
            async move { this.decide(timer, ticket).await }.boxed()
        });
        for sub in self.store.subdistricts_with_due_timers(now).await? {
            let r = self
                .store
                .fire_due_timers(
                    &sub,
                    now,
                    self.config.batch,
                    self.config.retry_after,
                    handler.as_ref(),
                )
                .await?;
            total.fired += r.fired;
            total.dropped += r.dropped;
            total.failed += r.failed;
        }
        if total.fired > 0 {
            (self.on_change)();
        }
        Ok(total)
    }

    /// Runs rounds every `poll` (at once again after a full batch) until `shutdown`.
    pub fn spawn(
        self,
        poll: StdDuration,
        mut shutdown: watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                let busy = match self.run_once().await {
                    Ok(r) => {
                        if r.fired + r.dropped + r.failed > 0 {
                            info!(
                                fired = r.fired,
                                dropped = r.dropped,
                                failed = r.failed,
                                "timers"
                            );
                        }
                        r.fired + r.dropped >= self.config.batch as usize
                    }
                    Err(e) => {
                        warn!(error = %e, "timer round failed");
                        false
                    }
                };
                if busy {
                    continue;
                }
                tokio::select! {
                    _ = tokio::time::sleep(poll) => {}
                    _ = shutdown.wait_for(|s| *s) => return,
                }
            }
        })
    }
}

fn fire(
    ticket: Ticket,
    event: wuzhang_domain::event::NewEvent,
    timers: Option<Vec<Timer>>,
) -> TimerOutcome {
    TimerOutcome::Fire(TicketChange {
        ticket,
        events: vec![event],
        timers,
        idempotency: None,
        add_follower: None,
    })
}

/// When the ticket's current pause was approved (its clocks stopped), from its history.
pub async fn paused_at(store: &dyn Store, ticket: &Ticket) -> Result<OffsetDateTime, StoreError> {
    let events = store.list_events(&ticket.id, 0, 100_000).await?;
    Ok(events
        .iter()
        .rev()
        .find(|e| e.event.kind == wuzhang_domain::event::EventKind::PauseApproved)
        .map_or(ticket.updated_at, |e| e.event.at))
}
