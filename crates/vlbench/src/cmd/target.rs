//! `vlbench target`: runs the simulated VictoriaLogs (crate `vlbench-target`).

use std::process::ExitCode;

/// Flags of `vlbench target`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs the target until Ctrl-C.
pub fn main(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not wired yet")
}
