//! TaskExecutor (S-2): runs one assignment. Rebuilds the exact plan (the
//! file's workload and target, the global schedule, this node's share, the
//! common start instant), runs the engine, feeds every interval to the
//! worker's metrics and to the reporter, and ends with the node's final
//! message (completed, or failed with the reason). Newer versions of the
//! same task's assignment (rebalancing, tuning, weight changes) reach the
//! running engine as [`LiveUpdate`]s through the `updates` channel.
//!
//! Must not: talk to the coordinator except through the reporter, or
//! outlive its cancellation token (the agent cancels on stop, on a new
//! assignment, on orphan timeout and on shutdown).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use vlbench_engine::{EnginePlan, LiveUpdate, RunOptions};

use super::reporter::{self, Item, ReporterConfig};
use super::EngineBuilder;
use crate::metrics::WorkerMetrics;
use crate::protocol::{from_unix_ms, Assignment, Metrics, NodeAssignment, ReportStatus};
use crate::split;

/// What the agent reads about the running task for its heartbeats.
#[derive(Debug)]
pub struct Progress {
    /// Intervals produced so far.
    pub intervals: AtomicU64,
    /// The first interval's number (`u64::MAX` before the first).
    pub first_seq: AtomicU64,
    /// One past the last interval's number (0 before the first).
    pub end_seq: AtomicU64,
    /// The latest interval's figures.
    pub latest: Mutex<Option<Metrics>>,
}

impl Default for Progress {
    fn default() -> Self {
        Progress {
            intervals: AtomicU64::new(0),
            first_seq: AtomicU64::new(u64::MAX),
            end_seq: AtomicU64::new(0),
            latest: Mutex::new(None),
        }
    }
}

impl Progress {
    /// The last interval's number, if one was produced.
    pub fn last_seq(&self) -> Option<u64> {
        self.end_seq.load(Ordering::Relaxed).checked_sub(1)
    }
}

/// The engine's view of a newer assignment of the same task: the node's
/// schedule and share, or why the assignment is unusable.
pub fn live_update(a: &Assignment, node_id: &str) -> Result<LiveUpdate, String> {
    let node = node_entry(a, node_id)?;
    Ok(LiveUpdate {
        schedule: split::node_schedule(&a.schedule, node),
        share: share(node)?,
    })
}

fn node_entry<'a>(a: &'a Assignment, node_id: &str) -> Result<&'a NodeAssignment, String> {
    a.node_assignments
        .get(node_id)
        .ok_or_else(|| format!("the assignment has no entry for node {node_id:?}"))
}

fn share(node: &NodeAssignment) -> Result<vlbench_workload::Share, String> {
    split::share_of(&node.share).ok_or_else(|| {
        format!(
            "invalid share: index {} of weights {:?}",
            node.share.index, node.share.weights
        )
    })
}

/// Everything one execution needs.
pub struct Execution {
    /// The assignment to run.
    pub assignment: Assignment,
    /// This node.
    pub node_id: String,
    /// Engine shards.
    pub threads: usize,
    /// Builds workload and target from the file.
    pub builder: Arc<dyn EngineBuilder>,
    /// Worker metrics.
    pub metrics: Arc<WorkerMetrics>,
    /// Reporter settings.
    pub reporter: ReporterConfig,
    /// Shared with the agent.
    pub progress: Arc<Progress>,
    /// Newer assignments of the same task, applied to the running engine.
    pub updates: watch::Receiver<LiveUpdate>,
}

/// Runs the assignment to its end or until `cancel`; returns when the
/// reporter has sent (or given up on) everything.
pub async fn run(ex: Execution, cancel: CancellationToken) {
    let (tx, rx) = mpsc::channel(64);
    let reporter = tokio::spawn(reporter::run(ex.reporter.clone(), rx));
    let (status, error) = match engine(&ex, &tx, cancel).await {
        Ok(()) => (ReportStatus::Completed, None),
        Err(e) => {
            tracing::warn!(task = %ex.assignment.task_id, "execution failed: {e}");
            (ReportStatus::Failed, Some(e))
        }
    };
    let end_seq = ex.progress.end_seq.load(Ordering::Relaxed);
    let first_seq = ex.progress.first_seq.load(Ordering::Relaxed).min(end_seq);
    let _ = tx
        .send(Item::Final {
            status,
            error,
            first_seq,
            end_seq,
        })
        .await;
    drop(tx);
    let out = reporter.await.unwrap_or_default();
    ex.metrics.run_ended();
    tracing::info!(task = %ex.assignment.task_id, delivered = out.delivered, dropped = out.dropped, "execution finished");
}

async fn engine(
    ex: &Execution,
    to_reporter: &mpsc::Sender<Item>,
    cancel: CancellationToken,
) -> Result<(), String> {
    let a = &ex.assignment;
    let node = node_entry(a, &ex.node_id)?;
    let share = share(node)?;
    let builder = ex.builder.clone();
    let text = a.config.clone();
    let parts = tokio::task::spawn_blocking(move || builder.engine_parts(&text))
        .await
        .map_err(|e| format!("building the plan was interrupted: {e}"))??;
    let query_types: Vec<&'static str> = parts
        .workload
        .queries
        .iter()
        .map(|q| q.qtype.as_str())
        .collect();
    if query_types.len() != node.query_templates.len() {
        return Err(format!(
            "the benchmark file has {} queries here but the coordinator planned {}; are value files the same on every node?",
            query_types.len(),
            node.query_templates.len()
        ));
    }
    let plan = EnginePlan {
        target: parts.target,
        workload: parts.workload,
        schedule: split::node_schedule(&a.schedule, node),
        share,
        threads: ex.threads.max(1),
        start: from_unix_ms(a.start_unix_ms),
    };
    let (etx, mut erx) = mpsc::channel(16);
    let options = RunOptions {
        updates: Some(ex.updates.clone()),
        ..RunOptions::default()
    };
    let engine = tokio::spawn(vlbench_engine::run_with_control(plan, options, etx, cancel));
    while let Some(iv) = erx.recv().await {
        ex.metrics.observe(&iv.stats, &query_types);
        let p = &ex.progress;
        p.intervals.fetch_add(1, Ordering::Relaxed);
        p.first_seq.fetch_min(iv.seq, Ordering::Relaxed);
        p.end_seq.fetch_max(iv.seq + 1, Ordering::Relaxed);
        if let Ok(mut latest) = ex.progress.latest.lock() {
            *latest = Some(reporter::interval_metrics(&iv));
        }
        if to_reporter.send(Item::Interval(iv)).await.is_err() {
            break;
        }
    }
    match engine.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("engine: {e}")),
        Err(e) => Err(format!("engine task ended abnormally: {e}")),
    }
}
