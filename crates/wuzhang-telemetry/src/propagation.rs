//! W3C trace context (`traceparent`, `tracestate`) carried in gRPC metadata and HTTP
//! headers, so one report's trace runs through every service it touches.
//!
//! Both directions go through the global propagator, which [`init`](crate::init) (and
//! [`init_for_tests`](crate::init_for_tests)) set to W3C TraceContext; before that they do
//! nothing, which is also what an unconfigured process wants.

use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector};
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// Client side: writes the current `tracing` span's trace context into the metadata of an
/// outgoing call (`tonic::Request::metadata_mut()`), so the callee's span joins the trace.
pub fn inject_context(metadata: &mut MetadataMap) {
    inject_context_from(&tracing::Span::current().context(), metadata);
}

/// As [`inject_context`], from an explicit OpenTelemetry context.
pub fn inject_context_from(cx: &Context, metadata: &mut MetadataMap) {
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(cx, &mut MetadataInjector(metadata));
    });
}

/// Server side: the caller's trace context from the request headers (an empty context if
/// none came), to parent the RPC span with `OpenTelemetrySpanExt::set_parent`, e.g. in
/// tonic's `Server::builder().trace_fn(..)`.
pub fn extract_context(headers: &http::HeaderMap) -> Context {
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&HeaderExtractor(headers))
    })
}

struct MetadataInjector<'a>(&'a mut MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        // Propagators emit lowercase ASCII names and printable values; anything else is
        // dropped rather than failing the call it rides on.
        if let (Ok(key), Ok(value)) = (
            MetadataKey::from_bytes(key.as_bytes()),
            MetadataValue::try_from(value),
        ) {
            self.0.insert(key, value);
        }
    }
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tracing_subscriber::layer::SubscriberExt as _;

    #[test]
    fn trace_id_survives_a_hop() {
        crate::init_for_tests();
        // An SDK provider without exporter: spans get real ids and go nowhere.
        let provider = SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));

        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("client call");
            let _entered = span.enter();
            let sent = span.context().span().span_context().clone();
            assert!(sent.is_valid());

            let mut metadata = MetadataMap::new();
            inject_context(&mut metadata);
            let traceparent = metadata.get("traceparent").expect("traceparent sent");
            assert!(
                traceparent
                    .to_str()
                    .unwrap()
                    .contains(&sent.trace_id().to_string())
            );

            let headers = metadata.into_headers();
            let received = extract_context(&headers);
            let parent = received.span().span_context().clone();
            assert_eq!(parent.trace_id(), sent.trace_id());
            assert_eq!(parent.span_id(), sent.span_id());
            assert!(parent.is_remote());

            // The server's span, parented on what arrived, continues the same trace.
            let server = tracing::info_span!("server call");
            server.set_parent(received).unwrap();
            assert_eq!(
                server.context().span().span_context().trace_id(),
                sent.trace_id()
            );
        });
    }

    #[test]
    fn no_headers_means_no_parent() {
        crate::init_for_tests();
        let cx = extract_context(&http::HeaderMap::new());
        assert!(!cx.span().span_context().is_valid());
    }

    #[test]
    fn outside_any_span_nothing_is_injected() {
        crate::init_for_tests();
        let mut metadata = MetadataMap::new();
        inject_context(&mut metadata);
        assert!(metadata.get("traceparent").is_none());
    }
}
