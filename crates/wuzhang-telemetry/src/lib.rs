//! Telemetry in one place: [`init`] builds the process's tracing subscriber (an
//! `EnvFilter` and text or JSON logs on stderr) and, when an OTLP endpoint is configured,
//! layers OpenTelemetry span export over gRPC on top. The W3C TraceContext propagator
//! carries one report's trace through every service it touches: clients call
//! [`inject_context`], servers parent their RPC span on [`extract_context`]. Tests call
//! [`init_for_tests`], which stays quiet unless `TEST_LOG` is set.
//!
//! Layout:
//! - [`config`]: [`TelemetryConfig`] and where it comes from (the environment).
//! - [`subscriber`]: [`init`], [`TelemetryGuard`] (flushes spans on drop) and
//!   [`init_for_tests`].
//! - [`propagation`]: W3C trace context in gRPC metadata and HTTP headers.

pub mod config;
pub mod propagation;
pub mod subscriber;

pub use config::{DEFAULT_FILTER, LogFormat, TelemetryConfig};
pub use propagation::{extract_context, inject_context, inject_context_from};
pub use subscriber::{TelemetryError, TelemetryGuard, init, init_for_tests};
