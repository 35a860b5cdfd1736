//! A small, fully known run shared by the report tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use vlbench_report::{Report, ReportContext, Threshold};
use vlbench_stats::{ErrorClass, IntervalReport, IntervalStats, Outcome, RunStats};

pub const START_MS: u64 = 1_700_000_000_000;
/// A query name that needs quoting in CSV and escaping in Prometheus labels.
pub const ODD_NAME: &str = "odd, \"name\"\\x";

pub fn outcome(query: usize, latency_ms: u64, status: u16, error: Option<ErrorClass>) -> Outcome {
    Outcome {
        query,
        latency_us: latency_ms * 1000,
        service_us: latency_ms * 500,
        status,
        error,
        bytes: 100,
        rows: 2,
    }
}

/// One interval: `ok` successes of query 0 at 10 ms, `fail` 503s of query 1 at 100 ms.
pub fn interval(seq: u64, ok: u64, fail: u64) -> IntervalReport {
    let mut stats = IntervalStats::new(2);
    for _ in 0..ok {
        stats.queries[0].record(&outcome(0, 10, 200, None));
    }
    for _ in 0..fail {
        stats.queries[1].record(&outcome(1, 100, 503, Some(ErrorClass::Http5xx)));
    }
    stats.queries[1].dropped = 1;
    let l = &mut stats.ledger;
    l.planned = ok + fail + 1;
    l.sent = ok + fail;
    l.completed = ok + fail;
    l.dropped = 1;
    l.lag.record_n(200, ok + fail).unwrap();
    IntervalReport {
        seq,
        start_unix_ms: START_MS + seq * 1000,
        duration_ms: 1000,
        stats,
    }
}

/// Seqs 0, 1 and 3 (2 is lost) of a 4 s run.
pub fn run() -> RunStats {
    let mut run = RunStats::new(vec!["fast".to_string(), ODD_NAME.to_string()]);
    run.add(interval(0, 90, 10));
    run.add(interval(1, 80, 20));
    run.add(interval(3, 100, 0));
    run
}

pub fn context(thresholds: Vec<Threshold>) -> ReportContext {
    let start = DateTime::<Utc>::from_timestamp_millis(START_MS as i64).unwrap();
    ReportContext {
        name: "smoke".to_string(),
        version: "0.1.0".to_string(),
        start,
        end: start + chrono::Duration::seconds(4),
        duration: Duration::from_secs(4),
        planned_duration: Duration::from_secs(5),
        model: "open".to_string(),
        config: serde_json::json!({"target": {"url": "http://127.0.0.1:9428", "auth": "***"}}),
        warnings: vec!["stopped early".to_string()],
        thresholds,
    }
}

pub fn report() -> Report {
    Report::build(&run(), None, context(Vec::new()))
}

pub fn report_with_nodes() -> Report {
    let mut a = RunStats::new(vec!["fast".to_string(), ODD_NAME.to_string()]);
    a.add(interval(0, 90, 10));
    let mut b = RunStats::new(vec!["fast".to_string(), ODD_NAME.to_string()]);
    b.add(interval(1, 80, 20));
    b.add(interval(3, 100, 0));
    let mut fleet = RunStats::new(vec!["fast".to_string(), ODD_NAME.to_string()]);
    for r in a.intervals.values().chain(b.intervals.values()) {
        fleet.merge_into_seq(r);
    }
    let nodes = BTreeMap::from([("node-a".to_string(), a), ("node-b".to_string(), b)]);
    Report::build(&fleet, Some(&nodes), context(Vec::new()))
}

/// Asserts two reports are equal, floats to 1e-12 relative: serde_json
/// (without its `float_roundtrip` feature) may read a float back 1 ulp off.
pub fn assert_same_report(a: &Report, b: &Report) {
    same_json(
        &serde_json::to_value(a).unwrap(),
        &serde_json::to_value(b).unwrap(),
        "",
    );
}

fn same_json(a: &serde_json::Value, b: &serde_json::Value, path: &str) {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!(
                (x - y).abs() <= 1e-12 * x.abs().max(y.abs()),
                "{path}: {x} != {y}"
            );
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{path}: lengths");
            for (i, (x, y)) in x.iter().zip(y).enumerate() {
                same_json(x, y, &format!("{path}[{i}]"));
            }
        }
        (Value::Object(x), Value::Object(y)) => {
            assert_eq!(
                x.keys().collect::<Vec<_>>(),
                y.keys().collect::<Vec<_>>(),
                "{path}: keys"
            );
            for (k, x) in x {
                same_json(x, &y[k], &format!("{path}.{k}"));
            }
        }
        _ => assert_eq!(a, b, "{path}"),
    }
}
