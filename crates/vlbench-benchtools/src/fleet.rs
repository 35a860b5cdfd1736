//! A fleet of fake workers speaking the coordinator protocol
//! (docs/protocol.md) exactly as `vlbench worker` does: register, heartbeat
//! every interval (`busy` with the task id and `last_seq` while reporting),
//! one `running` report per second with the interval's histograms, then a
//! `completed` final report. They send no load anywhere.
//!
//! Owns the fake nodes' state and their request loops; must not measure
//! (the sampler in `main` does) or retry forever (every loop is bounded by
//! the run's deadline or a cancellation).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::time::Instant;
use vlbench_cluster::client::CoordinatorClient;
use vlbench_cluster::protocol::{
    Capabilities, HeartbeatRequest, NodeStatus, RegisterAction, RegisterRequest, ReportStatus,
    Resources, ResultReport,
};
use vlbench_cluster::worker::reporter::interval_metrics;
use vlbench_stats::IntervalStats;

use crate::intervals;
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

/// Heartbeats every `interval` until `until`; records the first assignment.
pub async fn heartbeat_loop(
    client: CoordinatorClient,
    node: Arc<Node>,
    interval: Duration,
    until: Instant,
    tally: Arc<Tally>,
) {
    let mut next = Instant::now();
    while next < until {
        tokio::time::sleep_until(next).await;
        next += interval;
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

/// Sends `intervals` running reports, one per second from the start (each
/// when its second is over, as the engine does), then the final one.
pub async fn report_loop(
    client: CoordinatorClient,
    node: Arc<Node>,
    variants: Vec<IntervalStats>,
    intervals: u64,
    tally: Arc<Tally>,
) {
    let Some(a) = node.assigned() else { return };
    let start = instant_of(a.start_unix_ms);
    for seq in 0..intervals {
        tokio::time::sleep_until(start + Duration::from_secs(seq + 1)).await;
        let Some(iv) = intervals::report(&variants, seq, a.start_unix_ms) else {
            return;
        };
        let r = ResultReport {
            task_id: a.task_id.clone(),
            node_id: node.id.clone(),
            timestamp: chrono::Utc::now(),
            metrics: interval_metrics(&iv),
            status: ReportStatus::Running,
            seq,
            first_seq: None,
            interval: Some(iv),
            error: None,
        };
        send(&client, &r, &tally).await;
        node.last_seq.store(seq + 1, Ordering::Relaxed);
    }
    let done = ResultReport {
        task_id: a.task_id.clone(),
        node_id: node.id.clone(),
        timestamp: chrono::Utc::now(),
        metrics: Default::default(),
        status: ReportStatus::Completed,
        seq: intervals,
        first_seq: Some(0),
        interval: None,
        error: None,
    };
    send(&client, &done, &tally).await;
    node.reporting.store(0, Ordering::Relaxed);
}

async fn send(client: &CoordinatorClient, r: &ResultReport, tally: &Tally) {
    let t0 = Instant::now();
    let res = client.report(r).await;
    let us = u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX);
    tally.report_rtt_us.fetch_add(us, Ordering::Relaxed);
    tally.report_rtt_max_us.fetch_max(us, Ordering::Relaxed);
    match res {
        Ok(ack) if ack.accepted => tally.accepted.fetch_add(1, Ordering::Relaxed),
        Ok(_) => tally.duplicates.fetch_add(1, Ordering::Relaxed),
        Err(e) => {
            if tally.report_errors.fetch_add(1, Ordering::Relaxed) < 5 {
                eprintln!("report {} of {} failed: {e}", r.seq, r.node_id);
            }
            0
        }
    };
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
    fn past_instants_are_now() {
        let before = Instant::now();
        assert!(instant_of(0) >= before);
        assert!(instant_of(0) <= Instant::now());
    }
}
