//! Everything wuzhang keeps: areas with geometry, the roster, categories, tickets with
//! their append-only events, timers and idempotency records. One [`Store`] trait, two
//! implementations: PostgreSQL + PostGIS for production, SQLite as the embedded default.
//! Both run the same conformance suite (`tests/conformance.rs`).
//!
//! Layout:
//! - [`interface`]: the [`Store`] trait, every method documented.
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
//! values: `codec` (rows ↔ domain values), `validate` (rules checked before writing) and
//! `token` (page tokens), and `group_commit` (concurrent new tickets written together).

pub mod clocks;
mod codec;
pub mod connect;
pub mod error;
mod firing;
mod group_commit;
pub mod interface;
pub mod model;
pub mod postgres;
pub mod reference;
pub mod sqlite;
mod token;
mod validate;

pub use clocks::ClockReadings;
pub use connect::{connect, redact};
pub use error::{Result, StoreError};
pub use interface::{Backend, FnHandler, Store, TimerHandler};
pub use model::*;
pub use postgres::PostgresStore;
pub use reference::ReferenceCache;
pub use sqlite::SqliteStore;
