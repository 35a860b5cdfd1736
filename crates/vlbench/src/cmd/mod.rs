//! One module per subcommand: each has an `Args` (clap) and a `main(args)`
//! that returns the process exit code. Helpers shared by several
//! subcommands (loading a config with CLI overrides, the runtime) live here.

pub mod client;
pub mod coordinator;
pub mod demo;
pub mod run;
pub mod target;
pub mod validate;
pub mod worker;

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use vlbench_config::{ConfigErrors, Overrides, ValidatedConfig};

/// Exit code for usage and configuration errors.
pub const EXIT_USAGE: u8 = 2;

/// Command-line overrides of a benchmark file.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ConfigFlags {
    /// Run for this long instead of spec.workload.duration (`600`, `90s`, `10m`).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Send the load to this URL instead of spec.target.url.
    #[arg(long)]
    pub target: Option<String>,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    vlbench_config::parse_duration(s).map_err(|e| e.to_string())
}

/// Loads and validates a benchmark file with the CLI's overrides. On error,
/// prints every problem and its field path and returns exit code 2; prints
/// warnings either way.
pub fn load_config(path: &Path, flags: &ConfigFlags) -> Result<ValidatedConfig, ExitCode> {
    let overrides = Overrides {
        target_url: flags.target.clone(),
        duration: flags.duration,
        ramp_up_time: None,
    };
    match vlbench_config::load_with(path, &overrides) {
        Ok(cfg) => {
            for w in &cfg.warnings {
                eprintln!("warning: {w}");
            }
            Ok(cfg)
        }
        Err(errors) => {
            print_config_errors(&path.display().to_string(), &errors);
            Err(ExitCode::from(EXIT_USAGE))
        }
    }
}

/// Prints a config's problems, one per line, to stderr.
pub fn print_config_errors(file: &str, errors: &ConfigErrors) {
    eprintln!("{file}: invalid benchmark file:");
    eprintln!("{errors}");
}

/// The control runtime of a command: small, because the engine runs its own
/// threads and the control work is light.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("vlbench-ctl")
        .enable_all()
        .build()?)
}
