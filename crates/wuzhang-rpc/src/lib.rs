//! The gRPC edge every service shares: [`ApiError`], the one error type handlers return,
//! classified by what the caller can do and mapped to `tonic::Status` (with
//! `google.rpc.BadRequest` details naming the bad field) in exactly one place; and the
//! small checks every request makes (request ids, page sizes).
//!
//! Layout:
//! - [`access`]: which roles an RPC admits.
//! - [`categories`]: category listings with the usual filters.
//! - [`chain`]: the chain above a ticket, read from the store.
//! - [`command`]: one command on one ticket, as every mutating ticket RPC runs it.
//! - [`error`]: [`ApiError`], its conversions from domain and store errors, and the
//!   mappings to gRPC and HTTP status.
//! - [`idempotency`]: a retried mutation gets its first answer.
//! - [`request`]: checks on fields every API shares.

pub mod access;
pub mod categories;
pub mod chain;
pub mod command;
pub mod error;
pub mod idempotency;
pub mod request;

pub use error::ApiError;
