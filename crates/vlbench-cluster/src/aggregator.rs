//! ResultAggregator (S-1, S-11, B-1): the actor that merges the workers'
//! interval reports exactly. Per task it keeps the fleet's series
//! (`RunStats`, one merged slot per second) and each node's totals; a seq a
//! node already delivered is ignored, so retried reports are never counted
//! twice. It computes the live window (last 10 s) from merged histograms.
//!
//! Must not: decide task states (it tells the caller that a node sent its
//! final report; the scheduler decides), render report files (`report`), or
//! be on the heartbeat path.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use vlbench_stats::{IntervalStats, RunStats, Summary};

use crate::actor::{self, Gone};
use crate::model::LiveWindow;
use crate::protocol::{ReportStatus, ResultReport};

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
}

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
    done: bool,
}

struct TaskAgg {
    merged: RunStats,
    nodes: BTreeMap<String, NodeAgg>,
}

/// The aggregator's state.
#[derive(Default)]
pub struct Aggregator {
    tasks: HashMap<String, TaskAgg>,
}

impl Aggregator {
    /// Starts collecting a task's results from `nodes`.
    pub fn open(&mut self, task: &str, query_names: Vec<String>, nodes: &[String]) {
        let n = query_names.len();
        let nodes = nodes
            .iter()
            .map(|id| {
                let agg = NodeAgg {
                    seen: BTreeSet::new(),
                    done: false,
                    results: NodeResults {
                        total: IntervalStats::new(n),
                        intervals: 0,
                        span_ms: None,
                        status: ReportStatus::Running,
                        error: None,
                        missing: 0,
                    },
                };
                (id.clone(), agg)
            })
            .collect();
        let merged = RunStats::new(query_names);
        self.tasks
            .insert(task.to_string(), TaskAgg { merged, nodes });
    }

    /// Merges one report (idempotent per node and seq).
    pub fn add(&mut self, r: ResultReport) -> Result<Accepted, AggError> {
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
            if node.done {
                return Ok(Accepted {
                    new: false,
                    finished: None,
                });
            }
            node.done = true;
            node.results.status = r.status;
            node.results.error = r.error.clone();
            node.results.missing = r.seq.saturating_sub(node.seen.len() as u64);
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
                .map(|(id, n)| (id.clone(), n.results.clone()))
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
}

/// Handle to the aggregator actor (cheap to clone).
#[derive(Clone)]
pub struct AggregatorHandle {
    tx: mpsc::Sender<Command>,
}

const NAME: &str = "result aggregator";

impl AggregatorHandle {
    /// Starts the actor; it ends when every handle is dropped.
    pub fn spawn() -> (AggregatorHandle, JoinHandle<()>) {
        let (tx, mut rx) = mpsc::channel(actor::QUEUE);
        let task = tokio::spawn(async move {
            let mut a = Aggregator::default();
            while let Some(cmd) = rx.recv().await {
                match cmd {
                    Command::Open(t, q, n, r) => {
                        a.open(&t, q, &n);
                        actor::reply(r, ());
                    }
                    Command::Add(rep, r) => actor::reply(r, a.add(*rep)),
                    Command::Live(t, r) => actor::reply(r, a.live(&t)),
                    Command::Results(t, r) => actor::reply(r, a.results(&t)),
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Metrics;
    use vlbench_stats::{IntervalReport, Outcome};

    pub(crate) fn interval(seq: u64, latencies_us: &[u64], failed: u64) -> IntervalReport {
        let mut stats = IntervalStats::new(2);
        for (i, &l) in latencies_us.iter().enumerate() {
            let error = (i as u64) < failed;
            stats.queries[i % 2].record(&Outcome {
                query: i % 2,
                latency_us: l,
                service_us: l,
                status: if error { 500 } else { 200 },
                error: error.then_some(vlbench_stats::ErrorClass::Http5xx),
                bytes: 10,
                rows: 1,
            });
        }
        IntervalReport {
            seq,
            start_unix_ms: 1_000_000 + seq * 1000,
            duration_ms: 1000,
            stats,
        }
    }

    pub(crate) fn report(
        node: &str,
        seq: u64,
        status: ReportStatus,
        iv: Option<IntervalReport>,
    ) -> ResultReport {
        ResultReport {
            task_id: "t".into(),
            node_id: node.into(),
            timestamp: chrono::Utc::now(),
            metrics: Metrics::default(),
            status,
            seq,
            interval: iv,
            error: None,
        }
    }

    fn agg() -> Aggregator {
        let mut a = Aggregator::default();
        a.open(
            "t",
            vec!["q0".into(), "q1".into()],
            &["a".into(), "b".into()],
        );
        a
    }

    #[test]
    fn counts_add_up_over_nodes_and_retries_are_ignored() {
        let mut a = agg();
        let run = ReportStatus::Running;
        assert!(
            a.add(report("a", 0, run, Some(interval(0, &[1000, 2000], 0))))
                .unwrap()
                .new
        );
        assert!(
            a.add(report("b", 0, run, Some(interval(0, &[3000], 1))))
                .unwrap()
                .new
        );
        assert!(
            !a.add(report("a", 0, run, Some(interval(0, &[1000, 2000], 0))))
                .unwrap()
                .new
        );
        assert!(
            a.add(report("a", 1, run, Some(interval(1, &[4000], 0))))
                .unwrap()
                .new
        );
        let res = a.results("t").unwrap();
        let total = res.merged.total.total();
        assert_eq!(total.total(), 4);
        assert_eq!(total.failed(), 1);
        assert_eq!(res.nodes["a"].total.total().total(), 3);
        assert_eq!(res.nodes["a"].intervals, 2);
        assert_eq!(res.nodes["a"].span_ms, Some((1_000_000, 1_002_000)));
        assert_eq!(res.merged.intervals[&0].stats.total().total(), 3);
        assert_eq!(
            total.latency.max(),
            res.nodes["a"].total.total().latency.max()
        );
    }

    #[test]
    fn unknown_task_node_and_bad_reports_are_refused() {
        let mut a = agg();
        let mut r = report("a", 0, ReportStatus::Running, Some(interval(0, &[1], 0)));
        r.task_id = "other".into();
        assert_eq!(a.add(r), Err(AggError::UnknownTask("other".into())));
        let r = report("c", 0, ReportStatus::Running, Some(interval(0, &[1], 0)));
        assert!(matches!(a.add(r), Err(AggError::UnknownNode { .. })));
        let r = report("a", 0, ReportStatus::Running, None);
        assert!(matches!(a.add(r), Err(AggError::Invalid(m)) if m.contains("interval")));
        let r = report("a", 3, ReportStatus::Running, Some(interval(0, &[1], 0)));
        assert!(matches!(a.add(r), Err(AggError::Invalid(m)) if m.contains("seq")));
        let mut iv = interval(0, &[1], 0);
        iv.stats = IntervalStats::new(5);
        let r = report("a", 0, ReportStatus::Running, Some(iv));
        assert!(matches!(a.add(r), Err(AggError::Invalid(m)) if m.contains("5 queries")));
    }

    #[test]
    fn a_final_report_is_reported_once_with_missing_intervals() {
        let mut a = agg();
        a.add(report(
            "a",
            0,
            ReportStatus::Running,
            Some(interval(0, &[1], 0)),
        ))
        .unwrap();
        let done = a
            .add(report("a", 3, ReportStatus::Completed, None))
            .unwrap();
        assert_eq!(done.finished, Some((ReportStatus::Completed, None)));
        let again = a
            .add(report("a", 3, ReportStatus::Completed, None))
            .unwrap();
        assert_eq!(
            again,
            Accepted {
                new: false,
                finished: None
            }
        );
        assert_eq!(a.results("t").unwrap().nodes["a"].missing, 2);
    }

    #[test]
    fn the_live_window_covers_the_last_ten_seconds() {
        let mut a = agg();
        for seq in 0..15 {
            // Seconds 0..5 are slow and failing; the window must not see them.
            let (lat, failed) = if seq < 5 { (900_000, 1) } else { (2_000, 0) };
            a.add(report(
                "a",
                seq,
                ReportStatus::Running,
                Some(interval(seq, &[lat, lat], failed)),
            ))
            .unwrap();
        }
        a.add(report(
            "b",
            3,
            ReportStatus::Running,
            Some(interval(3, &[1], 0)),
        ))
        .unwrap();
        let live = a.live("t").unwrap();
        assert_eq!(live.last_seq, Some(14));
        assert_eq!(live.qps, 2.0);
        assert_eq!(live.error_rate, 0.0);
        assert!(live.p99_response_time < 3.0, "{}", live.p99_response_time);
        assert_eq!(live.active_nodes, 1);
        assert_eq!(live.total_queries, 31);
        assert_eq!(live.failed_queries, 5);
        assert_eq!(a.live("nope"), None);
    }
}
