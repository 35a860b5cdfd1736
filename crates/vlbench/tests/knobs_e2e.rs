//! End-to-end tests of what vlbench measures when the target misbehaves on
//! purpose: stalls, mid-stream aborts, a fixed arrival rate. Real processes
//! on 127.0.0.1; the assertions are about classification and accounting,
//! with wide margins where time is involved.

mod common;

use std::time::Duration;

use common::{http_get, metric_sum, run_bench, start_target};
use serde_json::Value;

fn open_config(
    url: &str,
    rate: u32,
    duration: &str,
    in_flight: u32,
    queued: u32,
    query: &str,
) -> String {
    format!(
        r#"apiVersion: benchmark.victorialogs.io/v1
kind: BenchmarkConfig
metadata:
  name: e2e-open
spec:
  target:
    url: "{url}"
  workload:
    model: open
    target_qps: {rate}
    max_in_flight: {in_flight}
    max_queued: {queued}
    duration: {duration}
  queries:
    - name: q
      template: '{query}'
"#
    )
}

fn run_report(cfg_text: &str) -> (Value, tempfile::TempDir) {
    let (out, out_dir, dir) = run_bench(cfg_text, Duration::from_secs(90));
    assert!(
        out.status.success(),
        "vlbench run failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(out_dir.join("report.json")).expect("report.json");
    (serde_json::from_str(&text).expect("report json"), dir)
}

fn f(v: &Value, path: &[&str]) -> f64 {
    let mut cur = v;
    for p in path {
        cur = &cur[*p];
    }
    cur.as_f64()
        .unwrap_or_else(|| panic!("{path:?} is not a number in {v}"))
}

/// A target that stalls 1 s every 3 s. With few in-flight slots, arrivals
/// during a stall wait in vlbench's queue: latency from the intended send
/// time shows the stall, service time (from the real send) does not.
#[test]
fn open_model_latency_shows_a_stall_that_service_time_hides() {
    let (_target, addr) = start_target(&["--stall", "3s/1s"]);
    let (report, _dir) = run_report(&open_config(
        &format!("http://{addr}"),
        200,
        "7s",
        2,
        2000,
        "* | limit 1",
    ));
    let p99 = f(&report, &["metrics", "p99_response_time"]);
    let service_p99 = f(&report, &["metrics", "p99_service_time"]);
    assert!(p99 >= 500.0, "latency p99 {p99} ms must show the 1 s stall");
    assert!(
        service_p99 < 100.0,
        "service p99 {service_p99} ms must not (only the few in-flight requests wait)"
    );
    assert_eq!(f(&report, &["metrics", "failed_queries"]), 0.0);
}

/// A fixed arrival rate sends rate × duration requests (within 1 %),
/// whatever the answers do.
#[test]
fn open_model_sends_rate_times_duration() {
    let (_target, addr) = start_target(&[]);
    let (report, _dir) = run_report(&open_config(
        &format!("http://{addr}"),
        300,
        "4s",
        64,
        64,
        "* | limit 1",
    ));
    let expected = 300.0 * 4.0;
    let planned = f(&report, &["schedule", "planned"]);
    let total = f(&report, &["metrics", "total_queries"]);
    assert!(
        (planned - expected).abs() <= expected * 0.01,
        "planned {planned}"
    );
    assert!((total - expected).abs() <= expected * 0.01, "sent {total}");
    assert_eq!(f(&report, &["metrics", "dropped_queries"]), 0.0);
}

/// VictoriaLogs answers 200 and then cuts the stream when a query times out
/// mid-response: that is a `body` error, never a success. Every request is
/// still accounted for: reported total = served by the target.
#[test]
fn a_cut_stream_after_200_is_a_body_error() {
    let (_target, addr) = start_target(&["--abort-probability", "0.5", "--abort-after-rows", "3"]);
    let cfg = format!(
        r#"apiVersion: benchmark.victorialogs.io/v1
kind: BenchmarkConfig
metadata:
  name: e2e-abort
spec:
  target:
    url: "http://{addr}"
  workload:
    total_concurrent_users: 2
    duration: 2s
  queries:
    - name: many_rows
      template: '* | limit 200'
"#
    );
    let (report, _dir) = run_report(&cfg);
    let total = f(&report, &["metrics", "total_queries"]);
    let body = f(&report, &["errors", "by_class", "body"]);
    let ok = f(&report, &["metrics", "successful_queries"]);
    assert!(total > 50.0, "{total}");
    assert!(
        body > total * 0.3 && body < total * 0.7,
        "body errors {body} of {total}"
    );
    assert_eq!(ok + body, total, "every request is ok or a body error");

    let (_, metrics) = http_get(addr, "/metrics").expect("metrics");
    let served = metric_sum(
        &metrics,
        "vlbench_target_responses_total",
        &[("path", "/select/logsql/query")],
    );
    let aborted = metric_sum(&metrics, "vlbench_target_aborted_streams_total", &[]);
    assert_eq!(served, total, "served vs reported");
    assert_eq!(aborted, body, "aborted by the target vs body errors");
}
