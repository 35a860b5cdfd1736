//! ResultAggregator (S-1, S-11, B-1): the state, shared under a lock by
//! the API's handlers, that merges the workers' interval reports exactly.
//! Per task it keeps the fleet's series (`RunStats`, one merged slot per
//! second) and each node's totals; a seq a node already delivered is
//! ignored, so retried reports are never counted twice. It computes the
//! live window (last 10 s) from merged histograms.
//!
//! With a store, every new report is appended to the task's log before it
//! is acknowledged, and a task resumed after a coordinator restart is
//! rebuilt by replaying that log. It also sums, per node, what the S-10
//! load adjuster needs since its last look ([`NodeWindow`]).
//!
//! Must not: decide task states (it tells the caller that a node sent its
//! final report; the scheduler decides), render report files (`report`), or
//! be on the heartbeat path.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::task::JoinHandle;
use vlbench_stats::{RunStats, SparseIntervalAcc, SparseIntervalStats};

use crate::actor::Gone;
use crate::adjust::NodeWindow;
use crate::aggregator_live::{window_add, LiveSeries, OpenSeqs};
use crate::ingest::IngestReport;
use crate::model::LiveWindow;
use crate::protocol::{ReportStatus, ResultReport};
use crate::scheduler::Started;
use crate::store::Store;

/// Length of the S-11 sliding window, in one-second intervals.
pub const WINDOW_SECS: u64 = 10;

/// Why a report was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AggError {
    /// No running or finished task with this id.
    #[error("no benchmark with id {0:?} is running on this coordinator")]
    UnknownTask(String),
    /// The node is not part of the task.
    #[error("node {node:?} is not assigned to benchmark {task:?}")]
    UnknownNode {
        /// The task.
        task: String,
        /// The node.
        node: String,
    },
    /// The report contradicts itself or the task.
    #[error("invalid report: {0}")]
    Invalid(String),
}

/// What a node's results are, for reports.
#[derive(Clone, Debug)]
pub struct NodeResults {
    /// Everything the node measured, merged (sparse: a 200-node fleet's
    /// full histograms would be ~800 MB).
    pub total: SparseIntervalStats,
    /// Intervals merged.
    pub intervals: u64,
    /// Wall-clock span covered, unix ms (start of first, end of last).
    pub span_ms: Option<(u64, u64)>,
    /// Last status the node reported.
    pub status: ReportStatus,
    /// The node's error, if it failed.
    pub error: Option<String>,
    /// Intervals the node said it sent but that never arrived.
    pub missing: u64,
    /// Their numbers (at most [`MAX_MISSING_LISTED`]).
    pub missing_seqs: Vec<u64>,
    /// Every interval number merged (the report derives the gaps of a node
    /// that died before its final message from it).
    pub seen: BTreeSet<u64>,
}

/// Most missing interval numbers listed per node.
pub const MAX_MISSING_LISTED: usize = 1000;

/// A task's merged results.
#[derive(Clone, Debug)]
pub struct TaskResults {
    /// The fleet: per-second merged series and totals.
    pub merged: RunStats,
    /// Per node.
    pub nodes: BTreeMap<String, NodeResults>,
}

/// The outcome of one accepted report.
#[derive(Clone, Debug, PartialEq)]
pub struct Accepted {
    /// False when the report was a retry of one already merged.
    pub new: bool,
    /// Set when this report is the node's first final message.
    pub finished: Option<(ReportStatus, Option<String>)>,
}

/// One node's part of a task. Its accumulator is created with its first
/// interval, so opening a task for 200 nodes allocates no histogram.
struct NodeAgg {
    seen: BTreeSet<u64>,
    /// Everything the node measured, in sparse form (None until it reports).
    total: Option<SparseIntervalAcc>,
    intervals: u64,
    span_ms: Option<(u64, u64)>,
    status: ReportStatus,
    error: Option<String>,
    missing: u64,
    missing_seqs: Vec<u64>,
    /// Final messages seen, by (first seq, end seq): one per run of the node.
    finals: BTreeSet<(u64, u64)>,
    /// Since the load adjuster last looked.
    window: NodeWindow,
}

impl NodeAgg {
    fn new() -> NodeAgg {
        NodeAgg {
            seen: BTreeSet::new(),
            total: None,
            intervals: 0,
            span_ms: None,
            status: ReportStatus::Running,
            error: None,
            missing: 0,
            missing_seqs: Vec::new(),
            finals: BTreeSet::new(),
            window: NodeWindow::default(),
        }
    }

    fn results(&self, n_queries: usize) -> NodeResults {
        NodeResults {
            total: self.total.as_ref().map_or_else(
                || SparseIntervalStats::new(n_queries),
                SparseIntervalAcc::to_stats,
            ),
            intervals: self.intervals,
            span_ms: self.span_ms,
            status: self.status,
            error: self.error.clone(),
            missing: self.missing,
            missing_seqs: self.missing_seqs.clone(),
            seen: self.seen.clone(),
        }
    }
}

struct TaskAgg {
    merged: RunStats,
    nodes: BTreeMap<String, NodeAgg>,
    /// The last seconds, merged over nodes and queries (S-11 window).
    live: LiveSeries,
    /// Seconds not yet folded into `merged`.
    open: OpenSeqs,
}

/// The aggregator's state.
#[derive(Default)]
pub struct Aggregator {
    tasks: HashMap<String, TaskAgg>,
    store: Option<Store>,
    /// Where the tasks' spill files go (the store's directory; else the
    /// system's temporary directory).
    spill_dir: Option<std::path::PathBuf>,
}

impl Aggregator {
    /// An aggregator logging accepted reports to `store`; the `resumed`
    /// tasks are reopened and their logged reports replayed.
    pub fn with_store(store: Option<Store>, resumed: &[Started]) -> Aggregator {
        let mut a = Aggregator {
            tasks: HashMap::new(),
            store: None,
            spill_dir: store.as_ref().map(|s| s.dir().to_path_buf()),
        };
        for t in resumed {
            a.open(&t.task_id, t.query_names.clone(), &t.nodes);
            let Some(store) = &store else { continue };
            let reports: Vec<IngestReport> = store.load_reports(&t.task_id).unwrap_or_else(|e| {
                tracing::warn!("{e}");
                Vec::new()
            });
            let n = reports.len();
            for r in reports {
                let _ = a.add_ingest(r);
            }
            tracing::info!(task = %t.task_id, reports = n, "results restored from the report log");
        }
        a.store = store;
        a
    }

    /// What each node of `task` measured since the last call (for the load
    /// adjuster); the sums start again from zero.
    pub fn take_windows(&mut self, task: &str) -> BTreeMap<String, NodeWindow> {
        let Some(t) = self.tasks.get_mut(task) else {
            return BTreeMap::new();
        };
        t.nodes
            .iter_mut()
            .map(|(id, n)| (id.clone(), std::mem::take(&mut n.window)))
            .collect()
    }

    /// Starts collecting a task's results from `nodes`.
    pub fn open(&mut self, task: &str, query_names: Vec<String>, nodes: &[String]) {
        let nodes = nodes
            .iter()
            .map(|id| (id.clone(), NodeAgg::new()))
            .collect();
        // Seconds arrive here complete (see `OpenSeqs`), so none stays in
        // full, and the series goes to a spill file so that memory stays
        // flat however long the run (issue 6.4).
        let merged = RunStats::new(query_names).keep_recent(0);
        let spill = match &self.spill_dir {
            Some(dir) => tempfile::tempfile_in(dir),
            None => tempfile::tempfile(),
        };
        let merged = match spill {
            Ok(file) => merged.spill_to(file),
            Err(e) => {
                tracing::warn!(
                    task,
                    "no spill file for the per-second series ({e}): kept in memory"
                );
                merged
            }
        };
        let live = LiveSeries::default();
        self.tasks.insert(
            task.to_string(),
            TaskAgg {
                merged,
                nodes,
                live,
                open: OpenSeqs::default(),
            },
        );
    }

    /// Merges one report (idempotent per node and seq); a new one is logged
    /// to the store first. Converts the histograms to sparse form first:
    /// the HTTP path decodes straight into [`IngestReport`] instead.
    pub fn add(&mut self, r: ResultReport) -> Result<Accepted, AggError> {
        self.add_ingest(IngestReport::from(r))
    }

    /// Merges one report read in sparse form (the HTTP path): the cost is
    /// in proportion to the buckets it recorded.
    pub fn add_ingest(&mut self, r: IngestReport) -> Result<Accepted, AggError> {
        self.add_raw(r, None)
    }

    /// [`Self::add_ingest`] for a report that came as the JSON text `raw`:
    /// a new report is logged as that text (when it is one line), without
    /// encoding it again.
    pub fn add_raw(&mut self, r: IngestReport, raw: Option<Bytes>) -> Result<Accepted, AggError> {
        let Some(store) = self.store.clone() else {
            return self.merge(r);
        };
        let task = r.task_id.clone();
        let line = match raw {
            Some(raw) if !raw.contains(&b'\n') => Line::Raw(raw),
            _ => Line::Report(Box::new(r.clone())),
        };
        let accepted = self.merge(r)?;
        if accepted.new {
            let logged = match line {
                Line::Raw(raw) => store.append_line(&task, &raw),
                Line::Report(r) => store.append_report(&task, &r),
            };
            if let Err(e) = logged {
                tracing::warn!("report not logged: {e}");
            }
        }
        Ok(accepted)
    }

    fn merge(&mut self, r: IngestReport) -> Result<Accepted, AggError> {
        let task = self
            .tasks
            .get_mut(&r.task_id)
            .ok_or_else(|| AggError::UnknownTask(r.task_id.clone()))?;
        let n_queries = task.merged.query_names.len();
        let node = task
            .nodes
            .get_mut(&r.node_id)
            .ok_or_else(|| AggError::UnknownNode {
                task: r.task_id.clone(),
                node: r.node_id.clone(),
            })?;
        if r.status != ReportStatus::Running {
            return Ok(finish(node, r));
        }
        let interval = r.interval.ok_or_else(|| {
            AggError::Invalid("`interval` is required when `status` is `running`".into())
        })?;
        if interval.seq != r.seq {
            return Err(AggError::Invalid(format!(
                "`seq` is {} but `interval.seq` is {}",
                r.seq, interval.seq
            )));
        }
        if interval.stats.queries.len() != n_queries {
            return Err(AggError::Invalid(format!(
                "`interval.stats` has {} queries but the benchmark has {n_queries}",
                interval.stats.queries.len()
            )));
        }
        if !node.seen.insert(r.seq) {
            return Ok(Accepted {
                new: false,
                finished: None,
            });
        }
        window_add(&mut node.window, &interval.stats);
        node.total
            .get_or_insert_with(|| SparseIntervalAcc::new(n_queries))
            .add(&interval.stats);
        node.intervals += 1;
        let end = interval.start_unix_ms + interval.duration_ms;
        node.span_ms = Some(match node.span_ms {
            Some((a, b)) => (a.min(interval.start_unix_ms), b.max(end)),
            None => (interval.start_unix_ms, end),
        });
        task.live.add(&interval);
        task.open.add(&interval, &mut task.merged, &mut task.live);
        Ok(Accepted {
            new: true,
            finished: None,
        })
    }

    /// S-11 aggregates over the last [`WINDOW_SECS`] merged intervals.
    pub fn live(&self, task: &str) -> Option<LiveWindow> {
        let t = self.tasks.get(task)?;
        let mut out = t.live.window(&t.open);
        if let Some(last) = out.last_seq {
            let from = last.saturating_sub(WINDOW_SECS - 1);
            out.active_nodes = t
                .nodes
                .values()
                .filter(|n| n.seen.range(from..).next().is_some())
                .count();
        }
        Some(out)
    }

    /// The qps of [`Self::live`], without merging histograms.
    pub fn live_qps(&self, task: &str) -> Option<f64> {
        Some(self.tasks.get(task)?.live.qps())
    }

    /// A copy of a task's results (builds every node's full histograms).
    pub fn results(&self, task: &str) -> Option<TaskResults> {
        let t = self.tasks.get(task)?;
        let n_queries = t.merged.query_names.len();
        // The copy keeps the open seconds in full rather than writing them
        // to the shared spill file.
        let mut merged = t.merged.clone().keep_recent(usize::MAX);
        t.open.fold_into(&mut merged);
        Some(TaskResults {
            merged,
            nodes: t
                .nodes
                .iter()
                .map(|(id, n)| (id.clone(), n.results(n_queries)))
                .collect(),
        })
    }
}

/// What goes to the report log for a new report.
enum Line {
    /// The JSON text as received (one line).
    Raw(Bytes),
    /// The report, to be encoded.
    Report(Box<IngestReport>),
}

/// A final message: records the node's outcome and its missing intervals.
fn finish(node: &mut NodeAgg, r: IngestReport) -> Accepted {
    let first = r.first_seq.unwrap_or(0);
    if !node.finals.insert((first, r.seq)) {
        return Accepted {
            new: false,
            finished: None,
        };
    }
    node.status = r.status;
    node.error = r.error.clone();
    let gaps = (first..r.seq).filter(|s| !node.seen.contains(s));
    let gaps: Vec<u64> = gaps
        .take(MAX_MISSING_LISTED.saturating_sub(node.missing_seqs.len()))
        .collect();
    node.missing += (first..r.seq).filter(|s| !node.seen.contains(s)).count() as u64;
    node.missing_seqs.extend(gaps);
    Accepted {
        new: true,
        finished: Some((r.status, r.error)),
    }
}

/// Handle to the aggregator (cheap to clone): the state behind a lock.
///
/// Not an actor like the registry and the scheduler: merging a report takes
/// tens of µs, and handing each report to an actor's thread cost two thread
/// switches and a wake-up per report, about a seventh of the coordinator's
/// CPU with 200 workers (issue 6.4). The handler that read a report merges
/// it under the lock; only [`AggregatorHandle::results`] (tens of ms for a
/// big fleet) runs on the blocking pool, off the runtime's threads.
#[derive(Clone)]
pub struct AggregatorHandle {
    inner: Arc<Mutex<Aggregator>>,
}

const NAME: &str = "result aggregator";

impl AggregatorHandle {
    /// Shares `a` with every handle. The returned task completes at once
    /// (there is no loop to join, unlike the actors'); the state is dropped
    /// with the last handle.
    pub fn spawn(a: Aggregator) -> (AggregatorHandle, JoinHandle<()>) {
        let handle = AggregatorHandle {
            inner: Arc::new(Mutex::new(a)),
        };
        (handle, tokio::spawn(async {}))
    }

    /// Runs `f` on the state; `Gone` when a panic while merging poisoned it
    /// (its figures could be half-merged: no answer is better than a wrong
    /// one).
    fn with<R>(&self, f: impl FnOnce(&mut Aggregator) -> R) -> Result<R, Gone> {
        let mut a = self.inner.lock().map_err(|_| Gone(NAME))?;
        Ok(f(&mut a))
    }

    /// Starts collecting a task's results.
    pub async fn open(
        &self,
        task: String,
        query_names: Vec<String>,
        nodes: Vec<String>,
    ) -> Result<(), Gone> {
        self.with(|a| a.open(&task, query_names, &nodes))
    }

    /// Merges a report.
    pub async fn add(&self, report: ResultReport) -> Result<Result<Accepted, AggError>, Gone> {
        self.add_ingest(IngestReport::from(report)).await
    }

    /// Merges a report read in sparse form.
    pub async fn add_ingest(
        &self,
        report: IngestReport,
    ) -> Result<Result<Accepted, AggError>, Gone> {
        self.add_raw(report, None).await
    }

    /// Merges a report read in sparse form from the JSON text `raw` (the
    /// HTTP path; see [`Aggregator::add_raw`]).
    pub async fn add_raw(
        &self,
        report: IngestReport,
        raw: Option<Bytes>,
    ) -> Result<Result<Accepted, AggError>, Gone> {
        self.with(|a| a.add_raw(report, raw))
    }

    /// The live window of a task.
    pub async fn live(&self, task: String) -> Result<Option<LiveWindow>, Gone> {
        self.with(|a| a.live(&task))
    }

    /// The live window's qps alone (no percentiles: cheap, for the
    /// coordinator's own metrics tick).
    pub async fn live_qps(&self, task: String) -> Result<Option<f64>, Gone> {
        self.with(|a| a.live_qps(&task))
    }

    /// A copy of a task's results (on the blocking pool: it builds every
    /// node's totals).
    pub async fn results(&self, task: String) -> Result<Option<TaskResults>, Gone> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.with(|a| a.results(&task)))
            .await
            .map_err(|_| Gone(NAME))?
    }

    /// What each node measured since the last call (load adjuster).
    pub async fn take_windows(&self, task: String) -> Result<BTreeMap<String, NodeWindow>, Gone> {
        self.with(|a| a.take_windows(&task))
    }
}

#[cfg(test)]
#[path = "aggregator_tests.rs"]
pub(crate) mod tests;
