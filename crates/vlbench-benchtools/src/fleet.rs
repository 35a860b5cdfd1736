//! A fleet of fake workers speaking the coordinator protocol
//! (docs/protocol.md) exactly as `vlbench worker` does: register, heartbeat
//! every interval (`busy` with the task id and `last_seq` while reporting),
//! one `running` report per second with the interval's histograms and the
//! assignment version (so it is the heartbeat too: a beat is skipped when a
//! report was answered "unchanged" within the interval), then a `completed`
//! final report. They send no load anywhere.
//!
//! Owns the fake nodes' state and their request loops; must not measure
//! (the sampler in `main` does) or retry forever (every loop is bounded by
//! the run's deadline or a cancellation).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::value::RawValue;
use tokio::time::Instant;
use vlbench_cluster::client::CoordinatorClient;
use vlbench_cluster::protocol::{
    Capabilities, HeartbeatRequest, Metrics, NodeStatus, RegisterAction, RegisterRequest,
    ReportAck, ReportStatus, Resources, ResultReport,
};

use crate::intervals::Prepared;
use crate::HarnessError;

/// Counters of what the fleet sent, shared by every node.
#[derive(Debug, Default)]
pub struct Tally {
    /// Heartbeats answered.
    pub heartbeats: AtomicU64,
    /// Heartbeats that failed (any error).
    pub heartbeat_errors: AtomicU64,
    /// Reports accepted as new.
    pub accepted: AtomicU64,
    /// Reports answered `accepted: false` (duplicates).
    pub duplicates: AtomicU64,
    /// Reports that failed (any error).
    pub report_errors: AtomicU64,
    /// Sum of report round-trip times, µs.
    pub report_rtt_us: AtomicU64,
    /// Slowest report round trip, µs.
    pub report_rtt_max_us: AtomicU64,
}

/// The assignment a fake node received: the task and its start instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assigned {
    /// The task's id.
    pub task_id: String,
    /// When every node starts, unix ms.
    pub start_unix_ms: u64,
}

/// One fake worker.
pub struct Node {
    /// Its id (`prefix-000`, ...).
    pub id: String,
    assigned: Mutex<Option<Assigned>>,
    reporting: AtomicU64, // 1 while the node has an unfinished run
    last_seq: AtomicU64,  // intervals sent so far
    version: AtomicU64,   // assignment version applied
    /// When a report last counted as the heartbeat, assignment unchanged.
    beat: Mutex<Option<Instant>>,
}

impl Node {
    /// A node that has not registered yet.
    pub fn new(id: String) -> Node {
        Node {
            id,
            assigned: Mutex::new(None),
            reporting: AtomicU64::new(0),
            last_seq: AtomicU64::new(0),
            version: AtomicU64::new(0),
            beat: Mutex::new(None),
        }
    }

    /// The assignment received so far.
    pub fn assigned(&self) -> Option<Assigned> {
        self.assigned.lock().ok().and_then(|a| a.clone())
    }

    fn heartbeat_body(&self) -> HeartbeatRequest {
        let running = self.reporting.load(Ordering::Relaxed) == 1;
        let task = self.assigned().filter(|_| running);
        let sent = self.last_seq.load(Ordering::Relaxed);
        HeartbeatRequest {
            status: if task.is_some() {
                NodeStatus::Busy
            } else {
                NodeStatus::Active
            },
            current_load: if task.is_some() { 0.01 } else { 0.0 },
            assignment_version: self.version.load(Ordering::Relaxed),
            task_id: task.map(|t| t.task_id),
            last_seq: sent.checked_sub(1),
            performance_metrics: None,
        }
    }
}

/// Registers one node as a one-core worker with 256 concurrent queries.
pub async fn register(client: &CoordinatorClient, node: &Node) -> Result<Duration, HarnessError> {
    let req = RegisterRequest {
        action: RegisterAction::Register,
        node_id: node.id.clone(),
        capabilities: Capabilities {
            max_concurrent_queries: 256,
            supported_query_types: vec!["query".into(), "stats".into()],
            resources: Resources {
                cpu_cores: 1,
                memory_mb: 1024,
            },
        },
        endpoint: String::new(),
    };
    let answer = client
        .register(&req)
        .await
        .map_err(|e| HarnessError::Coordinator(format!("registering {}: {e}", node.id)))?;
    Ok(Duration::from_millis(answer.heartbeat_interval_ms.max(50)))
}

/// Heartbeats every `interval`, the first after `phase`, until `until`;
/// records the first assignment.
pub async fn heartbeat_loop(
    client: CoordinatorClient,
    node: Arc<Node>,
    phase: Duration,
    interval: Duration,
    until: Instant,
    tally: Arc<Tally>,
) {
    let mut next = Instant::now() + phase;
    while next < until {
        tokio::time::sleep_until(next).await;
        next += interval;
        let beat = node.beat.lock().ok().and_then(|b| *b);
        if beat.is_some_and(|at| at.elapsed() < interval) {
            continue; // a report was this beat, as in the worker
        }
        match client.heartbeat(&node.id, &node.heartbeat_body()).await {
            Ok(answer) => {
                tally.heartbeats.fetch_add(1, Ordering::Relaxed);
                if let (Some(a), Ok(mut slot)) = (answer.assignment, node.assigned.lock()) {
                    if slot.is_none() && a.node_assignments.contains_key(&node.id) {
                        node.reporting.store(1, Ordering::Relaxed);
                        node.version.store(answer.version, Ordering::Relaxed);
                        *slot = Some(Assigned {
                            task_id: a.task_id,
                            start_unix_ms: a.start_unix_ms,
                        });
                    }
                }
            }
            Err(_) => {
                tally.heartbeat_errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// The instant `unix_ms` on tokio's clock (now when it has passed).
pub fn instant_of(unix_ms: u64) -> Instant {
    let target = std::time::UNIX_EPOCH + Duration::from_millis(unix_ms);
    let ahead = target
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO);
    Instant::now() + ahead
}

/// A running report on the wire: [`ResultReport`]'s fields in its order
/// (so the same JSON text), with the interval's statistics already encoded.
#[derive(Serialize)]
struct RunningReport<'a> {
    task_id: &'a str,
    node_id: &'a str,
    timestamp: DateTime<Utc>,
    metrics: &'a Metrics,
    status: ReportStatus,
    seq: u64,
    interval: PreparedInterval<'a>,
    error: Option<&'a str>,
    assignment_version: u64,
}

/// [`vlbench_stats::IntervalReport`]'s fields in its order.
#[derive(Serialize)]
struct PreparedInterval<'a> {
    seq: u64,
    start_unix_ms: u64,
    duration_ms: u64,
    stats: &'a RawValue,
}

/// The JSON of node `node_id`'s running report `seq` from `p`, as the
/// worker's reporter would write it at `timestamp`.
fn running_json(
    (task_id, node_id, version): (&str, &str, u64),
    start_unix_ms: u64,
    seq: u64,
    p: &Prepared,
    timestamp: DateTime<Utc>,
) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(&RunningReport {
        task_id,
        node_id,
        timestamp,
        metrics: &p.metrics,
        status: ReportStatus::Running,
        seq,
        interval: PreparedInterval {
            seq,
            start_unix_ms: start_unix_ms + seq * 1000,
            duration_ms: 1000,
            stats: &p.stats,
        },
        error: None,
        assignment_version: version,
    })
}

/// Posts report bodies to the coordinator's report endpoint.
#[derive(Clone)]
pub struct Poster {
    base: String,
    http: reqwest::Client,
}

impl Poster {
    /// A poster to the coordinator at `base` (`http://host:port`).
    pub fn new(base: &str, timeout: Duration) -> Result<Poster, HarnessError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| HarnessError::Coordinator(format!("HTTP client: {e}")))?;
        Ok(Poster {
            base: base.trim_end_matches('/').to_string(),
            http,
        })
    }

    /// Posts one report's JSON; the coordinator's answer or why it failed.
    async fn post(&self, task_id: &str, body: Vec<u8>) -> Result<ReportAck, String> {
        let url = format!("{}/api/v1/tasks/{task_id}/reports", self.base);
        let resp = self
            .http
            .post(&url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| format!("cannot reach {url}: {e}"))?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| format!("{url}: {e}"))?;
        if !status.is_success() {
            return Err(format!("{url} answered {status}: {text}"));
        }
        serde_json::from_str(&text).map_err(|e| format!("{url}: bad answer {text:?}: {e}"))
    }
}

/// Node `i`'s clock offset for a fleet whose clocks spread over `skew_ms`:
/// fixed per node, in `[0, skew_ms)`, spread evenly over the range by a
/// multiplicative hash of `i` (reproducible, no two neighbours close).
pub fn clock_offset(i: u64, skew_ms: u64) -> Duration {
    if skew_ms == 0 {
        return Duration::ZERO;
    }
    // Fibonacci hashing: the fractional parts of i * phi are equidistributed.
    let frac = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) as f64 / 2f64.powi(64);
    Duration::from_secs_f64(frac * skew_ms as f64 / 1000.0)
}

/// Sends `intervals` running reports, one per second from the start (each
/// when its second is over, as the engine does, `offset` late: the node's
/// clock), then the final one.
pub async fn report_loop(
    poster: Poster,
    node: Arc<Node>,
    offset: Duration,
    variants: Arc<[Prepared]>,
    intervals: u64,
    tally: Arc<Tally>,
) {
    let Some(a) = node.assigned() else { return };
    if variants.is_empty() {
        return;
    }
    let start = instant_of(a.start_unix_ms);
    for seq in 0..intervals {
        tokio::time::sleep_until(start + offset + Duration::from_secs(seq + 1)).await;
        // seq % len < len: the index is in range.
        let p = &variants[(seq % variants.len() as u64) as usize];
        let version = node.version.load(Ordering::Relaxed);
        let who = (a.task_id.as_str(), node.id.as_str(), version);
        match running_json(who, a.start_unix_ms, seq, p, Utc::now()) {
            Ok(body) => send(&poster, &a.task_id, seq, &node, body, &tally).await,
            Err(e) => report_failed(&tally, seq, &node.id, &e.to_string()),
        }
        node.last_seq.store(seq + 1, Ordering::Relaxed);
    }
    let done = ResultReport {
        task_id: a.task_id.clone(),
        node_id: node.id.clone(),
        timestamp: Utc::now(),
        metrics: Default::default(),
        status: ReportStatus::Completed,
        seq: intervals,
        first_seq: Some(0),
        interval: None,
        error: None,
        assignment_version: None,
    };
    match serde_json::to_vec(&done) {
        Ok(body) => send(&poster, &a.task_id, intervals, &node, body, &tally).await,
        Err(e) => report_failed(&tally, intervals, &node.id, &e.to_string()),
    }
    node.reporting.store(0, Ordering::Relaxed);
}

async fn send(poster: &Poster, task_id: &str, seq: u64, node: &Node, body: Vec<u8>, tally: &Tally) {
    let t0 = Instant::now();
    let res = poster.post(task_id, body).await;
    let us = u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX);
    tally.report_rtt_us.fetch_add(us, Ordering::Relaxed);
    tally.report_rtt_max_us.fetch_max(us, Ordering::Relaxed);
    if let (Ok(ack), Ok(mut beat)) = (&res, node.beat.lock()) {
        *beat = (ack.assignment_unchanged == Some(true)).then(Instant::now);
    }
    let node = node.id.as_str();
    match res {
        Ok(ack) if ack.accepted => {
            tally.accepted.fetch_add(1, Ordering::Relaxed);
        }
        Ok(_) => {
            tally.duplicates.fetch_add(1, Ordering::Relaxed);
        }
        Err(e) => report_failed(tally, seq, node, &e),
    }
}

fn report_failed(tally: &Tally, seq: u64, node: &str, why: &str) {
    if tally.report_errors.fetch_add(1, Ordering::Relaxed) < 5 {
        eprintln!("report {seq} of {node} failed: {why}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeat_is_active_until_assigned_then_busy() {
        let n = Node::new("n1".into());
        let hb = n.heartbeat_body();
        assert_eq!(hb.status, NodeStatus::Active);
        assert_eq!(hb.task_id, None);
        *n.assigned.lock().expect("not poisoned") = Some(Assigned {
            task_id: "t".into(),
            start_unix_ms: 1,
        });
        n.reporting.store(1, Ordering::Relaxed);
        n.last_seq.store(3, Ordering::Relaxed);
        let hb = n.heartbeat_body();
        assert_eq!(hb.status, NodeStatus::Busy);
        assert_eq!(hb.task_id.as_deref(), Some("t"));
        assert_eq!(hb.last_seq, Some(2));
        n.reporting.store(0, Ordering::Relaxed);
        assert_eq!(n.heartbeat_body().status, NodeStatus::Active);
    }

    #[test]
    fn a_prepared_report_is_the_json_the_worker_sends() {
        let shape = crate::intervals::Shape {
            queries: 3,
            requests_per_query: 20,
        };
        let variants = crate::intervals::variants(shape, 5, 2);
        let prepared = crate::intervals::prepare(&variants).expect("encodable");
        let at = Utc::now();
        for seq in [0u64, 1, 7] {
            let iv = crate::intervals::report(&variants, seq, 1_000).expect("non-empty");
            let k = (seq % 2) as usize;
            let real = ResultReport {
                task_id: "t-1".into(),
                node_id: "fake-0001".into(),
                timestamp: at,
                metrics: vlbench_cluster::worker::reporter::interval_metrics(&iv),
                status: ReportStatus::Running,
                seq,
                first_seq: None,
                interval: Some(iv),
                error: None,
                assignment_version: Some(3),
            };
            let ours = running_json(("t-1", "fake-0001", 3), 1_000, seq, &prepared[k], at)
                .expect("encodable");
            let want = serde_json::to_vec(&real).expect("encodable");
            assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&want)
            );
        }
    }

    #[test]
    fn clock_offsets_stay_in_range_and_spread() {
        assert_eq!(clock_offset(7, 0), Duration::ZERO);
        let offsets: Vec<Duration> = (0..200).map(|i| clock_offset(i, 1000)).collect();
        assert!(offsets.iter().all(|d| *d < Duration::from_secs(1)));
        // Every tenth of the second gets some of the 200 nodes.
        for tenth in 0..10u32 {
            let lo = Duration::from_millis(100) * tenth;
            let n = offsets
                .iter()
                .filter(|d| **d >= lo && **d < lo + Duration::from_millis(100))
                .count();
            assert!((10..=30).contains(&n), "{n} nodes in tenth {tenth}");
        }
    }

    #[test]
    fn past_instants_are_now() {
        let before = Instant::now();
        assert!(instant_of(0) >= before);
        assert!(instant_of(0) <= Instant::now());
    }
}
