//! Rebalancing, rejoining, tuning, weight changes and resuming after a
//! restart, driven with chosen instants (the scheduler reads no clock of
//! its own for these rules).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;
use vlbench_workload::{Model, Share};

use super::tests::{benchmark, config, node, REJOIN};
use super::*;
use crate::adjust::{AdjustPolicy, NodeWindow};
use crate::model::{EventKind, TaskStatus};
use crate::protocol::{NodeStatus, TuneRequest};
use crate::split::share_of;
use crate::store::Store;

fn three(c: NodeStatus) -> Vec<NodeRecord> {
    vec![
        node("a", 1, NodeStatus::Busy),
        node("b", 1, NodeStatus::Busy),
        node("c", 2, c),
    ]
}

/// A running task over a, b, c (weights 1, 1, 2); returns its id.
fn running(s: &mut Scheduler, t0: Instant, users: f64) -> String {
    let id = s
        .submit(benchmark(users, 3), "y".into(), &[], t0)
        .unwrap()
        .task_id;
    assert_eq!(s.tick(&three(NodeStatus::Active), t0).started.len(), 1);
    id
}

#[test]
fn a_failed_nodes_share_moves_to_the_live_nodes_and_comes_back() {
    let t0 = Instant::now();
    let mut s = Scheduler::new(config(), None);
    let id = running(&mut s, t0, 8.0);
    let before = s.heartbeat("a", Some(&id));
    assert_eq!(before.assignment.unwrap().node_assignments.len(), 3);

    let out = s.tick(&three(NodeStatus::Failed), t0 + Duration::from_secs(4));
    assert!(out.finished.is_empty(), "the task goes on");
    let hb = s.heartbeat("a", Some(&id));
    assert!(hb.version > before.version, "a new assignment version");
    let split = hb.assignment.unwrap().node_assignments;
    assert_eq!(split.keys().collect::<Vec<_>>(), ["a", "b"]);
    let users: u32 = split.values().map(|a| a.concurrent_users).sum();
    assert_eq!(users, 8, "the survivors carry every user");
    let shares: Vec<Share> = split
        .values()
        .map(|a| share_of(&a.share).unwrap())
        .collect();
    for i in 0..100u64 {
        assert_eq!(shares.iter().filter(|s| s.contains(i)).count(), 1);
    }
    assert_eq!(
        s.heartbeat("c", None).assignment,
        None,
        "c's share is withdrawn"
    );
    let rec = s.get(&id).unwrap();
    assert_eq!(rec.executions["c"].status, TaskStatus::Failed);
    assert!(rec.executions["c"].failed_at.is_some());
    let kinds: Vec<EventKind> = rec.events.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [EventKind::NodeFailed, EventKind::Rebalanced]);
    assert_eq!(rec.events[1].weights.len(), 2);

    // c is heard from again: it gets a share again.
    s.tick(&three(NodeStatus::Active), t0 + Duration::from_secs(6));
    let hb = s.heartbeat("c", Some(&id));
    assert_eq!(hb.assignment.unwrap().node_assignments.len(), 3);
    let rec = s.get(&id).unwrap();
    assert_eq!(rec.executions["c"].status, TaskStatus::Running);
    assert_eq!(rec.executions["c"].rejoins, 1);
    for n in ["a", "b", "c"] {
        s.node_finished(&id, n, ReportStatus::Completed, None);
    }
    let done = s.tick(&three(NodeStatus::Active), t0 + Duration::from_secs(12));
    assert_eq!(done.finished[0].status, TaskStatus::Completed);
    assert_eq!(done.finished[0].executions["c"].fate(), "rejoined");
    assert_eq!(done.finished[0].executions["a"].fate(), "completed");
}

#[test]
fn with_no_live_node_left_the_task_fails_with_a_clear_error() {
    let t0 = Instant::now();
    let mut s = Scheduler::new(config(), None);
    let id = running(&mut s, t0, 4.0);
    let dead: Vec<NodeRecord> = ["a", "b", "c"]
        .iter()
        .map(|n| node(n, 1, NodeStatus::Failed))
        .collect();
    let out = s.tick(&dead, t0 + Duration::from_secs(4));
    assert_eq!(out.finished.len(), 1);
    let rec = s.get(&id).unwrap();
    assert_eq!(rec.status, TaskStatus::Failed);
    let msg = rec.error_message.unwrap();
    assert!(msg.contains("no live worker node left"), "{msg}");
}

#[test]
fn a_node_reporting_its_own_failure_is_rebalanced_at_the_next_tick() {
    let t0 = Instant::now();
    let mut s = Scheduler::new(config(), None);
    let id = running(&mut s, t0, 8.0);
    s.node_finished(&id, "b", ReportStatus::Failed, Some("engine: boom".into()));
    s.tick(&three(NodeStatus::Busy), t0 + Duration::from_secs(1));
    let split = s
        .heartbeat("a", Some(&id))
        .assignment
        .unwrap()
        .node_assignments;
    assert_eq!(split.keys().collect::<Vec<_>>(), ["a", "c"]);
}

#[test]
fn tuning_retargets_the_schedule_from_now_and_bumps_versions() {
    let t0 = Instant::now();
    let mut s = Scheduler::new(config(), None);
    let id = running(&mut s, t0, 8.0);
    let before = s.heartbeat("a", Some(&id));
    let start = before.assignment.as_ref().unwrap().start_unix_ms;
    let at = crate::protocol::from_unix_ms(start) + Duration::from_secs(4);
    let req = TuneRequest {
        users: Some(12),
        target_qps: Some(50.0),
    };
    let rec = s.tune(&id, &req, at).unwrap();
    assert_eq!(rec.events.last().unwrap().kind, EventKind::Tuned);
    let hb = s.heartbeat("a", Some(&id));
    assert!(hb.version > before.version);
    let a = hb.assignment.unwrap();
    assert_eq!(a.schedule.value_at(Duration::from_secs(3)), 8.0);
    assert_eq!(a.schedule.value_at(Duration::from_secs(5)), 12.0);
    assert_eq!(a.schedule.rate_cap_at(Duration::from_secs(5)), Some(50.0));
    let users: u32 = a
        .node_assignments
        .values()
        .map(|n| n.concurrent_users)
        .sum();
    assert_eq!(users, 12);

    let too_many = TuneRequest {
        users: Some(10_000),
        target_qps: None,
    };
    assert!(matches!(
        s.tune(&id, &too_many, at),
        Err(SchedError::Split(_))
    ));
    let after = s.heartbeat("a", Some(&id)).assignment.unwrap();
    assert_eq!(
        after.schedule, a.schedule,
        "a refused change leaves the schedule"
    );
    let late = crate::protocol::from_unix_ms(start) + Duration::from_secs(11);
    assert!(matches!(
        s.tune(&id, &req, late),
        Err(SchedError::NotRunning { .. })
    ));
    assert!(matches!(
        s.tune("nope", &req, at),
        Err(SchedError::UnknownTask(_))
    ));
}

#[test]
fn an_open_model_is_tuned_by_rate_only() {
    let t0 = Instant::now();
    let mut s = Scheduler::new(config(), None);
    let mut b = benchmark(100.0, 3);
    b.schedule.model = Model::Open { max_in_flight: 30 };
    let id = s.submit(b, "y".into(), &[], t0).unwrap().task_id;
    s.tick(&three(NodeStatus::Active), t0);
    let users = TuneRequest {
        users: Some(5),
        target_qps: None,
    };
    let err = s.tune(&id, &users, SystemTime::now()).unwrap_err();
    assert!(err.to_string().contains("target_qps"), "{err}");
    let qps = TuneRequest {
        users: None,
        target_qps: Some(300.0),
    };
    s.tune(&id, &qps, SystemTime::now() + Duration::from_secs(3))
        .unwrap();
    let a = s.heartbeat("c", Some(&id)).assignment.unwrap();
    assert_eq!(a.node_assignments["c"].target_qps, Some(150.0));
}

#[test]
fn weight_changes_move_load_and_are_recorded() {
    let t0 = Instant::now();
    let mut s = Scheduler::new(config(), None);
    let id = running(&mut s, t0, 40.0);
    let w = |ms: f64| NodeWindow {
        queries: vec![(100, ms * 1000.0 * 100.0)],
        requests: 100,
        ..NodeWindow::default()
    };
    let windows: BTreeMap<String, NodeWindow> = [("a", w(10.0)), ("b", w(10.0)), ("c", w(50.0))]
        .into_iter()
        .map(|(n, w)| (n.to_string(), w))
        .collect();
    let before = s.heartbeat("c", Some(&id)).assignment.unwrap();
    assert_eq!(s.adjust(&id, &windows, &AdjustPolicy::default()), 1);
    let after = s.heartbeat("c", Some(&id)).assignment.unwrap();
    let users = |a: &crate::protocol::Assignment, n: &str| a.node_assignments[n].concurrent_users;
    assert!(users(&after, "c") < users(&before, "c"));
    let total: u32 = after
        .node_assignments
        .values()
        .map(|n| n.concurrent_users)
        .sum();
    assert_eq!(total, 40);
    let ev = s.get(&id).unwrap().events.pop().unwrap();
    assert_eq!(ev.kind, EventKind::WeightChanged);
    assert_eq!(ev.weights["c"], 16, "2 cores × 0.8 at 1/10 resolution");
    assert!(ev.message.contains("latency"), "{}", ev.message);
}

#[test]
fn a_running_task_is_resumed_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let t0 = Instant::now();
    let mut s = Scheduler::new(config(), Some(store.clone()));
    let id = running(&mut s, t0, 8.0);
    let before = s.heartbeat("a", Some(&id)).assignment.unwrap();
    drop(s);

    let mut s = Scheduler::new(config(), Some(store.clone()));
    assert_eq!(s.resumed().len(), 1);
    let rec = s.get(&id).unwrap();
    assert_eq!(rec.status, TaskStatus::Running);
    assert_eq!(rec.events.last().unwrap().kind, EventKind::Resumed);
    let hb = s.heartbeat("a", Some(&id));
    assert_eq!(
        hb.assignment.unwrap(),
        before,
        "the same assignment, secret included"
    );
    // Nodes not registered yet are given the rejoin grace...
    let t1 = Instant::now();
    assert!(s.tick(&[], t1 + REJOIN / 2).finished.is_empty());
    assert_eq!(
        s.get(&id).unwrap().executions["a"].status,
        TaskStatus::Running
    );
    // ...then a node still missing is failed and its share moves.
    let back = vec![
        node("a", 1, NodeStatus::Busy),
        node("b", 1, NodeStatus::Busy),
    ];
    s.tick(&back, t1 + REJOIN + Duration::from_millis(1));
    let rec = s.get(&id).unwrap();
    assert_eq!(rec.executions["c"].status, TaskStatus::Failed);
    assert_eq!(rec.node_assignments.len(), 2);
    for n in ["a", "b"] {
        s.node_finished(&id, n, ReportStatus::Completed, None);
    }
    s.tick(&back, t1 + REJOIN * 2);
    assert_eq!(s.get(&id).unwrap().status, TaskStatus::Completed);
    let plan: Option<PlanState> = store.load_plan(&id).unwrap();
    assert!(
        plan.is_none(),
        "a finished task's plan (with its secret) is removed"
    );
}
