//! `vlbench`: a distributed load generator for VictoriaLogs LogsQL queries.
//!
//! This file only parses the command line and hands each subcommand to its
//! module under `cmd/`; the work is done by the library crates.

mod cmd;
mod plan;
mod progress;
mod runner;
mod summary;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Load-test VictoriaLogs LogsQL queries, from one machine or many.
#[derive(Parser, Debug)]
#[command(name = "vlbench", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a benchmark from this machine, with live progress and report files.
    Run(cmd::run::Args),
    /// Check a benchmark file; with --probe, send each query once to the target.
    Validate(cmd::validate::Args),
    /// Start the simulated VictoriaLogs in-process and benchmark it (examples/quickstart.yaml).
    Demo(cmd::demo::Args),
    /// Serve a VictoriaLogs-compatible simulated endpoint (for demos, tests, calibration).
    Target(cmd::target::Args),
    /// Run the coordinator: registers workers, splits benchmarks, merges results.
    Coordinator(cmd::coordinator::Args),
    /// Run a worker: registers with a coordinator and executes its share of benchmarks.
    Worker(cmd::worker::Args),
    /// Talk to a coordinator: submit, status, stop, report, nodes.
    #[command(flatten)]
    Client(cmd::client::Command),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let result = match cli.command {
        Command::Run(args) => cmd::run::main(args),
        Command::Validate(args) => cmd::validate::main(args),
        Command::Demo(args) => cmd::demo::main(args),
        Command::Target(args) => cmd::target::main(args),
        Command::Coordinator(args) => cmd::coordinator::main(args),
        Command::Worker(args) => cmd::worker::main(args),
        Command::Client(command) => cmd::client::main(command),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(1)
        }
    }
}

/// Logs go to stderr; `RUST_LOG` selects them (default: warnings and errors).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
