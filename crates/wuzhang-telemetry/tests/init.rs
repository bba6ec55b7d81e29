//! `init` installs process-global state, so its checks run in this binary of their own,
//! in one test, in order.

use wuzhang_telemetry::{LogFormat, TelemetryConfig, TelemetryError, init};

#[test]
fn init_installs_once_and_refuses_again() {
    let config = TelemetryConfig {
        log_format: LogFormat::Json,
        filter: "warn".into(),
        // Building the exporter does not connect; nothing is exported at this level.
        otlp_endpoint: Some("http://127.0.0.1:4317".into()),
        ..TelemetryConfig::new("wuzhang-test")
    };

    // The gRPC exporter needs a runtime; without one, a clear error and no panic.
    assert!(matches!(
        init(config.clone()),
        Err(TelemetryError::NoRuntime)
    ));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let guard = init(config.clone()).expect("first init");
        assert!(matches!(
            init(config.clone()),
            Err(TelemetryError::AlreadyInitialized)
        ));
        assert!(matches!(
            init(TelemetryConfig::new("again")),
            Err(TelemetryError::AlreadyInitialized)
        ));
        drop(guard);
    });
}
