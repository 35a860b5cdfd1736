//! `vlbench`: a distributed load generator for VictoriaLogs LogsQL queries.
//!
//! This file only parses the command line and hands each subcommand to its
//! module under `cmd/`; the work is done by the library crates.

mod cmd;

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
    /// Serve a VictoriaLogs-compatible simulated endpoint (for demos, tests, calibration).
    Target(cmd::target::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Target(args) => cmd::target::main(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(1)
        }
    }
}
