//! One test per rule on `spec.workers`, `spec.reporting` and `spec.thresholds`.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{assert_only_error, check, edited, errors, warnings};
use vlbench_config::{Metric, ReportFormat, StorageKind, Threshold};

#[test]
fn reporting_defaults() {
    let config = check(&edited(&[])).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        config.reporting.formats,
        vec![
            ReportFormat::Json,
            ReportFormat::Csv,
            ReportFormat::Prometheus
        ]
    );
    assert_eq!(config.reporting.storage.kind, StorageKind::Local);
    assert_eq!(config.reporting.storage.path, PathBuf::from("./results"));
    assert!(config.workers.is_none() && config.thresholds.is_empty());
}

#[test]
fn formats_must_be_known_and_distinct() {
    assert_only_error(
        &[("spec.reporting.formats", Some("[json, jsno]"))],
        "spec.reporting.formats[1]: unknown format `jsno`; did you mean `json`?",
    );
    assert_only_error(&[("spec.reporting.formats", Some("[json, xml]"))], "spec.reporting.formats[1]: unknown format `xml`; use `json`, `csv`, `prometheus` or `html`");
    assert_only_error(
        &[("spec.reporting.formats", Some("[json, json]"))],
        "spec.reporting.formats[1]: `json` is listed twice",
    );
    assert_only_error(
        &[("spec.reporting.formats", Some("[]"))],
        "spec.reporting.formats: empty; list some of `json`, `csv`, `prometheus` or `html`, or remove `formats` for the default",
    );
}

#[test]
fn storage_type_and_path() {
    assert_only_error(
        &[("spec.reporting.storage", Some("{type: s3}"))],
        "spec.reporting.storage.type: unknown storage type `s3`; use `local` or `persistent_volume`",
    );
    assert_only_error(
        &[("spec.reporting.storage", Some("{path: ''}"))],
        "spec.reporting.storage.path: is empty; name a directory, e.g. `./results`",
    );
}

#[test]
fn workers_are_validated() {
    let config = check(&edited(&[(
        "spec.workers",
        Some("{replicas: 3, resources: {requests: {cpu: 500m, memory: 1Gi}, limits: {cpu: 2}}}"),
    )]))
    .unwrap_or_else(|e| panic!("{e}"));
    let workers = config.workers.expect("workers");
    assert_eq!(
        (workers.replicas, workers.start_timeout),
        (3, Duration::from_secs(60))
    );
    assert_eq!(workers.resources.limits.cpu.as_deref(), Some("2"));
    assert_only_error(
        &[("spec.workers", Some("{replicas: 0}"))],
        "spec.workers.replicas: must be > 0",
    );
    assert_only_error(
        &[("spec.workers", Some("{start_timeout: 0s}"))],
        "spec.workers.start_timeout: must be > 0",
    );
}

#[test]
fn resources_are_kubernetes_quantities_with_limits_above_requests() {
    assert_only_error(
        &[("spec.workers", Some("{resources: {requests: {memory: 1GB}}}"))],
        "spec.workers.resources.requests.memory: invalid quantity `1GB`: write a number with an optional suffix, e.g. `500m`, `2`, `512Mi`, `1Gi`, `1G`",
    );
    assert_only_error(
        &[("spec.workers", Some("{resources: {requests: {cpu: '2'}, limits: {cpu: 500m}}}"))],
        "spec.workers.resources.limits.cpu: must be >= `requests.cpu` (Kubernetes rejects a limit below the request)",
    );
    assert_eq!(
        warnings(&edited(&[("spec.workers", Some("{resources: {limits: {memory: 512m}}}"))])),
        vec!["spec.workers.resources.limits.memory: `512m` means thousandths of a byte; did you mean `512Mi`?"]
    );
}

#[test]
fn thresholds_parse_into_limits() {
    let config = check(&edited(&[(
        "spec.thresholds",
        Some("[{metric: p99_response_time, max: 500}, {metric: error_rate, max: 0.01, query: q1}, {metric: qps, min: 10}]"),
    )]))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        config.thresholds,
        vec![
            Threshold {
                metric: Metric::P99ResponseTime,
                query: None,
                max: Some(500.0),
                min: None
            },
            Threshold {
                metric: Metric::ErrorRate,
                query: Some("q1".into()),
                max: Some(0.01),
                min: None
            },
            Threshold {
                metric: Metric::Qps,
                query: None,
                max: None,
                min: Some(10.0)
            },
        ]
    );
}

#[test]
fn thresholds_reference_known_metrics_and_queries() {
    assert_only_error(
        &[("spec.thresholds", Some("[{metric: p99_latency, max: 1}]"))],
        "spec.thresholds[0].metric: unknown metric `p99_latency`; did you mean `p99_response_time`?",
    );
    assert_only_error(
        &[(
            "spec.thresholds",
            Some("[{metric: qps, min: 1, query: q9}]"),
        )],
        "spec.thresholds[0].query: unknown query `q9`; use `q0` or `q1`",
    );
    assert_only_error(
        &[("spec.thresholds", Some("[{metric: latency, max: 1}]"))],
        "spec.thresholds[0].metric: unknown metric `latency`; use `avg_response_time`, `p50_response_time`, `p90_response_time`, \
         `p95_response_time`, `p99_response_time`, `p999_response_time`, `max_response_time`, `avg_service_time`, \
         `p99_service_time`, `error_rate`, `qps`, `total_queries`, `failed_queries` or `dropped_queries`",
    );
    assert_only_error(
        &[("spec.thresholds", Some("[{metric: qps}]"))],
        "spec.thresholds[0]: set `max` (fail above) or `min` (fail below)",
    );
}

#[test]
fn threshold_values_are_sane() {
    assert_only_error(
        &[("spec.thresholds", Some("[{metric: error_rate, max: 5}]"))],
        "spec.thresholds[0].max: is a fraction between 0 and 1 (0.01 = 1 %)",
    );
    assert_only_error(
        &[("spec.thresholds", Some("[{metric: qps, min: -1}]"))],
        "spec.thresholds[0].min: must be a number >= 0",
    );
    assert_only_error(
        &[("spec.thresholds", Some("[{metric: qps, min: 5, max: 1}]"))],
        "spec.thresholds[0].min: must be <= `max`",
    );
    let got = errors(&edited(&[("spec.thresholds", Some("[{max: 1}]"))]));
    assert_eq!(
        got,
        vec!["spec.thresholds[0].metric: missing; name a metric such as `p99_response_time`"]
    );
}
