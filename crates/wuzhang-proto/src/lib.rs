//! The wuzhang gRPC API (`wuzhang.v1`), generated at build time from `proto/wuzhang/v1/`
//! with protox and tonic-prost-build: the messages, a client and a server trait for each of
//! the five services, and the encoded file descriptor set that servers register with
//! tonic-reflection. Well-known types (`Timestamp`, `Duration`) are `prost_types`.
//!
//! Layout:
//! - [`v1`]: generated messages and enums; `v1::<service>_client` and
//!   `v1::<service>_server` modules for `IntakeService`, `RoutingService`,
//!   `EscalationService`, `SupervisionService` and `AdminService`.
//! - [`convert`]: conversions between `wuzhang-domain` types and the generated ones.
//! - [`FILE_DESCRIPTOR_SET`]: the descriptor set for reflection.

pub mod convert;

/// Generated code for package `wuzhang.v1`. Lints are relaxed here and nowhere else: the
/// code is prost's and tonic's, not ours (`clippy::restriction` covers the workspace's
/// opt-in lints such as `clone_on_ref_ptr`, which tonic's clients trip).
#[allow(
    clippy::all,
    clippy::pedantic,
    clippy::restriction,
    unreachable_pub,
    missing_debug_implementations,
    rust_2018_idioms
)]
pub mod v1 {
    tonic::include_proto!("wuzhang.v1");
}

/// The encoded `google.protobuf.FileDescriptorSet` of every file under `proto/`, with the
/// imported well-known types, for `tonic_reflection::server::Builder`
/// (`register_encoded_file_descriptor_set`).
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("wuzhang_descriptor");
