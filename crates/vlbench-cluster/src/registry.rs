//! NodeManager (S-1): the node registry actor. Owns every node's record
//! (S-7): registration, heartbeats, and the failure detector (S-12) that marks
//! a node silent past the heartbeat timeout as failed.
//!
//! Must not: know about tasks (the scheduler asks for a snapshot of the nodes
//! and decides on its own), or wait on another actor while serving a command,
//! so heartbeats are always answered promptly.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::actor::{self, Gone};
use crate::model::NodeRecord;
use crate::protocol::{HeartbeatRequest, Metrics, NodeStatus, RegisterRequest};

/// A heartbeat from a node that is not registered (e.g. the coordinator
/// restarted): the worker must register again.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("node {0:?} is not registered; register with POST /api/v1/nodes/register first")]
pub struct UnknownNode(pub String);

struct Node {
    record: NodeRecord,
    last_seen: Instant,
}

/// The registry's state: plain data with synchronous methods, so tests drive
/// it with chosen instants.
pub struct Registry {
    nodes: BTreeMap<String, Node>,
    timeout: Duration,
}

impl Registry {
    /// An empty registry failing nodes silent for longer than `timeout`.
    pub fn new(timeout: Duration) -> Registry {
        Registry {
            nodes: BTreeMap::new(),
            timeout,
        }
    }

    /// Adds or refreshes a node; a node that registers again (restart) keeps
    /// no state from before.
    pub fn register(&mut self, req: RegisterRequest, now: Instant) -> NodeRecord {
        let wall = Utc::now();
        let record = NodeRecord {
            node_id: req.node_id.clone(),
            status: NodeStatus::Active,
            last_heartbeat: wall,
            registered_at: wall,
            current_load: 0.0,
            capabilities: req.capabilities,
            endpoint: req.endpoint,
            assigned_tasks: Vec::new(),
            performance_metrics: None,
        };
        self.nodes.insert(
            req.node_id,
            Node {
                record: record.clone(),
                last_seen: now,
            },
        );
        record
    }

    /// Records a heartbeat; a failed node that is heard from again is alive.
    pub fn heartbeat(
        &mut self,
        node_id: &str,
        hb: HeartbeatRequest,
        now: Instant,
    ) -> Result<NodeStatus, UnknownNode> {
        let r = self.heard_from(node_id, now)?;
        r.status = match hb.status {
            NodeStatus::Failed => NodeStatus::Active,
            s => s,
        };
        r.current_load = hb.current_load.clamp(0.0, 1.0);
        if hb.performance_metrics.is_some() {
            r.performance_metrics = hb.performance_metrics;
        }
        Ok(r.status)
    }

    /// Records a running report that counts as the node's heartbeat: the
    /// node is alive and busy, and `metrics` are its latest figures.
    pub fn report_beat(
        &mut self,
        node_id: &str,
        metrics: Metrics,
        now: Instant,
    ) -> Result<NodeStatus, UnknownNode> {
        let r = self.heard_from(node_id, now)?;
        r.status = NodeStatus::Busy;
        r.performance_metrics = Some(metrics);
        Ok(r.status)
    }

    /// Notes that `node_id` was heard from at `now`; its record, to update.
    fn heard_from(&mut self, node_id: &str, now: Instant) -> Result<&mut NodeRecord, UnknownNode> {
        let node = self
            .nodes
            .get_mut(node_id)
            .ok_or_else(|| UnknownNode(node_id.to_string()))?;
        node.last_seen = now;
        node.record.last_heartbeat = Utc::now();
        Ok(&mut node.record)
    }

    /// Marks alive nodes silent past the timeout as failed; returns their ids.
    pub fn sweep(&mut self, now: Instant) -> Vec<String> {
        let mut failed = Vec::new();
        for (id, node) in &mut self.nodes {
            if node.record.status.is_alive()
                && now.saturating_duration_since(node.last_seen) > self.timeout
            {
                node.record.status = NodeStatus::Failed;
                failed.push(id.clone());
            }
        }
        failed
    }

    /// Every node's record, by id.
    pub fn list(&self) -> Vec<NodeRecord> {
        self.nodes.values().map(|n| n.record.clone()).collect()
    }
}

enum Command {
    Register(RegisterRequest, oneshot::Sender<NodeRecord>),
    Heartbeat(
        String,
        HeartbeatRequest,
        oneshot::Sender<Result<NodeStatus, UnknownNode>>,
    ),
    ReportBeat(
        String,
        Metrics,
        oneshot::Sender<Result<NodeStatus, UnknownNode>>,
    ),
    Sweep(oneshot::Sender<Vec<String>>),
    List(oneshot::Sender<Vec<NodeRecord>>),
}

/// Handle to the registry actor (cheap to clone).
#[derive(Clone)]
pub struct RegistryHandle {
    tx: mpsc::Sender<Command>,
}

const NAME: &str = "node registry";

impl RegistryHandle {
    /// Starts the actor; it ends when every handle is dropped.
    pub fn spawn(timeout: Duration) -> (RegistryHandle, JoinHandle<()>) {
        let (tx, mut rx) = mpsc::channel(actor::QUEUE);
        let mut state = Registry::new(timeout);
        let task = tokio::spawn(async move {
            while let Some(cmd) = rx.recv().await {
                let now = Instant::now();
                match cmd {
                    Command::Register(req, r) => actor::reply(r, state.register(req, now)),
                    Command::Heartbeat(id, hb, r) => actor::reply(r, state.heartbeat(&id, hb, now)),
                    Command::ReportBeat(id, m, r) => {
                        actor::reply(r, state.report_beat(&id, m, now))
                    }
                    Command::Sweep(r) => actor::reply(r, state.sweep(now)),
                    Command::List(r) => actor::reply(r, state.list()),
                }
            }
        });
        (RegistryHandle { tx }, task)
    }

    /// Records a running report that is also the node's heartbeat.
    pub async fn report_beat(
        &self,
        node_id: String,
        metrics: Metrics,
    ) -> Result<Result<NodeStatus, UnknownNode>, Gone> {
        actor::call(&self.tx, NAME, |r| Command::ReportBeat(node_id, metrics, r)).await
    }

    /// Registers a node.
    pub async fn register(&self, req: RegisterRequest) -> Result<NodeRecord, Gone> {
        actor::call(&self.tx, NAME, |r| Command::Register(req, r)).await
    }

    /// Records a heartbeat.
    pub async fn heartbeat(
        &self,
        node_id: String,
        hb: HeartbeatRequest,
    ) -> Result<Result<NodeStatus, UnknownNode>, Gone> {
        actor::call(&self.tx, NAME, |r| Command::Heartbeat(node_id, hb, r)).await
    }

    /// Runs the failure detector; returns the nodes it just failed.
    pub async fn sweep(&self) -> Result<Vec<String>, Gone> {
        actor::call(&self.tx, NAME, Command::Sweep).await
    }

    /// Every node's record.
    pub async fn list(&self) -> Result<Vec<NodeRecord>, Gone> {
        actor::call(&self.tx, NAME, Command::List).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Capabilities, RegisterAction, Resources};

    pub(crate) fn register_req(id: &str) -> RegisterRequest {
        RegisterRequest {
            action: RegisterAction::Register,
            node_id: id.into(),
            capabilities: Capabilities {
                max_concurrent_queries: 10,
                supported_query_types: vec!["query".into()],
                resources: Resources {
                    cpu_cores: 2,
                    memory_mb: 1024,
                },
            },
            endpoint: String::new(),
        }
    }

    fn hb(status: NodeStatus) -> HeartbeatRequest {
        HeartbeatRequest {
            status,
            current_load: 0.5,
            assignment_version: 0,
            task_id: None,
            last_seq: None,
            performance_metrics: None,
        }
    }

    #[test]
    fn silent_nodes_fail_and_come_back() {
        let t0 = Instant::now();
        let mut reg = Registry::new(Duration::from_secs(3));
        reg.register(register_req("a"), t0);
        reg.register(register_req("b"), t0);
        reg.heartbeat("b", hb(NodeStatus::Busy), t0 + Duration::from_secs(2))
            .unwrap();
        assert!(reg.sweep(t0 + Duration::from_secs(3)).is_empty());
        assert_eq!(reg.sweep(t0 + Duration::from_millis(3001)), ["a"]);
        // Failed once, not again.
        assert!(reg.sweep(t0 + Duration::from_secs(4)).is_empty());
        let status = reg
            .heartbeat("a", hb(NodeStatus::Active), t0 + Duration::from_secs(5))
            .unwrap();
        assert_eq!(status, NodeStatus::Active);
        let list = reg.list();
        assert_eq!(list[1].status, NodeStatus::Busy);
        assert_eq!(list[1].current_load, 0.5);
    }

    #[test]
    fn a_report_beat_keeps_a_node_alive_and_busy() {
        let t0 = Instant::now();
        let mut reg = Registry::new(Duration::from_secs(3));
        reg.register(register_req("a"), t0);
        let m = Metrics {
            total_queries: 7,
            ..Metrics::default()
        };
        let status = reg
            .report_beat("a", m.clone(), t0 + Duration::from_secs(2))
            .unwrap();
        assert_eq!(status, NodeStatus::Busy);
        // Heard from at t0 + 2 s: alive until t0 + 5 s.
        assert!(reg.sweep(t0 + Duration::from_secs(5)).is_empty());
        assert_eq!(reg.list()[0].performance_metrics, Some(m.clone()));
        assert_eq!(reg.sweep(t0 + Duration::from_millis(5001)), ["a"]);
        // A failed node that reports again is alive.
        reg.report_beat("a", m, t0 + Duration::from_secs(6))
            .unwrap();
        assert_eq!(reg.list()[0].status, NodeStatus::Busy);
        let err = reg
            .report_beat("ghost", Metrics::default(), t0)
            .unwrap_err();
        assert_eq!(err, UnknownNode("ghost".into()));
    }

    #[test]
    fn unknown_node_heartbeat_is_an_error() {
        let mut reg = Registry::new(Duration::from_secs(3));
        let err = reg
            .heartbeat("ghost", hb(NodeStatus::Active), Instant::now())
            .unwrap_err();
        assert_eq!(err, UnknownNode("ghost".into()));
    }

    #[test]
    fn offline_nodes_are_not_failed() {
        let t0 = Instant::now();
        let mut reg = Registry::new(Duration::from_secs(1));
        reg.register(register_req("a"), t0);
        reg.heartbeat("a", hb(NodeStatus::Offline), t0).unwrap();
        assert!(reg.sweep(t0 + Duration::from_secs(10)).is_empty());
        assert_eq!(reg.list()[0].status, NodeStatus::Offline);
    }

    #[tokio::test(start_paused = true)]
    async fn the_actor_fails_a_silent_node_after_the_timeout() {
        let (reg, task) = RegistryHandle::spawn(Duration::from_secs(3));
        reg.register(register_req("a")).await.unwrap();
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(reg.sweep().await.unwrap().is_empty());
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(reg.sweep().await.unwrap(), ["a"]);
        drop(reg);
        task.await.unwrap();
    }
}
