//! The coordinator role's lifecycle: `run(config, listener, shutdown)`
//! starts the actors (registry, scheduler, aggregator), the HealthChecker
//! control loop and the HTTP API, and joins them all on shutdown.
//!
//! The control loop is the only place where actors meet: every tick it runs
//! the failure detector, hands the scheduler a snapshot of the nodes, opens
//! started tasks in the aggregator and stores the results of finished ones.
//! It awaits one actor at a time and holds no lock. Must not: serve HTTP
//! (the API does) or hold any state of its own.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::actor::Gone;
use crate::adjust::AdjustPolicy;
use crate::aggregator::{Aggregator, AggregatorHandle};
use crate::api::{self, AppState};
use crate::metrics::CoordinatorMetrics;
use crate::planner::Planner;
use crate::registry::RegistryHandle;
use crate::report::ClusterReport;
use crate::scheduler::{Scheduler, SchedulerConfig, SchedulerHandle};
use crate::store::{Store, StoreError};

/// Settings of the coordinator role.
#[derive(Clone)]
pub struct CoordinatorConfig {
    /// Where task records and results are stored; `None` keeps them in
    /// memory only.
    pub data_dir: Option<PathBuf>,
    /// How often workers heartbeat (told to them at registration).
    pub heartbeat_interval: Duration,
    /// Silence after which a node is failed (S-12).
    pub heartbeat_timeout: Duration,
    /// Delay between assignment and the common start instant.
    pub start_margin: Duration,
    /// How long after a task's scheduled end final reports may come.
    pub finish_grace: Duration,
    /// How often the control loop runs.
    pub tick: Duration,
    /// The S-10 load adjuster (period zero turns it off).
    pub adjust: AdjustPolicy,
    /// Benchmark file → facts.
    pub planner: Arc<dyn Planner>,
}

impl CoordinatorConfig {
    /// Defaults from the heartbeat interval: timeout 5 intervals, start
    /// margin 2 intervals + 1 s, grace 10 intervals + 5 s, tick a quarter.
    pub fn new(planner: Arc<dyn Planner>, heartbeat_interval: Duration) -> CoordinatorConfig {
        CoordinatorConfig {
            data_dir: None,
            heartbeat_interval,
            heartbeat_timeout: heartbeat_interval * 5,
            start_margin: heartbeat_interval * 2 + Duration::from_secs(1),
            finish_grace: heartbeat_interval * 10 + Duration::from_secs(5),
            tick: (heartbeat_interval / 4).max(Duration::from_millis(50)),
            adjust: AdjustPolicy::default(),
            planner,
        }
    }
}

/// Why the coordinator stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum CoordinatorError {
    /// The data directory is unusable.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The HTTP server failed.
    #[error("coordinator HTTP server: {0}")]
    Serve(#[source] std::io::Error),
}

/// The running actors, for the API and the control loop.
pub struct Parts {
    /// What the handlers use.
    pub state: AppState,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Parts {
    /// Starts the actors (loading stored tasks).
    pub fn start(config: &CoordinatorConfig) -> Result<Parts, CoordinatorError> {
        let store = config.data_dir.as_ref().map(Store::open).transpose()?;
        let (registry, t1) = RegistryHandle::spawn(config.heartbeat_timeout);
        let sched_config = SchedulerConfig {
            start_margin: config.start_margin,
            finish_grace: config.finish_grace,
            rejoin_grace: config.heartbeat_timeout + config.heartbeat_interval * 2,
        };
        let scheduler = Scheduler::new(sched_config, store.clone());
        let resumed = scheduler.resumed();
        let (scheduler, t2) = SchedulerHandle::spawn(scheduler);
        let (aggregator, t3) =
            AggregatorHandle::spawn(Aggregator::with_store(store.clone(), &resumed));
        let state = AppState {
            registry,
            scheduler,
            aggregator,
            planner: config.planner.clone(),
            metrics: Arc::new(CoordinatorMetrics::new()),
            store,
            heartbeat_interval: config.heartbeat_interval,
            heartbeat_timeout: config.heartbeat_timeout,
        };
        Ok(Parts {
            state,
            tasks: vec![t1, t2, t3],
        })
    }

    /// Drops the handles held here and waits for the actors to end (they
    /// end once every other handle is gone too).
    pub async fn join(self) {
        drop(self.state);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Runs the coordinator on `listener` until `shutdown`.
pub async fn run(
    config: CoordinatorConfig,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), CoordinatorError> {
    let parts = Parts::start(&config)?;
    let stop_loop = shutdown.child_token();
    let control = tokio::spawn(control_loop(
        parts.state.clone(),
        config.tick,
        config.adjust,
        stop_loop.clone(),
    ));
    let app = api::router(parts.state.clone());
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.clone().cancelled_owned())
        .await;
    stop_loop.cancel();
    let _ = control.await;
    parts.join().await;
    served.map_err(CoordinatorError::Serve)
}

/// HealthChecker: ticks until `stop`; runs the load adjuster every
/// `adjust.period`.
pub async fn control_loop(
    state: AppState,
    every: Duration,
    adjust: AdjustPolicy,
    stop: CancellationToken,
) {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_adjust = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = interval.tick() => {}
        }
        let mut result = tick(&state).await;
        if !adjust.period.is_zero() && last_adjust.elapsed() >= adjust.period {
            last_adjust = tokio::time::Instant::now();
            result = result.and(adjust_tick(&state, &adjust).await);
        }
        if let Err(e) = result {
            tracing::debug!("control loop: {e}");
            return;
        }
    }
}

/// One run of the S-10 load adjuster over every running task (public so
/// tests step it by hand).
pub async fn adjust_tick(s: &AppState, policy: &AdjustPolicy) -> Result<(), Gone> {
    for id in s.scheduler.running().await? {
        let windows = s.aggregator.take_windows(id.clone()).await?;
        s.scheduler.adjust(id, windows, *policy).await?;
    }
    Ok(())
}

/// One step of the control loop (public so tests step it by hand).
pub async fn tick(s: &AppState) -> Result<(), Gone> {
    for node in s.registry.sweep().await? {
        tracing::warn!(node = %node, "node failed: no heartbeat within the timeout");
    }
    let nodes = s.registry.list().await?;
    s.metrics
        .active_nodes
        .set(nodes.iter().filter(|n| n.status.is_alive()).count() as i64);
    let out = s.scheduler.tick(nodes).await?;
    for st in out.started {
        tracing::info!(task = %st.task_id, nodes = ?st.nodes, "benchmark assigned");
        s.aggregator
            .open(st.task_id, st.query_names, st.nodes)
            .await?;
    }
    for task in out.finished {
        tracing::info!(task = %task.task_id, status = task.status.as_str(), "benchmark finished");
        if let (Some(a), Some(b)) = (task.start_time, task.end_time) {
            let secs = (b - a).num_milliseconds().max(0) as f64 / 1000.0;
            s.metrics.task_duration.observe(secs);
        }
        let Some(results) = s.aggregator.results(task.task_id.clone()).await? else {
            continue;
        };
        if let Some(store) = &s.store {
            let report = ClusterReport::build(&task, &results);
            let saved = serde_json::to_value(&report)
                .map_err(|e| e.to_string())
                .and_then(|v| {
                    store
                        .save_result(&task.task_id, &v)
                        .map_err(|e| e.to_string())
                });
            if let Err(e) = saved {
                tracing::warn!(task = %task.task_id, "results not stored: {e}");
            }
        }
    }
    let running = s.scheduler.running().await?;
    s.metrics.running_tasks.set(running.len() as i64);
    let mut qps = 0.0;
    for id in running {
        qps += s.aggregator.live_qps(id).await?.unwrap_or(0.0);
    }
    s.metrics.qps.set(qps);
    Ok(())
}
