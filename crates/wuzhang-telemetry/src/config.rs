//! What telemetry to set up, usually read from the environment.

use std::fmt;
use std::str::FromStr;

/// The log filter when `RUST_LOG` is not set: our own `info`, without sqlx's per-query
/// lines.
pub const DEFAULT_FILTER: &str = "info,sqlx=warn";

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// One human-readable line per event, for terminals and `journalctl`.
    #[default]
    Text,
    /// One JSON object per event, for log collectors.
    Json,
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!(
                "unknown log format {other:?}: expected text or json"
            )),
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelemetryConfig {
    /// `service.name` on exported spans, so a collector can tell the processes apart.
    pub service_name: String,
    pub log_format: LogFormat,
    /// An `EnvFilter` directive such as [`DEFAULT_FILTER`]; it also decides which spans
    /// are exported.
    pub filter: String,
    /// OTLP/gRPC collector endpoint (e.g. `http://otel-collector:4317`); no span export
    /// when `None`.
    pub otlp_endpoint: Option<String>,
}

impl TelemetryConfig {
    /// Text logs with [`DEFAULT_FILTER`] and no export.
    pub fn new(service_name: impl Into<String>) -> Self {
        Self {
            service_name: service_name.into(),
            log_format: LogFormat::Text,
            filter: DEFAULT_FILTER.to_owned(),
            otlp_endpoint: None,
        }
    }

    /// From `RUST_LOG` (the filter), `WUZHANG_LOG_FORMAT` (`text` or `json`) and
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`. Empty variables count as unset (as OpenTelemetry
    /// specifies); an unknown log format falls back to text rather than losing the logs
    /// that would report it.
    pub fn from_env(service_name: impl Into<String>) -> Self {
        Self::from_lookup(service_name, |name| std::env::var(name).ok())
    }

    fn from_lookup(
        service_name: impl Into<String>,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Self {
        let var = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let defaults = Self::new(service_name);
        Self {
            log_format: var("WUZHANG_LOG_FORMAT")
                .and_then(|v| v.parse().ok())
                .unwrap_or(defaults.log_format),
            filter: var("RUST_LOG").unwrap_or(defaults.filter),
            otlp_endpoint: var("OTEL_EXPORTER_OTLP_ENDPOINT").map(|v| v.trim().to_owned()),
            service_name: defaults.service_name,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(vars: &[(&str, &str)]) -> TelemetryConfig {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        TelemetryConfig::from_lookup("wuzhang", |name| vars.get(name).cloned())
    }

    #[test]
    fn defaults_without_environment() {
        assert_eq!(from(&[]), TelemetryConfig::new("wuzhang"));
        assert_eq!(
            from(&[]),
            TelemetryConfig {
                service_name: "wuzhang".into(),
                log_format: LogFormat::Text,
                filter: "info,sqlx=warn".into(),
                otlp_endpoint: None,
            }
        );
    }

    #[test]
    fn environment_overrides() {
        let c = from(&[
            ("RUST_LOG", "debug,h2=warn"),
            ("WUZHANG_LOG_FORMAT", "JSON"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", " http://collector:4317 "),
        ]);
        assert_eq!(c.filter, "debug,h2=warn");
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.otlp_endpoint.as_deref(), Some("http://collector:4317"));
    }

    #[test]
    fn empty_variables_count_as_unset() {
        let c = from(&[
            ("RUST_LOG", ""),
            ("WUZHANG_LOG_FORMAT", " "),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", ""),
        ]);
        assert_eq!(c, TelemetryConfig::new("wuzhang"));
    }

    #[test]
    fn log_formats_parse_by_name() {
        assert_eq!("text".parse(), Ok(LogFormat::Text));
        assert_eq!(" Json".parse(), Ok(LogFormat::Json));
        assert!("yaml".parse::<LogFormat>().is_err());
        assert_eq!(
            from(&[("WUZHANG_LOG_FORMAT", "yaml")]).log_format,
            LogFormat::Text
        );
        assert_eq!(LogFormat::Json.to_string(), "json");
    }
}
