//! The worker's reporter against a real coordinator API on 127.0.0.1:
//! intervals arrive in order and are merged once; the final message
//! completes the node; an unreachable coordinator makes it give up and
//! count the drops instead of retrying forever.

mod common;

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::mpsc;
use vlbench_cluster::api::router;
use vlbench_cluster::client::CoordinatorClient;
use vlbench_cluster::coordinator::{CoordinatorConfig, Parts};
use vlbench_cluster::metrics::WorkerMetrics;
use vlbench_cluster::protocol::ReportStatus;
use vlbench_cluster::worker::reporter::{self, Item, ReporterConfig};
use vlbench_stats::{IntervalReport, IntervalStats, Outcome};

fn interval(seq: u64) -> IntervalReport {
    let mut stats = IntervalStats::new(2);
    stats.queries[0].record(&Outcome {
        query: 0,
        latency_us: 1000 + seq,
        service_us: 900,
        status: 200,
        error: None,
        bytes: 1,
        rows: 1,
    });
    IntervalReport {
        seq,
        start_unix_ms: 1_000 + seq * 1000,
        duration_ms: 1000,
        stats,
    }
}

fn config(url: &str, give_up: Duration) -> ReporterConfig {
    ReporterConfig {
        client: CoordinatorClient::new(url, Duration::from_secs(2)).unwrap(),
        task_id: "t-1".into(),
        node_id: "w1".into(),
        capacity: 8,
        give_up,
        metrics: Arc::new(WorkerMetrics::new("w1")),
        beats: None,
    }
}

#[tokio::test]
async fn intervals_and_the_final_message_reach_the_aggregator_once() {
    let cfg = CoordinatorConfig::new(Arc::new(common::JsonPlanner), Duration::from_secs(1));
    let parts = Parts::start(&cfg).unwrap();
    let state = parts.state.clone();
    state
        .aggregator
        .open(
            "t-1".into(),
            vec!["a".into(), "b".into()],
            vec!["w1".into()],
        )
        .await
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = router(state.clone());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let (tx, rx) = mpsc::channel(4);
    let task = tokio::spawn(reporter::run(config(&url, Duration::from_secs(10)), rx));
    for seq in 0..5 {
        tx.send(Item::Interval(interval(seq))).await.unwrap();
    }
    tx.send(Item::Final {
        status: ReportStatus::Completed,
        error: None,
        first_seq: 0,
        end_seq: 5,
    })
    .await
    .unwrap();
    drop(tx);
    let out = task.await.unwrap();
    assert_eq!(out.delivered, 6);
    assert_eq!(out.dropped, 0);
    let results = state
        .aggregator
        .results("t-1".into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(results.merged.total.total().total(), 5);
    assert_eq!(results.nodes["w1"].intervals, 5);
    assert_eq!(results.nodes["w1"].status, ReportStatus::Completed);
    assert_eq!(results.nodes["w1"].missing, 0);
    server.abort();
    drop(state);
    parts.join().await;
}

#[tokio::test]
async fn an_unreachable_coordinator_is_given_up_and_drops_are_counted() {
    // A port with nothing listening: bind, take the address, close.
    let addr = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let cfg = config(&format!("http://{addr}"), Duration::from_millis(500));
    let metrics = cfg.metrics.clone();
    let (tx, rx) = mpsc::channel(32);
    let task = tokio::spawn(reporter::run(cfg, rx));
    for seq in 0..12 {
        tx.send(Item::Interval(interval(seq))).await.unwrap();
    }
    drop(tx);
    let out = tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.delivered, 0);
    assert_eq!(
        out.dropped, 12,
        "4 dropped by the bound of 8, then 8 given up"
    );
    assert!(
        metrics
            .encode()
            .contains("vlbench_worker_reports_dropped_total{node=\"w1\"} 12"),
        "{}",
        metrics.encode()
    );
}
