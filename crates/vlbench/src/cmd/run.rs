//! `vlbench run CONFIG`: one benchmark from this machine.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::cmd::{load_config, runtime, ConfigFlags};
use crate::runner::{self, RunOptions};

/// Flags of `vlbench run`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The benchmark file (YAML, `kind: BenchmarkConfig`).
    pub config: PathBuf,
    /// Directory for the report files [default: spec.reporting.storage.path].
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub overrides: ConfigFlags,
    /// Engine threads (one current-thread runtime each) [default: one per core].
    #[arg(long)]
    pub threads: Option<usize>,
    /// No live progress; only the summary and the files.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Validates the file, runs the benchmark, writes the reports.
pub fn main(args: Args) -> anyhow::Result<ExitCode> {
    let cfg = match load_config(&args.config, &args.overrides) {
        Ok(cfg) => cfg,
        Err(code) => return Ok(code),
    };
    let opts = RunOptions {
        output: args
            .output
            .unwrap_or_else(|| cfg.reporting.storage.path.clone()),
        threads: args.threads,
        quiet: args.quiet,
    };
    runtime()?.block_on(runner::execute(&cfg, &opts))
}
