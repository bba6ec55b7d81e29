//! Folding the event log into the rollups that the overview and evaluation read, so that
//! neither grows with history.
//!
//! [`Rollups::catch_up`] reads events after the stored cursor, folds each into its ticket's
//! [`Ledger`] (the evaluation rules, in the domain), and writes the ledgers, the figures by
//! day and key, the counts per state and the events per day — with the new cursor — in one
//! transaction per step. Any number of processes may fold: a step taken by another process
//! first comes back as a conflict, and this one reads again from the new cursor, so every
//! event counts once. A read that must see its own writes (GetOverview, GetEvaluation)
//! catches up first; a background task keeps the remainder small.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use wuzhang_domain::area::AreaCode;
use wuzhang_domain::emergency::ModeLog;
use wuzhang_domain::evaluation::{self, Ledger, Place};
use wuzhang_domain::event::EventKind;
use wuzhang_domain::ticket::{TicketId, TicketState};
use wuzhang_store::{LoggedEvent, RollupStep, Store, StoreError, TicketLedger};

/// Events folded per step: one transaction, a few statements.
const STEP_EVENTS: u32 = 2_000;

/// Events folded per step by a rebuild, which no reader waits on: a city's day has about
/// as many rollup rows (one per key: chief, grid, lane, …) as 2,000 events touch, so a step
/// of 2,000 rewrote each row many times a day and the fold ran at the speed of those
/// upserts (10M tickets, 50M events: 1.75 upserts per event, 5,000–11,000 events/s).
const REBUILD_STEP_EVENTS: u32 = 50_000;

/// Steps a reader folds at most before answering (20,000 events: a second of a city's
/// busiest intake, well under a second to fold).
pub const READER_STEPS: usize = 10;

/// Whether the rollups include every event stored before a catch-up began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaughtUp {
    Yes,
    /// A backlog is being folded by the background task: the rollups stand at `cursor`,
    /// the log at `head`.
    Behind {
        cursor: i64,
        head: i64,
    },
}

/// The rollups of one store, shared by a process's readers and its background task.
#[derive(Debug, Clone)]
pub struct Rollups {
    store: Arc<dyn Store>,
    /// One fold at a time in a process; holds the areas seen (grid → its lineage).
    places: Arc<tokio::sync::Mutex<HashMap<AreaCode, Place>>>,
    /// Events per step, and steps a reader folds at most.
    step_events: u32,
    /// Events per step of [`Rollups::rebuild`].
    rebuild_step_events: u32,
    reader_steps: usize,
}

impl Rollups {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            places: Arc::default(),
            step_events: STEP_EVENTS,
            rebuild_step_events: REBUILD_STEP_EVENTS,
            reader_steps: READER_STEPS,
        }
    }

    /// Other step sizes (tests make a backlog of a few events).
    pub fn with_steps(mut self, step_events: u32, reader_steps: usize) -> Self {
        self.step_events = step_events.max(1);
        self.rebuild_step_events = self.step_events;
        self.reader_steps = reader_steps.max(1);
        self
    }

    /// Folds every event stored before the call, as a read that must see its own writes
    /// does. It folds at most [`READER_STEPS`] steps (by default): a reader never pays for a backlog (the
    /// first start on a store with history, a rebuild); then it answers how far behind the
    /// rollups still are, and the background task folds the rest.
    pub async fn catch_up(&self) -> Result<CaughtUp, StoreError> {
        let head = self.store.event_cursor_head().await?;
        self.fold_until(Some(head), Some(self.reader_steps), self.step_events)
            .await?;
        let cursor = self.store.rollup_cursor().await?;
        Ok(if cursor >= head {
            CaughtUp::Yes
        } else {
            CaughtUp::Behind { cursor, head }
        })
    }

    /// Forgets every rollup and folds the whole log again (`wuzhang evaluation rebuild`).
    pub async fn rebuild(&self) -> Result<u64, StoreError> {
        let mut places = self.places.lock().await;
        places.clear();
        self.store.reset_rollups().await?;
        drop(places);
        self.fold_until(None, None, self.rebuild_step_events).await
    }

    /// Catches up every `every` until `stop` turns true.
    pub fn spawn(
        self,
        every: Duration,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                if let Err(e) = self.fold_until(None, None, self.step_events).await {
                    tracing::warn!(error = %e, "folding the event log into the rollups failed");
                }
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
            }
        })
    }

    /// Folds steps until the cursor reaches `head` (or, with `None`, until the log has
    /// nothing more to give), at most `steps` of them if given. The lock is taken per step,
    /// so a reader's catch-up is never queued behind a long backlog.
    async fn fold_until(
        &self,
        head: Option<i64>,
        steps: Option<usize>,
        step_events: u32,
    ) -> Result<u64, StoreError> {
        let mut folded = 0u64;
        let mut taken = 0usize;
        loop {
            if steps.is_some_and(|max| taken >= max) {
                return Ok(folded);
            }
            taken += 1;
            let mut places = self.places.lock().await;
            let from = self.store.rollup_cursor().await?;
            if head.is_some_and(|h| from >= h) {
                return Ok(folded);
            }
            let events = self.store.events_since(&[], from, step_events).await?;
            let Some(last) = events.last() else {
                return Ok(folded);
            };
            let to = last.cursor;
            let step = self.step(&mut places, from, to, &events).await?;
            match self.store.apply_rollup_step(&step).await {
                Ok(()) => folded += events.len() as u64,
                // Another process took this step; read on from where it left the cursor.
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// One step: the events' figures, counts and ledgers.
    async fn step(
        &self,
        places: &mut HashMap<AreaCode, Place>,
        from: i64,
        to: i64,
        events: &[LoggedEvent],
    ) -> Result<RollupStep, StoreError> {
        let store = self.store.as_ref();
        let mut ids: Vec<TicketId> = events.iter().map(|e| e.event.ticket_id).collect();
        ids.sort();
        ids.dedup();
        let mut ledgers: HashMap<TicketId, TicketLedger> = store
            .ticket_ledgers(&ids)
            .await?
            .into_iter()
            .map(|l| (l.ticket_id, l))
            .collect();
        let new: Vec<TicketId> = ids
            .iter()
            .filter(|id| !ledgers.contains_key(id))
            .copied()
            .collect();
        if !new.is_empty() {
            for p in store.ticket_places(&new).await? {
                let place = self.place_of(places, &p.grid_code).await?;
                ledgers.insert(
                    p.ticket_id,
                    TicketLedger {
                        ticket_id: p.ticket_id,
                        subdistrict_code: p.subdistrict_code,
                        place,
                        ledger: Ledger::default(),
                    },
                );
            }
        }
        // Each subdistrict's switches of emergency mode (a few rows a year): which period
        // a holding counts on.
        let mut modes: HashMap<AreaCode, Vec<_>> = HashMap::new();
        for (sub, m) in store.emergency_switches().await? {
            modes.entry(sub).or_default().push((m.since, m.rate));
        }
        let modes: HashMap<AreaCode, ModeLog> = modes
            .into_iter()
            .map(|(sub, switches)| (sub, ModeLog::new(switches)))
            .collect();
        let peacetime = ModeLog::default();
        let mut rows: BTreeMap<(AreaCode, evaluation::RowKey), evaluation::Figures> =
            BTreeMap::new();
        let mut states: HashMap<(AreaCode, TicketState), i64> = HashMap::new();
        let mut grids: HashMap<(AreaCode, AreaCode), i64> = HashMap::new();
        let mut kinds: HashMap<(AreaCode, time::Date, EventKind), i64> = HashMap::new();
        for logged in events {
            let e = &logged.event;
            let sub = &e.subdistrict_code;
            if e.event.from_state != Some(e.event.to_state) {
                if let Some(from) = e.event.from_state {
                    *states.entry((sub.clone(), from)).or_default() -= 1;
                }
                *states.entry((sub.clone(), e.event.to_state)).or_default() += 1;
            }
            *kinds
                .entry((sub.clone(), evaluation::local_day(e.event.at), e.event.kind))
                .or_default() += 1;
            // Events always belong to a stored ticket (a foreign key says so); a ticket the
            // fold cannot find would be a bug, and its events are skipped rather than stop
            // every later event from counting.
            let Some(t) = ledgers.get_mut(&e.ticket_id) else {
                tracing::error!(ticket = %e.ticket_id, "event of a ticket that is not stored");
                continue;
            };
            // Open tickets per grid: an event that opens or ends the work.
            let was_open = e.event.from_state.is_some_and(TicketState::is_open);
            if was_open != e.event.to_state.is_open()
                && let Some(grid) = &t.place.grid
            {
                *grids.entry((sub.clone(), grid.clone())).or_default() +=
                    if was_open { -1 } else { 1 };
            }
            let additions = t.ledger.apply_in(e, modes.get(sub).unwrap_or(&peacetime));
            let mut mine = BTreeMap::new();
            evaluation::add_rows(&mut mine, &additions, &t.place);
            for (key, f) in mine {
                rows.entry((sub.clone(), key)).or_default().add(&f);
            }
        }
        Ok(RollupStep {
            from_cursor: from,
            to_cursor: to,
            ledgers: ledgers.into_values().collect(),
            evaluation: rows
                .into_iter()
                .filter(|(_, f)| !f.is_zero())
                .map(|((sub, key), f)| (sub, key, f))
                .collect(),
            state_counts: states
                .into_iter()
                .filter(|(_, n)| *n != 0)
                .map(|((sub, s), n)| (sub, s, n))
                .collect(),
            grid_open: grids
                .into_iter()
                .filter(|(_, n)| *n != 0)
                .map(|((sub, grid), n)| (sub, grid, n))
                .collect(),
            event_counts: kinds
                .into_iter()
                .map(|((sub, d, k), n)| (sub, d, k, n))
                .collect(),
        })
    }

    /// The areas above a grid, read once per process (a grid's lineage changes only when
    /// areas are imported again; a restart picks that up, and `rebuild` recomputes).
    async fn place_of(
        &self,
        places: &mut HashMap<AreaCode, Place>,
        grid: &AreaCode,
    ) -> Result<Place, StoreError> {
        if let Some(p) = places.get(grid) {
            return Ok(p.clone());
        }
        // One query for the grid and everything above it; a grid no longer stored (areas
        // imported again since) counts on no area.
        let place = match self.store.lineage(grid).await {
            Ok(lineage) => Place::from_lineage(&lineage),
            Err(StoreError::NotFound { .. }) => Place::default(),
            Err(e) => return Err(e),
        };
        places.insert(grid.clone(), place.clone());
        Ok(place)
    }
}
