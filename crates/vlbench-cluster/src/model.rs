//! The records the coordinator keeps and serves on its user API: nodes
//! (S-7), tasks and their per-node executions (S-8), the live window (S-11).
//!
//! Data only: the actors that own and change these records live in
//! `registry`, `scheduler` and `aggregator`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::protocol::{Capabilities, GlobalConfig, Metrics, NodeAssignment, NodeStatus};

/// S-7 node status record, as `GET /api/v1/nodes` shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeRecord {
    /// Unique node name.
    pub node_id: String,
    /// active, busy, failed or offline.
    pub status: NodeStatus,
    /// When the node was last heard from.
    pub last_heartbeat: DateTime<Utc>,
    /// When the node (last) registered.
    pub registered_at: DateTime<Utc>,
    /// Fraction of capacity in use, 0.0–1.0, as the worker reports it.
    pub current_load: f64,
    /// What the node can take.
    pub capabilities: Capabilities,
    /// The worker's own /health and /metrics base URL.
    pub endpoint: String,
    /// Tasks the node is part of right now.
    pub assigned_tasks: Vec<String>,
    /// The latest interval's figures the worker reported in a heartbeat.
    pub performance_metrics: Option<Metrics>,
}

/// S-8 task state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Waiting for `spec.workers.replicas` nodes.
    Pending,
    /// Assigned; nodes start at `start_time`.
    Running,
    /// Every node finished (or the user stopped it).
    Completed,
    /// Could not start, or a node failed: see `error_message`.
    Failed,
}

impl TaskStatus {
    /// Every status, for metrics with a fixed label set.
    pub const ALL: [TaskStatus; 4] = [
        TaskStatus::Pending,
        TaskStatus::Running,
        TaskStatus::Completed,
        TaskStatus::Failed,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Pending => "pending",
            TaskStatus::Running => "running",
            TaskStatus::Completed => "completed",
            TaskStatus::Failed => "failed",
        }
    }

    /// Whether the task is over (its results are final).
    pub fn is_terminal(self) -> bool {
        matches!(self, TaskStatus::Completed | TaskStatus::Failed)
    }
}

/// S-8 execution of one task on one node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Execution {
    /// The node.
    pub node_id: String,
    /// pending (assigned), running (heard running), completed or failed.
    pub status: TaskStatus,
    /// When the node started (the task's start instant).
    pub start_time: Option<DateTime<Utc>>,
    /// When the node's final report arrived (or it was declared failed).
    pub end_time: Option<DateTime<Utc>>,
    /// Why the node failed.
    pub error_message: Option<String>,
    /// When the node was last declared failed (heartbeat timeout), if ever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_at: Option<DateTime<Utc>>,
    /// How many times the node came back after a failure and got a share again.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rejoins: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Execution {
    /// What became of the node, for reports: `completed`, `rejoined` (it
    /// failed, came back and finished), `failed at T`, or its current
    /// status while the task runs.
    pub fn fate(&self) -> String {
        match (self.status, self.rejoins, self.failed_at) {
            (TaskStatus::Completed, 0, _) => "completed".into(),
            (TaskStatus::Completed, _, _) => "rejoined".into(),
            (TaskStatus::Failed, _, Some(at)) => format!("failed at {}", at.to_rfc3339()),
            (TaskStatus::Failed, _, None) => match self.end_time {
                Some(at) => format!("failed at {}", at.to_rfc3339()),
                None => "failed".into(),
            },
            (s, _, _) => s.as_str().into(),
        }
    }
}

/// What kind of change a [`TaskEvent`] records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A node missed its heartbeats: its share was withdrawn (S-12).
    NodeFailed,
    /// A failed node was heard from again and got a share again.
    NodeRejoined,
    /// The global schedule was re-partitioned over the live nodes (S-13).
    Rebalanced,
    /// Users or rate changed by `PATCH /api/v1/benchmarks/{id}` (S-19).
    Tuned,
    /// The load adjuster changed a node's weight factor (S-10).
    WeightChanged,
    /// The coordinator restarted and resumed the task from its store.
    Resumed,
}

/// One change to a running task, kept in its record (newest last, bounded).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskEvent {
    /// When it happened.
    pub at: DateTime<Utc>,
    /// What happened.
    pub kind: EventKind,
    /// The node concerned, if one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Why, in words (rule and measured values for weight changes).
    pub message: String,
    /// Node → weight after the change (rebalance, weight change).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub weights: BTreeMap<String, u32>,
}

/// S-11 live aggregates over the last `window_seconds` of merged intervals.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LiveWindow {
    /// Window length used, seconds.
    pub window_seconds: u64,
    /// Completed requests per second across nodes.
    pub qps: f64,
    /// Latency percentiles of the merged window histograms, ms.
    pub p95_response_time: f64,
    /// Latency percentiles of the merged window histograms, ms.
    pub p99_response_time: f64,
    /// Failed / completed requests in the window (0.0–1.0).
    pub error_rate: f64,
    /// Nodes that reported an interval inside the window.
    pub active_nodes: usize,
    /// Requests completed since the start, all nodes.
    pub total_queries: u64,
    /// Requests failed since the start, all nodes.
    pub failed_queries: u64,
    /// Highest interval number merged so far.
    pub last_seq: Option<u64>,
}

/// S-8 task record, as `GET /api/v1/benchmarks/{id}` shows it (secrets
/// redacted). Persisted as JSON in the coordinator's data directory.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskRecord {
    /// Unique id (`{metadata.name}-{n}`).
    pub task_id: String,
    /// `metadata.name` of the benchmark.
    pub name: String,
    /// pending, running, completed or failed.
    pub status: TaskStatus,
    /// When the coordinator accepted it.
    pub submitted_at: DateTime<Utc>,
    /// The instant all nodes start.
    pub start_time: Option<DateTime<Utc>>,
    /// When it became completed or failed.
    pub end_time: Option<DateTime<Utc>>,
    /// Why it failed (or which nodes failed).
    pub error_message: Option<String>,
    /// Whether a user stopped it.
    pub stopped: bool,
    /// Nodes to wait for before starting (`spec.workers.replicas`).
    pub replicas: u32,
    /// Length of the global schedule, seconds.
    pub duration_secs: f64,
    /// Query names, in the workload's order.
    pub query_names: Vec<String>,
    /// Report formats asked by `spec.reporting.formats`.
    pub formats: Vec<String>,
    /// Where `vlbench submit --wait` writes reports by default.
    pub storage_path: Option<String>,
    /// Load model ("closed" or "open").
    pub model: String,
    /// The benchmark file as JSON, secrets redacted.
    pub config: serde_json::Value,
    /// SLOs evaluated on the final report.
    pub thresholds: Vec<vlbench_report::Threshold>,
    /// Target and auth type; the token is replaced by `***`.
    pub global_config: GlobalConfig,
    /// The split (S-4), keyed by node id.
    pub node_assignments: BTreeMap<String, NodeAssignment>,
    /// S-8 per-node executions, keyed by node id.
    pub executions: BTreeMap<String, Execution>,
    /// Failures, rejoins, rebalances, tuning and weight changes (newest last).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<TaskEvent>,
    /// Live aggregates (filled when served, absent in the store).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<LiveWindow>,
}

/// `POST /api/v1/benchmarks` answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SubmitResponse {
    /// The new task's id.
    pub task_id: String,
    /// Its record (pending or already running).
    pub task: TaskRecord,
}
