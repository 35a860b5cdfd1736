//! Schema and numbers of `report.json`.

mod common;

use common::{context, report, report_with_nodes, run, ODD_NAME};
use serde_json::Value;
use vlbench_report::{parse_json, render_json, Report, Threshold};
use vlbench_stats::{ErrorClass, Summary};

fn json(r: &Report) -> Value {
    serde_json::from_str(&render_json(r)).unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 + b.abs() * 1e-9
}

#[test]
fn metrics_have_every_key_with_numbers_from_merged_stats() {
    let v = json(&report());
    let m = &v["metrics"];
    for key in vlbench_report::Metrics::KEYS {
        assert!(
            m[key].is_number(),
            "metrics.{key} missing or not a number: {m}"
        );
    }
    assert_eq!(m["total_queries"], 300);
    assert_eq!(m["successful_queries"], 270);
    assert_eq!(m["failed_queries"], 30);
    assert_eq!(m["dropped_queries"], 3);
    assert_eq!(m["bytes"], 30_000);
    assert_eq!(m["rows"], 600);
    assert!(close(m["error_rate"].as_f64().unwrap(), 0.1));
    assert!(close(m["qps"].as_f64().unwrap(), 75.0));
    // Percentiles come from the merged histogram, not from per-interval figures.
    let expected = Summary::from_stats(&run().total.total(), 4.0);
    assert!(close(
        m["p95_response_time"].as_f64().unwrap(),
        expected.p95_response_time
    ));
    assert!(close(
        m["p99_response_time"].as_f64().unwrap(),
        expected.p99_response_time
    ));
    assert!(
        (expected.p50_response_time - 10.0).abs() < 0.02,
        "{expected:?}"
    );
    assert!(
        (expected.p95_response_time - 100.0).abs() < 0.1,
        "{expected:?}"
    );
}

#[test]
fn errors_list_every_class_and_statuses() {
    let v = json(&report());
    let by_class = v["errors"]["by_class"].as_object().unwrap();
    assert_eq!(by_class.len(), ErrorClass::ALL.len());
    for c in ErrorClass::ALL {
        let expected = if c == ErrorClass::Http5xx { 30 } else { 0 };
        assert_eq!(by_class[c.as_str()], expected, "{c}");
    }
    assert_eq!(
        v["errors"]["status_codes"],
        serde_json::json!({"200": 270, "503": 30})
    );
}

#[test]
fn queries_are_keyed_by_name() {
    let v = json(&report());
    let q = v["queries"].as_object().unwrap();
    assert_eq!(q.len(), 2);
    assert_eq!(q["fast"]["total_queries"], 270);
    assert_eq!(q["fast"]["failed_queries"], 0);
    assert_eq!(q[ODD_NAME]["failed_queries"], 30);
    assert!(close(q[ODD_NAME]["error_rate"].as_f64().unwrap(), 1.0));
}

#[test]
fn intervals_show_gaps_explicitly() {
    let v = json(&report());
    let iv = v["intervals"].as_array().unwrap();
    assert_eq!(iv.len(), 4);
    for (i, p) in iv.iter().enumerate() {
        assert_eq!(p["seq"], i as u64);
        assert!(p["start"].is_string() && p["start_unix_ms"].is_u64());
    }
    assert_eq!(iv[2]["missing"], true);
    assert!(iv[2].get("total").is_none() && iv[2].get("ledger").is_none());
    assert_eq!(iv[2]["start_unix_ms"], common::START_MS + 2000);
    assert_eq!(iv[1]["missing"], false);
    assert_eq!(iv[1]["total"]["total_queries"], 100);
    assert_eq!(iv[1]["total"]["failed_queries"], 20);
    assert!(close(iv[1]["total"]["qps"].as_f64().unwrap(), 100.0));
    assert!(iv[1]["total"]["p99_response_time"].as_f64().unwrap() > 99.0);
    assert_eq!(iv[3]["total"]["failed_queries"], 0);
    assert!(iv[3]["total"]["p99_response_time"].as_f64().unwrap() < 10.1);
    assert_eq!(iv[1]["queries"]["fast"]["total_queries"], 80);
    let l = &iv[1]["ledger"];
    assert_eq!(
        (
            l["planned"].as_u64(),
            l["sent"].as_u64(),
            l["dropped"].as_u64()
        ),
        (Some(101), Some(100), Some(1))
    );
    assert!(close(l["lag_p99_ms"].as_f64().unwrap(), 0.2));
}

#[test]
fn a_lost_last_interval_is_missing_too() {
    let mut ctx = context(Vec::new());
    ctx.duration = std::time::Duration::from_millis(6500);
    let r = Report::build(&run(), None, ctx);
    let missing: Vec<u64> = r
        .intervals
        .iter()
        .filter(|p| p.missing)
        .map(|p| p.seq)
        .collect();
    assert_eq!(missing, vec![2, 4, 5]);
}

#[test]
fn schedule_meta_and_config() {
    let v = json(&report());
    let s = &v["schedule"];
    assert_eq!(
        (
            s["planned"].as_u64(),
            s["sent"].as_u64(),
            s["completed"].as_u64()
        ),
        (Some(303), Some(300), Some(300))
    );
    assert_eq!(s["dropped"], 3);
    assert!(close(s["achieved"].as_f64().unwrap(), 300.0 / 303.0));
    assert_eq!(s["generator_bound"], false);
    for k in ["lag_p50_ms", "lag_p99_ms", "lag_max_ms"] {
        assert!(s[k].is_number(), "{k}");
    }
    let m = &v["meta"];
    assert_eq!(m["name"], "smoke");
    assert_eq!(m["version"], "0.1.0");
    assert_eq!(m["start"], "2023-11-14T22:13:20.000Z");
    assert_eq!(m["end"], "2023-11-14T22:13:24.000Z");
    assert_eq!(m["duration_secs"], 4.0);
    assert_eq!(m["planned_duration_secs"], 5.0);
    assert_eq!(m["nodes"], 1);
    assert_eq!(m["warnings"], serde_json::json!(["stopped early"]));
    assert_eq!(v["config"]["target"]["auth"], "***");
    assert!(v.get("nodes").is_none());
    assert!(v.get("thresholds").is_none());
}

#[test]
fn nodes_appear_only_when_given_and_sum_to_the_fleet() {
    let r = report_with_nodes();
    let v = json(&r);
    assert_eq!(v["meta"]["nodes"], 2);
    assert_eq!(v["nodes"]["node-a"]["total_queries"], 100);
    assert_eq!(v["nodes"]["node-b"]["total_queries"], 200);
    assert_eq!(r.metrics, report().metrics);
    assert_eq!(r.intervals, report().intervals);
}

#[test]
fn json_reads_back_to_the_same_report() {
    let thresholds = vec![Threshold {
        metric: "p99_response_time".to_string(),
        query: None,
        max: Some(50.0),
        min: None,
    }];
    let r = Report::build(&run(), None, context(thresholds));
    common::assert_same_report(&parse_json(&render_json(&r)).unwrap(), &r);
    let n = report_with_nodes();
    common::assert_same_report(&parse_json(&render_json(&n)).unwrap(), &n);
    let err = parse_json("{\"meta\": 1}").unwrap_err();
    assert!(err.to_string().contains("not a vlbench report"), "{err}");
}

#[test]
fn a_corrupt_seq_does_not_list_unbounded_gaps() {
    let mut stats = run();
    let mut corrupt = common::interval(0, 1, 0);
    corrupt.seq = 1 << 60;
    stats.add(corrupt);
    let r = Report::build(&stats, None, context(Vec::new()));
    let max = vlbench_report::model::MAX_MISSING_LISTED as usize;
    assert_eq!(r.intervals.len(), 3 + 1 + max);
    assert_eq!(r.intervals.last().unwrap().seq, 1 << 60);
    assert!(!r.intervals.last().unwrap().missing);
    assert!(
        r.meta.warnings.iter().any(|w| w.contains("not listed")),
        "{:?}",
        r.meta.warnings
    );
}
