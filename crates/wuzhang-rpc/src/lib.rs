//! The gRPC edge: where a call's `wuzhang_app::ApiError` becomes a `tonic::Status`, in exactly one
//! place ([`status()`]), with `google.rpc.BadRequest` details naming each bad field. Every
//! service's handlers run their body through [`grpc`], so the body works in the
//! application's terms (`wuzhang-app`) and never builds a `Status` itself; [`caller`]
//! reads who the authenticator let in.
//!
//! Layout:
//! - [`status`](mod@status): the mapping, and [`grpc`] / [`caller`] for handlers.

pub mod status;

pub use status::{Failure, caller, code, grpc, status};
