//! `vlbench coordinator` (distributed mode; crate `vlbench-cluster`): flags,
//! the [`ConfigPlanner`] that turns a posted benchmark file into the facts
//! the coordinator schedules on, and the wiring of the role's lifecycle.
//!
//! Prints `coordinator listening on http://ADDR` on stdout once bound, so
//! scripts and tests can use `--listen 127.0.0.1:0`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;
use vlbench_cluster::coordinator::{self, CoordinatorConfig};
use vlbench_cluster::planner::{Benchmark, Planner};
use vlbench_cluster::protocol::{Auth, GlobalConfig};
use vlbench_config::ValidatedConfig;
use vlbench_workload::Model;

/// Flags of `vlbench coordinator`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Address of the HTTP API (workers and users).
    #[arg(long, env = "VLBENCH_LISTEN", default_value = "0.0.0.0:8080")]
    listen: SocketAddr,
    /// Directory for benchmark records and merged results (JSON files);
    /// without it they live in memory only.
    #[arg(long, env = "VLBENCH_DATA")]
    data: Option<PathBuf>,
    /// How often workers send a heartbeat.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    heartbeat_interval: Duration,
    /// Silence after which a worker is failed (default: 5 intervals).
    #[arg(long, value_parser = parse_duration)]
    heartbeat_timeout: Option<Duration>,
    /// Delay between assigning a benchmark and its common start instant
    /// (default: 2 intervals + 1s).
    #[arg(long, value_parser = parse_duration)]
    start_margin: Option<Duration>,
    /// How often the load adjuster (S-10) looks at the nodes; 0s turns it off.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    adjust_period: Duration,
    /// A node whose latency is this many times the other nodes' median for
    /// the same queries loses weight (× 0.8).
    #[arg(long, default_value_t = 2.0)]
    adjust_latency_ratio: f64,
    /// A node whose error rate is this much (0–1) over the other nodes'
    /// median loses weight (× 0.9).
    #[arg(long, default_value_t = 0.05)]
    adjust_error_rate: f64,
    /// A node whose send-lag p99 exceeds this (ms, and 2× the others') is
    /// generator-bound and loses weight (× 0.8).
    #[arg(long, default_value_t = 100.0)]
    adjust_lag_ms: f64,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    vlbench_config::parse_duration(s).map_err(|e| e.to_string())
}

/// Runs the coordinator until Ctrl-C.
pub fn main(args: Args) -> anyhow::Result<ExitCode> {
    let mut config = CoordinatorConfig::new(Arc::new(ConfigPlanner), args.heartbeat_interval);
    config.data_dir = args.data;
    if let Some(t) = args.heartbeat_timeout {
        config.heartbeat_timeout = t;
    }
    if let Some(m) = args.start_margin {
        config.start_margin = m;
    }
    config.adjust.period = args.adjust_period;
    config.adjust.latency_ratio = args.adjust_latency_ratio;
    config.adjust.error_rate = args.adjust_error_rate;
    config.adjust.lag_p99_ms = args.adjust_lag_ms;
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        println!("coordinator listening on http://{}", listener.local_addr()?);
        let shutdown = CancellationToken::new();
        let on_signal = shutdown.clone();
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            on_signal.cancel();
        });
        coordinator::run(config, listener, shutdown).await?;
        Ok(ExitCode::SUCCESS)
    })
}

/// The coordinator's view of a benchmark file, over `vlbench-config`.
/// Relative value files are resolved against the coordinator's working
/// directory (and, on workers, theirs).
pub struct ConfigPlanner;

impl Planner for ConfigPlanner {
    fn benchmark(&self, text: &str) -> Result<Benchmark, Vec<String>> {
        let cfg = vlbench_config::from_str(text, Path::new(".")).map_err(|e| {
            e.to_string()
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })?;
        Ok(benchmark(&cfg))
    }
}

fn benchmark(cfg: &ValidatedConfig) -> Benchmark {
    let (replicas, start_timeout) = cfg
        .workers
        .as_ref()
        .map_or((1, Duration::from_secs(60)), |w| {
            (w.replicas.max(1), w.start_timeout)
        });
    let model = match cfg.schedule.model {
        Model::Closed { .. } => "closed",
        Model::Open { .. } => "open",
    };
    let thresholds = cfg
        .thresholds
        .iter()
        .map(|t| vlbench_report::Threshold {
            metric: t.metric.as_str().to_string(),
            query: t.query.clone(),
            max: t.max,
            min: t.min,
        })
        .collect();
    Benchmark {
        name: cfg.name.clone(),
        query_names: cfg.workload.names(),
        schedule: cfg.schedule.clone(),
        global_config: GlobalConfig {
            target_url: cfg.target.url.to_string(),
            auth: auth(cfg),
        },
        replicas,
        start_timeout,
        formats: cfg
            .reporting
            .formats
            .iter()
            .map(|f| f.as_str().to_string())
            .collect(),
        storage_path: Some(cfg.reporting.storage.path.display().to_string()),
        model: model.to_string(),
        redacted_config: cfg.redacted_json(),
        thresholds,
    }
}

/// S-4 `auth` from the resolved `Authorization` header, if any.
fn auth(cfg: &ValidatedConfig) -> Option<Auth> {
    let h = cfg
        .target
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("authorization"))?;
    let value = h.value.expose();
    let (kind, token) = value.split_once(' ').unwrap_or(("bearer", value));
    Some(Auth {
        kind: kind.to_ascii_lowercase(),
        token: token.to_string(),
    })
}
