//! `vlbench-target`: a simulated VictoriaLogs query endpoint (SPEC B-10)
//! for demos, tests and calibrating the load generator.
//!
//! It serves `/select/logsql/{query, stats_query, stats_query_range, hits,
//! field_names, field_values, streams}`, `/health` and `/metrics` with the
//! status codes, headers and body shapes of VictoriaLogs v1.26, over a
//! generated data set whose timestamps roll with the clock, and answers a
//! documented subset of LogsQL with real counts (docs/target.md).
//! Knobs add latency, errors, stalls, a concurrency limit with a queue, and
//! mid-stream aborts that cut the TCP connection like the real server.
//!
//! # API
//!
//! ```no_run
//! # async fn demo() -> Result<(), vlbench_target::TargetError> {
//! use vlbench_target::{start, TargetConfig};
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
//! let target = start(TargetConfig::default(), listener).await?;
//! println!("serving on http://{}", target.addr());
//! // ... drive load against it ...
//! let counts = target.counters().snapshot(); // what the target answered
//! assert_eq!(counts.total_requests(), 0);
//! target.shutdown().await
//! # }
//! ```
//!
//! [`run`] is the role lifecycle (`run(config, listener, shutdown)`);
//! [`TargetState::new`] + [`serve`] do the same in two steps so the caller
//! keeps the state (and its [`Counters`]); [`router`] gives the axum router
//! for tests without a socket.
//!
//! # Layout
//!
//! - `config.rs`: `target.yaml` model, flag forms, validation.
//! - `data.rs`: generated rows and the rolling time layout.
//! - `logsql/`: lexer, parser, filter tree, query cache.
//! - `exec.rs`: filters and pipes over the data (cursor, sort, stats).
//! - `http/`: routing, args, one file per endpoint group, response shapes.
//! - `body.rs`: response bodies, per-request accounting, the abort frame.
//! - `conn.rs`: accept loop and the socket wrapper that cuts aborted streams.
//! - `knobs.rs`: latency, errors, stalls, concurrency queue, abort choice.
//! - `metrics.rs`: counters and `/metrics`.
//! - `timer.rs`: precise sleeps for added latency (a timer thread).
//! - `time.rs`, `json.rs`: formats without allocation on the hot path.

pub mod body;
pub mod config;
mod conn;
pub mod data;
pub mod error;
pub mod exec;
mod http;
pub mod json;
pub mod knobs;
pub mod logsql;
pub mod metrics;
pub mod time;
pub mod timer;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use config::{LatencySpec, StallConfig, TargetConfig, TenantConfig};
pub use data::Dataset;
pub use error::TargetError;
pub use http::router;
pub use metrics::{Counters, Endpoint, Snapshot};

use knobs::Knobs;
use logsql::QueryCache;

/// Everything requests share: data per tenant, the query cache, knobs and
/// counters. Built once; immutable except for atomics and the cache.
#[derive(Debug)]
pub struct TargetState {
    config: TargetConfig,
    tenants: Vec<((u32, u32), Arc<Dataset>)>,
    empty: Arc<Dataset>,
    cache: QueryCache,
    knobs: Knobs,
    counters: Counters,
}

impl TargetState {
    /// Validates `config` and generates the data (about 0.1 s per 100k
    /// rows in a release build).
    pub fn new(config: TargetConfig) -> Result<Arc<TargetState>, TargetError> {
        config.validate()?;
        let span = i64::try_from(config.span.0.as_nanos()).unwrap_or(i64::MAX);
        let mut tenants = vec![(
            (0, 0),
            Arc::new(Dataset::generate(config.rows, span, config.seed)),
        )];
        for t in &config.tenants {
            let ds = Dataset::generate(t.rows, span, t.seed);
            tenants.push(((t.account_id, t.project_id), Arc::new(ds)));
        }
        let capacity = u64::from(config.concurrency.max_concurrent.unwrap_or(0));
        Ok(Arc::new(TargetState {
            knobs: Knobs::new(&config, Instant::now()),
            cache: QueryCache::new(config.query_cache_size),
            counters: Counters::new(capacity),
            empty: Arc::new(Dataset::empty(span)),
            tenants,
            config,
        }))
    }

    /// The request counters (also on `/metrics`).
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The configuration the target runs with.
    pub fn config(&self) -> &TargetConfig {
        &self.config
    }

    /// The data of a tenant (an empty set for unknown tenants).
    pub fn dataset(&self, tenant: (u32, u32)) -> Arc<Dataset> {
        let found = self.tenants.iter().find(|(t, _)| *t == tenant);
        Arc::clone(found.map_or(&self.empty, |(_, ds)| ds))
    }

    pub(crate) fn knobs(&self) -> &Knobs {
        &self.knobs
    }

    pub(crate) fn cache(&self) -> &QueryCache {
        &self.cache
    }
}

/// Serves `state` on `listener` until `shutdown` is cancelled, then waits
/// for open responses (at most a few seconds) and returns.
pub async fn serve(
    state: Arc<TargetState>,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), TargetError> {
    conn::accept_loop(state, listener, shutdown).await;
    Ok(())
}

/// The target role: builds the state from `config` and serves it.
pub async fn run(
    config: TargetConfig,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), TargetError> {
    let state = TargetState::new(config)?;
    serve(state, listener, shutdown).await
}

/// Starts a target in the background; the handle gives its address and
/// counters and stops it.
pub async fn start(
    config: TargetConfig,
    listener: TcpListener,
) -> Result<TargetHandle, TargetError> {
    let addr = listener.local_addr().map_err(TargetError::LocalAddr)?;
    let state = TargetState::new(config)?;
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(serve(Arc::clone(&state), listener, shutdown.clone()));
    Ok(TargetHandle {
        addr,
        state,
        shutdown,
        task: Some(task),
    })
}

/// A running target started by [`start`]. Dropping it stops the target
/// without waiting; [`TargetHandle::shutdown`] stops it and waits.
#[derive(Debug)]
pub struct TargetHandle {
    addr: SocketAddr,
    state: Arc<TargetState>,
    shutdown: CancellationToken,
    task: Option<JoinHandle<Result<(), TargetError>>>,
}

impl TargetHandle {
    /// The address the target listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The shared state (data, config, counters).
    pub fn state(&self) -> &Arc<TargetState> {
        &self.state
    }

    /// The request counters.
    pub fn counters(&self) -> &Counters {
        self.state.counters()
    }

    /// Stops accepting, lets open responses finish, and waits.
    pub async fn shutdown(mut self) -> Result<(), TargetError> {
        self.shutdown.cancel();
        match self.task.take() {
            Some(task) => task.await.unwrap_or(Ok(())),
            None => Ok(()),
        }
    }
}

impl Drop for TargetHandle {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
