//! An in-process cluster on 127.0.0.1: a coordinator, three workers (with
//! weights 1:2:3) and the simulated VictoriaLogs. A short closed-model run
//! must be split by weight, and its merged counts must equal what the
//! target served and the sum over the nodes.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use vlbench_cluster::client::CoordinatorClient;
use vlbench_cluster::coordinator::{self, CoordinatorConfig};
use vlbench_cluster::model::TaskStatus;
use vlbench_cluster::worker::{self, caps, EngineBuilder, EngineParts, WorkerConfig};
use vlbench_engine::{TargetOptions, TlsOptions};
use vlbench_stats::IntervalStats;
use vlbench_workload::{QueryDef, QueryParams, QueryType, Template, Workload};

/// Two queries against the simulated target, whatever the file says.
struct FixedBuilder {
    target: SocketAddr,
}

impl EngineBuilder for FixedBuilder {
    fn engine_parts(&self, _text: &str) -> Result<EngineParts, String> {
        let query = |name: &str, qtype, text: &str| -> Result<QueryDef, String> {
            Ok(QueryDef {
                name: name.into(),
                category: None,
                qtype,
                template: Template::parse(text, Path::new(".")).map_err(|e| e.to_string())?,
                params: QueryParams {
                    limit: Some(10),
                    ..QueryParams::default()
                },
                weight: 1,
            })
        };
        let queries = vec![
            query("errors", QueryType::Query, "error")?,
            query("count", QueryType::Stats, "* | stats count() rows")?,
        ];
        let workload = Workload::new(queries).map_err(|e| e.to_string())?;
        let target = TargetOptions {
            base_url: format!("http://{}", self.target)
                .parse()
                .map_err(|e| format!("{e}"))?,
            headers: vec![],
            timeout: Duration::from_secs(5),
            http2: false,
            accept_gzip: false,
            tls: TlsOptions {
                ca_file: None,
                insecure_skip_verify: false,
            },
        };
        Ok(EngineParts {
            workload: Arc::new(workload),
            target,
        })
    }
}

async fn listener() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_split_by_weight_and_merge_exactly() {
    let target = vlbench_target::start(vlbench_target::TargetConfig::default(), listener().await)
        .await
        .unwrap();
    let shutdown = CancellationToken::new();
    let coord_listener = listener().await;
    let coord_url = format!("http://{}", coord_listener.local_addr().unwrap());
    let mut config =
        CoordinatorConfig::new(Arc::new(common::JsonPlanner), Duration::from_millis(200));
    config.start_margin = Duration::from_millis(800);
    // Not a failure-detection test: a generous timeout keeps a loaded CI
    // machine (2 cores, tests in parallel) from failing a slow heartbeat.
    config.heartbeat_timeout = Duration::from_secs(5);
    let coord = tokio::spawn(coordinator::run(config, coord_listener, shutdown.clone()));

    let mut workers = Vec::new();
    for (i, cpu) in [1u32, 2, 3].into_iter().enumerate() {
        let config = WorkerConfig {
            coordinator_url: coord_url.clone(),
            node_id: format!("w{}", i + 1),
            endpoint: String::new(),
            capabilities: caps::detect(Some(cpu), Some(100)),
            threads: 1,
            orphan_timeout: Duration::from_secs(10),
            report_buffer: 100,
            builder: Arc::new(FixedBuilder {
                target: target.addr(),
            }),
        };
        workers.push(tokio::spawn(worker::run(config, None, shutdown.clone())));
    }
    let client = CoordinatorClient::new(&coord_url, Duration::from_secs(5)).unwrap();
    let file = serde_json::json!({
        "name": "in-process", "users": 12, "duration_secs": 3, "replicas": 3,
        "queries": ["errors", "count"], "target": format!("http://{}", target.addr()),
    });
    let id = client.submit(file.to_string()).await.unwrap().task_id;

    let mut task = client.benchmark(&id).await.unwrap();
    for _ in 0..200 {
        if task.status.is_terminal() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        task = client.benchmark(&id).await.unwrap();
    }
    assert_eq!(task.status, TaskStatus::Completed, "{task:#?}");
    let users: Vec<u32> = task
        .node_assignments
        .values()
        .map(|a| a.concurrent_users)
        .collect();
    assert_eq!(users, [2, 4, 6]);

    let report: serde_json::Value =
        serde_json::from_str(&client.report_text(&id, "json").await.unwrap()).unwrap();
    let total = report["metrics"]["total_queries"].as_u64().unwrap();
    assert!(total > 0, "{report:#}");
    let served = target.counters().snapshot().total_requests();
    assert_eq!(
        total, served,
        "reported total vs requests the target served"
    );
    let per_node: u64 = ["w1", "w2", "w3"]
        .iter()
        .map(|n| report["nodes"][n]["total_queries"].as_u64().unwrap())
        .sum();
    assert_eq!(per_node, total);
    let mut union = IntervalStats::new(2);
    for n in ["w1", "w2", "w3"] {
        let stats: IntervalStats =
            serde_json::from_value(report["cluster"]["nodes"][n]["stats"].clone()).unwrap();
        union.merge(&stats);
    }
    let p99 = vlbench_stats::hist::quantile_ms(&union.total().latency, 0.99);
    assert_eq!(
        report["metrics"]["p99_response_time"].as_f64().unwrap(),
        p99
    );

    // The workers' running reports carried their assignment version: each
    // was a heartbeat too.
    let metrics = reqwest::get(format!("{coord_url}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let via_report: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("vlbench_coordinator_heartbeats_total{via=\"report\"} "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    assert!(via_report >= 3, "{metrics}");

    shutdown.cancel();
    coord.await.unwrap().unwrap();
    for w in workers {
        w.await.unwrap().unwrap();
    }
    target.shutdown().await.unwrap();
}
