//! Telemetry of the coordinator and the worker (S-14): every metric name in
//! one place, `vlbench_` prefix, labels from small fixed sets (node ids are
//! one per worker process; query types, error classes and results are fixed
//! lists). Handles are created once, outside any per-request path.
//!
//! Names as exposed, and the source design's names they stand for:
//!
//! | exposed | source (S-14) |
//! |---|---|
//! | `vlbench_coordinator_active_nodes` | `coordinator_active_nodes_total` (a gauge, so no `_total`) |
//! | `vlbench_coordinator_qps` | `coordinator_total_qps` |
//! | `vlbench_coordinator_task_duration_seconds` | `coordinator_task_duration_seconds` |
//! | `vlbench_coordinator_running_tasks` | (added) |
//! | `vlbench_coordinator_reports_total{result}` | (added) |
//! | `vlbench_worker_query_duration_seconds{node,query_type}` | `worker_query_duration_seconds` |
//! | `vlbench_worker_query_errors_total{node,error_type}` | `worker_query_errors_total` |
//! | `vlbench_worker_active_connections{node}` | `worker_active_connections` (requests in flight) |
//! | `vlbench_worker_reports_dropped_total{node}` | (added) |
//!
//! Must not: be touched per request. Workers feed their metrics once per
//! interval report, from its histograms.

use std::sync::atomic::AtomicU64;
use std::sync::Mutex;

use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::Registry;
use vlbench_stats::{ErrorClass, IntervalStats};

/// Exposed metric names. Counters are registered without `_total`, which
/// the encoder appends.
pub mod names {
    /// Gauge: nodes heard from within the heartbeat timeout.
    pub const COORDINATOR_ACTIVE_NODES: &str = "vlbench_coordinator_active_nodes";
    /// Gauge: completed requests per second over the live window, all tasks.
    pub const COORDINATOR_QPS: &str = "vlbench_coordinator_qps";
    /// Histogram: wall time of finished tasks, seconds.
    pub const COORDINATOR_TASK_DURATION: &str = "vlbench_coordinator_task_duration_seconds";
    /// Gauge: tasks in `running` state.
    pub const COORDINATOR_RUNNING_TASKS: &str = "vlbench_coordinator_running_tasks";
    /// Counter (`_total`): reports by result (accepted, duplicate, rejected).
    pub const COORDINATOR_REPORTS: &str = "vlbench_coordinator_reports";
    /// Counter (`_total`): heartbeats by how they came (`heartbeat`
    /// request, or a running `report` that carried the assignment version).
    pub const COORDINATOR_HEARTBEATS: &str = "vlbench_coordinator_heartbeats";
    /// Histogram: request latency by node and query type, seconds.
    pub const WORKER_QUERY_DURATION: &str = "vlbench_worker_query_duration_seconds";
    /// Counter (`_total`): failed requests by node and error class.
    pub const WORKER_QUERY_ERRORS: &str = "vlbench_worker_query_errors";
    /// Gauge: requests in flight to the target (one connection each at most).
    pub const WORKER_ACTIVE_CONNECTIONS: &str = "vlbench_worker_active_connections";
    /// Counter (`_total`): interval reports dropped because the unsent
    /// buffer was full (the coordinator was unreachable too long).
    pub const WORKER_REPORTS_DROPPED: &str = "vlbench_worker_reports_dropped";
}

/// Label of the reports counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    /// accepted, duplicate or rejected.
    pub result: &'static str,
}

/// Label of the heartbeats counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ViaLabel {
    /// heartbeat or report.
    pub via: &'static str,
}

/// The coordinator's metrics.
pub struct CoordinatorMetrics {
    /// See [`names::COORDINATOR_ACTIVE_NODES`].
    pub active_nodes: Gauge,
    /// See [`names::COORDINATOR_QPS`].
    pub qps: Gauge<f64, AtomicU64>,
    /// See [`names::COORDINATOR_RUNNING_TASKS`].
    pub running_tasks: Gauge,
    /// See [`names::COORDINATOR_TASK_DURATION`].
    pub task_duration: Histogram,
    /// See [`names::COORDINATOR_REPORTS`].
    pub reports: Family<ResultLabel, Counter>,
    /// See [`names::COORDINATOR_HEARTBEATS`].
    pub heartbeats: Family<ViaLabel, Counter>,
    registry: Registry,
}

impl CoordinatorMetrics {
    /// Creates and registers every coordinator metric.
    pub fn new() -> CoordinatorMetrics {
        let mut registry = Registry::default();
        let active_nodes = Gauge::default();
        let qps = Gauge::<f64, AtomicU64>::default();
        let running_tasks = Gauge::default();
        let task_duration = Histogram::new(exponential_buckets(1.0, 2.0, 14));
        let reports = Family::<ResultLabel, Counter>::default();
        let heartbeats = Family::<ViaLabel, Counter>::default();
        registry.register(
            names::COORDINATOR_ACTIVE_NODES,
            "Worker nodes heard from within the heartbeat timeout",
            active_nodes.clone(),
        );
        registry.register(
            names::COORDINATOR_QPS,
            "Completed requests per second over the last 10 s, all running benchmarks",
            qps.clone(),
        );
        registry.register(
            names::COORDINATOR_RUNNING_TASKS,
            "Benchmarks in running state",
            running_tasks.clone(),
        );
        registry.register(
            names::COORDINATOR_TASK_DURATION,
            "Wall time of finished benchmarks",
            task_duration.clone(),
        );
        registry.register(
            names::COORDINATOR_REPORTS,
            "Worker interval reports by result",
            reports.clone(),
        );
        registry.register(
            names::COORDINATOR_HEARTBEATS,
            "Heartbeats by how they came: heartbeat requests, or running reports that carried the assignment version",
            heartbeats.clone(),
        );
        CoordinatorMetrics {
            active_nodes,
            qps,
            running_tasks,
            task_duration,
            reports,
            heartbeats,
            registry,
        }
    }

    /// Counts one report by result.
    pub fn report(&self, result: &'static str) {
        self.reports.get_or_create(&ResultLabel { result }).inc();
    }

    /// Counts one heartbeat by how it came (`heartbeat` or `report`).
    pub fn heartbeat(&self, via: &'static str) {
        self.heartbeats.get_or_create(&ViaLabel { via }).inc();
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        encode(&self.registry)
    }
}

impl Default for CoordinatorMetrics {
    fn default() -> Self {
        CoordinatorMetrics::new()
    }
}

fn encode(registry: &Registry) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, registry);
    out
}

/// Upper bounds (seconds) of the worker's latency histogram buckets.
const LATENCY_BOUNDS: [f64; 15] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// A Prometheus histogram fed from HdrHistograms a whole interval at a time
/// (prometheus-client's own histogram takes one observation per call).
#[derive(Debug, Default)]
pub struct HdrBuckets {
    inner: Mutex<BucketCounts>,
}

#[derive(Debug, Default)]
struct BucketCounts {
    sum: f64,
    count: u64,
    /// Per bound, then one for +Inf.
    buckets: [u64; LATENCY_BOUNDS.len() + 1],
}

impl HdrBuckets {
    /// Adds every value of `h` (microseconds).
    pub fn add(&self, h: &vlbench_stats::Histogram<u64>) {
        let Ok(mut c) = self.inner.lock() else { return };
        for v in h.iter_recorded() {
            let secs = v.value_iterated_to() as f64 / 1e6;
            let n = v.count_at_value();
            let i = LATENCY_BOUNDS
                .iter()
                .position(|&b| secs <= b)
                .unwrap_or(LATENCY_BOUNDS.len());
            c.buckets[i] += n;
            c.count += n;
            c.sum += secs * n as f64;
        }
    }
}

impl TypedMetric for HdrBuckets {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for HdrBuckets {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let Ok(c) = self.inner.lock() else {
            return Ok(());
        };
        let mut buckets: Vec<(f64, u64)> = LATENCY_BOUNDS.iter().copied().zip(c.buckets).collect();
        buckets.push((f64::MAX, c.buckets[LATENCY_BOUNDS.len()]));
        encoder.encode_histogram::<NoLabelSet>(c.sum, c.count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

/// Labels of the worker's per-query-type latency.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueryTypeLabels {
    /// This worker's node id.
    pub node: String,
    /// One of the VictoriaLogs query types.
    pub query_type: &'static str,
}

/// Labels of the worker's error counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// This worker's node id.
    pub node: String,
    /// One of the error classes.
    pub error_type: &'static str,
}

/// Labels carrying only the node id.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NodeLabel {
    /// This worker's node id.
    pub node: String,
}

/// The worker's metrics.
pub struct WorkerMetrics {
    node: String,
    duration: Family<QueryTypeLabels, HdrBuckets>,
    errors: Family<ErrorLabels, Counter>,
    active: Family<NodeLabel, Gauge>,
    dropped: Family<NodeLabel, Counter>,
    in_flight: Mutex<i64>,
    registry: Registry,
}

impl WorkerMetrics {
    /// Creates and registers every worker metric for node `node`.
    pub fn new(node: &str) -> WorkerMetrics {
        let mut registry = Registry::default();
        let duration = Family::<QueryTypeLabels, HdrBuckets>::default();
        let errors = Family::<ErrorLabels, Counter>::default();
        let active = Family::<NodeLabel, Gauge>::default();
        let dropped = Family::<NodeLabel, Counter>::default();
        registry.register(
            names::WORKER_QUERY_DURATION,
            "Request latency by query type (from the intended send time)",
            duration.clone(),
        );
        registry.register(
            names::WORKER_QUERY_ERRORS,
            "Failed requests by error class",
            errors.clone(),
        );
        registry.register(
            names::WORKER_ACTIVE_CONNECTIONS,
            "Requests in flight to the target",
            active.clone(),
        );
        registry.register(
            names::WORKER_REPORTS_DROPPED,
            "Interval reports dropped while the coordinator was unreachable",
            dropped.clone(),
        );
        let node = node.to_string();
        active
            .get_or_create(&NodeLabel { node: node.clone() })
            .set(0);
        WorkerMetrics {
            node,
            duration,
            errors,
            active,
            dropped,
            in_flight: Mutex::new(0),
            registry,
        }
    }

    /// Feeds one interval; `query_types[q]` names query `q`'s type.
    pub fn observe(&self, stats: &IntervalStats, query_types: &[&'static str]) {
        for (q, s) in stats.queries.iter().enumerate() {
            let query_type = query_types.get(q).copied().unwrap_or("query");
            let labels = QueryTypeLabels {
                node: self.node.clone(),
                query_type,
            };
            self.duration.get_or_create(&labels).add(&s.latency);
        }
        let total = stats.total();
        for class in ErrorClass::ALL {
            let n = total.errors[class.index()];
            if n > 0 {
                let labels = ErrorLabels {
                    node: self.node.clone(),
                    error_type: class.as_str(),
                };
                self.errors.get_or_create(&labels).inc_by(n);
            }
        }
        if let Ok(mut f) = self.in_flight.lock() {
            let l = &stats.ledger;
            *f = (*f + l.sent as i64 - l.completed as i64).max(0);
            self.active
                .get_or_create(&NodeLabel {
                    node: self.node.clone(),
                })
                .set(*f);
        }
    }

    /// Resets the in-flight gauge when a run ends.
    pub fn run_ended(&self) {
        if let Ok(mut f) = self.in_flight.lock() {
            *f = 0;
        }
        self.active
            .get_or_create(&NodeLabel {
                node: self.node.clone(),
            })
            .set(0);
    }

    /// Counts reports dropped from a full buffer.
    pub fn reports_dropped(&self, n: u64) {
        self.dropped
            .get_or_create(&NodeLabel {
                node: self.node.clone(),
            })
            .inc_by(n);
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        encode(&self.registry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vlbench_stats::Outcome;

    #[test]
    fn worker_metrics_expose_latency_errors_and_in_flight() {
        let m = WorkerMetrics::new("w1");
        let mut stats = IntervalStats::new(2);
        for (q, lat, err) in [
            (0, 2_000, None),
            (0, 700_000, None),
            (1, 3_000, Some(ErrorClass::Timeout)),
        ] {
            stats.queries[q].record(&Outcome {
                query: q,
                latency_us: lat,
                service_us: lat,
                status: if err.is_some() { 0 } else { 200 },
                error: err,
                bytes: 0,
                rows: 0,
            });
        }
        stats.ledger.sent = 5;
        stats.ledger.completed = 3;
        m.observe(&stats, &["query", "stats"]);
        let text = m.encode();
        assert!(
            text.contains(
                r#"vlbench_worker_query_duration_seconds_count{node="w1",query_type="query"} 2"#
            ),
            "{text}"
        );
        assert!(text.contains(r#"vlbench_worker_query_duration_seconds_bucket{le="0.0025",node="w1",query_type="query"} 1"#)
            || text.contains(r#"vlbench_worker_query_duration_seconds_bucket{node="w1",query_type="query",le="0.0025"} 1"#), "{text}");
        assert!(
            text.contains(r#"vlbench_worker_query_errors_total{node="w1",error_type="timeout"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"vlbench_worker_active_connections{node="w1"} 2"#),
            "{text}"
        );
    }

    #[test]
    fn coordinator_metrics_use_the_documented_names() {
        let m = CoordinatorMetrics::new();
        m.active_nodes.set(3);
        m.report("accepted");
        m.task_duration.observe(12.0);
        let text = m.encode();
        for name in [
            "vlbench_coordinator_active_nodes 3",
            "vlbench_coordinator_reports_total{result=\"accepted\"} 1",
            "vlbench_coordinator_task_duration_seconds_count 1",
            "vlbench_coordinator_qps",
            "vlbench_coordinator_running_tasks",
        ] {
            assert!(text.contains(name), "{name} missing in\n{text}");
        }
    }
}
