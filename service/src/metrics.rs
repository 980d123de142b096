//! Prometheus metrics of the query service: request latency by endpoint, answers by status,
//! and searches that found nothing.
//!
//! [`Metrics::local`] keeps its own registry (tests, several services in one process);
//! [`Metrics::global`] records through the process's `metrics` recorder, so `/metrics` also
//! shows what the indexer and rank job record. The binary installs that recorder once with
//! [`Metrics::install_global`].

use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::{
    BuildError, Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

/// Request latency, seconds, labelled `endpoint`.
pub const REQUEST_SECONDS: &str = "disco_http_request_duration_seconds";
/// Answers, labelled `endpoint` and `status`.
pub const REQUESTS: &str = "disco_http_requests_total";
/// Searches (non-empty text) that found nothing.
pub const ZERO_RESULTS: &str = "disco_search_zero_results_total";
/// Searches with non-empty text: the denominator of the zero-result rate.
pub const SEARCHES: &str = "disco_search_queries_total";
/// Searches that needed fuzzy fill-ins.
pub const FUZZY: &str = "disco_search_fuzzy_total";

/// Latency buckets from 100 µs to 2.5 s.
const BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// Where the service's metrics go and how `/metrics` renders them.
#[derive(Clone)]
pub struct Metrics {
    local: Option<Arc<PrometheusRecorder>>,
    handle: PrometheusHandle,
}

/// A Prometheus builder with the query service's histogram buckets.
pub fn builder() -> PrometheusBuilder {
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &BUCKETS)
        .unwrap_or_else(|_| PrometheusBuilder::new())
}

impl Metrics {
    /// Metrics in a registry of their own.
    pub fn local() -> Metrics {
        let recorder = builder().build_recorder();
        let handle = recorder.handle();
        Metrics {
            local: Some(Arc::new(recorder)),
            handle,
        }
    }

    /// Records through the process-wide recorder that `handle` renders (installed elsewhere).
    pub fn global(handle: PrometheusHandle) -> Metrics {
        Metrics {
            local: None,
            handle,
        }
    }

    /// Installs the process-wide recorder (once per process) and records through it.
    pub fn install_global() -> Result<Metrics, BuildError> {
        Ok(Metrics::global(builder().install_recorder()?))
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        self.handle.render()
    }

    fn record(&self, f: impl FnOnce()) {
        match &self.local {
            Some(recorder) => metrics::with_local_recorder(&**recorder, f),
            None => f(),
        }
    }

    pub(crate) fn request(&self, endpoint: &str, status: u16, took: Duration) {
        let endpoint = endpoint.to_string();
        self.record(|| {
            metrics::histogram!(REQUEST_SECONDS, "endpoint" => endpoint.clone())
                .record(took.as_secs_f64());
            metrics::counter!(REQUESTS, "endpoint" => endpoint, "status" => status.to_string())
                .increment(1);
        });
    }

    /// Adds `n` to counter `name`, with one label when given.
    pub(crate) fn count(
        &self,
        name: &'static str,
        label: Option<(&'static str, &'static str)>,
        n: u64,
    ) {
        self.record(|| match label {
            Some((key, value)) => metrics::counter!(name, key => value).increment(n),
            None => metrics::counter!(name).increment(n),
        });
    }

    pub(crate) fn searched(&self, found: u64, fuzzy: bool) {
        self.record(|| {
            metrics::counter!(SEARCHES).increment(1);
            if found == 0 {
                metrics::counter!(ZERO_RESULTS).increment(1);
            }
            if fuzzy {
                metrics::counter!(FUZZY).increment(1);
            }
        });
    }
}
