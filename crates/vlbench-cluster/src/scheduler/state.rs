//! The scheduler's state and rules: task records (S-8), which node runs what,
//! assignment versions, starting a task when its nodes are there (with a
//! start timeout), finishing it when every node is done, failed or late.
//!
//! Plain data with synchronous methods taking the instants they need, so the
//! tests drive it without a runtime. Must not: talk to other actors.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;
use vlbench_workload::Schedule;

use super::live::Member;
use crate::model::{Execution, NodeRecord, TaskRecord, TaskStatus};
use crate::planner::Benchmark;
use crate::protocol::{unix_ms, Assignment, Auth, GlobalConfig, HeartbeatResponse, ReportStatus};
use crate::split::{self, Candidate, SplitError};
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

    /// Accepts a benchmark as a pending task. When enough idle nodes are
    /// there already, the split is checked now so that a benchmark that
    /// cannot fit is refused at once.
    pub fn submit(
        &mut self,
        b: Benchmark,
        config: String,
        nodes: &[NodeRecord],
        now: Instant,
    ) -> Result<TaskRecord, SchedError> {
        let replicas = b.replicas.max(1);
        let idle = self.idle(nodes);
        if idle.len() >= replicas as usize {
            split::split(&idle, &b.schedule, &b.query_names)?;
        }
        self.next_id += 1;
        let task_id = format!("{}-{}", slug(&b.name), self.next_id);
        let record = TaskRecord {
            task_id: task_id.clone(),
            name: b.name,
            status: TaskStatus::Pending,
            submitted_at: Utc::now(),
            start_time: None,
            end_time: None,
            error_message: None,
            stopped: false,
            replicas,
            duration_secs: b.schedule.duration().as_secs_f64(),
            query_names: b.query_names,
            formats: b.formats,
            storage_path: b.storage_path,
            model: b.model,
            config: b.redacted_config,
            thresholds: b.thresholds,
            global_config: redact(&b.global_config),
            node_assignments: BTreeMap::new(),
            executions: BTreeMap::new(),
            events: Vec::new(),
            live: None,
        };
        self.persist(&record);
        self.tasks.insert(
            task_id.clone(),
            Task {
                record: record.clone(),
                config,
                schedule: b.schedule,
                global: b.global_config,
                start_timeout: b.start_timeout,
                submitted: now,
                deadline: None,
                assignment: None,
                members: BTreeMap::new(),
                resumed: None,
                dirty: false,
            },
        );
        self.persist_plan(&task_id);
        Ok(record)
    }

    /// Alive nodes not part of a task, as split candidates.
    pub(super) fn idle(&self, nodes: &[NodeRecord]) -> Vec<Candidate> {
        nodes
            .iter()
            .filter(|n| n.status.is_alive() && !self.node_task.contains_key(&n.node_id))
            .map(|n| Candidate {
                node_id: n.node_id.clone(),
                capabilities: n.capabilities.clone(),
            })
            .collect()
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

    fn try_start(&mut self, id: &str, nodes: &[NodeRecord], now: Instant, out: &mut TickOutcome) {
        let idle = self.idle(nodes);
        let Some(task) = self.tasks.get(id) else {
            return;
        };
        let replicas = task.record.replicas as usize;
        if idle.len() < replicas {
            if now.saturating_duration_since(task.submitted) > task.start_timeout {
                let msg = format!(
                    "only {} of the {replicas} worker node(s) asked by spec.workers.replicas were available within spec.workers.start_timeout ({:?}); start more workers or lower replicas",
                    idle.len(),
                    task.start_timeout
                );
                out.finished
                    .extend(self.finish(id, TaskStatus::Failed, Some(msg)));
            }
            return;
        }
        let split = match split::split(&idle, &task.schedule, &task.record.query_names) {
            Ok(s) => s,
            Err(e) => {
                out.finished
                    .extend(self.finish(id, TaskStatus::Failed, Some(e.to_string())));
                return;
            }
        };
        let start_ms = unix_ms(std::time::SystemTime::now()) + millis(self.config.start_margin);
        let start_time = DateTime::<Utc>::from_timestamp_millis(start_ms as i64);
        let deadline =
            now + self.config.start_margin + task.schedule.duration() + self.config.finish_grace;
        let assignment = Assignment {
            task_id: id.to_string(),
            node_assignments: split.clone(),
            global_config: task.global.clone(),
            config: task.config.clone(),
            schedule: task.schedule.clone(),
            start_unix_ms: start_ms,
        };
        let node_ids: Vec<String> = split.keys().cloned().collect();
        for n in &node_ids {
            self.node_task.insert(n.clone(), id.to_string());
            self.bump(n);
        }
        let weights = split::weights_of(&split);
        let members = idle
            .into_iter()
            .filter_map(|c| {
                let base = *weights.get(&c.node_id)?;
                Some((c.node_id.clone(), Member::new(c.capabilities, base)))
            })
            .collect();
        let Some(task) = self.tasks.get_mut(id) else {
            return;
        };
        task.members = members;
        task.deadline = Some(deadline);
        task.assignment = Some(assignment);
        let r = &mut task.record;
        r.status = TaskStatus::Running;
        r.start_time = start_time;
        r.executions = node_ids
            .iter()
            .map(|n| {
                let e = Execution {
                    node_id: n.clone(),
                    status: TaskStatus::Pending,
                    start_time,
                    end_time: None,
                    error_message: None,
                    failed_at: None,
                    rejoins: 0,
                };
                (n.clone(), e)
            })
            .collect();
        r.node_assignments = split;
        out.started.push(Started {
            task_id: id.to_string(),
            query_names: r.query_names.clone(),
            nodes: node_ids,
        });
        let record = r.clone();
        self.persist(&record);
        self.persist_plan(id);
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
        let version = self.versions.get(node).copied().unwrap_or(0);
        let task_id = self.node_task.get(node).cloned();
        let assignment = task_id.and_then(|id| {
            let task = self.tasks.get_mut(&id)?;
            if running == Some(id.as_str()) {
                if let Some(e) = task.record.executions.get_mut(node) {
                    if e.status == TaskStatus::Pending {
                        e.status = TaskStatus::Running;
                    }
                }
            }
            task.assignment.clone()
        });
        HeartbeatResponse {
            version,
            assignment,
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

/// A task id prefix from a benchmark name: lowercase letters, digits, '-'.
fn slug(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(48)
        .collect();
    let s = s.trim_matches('-').to_string();
    if s.is_empty() {
        "benchmark".into()
    } else {
        s
    }
}

/// The global config as shown to users: the token replaced by `***`.
pub fn redact(g: &GlobalConfig) -> GlobalConfig {
    GlobalConfig {
        target_url: g.target_url.clone(),
        auth: g.auth.as_ref().map(|a| Auth {
            kind: a.kind.clone(),
            token: "***".into(),
        }),
    }
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
