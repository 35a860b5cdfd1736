//! End-to-end tests of `vlbench run`, `validate` and `demo` as real processes
//! against a real `vlbench target` process on 127.0.0.1.
//!
//! The truth test compares what the target says it served with what vlbench
//! reported: they must be equal, exactly.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{http_get, metric_sum, run, run_bench, start_target, write_config};
use serde_json::Value;

/// A closed-model benchmark of several endpoints against `url`.
fn closed_config(url: &str, duration: &str, extra_spec: &str) -> String {
    format!(
        r#"apiVersion: benchmark.victorialogs.io/v1
kind: BenchmarkConfig
metadata:
  name: e2e-closed
spec:
  target:
    url: "{url}"
  workload:
    total_concurrent_users: 4
    duration: {duration}
  queries:
    - name: basic_filter
      template: 'job:"loki.source.kubernetes.pods" | limit 5'
      weight: 3
    - name: error_requests
      template: "_msg:'\"status\":5'* OR _msg:'\"status\":4'* | limit 10"
      weight: 2
    - name: by_namespace
      type: stats
      template: '_time:1h | stats by (namespace) count() hits'
      weight: 1
    - name: levels
      type: field_values
      template: '*'
      params: {{ field: level, start: -1h, end: now }}
      weight: 1
  reporting:
    formats: [json, csv, prometheus]
{extra_spec}"#
    )
}

fn read_json(path: &Path) -> Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn report_total_equals_what_the_target_served() {
    let (_target, addr) = start_target(&[]);
    let (out, out_dir, _dir) = run_bench(
        &closed_config(&format!("http://{addr}"), "3s", ""),
        Duration::from_secs(60),
    );
    assert!(out.status.success(), "vlbench run failed: {}", stderr(&out));

    let report = read_json(&out_dir.join("report.json"));
    let total = report["metrics"]["total_queries"]
        .as_u64()
        .expect("metrics.total_queries");
    assert!(
        total > 100,
        "too few requests for a meaningful check: {total}"
    );

    let (status, metrics) = http_get(addr, "/metrics").expect("target /metrics");
    assert_eq!(status, 200);
    let served: f64 = [
        "/select/logsql/query",
        "/select/logsql/stats_query",
        "/select/logsql/field_values",
    ]
    .iter()
    .map(|p| metric_sum(&metrics, "vlbench_target_responses_total", &[("path", p)]))
    .sum();
    assert_eq!(
        total as f64, served,
        "reported total vs served by the target"
    );

    // Per-query totals add up to the total, and every query ran.
    let queries = report["queries"].as_object().expect("queries object");
    assert_eq!(queries.len(), 4);
    let sum: u64 = queries
        .values()
        .map(|q| q["total_queries"].as_u64().expect("per-query total"))
        .sum();
    assert_eq!(sum, total);
    assert_eq!(report["metrics"]["failed_queries"].as_u64(), Some(0));

    // The other formats are there and mention the same total.
    let csv = std::fs::read_to_string(out_dir.join("report.csv")).expect("report.csv");
    assert!(csv.lines().count() > 2, "csv has interval rows");
    let prom = std::fs::read_to_string(out_dir.join("report.prom")).expect("report.prom");
    assert!(prom.contains("# TYPE"), "prometheus text format");
}

#[test]
fn invalid_config_lists_every_problem_with_its_path_and_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let yaml = r#"apiVersion: benchmark.victorialogs.io/v1
kind: BenchmarkConfig
metadata:
  name: broken
spec:
  target:
    url: "http://127.0.0.1:9"
  workload:
    total_users: 4
    duration: 10s
  queries:
    - name: a
      template: "| limit 10"
      weight: 0
"#;
    let cfg = write_config(dir.path(), "bad.yaml", yaml);
    let out = run(
        &["run", cfg.to_str().expect("utf-8 path")],
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("spec.workload.total_users"), "{err}");
    assert!(err.contains("total_concurrent_users"), "suggestion: {err}");
    assert!(err.contains("spec.queries[0].weight"), "{err}");
    assert!(err.contains("spec.queries[0].template"), "{err}");

    let out = run(
        &["validate", cfg.to_str().expect("utf-8 path")],
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn unreachable_target_is_a_clear_error_and_exit_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = common::free_port();
    let cfg = write_config(
        dir.path(),
        "bench.yaml",
        &closed_config(&format!("http://127.0.0.1:{port}"), "2s", ""),
    );
    let out = run(
        &["run", cfg.to_str().expect("utf-8 path"), "--quiet"],
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("unreachable"), "{err}");
    assert!(err.contains(&port.to_string()), "names the target: {err}");
}

#[test]
fn failed_threshold_exits_3() {
    let (_target, addr) = start_target(&[]);
    // No request answers in under a microsecond: this threshold must fail.
    let thresholds = "  thresholds:\n    - metric: p50_response_time\n      max: 0.000001\n";
    let (out, _out_dir, _dir) = run_bench(
        &closed_config(&format!("http://{addr}"), "2s", thresholds),
        Duration::from_secs(60),
    );
    assert_eq!(out.status.code(), Some(3), "stderr: {}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("FAIL"), "{stdout}");
}

#[test]
fn validate_probe_reports_rejected_and_empty_queries() {
    let (_target, addr) = start_target(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let yaml = format!(
        r#"apiVersion: benchmark.victorialogs.io/v1
kind: BenchmarkConfig
metadata:
  name: probe
spec:
  target:
    url: "http://{addr}"
  workload:
    total_concurrent_users: 1
    duration: 10s
  queries:
    - name: good
      template: '* | limit 3'
    - name: spec_template
      template: '_msg:*"status":5* OR _msg:*"status":4*'
    - name: syntax_error
      template: 'error | stats by (namespace count()'
"#
    );
    let cfg = write_config(dir.path(), "probe.yaml", &yaml);
    let out = run(
        &["validate", cfg.to_str().expect("utf-8 path"), "--probe"],
        Duration::from_secs(30),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{}", stderr(&out));
    assert!(stdout.contains("ok       good"), "{stdout}");
    assert!(stdout.contains("WARNING  spec_template"), "{stdout}");
    assert!(stdout.contains("REJECTED syntax_error"), "{stdout}");
    assert!(
        stdout.contains("cannot parse query"),
        "target's text: {stdout}"
    );
}

#[test]
fn demo_runs_and_writes_every_report() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_dir = dir.path().join("results");
    let out = run(
        &[
            "demo",
            "--duration",
            "3s",
            "--quiet",
            "--output",
            out_dir.to_str().expect("utf-8 path"),
        ],
        Duration::from_secs(60),
    );
    assert!(out.status.success(), "demo failed: {}", stderr(&out));
    for f in ["report.json", "report.csv", "report.prom", "report.html"] {
        assert!(out_dir.join(f).exists(), "{f} written");
    }
    let report = read_json(&out_dir.join("report.json"));
    assert!(report["metrics"]["total_queries"].as_u64().unwrap_or(0) > 0);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("TOTAL"), "summary table: {stdout}");
}
