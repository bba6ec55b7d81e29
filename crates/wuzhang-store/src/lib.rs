//! Everything wuzhang keeps: areas with geometry, the roster, categories, tickets with
//! their append-only events, timers and idempotency records. One [`Store`] trait, made of
//! one trait per entity ([`AreaStore`], [`RosterStore`], [`CategoryStore`],
//! [`TicketStore`], [`TimerStore`], [`IdempotencyStore`]), and two implementations:
//! PostgreSQL + PostGIS for production, SQLite as the embedded default. Both run the same
//! conformance suite (`tests/conformance/`, one file per entity).
//!
//! Callers hold an `Arc<dyn Store>`; on a concrete store or a generic `S: Store`, a part's
//! methods need its trait in scope: `use wuzhang_store::prelude::*;`.
//!
//! Layout:
//! - [`interface`]: the [`Store`] trait and its parts, one file each, every method
//!   documented; [`prelude`] brings them all into scope.
//! - [`model`]: records, queries, pages and the changes written in one transaction.
//! - [`error`]: [`StoreError`], classified by what the caller can do.
//! - [`postgres`]: PostgreSQL + PostGIS (`migrations/postgres`).
//! - [`sqlite`]: SQLite with geometry as WKB (`migrations/sqlite`).
//! - [`connect`](mod@connect): open a store from a URL ([`connect()`], [`redact`]).
//! - [`clocks`]: what a ticket's clock effect reads before it becomes timers.
//! - [`reference`](mod@reference): [`ReferenceCache`], the roster and categories cached in front of a
//!   store, following its change counters.
//!
//! Private helpers shared by both backends, so they accept, refuse and return the same
//! values: `codec` (rows ↔ domain values), `validate` (rules checked before writing),
//! `query` (the list and count queries, generic over the database, each backend's
//! differences told by its `Dialect`), `token` (page tokens), and `group_commit`
//! (concurrent new tickets written together).

pub mod clocks;
mod codec;
pub mod connect;
pub mod error;
mod firing;
mod group_commit;
pub mod interface;
pub mod model;
pub mod postgres;
mod query;
pub mod reference;
pub mod sqlite;
mod token;
mod validate;

pub use clocks::ClockReadings;
pub use connect::{connect, redact};
pub use error::{Result, StoreError};
pub use interface::{
    AreaStore, Backend, CampaignStore, CategoryStore, EmergencyStore, FnHandler, IdempotencyStore,
    RollupStore, RosterStore, Store, TicketStore, TimerHandler, TimerStore,
};

/// The store traits, for `use wuzhang_store::prelude::*;`: [`Store`] and every part of it,
/// whose methods can only be called with the part's trait in scope.
pub mod prelude {
    pub use crate::interface::{
        AreaStore, CampaignStore, CategoryStore, EmergencyStore, IdempotencyStore,
        OrganizationStore, RollupStore, RosterStore, Store, TicketStore, TimerStore,
    };
}
pub use model::*;
pub use postgres::PostgresStore;
pub use reference::ReferenceCache;
pub use sqlite::SqliteStore;
pub use token::{code_page_after, code_page_token};
