//! Scheduler rules, driven with chosen instants.

use std::time::Duration;

use chrono::Utc;
use tokio::time::Instant;
use vlbench_workload::{Model, Schedule, Stage};

use super::*;
use crate::model::TaskStatus;
use crate::protocol::{Capabilities, GlobalConfig, NodeStatus, Resources};
use crate::store::Store;

const MARGIN: Duration = Duration::from_secs(2);
const GRACE: Duration = Duration::from_secs(5);
pub(super) const REJOIN: Duration = Duration::from_secs(3);

pub(super) fn config() -> SchedulerConfig {
    SchedulerConfig {
        start_margin: MARGIN,
        finish_grace: GRACE,
        rejoin_grace: REJOIN,
    }
}

pub(super) fn benchmark(users: f64, replicas: u32) -> Benchmark {
    Benchmark {
        name: "Demo run".into(),
        query_names: vec!["errors".into(), "count".into()],
        schedule: Schedule {
            model: Model::Closed {
                think_time: Duration::ZERO,
            },
            stages: vec![Stage {
                duration: Duration::from_secs(10),
                target: users,
            }],
            initial: users,
            rate_cap: None,
        },
        global_config: GlobalConfig {
            target_url: "http://127.0.0.1:9428".into(),
            auth: Some(crate::protocol::Auth {
                kind: "bearer".into(),
                token: "secret".into(),
            }),
        },
        replicas,
        start_timeout: Duration::from_secs(30),
        formats: vec!["json".into()],
        storage_path: None,
        model: "closed".into(),
        redacted_config: serde_json::json!({"metadata": {"name": "Demo run"}}),
        thresholds: vec![],
    }
}

pub(super) fn node(id: &str, cpu: u32, status: NodeStatus) -> NodeRecord {
    NodeRecord {
        node_id: id.into(),
        status,
        last_heartbeat: Utc::now(),
        registered_at: Utc::now(),
        current_load: 0.0,
        capabilities: Capabilities {
            max_concurrent_queries: 100,
            supported_query_types: vec!["query".into()],
            resources: Resources {
                cpu_cores: cpu,
                memory_mb: 1024,
            },
        },
        endpoint: String::new(),
        assigned_tasks: vec![],
        performance_metrics: None,
    }
}

fn two_nodes() -> Vec<NodeRecord> {
    vec![
        node("a", 1, NodeStatus::Active),
        node("b", 3, NodeStatus::Active),
    ]
}

#[test]
fn a_task_waits_for_its_replicas_then_runs_and_completes() {
    let t0 = Instant::now();
    let mut s = Scheduler::new(config(), None);
    let rec = s.submit(benchmark(8.0, 2), "yaml".into(), &[], t0).unwrap();
    assert_eq!(rec.status, TaskStatus::Pending);
    assert!(rec.task_id.starts_with("demo-run-"), "{}", rec.task_id);
    assert_eq!(rec.global_config.auth.as_ref().unwrap().token, "***");

    let one = vec![node("a", 1, NodeStatus::Active)];
    let out = s.tick(&one, t0 + Duration::from_secs(1));
    assert!(out.started.is_empty());
    assert_eq!(s.heartbeat("a", None).assignment, None);

    let out = s.tick(&two_nodes(), t0 + Duration::from_secs(2));
    assert_eq!(out.started.len(), 1);
    assert_eq!(out.started[0].nodes, ["a", "b"]);
    let hb = s.heartbeat("b", Some(&rec.task_id));
    assert!(hb.version > 0);
    let a = hb.assignment.unwrap();
    assert_eq!(a.config, "yaml");
    assert_eq!(a.global_config.auth.unwrap().token, "secret");
    assert_eq!(a.node_assignments["a"].concurrent_users, 2);
    assert_eq!(a.node_assignments["b"].concurrent_users, 6);
    let running = s.get(&rec.task_id).unwrap();
    assert_eq!(running.status, TaskStatus::Running);
    assert_eq!(running.executions["b"].status, TaskStatus::Running);
    assert_eq!(running.executions["a"].status, TaskStatus::Pending);

    s.node_finished(&rec.task_id, "a", ReportStatus::Completed, None);
    assert!(s
        .tick(&two_nodes(), t0 + Duration::from_secs(5))
        .finished
        .is_empty());
    s.node_finished(&rec.task_id, "b", ReportStatus::Completed, None);
    let out = s.tick(&two_nodes(), t0 + Duration::from_secs(6));
    assert_eq!(out.finished.len(), 1);
    assert_eq!(out.finished[0].status, TaskStatus::Completed);
    let after = s.heartbeat("b", None);
    assert!(after.version > hb.version);
    assert_eq!(after.assignment, None);
}

#[test]
fn a_node_with_the_current_version_gets_unchanged_without_the_assignment() {
    let t0 = Instant::now();
    let mut s = Scheduler::new(config(), None);
    let rec = s.submit(benchmark(8.0, 2), "yaml".into(), &[], t0).unwrap();
    s.tick(&two_nodes(), t0 + Duration::from_secs(1));
    let id = rec.task_id.as_str();
    // Not yet applied: the full assignment.
    let first = s.heartbeat_from("a", None, Some(0));
    assert!(!first.unchanged);
    let v = first.version;
    assert!(first.assignment.is_some());
    // Applied and running: unchanged, and the execution is marked running.
    let hb = s.heartbeat_from("a", Some(id), Some(v));
    assert!(hb.unchanged && hb.assignment.is_none() && hb.version == v);
    assert_eq!(
        s.get(id).unwrap().executions["a"].status,
        TaskStatus::Running
    );
    // Applied but not running it (e.g. the run ended early): full answer.
    assert!(s.heartbeat_from("a", None, Some(v)).assignment.is_some());
    // Stopped: a newer version without an assignment, never "unchanged".
    s.stop(id, t0 + Duration::from_secs(2)).unwrap();
    let stop = s.heartbeat_from("a", Some(id), Some(v));
    assert!(!stop.unchanged && stop.assignment.is_none() && stop.version > v);
    // Idle after the stop, the task not finished yet: still no assignment.
    let idle = s.heartbeat_from("a", None, Some(v));
    assert!(!idle.unchanged && idle.assignment.is_none());
}

#[test]
fn a_task_without_its_replicas_fails_after_the_start_timeout() {
    let t0 = Instant::now();
    let mut s = Scheduler::new(config(), None);
    let rec = s.submit(benchmark(8.0, 3), "y".into(), &[], t0).unwrap();
    assert!(s
        .tick(&two_nodes(), t0 + Duration::from_secs(30))
        .finished
        .is_empty());
    let out = s.tick(&two_nodes(), t0 + Duration::from_secs(31));
    assert_eq!(out.finished[0].task_id, rec.task_id);
    assert_eq!(out.finished[0].status, TaskStatus::Failed);
    let msg = out.finished[0].error_message.clone().unwrap();
    assert!(msg.contains("only 2 of the 3"), "{msg}");
}

#[test]
fn a_benchmark_that_does_not_fit_is_refused_at_submit() {
    let mut s = Scheduler::new(config(), None);
    let err = s
        .submit(
            benchmark(500.0, 2),
            "y".into(),
            &two_nodes(),
            Instant::now(),
        )
        .unwrap_err();
    assert!(matches!(err, SchedError::Split(_)), "{err}");
    assert!(s.list().is_empty());
}

#[test]
fn a_node_failing_after_the_others_completed_is_noted_not_moved() {
    let t0 = Instant::now();
    let mut s = Scheduler::new(config(), None);
    let rec = s.submit(benchmark(4.0, 2), "y".into(), &[], t0).unwrap();
    s.tick(&two_nodes(), t0);
    s.node_finished(&rec.task_id, "a", ReportStatus::Completed, None);
    let nodes = vec![
        node("a", 1, NodeStatus::Active),
        node("b", 3, NodeStatus::Failed),
    ];
    let out = s.tick(&nodes, t0 + Duration::from_secs(3));
    let done = &out.finished[0];
    assert_eq!(done.status, TaskStatus::Completed);
    assert_eq!(done.executions["a"].status, TaskStatus::Completed);
    assert_eq!(done.executions["b"].status, TaskStatus::Failed);
    assert!(done.executions["b"].fate().starts_with("failed at "));
    assert!(done
        .error_message
        .as_ref()
        .unwrap()
        .contains("b: no heartbeat"));
}

#[test]
fn a_task_without_final_reports_fails_after_its_deadline() {
    let t0 = Instant::now();
    let mut s = Scheduler::new(config(), None);
    s.submit(benchmark(4.0, 2), "y".into(), &[], t0).unwrap();
    s.tick(&two_nodes(), t0);
    // Deadline: margin 2 s + 10 s run + grace 5 s.
    assert!(s
        .tick(&two_nodes(), t0 + Duration::from_secs(17))
        .finished
        .is_empty());
    let out = s.tick(&two_nodes(), t0 + Duration::from_secs(18));
    assert_eq!(out.finished[0].status, TaskStatus::Failed);
    assert!(out.finished[0].executions["a"]
        .error_message
        .as_ref()
        .unwrap()
        .contains("deadline"));
}

#[test]
fn stopping_withdraws_assignments_and_completes_on_final_reports() {
    let t0 = Instant::now();
    let mut s = Scheduler::new(config(), None);
    let rec = s.submit(benchmark(4.0, 2), "y".into(), &[], t0).unwrap();
    s.tick(&two_nodes(), t0);
    let before = s.heartbeat("a", None).version;
    let stopped = s.stop(&rec.task_id, t0 + Duration::from_secs(3)).unwrap();
    assert!(stopped.stopped);
    let hb = s.heartbeat("a", None);
    assert!(hb.version > before);
    assert_eq!(hb.assignment, None);
    s.node_finished(&rec.task_id, "a", ReportStatus::Completed, None);
    s.node_finished(&rec.task_id, "b", ReportStatus::Completed, None);
    let out = s.tick(&two_nodes(), t0 + Duration::from_secs(4));
    assert_eq!(out.finished[0].status, TaskStatus::Completed);
    assert!(out.finished[0].stopped);
    assert_eq!(
        s.stop("nope", t0),
        Err(SchedError::UnknownTask("nope".into()))
    );
}

#[test]
fn stopping_a_pending_task_fails_it() {
    let mut s = Scheduler::new(config(), None);
    let rec = s
        .submit(benchmark(4.0, 5), "y".into(), &[], Instant::now())
        .unwrap();
    let out = s.stop(&rec.task_id, Instant::now()).unwrap();
    assert_eq!(out.status, TaskStatus::Failed);
    assert!(out.stopped);
}

#[test]
fn stored_tasks_without_a_plan_are_failed_at_restart() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = Instant::now();
    let store = Store::open(dir.path()).unwrap();
    let mut s = Scheduler::new(config(), Some(store.clone()));
    let rec = s.submit(benchmark(4.0, 2), "y".into(), &[], t0).unwrap();
    s.tick(&two_nodes(), t0);
    drop(s);
    store.remove_plan(&rec.task_id).unwrap();
    let again = Scheduler::new(config(), Some(store));
    let back = again.get(&rec.task_id).unwrap();
    assert_eq!(back.status, TaskStatus::Failed);
    assert!(back
        .error_message
        .unwrap()
        .contains("restarted while the task was running"));
    assert_eq!(back.node_assignments.len(), 2);
}
