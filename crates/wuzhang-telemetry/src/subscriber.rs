//! The process-wide subscriber: filter, log output and, when configured, OTLP export.

use std::io::IsTerminal as _;
use std::sync::Once;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

use crate::config::{DEFAULT_FILTER, LogFormat, TelemetryConfig};

/// Instrumentation scope of the spans we export.
const TRACER_NAME: &str = "wuzhang";

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// A global subscriber is already installed (by an earlier [`init`] or by
    /// [`init_for_tests`]); the first one stays.
    #[error("telemetry is already initialized in this process")]
    AlreadyInitialized,
    #[error("invalid log filter {filter:?}")]
    InvalidFilter {
        filter: String,
        source: tracing_subscriber::filter::ParseError,
    },
    #[error("cannot build the otlp exporter")]
    Exporter(#[source] opentelemetry_otlp::ExporterBuildError),
    /// The gRPC exporter's channel lives on the Tokio runtime.
    #[error("otlp export needs a tokio runtime: call init from inside one")]
    NoRuntime,
}

/// Keeps span export running; dropping it flushes buffered spans and shuts the exporter
/// down (waiting at most the SDK's shutdown timeout for the collector).
///
/// Drop it on a multi-thread Tokio runtime or outside any runtime: on a current-thread
/// runtime the flush blocks the only thread the exporter's channel could run on, and
/// spans are lost after the timeout.
#[derive(Debug)]
#[must_use = "dropping the guard stops span export"]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(err) = provider.shutdown()
        {
            tracing::warn!(error = %err, "span export did not shut down cleanly");
        }
    }
}

/// Installs the global subscriber: `config.filter` as an `EnvFilter`, log lines on
/// stderr (stdout stays free for what commands print), and, when `config.otlp_endpoint`
/// is set, span export over OTLP/gRPC through a batch processor. Sets the W3C
/// TraceContext propagator globally either way.
///
/// Call once, early, and inside a Tokio runtime when export is configured. A second call
/// returns [`TelemetryError::AlreadyInitialized`] and changes nothing.
pub fn init(config: TelemetryConfig) -> Result<TelemetryGuard, TelemetryError> {
    let filter =
        EnvFilter::try_new(&config.filter).map_err(|source| TelemetryError::InvalidFilter {
            filter: config.filter.clone(),
            source,
        })?;
    // Checked again (atomically) by `try_init` below; this early look only avoids
    // building an exporter we would throw away.
    if tracing::dispatcher::has_been_set() {
        return Err(TelemetryError::AlreadyInitialized);
    }
    let provider = match &config.otlp_endpoint {
        Some(endpoint) => Some(otlp_provider(&config.service_name, endpoint)?),
        None => None,
    };

    let ansi = std::io::stderr().is_terminal();
    let logs = match config.log_format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(ansi)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .boxed(),
    };
    let export = provider.as_ref().map(|p| {
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer(TRACER_NAME))
            .with_filter(not_exporter_internals())
    });

    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(logs)
        .with(export)
        .try_init();
    if installed.is_err() {
        if let Some(provider) = provider {
            // Nothing was exported through it; this only stops its worker thread.
            let _ = provider.shutdown();
        }
        return Err(TelemetryError::AlreadyInitialized);
    }

    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    if let Some(provider) = &provider {
        opentelemetry::global::set_tracer_provider(provider.clone());
    }
    tracing::debug!(
        service = %config.service_name,
        format = %config.log_format,
        otlp = config.otlp_endpoint.as_deref().unwrap_or("off"),
        "telemetry initialized"
    );
    Ok(TelemetryGuard { provider })
}

fn otlp_provider(service_name: &str, endpoint: &str) -> Result<SdkTracerProvider, TelemetryError> {
    // tonic's lazy channel spawns its worker on the current runtime and would panic
    // without one.
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(TelemetryError::NoRuntime);
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .build()
        .map_err(TelemetryError::Exporter)?;
    let resource = Resource::builder()
        .with_service_name(service_name.to_owned())
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

/// Keeps the exporter's own machinery out of the export: with a verbose `RUST_LOG`, the
/// HTTP/2 and gRPC spans of sending a batch would otherwise be exported in the next
/// batch, and so on forever.
fn not_exporter_internals() -> Targets {
    Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_target("opentelemetry", LevelFilter::OFF)
        .with_target("h2", LevelFilter::OFF)
        .with_target("hyper", LevelFilter::OFF)
        .with_target("tonic::transport", LevelFilter::OFF)
        .with_target("tower::buffer", LevelFilter::OFF)
}

/// Logging for tests: silent unless `TEST_LOG` is set, then to the test writer (so
/// `cargo test` shows it with the failing test) filtered by `RUST_LOG` or
/// [`DEFAULT_FILTER`]. Also sets the W3C propagator. Safe to call from every test.
pub fn init_for_tests() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        if std::env::var_os("TEST_LOG").is_some() {
            let filter = std::env::var("RUST_LOG")
                .ok()
                .and_then(|f| EnvFilter::try_new(f).ok())
                .unwrap_or_else(|| EnvFilter::new(DEFAULT_FILTER));
            // Another harness may have installed a subscriber already; theirs wins.
            let _ = tracing_subscriber::registry()
                .with(filter)
                .with(tracing_subscriber::fmt::layer().with_test_writer())
                .try_init();
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_filter_is_refused_before_anything_is_installed() {
        let config = TelemetryConfig {
            filter: "info,[unclosed".into(),
            ..TelemetryConfig::new("wuzhang-test")
        };
        let err = init(config).unwrap_err();
        assert!(
            matches!(&err, TelemetryError::InvalidFilter { filter, .. } if filter == "info,[unclosed"),
            "{err:?}"
        );
    }

    #[test]
    fn init_for_tests_is_idempotent() {
        init_for_tests();
        init_for_tests();
    }

    #[test]
    fn exporter_internals_are_not_exported() {
        let targets = not_exporter_internals();
        assert!(!targets.would_enable("h2::proto", &tracing::Level::ERROR));
        assert!(!targets.would_enable("opentelemetry_sdk::trace", &tracing::Level::INFO));
        assert!(!targets.would_enable("hyper_util::client", &tracing::Level::INFO));
        assert!(targets.would_enable("wuzhang::server", &tracing::Level::TRACE));
        assert!(targets.would_enable("tower_http::trace", &tracing::Level::INFO));
    }
}
