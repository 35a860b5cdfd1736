//! TaskExecutor (S-2): runs one assignment. Rebuilds the exact plan (the
//! file's workload and target, the global schedule, this node's share, the
//! common start instant), runs the engine, feeds every interval to the
//! worker's metrics and to the reporter, and ends with the node's final
//! message (completed, or failed with the reason).
//!
//! Must not: talk to the coordinator except through the reporter, or
//! outlive its cancellation token (the agent cancels on stop, on a new
//! assignment, on orphan timeout and on shutdown).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use vlbench_engine::EnginePlan;

use super::reporter::{self, Item, ReporterConfig};
use super::EngineBuilder;
use crate::metrics::WorkerMetrics;
use crate::protocol::{from_unix_ms, Assignment, Metrics, ReportStatus};
use crate::split;

/// What the agent reads about the running task for its heartbeats.
#[derive(Debug, Default)]
pub struct Progress {
    /// Intervals produced so far (the last seq is this minus one).
    pub intervals: AtomicU64,
    /// The latest interval's figures.
    pub latest: Mutex<Option<Metrics>>,
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
    let intervals = ex.progress.intervals.load(Ordering::Relaxed);
    let _ = tx
        .send(Item::Final {
            status,
            error,
            intervals,
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
    let node = a
        .node_assignments
        .get(&ex.node_id)
        .ok_or_else(|| format!("the assignment has no entry for node {:?}", ex.node_id))?;
    let share = split::share_of(&node.share).ok_or_else(|| {
        format!(
            "invalid share: index {} of weights {:?}",
            node.share.index, node.share.weights
        )
    })?;
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
    let engine = tokio::spawn(vlbench_engine::run(plan, etx, cancel));
    while let Some(iv) = erx.recv().await {
        ex.metrics.observe(&iv.stats, &query_types);
        ex.progress.intervals.fetch_add(1, Ordering::Relaxed);
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
