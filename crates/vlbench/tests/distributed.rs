//! Distributed mode with real processes on 127.0.0.1: `vlbench target`, a
//! coordinator, three workers declaring 1, 2 and 3 CPU cores, and
//! `vlbench submit --wait`. A 10 s closed-model benchmark must be split by
//! weight (12 users → 2, 4, 6), its report's total must equal the requests
//! the target served, the nodes' totals must add up to it, and the merged
//! p99 must be the p99 of the union of the per-node histograms.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{
    http_get, local_addr, metric_sum, run, start_coordinator, start_target, start_worker,
    wait_http, wait_nodes, write_config, Proc,
};
use serde_json::Value;
use vlbench_stats::{IntervalStats, Summary};

const CONFIG: &str = r#"
apiVersion: benchmark.victorialogs.io/v1
kind: BenchmarkConfig
metadata:
  name: distributed-test
spec:
  target:
    url: http://TARGET
  workload:
    total_concurrent_users: 12
    duration: 10s
    think_time: 100ms
  queries:
    - name: errors
      template: 'error'
      weight: 2
      params:
        limit: 10
    - name: count
      type: stats
      template: '* | stats count() rows'
      weight: 1
  workers:
    replicas: 3
    start_timeout: 20s
  reporting:
    formats: [json, csv, prometheus]
"#;

fn worker(coordinator: SocketAddr, id: &str, cpu: u32) -> Proc {
    let (listen, cpu) = (local_addr(), cpu.to_string());
    let addr = listen.to_string();
    let flags = [
        "--listen",
        &addr,
        "--cpu-cores",
        &cpu,
        "--max-concurrent-queries",
        "100",
    ];
    let proc = start_worker(coordinator, id, &flags);
    wait_http(listen, "/health", Duration::from_secs(20));
    proc
}

#[test]
fn three_workers_run_one_benchmark_and_the_report_is_exact() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (_target, target) = start_target(&[]);
    let coord = local_addr();
    let _coord = start_coordinator(
        coord,
        &dir.path().join("data"),
        &["--heartbeat-interval", "250ms"],
    );
    let _workers: Vec<_> = [("w1", 1), ("w2", 2), ("w3", 3)]
        .into_iter()
        .map(|(id, cpu)| worker(coord, id, cpu))
        .collect();
    wait_nodes(coord, 3);

    let config = write_config(
        dir.path(),
        "bench.yaml",
        &CONFIG.replace("TARGET", &target.to_string()),
    );
    let out_dir = dir.path().join("out");
    let url = format!("http://{coord}");
    let args = [
        "submit",
        config.to_str().expect("path"),
        "--coordinator",
        &url,
        "--wait",
        "--output",
    ];
    let mut args: Vec<&str> = args.to_vec();
    args.push(out_dir.to_str().expect("path"));
    let out = run(&args, Duration::from_secs(40));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "submit failed: {stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let task_id = stdout.lines().next().unwrap_or("").trim().to_string();
    assert!(task_id.starts_with("distributed-test-"), "stdout: {stdout}");
    // Then the summary, with a row per node.
    for row in ["TOTAL", "w1 ", "w2 ", "w3 ", "schedule: planned"] {
        assert!(
            stdout.lines().any(|l| l.starts_with(row)),
            "no {row:?} row in the summary:\n{stdout}"
        );
    }

    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(out_dir.join("report.json")).expect("report.json"),
    )
    .expect("JSON");
    assert!(out_dir.join("report.csv").exists() && out_dir.join("report.prom").exists());
    let users: Vec<u64> = ["w1", "w2", "w3"]
        .iter()
        .map(|n| {
            report["cluster"]["node_assignments"][n]["concurrent_users"]
                .as_u64()
                .expect("users")
        })
        .collect();
    assert_eq!(users, [2, 4, 6], "users follow the weights 1:2:3");

    let total = report["metrics"]["total_queries"].as_u64().expect("total");
    assert!(
        total > 100,
        "a 10 s run with 12 users sends more than 100 queries: {total}"
    );
    let (_, metrics) = http_get(target, "/metrics").expect("target metrics");
    let served = metric_sum(&metrics, "vlbench_target_responses_total", &[]);
    assert_eq!(
        total as f64, served,
        "report total vs responses the target served"
    );
    let by_node: Vec<u64> = ["w1", "w2", "w3"]
        .iter()
        .map(|n| {
            report["nodes"][n]["total_queries"]
                .as_u64()
                .expect("node total")
        })
        .collect();
    assert_eq!(by_node.iter().sum::<u64>(), total);
    assert!(
        by_node[0] < by_node[1] && by_node[1] < by_node[2],
        "load follows users: {by_node:?}"
    );

    let mut union = IntervalStats::new(2);
    for n in ["w1", "w2", "w3"] {
        let s: IntervalStats =
            serde_json::from_value(report["cluster"]["nodes"][n]["stats"].clone())
                .expect("node stats");
        union.merge(&s);
    }
    let secs = report["meta"]["duration_secs"].as_f64().expect("duration");
    let p99 = Summary::from_stats(&union.total(), secs).p99_response_time;
    assert_eq!(
        report["metrics"]["p99_response_time"]
            .as_f64()
            .expect("p99"),
        p99
    );

    let (status, body) = http_get(coord, &format!("/api/v1/benchmarks/{task_id}")).expect("task");
    assert_eq!(status, 200);
    let task: Value = serde_json::from_str(&body).expect("task JSON");
    assert_eq!(task["status"], "completed", "{task:#}");
    let (_, coord_metrics) = http_get(coord, "/metrics").expect("coordinator metrics");
    assert_eq!(
        metric_sum(&coord_metrics, "vlbench_coordinator_active_nodes", &[]),
        3.0
    );
    assert!(
        dir.path()
            .join(format!("data/results/{task_id}.json"))
            .exists(),
        "results are stored"
    );
}

#[test]
fn an_invalid_file_is_refused_with_exit_code_2() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = write_config(
        dir.path(),
        "bad.yaml",
        "apiVersion: benchmark.victorialogs.io/v1\nkind: BenchmarkConfig\nspec: {}\n",
    );
    let out = run(
        &[
            "submit",
            config.to_str().expect("path"),
            "--coordinator",
            "http://127.0.0.1:9",
        ],
        Duration::from_secs(20),
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("spec."),
        "problems are listed with their paths"
    );
}
