//! `vlbench validate CONFIG [--probe]`: checks a benchmark file, and with
//! `--probe` asks the target whether it accepts each query.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::cmd::{load_config, runtime, ConfigFlags};
use crate::plan;

/// Flags of `vlbench validate`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The benchmark file to check.
    pub config: PathBuf,
    /// Send each query once to the target and report which ones it rejects
    /// (with its error text) and which match no rows.
    #[arg(long)]
    pub probe: bool,
    #[command(flatten)]
    pub overrides: ConfigFlags,
}

/// Exit 0 when the file is valid (and, with --probe, every query is
/// accepted); 2 when the file is invalid; 1 when the target rejects a query
/// or cannot be reached.
pub fn main(args: Args) -> anyhow::Result<ExitCode> {
    let cfg = match load_config(&args.config, &args.overrides) {
        Ok(cfg) => cfg,
        Err(code) => return Ok(code),
    };
    let names = cfg.workload.names();
    println!(
        "{}: valid ({} queries, {} model, {} s)",
        args.config.display(),
        names.len(),
        crate::plan::model_name(&cfg.schedule),
        cfg.schedule.duration().as_secs_f64()
    );
    if !args.probe {
        return Ok(ExitCode::SUCCESS);
    }
    let target = plan::target_options(&cfg)?;
    let results = runtime()?.block_on(vlbench_engine::probe(&target, &cfg.workload))?;
    let mut rejected = 0;
    for r in &results {
        let name = names.get(r.query).map(String::as_str).unwrap_or("?");
        match r.error {
            Some(class) => {
                rejected += 1;
                println!(
                    "REJECTED {name}: {class} (HTTP {}): {}",
                    r.status,
                    r.message.trim()
                );
            }
            None if r.rows == 0 && matches_rows(&cfg, r.query) => println!(
                "WARNING  {name}: HTTP {} but no rows: a query that matches nothing measures nothing",
                r.status
            ),
            None => println!("ok       {name}: HTTP {}, {} rows", r.status, r.rows),
        }
    }
    Ok(if rejected > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Whether a query's endpoint returns rows (JSON lines) at all, so that zero
/// rows means "matched nothing" rather than "answered in another shape".
fn matches_rows(cfg: &vlbench_config::ValidatedConfig, query: usize) -> bool {
    cfg.workload
        .queries
        .get(query)
        .is_some_and(|q| q.qtype == vlbench_workload::QueryType::Query)
}
