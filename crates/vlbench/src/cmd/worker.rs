//! `vlbench worker` (distributed mode; crate `vlbench-cluster`): flags, the
//! [`ConfigEngineBuilder`] that rebuilds the workload and target options
//! from the benchmark file sent by the coordinator, and the wiring.
//!
//! With `--listen`, prints `worker listening on http://ADDR` once bound.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;
use vlbench_cluster::worker::{self, caps, EngineBuilder, EngineParts, WorkerConfig};

/// Flags of `vlbench worker`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The coordinator's base URL, e.g. http://coordinator:8080.
    #[arg(long, env = "COORDINATOR_URL")]
    coordinator: String,
    /// This node's unique id (default: the host name, i.e. the pod name in Kubernetes).
    #[arg(long, env = "NODE_ID")]
    node_id: Option<String>,
    /// Address of this worker's /health and /metrics.
    #[arg(long, env = "VLBENCH_LISTEN")]
    listen: Option<SocketAddr>,
    /// Most concurrent requests this node accepts (default: 256 per core).
    #[arg(long)]
    max_concurrent_queries: Option<u32>,
    /// CPU cores to declare (default: those this process may use); the split weight.
    #[arg(long)]
    cpu_cores: Option<u32>,
    /// Engine threads (default: the declared CPU cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Stop the load after this long without reaching the coordinator.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    orphan_timeout: Duration,
    /// Most unsent interval reports kept while the coordinator is unreachable.
    #[arg(long, default_value_t = 600)]
    report_buffer: usize,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    vlbench_config::parse_duration(s).map_err(|e| e.to_string())
}

/// Runs the worker until Ctrl-C.
pub fn main(args: Args) -> anyhow::Result<ExitCode> {
    let capabilities = caps::detect(args.cpu_cores, args.max_concurrent_queries);
    let node_id = args.node_id.unwrap_or_else(caps::default_node_id);
    let threads = args
        .threads
        .unwrap_or(capabilities.resources.cpu_cores as usize);
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    rt.block_on(async move {
        let listener = match args.listen {
            Some(addr) => {
                let l = tokio::net::TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen on {addr}"))?;
                println!("worker listening on http://{}", l.local_addr()?);
                Some(l)
            }
            None => None,
        };
        let endpoint = match &listener {
            Some(l) => format!("http://{}", l.local_addr()?),
            None => String::new(),
        };
        let config = WorkerConfig {
            coordinator_url: args.coordinator,
            node_id,
            endpoint,
            capabilities,
            threads,
            orphan_timeout: args.orphan_timeout,
            report_buffer: args.report_buffer,
            builder: Arc::new(ConfigEngineBuilder),
        };
        let shutdown = CancellationToken::new();
        let on_signal = shutdown.clone();
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            on_signal.cancel();
        });
        worker::run(config, listener, shutdown).await?;
        Ok(ExitCode::SUCCESS)
    })
}

/// Workload and target options from the benchmark file, as `vlbench run`
/// builds them (relative value files resolve against the working directory).
pub struct ConfigEngineBuilder;

impl EngineBuilder for ConfigEngineBuilder {
    fn engine_parts(&self, text: &str) -> Result<EngineParts, String> {
        let cfg = vlbench_config::from_str(text, Path::new(".")).map_err(|e| e.to_string())?;
        let target = crate::plan::target_options(&cfg).map_err(|e| format!("{e:#}"))?;
        Ok(EngineParts {
            workload: Arc::new(cfg.workload),
            target,
        })
    }
}
