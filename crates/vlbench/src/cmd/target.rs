//! `vlbench target`: runs the simulated VictoriaLogs (crate `vlbench-target`).
//!
//! Only flag parsing and wiring: flags override the `--config` file, then
//! the library's `run` serves until Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;
use vlbench_target::config::{parse_error_rate, Dur};
use vlbench_target::{LatencySpec, StallConfig, TargetConfig};

/// Flags of `vlbench target`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9428")]
    listen: SocketAddr,
    /// YAML file with every knob (see docs/target.md); flags override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Rows generated for the default tenant 0:0.
    #[arg(long)]
    rows: Option<u32>,
    /// Seed of the data and of the knobs' random choices.
    #[arg(long)]
    seed: Option<u64>,
    /// Added latency, `[TYPE=]SPEC`: SPEC is `20ms` (fixed), `10ms..50ms`
    /// (uniform) or `lognormal:MEDIAN,P99`; TYPE is an endpoint name
    /// (query, stats_query, ...) or `default` (the default). Repeatable.
    #[arg(long, value_name = "[TYPE=]SPEC")]
    latency: Vec<String>,
    /// Injected error rate, `STATUS=PROBABILITY` (e.g. `503=0.1`). Repeatable.
    #[arg(long, value_name = "STATUS=P")]
    error_rate: Vec<String>,
    /// Stall window `EVERY/FOR` (e.g. `30s/2s`): requests are held during it. Repeatable.
    #[arg(long, value_name = "EVERY/FOR")]
    stall: Vec<String>,
    /// Concurrently executed requests (-search.maxConcurrentRequests); more wait in a queue.
    #[arg(long)]
    max_concurrent: Option<u32>,
    /// Longest queue wait before VictoriaLogs' 503 (-search.maxQueueDuration).
    #[arg(long)]
    max_queue_duration: Option<Dur>,
    /// Probability that a request is cut mid-stream like a server-side timeout.
    #[arg(long)]
    abort_probability: Option<f64>,
    /// Always cut requests whose `timeout` arg is below this duration.
    #[arg(long)]
    abort_timeout_below: Option<Dur>,
    /// Rows of /query sent before a cut.
    #[arg(long)]
    abort_after_rows: Option<u32>,
    /// Worker threads (default: the CPUs this process may use).
    #[arg(long)]
    threads: Option<usize>,
}

impl Args {
    fn into_config(self) -> anyhow::Result<(TargetConfig, SocketAddr, Option<usize>)> {
        let mut cfg = match &self.config {
            Some(path) => TargetConfig::from_yaml_file(path)?,
            None => TargetConfig::default(),
        };
        if let Some(rows) = self.rows {
            cfg.rows = rows;
        }
        if let Some(seed) = self.seed {
            cfg.seed = seed;
        }
        for l in &self.latency {
            let (kind, spec) = match l.split_once('=') {
                Some((kind, spec)) => (kind, spec),
                None => ("default", l.as_str()),
            };
            let spec: LatencySpec = spec
                .parse()
                .map_err(anyhow::Error::msg)
                .context("--latency")?;
            cfg.latency
                .set(kind, spec)
                .map_err(anyhow::Error::msg)
                .context("--latency")?;
        }
        for e in &self.error_rate {
            let (status, p) = parse_error_rate(e)
                .map_err(anyhow::Error::msg)
                .context("--error-rate")?;
            cfg.errors.insert(status, p);
        }
        for s in &self.stall {
            let stall: StallConfig = s.parse().map_err(anyhow::Error::msg).context("--stall")?;
            cfg.stalls.push(stall);
        }
        if self.max_concurrent.is_some() {
            cfg.concurrency.max_concurrent = self.max_concurrent;
        }
        if let Some(d) = self.max_queue_duration {
            cfg.concurrency.max_queue_duration = d;
        }
        if let Some(p) = self.abort_probability {
            cfg.abort.probability = p;
        }
        if self.abort_timeout_below.is_some() {
            cfg.abort.timeout_below = self.abort_timeout_below;
        }
        if let Some(n) = self.abort_after_rows {
            cfg.abort.after_rows = n;
        }
        cfg.validate()?;
        Ok((cfg, self.listen, self.threads))
    }
}

/// Runs the target until Ctrl-C.
pub fn main(args: Args) -> anyhow::Result<ExitCode> {
    let (cfg, listen, threads) = args.into_config()?;
    // One thread: a current-thread runtime has no work-stealing overhead.
    let mut rt = match threads {
        Some(1) => tokio::runtime::Builder::new_current_thread(),
        _ => tokio::runtime::Builder::new_multi_thread(),
    };
    if let Some(n) = threads.filter(|&n| n > 1) {
        rt.worker_threads(n);
    }
    let rt = rt
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}; is the port in use? pass --listen"))?;
        let shutdown = CancellationToken::new();
        let on_signal = shutdown.clone();
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            on_signal.cancel();
        });
        eprintln!("vlbench target: serving a simulated VictoriaLogs on http://{listen} ({} rows); Ctrl-C stops", cfg.rows);
        vlbench_target::run(cfg, listener, shutdown).await?;
        Ok(ExitCode::SUCCESS)
    })
}
