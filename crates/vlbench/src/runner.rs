//! Runs one benchmark in this process, start to finish: reachability check,
//! the engine, the live view, the report files, the summary and the
//! threshold verdict. `vlbench run` and `vlbench demo` both end here.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use vlbench_config::ValidatedConfig;
use vlbench_report::{write_reports, Format, Report, ReportContext, Threshold};
use vlbench_stats::RunStats;

use crate::plan;
use crate::progress::Progress;
use crate::summary;

/// Exit code of a run whose thresholds failed (documented in the README).
pub const EXIT_THRESHOLDS: u8 = 3;

/// How a run is carried out and where its results go.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Directory for the report files.
    pub output: PathBuf,
    /// Engine threads; `None` = one per core.
    pub threads: Option<usize>,
    /// No live progress (summary and files only).
    pub quiet: bool,
}

/// Runs the benchmark and writes its reports. Returns the process exit code.
pub async fn execute(cfg: &ValidatedConfig, opts: &RunOptions) -> anyhow::Result<ExitCode> {
    check_reachable(cfg).await?;
    let shutdown = CancellationToken::new();
    let ctrl_c = {
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("interrupted: stopping the load, writing a partial report");
                shutdown.cancel();
            }
        })
    };
    let started = SystemTime::now();
    let engine_plan = plan::single_process(cfg, opts.threads, started)?;
    let names = cfg.workload.names();
    let (tx, mut rx) = mpsc::channel(64);
    let engine_options = vlbench_engine::RunOptions {
        max_queued: cfg.max_queued.unwrap_or(0),
        ..Default::default()
    };
    let engine = tokio::spawn(vlbench_engine::run_with_control(
        engine_plan,
        engine_options,
        tx,
        shutdown.clone(),
    ));

    let mut stats = RunStats::new(names);
    let mut progress = Progress::new(cfg.schedule.duration(), opts.quiet);
    while let Some(report) = rx.recv().await {
        progress.observe(&report);
        stats.add(report);
    }
    progress.finish();
    ctrl_c.abort();
    engine
        .await
        .context("the engine task panicked")?
        .context("the engine failed")?;
    let ended = SystemTime::now();

    let mut warnings: Vec<String> = cfg.warnings.iter().map(ToString::to_string).collect();
    if shutdown.is_cancelled() {
        warnings.push("stopped early (interrupted): the figures cover the time that ran".into());
    }
    // Load was applied from the start until the schedule ended or the run was stopped.
    let applied = ended
        .duration_since(started)
        .unwrap_or_default()
        .min(cfg.schedule.duration());
    let context = ReportContext {
        name: cfg.name.clone(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        start: started.into(),
        end: ended.into(),
        duration: applied,
        planned_duration: cfg.schedule.duration(),
        model: plan::model_name(&cfg.schedule).to_string(),
        config: cfg.redacted_json(),
        warnings,
        thresholds: thresholds(cfg),
    };
    let report = Report::build(&stats, None, context);
    let formats = cfg
        .reporting
        .formats
        .iter()
        .map(|f| Format::from_name(f.as_str()))
        .collect::<Result<Vec<_>, _>>()?;
    let files = write_reports(&report, &opts.output, &formats)
        .with_context(|| format!("writing reports to {}", opts.output.display()))?;
    summary::print(&report, &files);
    if shutdown.is_cancelled() {
        return Ok(ExitCode::from(130));
    }
    if !report.passed() {
        return Ok(ExitCode::from(EXIT_THRESHOLDS));
    }
    Ok(ExitCode::SUCCESS)
}

/// The config's thresholds in the report's terms.
fn thresholds(cfg: &ValidatedConfig) -> Vec<Threshold> {
    cfg.thresholds
        .iter()
        .map(|t| Threshold {
            metric: t.metric.as_str().to_string(),
            query: t.query.clone(),
            max: t.max,
            min: t.min,
        })
        .collect()
}

/// Fails fast, with a message naming the URL, when the target does not
/// accept connections: a run against nothing would only count errors.
async fn check_reachable(cfg: &ValidatedConfig) -> anyhow::Result<()> {
    let url = &cfg.target.url;
    let host = url.host().unwrap_or("localhost");
    let port = url
        .port_u16()
        .unwrap_or(if url.scheme_str() == Some("https") {
            443
        } else {
            80
        });
    let connect = tokio::net::TcpStream::connect((host, port));
    match tokio::time::timeout(Duration::from_secs(5), connect).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => anyhow::bail!("target {url} is unreachable: {e}"),
        Err(_) => anyhow::bail!("target {url} is unreachable: no connection within 5 s"),
    }
}
