//! The scheduler's state and rules: task records (S-8), which node runs what,
//! assignment versions, the tick (starting pending tasks through `start`,
//! with a start timeout), heartbeats, and finishing a task when every node
//! is done, failed or late.
//!
//! Plain data with synchronous methods taking the instants they need, so the
//! tests drive it without a runtime. Must not: talk to other actors.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::Utc;
use tokio::time::Instant;
use vlbench_workload::Schedule;

use super::live::Member;
use crate::model::{NodeRecord, TaskRecord, TaskStatus};
use crate::protocol::{unix_ms, Assignment, GlobalConfig, HeartbeatResponse, ReportStatus};
use crate::split::SplitError;
use crate::store::Store;

/// Timing rules of the scheduler.
#[derive(Clone, Copy, Debug)]
pub struct SchedulerConfig {
    /// Delay between assigning a task and its start instant, so every node
    /// has fetched its assignment (a few heartbeat intervals).
    pub start_margin: Duration,
    /// How long after the scheduled end the final reports may still come.
    pub finish_grace: Duration,
    /// After a coordinator restart, how long a resumed task waits for its
    /// nodes to register again before they count as failed.
    pub rejoin_grace: Duration,
}

/// Why a request to the scheduler was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SchedError {
    /// No task with this id.
    #[error("no benchmark with id {0:?}; list them with GET /api/v1/benchmarks")]
    UnknownTask(String),
    /// The benchmark does not fit on the nodes there are.
    #[error(transparent)]
    Split(#[from] SplitError),
    /// The task is not running (tuning a finished or pending task).
    #[error("benchmark {id:?} is {status} and cannot be tuned; only a running benchmark can")]
    NotRunning {
        /// The task.
        id: String,
        /// Its state (or why it cannot change).
        status: String,
    },
    /// A tuning request that does not fit the benchmark.
    #[error("{0}")]
    Invalid(String),
}

/// A task that just started: the aggregator must open it.
#[derive(Clone, Debug, PartialEq)]
pub struct Started {
    /// The task.
    pub task_id: String,
    /// Its query names.
    pub query_names: Vec<String>,
    /// The nodes running it.
    pub nodes: Vec<String>,
}

/// What a tick changed.
#[derive(Debug, Default)]
pub struct TickOutcome {
    /// Tasks assigned in this tick.
    pub started: Vec<Started>,
    /// Tasks that became completed or failed, with their final record.
    pub finished: Vec<TaskRecord>,
}

pub(super) struct Task {
    pub(super) record: TaskRecord,
    pub(super) config: String,
    /// The global schedule, retargeted by tuning.
    pub(super) schedule: Schedule,
    pub(super) global: GlobalConfig,
    pub(super) start_timeout: Duration,
    pub(super) submitted: Instant,
    pub(super) deadline: Option<Instant>,
    pub(super) assignment: Option<Assignment>,
    /// Every node that carried a share: weight, factor, whether it is live.
    pub(super) members: BTreeMap<String, Member>,
    /// Set when the coordinator restarted and resumed this task.
    pub(super) resumed: Option<Instant>,
    /// A node failed by its own report: re-partition at the next tick.
    pub(super) dirty: bool,
}

/// Every task and the node → task map.
pub struct Scheduler {
    pub(super) tasks: BTreeMap<String, Task>,
    pub(super) node_task: HashMap<String, String>,
    pub(super) versions: HashMap<String, u64>,
    pub(super) next_version: u64,
    pub(super) next_id: u64,
    pub(super) config: SchedulerConfig,
    pub(super) store: Option<Store>,
}

impl Scheduler {
    /// A scheduler; with a store, records are persisted on every change and
    /// the stored ones are loaded (a task that was not over is failed: its
    /// nodes lost their controller).
    pub fn new(config: SchedulerConfig, store: Option<Store>) -> Scheduler {
        let base = unix_ms(std::time::SystemTime::now());
        let mut s = Scheduler {
            tasks: BTreeMap::new(),
            node_task: HashMap::new(),
            versions: HashMap::new(),
            next_version: base,
            next_id: base,
            config,
            store,
        };
        s.restore();
        s
    }

    /// Starts pending tasks whose nodes are there, fails those that waited
    /// too long, and finishes running tasks that are done, lost nodes or
    /// passed their deadline.
    pub fn tick(&mut self, nodes: &[NodeRecord], now: Instant) -> TickOutcome {
        let mut out = TickOutcome::default();
        let ids: Vec<String> = self.tasks.keys().cloned().collect();
        for id in ids {
            match self.tasks[&id].record.status {
                TaskStatus::Pending => self.try_start(&id, nodes, now, &mut out),
                TaskStatus::Running => self.check_running(&id, nodes, now, &mut out),
                _ => {}
            }
        }
        out
    }

    /// Fails nodes gone silent (or late at the end), gives nodes that came
    /// back a share again, and re-partitions the load over the live nodes
    /// when that changed (S-12, S-13).
    fn check_running(
        &mut self,
        id: &str,
        nodes: &[NodeRecord],
        now: Instant,
        out: &mut TickOutcome,
    ) {
        let alive: HashMap<&str, &NodeRecord> =
            nodes.iter().map(|n| (n.node_id.as_str(), n)).collect();
        let Some(task) = self.tasks.get_mut(id) else {
            return;
        };
        let late = task.deadline.is_some_and(|d| now > d);
        let waiting = task
            .resumed
            .is_some_and(|r| now < r + self.config.rejoin_grace);
        let open = !late && !task.record.stopped && task.assignment.is_some();
        let mut lost = Vec::new();
        let mut back = Vec::new();
        for (node, exec) in &mut task.record.executions {
            let record = alive.get(node.as_str());
            let is_alive = record.is_some_and(|n| n.status.is_alive());
            if exec.status.is_terminal() {
                let idle = !self.node_task.contains_key(node);
                let failed = exec.status == TaskStatus::Failed && exec.failed_at.is_some();
                if open && is_alive && idle && failed {
                    back.push(node.clone());
                }
                continue;
            }
            // Unknown to the registry right after a restart: not yet back.
            let returning = record.is_none() && waiting;
            let gone = !(is_alive || returning);
            let why = if gone {
                "no heartbeat within the heartbeat timeout (node failed or went offline)"
            } else if late {
                "no final report before the task's deadline (scheduled end + grace)"
            } else {
                continue;
            };
            let wall = Utc::now();
            exec.status = TaskStatus::Failed;
            exec.end_time = Some(wall);
            exec.error_message = Some(why.to_string());
            if !late {
                exec.failed_at = Some(wall);
            }
            lost.push(node.clone());
        }
        for node in &lost {
            if self.node_task.get(node).is_some_and(|t| t == id) {
                self.node_task.remove(node);
                self.bump(node);
            }
        }
        if open {
            self.rebalance(id, &lost, &back, &alive, out);
        }
        self.finish_if_done(id, out);
    }

    fn finish_if_done(&mut self, id: &str, out: &mut TickOutcome) {
        let Some(task) = self.tasks.get(id) else {
            return;
        };
        let execs = &task.record.executions;
        if task.record.status != TaskStatus::Running
            || !execs.values().all(|e| e.status.is_terminal())
        {
            return;
        }
        let completed = execs
            .values()
            .filter(|e| e.status == TaskStatus::Completed)
            .count();
        let failed: Vec<String> = execs
            .values()
            .filter(|e| e.status == TaskStatus::Failed)
            .map(|e| {
                format!(
                    "{}: {}",
                    e.node_id,
                    e.error_message.as_deref().unwrap_or("failed")
                )
            })
            .collect();
        let (status, msg) = if failed.is_empty() {
            (TaskStatus::Completed, None)
        } else {
            let msg = format!(
                "{} of {} node(s) failed: {}",
                failed.len(),
                execs.len(),
                failed.join("; ")
            );
            if completed > 0 {
                // The live nodes took the failed nodes' share and finished.
                let msg = format!("{msg}; their load was moved to the live nodes");
                (TaskStatus::Completed, Some(msg))
            } else {
                (TaskStatus::Failed, Some(msg))
            }
        };
        out.finished.extend(self.finish(id, status, msg));
    }

    /// Ends a task: status, end time, frees its nodes (their assignment
    /// becomes empty under a new version).
    pub(super) fn finish(
        &mut self,
        id: &str,
        status: TaskStatus,
        error: Option<String>,
    ) -> Option<TaskRecord> {
        let nodes: Vec<String> = self
            .node_task
            .iter()
            .filter(|(_, t)| t.as_str() == id)
            .map(|(n, _)| n.clone())
            .collect();
        for n in &nodes {
            self.node_task.remove(n);
            self.bump(n);
        }
        let task = self.tasks.get_mut(id)?;
        task.assignment = None;
        task.record.status = status;
        task.record.end_time = Some(Utc::now());
        task.record.error_message = error;
        let record = task.record.clone();
        self.persist(&record);
        if let Some(store) = &self.store {
            if let Err(e) = store.remove_plan(id) {
                tracing::warn!("{e}");
            }
        }
        Some(record)
    }

    pub(super) fn bump(&mut self, node: &str) {
        self.next_version += 1;
        self.versions.insert(node.to_string(), self.next_version);
    }

    /// A node's current assignment and version; notes that the node runs
    /// `running` (its execution becomes running).
    pub fn heartbeat(&mut self, node: &str, running: Option<&str>) -> HeartbeatResponse {
        self.heartbeat_from(node, running, None)
    }

    /// [`Self::heartbeat`] for a node that says it has applied version
    /// `applied`: when that is the current version and the node runs the
    /// task it is assigned, the answer is `unchanged` and carries no
    /// assignment. (An assignment lists every node of the task: sending it
    /// to each node on each heartbeat cost the coordinator O(nodes²) a
    /// second, most of its CPU with 200 nodes.)
    pub fn heartbeat_from(
        &mut self,
        node: &str,
        running: Option<&str>,
        applied: Option<u64>,
    ) -> HeartbeatResponse {
        let version = self.versions.get(node).copied().unwrap_or(0);
        let task_id = self.node_task.get(node).cloned();
        let current = applied == Some(version) && running == task_id.as_deref();
        if current {
            if let Some(id) = running {
                self.mark_running(id, node);
            }
            return HeartbeatResponse {
                version,
                assignment: None,
                unchanged: true,
            };
        }
        let assignment = task_id.and_then(|id| {
            if running == Some(id.as_str()) {
                self.mark_running(&id, node);
            }
            self.tasks.get(&id)?.assignment.clone()
        });
        HeartbeatResponse {
            version,
            assignment,
            unchanged: false,
        }
    }

    /// A node runs its part of task `id`: a pending execution is running.
    fn mark_running(&mut self, id: &str, node: &str) {
        let exec = self
            .tasks
            .get_mut(id)
            .and_then(|t| t.record.executions.get_mut(node));
        if let Some(e) = exec {
            if e.status == TaskStatus::Pending {
                e.status = TaskStatus::Running;
            }
        }
    }

    /// A node's final report: its execution is completed or failed.
    pub fn node_finished(
        &mut self,
        id: &str,
        node: &str,
        status: ReportStatus,
        error: Option<String>,
    ) {
        let Some(task) = self.tasks.get_mut(id) else {
            return;
        };
        let Some(exec) = task.record.executions.get_mut(node) else {
            return;
        };
        if exec.status.is_terminal() {
            return;
        }
        exec.status = match status {
            ReportStatus::Failed => TaskStatus::Failed,
            _ => TaskStatus::Completed,
        };
        exec.end_time = Some(Utc::now());
        exec.error_message = error;
        if status == ReportStatus::Failed && task.assignment.is_some() {
            // Its share must move to the live nodes at the next tick.
            if let Some(m) = task.members.get_mut(node) {
                m.live = false;
            }
            task.dirty = true;
        }
        if self.node_task.get(node).is_some_and(|t| t == id) {
            self.node_task.remove(node);
            self.bump(node);
        }
    }

    /// Stops a task: a pending one fails; a running one has its assignments
    /// withdrawn and completes when its nodes have sent their last reports.
    pub fn stop(&mut self, id: &str, now: Instant) -> Result<TaskRecord, SchedError> {
        let task = self
            .tasks
            .get_mut(id)
            .ok_or_else(|| SchedError::UnknownTask(id.into()))?;
        match task.record.status {
            TaskStatus::Pending => {
                task.record.stopped = true;
                let msg = "stopped by the user before it started".to_string();
                self.finish(id, TaskStatus::Failed, Some(msg))
                    .ok_or_else(|| SchedError::UnknownTask(id.into()))
            }
            TaskStatus::Running if !task.record.stopped => {
                task.record.stopped = true;
                task.assignment = None;
                task.deadline = Some(now + self.config.finish_grace);
                let nodes: Vec<String> = task.record.executions.keys().cloned().collect();
                let record = task.record.clone();
                for n in &nodes {
                    if self.node_task.get(n).is_some_and(|t| t == id) {
                        self.bump(n);
                    }
                }
                self.persist(&record);
                Ok(record)
            }
            _ => Ok(task.record.clone()),
        }
    }

    /// One task's record.
    pub fn get(&self, id: &str) -> Option<TaskRecord> {
        self.tasks.get(id).map(|t| t.record.clone())
    }

    /// Every task's record, by id.
    pub fn list(&self) -> Vec<TaskRecord> {
        self.tasks.values().map(|t| t.record.clone()).collect()
    }

    /// The ids of the running tasks.
    pub fn running(&self) -> Vec<String> {
        self.tasks
            .iter()
            .filter(|(_, t)| t.record.status == TaskStatus::Running)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Node id → the task it is part of.
    pub fn node_tasks(&self) -> HashMap<String, String> {
        self.node_task.clone()
    }

    pub(super) fn persist(&self, record: &TaskRecord) {
        if let Some(store) = &self.store {
            if let Err(e) = store.save_task(record) {
                tracing::warn!("{e}");
            }
        }
    }
}

pub(super) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

pub(super) fn empty_schedule() -> Schedule {
    Schedule {
        model: vlbench_workload::Model::Closed {
            think_time: Duration::ZERO,
        },
        stages: Vec::new(),
        initial: 0.0,
        rate_cap: None,
    }
}
