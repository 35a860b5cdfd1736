//! Threshold evaluation against a built report.

mod common;

use common::{context, run, ODD_NAME};
use vlbench_report::{Report, Threshold};

fn threshold(metric: &str, query: Option<&str>, max: f64) -> Threshold {
    Threshold {
        metric: metric.to_string(),
        query: query.map(str::to_string),
        max: Some(max),
        min: None,
    }
}

#[test]
fn a_minimum_fails_below_it_and_passes_above_it() {
    let qps_min = |min: f64| Threshold {
        metric: "qps".to_string(),
        query: None,
        max: None,
        min: Some(min),
    };
    let r = Report::build(&run(), None, context(vec![qps_min(0.0), qps_min(1e12)]));
    let results = r.thresholds.as_ref().unwrap();
    assert!(results[0].passed, "{:?}", results[0]);
    assert!(!results[1].passed, "{:?}", results[1]);
    assert!(
        results[1].message.contains(">= 1000000000000"),
        "{}",
        results[1].message
    );
}

#[test]
fn thresholds_pass_and_fail_on_actual_values() {
    let ts = vec![
        threshold("p99_response_time", None, 150.0),
        threshold("error_rate", None, 0.05),
        threshold("p99_response_time", Some("fast"), 10.1),
        threshold("error_rate", Some(ODD_NAME), 1.0),
    ];
    let r = Report::build(&run(), None, context(ts));
    let results = r.thresholds.as_ref().unwrap();
    assert_eq!(results.len(), 4);
    assert!(results[0].passed, "{:?}", results[0]);
    assert!(!results[1].passed);
    assert!((results[1].actual.unwrap() - 0.1).abs() < 1e-12);
    assert!(
        results[1].message.contains("FAILED"),
        "{}",
        results[1].message
    );
    assert!(results[2].passed, "{:?}", results[2]);
    assert!(results[3].passed, "{:?}", results[3]);
    assert!(!r.passed());
    let v: serde_json::Value = serde_json::from_str(&vlbench_report::render_json(&r)).unwrap();
    assert_eq!(v["thresholds"][1]["passed"], false);
    assert_eq!(v["thresholds"][1]["metric"], "error_rate");
}

#[test]
fn all_passing_thresholds_pass_the_run() {
    let r = Report::build(
        &run(),
        None,
        context(vec![threshold("max_response_time", None, 1000.0)]),
    );
    assert!(r.passed());
    assert!(Report::build(&run(), None, context(Vec::new())).passed());
}

#[test]
fn unknown_metric_or_query_fails_with_a_helpful_message() {
    let r = Report::build(&run(), None, context(Vec::new()));
    let bad_metric = threshold("p98_response_time", None, 1e9).evaluate(&r);
    assert!(!bad_metric.passed && bad_metric.actual.is_none());
    assert!(
        bad_metric.message.contains("p99_response_time"),
        "{}",
        bad_metric.message
    );
    let bad_query = threshold("qps", Some("nope"), 1e9).evaluate(&r);
    assert!(!bad_query.passed);
    assert!(
        bad_query.message.contains("\"fast\""),
        "{}",
        bad_query.message
    );
}

#[test]
fn threshold_deserialises_strictly() {
    let t: Threshold = serde_json::from_str(r#"{"metric":"qps","max":5}"#).unwrap();
    assert_eq!(t, threshold("qps", None, 5.0));
    assert!(serde_json::from_str::<Threshold>(r#"{"metric":"qps","max":5,"limit":1}"#).is_err());
}
