//! ResultAggregator (S-1, S-11, B-1): the actor that merges the workers'
//! interval reports exactly. Per task it keeps the fleet's series
//! (`RunStats`, one merged slot per second) and each node's totals; a seq a
//! node already delivered is ignored, so retried reports are never counted
//! twice. It computes the live window (last 10 s) from merged histograms.
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

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use vlbench_stats::{IntervalStats, RunStats, Summary};

use crate::actor::{self, Gone};
use crate::adjust::NodeWindow;
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
    /// Everything the node measured, merged.
    pub total: IntervalStats,
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

struct NodeAgg {
    seen: BTreeSet<u64>,
    results: NodeResults,
    /// Final messages seen, by (first seq, end seq): one per run of the node.
    finals: BTreeSet<(u64, u64)>,
    /// Since the load adjuster last looked.
    window: NodeWindow,
}

struct TaskAgg {
    merged: RunStats,
    nodes: BTreeMap<String, NodeAgg>,
}

/// The aggregator's state.
#[derive(Default)]
pub struct Aggregator {
    tasks: HashMap<String, TaskAgg>,
    store: Option<Store>,
}

impl Aggregator {
    /// An aggregator logging accepted reports to `store`; the `resumed`
    /// tasks are reopened and their logged reports replayed.
    pub fn with_store(store: Option<Store>, resumed: &[Started]) -> Aggregator {
        let mut a = Aggregator {
            tasks: HashMap::new(),
            store: None,
        };
        for t in resumed {
            a.open(&t.task_id, t.query_names.clone(), &t.nodes);
            let Some(store) = &store else { continue };
            let reports: Vec<ResultReport> = store.load_reports(&t.task_id).unwrap_or_else(|e| {
                tracing::warn!("{e}");
                Vec::new()
            });
            let n = reports.len();
            for r in reports {
                let _ = a.add(r);
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
        let n = query_names.len();
        let nodes = nodes
            .iter()
            .map(|id| {
                let agg = NodeAgg {
                    seen: BTreeSet::new(),
                    finals: BTreeSet::new(),
                    window: NodeWindow::default(),
                    results: NodeResults {
                        total: IntervalStats::new(n),
                        intervals: 0,
                        span_ms: None,
                        status: ReportStatus::Running,
                        error: None,
                        missing: 0,
                        missing_seqs: Vec::new(),
                        seen: BTreeSet::new(),
                    },
                };
                (id.clone(), agg)
            })
            .collect();
        let merged = RunStats::new(query_names);
        self.tasks
            .insert(task.to_string(), TaskAgg { merged, nodes });
    }

    /// Merges one report (idempotent per node and seq); a new one is logged
    /// to the store first.
    pub fn add(&mut self, r: ResultReport) -> Result<Accepted, AggError> {
        let logged = self.store.as_ref().map(|s| (s.clone(), r.clone()));
        let accepted = self.merge(r)?;
        if let (true, Some((store, r))) = (accepted.new, logged) {
            if let Err(e) = store.append_report(&r.task_id, &r) {
                tracing::warn!("report not logged: {e}");
            }
        }
        Ok(accepted)
    }

    fn merge(&mut self, r: ResultReport) -> Result<Accepted, AggError> {
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
            let first = r.first_seq.unwrap_or(0);
            if !node.finals.insert((first, r.seq)) {
                return Ok(Accepted {
                    new: false,
                    finished: None,
                });
            }
            let res = &mut node.results;
            res.status = r.status;
            res.error = r.error.clone();
            let gaps = (first..r.seq).filter(|s| !node.seen.contains(s));
            let gaps: Vec<u64> = gaps
                .take(MAX_MISSING_LISTED.saturating_sub(res.missing_seqs.len()))
                .collect();
            res.missing += (first..r.seq).filter(|s| !node.seen.contains(s)).count() as u64;
            res.missing_seqs.extend(gaps);
            return Ok(Accepted {
                new: true,
                finished: Some((r.status, r.error)),
            });
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
        node.window.add(&interval.stats);
        let res = &mut node.results;
        res.total.merge(&interval.stats);
        res.intervals += 1;
        let end = interval.start_unix_ms + interval.duration_ms;
        res.span_ms = Some(match res.span_ms {
            Some((a, b)) => (a.min(interval.start_unix_ms), b.max(end)),
            None => (interval.start_unix_ms, end),
        });
        task.merged.merge_into_seq(&interval);
        Ok(Accepted {
            new: true,
            finished: None,
        })
    }

    /// S-11 aggregates over the last [`WINDOW_SECS`] merged intervals.
    pub fn live(&self, task: &str) -> Option<LiveWindow> {
        let t = self.tasks.get(task)?;
        let mut out = LiveWindow {
            window_seconds: WINDOW_SECS,
            ..LiveWindow::default()
        };
        let all = t.merged.total.total();
        out.total_queries = all.total();
        out.failed_queries = all.failed();
        let Some(&last) = t.merged.intervals.keys().next_back() else {
            return Some(out);
        };
        out.last_seq = Some(last);
        let from = last.saturating_sub(WINDOW_SECS - 1);
        let mut window = IntervalStats::new(t.merged.query_names.len());
        let mut millis = 0;
        for r in t.merged.intervals.range(from..=last).map(|(_, r)| r) {
            window.merge(&r.stats);
            millis += r.duration_ms;
        }
        let total = window.total();
        let s = Summary::from_stats(&total, (millis as f64 / 1000.0).max(0.001));
        out.qps = s.qps;
        out.p95_response_time = s.p95_response_time;
        out.p99_response_time = s.p99_response_time;
        out.error_rate = if total.total() == 0 {
            0.0
        } else {
            total.failed() as f64 / total.total() as f64
        };
        out.active_nodes = t
            .nodes
            .values()
            .filter(|n| n.seen.range(from..).next().is_some())
            .count();
        Some(out)
    }

    /// A copy of a task's results.
    pub fn results(&self, task: &str) -> Option<TaskResults> {
        let t = self.tasks.get(task)?;
        Some(TaskResults {
            merged: t.merged.clone(),
            nodes: t
                .nodes
                .iter()
                .map(|(id, n)| {
                    let mut r = n.results.clone();
                    r.seen = n.seen.clone();
                    (id.clone(), r)
                })
                .collect(),
        })
    }
}

enum Command {
    Open(String, Vec<String>, Vec<String>, oneshot::Sender<()>),
    Add(
        Box<ResultReport>,
        oneshot::Sender<Result<Accepted, AggError>>,
    ),
    Live(String, oneshot::Sender<Option<LiveWindow>>),
    Results(String, oneshot::Sender<Option<TaskResults>>),
    Windows(String, oneshot::Sender<BTreeMap<String, NodeWindow>>),
}

/// Handle to the aggregator actor (cheap to clone).
#[derive(Clone)]
pub struct AggregatorHandle {
    tx: mpsc::Sender<Command>,
}

const NAME: &str = "result aggregator";

impl AggregatorHandle {
    /// Starts the actor; it ends when every handle is dropped.
    pub fn spawn(mut a: Aggregator) -> (AggregatorHandle, JoinHandle<()>) {
        let (tx, mut rx) = mpsc::channel(actor::QUEUE);
        let task = tokio::spawn(async move {
            while let Some(cmd) = rx.recv().await {
                match cmd {
                    Command::Open(t, q, n, r) => {
                        a.open(&t, q, &n);
                        actor::reply(r, ());
                    }
                    Command::Add(rep, r) => actor::reply(r, a.add(*rep)),
                    Command::Live(t, r) => actor::reply(r, a.live(&t)),
                    Command::Results(t, r) => actor::reply(r, a.results(&t)),
                    Command::Windows(t, r) => actor::reply(r, a.take_windows(&t)),
                }
            }
        });
        (AggregatorHandle { tx }, task)
    }

    /// Starts collecting a task's results.
    pub async fn open(
        &self,
        task: String,
        query_names: Vec<String>,
        nodes: Vec<String>,
    ) -> Result<(), Gone> {
        actor::call(&self.tx, NAME, |r| {
            Command::Open(task, query_names, nodes, r)
        })
        .await
    }

    /// Merges a report.
    pub async fn add(&self, report: ResultReport) -> Result<Result<Accepted, AggError>, Gone> {
        actor::call(&self.tx, NAME, |r| Command::Add(Box::new(report), r)).await
    }

    /// The live window of a task.
    pub async fn live(&self, task: String) -> Result<Option<LiveWindow>, Gone> {
        actor::call(&self.tx, NAME, |r| Command::Live(task, r)).await
    }

    /// A copy of a task's results.
    pub async fn results(&self, task: String) -> Result<Option<TaskResults>, Gone> {
        actor::call(&self.tx, NAME, |r| Command::Results(task, r)).await
    }

    /// What each node measured since the last call (load adjuster).
    pub async fn take_windows(&self, task: String) -> Result<BTreeMap<String, NodeWindow>, Gone> {
        actor::call(&self.tx, NAME, |r| Command::Windows(task, r)).await
    }
}

#[cfg(test)]
#[path = "aggregator_tests.rs"]
mod tests;
