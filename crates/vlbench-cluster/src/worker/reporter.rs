//! ResultReporter (S-2, S-5): sends a task's interval reports, in order, to
//! the coordinator, then the node's final message. Unsent reports wait in a
//! bounded buffer (the oldest interval is dropped and counted when it is
//! full) and are retried with backoff; the coordinator ignores a seq it has
//! already merged, so a retry after a lost answer is safe.
//!
//! New reports are accepted while a send is in flight, so the engine is
//! never held up by a slow or absent coordinator. Each running report
//! carries the assignment version the node runs, which makes it the node's
//! heartbeat too; what the coordinator answered goes to [`ReportBeats`],
//! where the agent looks before sending a heartbeat of its own. Must not:
//! block the engine, or retry forever (it gives up after `give_up` without
//! success).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use vlbench_stats::{IntervalReport, Summary};

use crate::client::{ClientError, CoordinatorClient};
use crate::metrics::WorkerMetrics;
use crate::protocol::{Metrics, ReportAck, ReportStatus, ResultReport};

/// What the executor hands to the reporter.
#[derive(Debug)]
pub enum Item {
    /// One interval of the running task.
    Interval(IntervalReport),
    /// The node is done: completed or failed, having produced intervals
    /// `first_seq..end_seq`.
    Final {
        /// Completed or failed.
        status: ReportStatus,
        /// Why it failed.
        error: Option<String>,
        /// The first interval's number (a late joiner starts past 0).
        first_seq: u64,
        /// One past the last interval's number.
        end_seq: u64,
    },
}

/// Shared by a run's reporter and the agent: the assignment version the
/// reports carry, and when a report last counted as the node's heartbeat.
#[derive(Debug, Default)]
pub struct ReportBeats {
    applied: AtomicU64,
    /// When the last answer came and whether it said "unchanged".
    last: Mutex<Option<(Instant, bool)>>,
}

impl ReportBeats {
    /// Beats for a run of assignment version `applied`.
    pub fn new(applied: u64) -> ReportBeats {
        ReportBeats {
            applied: AtomicU64::new(applied),
            last: Mutex::new(None),
        }
    }

    /// The node now runs version `v` (a live update was applied).
    pub fn set_applied(&self, v: u64) {
        self.applied.store(v, Ordering::Relaxed);
    }

    /// The version the reports carry.
    pub fn applied(&self) -> u64 {
        self.applied.load(Ordering::Relaxed)
    }

    /// The coordinator answered a report that was a heartbeat.
    pub fn record(&self, unchanged: bool) {
        if let Ok(mut last) = self.last.lock() {
            *last = Some((Instant::now(), unchanged));
        }
    }

    /// When a report last counted as a heartbeat with the assignment
    /// unchanged, if that was less than `within` ago: the agent's heartbeat
    /// can be skipped. None after an answer that said "changed" (the agent
    /// must heartbeat to fetch the assignment).
    pub fn fresh(&self, within: Duration) -> Option<Instant> {
        let last = *self.last.lock().ok()?;
        match last {
            Some((at, true)) if at.elapsed() < within => Some(at),
            _ => None,
        }
    }
}

/// Settings of one task's reporter.
#[derive(Clone)]
pub struct ReporterConfig {
    /// The coordinator.
    pub client: CoordinatorClient,
    /// The task reported on.
    pub task_id: String,
    /// This node.
    pub node_id: String,
    /// Most reports kept unsent.
    pub capacity: usize,
    /// Give up (drop what is unsent) after this long without a success.
    pub give_up: Duration,
    /// Where drops are counted.
    pub metrics: Arc<WorkerMetrics>,
    /// When set, running reports carry its version and are heartbeats.
    pub beats: Option<Arc<ReportBeats>>,
}

/// What happened to a task's reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Reports the coordinator acknowledged (new or duplicate).
    pub delivered: u64,
    /// Reports dropped (buffer full, refused, or given up).
    pub dropped: u64,
}

const MAX_BACKOFF: Duration = Duration::from_secs(5);
const FIRST_BACKOFF: Duration = Duration::from_millis(200);

type Sending = Pin<Box<dyn Future<Output = Result<ReportAck, ClientError>> + Send>>;

/// The S-5 headline figures of one interval.
pub fn interval_metrics(iv: &IntervalReport) -> Metrics {
    let s = Summary::from_stats(
        &iv.stats.total(),
        (iv.duration_ms as f64 / 1000.0).max(0.001),
    );
    Metrics {
        total_queries: s.total_queries,
        successful_queries: s.successful_queries,
        failed_queries: s.failed_queries,
        avg_response_time: s.avg_response_time,
        p95_response_time: s.p95_response_time,
        qps: s.qps,
    }
}

fn to_report(cfg: &ReporterConfig, item: Item) -> ResultReport {
    let (metrics, status, seq, interval, error, first_seq) = match item {
        Item::Interval(iv) => (
            interval_metrics(&iv),
            ReportStatus::Running,
            iv.seq,
            Some(iv),
            None,
            None,
        ),
        Item::Final {
            status,
            error,
            first_seq,
            end_seq,
        } => (
            Metrics::default(),
            status,
            end_seq,
            None,
            error,
            (first_seq > 0).then_some(first_seq),
        ),
    };
    ResultReport {
        task_id: cfg.task_id.clone(),
        node_id: cfg.node_id.clone(),
        timestamp: chrono::Utc::now(),
        metrics,
        status,
        seq,
        first_seq,
        assignment_version: match (&interval, &cfg.beats) {
            (Some(_), Some(b)) => Some(b.applied()),
            _ => None,
        },
        interval,
        error,
    }
}

/// Runs until `rx` is closed and everything is sent (or dropped).
pub async fn run(cfg: ReporterConfig, mut rx: mpsc::Receiver<Item>) -> Outcome {
    let mut queue: VecDeque<ResultReport> = VecDeque::with_capacity(cfg.capacity.min(1024));
    let mut out = Outcome::default();
    let mut closed = false;
    let mut sending: Option<Sending> = None;
    let mut backoff = Duration::ZERO;
    let mut last_ok = Instant::now();
    loop {
        if sending.is_none() {
            if let Some(front) = queue.front() {
                sending = Some(send_later(cfg.client.clone(), front.clone(), backoff));
            } else if closed {
                return out;
            }
        }
        tokio::select! {
            item = rx.recv(), if !closed => match item {
                Some(item) => push(&cfg, &mut queue, to_report(&cfg, item), &mut out),
                None => closed = true,
            },
            res = async { sending.as_mut().expect("guarded by is_some").await }, if sending.is_some() => {
                sending = None;
                match res {
                    Ok(ack) => {
                        if let (Some(unchanged), Some(b)) = (ack.assignment_unchanged, &cfg.beats) {
                            b.record(unchanged);
                        }
                        queue.pop_front();
                        out.delivered += 1;
                        backoff = Duration::ZERO;
                        last_ok = Instant::now();
                    }
                    Err(e) if e.status() == Some(404) => {
                        tracing::warn!(task = %cfg.task_id, "coordinator no longer knows the task, dropping {} report(s): {e}", queue.len());
                        drop_all(&cfg, &mut queue, &mut out);
                    }
                    Err(e) if e.status() == Some(400) => {
                        tracing::warn!(task = %cfg.task_id, "report refused, dropped: {e}");
                        queue.pop_front();
                        count_drop(&cfg, &mut out, 1);
                    }
                    Err(e) => {
                        backoff = (backoff * 2).clamp(FIRST_BACKOFF, MAX_BACKOFF);
                        if last_ok.elapsed() > cfg.give_up {
                            tracing::warn!(task = %cfg.task_id, "coordinator unreachable for {:?}, dropping {} report(s): {e}", cfg.give_up, queue.len());
                            drop_all(&cfg, &mut queue, &mut out);
                            last_ok = Instant::now();
                        } else {
                            tracing::debug!(task = %cfg.task_id, "report not sent, retrying in {backoff:?}: {e}");
                        }
                    }
                }
            }
        }
    }
}

fn send_later(client: CoordinatorClient, report: ResultReport, delay: Duration) -> Sending {
    Box::pin(async move {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        client.report(&report).await
    })
}

/// Appends a report; when full, the oldest *interval* after the front
/// (which may be in flight) goes. A final message is never dropped this
/// way, so the queue may exceed its capacity by the final message.
fn push(
    cfg: &ReporterConfig,
    queue: &mut VecDeque<ResultReport>,
    r: ResultReport,
    out: &mut Outcome,
) {
    if queue.len() >= cfg.capacity.max(2) {
        let victim = queue
            .iter()
            .skip(1)
            .position(|q| q.status == ReportStatus::Running);
        if let Some(i) = victim {
            queue.remove(i + 1);
            count_drop(cfg, out, 1);
        }
    }
    queue.push_back(r);
}

fn drop_all(cfg: &ReporterConfig, queue: &mut VecDeque<ResultReport>, out: &mut Outcome) {
    count_drop(cfg, out, queue.len() as u64);
    queue.clear();
}

fn count_drop(cfg: &ReporterConfig, out: &mut Outcome, n: u64) {
    if n > 0 {
        out.dropped += n;
        cfg.metrics.reports_dropped(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_report_answered_unchanged_is_a_fresh_beat_for_one_interval() {
        let beats = ReportBeats::new(4);
        let second = Duration::from_secs(1);
        assert_eq!(beats.applied(), 4);
        assert!(beats.fresh(second).is_none(), "no answer yet");
        beats.record(true);
        let at = beats.fresh(second).expect("just answered");
        tokio::time::advance(Duration::from_millis(999)).await;
        assert_eq!(beats.fresh(second), Some(at));
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(beats.fresh(second).is_none(), "older than the interval");
        beats.record(true);
        beats.record(false);
        assert!(beats.fresh(second).is_none(), "changed: heartbeat now");
        beats.set_applied(5);
        assert_eq!(beats.applied(), 5);
    }
}
