//! The [`Store`] trait: everything wuzhang keeps, behind one interface with a PostgreSQL +
//! PostGIS and a SQLite implementation. Both pass the same conformance suite
//! (`tests/conformance/`), so services never ask which one they have.
//!
//! [`Store`] is the sum of one trait per entity, so each part is read, implemented and
//! tested on its own while `Arc<dyn Store>` stays the one handle services pass around
//! (as InfluxDB IOx's `RepoCollection`). Calling a part's methods needs that trait in
//! scope: `use wuzhang_store::prelude::*;`.
//!
//! Layout:
//! - [`areas`]: [`AreaStore`], areas, their geometry and lineage, the area change counter.
//! - [`roster`]: [`RosterStore`], persons and posts.
//! - [`categories`]: [`CategoryStore`], categories and calendars.
//! - [`tickets`]: [`TicketStore`], tickets, their events, counts and the event feed.
//! - [`timers`]: [`TimerStore`], timers and firing them, with [`TimerHandler`].
//! - [`idempotency`]: [`IdempotencyStore`], records of requests already answered.
//! - [`campaigns`]: [`CampaignStore`], campaigns and their tasks.
//! - [`emergency`]: [`EmergencyStore`], emergency modes and their switches.
//! - [`organizations`]: [`OrganizationStore`], organizations beside the chain.
//! - [`rollups`]: [`RollupStore`], evaluation rollups, ledgers and dashboard counts
//!   folded from the event log.
//! - here: [`Store`] itself, with what concerns the store as a whole (which backend,
//!   migrations, health) or spans parts (the reference change counters, over the roster
//!   and categories).

use std::fmt::Debug;

use async_trait::async_trait;

use crate::error::Result;
use crate::model::ReferenceCounters;

pub mod areas;
pub mod campaigns;
pub mod categories;
pub mod emergency;
pub mod idempotency;
pub mod organizations;
pub mod rollups;
pub mod roster;
pub mod tickets;
pub mod timers;

pub use areas::AreaStore;
pub use campaigns::CampaignStore;
pub use categories::CategoryStore;
pub use emergency::EmergencyStore;
pub use idempotency::IdempotencyStore;
pub use organizations::OrganizationStore;
pub use rollups::RollupStore;
pub use roster::RosterStore;
pub use tickets::TicketStore;
pub use timers::{FnHandler, TimerHandler, TimerStore};

/// Which implementation a store is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// Everything wuzhang keeps: every part, and what concerns the store as a whole.
#[async_trait]
pub trait Store:
    AreaStore
    + RosterStore
    + CategoryStore
    + TicketStore
    + TimerStore
    + IdempotencyStore
    + RollupStore
    + CampaignStore
    + EmergencyStore
    + OrganizationStore
    + Send
    + Sync
    + Debug
    + 'static
{
    fn backend(&self) -> Backend;

    /// Applies the backend's pending migrations. Idempotent; run on start and by
    /// `wuzhang migrate`.
    async fn migrate(&self) -> Result<()>;

    /// Whether the database answers; for health checks.
    async fn ping(&self) -> Result<()>;

    // ---------------------------------------------------------------- reference changes

    /// Counters that grow with every roster change and every category change, each bumped
    /// in the transaction of the change: processes poll them to drop what they cached.
    async fn reference_change_counters(&self) -> Result<ReferenceCounters>;

    /// How many roster and category changes this store (and its clones) has committed
    /// since it was opened. Answered from memory: a cache in the same process compares it
    /// on every read and so sees its own process's changes at once, without a round trip.
    fn reference_writes_here(&self) -> u64;
}
