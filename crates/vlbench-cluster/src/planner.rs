//! ConfigManager's seam (S-1): what the cluster needs from a benchmark file.
//!
//! Turning a benchmark file into a workload, a schedule and target options is
//! owned by `vlbench-config` and the binary's plan code; the cluster must not
//! duplicate it. So the coordinator takes a [`Planner`] that the binary
//! implements and asks it for a [`Benchmark`] (the facts it schedules on);
//! the worker's counterpart is `worker::EngineBuilder`. Tests plug in small
//! planners of their own.

use std::time::Duration;

use vlbench_workload::Schedule;

use crate::protocol::GlobalConfig;

/// The facts of a validated benchmark file that the coordinator schedules on.
#[derive(Clone, Debug)]
pub struct Benchmark {
    /// `metadata.name`.
    pub name: String,
    /// Query names in the workload's order (stats are indexed by them).
    pub query_names: Vec<String>,
    /// The global schedule (users or rate over time).
    pub schedule: Schedule,
    /// S-4 `global_config`: target URL and auth (with the secret).
    pub global_config: GlobalConfig,
    /// `spec.workers.replicas`: nodes to wait for before starting (≥ 1).
    pub replicas: u32,
    /// `spec.workers.start_timeout`: how long to wait for them.
    pub start_timeout: Duration,
    /// `spec.reporting.formats` (json, csv, prometheus).
    pub formats: Vec<String>,
    /// `spec.reporting.storage.path`, where clients write reports by default.
    pub storage_path: Option<String>,
    /// Load model name for reports ("closed" or "open").
    pub model: String,
    /// The file as JSON with secrets redacted (embedded in reports).
    pub redacted_config: serde_json::Value,
    /// SLOs evaluated on the final report (B-5).
    pub thresholds: Vec<vlbench_report::Threshold>,
}

/// Parses and validates a benchmark file's text (YAML or JSON) for the
/// coordinator. Implemented by the binary over `vlbench-config`.
pub trait Planner: Send + Sync + 'static {
    /// The facts of the file; on failure, every problem found, each naming
    /// its field path.
    fn benchmark(&self, text: &str) -> Result<Benchmark, Vec<String>>;
}
