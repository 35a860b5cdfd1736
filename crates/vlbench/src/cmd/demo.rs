//! `vlbench demo`: the whole product on one machine in one command. Starts
//! the simulated VictoriaLogs in this process and runs the bundled
//! `examples/quickstart.yaml` against it, with live progress and all report
//! files in `./results/`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::cmd::{print_config_errors, runtime};
use crate::runner::{self, RunOptions};

/// The quickstart benchmark, built into the binary so the demo works from
/// any directory.
const QUICKSTART: &str = include_str!("../../../../examples/quickstart.yaml");

/// The quickstart's ramp-up at its full 30 s length.
const DEMO_RAMP_UP: Duration = Duration::from_secs(5);

/// Flags of `vlbench demo`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// How long the benchmark runs (`30`, `30s`, `2m`).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Directory for the report files.
    #[arg(long, short, default_value = "results")]
    pub output: PathBuf,
    /// No live progress; only the summary and the files.
    #[arg(long, short)]
    pub quiet: bool,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    vlbench_config::parse_duration(s).map_err(|e| e.to_string())
}

/// Starts the target, runs the quickstart against it, stops the target.
pub fn main(args: Args) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the simulated target to 127.0.0.1")?;
        let addr = listener.local_addr()?;
        let stop = CancellationToken::new();
        let target = tokio::spawn(vlbench_target::run(
            vlbench_target::TargetConfig::default(),
            listener,
            stop.clone(),
        ));
        eprintln!("simulated VictoriaLogs listening on http://{addr}");
        let overrides = vlbench_config::Overrides {
            target_url: Some(format!("http://{addr}")),
            duration: Some(args.duration),
            // The quickstart ramps up over 5 s of its 30; keep that shape
            // for a shorter demo instead of failing validation.
            ramp_up_time: Some(DEMO_RAMP_UP.min(args.duration / 6)),
        };
        let cfg = match vlbench_config::from_str_with(QUICKSTART, Path::new("."), &overrides) {
            Ok(loaded) => loaded,
            Err(errors) => {
                print_config_errors("examples/quickstart.yaml", &errors);
                return Ok(ExitCode::from(2));
            }
        };
        let opts = RunOptions {
            output: args.output,
            threads: None,
            quiet: args.quiet,
        };
        let code = runner::execute(&cfg, &opts).await;
        stop.cancel();
        target.await.context("the simulated target panicked")??;
        code
    })
}
