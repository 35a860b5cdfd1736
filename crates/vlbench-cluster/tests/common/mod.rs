//! Helpers of the cluster crate's tests: a small JSON planner (so API tests
//! do not depend on the YAML config format) and message builders.

#![allow(dead_code)] // each test binary uses a different subset

use std::time::Duration;

use serde::Deserialize;
use vlbench_cluster::planner::{Benchmark, Planner};
use vlbench_cluster::protocol::{
    Capabilities, GlobalConfig, RegisterAction, RegisterRequest, Resources,
};
use vlbench_workload::{Model, Schedule, Stage};

/// The test planner's file format (JSON).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestFile {
    pub name: String,
    pub users: f64,
    pub duration_secs: u64,
    pub replicas: u32,
    #[serde(default)]
    pub queries: Vec<String>,
    #[serde(default = "default_target")]
    pub target: String,
}

fn default_target() -> String {
    "http://127.0.0.1:9".into()
}

/// Reads [`TestFile`] JSON; `users: 0` and an empty query list are problems.
pub struct JsonPlanner;

impl Planner for JsonPlanner {
    fn benchmark(&self, text: &str) -> Result<Benchmark, Vec<String>> {
        let f: TestFile = serde_json::from_str(text).map_err(|e| vec![format!("file: {e}")])?;
        let mut problems = Vec::new();
        if f.users <= 0.0 {
            problems.push("spec.workload.total_concurrent_users: must be >= 1".to_string());
        }
        if f.queries.is_empty() {
            problems.push("spec.queries: at least one query is required".to_string());
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Benchmark {
            name: f.name.clone(),
            query_names: f.queries,
            schedule: Schedule {
                model: Model::Closed {
                    think_time: Duration::from_millis(100),
                },
                stages: vec![Stage {
                    duration: Duration::from_secs(f.duration_secs),
                    target: f.users,
                }],
                initial: f.users,
                rate_cap: None,
            },
            global_config: GlobalConfig {
                target_url: f.target,
                auth: None,
            },
            replicas: f.replicas,
            start_timeout: Duration::from_secs(60),
            formats: vec!["json".into()],
            storage_path: None,
            model: "closed".into(),
            redacted_config: serde_json::json!({ "metadata": { "name": f.name } }),
            thresholds: vec![],
        })
    }
}

/// A benchmark file for [`JsonPlanner`].
pub fn file(users: u32, replicas: u32) -> String {
    serde_json::json!({
        "name": "api test",
        "users": users,
        "duration_secs": 2,
        "replicas": replicas,
        "queries": ["errors", "count"],
    })
    .to_string()
}

/// An S-3 registration.
pub fn register(id: &str, cpu: u32, max: u32) -> RegisterRequest {
    RegisterRequest {
        action: RegisterAction::Register,
        node_id: id.into(),
        capabilities: Capabilities {
            max_concurrent_queries: max,
            supported_query_types: vec!["query".into(), "stats".into()],
            resources: Resources {
                cpu_cores: cpu,
                memory_mb: 2048,
            },
        },
        endpoint: format!("http://{id}:9101"),
    }
}
