//! The coordinator ⇄ worker protocol (v1, JSON over HTTP under `/api/v1`):
//! every message type, with the field names of SPEC S-3 (registration), S-4
//! (task assignment) and S-5 (result report), plus what the design adds
//! (assignment versions, interval sequence numbers, the serialised histograms).
//!
//! Only data and serde live here: no I/O, no state. Incoming messages deny
//! unknown fields so that a typo or a message from another protocol version is
//! a 400 naming the field, never silently ignored. `docs/protocol.md` shows an
//! example of every message; keep both in step.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use vlbench_stats::IntervalReport;
use vlbench_workload::Schedule;

/// Path prefix of every protocol and user endpoint.
pub const API_PREFIX: &str = "/api/v1";

/// The only value of `action` in a registration (S-3): the field exists so a
/// message sent to the wrong endpoint is rejected instead of misread.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegisterAction {
    /// Register (or re-register) a node.
    Register,
}

/// S-3 `resources`: what the machine has, read by the worker with sysinfo.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// Logical CPU cores available to the worker; the default split weight.
    pub cpu_cores: u32,
    /// Total memory in MiB (informational).
    pub memory_mb: u64,
}

/// S-3 `capabilities`: what a node can take; the scheduler never assigns a
/// node more concurrent requests than `max_concurrent_queries`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capabilities {
    /// Upper bound of concurrent requests (closed users or open in-flight).
    pub max_concurrent_queries: u32,
    /// Query types the worker can send (e.g. `query`, `stats`, `hits`).
    pub supported_query_types: Vec<String>,
    /// The machine's resources.
    pub resources: Resources,
}

/// S-3 registration, `POST /api/v1/nodes/register`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// Always `register`.
    pub action: RegisterAction,
    /// Unique node name (host or pod name by default).
    pub node_id: String,
    /// What the node can take.
    pub capabilities: Capabilities,
    /// Base URL of the worker's own /health and /metrics (may be empty when
    /// the worker does not listen).
    #[serde(default)]
    pub endpoint: String,
}

/// Answer to a registration: how often to heartbeat and when the node is
/// declared failed, so the worker need not be configured twice.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegisterResponse {
    /// The registered id (echo).
    pub node_id: String,
    /// How often the worker should send a heartbeat.
    pub heartbeat_interval_ms: u64,
    /// Silence after which the coordinator marks the node failed (S-12).
    pub heartbeat_timeout_ms: u64,
}

/// S-7 node status. `busy` = running a task; `failed` = heartbeat timeout;
/// `offline` = the worker said goodbye.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeStatus {
    /// Registered, heard from, idle.
    Active,
    /// Registered, heard from, running a task.
    Busy,
    /// Not heard from within the heartbeat timeout.
    Failed,
    /// Shut down cleanly.
    Offline,
}

impl NodeStatus {
    /// Every status, for metrics with a fixed label set.
    pub const ALL: [NodeStatus; 4] = [
        NodeStatus::Active,
        NodeStatus::Busy,
        NodeStatus::Failed,
        NodeStatus::Offline,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeStatus::Active => "active",
            NodeStatus::Busy => "busy",
            NodeStatus::Failed => "failed",
            NodeStatus::Offline => "offline",
        }
    }

    /// Whether the node can be given work (active or busy).
    pub fn is_alive(self) -> bool {
        matches!(self, NodeStatus::Active | NodeStatus::Busy)
    }
}

/// S-5 `metrics`: one interval's headline figures, times in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metrics {
    /// Requests completed (ok + failed).
    pub total_queries: u64,
    /// Requests answered successfully.
    pub successful_queries: u64,
    /// Requests that failed (any error class).
    pub failed_queries: u64,
    /// Mean latency, ms.
    pub avg_response_time: f64,
    /// 95th percentile latency, ms.
    pub p95_response_time: f64,
    /// Completed requests per second over the interval.
    pub qps: f64,
}

/// `POST /api/v1/nodes/{id}/heartbeat`: the worker's state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatRequest {
    /// `active` (idle), `busy` (running) or `offline` (shutting down).
    pub status: NodeStatus,
    /// Fraction of capacity in use, 0.0–1.0 (S-7 `current_load`).
    #[serde(default)]
    pub current_load: f64,
    /// The assignment version the worker has applied.
    #[serde(default)]
    pub assignment_version: u64,
    /// The task the worker is running, if any.
    #[serde(default)]
    pub task_id: Option<String>,
    /// The last interval number the worker has produced, if any.
    #[serde(default)]
    pub last_seq: Option<u64>,
    /// The latest interval's figures (S-7 `performance_metrics`).
    #[serde(default)]
    pub performance_metrics: Option<Metrics>,
}

/// Answer to a heartbeat: the node's current assignment and its version. A
/// worker applies a version newer than the one it has; `assignment: null`
/// means "stop what you run" unless `unchanged` is true: then the worker
/// already has this version and runs it, and keeps going.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HeartbeatResponse {
    /// Monotonic version of this node's assignment.
    pub version: u64,
    /// What the node should run, if anything (null when `unchanged`).
    pub assignment: Option<Assignment>,
    /// The node has applied `version` and runs it: nothing to do. Absent
    /// means false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unchanged: bool,
}

/// A node's part of the global schedule: `Share::from_weights(weights, index)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShareSpec {
    /// One weight per node of the task, in the task's node order.
    pub weights: Vec<u32>,
    /// This node's position in `weights`.
    pub index: usize,
}

/// S-4 per-node part of an assignment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeAssignment {
    /// Peak concurrent users (closed model) or in-flight cap (open model)
    /// of this node.
    pub concurrent_users: u32,
    /// Run length in seconds (the global schedule's duration).
    pub duration: f64,
    /// Names of the queries in the mix.
    pub query_templates: Vec<String>,
    /// This node's part of the asked peak rate (open model or closed-model
    /// rate cap), req/s; null when the load has no rate.
    pub target_qps: Option<f64>,
    /// The node's share of the global schedule.
    pub share: ShareSpec,
}

/// S-4 `global_config.auth`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    /// `bearer` or `basic`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The secret; never printed or stored in reports.
    pub token: String,
}

/// S-4 `global_config`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlobalConfig {
    /// Base URL of the VictoriaLogs under test.
    pub target_url: String,
    /// Credentials sent to the target, if any.
    pub auth: Option<Auth>,
}

/// S-4 task assignment (plus what a worker needs to rebuild the exact plan).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assignment {
    /// The benchmark's id.
    pub task_id: String,
    /// Per node, keyed by node id.
    pub node_assignments: BTreeMap<String, NodeAssignment>,
    /// Target and credentials.
    pub global_config: GlobalConfig,
    /// The benchmark file as submitted (YAML or JSON text).
    pub config: String,
    /// The global schedule every share is cut from (open model: each node
    /// replaces `max_in_flight` by its `concurrent_users`).
    pub schedule: Schedule,
    /// The instant every node starts, unix milliseconds.
    pub start_unix_ms: u64,
}

/// S-5 `status` of a report: the node's execution state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportStatus {
    /// An interval of a running task.
    Running,
    /// The node finished its share; `seq` is the number of intervals sent.
    Completed,
    /// The node could not run or finish its share; see `error`.
    Failed,
}

/// S-5 result report, `POST /api/v1/tasks/{task_id}/reports`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultReport {
    /// The benchmark's id (must match the path).
    pub task_id: String,
    /// The sending node.
    pub node_id: String,
    /// When the report was made.
    pub timestamp: DateTime<Utc>,
    /// Headline figures of the interval (zeros in a final message).
    pub metrics: Metrics,
    /// The node's execution state.
    pub status: ReportStatus,
    /// Interval number (running); in a final message, one past the last
    /// interval's number (the count of intervals for a node that ran from
    /// the start).
    pub seq: u64,
    /// Final message only: the first interval's number (a node that joined
    /// late starts at the second it joined); absent means 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seq: Option<u64>,
    /// The interval itself with its histograms (running only).
    #[serde(default)]
    pub interval: Option<IntervalReport>,
    /// Why the node failed (failed only).
    #[serde(default)]
    pub error: Option<String>,
    /// Running reports: the assignment version the node runs. A report
    /// that carries it is also the node's heartbeat (see [`ReportAck`]), so
    /// a reporting worker sends one request a second, not two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignment_version: Option<u64>,
}

/// Answer to a report: whether it was new or a retry of one already merged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportAck {
    /// False when `seq` had already been merged (the retry is ignored).
    pub accepted: bool,
    /// Present when the report carried `assignment_version` and counted as
    /// the node's heartbeat: true when that version is the node's current
    /// assignment (the worker may skip its next heartbeat), false when the
    /// worker should heartbeat now to fetch what changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignment_unchanged: Option<bool>,
}

/// The JSON body of every error answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong and what to do.
    pub error: String,
    /// Individual problems (e.g. each invalid config field), when several.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
}

/// S-15 `GET /health` answer (coordinator and worker).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Health {
    /// `ok`.
    pub status: String,
    /// Now.
    pub timestamp: DateTime<Utc>,
    /// vlbench version.
    pub version: String,
    /// Nodes heard from within the heartbeat timeout.
    pub active_nodes: usize,
    /// Tasks in `running` state.
    pub running_tasks: usize,
}

/// `PATCH /api/v1/benchmarks/{id}` (S-19): new users and/or rate from now
/// on. At least one field; unknown fields are refused.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TuneRequest {
    /// Closed model: concurrent users from now on (≥ 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<u32>,
    /// Open model: arrivals/s; closed model: the rate cap (req/s, > 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_qps: Option<f64>,
}

/// Unix milliseconds of a wall-clock instant (0 before 1970).
pub fn unix_ms(t: std::time::SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The wall-clock instant of unix milliseconds.
pub fn from_unix_ms(ms: u64) -> std::time::SystemTime {
    std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms)
}
