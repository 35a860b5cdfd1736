//! Changes to a running task's split: rebalancing when nodes fail or come
//! back (S-13), live tuning of users and rate (S-19) and the load
//! adjuster's weight factors (S-10).
//!
//! Every change re-partitions the one global schedule over the live nodes
//! (`Share::from_weights` over the survivors) and bumps each live node's
//! assignment version; workers apply it to their running engine, so global
//! arrival numbering stays continuous and the fleet's arrivals still add up
//! to the asked rate. Must not: judge node health (the registry and the
//! adjuster policy do) or touch results.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime};

use chrono::Utc;
use serde::{Deserialize, Serialize};
use vlbench_workload::Model;

use super::state::{SchedError, Scheduler, Task, TickOutcome};
use crate::adjust::{self, AdjustPolicy, NodeWindow};
use crate::model::{EventKind, NodeRecord, TaskEvent, TaskRecord, TaskStatus};
use crate::protocol::{unix_ms, Capabilities, TuneRequest};
use crate::split::{self, Candidate, SplitError};

/// Most events kept in a task record (the oldest go first).
const MAX_EVENTS: usize = 200;

/// A node that carried a share of a task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Member {
    /// What it declared at registration.
    pub capabilities: Capabilities,
    /// Its weight in the first split (CPU cores or capacity).
    pub base: u32,
    /// The load adjuster's factor (1 = full weight).
    pub factor: f64,
    /// Whether it carries a share now.
    pub live: bool,
}

impl Member {
    /// A live member at full weight.
    pub fn new(capabilities: Capabilities, base: u32) -> Member {
        Member {
            capabilities,
            base,
            factor: 1.0,
            live: true,
        }
    }
}

impl Scheduler {
    /// After a tick found `lost` nodes failed and `back` nodes alive again:
    /// re-partition over the live nodes, or fail the task when none is left.
    pub(super) fn rebalance(
        &mut self,
        id: &str,
        lost: &[String],
        back: &[String],
        nodes: &HashMap<&str, &NodeRecord>,
        out: &mut TickOutcome,
    ) {
        let Some(task) = self.tasks.get_mut(id) else {
            return;
        };
        let mut events = Vec::new();
        for node in lost {
            if let Some(m) = task.members.get_mut(node) {
                m.live = false;
            }
            tracing::warn!(task = %id, node = %node, "node failed: its share moves to the live nodes");
            events.push(event(
                EventKind::NodeFailed,
                Some(node),
                "no heartbeat within the heartbeat timeout; share withdrawn".into(),
            ));
        }
        for node in back {
            let (Some(exec), Some(rec)) = (
                task.record.executions.get_mut(node),
                nodes.get(node.as_str()),
            ) else {
                continue;
            };
            exec.status = TaskStatus::Pending;
            exec.end_time = None;
            exec.error_message = None;
            exec.rejoins += 1;
            let m = task
                .members
                .entry(node.clone())
                .or_insert_with(|| Member::new(rec.capabilities.clone(), 1));
            m.capabilities = rec.capabilities.clone();
            m.factor = 1.0;
            m.live = true;
            self.node_task.insert(node.clone(), id.to_string());
            tracing::info!(task = %id, node = %node, "failed node is back: it gets a share again");
            events.push(event(
                EventKind::NodeRejoined,
                Some(node),
                "heard from again; gets a share again".into(),
            ));
        }
        if events.is_empty() && !task.dirty {
            return;
        }
        task.dirty = false;
        let live = carrying(task).count();
        if live == 0 {
            push_events(&mut task.record, events);
            let completed = task
                .record
                .executions
                .values()
                .any(|e| e.status == TaskStatus::Completed);
            if !completed {
                let msg = format!(
                    "no live worker node left to carry the load (failed: {}); start workers and resubmit",
                    lost.join(", ")
                );
                out.finished
                    .extend(self.finish(id, TaskStatus::Failed, Some(msg)));
            }
            return;
        }
        let why = format!("re-partitioned over {live} live node(s)");
        events.push(event(EventKind::Rebalanced, None, why));
        if let Err(e) = self.reassign(id, events) {
            let msg = format!("the live nodes cannot take the failed nodes' load: {e}");
            out.finished
                .extend(self.finish(id, TaskStatus::Failed, Some(msg)));
        }
    }

    /// Splits the task's current schedule over its live members, records
    /// `events` (the last gets the new weights) and bumps the live nodes'
    /// assignment versions.
    pub(super) fn reassign(
        &mut self,
        id: &str,
        mut events: Vec<TaskEvent>,
    ) -> Result<(), SplitError> {
        let Some(task) = self.tasks.get_mut(id) else {
            return Ok(());
        };
        let nodes: Vec<(Candidate, u32)> = carrying(task)
            .map(|(id, m)| {
                let c = Candidate {
                    node_id: id.clone(),
                    capabilities: m.capabilities.clone(),
                };
                (c, adjust::effective_weight(m.base, m.factor))
            })
            .collect();
        let split = split::split_weighted(&nodes, &task.schedule, &task.record.query_names)?;
        if let Some(last) = events.last_mut() {
            last.weights = split::weights_of(&split);
        }
        push_events(&mut task.record, events);
        task.record.node_assignments = split.clone();
        if let Some(a) = &mut task.assignment {
            a.node_assignments = split.clone();
            a.schedule = task.schedule.clone();
        }
        let record = task.record.clone();
        for node in split.keys() {
            if self.node_task.get(node).is_some_and(|t| t == id) {
                self.bump(node);
            }
        }
        self.persist(&record);
        self.persist_plan(id);
        Ok(())
    }

    /// S-19: new users and/or rate from now on; the live nodes follow at
    /// their next heartbeat.
    pub fn tune(
        &mut self,
        id: &str,
        req: &TuneRequest,
        now: SystemTime,
    ) -> Result<TaskRecord, SchedError> {
        let task = self
            .tasks
            .get_mut(id)
            .ok_or_else(|| SchedError::UnknownTask(id.into()))?;
        let not_running = |status: &str| SchedError::NotRunning {
            id: id.into(),
            status: status.into(),
        };
        if task.record.status != TaskStatus::Running {
            return Err(not_running(task.record.status.as_str()));
        }
        let Some(start_ms) = task.assignment.as_ref().map(|a| a.start_unix_ms) else {
            return Err(not_running("stopping"));
        };
        let at = Duration::from_millis(unix_ms(now).saturating_sub(start_ms));
        if at >= task.schedule.duration() {
            return Err(not_running("at the end of its schedule"));
        }
        let old = task.schedule.clone();
        let mut schedule = old.clone();
        match (&old.model, req.users, req.target_qps) {
            (_, None, None) => {
                return Err(SchedError::Invalid("give `users` and/or `target_qps`".into()))
            }
            (Model::Open { .. }, Some(_), _) => {
                return Err(SchedError::Invalid(
                    "`users` applies to closed-model benchmarks; tune an open-model benchmark with `target_qps`".into(),
                ))
            }
            (Model::Open { .. }, None, Some(q)) => schedule = schedule.retarget(at, q),
            (Model::Closed { .. }, users, qps) => {
                if let Some(u) = users {
                    schedule = schedule.retarget(at, f64::from(u));
                }
                if let Some(q) = qps {
                    schedule = schedule.retarget_rate_cap(at, q);
                }
            }
        }
        task.schedule = schedule;
        let msg = match (req.users, req.target_qps) {
            (Some(u), Some(q)) => {
                format!("users → {u}, target_qps → {q} at {:.1} s", at.as_secs_f64())
            }
            (Some(u), None) => format!("users → {u} at {:.1} s", at.as_secs_f64()),
            (None, q) => format!(
                "target_qps → {} at {:.1} s",
                q.unwrap_or_default(),
                at.as_secs_f64()
            ),
        };
        tracing::info!(task = %id, "tuned: {msg}");
        if let Err(e) = self.reassign(id, vec![event(EventKind::Tuned, None, msg)]) {
            if let Some(task) = self.tasks.get_mut(id) {
                task.schedule = old;
            }
            return Err(e.into());
        }
        self.tasks
            .get(id)
            .map(|t| t.record.clone())
            .ok_or_else(|| SchedError::UnknownTask(id.into()))
    }

    /// S-10: applies the policy to what each node measured over the last
    /// period; returns how many weights changed.
    pub fn adjust(
        &mut self,
        id: &str,
        windows: &BTreeMap<String, NodeWindow>,
        policy: &AdjustPolicy,
    ) -> usize {
        let Some(task) = self.tasks.get_mut(id) else {
            return 0;
        };
        if task.record.status != TaskStatus::Running || task.assignment.is_none() {
            return 0;
        }
        let factors: BTreeMap<String, f64> = carrying(task)
            .map(|(id, m)| (id.clone(), m.factor))
            .collect();
        let decisions = adjust::decide(policy, &factors, windows);
        if decisions.is_empty() {
            return 0;
        }
        let old = task.members.clone();
        let mut events = Vec::new();
        for d in &decisions {
            if let Some(m) = task.members.get_mut(&d.node) {
                m.factor = d.to;
            }
            tracing::info!(task = %id, node = %d.node, from = d.from, to = d.to, "weight factor changed: {}", d.reason);
            let msg = format!("weight factor {:.2} → {:.2}: {}", d.from, d.to, d.reason);
            events.push(event(EventKind::WeightChanged, Some(&d.node), msg));
        }
        match self.reassign(id, events) {
            Ok(()) => decisions.len(),
            Err(e) => {
                tracing::warn!(task = %id, "weight change not applied: {e}");
                if let Some(task) = self.tasks.get_mut(id) {
                    task.members = old;
                }
                0
            }
        }
    }
}

/// The members that carry a share now: live, and not finished.
fn carrying(task: &Task) -> impl Iterator<Item = (&String, &Member)> {
    task.members.iter().filter(|(id, m)| {
        m.live
            && task
                .record
                .executions
                .get(*id)
                .is_some_and(|e| !e.status.is_terminal())
    })
}

fn event(kind: EventKind, node: Option<&String>, message: String) -> TaskEvent {
    TaskEvent {
        at: Utc::now(),
        kind,
        node: node.cloned(),
        message,
        weights: BTreeMap::new(),
    }
}

pub(super) fn push_events(record: &mut TaskRecord, events: Vec<TaskEvent>) {
    record.events.extend(events);
    let over = record.events.len().saturating_sub(MAX_EVENTS);
    record.events.drain(..over);
}
