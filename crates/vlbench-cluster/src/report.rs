//! The final (or so-far) report of a distributed benchmark: vlbench-report's
//! `Report` built from the fleet's merged `RunStats` with per-node figures in
//! its `nodes` object, plus a `cluster` object with the split, the per-node
//! executions, the task's events (failures, rebalances, tuning, weight
//! changes) and each node's merged statistics (histograms included, so
//! anyone can re-check that fleet percentiles are those of the union), its
//! fate (`completed`, `failed at T`, `rejoined`), the intervals it produced
//! that never arrived, and its own schedule ledger (`generator_bound` says
//! that node could not keep its schedule: its latencies understate the
//! target's).
//!
//! Must not: merge (the aggregator did) or write files (the store and the
//! CLI client do).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use vlbench_report::{Format, Metrics, Report, ReportContext, ScheduleSummary};
use vlbench_stats::SparseIntervalStats;

use crate::aggregator::{NodeResults, TaskResults, MAX_MISSING_LISTED};
use crate::model::{Execution, TaskEvent, TaskRecord, TaskStatus};
use crate::protocol::{NodeAssignment, ReportStatus};

/// One node's part in the `cluster` object.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeSection {
    /// The node's last reported status.
    pub status: ReportStatus,
    /// Its error, if it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Intervals merged.
    pub intervals: u64,
    /// Intervals it sent that never arrived.
    pub missing: u64,
    /// Their numbers (at most 1000 listed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_seqs: Vec<u64>,
    /// `completed`, `failed at T` (heartbeat timeout or its own error),
    /// `rejoined` (failed, came back and finished), or its state while the
    /// task runs.
    pub fate: String,
    /// The node's own schedule ledger; `generator_bound` when it could not
    /// keep its part of the schedule.
    pub schedule: ScheduleSummary,
    /// Everything it measured, merged (histograms as base64; the sparse
    /// form has the JSON of `IntervalStats`).
    pub stats: SparseIntervalStats,
}

/// What a distributed report adds to the single-process schema.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClusterSection {
    /// The benchmark's id.
    pub task_id: String,
    /// Its state when the report was made.
    pub status: TaskStatus,
    /// The split, keyed by node id.
    pub node_assignments: BTreeMap<String, NodeAssignment>,
    /// Per-node executions (S-8).
    pub executions: BTreeMap<String, Execution>,
    /// Per-node merged statistics.
    pub nodes: BTreeMap<String, NodeSection>,
    /// Failures, rejoins, rebalances, tuning and weight changes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<TaskEvent>,
}

/// vlbench-report's `Report` plus the `cluster` object.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClusterReport {
    /// The single-process schema (with `nodes` filled).
    #[serde(flatten)]
    pub report: Report,
    /// Distributed-mode details.
    pub cluster: ClusterSection,
}

impl ClusterReport {
    /// Builds the report of `task` from its merged results.
    pub fn build(task: &TaskRecord, results: &TaskResults) -> ClusterReport {
        let mut owned = results.clone();
        for (id, n) in &mut owned.nodes {
            if let Some(e) = task.executions.get(id) {
                add_failure_gaps(task, e, n);
            }
        }
        let results = &owned;
        let ctx = context(task, results);
        let secs = ctx.duration.as_secs_f64();
        // One node's full histograms at a time (a 200-node fleet's at once
        // would be ~800 MB).
        let per_node: BTreeMap<String, Metrics> = results
            .nodes
            .iter()
            .map(|(id, n)| {
                let all = n.total.total().to_stats();
                (id.clone(), Metrics::from_stats(&all, secs))
            })
            .collect();
        let report = Report::build_with_node_metrics(&results.merged, Some(per_node), ctx);
        let nodes = results
            .nodes
            .iter()
            .map(|(id, n)| {
                let fate = task
                    .executions
                    .get(id)
                    .map_or_else(|| "unassigned".to_string(), Execution::fate);
                let section = NodeSection {
                    status: n.status,
                    error: n.error.clone(),
                    intervals: n.intervals,
                    missing: n.missing,
                    missing_seqs: n.missing_seqs.clone(),
                    fate,
                    schedule: ScheduleSummary::from_ledger(&n.total.ledger.to_ledger()),
                    stats: n.total.clone(),
                };
                (id.clone(), section)
            })
            .collect();
        ClusterReport {
            report,
            cluster: ClusterSection {
                task_id: task.task_id.clone(),
                status: task.status,
                node_assignments: task.node_assignments.clone(),
                executions: task.executions.clone(),
                nodes,
                events: task.events.clone(),
            },
        }
    }

    /// The report in `format`, with its content type. JSON is the whole
    /// cluster report; CSV and Prometheus text render the `Report` part
    /// (whose `nodes` figures the Prometheus rendering includes).
    pub fn render(&self, format: Format) -> (&'static str, String) {
        match format {
            Format::Json => (
                "application/json",
                serde_json::to_string_pretty(self).unwrap_or_default(),
            ),
            Format::Csv => ("text/csv; charset=utf-8", format.render(&self.report)),
            Format::Prometheus => ("text/plain; version=0.0.4", format.render(&self.report)),
            Format::Html => ("text/html; charset=utf-8", format.render(&self.report)),
        }
    }
}

/// A node declared failed (no heartbeat) that never sent its final
/// message owes every second from its start to the failure: those that
/// never arrived are gaps, so load lost between the kill and its detection
/// shows in the report instead of silently lowering the totals. Its start
/// is the task's start, or after a rejoin the first second of its last
/// unbroken run of delivered intervals.
fn add_failure_gaps(task: &TaskRecord, e: &Execution, n: &mut NodeResults) {
    if e.status != TaskStatus::Failed || n.status != ReportStatus::Running {
        return;
    }
    let (Some(start), Some(failed)) = (task.start_time, e.failed_at.or(e.end_time)) else {
        return;
    };
    let upto = u64::try_from((failed - start).num_milliseconds()).unwrap_or(0) / 1000;
    let gaps = failure_gaps(upto, e.rejoins > 0, &n.seen);
    n.missing += gaps.len() as u64;
    let room = MAX_MISSING_LISTED.saturating_sub(n.missing_seqs.len());
    n.missing_seqs.extend(gaps.into_iter().take(room));
    n.missing_seqs.sort_unstable();
    n.missing_seqs.dedup();
}

/// The seconds before `upto` a failed node owes and never delivered.
fn failure_gaps(upto: u64, rejoined: bool, seen: &BTreeSet<u64>) -> Vec<u64> {
    let from = if rejoined {
        last_run_start(seen).unwrap_or(upto)
    } else {
        0
    };
    (from..upto).filter(|s| !seen.contains(s)).collect()
}

/// The first second of the last run of consecutive seconds in `seen`.
fn last_run_start(seen: &BTreeSet<u64>) -> Option<u64> {
    let mut it = seen.iter().rev();
    let mut first = *it.next()?;
    for &s in it {
        if s + 1 != first {
            break;
        }
        first = s;
    }
    Some(first)
}

/// The report context from the task record and what was measured: the run
/// spans from the earliest interval start to the latest interval end.
fn context(task: &TaskRecord, results: &TaskResults) -> ReportContext {
    let spans = results.nodes.values().filter_map(|n| n.span_ms);
    let (first, last) = spans.fold((u64::MAX, 0), |(a, b), (s, e)| (a.min(s), b.max(e)));
    let planned = Duration::from_secs_f64(task.duration_secs.max(0.0));
    let (start, end, duration) = if first < last {
        let d = Duration::from_millis(last - first);
        (at(first), at(last), d)
    } else {
        let start = task.start_time.unwrap_or(task.submitted_at);
        (start, task.end_time.unwrap_or(start), Duration::ZERO)
    };
    let mut warnings = Vec::new();
    if task.stopped {
        warnings.push("stopped early by the user".to_string());
    }
    for (id, n) in &results.nodes {
        if n.status == ReportStatus::Failed || n.missing > 0 {
            let why = n.error.as_deref().unwrap_or("intervals lost");
            warnings.push(format!(
                "node {id}: {why} ({} interval(s) missing)",
                n.missing
            ));
        }
    }
    for (id, e) in &task.executions {
        if e.status == TaskStatus::Failed && results.nodes.get(id).is_none_or(|n| n.error.is_none())
        {
            let why = e.error_message.as_deref().unwrap_or("failed");
            warnings.push(format!("node {id}: {why} ({})", e.fate()));
        } else if e.rejoins > 0 {
            warnings.push(format!(
                "node {id}: failed and rejoined {} time(s)",
                e.rejoins
            ));
        }
    }
    for (id, n) in &results.nodes {
        let s = ScheduleSummary::from_ledger(&n.total.ledger.to_ledger());
        if s.generator_bound {
            let why = s.generator_bound_reason.unwrap_or_default();
            warnings.push(format!(
                "node {id} is generator-bound ({why}): it could not keep its schedule, so its latencies understate the target's"
            ));
        }
    }
    ReportContext {
        name: task.name.clone(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        start,
        end,
        duration,
        planned_duration: planned,
        model: task.model.clone(),
        config: task.config.clone(),
        warnings,
        thresholds: task.thresholds.clone(),
    }
}

fn at(ms: u64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_millis(i64::try_from(ms).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_killed_node_owes_every_second_up_to_its_failure() {
        let seen: BTreeSet<u64> = [0, 1, 2, 3].into();
        // Killed in second 4, declared failed in second 6.
        assert_eq!(failure_gaps(6, false, &seen), [4, 5]);
        // Killed before its first report.
        assert_eq!(failure_gaps(3, false, &BTreeSet::new()), [0, 1, 2]);
        // A retried report that arrived late closes its gap.
        let seen: BTreeSet<u64> = [0, 1, 2, 3, 4, 5].into();
        assert!(failure_gaps(6, false, &seen).is_empty());
    }

    #[test]
    fn a_rejoined_node_owes_from_its_last_run() {
        // Failed once (0..=2 delivered), back from 7, killed again in 10.
        let seen: BTreeSet<u64> = [0, 1, 2, 7, 8, 9].into();
        assert_eq!(last_run_start(&seen), Some(7));
        assert_eq!(failure_gaps(12, true, &seen), [10, 11]);
        assert_eq!(last_run_start(&BTreeSet::new()), None);
    }
}
