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
//!
//! Deciding an escalation needs the ticket's chain: the areas above its grid and their
//! posts. In a city nearly every ticket of a batch has a chain of its own, so reading
//! them per ticket cost two queries each and, measured, capped a cold worker at a quarter
//! of its speed. The worker keeps the areas (until the store's area counter moves) and the
//! posts (a [`ReferenceCache`], checked against the store's roster counter at the start of
//! every round), and before deciding a batch reads what its chains still lack in a few
//! queries ([`TimerHandler::prepare`]). Who acts for a post (leave) is worked out at each
//! decision, never kept.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use time::{Duration, OffsetDateTime};
use tokio::sync::watch;
use tracing::{info, warn};
use wuzhang_domain::chief::ChiefLevel;
use wuzhang_domain::clock::Clock;
use wuzhang_domain::clocks::{self, Due};
use wuzhang_domain::deadline::CalendarBook;
use wuzhang_domain::event::SYSTEM_TIMER_ACTOR;
use wuzhang_domain::ticket::{Applied, Assignment, Command, Ticket};
use wuzhang_domain::timer::Timer;
use wuzhang_store::{
    ClockReadings, FireReport, ReferenceCache, Store, StoreError, TicketChange, TimerHandler,
    TimerOutcome,
};

use wuzhang_domain::area::{AreaCode, AreaLevel};

use wuzhang_domain::chain::{Link, describe_move, links, next_above, posts_of};

#[async_trait::async_trait]
impl TimerHandler for Escalator {
    async fn prepare(&self, tickets: &[&Ticket]) {
        if let Err(e) = self.prepare_chains(tickets).await {
            warn!(error = %e, "could not read the batch's chains ahead; reading them one by one");
        }
    }

    async fn decide(&self, timer: Timer, ticket: Ticket) -> Result<TimerOutcome, StoreError> {
        Escalator::decide(self, timer, ticket).await
    }
}

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

/// Decides and fires due timers. Clones share what the worker keeps (areas, posts).
#[derive(Clone)]
pub struct Escalator {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    calendars: Arc<CalendarBook>,
    config: WorkerConfig,
    /// Told after a round that changed tickets (live streams wake on it).
    on_change: Arc<dyn Fn() + Send + Sync>,
    /// Posts and categories, brought up to date with the store at the start of every
    /// round (its roster and category counters), and at once after this process's own
    /// changes. Who acts for a post is worked out at each decision, never cached.
    reference: ReferenceCache,
    /// The areas read so far, kept while the store's area counter stays put.
    areas: Arc<std::sync::Mutex<KnownAreas>>,
}

/// Reading a ticket's chain from the store took two queries (the grid's lineage, the
/// posts), and in a city nearly every ticket of a batch has a chain of its own, so the
/// worker keeps what changes rarely: the area tree's part here, the posts in `reference`.
#[derive(Default)]
struct KnownAreas {
    /// The store's area change counter these were read under; `None` before the first round.
    counter: Option<i64>,
    /// Each area's level and parent, or `None` for a code the store does not have (a
    /// parent outside the tree ends a lineage there, as `Store::lineage` does). The few
    /// areas above the grids are shared by all of them, so after the first batches a batch
    /// reads only its new grids.
    by_code: HashMap<AreaCode, Option<(AreaLevel, Option<AreaCode>)>>,
}

impl KnownAreas {
    /// The first area on the way up from `grid` that has not been read, if any.
    fn first_unknown(&self, grid: &AreaCode) -> Option<AreaCode> {
        let mut at = grid;
        for _ in 0..16 {
            match self.by_code.get(at) {
                None => return Some(at.clone()),
                Some(Some((_, Some(parent)))) => at = parent,
                Some(_) => return None,
            }
        }
        None
    }

    /// The posts of `grid` and above, lowest first; `None` if part of the way is unknown.
    fn above(&self, grid: &AreaCode) -> Option<Vec<(ChiefLevel, AreaCode)>> {
        let mut out = Vec::new();
        let mut at = grid;
        // Levels strictly nest, so a real lineage is at most 7 long.
        for _ in 0..16 {
            let Some((level, parent)) = self.by_code.get(at)? else {
                // Not in the store: no such grid, or the lineage ends above the last one.
                return (at != grid).then_some(out);
            };
            if let Some(chief) = level.chief_level() {
                out.push((chief, at.clone()));
            }
            match parent {
                Some(p) => at = p,
                None => return Some(out),
            }
        }
        None
    }
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
            clock,
            calendars,
            config,
            on_change: Arc::new(|| {}),
            // Checked by each round, not by the clock (see `run_once`).
            reference: ReferenceCache::new(Arc::clone(&store), StdDuration::MAX),
            areas: Arc::default(),
            store,
        }
    }

    /// Calls `f` after every round that changed a ticket.
    pub fn on_change(mut self, f: impl Fn() + Send + Sync + 'static) -> Self {
        self.on_change = Arc::new(f);
        self
    }

    /// What a due timer does to its ticket (see the module docs): the domain says
    /// ([`clocks::due`]), the worker carries it out.
    pub async fn decide(
        &self,
        timer: Timer,
        mut ticket: Ticket,
    ) -> Result<TimerOutcome, StoreError> {
        let now = self.clock.now();
        match clocks::due(&timer, &ticket) {
            Due::Drop => Ok(TimerOutcome::Drop),
            Due::Escalate { why } => self.escalate(ticket, &why, now).await,
            Due::Apply { command, note } => {
                let applied = ticket
                    .apply(command, SYSTEM_TIMER_ACTOR, &note, now)
                    .map_err(StoreError::internal)?;
                self.with_clocks(ticket, applied, now).await
            }
        }
    }

    /// One level up with new clocks (the domain keeps a ticket at the command center).
    async fn escalate(
        &self,
        mut ticket: Ticket,
        why: &str,
        now: OffsetDateTime,
    ) -> Result<TimerOutcome, StoreError> {
        let Some(current) = ticket.level() else {
            return Ok(TimerOutcome::Drop);
        };
        // The domain keeps a ticket at the top of the chain (`clocks::due`).
        debug_assert_ne!(current, ChiefLevel::CommandCenter);
        let held_by = ticket
            .assignment
            .as_ref()
            .and_then(|a| a.organization.clone());
        let (to, note) = match held_by {
            // An organization stands beside the chain: its missed deadline brings the
            // ticket back to the command center that dispatched it.
            Some(org) => (
                Assignment {
                    level: ChiefLevel::CommandCenter,
                    area_code: ticket.subdistrict_code.clone(),
                    person_id: None,
                    organization: None,
                },
                format!("{why}: organization {org} → command center"),
            ),
            None => {
                let links = self.chain(&ticket, now).await?;
                let (to, skipped) = next_above(&links, current, &ticket.subdistrict_code);
                let note = format!("{why}: {}", describe_move(current, &to, &skipped));
                (to, note)
            }
        };
        let applied = ticket
            .apply(
                Command::Escalate { to, auto: true },
                SYSTEM_TIMER_ACTOR,
                &note,
                now,
            )
            .map_err(StoreError::internal)?;
        self.with_clocks(ticket, applied, now).await
    }

    /// The change a fired timer writes: the ticket, its event and the timers its clock
    /// effect leaves. What the effect reads comes from the store, but the category from
    /// what the worker keeps (an escalation needs it, and a batch is mostly escalations).
    async fn with_clocks(
        &self,
        mut ticket: Ticket,
        applied: Applied,
        now: OffsetDateTime,
    ) -> Result<TimerOutcome, StoreError> {
        let Applied { event, clocks } = applied;
        let category = if clocks.needs().category {
            Some(
                self.reference
                    .get_category(&ticket.report.category_code)
                    .await?,
            )
        } else {
            None
        };
        let readings = ClockReadings::read(self.store.as_ref(), &ticket, &clocks, category).await?;
        let calendars = self.calendars.current();
        let timers = clocks
            .timers(
                &mut ticket,
                &readings.inputs(&calendars, self.config.warn_share),
                now,
            )
            .map_err(StoreError::internal)?;
        Ok(fire(ticket, event, timers))
    }

    /// The ticket's chain at `now`, from what the worker keeps (see [`KnownAreas`]),
    /// reading what it lacks (normally `prepare` did).
    async fn chain(&self, ticket: &Ticket, now: OffsetDateTime) -> Result<Vec<Link>, StoreError> {
        let grid = &ticket.grid_code;
        let mut above = self.known().above(grid);
        if above.is_none() {
            self.learn_areas(std::slice::from_ref(grid)).await?;
            above = self.known().above(grid);
        }
        let above = above.ok_or_else(|| StoreError::not_found("area", grid))?;
        let areas = posts_of(ticket, &above);
        let codes: Vec<AreaCode> = areas.iter().map(|(_, c)| c.clone()).collect();
        let posts = self.reference.posts_for_areas(&codes).await?;
        Ok(links(areas, &posts, now))
    }

    fn known(&self) -> std::sync::MutexGuard<'_, KnownAreas> {
        self.areas.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads the areas of `grids` not known yet and, level by level, their ancestors not
    /// known yet (usually none after the first batches): one query per level that has any.
    /// Each level starts again from the grids, so what another worker (a clone) is still
    /// reading is read here too rather than missed.
    async fn learn_areas(&self, grids: &[AreaCode]) -> Result<(), StoreError> {
        for _ in 0..16 {
            let unknown: Vec<AreaCode> = {
                let k = self.known();
                let mut seen = HashSet::new();
                grids
                    .iter()
                    .filter_map(|g| k.first_unknown(g))
                    .filter(|c| seen.insert(c.clone()))
                    .collect()
            };
            if unknown.is_empty() {
                break;
            }
            let found = self.store.get_areas(&unknown).await?;
            let mut k = self.known();
            for code in unknown {
                k.by_code.insert(code, None);
            }
            for a in found {
                k.by_code.insert(a.code, Some((a.level, a.parent_code)));
            }
        }
        Ok(())
    }

    /// Reads what a claimed batch's chains need that is not kept yet, in a few queries
    /// whatever the batch: the areas (`learn_areas`), then the posts not cached. Failing
    /// here only costs speed: `chain` reads what is missing.
    async fn prepare_chains(&self, tickets: &[&Ticket]) -> Result<(), StoreError> {
        let grids: Vec<AreaCode> = tickets.iter().map(|t| t.grid_code.clone()).collect();
        self.learn_areas(&grids).await?;
        let codes: Vec<AreaCode> = {
            let k = self.known();
            let mut seen = HashSet::new();
            tickets
                .iter()
                .filter_map(|t| Some(posts_of(t, &k.above(&t.grid_code)?)))
                .flatten()
                .map(|(_, code)| code)
                .filter(|c| seen.insert(c.clone()))
                .collect()
        };
        // Only to fill the cache: the posts are read again, from it, per decision.
        self.reference.load_posts(&codes).await?;
        Ok(())
    }

    /// Brings what the worker keeps up to date with the store: a round sees the roster,
    /// categories and areas as they were when it started, as if it read them afresh.
    async fn follow_store(&self) -> Result<(), StoreError> {
        self.reference.refresh().await?;
        // Read before any lineage of this round: a change after it shows next round.
        let counter = self.store.area_change_counter().await?;
        let mut k = self.known();
        if k.counter != Some(counter) {
            k.by_code.clear();
            k.counter = Some(counter);
        }
        Ok(())
    }

    /// One round: every subdistrict with due timers, one batch each.
    pub async fn run_once(&self) -> Result<FireReport, StoreError> {
        self.follow_store().await?;
        let now = self.clock.now();
        let mut total = FireReport::default();
        for sub in self.store.subdistricts_with_due_timers(now).await? {
            let r = self
                .store
                .fire_due_timers(&sub, now, self.config.batch, self.config.retry_after, self)
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
        task_result: None,
    })
}
