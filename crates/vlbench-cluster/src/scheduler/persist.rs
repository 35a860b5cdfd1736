//! What the scheduler keeps in the store besides the task records, and how
//! a restarted coordinator continues: each unfinished task's plan (the file
//! as submitted, the current global schedule, the target with its secret,
//! the start instant, deadline and members) is written to
//! `DIR/plans/{id}.json` (mode 0600) on every change and removed when the
//! task ends. On restart a running task with a plan is resumed: the same
//! assignment is served under new versions, its nodes get
//! `rejoin_grace` to register again, and their buffered reports are
//! accepted. A task without a plan (an older store) is marked failed.
//!
//! Must not: merge results (the aggregator replays its own report log).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use chrono::Utc;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use vlbench_workload::Schedule;

use super::live::{push_events, Member};
use super::state::{empty_schedule, Scheduler, Started, Task};
use crate::model::{EventKind, TaskEvent, TaskRecord, TaskStatus};
use crate::protocol::{unix_ms, Assignment, GlobalConfig};

/// The private part of an unfinished task, enough to continue it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PlanState {
    /// The benchmark file as submitted.
    pub config: String,
    /// The global schedule (retargeted by tuning).
    pub schedule: Schedule,
    /// Target and credentials (with the secret).
    pub global: GlobalConfig,
    /// How long a pending task waits for its nodes.
    pub start_timeout: Duration,
    /// The common start instant, unix ms (running tasks).
    pub start_unix_ms: Option<u64>,
    /// The deadline for final reports, unix ms (running tasks).
    pub deadline_unix_ms: Option<u64>,
    /// Nodes that carried a share.
    pub members: BTreeMap<String, Member>,
}

impl Scheduler {
    /// Writes the plan of an unfinished task.
    pub(super) fn persist_plan(&self, id: &str) {
        let (Some(store), Some(task)) = (&self.store, self.tasks.get(id)) else {
            return;
        };
        let now = (Instant::now(), SystemTime::now());
        let plan = PlanState {
            config: task.config.clone(),
            schedule: task.schedule.clone(),
            global: task.global.clone(),
            start_timeout: task.start_timeout,
            start_unix_ms: task.assignment.as_ref().map(|a| a.start_unix_ms),
            deadline_unix_ms: task
                .deadline
                .map(|d| unix_ms(now.1) + super::state::millis(d.saturating_duration_since(now.0))),
            members: task.members.clone(),
        };
        if let Err(e) = store.save_plan(id, &plan) {
            tracing::warn!("{e}");
        }
    }

    /// Loads the stored tasks: finished ones as they are, unfinished ones
    /// resumed from their plan (or failed without one).
    pub(super) fn restore(&mut self) {
        let Some(store) = self.store.clone() else {
            return;
        };
        let records = match store.load_tasks() {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!("{e}");
                return;
            }
        };
        for record in records {
            let plan = if record.status.is_terminal() {
                None
            } else {
                store
                    .load_plan::<PlanState>(&record.task_id)
                    .unwrap_or_else(|e| {
                        tracing::warn!("{e}");
                        None
                    })
            };
            let task = match plan {
                Some(plan) => self.resume(record, plan),
                None => stored(record),
            };
            self.persist(&task.record);
            self.tasks.insert(task.record.task_id.clone(), task);
        }
    }

    /// Rebuilds an unfinished task from its plan.
    fn resume(&mut self, mut record: TaskRecord, plan: PlanState) -> Task {
        let now = Instant::now();
        let wall = unix_ms(SystemTime::now());
        let mut task = Task {
            config: plan.config,
            schedule: plan.schedule,
            global: plan.global,
            start_timeout: plan.start_timeout,
            submitted: now,
            deadline: None,
            assignment: None,
            members: plan.members,
            resumed: None,
            dirty: false,
            record: TaskRecord {
                live: None,
                ..record.clone()
            },
        };
        if record.status == TaskStatus::Running {
            let left = plan.deadline_unix_ms.unwrap_or(wall).saturating_sub(wall);
            task.deadline = Some(now + Duration::from_millis(left));
            task.resumed = Some(now);
            task.assignment = plan.start_unix_ms.map(|start| Assignment {
                task_id: record.task_id.clone(),
                node_assignments: record.node_assignments.clone(),
                global_config: task.global.clone(),
                config: task.config.clone(),
                schedule: task.schedule.clone(),
                start_unix_ms: start,
            });
            let id = record.task_id.clone();
            let carrying: Vec<String> = record
                .executions
                .iter()
                .filter(|(n, e)| {
                    !e.status.is_terminal() && record.node_assignments.contains_key(*n)
                })
                .map(|(n, _)| n.clone())
                .collect();
            for n in &carrying {
                self.node_task.insert(n.clone(), id.clone());
                self.bump(n);
            }
            let ev = TaskEvent {
                at: Utc::now(),
                kind: EventKind::Resumed,
                node: None,
                message: format!(
                    "the coordinator restarted; {} node(s) keep their share and re-register",
                    carrying.len()
                ),
                weights: BTreeMap::new(),
            };
            push_events(&mut record, vec![ev]);
            task.record.events = record.events;
            tracing::info!(task = %id, "benchmark resumed after a coordinator restart");
        }
        task
    }

    /// Running tasks resumed from the store: the aggregator reopens them.
    pub fn resumed(&self) -> Vec<Started> {
        self.tasks
            .values()
            .filter(|t| t.resumed.is_some())
            .map(|t| Started {
                task_id: t.record.task_id.clone(),
                query_names: t.record.query_names.clone(),
                nodes: t.record.executions.keys().cloned().collect(),
            })
            .collect()
    }
}

/// A stored task without a plan: finished, or failed by the restart.
fn stored(mut record: TaskRecord) -> Task {
    if !record.status.is_terminal() {
        let was = record.status.as_str();
        record.status = TaskStatus::Failed;
        record.end_time = Some(Utc::now());
        record.error_message = Some(format!(
            "the coordinator restarted while the task was {was} and had no stored plan to continue it"
        ));
    }
    Task {
        config: String::new(),
        schedule: empty_schedule(),
        global: record.global_config.clone(),
        start_timeout: Duration::ZERO,
        submitted: Instant::now(),
        deadline: None,
        assignment: None,
        members: BTreeMap::new(),
        resumed: None,
        dirty: false,
        record,
    }
}
