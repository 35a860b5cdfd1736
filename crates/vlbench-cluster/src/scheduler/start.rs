//! Admission and start of a task: accepting a submitted benchmark as a
//! pending task (refusing at once one that cannot fit the idle nodes), and
//! starting it when `spec.workers.replicas` nodes are idle: the split, the
//! one start instant of the barrier, the executions and the assignments.
//!
//! Must not: change a running task's split (`live` does) or finish tasks
//! (`state` does).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use super::live::Member;
use super::state::{millis, SchedError, Scheduler, Started, Task, TickOutcome};
use crate::model::{Execution, NodeRecord, TaskRecord, TaskStatus};
use crate::planner::Benchmark;
use crate::protocol::{unix_ms, Assignment, Auth, GlobalConfig};
use crate::split::{self, Candidate};

impl Scheduler {
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

    pub(super) fn try_start(
        &mut self,
        id: &str,
        nodes: &[NodeRecord],
        now: Instant,
        out: &mut TickOutcome,
    ) {
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
