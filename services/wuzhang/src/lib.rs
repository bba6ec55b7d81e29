//! The `wuzhang` binary as a library, so tests can start exactly what the binary starts:
//! one process composing every service (or a subset) over one store.
//!
//! Layout:
//! - [`cli`]: the command line (`serve`, `migrate`, `token`).
//! - [`config`]: layered configuration (defaults, file, env, flags).
//! - [`app`]: opening the store and keys a configuration names.
//! - [`server`]: the gRPC server, run on a given listener until a shutdown future.
//! - [`test_clock`]: the process's clock (the wall clock, or a file's for scripted tests).

pub mod app;
pub mod cli;
pub mod config;
pub mod server;
pub mod socket;
pub mod test_clock;
