//! The aggregator's merge, dedup, gaps, live window and report log.

use super::*;
use crate::protocol::Metrics;
use vlbench_stats::{IntervalReport, IntervalStats, Outcome};

pub(crate) fn interval(seq: u64, latencies_us: &[u64], failed: u64) -> IntervalReport {
    let mut stats = IntervalStats::new(2);
    for (i, &l) in latencies_us.iter().enumerate() {
        let error = (i as u64) < failed;
        stats.queries[i % 2].record(&Outcome {
            query: i % 2,
            latency_us: l,
            service_us: l,
            status: if error { 500 } else { 200 },
            error: error.then_some(vlbench_stats::ErrorClass::Http5xx),
            bytes: 10,
            rows: 1,
        });
    }
    IntervalReport {
        seq,
        start_unix_ms: 1_000_000 + seq * 1000,
        duration_ms: 1000,
        stats,
    }
}

pub(crate) fn report(
    node: &str,
    seq: u64,
    status: ReportStatus,
    iv: Option<IntervalReport>,
) -> ResultReport {
    ResultReport {
        task_id: "t".into(),
        node_id: node.into(),
        timestamp: chrono::Utc::now(),
        metrics: Metrics::default(),
        status,
        seq,
        first_seq: None,
        interval: iv,
        error: None,
        assignment_version: None,
    }
}

fn agg() -> Aggregator {
    let mut a = Aggregator::default();
    a.open(
        "t",
        vec!["q0".into(), "q1".into()],
        &["a".into(), "b".into()],
    );
    a
}

#[test]
fn counts_add_up_over_nodes_and_retries_are_ignored() {
    let mut a = agg();
    let run = ReportStatus::Running;
    assert!(
        a.add(report("a", 0, run, Some(interval(0, &[1000, 2000], 0))))
            .unwrap()
            .new
    );
    assert!(
        a.add(report("b", 0, run, Some(interval(0, &[3000], 1))))
            .unwrap()
            .new
    );
    assert!(
        !a.add(report("a", 0, run, Some(interval(0, &[1000, 2000], 0))))
            .unwrap()
            .new
    );
    assert!(
        a.add(report("a", 1, run, Some(interval(1, &[4000], 0))))
            .unwrap()
            .new
    );
    let res = a.results("t").unwrap();
    let total = res.merged.total.total();
    assert_eq!(total.total(), 4);
    assert_eq!(total.failed(), 1);
    assert_eq!(res.nodes["a"].total.total().total(), 3);
    assert_eq!(res.nodes["a"].intervals, 2);
    assert_eq!(res.nodes["a"].span_ms, Some((1_000_000, 1_002_000)));
    assert_eq!(res.merged.intervals[&0].stats.total().total(), 3);
    assert_eq!(
        total.latency.max(),
        res.nodes["a"].total.total().latency.max()
    );
}

#[test]
fn unknown_task_node_and_bad_reports_are_refused() {
    let mut a = agg();
    let mut r = report("a", 0, ReportStatus::Running, Some(interval(0, &[1], 0)));
    r.task_id = "other".into();
    assert_eq!(a.add(r), Err(AggError::UnknownTask("other".into())));
    let r = report("c", 0, ReportStatus::Running, Some(interval(0, &[1], 0)));
    assert!(matches!(a.add(r), Err(AggError::UnknownNode { .. })));
    let r = report("a", 0, ReportStatus::Running, None);
    assert!(matches!(a.add(r), Err(AggError::Invalid(m)) if m.contains("interval")));
    let r = report("a", 3, ReportStatus::Running, Some(interval(0, &[1], 0)));
    assert!(matches!(a.add(r), Err(AggError::Invalid(m)) if m.contains("seq")));
    let mut iv = interval(0, &[1], 0);
    iv.stats = IntervalStats::new(5);
    let r = report("a", 0, ReportStatus::Running, Some(iv));
    assert!(matches!(a.add(r), Err(AggError::Invalid(m)) if m.contains("5 queries")));
}

#[test]
fn a_final_report_is_reported_once_with_missing_intervals() {
    let mut a = agg();
    a.add(report(
        "a",
        0,
        ReportStatus::Running,
        Some(interval(0, &[1], 0)),
    ))
    .unwrap();
    let done = a
        .add(report("a", 3, ReportStatus::Completed, None))
        .unwrap();
    assert_eq!(done.finished, Some((ReportStatus::Completed, None)));
    let again = a
        .add(report("a", 3, ReportStatus::Completed, None))
        .unwrap();
    assert_eq!(
        again,
        Accepted {
            new: false,
            finished: None
        }
    );
    assert_eq!(a.results("t").unwrap().nodes["a"].missing, 2);
    assert_eq!(a.results("t").unwrap().nodes["a"].missing_seqs, [1, 2]);
}

#[test]
fn a_node_that_rejoined_late_lists_only_its_own_gaps() {
    let mut a = agg();
    let run = ReportStatus::Running;
    for seq in [0, 1] {
        a.add(report("b", seq, run, Some(interval(seq, &[1], 0))))
            .unwrap();
    }
    // Killed at second 2; back at second 6, it sends 6 and 8 of 6..9.
    for seq in [6, 8] {
        a.add(report("b", seq, run, Some(interval(seq, &[1], 0))))
            .unwrap();
    }
    let mut last = report("b", 9, ReportStatus::Completed, None);
    last.first_seq = Some(6);
    assert!(a.add(last.clone()).unwrap().finished.is_some());
    assert!(!a.add(last).unwrap().new);
    let res = a.results("t").unwrap();
    assert_eq!(res.nodes["b"].missing_seqs, [7]);
    assert_eq!(res.nodes["b"].intervals, 4);
}

#[test]
fn logged_reports_rebuild_a_resumed_task() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let started = Started {
        task_id: "t".into(),
        query_names: vec!["q0".into(), "q1".into()],
        nodes: vec!["a".into(), "b".into()],
    };
    let mut a = Aggregator::with_store(Some(store.clone()), &[]);
    a.open("t", started.query_names.clone(), &started.nodes);
    let run = ReportStatus::Running;
    a.add(report("a", 0, run, Some(interval(0, &[1000, 2000], 0))))
        .unwrap();
    a.add(report("a", 0, run, Some(interval(0, &[1000, 2000], 0))))
        .unwrap();
    // As the HTTP path does: logged as the text received.
    let text = serde_json::to_string(&report("b", 0, run, Some(interval(0, &[3000], 1)))).unwrap();
    let ingest: IngestReport = serde_json::from_str(&text).unwrap();
    a.add_raw(ingest.clone(), Some(text.clone().into()))
        .unwrap();
    assert!(!a.add_raw(ingest, Some(text.into())).unwrap().new);
    let windows = a.take_windows("t");
    assert_eq!(windows["a"].requests, 2);
    assert_eq!(windows["b"].errors, 1);
    assert_eq!(a.take_windows("t")["a"].requests, 0);
    let again = Aggregator::with_store(Some(store), &[started]);
    let res = again.results("t").unwrap();
    assert_eq!(res.merged.total.total().total(), 3);
    assert_eq!(res.nodes["a"].intervals, 1);
}

#[test]
fn the_live_window_covers_the_last_ten_seconds() {
    let mut a = agg();
    for seq in 0..15 {
        // Seconds 0..5 are slow and failing; the window must not see them.
        let (lat, failed) = if seq < 5 { (900_000, 1) } else { (2_000, 0) };
        a.add(report(
            "a",
            seq,
            ReportStatus::Running,
            Some(interval(seq, &[lat, lat], failed)),
        ))
        .unwrap();
    }
    a.add(report(
        "b",
        3,
        ReportStatus::Running,
        Some(interval(3, &[1], 0)),
    ))
    .unwrap();
    let live = a.live("t").unwrap();
    assert_eq!(live.last_seq, Some(14));
    assert_eq!(live.qps, 2.0);
    assert_eq!(live.error_rate, 0.0);
    assert!(live.p99_response_time < 3.0, "{}", live.p99_response_time);
    assert_eq!(live.active_nodes, 1);
    assert_eq!(live.total_queries, 31);
    assert_eq!(live.failed_queries, 5);
    assert_eq!(a.live("nope"), None);
}

#[test]
fn the_sparse_http_path_merges_exactly_like_full_reports() {
    let run = ReportStatus::Running;
    let reports = [
        report("a", 0, run, Some(interval(0, &[1000, 2_000_000], 1))),
        report("b", 0, run, Some(interval(0, &[3, 70_000, 70_001], 0))),
        report("a", 1, run, Some(interval(1, &[999_999], 0))),
        report("a", 1, run, Some(interval(1, &[999_999], 0))),
    ];
    let mut full = agg();
    let mut sparse = agg();
    for r in &reports {
        let a = full.add(r.clone()).unwrap();
        let json = serde_json::to_vec(r).unwrap();
        let b = sparse
            .add_ingest(serde_json::from_slice(&json).unwrap())
            .unwrap();
        assert_eq!(a, b);
    }
    let (x, y) = (full.results("t").unwrap(), sparse.results("t").unwrap());
    assert_eq!(x.merged, y.merged);
    let mut expect = IntervalStats::new(2);
    for r in &reports[..3] {
        expect.merge(&r.interval.as_ref().unwrap().stats);
    }
    assert_eq!(y.merged.total, expect);
    for id in ["a", "b"] {
        assert_eq!(x.nodes[id].total, y.nodes[id].total);
        assert_eq!(x.nodes[id].seen, y.nodes[id].seen);
    }
    assert_eq!(y.nodes["a"].total.total().latency.len(), 3);
    assert_eq!(full.live("t"), sparse.live("t"));
}

#[test]
fn a_node_without_reports_has_empty_totals_of_the_task_shape() {
    let a = agg();
    let res = a.results("t").unwrap();
    assert_eq!(res.nodes["b"].total, SparseIntervalStats::new(2));
    assert_eq!(res.nodes["b"].intervals, 0);
}
