//! Tools that measure wuzhang against the obvious alternative on the same inputs in the
//! same run: the in-process grid index against PostGIS with a GiST index. The machine is
//! shared and noisy, so each tool reports ratios next to absolute times.
//!
//! Layout:
//! - [`postgis`]: a scratch schema with a grid table, bulk loading, and lookups by the
//!   same border rule as the index.
//! - [`server`]: a started `wuzhang serve` for the load tools (`submit-load`,
//!   `watch-load`).
//! - [`stats`]: latency summaries.
//! - [`lean`]: a gRPC load client without tonic's task crossings, for load that leaves
//!   the shared CPUs to the server.
//! - [`points`]: query points, random and spatially clustered.

pub mod lean;
pub mod points;
pub mod postgis;
pub mod server;
pub mod stats;
