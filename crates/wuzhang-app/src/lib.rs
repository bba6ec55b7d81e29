//! The application layer every channel shares (gRPC today, HTTP/JSON next): what a call
//! does once its transport has decoded it and authenticated the caller. [`ApiError`], the
//! one error type, classified by what the caller can do; the role check at each door; the
//! checks every request makes (request ids, pages); idempotency; the one runner for every
//! command on a ticket; the reads several services share. Nothing here knows tonic: each
//! edge maps [`ApiError`] once (`wuzhang-rpc` to `tonic::Status`).
//!
//! Layout:
//! - [`access`]: which roles an RPC admits.
//! - [`categories`]: category listings with the usual filters.
//! - [`chain`]: the chain above a ticket, read from the store.
//! - [`command`]: one command on one ticket, as every mutating ticket RPC runs it.
//! - [`error`]: [`ApiError`], its conversions from domain and store errors, and the HTTP
//!   status for each.
//! - [`idempotency`]: a retried mutation gets its first answer.
//! - [`organizations`]: organizations beside the chain: whom they serve, their holdings
//!   and their staff.
//! - [`request`]: checks on fields every API shares.
//! - [`rollups`]: the event log folded into evaluation rollups and dashboard counts.

pub mod access;
pub mod categories;
pub mod chain;
pub mod command;
pub mod emergency;
pub mod error;
pub mod idempotency;
pub mod organizations;
pub mod request;
pub mod rollups;

pub use error::ApiError;
