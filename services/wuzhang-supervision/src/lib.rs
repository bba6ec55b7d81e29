//! The subdistrict command center: overview, listing, 督办, verify, reassign, close, evaluation, live events.
//!
//! Every handler authenticates first (the interceptor put a [`Principal`] on the request),
//! then admits only the roles the RPC is for, then checks the object: a command center
//! sees only the tickets of its subdistricts (anything else is NOT_FOUND), an
//! administrator all. Built: the commands on one ticket (DecidePause from issue #5;
//! IssueSupervision, VerifyTicket, CloseTicket, RejectTicket, ReopenTicket,
//! ReassignTicket), each run by [`TicketCommands`] as the chief's desk runs its own;
//! MergeTicket (two tickets in one transaction); GetOverview; ListTickets; WatchEvents
//! (the subdistrict's events, live and resumable by cursor); GetEvaluation (考评, from the
//! rollups of the event log).
//!
//! Layout:
//! - [`Supervision`]: the service's state (store, clock, calendars, the ticket command
//!   runner, the live feed); `service` implements `wuzhang.v1.SupervisionService` on it.
//! - `scope`: which tickets and subdistricts a caller commands, and running one command on
//!   a ticket in scope.
//! - `reassign`: where a reassignment sends a ticket.
//! - `merge`: folding a duplicate into another open ticket.
//! - `overview`: the dashboard's snapshot of a subdistrict, and [`GridLights`], the rule of
//!   a grid's light on the map.
//! - `evaluation`: 考评 rows from the rollups, and their CSV.
//! - `campaigns`: 专项行动 fanned out as tasks, and their progress.
//! - `emergency`: SetEmergencyMode (战时), the subdistrict's clocks switched and carried
//!   over.
//!
//! [`Principal`]: wuzhang_domain::access::Principal

mod campaigns;
mod emergency;
mod evaluation;
mod merge;
mod overview;

pub use overview::GridLights;
mod reassign;
mod scope;
mod service;

use std::sync::Arc;
use wuzhang_app::command::TicketCommands;
use wuzhang_app::rollups::Rollups;
use wuzhang_domain::access::Role;
use wuzhang_domain::clock::Clock;
use wuzhang_domain::deadline::CalendarBook;
use wuzhang_domain::evaluation::Weights;
use wuzhang_feed::EventHub;
use wuzhang_store::Store;

/// Who the command center's RPCs admit.
const CENTER: &[Role] = &[Role::CommandCenter, Role::Admin];

/// Who GetEvaluation admits: the command center, and chiefs for their own row.
const EVALUATED: &[Role] = &[
    Role::CommandCenter,
    Role::Admin,
    Role::Chief,
    Role::Organization,
];

/// The `SupervisionService` over a store.
#[derive(Debug, Clone)]
pub struct Supervision {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    calendars: Arc<CalendarBook>,
    commands: TicketCommands,
    feed: EventHub,
    rollups: Rollups,
    weights: Weights,
    lights: GridLights,
    /// How long other processes may take to see a switch of emergency mode (their
    /// reference cache's check interval): a switch carries over once more after it.
    reference_refresh: std::time::Duration,
    /// The overview's subdistrict trees, kept between snapshots.
    trees: Arc<overview::Trees>,
}

impl Supervision {
    /// `feed` is the process's live event hub (its reader already running); `rollups` the
    /// process's fold of the event log (the overview and evaluation read what it keeps).
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        calendars: Arc<CalendarBook>,
        feed: EventHub,
        rollups: Rollups,
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
            rollups,
            weights: Weights::default(),
            lights: GridLights::default(),
            reference_refresh: wuzhang_store::reference::DEFAULT_CHECK_EVERY,
            trees: Arc::default(),
        }
    }

    /// The processes' reference check interval (config `reference_refresh_ms`).
    pub fn with_reference_refresh(mut self, every: std::time::Duration) -> Self {
        self.reference_refresh = every;
        self
    }

    /// The city's weights for the composite score (checked by the configuration).
    pub fn with_weights(mut self, weights: Weights) -> Self {
        self.weights = weights;
        self
    }

    /// The city's thresholds of the grids' lights on the map (checked by the
    /// configuration).
    pub fn with_grid_lights(mut self, lights: GridLights) -> Self {
        self.lights = lights;
        self
    }

    /// Calls `f` after every change (live streams wake on it).
    pub fn on_change(mut self, f: impl Fn() + Send + Sync + 'static) -> Self {
        self.commands = self.commands.on_change(f);
        self
    }
}
