//! `vlbench submit|status|stop|report|nodes|tune`: the coordinator's CLI client.
//!
//! Only flags, output and exit codes: the HTTP client is
//! `vlbench_cluster::client`. Exit codes as for `vlbench run`: 0 success,
//! 1 runtime failure (coordinator unreachable, benchmark failed), 2 usage or
//! config error (every problem listed), 3 a threshold failed.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use vlbench_cluster::client::{ClientError, CoordinatorClient};
use vlbench_cluster::model::{TaskRecord, TaskStatus};
use vlbench_cluster::protocol::TuneRequest;
use vlbench_report::Format;

mod tables;

/// Where the coordinator is.
#[derive(clap::Args, Debug)]
pub struct Conn {
    /// The coordinator's base URL.
    #[arg(long, env = "COORDINATOR_URL", default_value = "http://127.0.0.1:8080")]
    coordinator: String,
}

/// Subcommands that talk to a coordinator.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Submit a benchmark file to a coordinator; prints the benchmark id.
    Submit {
        /// The benchmark file (YAML).
        config: PathBuf,
        #[command(flatten)]
        conn: Conn,
        /// Follow the run (live figures on stderr), then write the report files.
        #[arg(long)]
        wait: bool,
        /// Directory for the report files (default: spec.reporting.storage.path).
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Show one benchmark (its record as JSON, with live figures) or list
    /// them all as a table.
    Status {
        /// The benchmark id; none lists every benchmark.
        id: Option<String>,
        #[command(flatten)]
        conn: Conn,
        /// The list as JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Stop a benchmark.
    Stop {
        /// The benchmark id.
        id: String,
        #[command(flatten)]
        conn: Conn,
    },
    /// Fetch a benchmark's report (to stdout, or a file in --output).
    Report {
        /// The benchmark id.
        id: String,
        #[command(flatten)]
        conn: Conn,
        /// json, csv or prometheus.
        #[arg(long, default_value = "json")]
        format: String,
        /// Write report.{json,csv,prom} into this directory instead of stdout.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// List the worker nodes as a table.
    Nodes {
        #[command(flatten)]
        conn: Conn,
        /// The full node records as JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Change a running benchmark's users and/or rate from now on (S-19).
    Tune {
        /// The benchmark id.
        id: String,
        #[command(flatten)]
        conn: Conn,
        /// Concurrent users (closed model).
        #[arg(long)]
        users: Option<u32>,
        /// Arrivals per second (open model) or the rate cap (closed model).
        #[arg(long)]
        qps: Option<f64>,
    },
}

const EXIT_CONFIG: u8 = 2;
const EXIT_THRESHOLD: u8 = 3;

/// Runs one client subcommand.
pub fn main(command: Command) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(run(command))
}

fn client(conn: &Conn) -> anyhow::Result<CoordinatorClient> {
    Ok(CoordinatorClient::new(
        &conn.coordinator,
        Duration::from_secs(30),
    )?)
}

async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Submit {
            config,
            conn,
            wait,
            output,
        } => submit(&config, &conn, wait, output).await,
        Command::Status {
            id: Some(id), conn, ..
        } => {
            print_json(&client(&conn)?.benchmark(&id).await?)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Status {
            id: None,
            conn,
            json,
        } => {
            let tasks = client(&conn)?.benchmarks().await?;
            if json {
                print_json(&tasks)?;
            } else {
                print!("{}", tables::benchmarks(&tasks));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Stop { id, conn } => {
            let t = client(&conn)?.stop(&id).await?;
            println!("{}\t{}", t.task_id, t.status.as_str());
            Ok(ExitCode::SUCCESS)
        }
        Command::Report {
            id,
            conn,
            format,
            output,
        } => {
            let format = Format::from_name(&format)?;
            let c = client(&conn)?;
            match output {
                Some(dir) => {
                    for path in write_reports(&c, &id, &[format], &dir).await? {
                        println!("{}", path.display());
                    }
                }
                None => print!("{}", c.report_text(&id, format_name(format)).await?),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Nodes { conn, json } => {
            let nodes = client(&conn)?.nodes().await?;
            if json {
                print_json(&nodes)?;
            } else {
                print!("{}", tables::nodes(&nodes, chrono::Utc::now()));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Tune {
            id,
            conn,
            users,
            qps,
        } => tune(&id, &conn, users, qps).await,
    }
}

async fn tune(
    id: &str,
    conn: &Conn,
    users: Option<u32>,
    qps: Option<f64>,
) -> anyhow::Result<ExitCode> {
    if users.is_none() && qps.is_none() {
        eprintln!("give --users N and/or --qps Q");
        return Ok(ExitCode::from(EXIT_CONFIG));
    }
    let req = TuneRequest {
        users,
        target_qps: qps,
    };
    match client(conn)?.tune(id, &req).await {
        Ok(t) => {
            let last = t.events.last().map_or("", |e| e.message.as_str());
            println!("{}\t{}\t{last}", t.task_id, t.status.as_str());
            Ok(ExitCode::SUCCESS)
        }
        Err(ClientError::Refused {
            status: 400 | 409,
            body,
            ..
        }) => {
            eprintln!("the coordinator refused the change: {}", body.error);
            Ok(ExitCode::from(EXIT_CONFIG))
        }
        Err(e) => Err(e.into()),
    }
}

fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn format_name(f: Format) -> &'static str {
    match f {
        Format::Json => "json",
        Format::Csv => "csv",
        Format::Prometheus => "prometheus",
        Format::Html => "html",
    }
}

async fn submit(
    path: &Path,
    conn: &Conn,
    wait: bool,
    output: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    if let Err(errors) = vlbench_config::load(path) {
        eprintln!("{}: invalid benchmark file:\n{errors}", path.display());
        return Ok(ExitCode::from(EXIT_CONFIG));
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let c = client(conn)?;
    let submitted = match c.submit(text).await {
        Ok(s) => s,
        Err(ClientError::Refused {
            status: 400, body, ..
        }) => {
            eprintln!("the coordinator refused the benchmark: {}", body.error);
            for d in &body.details {
                eprintln!("  {d}");
            }
            return Ok(ExitCode::from(EXIT_CONFIG));
        }
        Err(e) => return Err(e.into()),
    };
    println!("{}", submitted.task_id);
    if !wait {
        return Ok(ExitCode::SUCCESS);
    }
    let task = follow(&c, &submitted.task_id).await?;
    let formats: Vec<Format> = task
        .formats
        .iter()
        .filter_map(|f| Format::from_name(f).ok())
        .collect();
    let formats = if formats.is_empty() {
        vec![Format::Json]
    } else {
        formats
    };
    let dir = output
        .or_else(|| task.storage_path.as_ref().map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("results"));
    let files = write_reports(&c, &task.task_id, &formats, &dir).await?;
    let report = c.report_text(&task.task_id, "json").await?;
    let report: vlbench_report::Report = serde_json::from_str(&report)
        .context("the coordinator's report is not a vlbench report")?;
    crate::summary::print(&report, &files);
    let failed_threshold = report.thresholds.iter().flatten().any(|t| !t.passed);
    if let Some(msg) = &task.error_message {
        eprintln!("benchmark {}: {msg}", task.status.as_str());
    }
    Ok(match task.status {
        TaskStatus::Failed => ExitCode::from(1),
        _ if failed_threshold => ExitCode::from(EXIT_THRESHOLD),
        _ => ExitCode::SUCCESS,
    })
}

/// Polls the benchmark once a second, printing live figures, until it ends.
async fn follow(c: &CoordinatorClient, id: &str) -> anyhow::Result<TaskRecord> {
    loop {
        let t = c.benchmark(id).await?;
        if t.status.is_terminal() {
            return Ok(t);
        }
        match &t.live {
            Some(l) if t.status == TaskStatus::Running => eprintln!(
                "[{id}] {:.0} q/s | p95 {:.1} ms | p99 {:.1} ms | errors {:.2}% | nodes {} | total {}",
                l.qps,
                l.p95_response_time,
                l.p99_response_time,
                l.error_rate * 100.0,
                l.active_nodes,
                l.total_queries
            ),
            _ => eprintln!("[{id}] {}", t.status.as_str()),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn write_reports(
    c: &CoordinatorClient,
    id: &str,
    formats: &[Format],
    dir: &Path,
) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut written = Vec::new();
    for &f in formats {
        let text = c.report_text(id, format_name(f)).await?;
        let path = dir.join(f.file_name());
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}
