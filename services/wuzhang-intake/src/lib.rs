//! A resident reports a problem and follows it: submit, get, list, watch, cancel, rate,
//! upload photos; over gRPC (`wuzhang.v1.IntakeService`) and, through the same core, over
//! Open311 GeoReport v2.
//!
//! Layout:
//! - [`core`]: [`IntakeCore`], what intake does for any transport: checks, duplicate
//!   merging, routing to the first chief, deadlines, and scope (a resident sees their own
//!   tickets and those they follow; anything else is NOT_FOUND).
//! - [`grpc`]: [`Intake`], the gRPC service.
//! - [`open311`]: [`open311::Open311Intake`], GeoReport v2 mapped onto the core.

pub mod core;
pub mod grpc;
pub mod open311;

pub use core::{IntakeConfig, IntakeCore};
pub use grpc::Intake;
