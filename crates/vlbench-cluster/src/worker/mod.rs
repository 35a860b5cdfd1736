//! The worker role (S-2): `run(config, listener, shutdown)`.
//!
//! NodeRegistrar: registers (again after a coordinator restart) and
//! heartbeats; each heartbeat answer carries the node's assignment, applied
//! when its version is newer: a new task starts a run, a newer version of
//! the running task (rebalance, tuning, weight change) is handed to the
//! running engine as a live update. While a run reports, each running
//! report carries the assignment version and is the node's heartbeat too
//! ([`reporter::ReportBeats`]): a beat is skipped when a report was answered
//! "unchanged" within the interval, so a busy worker sends one request a
//! second instead of two. A run is stopped when the assignment is
//! withdrawn or replaced, when the coordinator has been unreachable for
//! longer than the orphan timeout (no load without a controller), and on
//! shutdown. An orphaned run's reporter keeps its unsent reports (bounded)
//! and delivers them when the coordinator is back (it gives up after 10
//! orphan timeouts). The worker serves its own `/health` and `/metrics`.
//!
//! Layout: [`caps`] (capabilities), [`executor`] (one run: engine +
//! metrics), [`reporter`] (ordered, bounded, retried result reports).
//! Must not: decide anything about the split (the coordinator does).

pub mod caps;
pub mod executor;
pub mod reporter;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use vlbench_engine::{LiveUpdate, TargetOptions};
use vlbench_workload::Workload;

use crate::client::{ClientError, CoordinatorClient};
use crate::metrics::WorkerMetrics;
use crate::protocol::{
    Capabilities, Health, HeartbeatRequest, HeartbeatResponse, NodeStatus, RegisterAction,
    RegisterRequest,
};
use executor::{Execution, Progress};
use reporter::{ReportBeats, ReporterConfig};

/// How often an unreachable coordinator is reported again.
const REPEAT_WARNING: Duration = Duration::from_secs(30);

/// What a worker's engine needs besides its share, schedule and start.
pub struct EngineParts {
    /// The query mix, built from the file.
    pub workload: Arc<Workload>,
    /// Target URL, auth headers, timeouts, TLS.
    pub target: TargetOptions,
}

/// Builds the engine's parts from a benchmark file's text. Implemented by
/// the binary over `vlbench-config` and its plan code.
pub trait EngineBuilder: Send + Sync + 'static {
    /// The workload and target options of the file.
    fn engine_parts(&self, text: &str) -> Result<EngineParts, String>;
}

/// Settings of the worker role.
#[derive(Clone)]
pub struct WorkerConfig {
    /// The coordinator's base URL.
    pub coordinator_url: String,
    /// This node's id.
    pub node_id: String,
    /// This worker's /health and /metrics base URL, sent at registration.
    pub endpoint: String,
    /// What this node can take.
    pub capabilities: Capabilities,
    /// Engine shards (threads).
    pub threads: usize,
    /// Stop the load after this long without reaching the coordinator.
    pub orphan_timeout: Duration,
    /// Most unsent interval reports kept.
    pub report_buffer: usize,
    /// Builds the engine's parts from the benchmark file.
    pub builder: Arc<dyn EngineBuilder>,
}

/// Why the worker stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The coordinator URL is unusable.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The /health and /metrics server failed.
    #[error("worker HTTP server: {0}")]
    Serve(#[source] std::io::Error),
}

struct Running {
    task_id: String,
    cancel: CancellationToken,
    handle: JoinHandle<()>,
    progress: Arc<Progress>,
    /// What the run's reports, which are heartbeats too, last heard.
    beats: Arc<ReportBeats>,
    load: f64,
    updates: watch::Sender<LiveUpdate>,
}

struct Agent {
    config: WorkerConfig,
    client: CoordinatorClient,
    metrics: Arc<WorkerMetrics>,
    running: Option<Running>,
    /// Runs stopped by the orphan timeout whose reporters still wait for
    /// the coordinator.
    orphaned: Vec<JoinHandle<()>>,
    applied: u64,
    interval: Duration,
}

/// How long a shutting-down worker waits for its reporters.
const SHUTDOWN_FLUSH: Duration = Duration::from_secs(10);

/// Runs the worker until `shutdown`; `listener` serves /health and /metrics.
pub async fn run(
    config: WorkerConfig,
    listener: Option<TcpListener>,
    shutdown: CancellationToken,
) -> Result<(), WorkerError> {
    let client = CoordinatorClient::new(&config.coordinator_url, Duration::from_secs(5))?;
    let metrics = Arc::new(WorkerMetrics::new(&config.node_id));
    let server = listener.map(|l| {
        let app = health_router(metrics.clone());
        let stop = shutdown.clone();
        tokio::spawn(async move {
            axum::serve(l, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await
        })
    });
    let mut agent = Agent {
        config,
        client,
        metrics,
        running: None,
        orphaned: Vec::new(),
        applied: 0,
        interval: Duration::from_secs(1),
    };
    agent.main_loop(&shutdown).await;
    agent.orphan_run();
    let flush = futures_join(std::mem::take(&mut agent.orphaned));
    if tokio::time::timeout(SHUTDOWN_FLUSH, flush).await.is_err() {
        tracing::warn!("unsent reports abandoned at shutdown after {SHUTDOWN_FLUSH:?}");
    }
    agent.goodbye().await;
    if let Some(s) = server {
        if let Ok(Err(e)) = s.await {
            return Err(WorkerError::Serve(e));
        }
    }
    Ok(())
}

async fn futures_join(handles: Vec<JoinHandle<()>>) {
    for h in handles {
        let _ = h.await;
    }
}

fn health_router(metrics: Arc<WorkerMetrics>) -> Router {
    Router::new()
        .route(
            "/health",
            get(|| async {
                Json(Health {
                    status: "ok".into(),
                    timestamp: chrono::Utc::now(),
                    version: env!("CARGO_PKG_VERSION").into(),
                    active_nodes: 1,
                    running_tasks: 0,
                })
            }),
        )
        .route(
            "/metrics",
            get(|State(m): State<Arc<WorkerMetrics>>| async move { m.encode().into_response() }),
        )
        .with_state(metrics)
}

impl Agent {
    /// Registers until it works (or shutdown); returns false on shutdown.
    async fn register(&mut self, shutdown: &CancellationToken) -> bool {
        let req = RegisterRequest {
            action: RegisterAction::Register,
            node_id: self.config.node_id.clone(),
            capabilities: self.config.capabilities.clone(),
            endpoint: self.config.endpoint.clone(),
        };
        let mut backoff = Duration::from_millis(200);
        loop {
            match self.client.register(&req).await {
                Ok(r) => {
                    self.interval = Duration::from_millis(r.heartbeat_interval_ms.max(50));
                    self.applied = 0;
                    tracing::info!(node = %self.config.node_id, coordinator = %self.client.base(), "registered");
                    return true;
                }
                Err(e) => tracing::warn!("registration failed, retrying in {backoff:?}: {e}"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return false,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    async fn main_loop(&mut self, shutdown: &CancellationToken) {
        if !self.register(shutdown).await {
            return;
        }
        let mut last_ok = Instant::now();
        // When the last "heartbeat failed" line was written: an unreachable
        // coordinator is reported once, then every `REPEAT_WARNING`, not on
        // every beat.
        let mut warned: Option<Instant> = None;
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(self.interval) => {}
            }
            if self
                .running
                .as_ref()
                .is_some_and(|r| r.handle.is_finished())
            {
                self.stop_run().await;
            }
            self.orphaned.retain(|h| !h.is_finished());
            // A running report answered within the interval was this
            // node's heartbeat: one request a second instead of two.
            if let Some(at) = self
                .running
                .as_ref()
                .and_then(|r| r.beats.fresh(self.interval))
            {
                if warned.take().is_some() {
                    tracing::info!("coordinator reachable again (a report was answered)");
                }
                last_ok = last_ok.max(at);
                continue;
            }
            match self
                .client
                .heartbeat(&self.config.node_id, &self.heartbeat(None))
                .await
            {
                Ok(answer) => {
                    if warned.take().is_some() {
                        tracing::info!(
                            "coordinator reachable again after {:.1} s",
                            last_ok.elapsed().as_secs_f64()
                        );
                    }
                    last_ok = Instant::now();
                    self.apply(answer).await;
                }
                Err(e) if e.status() == Some(404) => {
                    tracing::warn!(
                        "the coordinator does not know this node (restarted?); registering again"
                    );
                    if !self.register(shutdown).await {
                        return;
                    }
                }
                Err(e) => {
                    if warned.is_none_or(|w| w.elapsed() >= REPEAT_WARNING) {
                        tracing::warn!(
                            "heartbeat failed ({:.1} s without the coordinator): {e}",
                            last_ok.elapsed().as_secs_f64()
                        );
                        warned = Some(Instant::now());
                    }
                    if self.running.is_some() && last_ok.elapsed() > self.config.orphan_timeout {
                        tracing::warn!(
                            "coordinator unreachable for {:?}: stopping the load (orphan timeout)",
                            self.config.orphan_timeout
                        );
                        self.orphan_run();
                    }
                }
            }
        }
    }

    fn heartbeat(&self, status: Option<NodeStatus>) -> HeartbeatRequest {
        let r = self.running.as_ref();
        HeartbeatRequest {
            status: status.unwrap_or(if r.is_some() {
                NodeStatus::Busy
            } else {
                NodeStatus::Active
            }),
            current_load: r.map_or(0.0, |r| r.load),
            assignment_version: self.applied,
            task_id: r.map(|r| r.task_id.clone()),
            last_seq: r.and_then(|r| r.progress.last_seq()),
            performance_metrics: r
                .and_then(|r| r.progress.latest.lock().ok().and_then(|m| m.clone())),
        }
    }

    /// Stops a run the coordinator withdrew or replaced; starts a newer one.
    async fn apply(&mut self, answer: HeartbeatResponse) {
        if answer.unchanged {
            return;
        }
        let keep = match (&self.running, &answer.assignment) {
            (Some(r), Some(a)) => r.task_id == a.task_id,
            (Some(_), None) => false,
            (None, _) => true,
        };
        if !keep {
            self.stop_run().await;
        }
        let Some(a) = answer.assignment else { return };
        if answer.version <= self.applied {
            return;
        }
        self.applied = answer.version;
        let update = executor::live_update(&a, &self.config.node_id);
        let users = a
            .node_assignments
            .get(&self.config.node_id)
            .map_or(0, |n| n.concurrent_users);
        let max = f64::from(self.config.capabilities.max_concurrent_queries.max(1));
        let load = (f64::from(users) / max).clamp(0.0, 1.0);
        if let Some(r) = &mut self.running {
            r.beats.set_applied(answer.version);
            match update {
                Ok(u) if *r.updates.borrow() == u => {}
                Ok(u) => {
                    tracing::info!(task = %a.task_id, version = answer.version, users, "assignment changed: applied to the running engine");
                    r.load = load;
                    r.updates.send_replace(u);
                }
                Err(e) => {
                    tracing::info!(task = %a.task_id, "share withdrawn ({e}): stopping the load");
                    self.stop_run().await;
                }
            }
            return;
        }
        let update = match update {
            Ok(u) => u,
            Err(e) => {
                tracing::warn!(task = %a.task_id, "assignment ignored: {e}");
                return;
            }
        };
        tracing::info!(task = %a.task_id, users, "assignment received");
        let (updates, updates_rx) = watch::channel(update);
        let progress = Arc::new(Progress::default());
        let beats = Arc::new(ReportBeats::new(answer.version));
        let cancel = CancellationToken::new();
        let task_id = a.task_id.clone();
        let ex = Execution {
            node_id: self.config.node_id.clone(),
            threads: self.config.threads,
            builder: self.config.builder.clone(),
            metrics: self.metrics.clone(),
            reporter: ReporterConfig {
                client: self.client.clone(),
                task_id: task_id.clone(),
                node_id: self.config.node_id.clone(),
                capacity: self.config.report_buffer,
                give_up: self.config.orphan_timeout * 10,
                metrics: self.metrics.clone(),
                beats: Some(beats.clone()),
            },
            progress: progress.clone(),
            assignment: a,
            updates: updates_rx,
        };
        let handle = tokio::spawn(executor::run(ex, cancel.clone()));
        self.running = Some(Running {
            task_id,
            cancel,
            handle,
            progress,
            beats,
            load,
            updates,
        });
    }

    /// Cancels the current run without waiting: its reporter keeps the
    /// unsent reports until the coordinator is reachable again.
    fn orphan_run(&mut self) {
        if let Some(r) = self.running.take() {
            r.cancel.cancel();
            self.orphaned.push(r.handle);
        }
    }

    /// Cancels the current run and waits until its reports are flushed.
    async fn stop_run(&mut self) {
        if let Some(r) = self.running.take() {
            r.cancel.cancel();
            let _ = r.handle.await;
        }
    }

    /// Tells the coordinator this node is going away (best effort).
    async fn goodbye(&self) {
        let hb = self.heartbeat(Some(NodeStatus::Offline));
        let _ = self.client.heartbeat(&self.config.node_id, &hb).await;
    }
}
