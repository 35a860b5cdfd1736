//! `report.prom`: the final figures in the Prometheus text exposition format
//! (0.0.4), for pushing to a Pushgateway or a textfile collector.
//!
//! Names are `vlbench_<name>_<unit>` with `_total` for counters; labels come
//! from small sets: `query` (workload query names), `class` (error classes,
//! every one listed), `status` (HTTP statuses seen) and, in distributed
//! runs, `node`, plus `quantile` on summaries. Per-query counters sum to the run's; run-wide percentiles are
//! their own families because percentiles cannot be summed. Times are in
//! seconds (Prometheus base unit), unlike the JSON's milliseconds.
//!
//! Must not: compute anything the model does not hold.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::model::{Metrics, Report};

/// Reads one figure of a [`Metrics`].
type Figure<T> = fn(&Metrics) -> T;

/// Quantiles of the run-wide and per-query latency summaries.
const QUANTILES: [(&str, Figure<f64>); 5] = [
    ("0.5", |m| m.p50_response_time),
    ("0.9", |m| m.p90_response_time),
    ("0.95", |m| m.p95_response_time),
    ("0.99", |m| m.p99_response_time),
    ("0.999", |m| m.p999_response_time),
];

/// Per-query counter families: name, help, value.
const QUERY_COUNTERS: [(&str, &str, Figure<u64>); 5] = [
    (
        "vlbench_queries_total",
        "Completed queries (ok and failed).",
        |m| m.total_queries,
    ),
    (
        "vlbench_queries_failed_total",
        "Queries that failed (any error class).",
        |m| m.failed_queries,
    ),
    (
        "vlbench_queries_dropped_total",
        "Arrivals dropped at max_in_flight (open model); not sent.",
        |m| m.dropped_queries,
    ),
    (
        "vlbench_response_bytes_total",
        "Response body bytes received.",
        |m| m.bytes,
    ),
    (
        "vlbench_response_rows_total",
        "JSON lines received in stream responses.",
        |m| m.rows,
    ),
];

/// The report's final figures as Prometheus text.
pub fn render_prom(report: &Report) -> String {
    let mut w = Writer::default();
    for (name, help, value) in QUERY_COUNTERS {
        w.family(name, help, "counter");
        for (q, m) in &report.queries {
            w.sample(name, &[("query", q)], value(m) as f64);
        }
    }
    w.family(
        "vlbench_query_qps",
        "Completed queries per second of the run, by query.",
        "gauge",
    );
    for (q, m) in &report.queries {
        w.sample("vlbench_query_qps", &[("query", q)], m.qps);
    }
    let name = "vlbench_query_response_time_seconds";
    w.family(
        name,
        "Response time by query, from the intended send time.",
        "summary",
    );
    for (q, m) in &report.queries {
        w.summary(name, &[("query", q)], m);
    }

    w.family(
        "vlbench_errors_total",
        "Failed queries by error class.",
        "counter",
    );
    for (class, n) in &report.errors.by_class {
        w.sample("vlbench_errors_total", &[("class", class)], *n as f64);
    }
    w.family(
        "vlbench_responses_total",
        "Responses by HTTP status.",
        "counter",
    );
    for (status, n) in &report.errors.status_codes {
        w.sample("vlbench_responses_total", &[("status", status)], *n as f64);
    }

    let m = &report.metrics;
    let name = "vlbench_response_time_seconds";
    w.family(
        name,
        "Response time of all queries, from the intended send time.",
        "summary",
    );
    w.summary(name, &[], m);
    w.gauge(
        "vlbench_response_time_max_seconds",
        "Highest response time.",
        m.max_response_time / 1000.0,
    );
    w.gauge(
        "vlbench_service_time_p99_seconds",
        "99th percentile of send-to-end-of-body time.",
        m.p99_service_time / 1000.0,
    );
    w.gauge(
        "vlbench_qps",
        "Completed queries per second of the run.",
        m.qps,
    );
    w.gauge(
        "vlbench_error_rate",
        "Failed over completed queries (0..1).",
        m.error_rate,
    );

    let s = &report.schedule;
    w.counter(
        "vlbench_schedule_planned_total",
        "Requests the schedule asked for.",
        s.planned,
    );
    w.counter("vlbench_schedule_sent_total", "Requests sent.", s.sent);
    w.counter(
        "vlbench_schedule_completed_total",
        "Requests finished.",
        s.completed,
    );
    w.counter(
        "vlbench_schedule_dropped_total",
        "Arrivals dropped at max_in_flight.",
        s.dropped,
    );
    w.gauge(
        "vlbench_schedule_achieved_ratio",
        "Sent over planned requests.",
        s.achieved,
    );
    w.gauge(
        "vlbench_schedule_lag_p99_seconds",
        "99th percentile of send lag behind the schedule.",
        s.lag_p99_ms / 1000.0,
    );
    w.gauge(
        "vlbench_schedule_lag_max_seconds",
        "Highest send lag behind the schedule.",
        s.lag_max_ms / 1000.0,
    );
    let bound = if s.generator_bound { 1.0 } else { 0.0 };
    w.gauge(
        "vlbench_generator_bound",
        "1 when the load generator could not keep up.",
        bound,
    );
    w.gauge(
        "vlbench_run_duration_seconds",
        "Length of the run.",
        report.meta.duration_secs,
    );
    if let Some(nodes) = &report.nodes {
        node_families(&mut w, nodes);
    }
    w.out
}

/// Per-node figures of a distributed run (label `node`).
fn node_families(w: &mut Writer, nodes: &BTreeMap<String, Metrics>) {
    w.family(
        "vlbench_node_queries_total",
        "Completed queries by node.",
        "counter",
    );
    for (node, m) in nodes {
        w.sample(
            "vlbench_node_queries_total",
            &[("node", node)],
            m.total_queries as f64,
        );
    }
    w.family(
        "vlbench_node_queries_failed_total",
        "Failed queries by node.",
        "counter",
    );
    for (node, m) in nodes {
        w.sample(
            "vlbench_node_queries_failed_total",
            &[("node", node)],
            m.failed_queries as f64,
        );
    }
    let name = "vlbench_node_response_time_seconds";
    w.family(
        name,
        "Response time by node, from the intended send time.",
        "summary",
    );
    for (node, m) in nodes {
        w.summary(name, &[("node", node)], m);
    }
}

#[derive(Default)]
struct Writer {
    out: String,
}

impl Writer {
    fn family(&mut self, name: &str, help: &str, kind: &str) {
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        // Writing to a String cannot fail; the fmt::Result is discarded here and below.
        let _ = writeln!(self.out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape_label(v));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {}", number(value));
    }

    fn gauge(&mut self, name: &str, help: &str, value: f64) {
        self.family(name, help, "gauge");
        self.sample(name, &[], value);
    }

    fn counter(&mut self, name: &str, help: &str, value: u64) {
        self.family(name, help, "counter");
        self.sample(name, &[], value as f64);
    }

    /// Quantile samples, `_sum` and `_count` of one latency summary.
    fn summary(&mut self, name: &str, labels: &[(&str, &str)], m: &Metrics) {
        for (q, value) in QUANTILES {
            let mut with_q = labels.to_vec();
            with_q.push(("quantile", q));
            self.sample(name, &with_q, value(m) / 1000.0);
        }
        let sum = m.avg_response_time * m.total_queries as f64 / 1000.0;
        self.sample(&format!("{name}_sum"), labels, sum);
        self.sample(&format!("{name}_count"), labels, m.total_queries as f64);
    }
}

fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A sample value as Prometheus writes it (`NaN`, `+Inf`, `-Inf` included).
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else {
        v.to_string()
    }
}
