//! The coordinator's API through its router (`oneshot`, no socket):
//! registration, heartbeats, malformed and unknown messages, splitting and
//! capacity errors, reports, live figures, stop and the final report, live
//! tuning (PATCH) and rebalancing after a node failure (paused time).

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;
use vlbench_cluster::api::{router, AppState};
use vlbench_cluster::coordinator::{tick, CoordinatorConfig, Parts};
use vlbench_cluster::protocol::{Metrics, ReportStatus, ResultReport};
use vlbench_stats::{IntervalReport, IntervalStats, Outcome};

struct Api {
    app: Router,
    state: AppState,
    parts: Option<Parts>,
}

impl Api {
    fn new() -> Api {
        let config = CoordinatorConfig::new(Arc::new(common::JsonPlanner), Duration::from_secs(1));
        let parts = Parts::start(&config).unwrap();
        let state = parts.state.clone();
        Api {
            app: router(state.clone()),
            state,
            parts: Some(parts),
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: impl Into<Body>,
    ) -> (StatusCode, Value, String) {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .body(body.into())
            .unwrap();
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        (status, json, text)
    }

    async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        let (s, v, _) = self.call(Method::POST, path, body.to_string()).await;
        (s, v)
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let (s, v, _) = self.call(Method::GET, path, Body::empty()).await;
        (s, v)
    }

    async fn register(&self, id: &str, cpu: u32, max: u32) {
        let msg = serde_json::to_value(common::register(id, cpu, max)).unwrap();
        let (status, body) = self.post("/api/v1/nodes/register", &msg).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    async fn heartbeat(&self, id: &str, task: Option<&str>) -> (StatusCode, Value) {
        let hb = json!({"status": "busy", "current_load": 0.25, "task_id": task});
        self.post(&format!("/api/v1/nodes/{id}/heartbeat"), &hb)
            .await
    }

    /// The node's record from `GET /api/v1/nodes`.
    async fn node(&self, id: &str) -> Value {
        let (_, nodes) = self.get("/api/v1/nodes").await;
        let found = nodes
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["node_id"] == id);
        found
            .unwrap_or_else(|| panic!("no node {id} in {nodes}"))
            .clone()
    }

    async fn shutdown(mut self) {
        drop(self.app);
        drop(self.state);
        if let Some(p) = self.parts.take() {
            p.join().await;
        }
    }
}

fn interval(seq: u64, latencies_ms: &[u64]) -> IntervalReport {
    let mut stats = IntervalStats::new(2);
    for (i, &ms) in latencies_ms.iter().enumerate() {
        stats.queries[i % 2].record(&Outcome {
            query: i % 2,
            latency_us: ms * 1000,
            service_us: ms * 1000,
            status: 200,
            error: None,
            bytes: 100,
            rows: 2,
        });
    }
    IntervalReport {
        seq,
        start_unix_ms: 1_700_000_000_000 + seq * 1000,
        duration_ms: 1000,
        stats,
    }
}

fn report(
    task: &str,
    node: &str,
    seq: u64,
    status: ReportStatus,
    iv: Option<IntervalReport>,
) -> Value {
    serde_json::to_value(ResultReport {
        task_id: task.into(),
        node_id: node.into(),
        timestamp: chrono::Utc::now(),
        metrics: Metrics::default(),
        status,
        seq,
        first_seq: None,
        interval: iv,
        error: None,
        assignment_version: None,
    })
    .unwrap()
}

#[tokio::test]
async fn registration_and_heartbeats() {
    let api = Api::new();
    api.register("w1", 4, 100).await;
    let (status, body) = api.get("/api/v1/nodes").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body[0]["node_id"], "w1");
    assert_eq!(body[0]["status"], "active");
    assert_eq!(body[0]["capabilities"]["resources"]["cpu_cores"], 4);

    let (status, body) = api.heartbeat("w1", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"version": 0, "assignment": null, "unchanged": true})
    );
    let (_, nodes) = api.get("/api/v1/nodes").await;
    assert_eq!(nodes[0]["status"], "busy");
    assert_eq!(nodes[0]["current_load"], 0.25);

    let (status, body) = api.heartbeat("ghost", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["error"].as_str().unwrap().contains("ghost"), "{body}");

    let (status, health) = api.get("/health").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["status"], "ok");
    assert_eq!(health["active_nodes"], 1);
    assert_eq!(health["running_tasks"], 0);
    assert!(health["version"].is_string() && health["timestamp"].is_string());
    api.shutdown().await;
}

#[tokio::test]
async fn malformed_and_unknown_messages_are_400_with_a_json_error() {
    let api = Api::new();
    let mut msg = serde_json::to_value(common::register("w1", 4, 100)).unwrap();
    msg["capabilities"]["resources"]["cpu_cores"] = json!("four");
    let (status, body) = api.post("/api/v1/nodes/register", &msg).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let err = body["error"].as_str().unwrap();
    assert!(err.contains("capabilities.resources.cpu_cores"), "{err}");

    let mut msg = serde_json::to_value(common::register("w1", 4, 100)).unwrap();
    msg["action"] = json!("deregister");
    let (status, body) = api.post("/api/v1/nodes/register", &msg).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().contains("action"), "{body}");

    let mut msg = serde_json::to_value(common::register("w1", 4, 100)).unwrap();
    msg["colour"] = json!("blue");
    let (status, body) = api.post("/api/v1/nodes/register", &msg).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().contains("colour"), "{body}");

    let (status, _, text) = api
        .call(Method::POST, "/api/v1/nodes/register", "{not json")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.contains("\"error\""), "{text}");

    // A valid message followed by anything else is refused, not half read.
    let msg = serde_json::to_string(&common::register("w1", 4, 100)).unwrap();
    let (status, _, text) = api
        .call(
            Method::POST,
            "/api/v1/nodes/register",
            format!("{msg} {{}}"),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.contains("trailing characters"), "{text}");

    let (status, body) = api
        .post("/api/v1/nodes/w1/heartbeat", &json!({"status": "sleepy"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().contains("status"), "{body}");

    let (status, body) = api.get("/api/v1/nowhere").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["error"].is_string());
    api.shutdown().await;
}

#[tokio::test]
async fn reports_for_unknown_tasks_or_nodes_are_404() {
    let api = Api::new();
    let r = report(
        "nope-1",
        "w1",
        0,
        ReportStatus::Running,
        Some(interval(0, &[5])),
    );
    let (status, body) = api.post("/api/v1/tasks/nope-1/reports", &r).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["error"].as_str().unwrap().contains("nope-1"), "{body}");
    let (status, body) = api.post("/api/v1/tasks/other/reports", &r).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = api.get("/api/v1/benchmarks/nope-1").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api.post("/api/v1/benchmarks/nope-1/stop", &json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    api.shutdown().await;
}

#[tokio::test]
async fn invalid_configs_and_overloads_are_refused_at_submit() {
    let api = Api::new();
    let bad = json!({"name": "x", "users": 0, "duration_secs": 1, "replicas": 1});
    let (status, body) = api.post("/api/v1/benchmarks", &bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["details"].as_array().unwrap().len(), 2, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("2 problem"),
        "{body}"
    );

    api.register("w1", 2, 10).await;
    api.register("w2", 2, 10).await;
    let (status, _, text) = api
        .call(Method::POST, "/api/v1/benchmarks", common::file(25, 2))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.contains("at most 20"), "{text}");
    api.shutdown().await;
}

#[tokio::test]
async fn a_benchmark_is_split_merged_stopped_and_reported() {
    let api = Api::new();
    api.register("w1", 1, 100).await;
    api.register("w2", 3, 100).await;
    let (status, body, _) = api
        .call(Method::POST, "/api/v1/benchmarks", common::file(8, 2))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["task_id"].as_str().unwrap().to_string();
    assert_eq!(body["task"]["status"], "pending");

    tick(&api.state).await.unwrap();
    let (_, hb) = api.heartbeat("w2", Some(&id)).await;
    let a = &hb["assignment"];
    assert_eq!(a["task_id"], id.as_str());
    assert_eq!(a["node_assignments"]["w1"]["concurrent_users"], 2);
    assert_eq!(a["node_assignments"]["w2"]["concurrent_users"], 6);
    assert_eq!(
        a["node_assignments"]["w2"]["share"],
        json!({"weights": [1, 3], "index": 1})
    );
    assert_eq!(
        a["node_assignments"]["w2"]["query_templates"],
        json!(["errors", "count"])
    );
    assert!(hb["version"].as_u64().unwrap() > 0);

    let path = format!("/api/v1/tasks/{id}/reports");
    let r1 = report(
        &id,
        "w1",
        0,
        ReportStatus::Running,
        Some(interval(0, &[10, 20])),
    );
    let (status, ack) = api.post(&path, &r1).await;
    assert_eq!((status, ack), (StatusCode::OK, json!({"accepted": true})));
    let (_, ack) = api.post(&path, &r1).await;
    assert_eq!(
        ack,
        json!({"accepted": false}),
        "a retry is not counted twice"
    );
    let r2 = report(
        &id,
        "w2",
        0,
        ReportStatus::Running,
        Some(interval(0, &[30, 40, 1000])),
    );
    api.post(&path, &r2).await;

    let (_, task) = api.get(&format!("/api/v1/benchmarks/{id}")).await;
    assert_eq!(task["status"], "running");
    assert_eq!(task["live"]["total_queries"], 5);
    assert_eq!(task["live"]["active_nodes"], 2);
    assert_eq!(task["executions"]["w2"]["status"], "running");
    assert_eq!(task["global_config"]["target_url"], "http://127.0.0.1:9");

    let (status, stopped) = api
        .post(&format!("/api/v1/benchmarks/{id}/stop"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stopped["stopped"], true);
    let (_, hb) = api.heartbeat("w1", Some(&id)).await;
    assert_eq!(hb["assignment"], Value::Null);
    for node in ["w1", "w2"] {
        let done = report(&id, node, 1, ReportStatus::Completed, None);
        assert_eq!(api.post(&path, &done).await.0, StatusCode::OK);
    }
    tick(&api.state).await.unwrap();
    let (_, task) = api.get(&format!("/api/v1/benchmarks/{id}")).await;
    assert_eq!(task["status"], "completed");

    let (status, rep) = api
        .get(&format!("/api/v1/benchmarks/{id}/report?format=json"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(rep["metrics"]["total_queries"], 5);
    assert_eq!(rep["nodes"]["w1"]["total_queries"], 2);
    assert_eq!(rep["nodes"]["w2"]["total_queries"], 3);
    assert_eq!(rep["cluster"]["task_id"], id.as_str());
    assert_eq!(rep["meta"]["nodes"], 2);
    let (status, _, csv) = api
        .call(
            Method::GET,
            &format!("/api/v1/benchmarks/{id}/report?format=csv"),
            Body::empty(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(csv.lines().count() > 1, "{csv}");
    let (status, _, prom) = api
        .call(
            Method::GET,
            &format!("/api/v1/benchmarks/{id}/report?format=prometheus"),
            Body::empty(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(prom.contains("vlbench_"), "{prom}");
    let (status, body) = api
        .get(&format!("/api/v1/benchmarks/{id}/report?format=xml"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().contains("xml"));

    let (_, _, metrics) = api.call(Method::GET, "/metrics", Body::empty()).await;
    assert!(
        metrics.contains("vlbench_coordinator_reports_total{result=\"duplicate\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("vlbench_coordinator_active_nodes 2"),
        "{metrics}"
    );
    api.shutdown().await;
}

async fn running_task(api: &Api) -> String {
    api.register("w1", 1, 100).await;
    api.register("w2", 3, 100).await;
    let (status, body, _) = api
        .call(Method::POST, "/api/v1/benchmarks", common::file(8, 2))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["task_id"].as_str().unwrap().to_string();
    tick(&api.state).await.unwrap();
    id
}

async fn patch(api: &Api, id: &str, body: &str) -> (StatusCode, Value) {
    let path = format!("/api/v1/benchmarks/{id}");
    let (s, v, _) = api.call(Method::PATCH, &path, body.to_string()).await;
    (s, v)
}

#[tokio::test]
async fn a_running_benchmark_is_tuned_with_patch() {
    let api = Api::new();
    api.register("w0", 1, 100).await;
    let (_, pending, _) = api
        .call(Method::POST, "/api/v1/benchmarks", common::file(2, 5))
        .await;
    let pending = pending["task_id"].as_str().unwrap().to_string();
    let (status, body) = patch(&api, &pending, r#"{"users": 3}"#).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("pending"),
        "{body}"
    );

    let id = running_task(&api).await;
    let (_, before) = api.heartbeat("w1", Some(&id)).await;
    let (status, task) = patch(&api, &id, r#"{"users": 12}"#).await;
    assert_eq!(status, StatusCode::OK, "{task}");
    let last = task["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["kind"], "tuned");
    let (_, hb) = api.heartbeat("w1", Some(&id)).await;
    assert!(hb["version"].as_u64() > before["version"].as_u64());
    let users: u64 = hb["assignment"]["node_assignments"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n["concurrent_users"].as_u64().unwrap())
        .sum();
    assert_eq!(users, 12);

    for (body, needle) in [
        ("{}", "users"),
        (r#"{"users": 0}"#, "at least 1"),
        (r#"{"users": "many"}"#, "`users`"),
        (r#"{"target_qps": -1}"#, "target_qps"),
        (r#"{"qps": 10}"#, "unknown field"),
        ("not json", "malformed tuning request"),
        (r#"{"users": 100000}"#, "concurrent users"),
    ] {
        let (status, err) = patch(&api, &id, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {err}");
        let msg = err["error"].as_str().unwrap();
        assert!(msg.contains(needle), "{body}: {msg}");
    }
    let (status, err) = patch(&api, "nope-1", r#"{"users": 3}"#).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{err}");
    api.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_silent_nodes_share_moves_to_the_live_node() {
    let api = Api::new();
    let id = running_task(&api).await;
    // w1 keeps heartbeating; w2 goes silent past the 5 s timeout.
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        api.heartbeat("w1", Some(&id)).await;
        tick(&api.state).await.unwrap();
    }
    assert_eq!(api.node("w2").await["status"], "failed");
    let (_, task) = api.get(&format!("/api/v1/benchmarks/{id}")).await;
    assert_eq!(task["status"], "running");
    assert_eq!(task["executions"]["w2"]["status"], "failed");
    assert!(task["executions"]["w2"]["failed_at"].is_string());
    let (_, hb) = api.heartbeat("w1", Some(&id)).await;
    let split = &hb["assignment"]["node_assignments"];
    assert_eq!(split["w1"]["concurrent_users"], 8, "w1 carries every user");
    assert!(split.get("w2").is_none());
    // w2 is back: it gets a share again.
    api.heartbeat("w2", None).await;
    tick(&api.state).await.unwrap();
    let (_, hb) = api.heartbeat("w2", Some(&id)).await;
    assert_eq!(
        hb["assignment"]["node_assignments"]["w2"]["concurrent_users"],
        6
    );
    let (_, task) = api.get(&format!("/api/v1/benchmarks/{id}")).await;
    assert_eq!(task["executions"]["w2"]["rejoins"], 1);
    api.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_running_report_with_its_version_is_the_nodes_heartbeat() {
    let api = Api::new();
    let id = running_task(&api).await;
    let (_, hb) = api.heartbeat("w2", Some(&id)).await;
    let version = hb["version"].as_u64().unwrap();
    let path = format!("/api/v1/tasks/{id}/reports");
    let beat = |seq: u64, node: &str, v: Option<u64>| {
        let mut r = report(
            &id,
            node,
            seq,
            ReportStatus::Running,
            Some(interval(seq, &[10, 20])),
        );
        r["metrics"]["total_queries"] = json!(2);
        if let Some(v) = v {
            r["assignment_version"] = json!(v);
        }
        r
    };
    // Without the field: a report only.
    let (status, ack) = api.post(&path, &beat(0, "w2", None)).await;
    assert_eq!((status, ack), (StatusCode::OK, json!({"accepted": true})));
    // With the node's current version: the heartbeat too, nothing changed.
    let (_, ack) = api.post(&path, &beat(1, "w2", Some(version))).await;
    assert_eq!(ack, json!({"accepted": true, "assignment_unchanged": true}));
    // A retry is still a sign of life.
    let (_, ack) = api.post(&path, &beat(1, "w2", Some(version))).await;
    assert_eq!(
        ack,
        json!({"accepted": false, "assignment_unchanged": true})
    );
    // An older version: the worker must heartbeat to fetch the new one.
    let (_, ack) = api.post(&path, &beat(2, "w2", Some(version - 1))).await;
    assert_eq!(
        ack,
        json!({"accepted": true, "assignment_unchanged": false})
    );
    let w2 = api.node("w2").await;
    assert_eq!(w2["status"], "busy");
    assert_eq!(w2["performance_metrics"]["total_queries"], 2);

    // w1 heartbeats; w2 only reports, past the 5 s heartbeat timeout: it
    // is alive, and keeps its share.
    let (_, hb1) = api.heartbeat("w1", Some(&id)).await;
    let v1 = hb1["version"].as_u64().unwrap();
    for seq in 3..10 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        api.heartbeat("w1", Some(&id)).await;
        let (_, ack) = api.post(&path, &beat(seq, "w2", Some(version))).await;
        assert_eq!(ack["assignment_unchanged"], true, "seq {seq}");
        tick(&api.state).await.unwrap();
    }
    let (_, task) = api.get(&format!("/api/v1/benchmarks/{id}")).await;
    assert_eq!(task["executions"]["w2"]["status"], "running", "{task}");
    let (_, hb1) = api.heartbeat("w1", Some(&id)).await;
    assert_eq!(hb1["version"].as_u64().unwrap(), v1, "no rebalance");
    // A final message is no heartbeat.
    let done = report(&id, "w2", 10, ReportStatus::Completed, None);
    let (_, ack) = api.post(&path, &done).await;
    assert_eq!(ack, json!({"accepted": true}));
    let (_, _, metrics) = api.call(Method::GET, "/metrics", Body::empty()).await;
    for line in [
        "vlbench_coordinator_heartbeats_total{via=\"report\"} 10",
        "vlbench_coordinator_heartbeats_total{via=\"heartbeat\"} 10",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
    api.shutdown().await;
}
