//! `coordinator-load`: the coordinator-scale harness of issue 6.4
//! (bench/coordinator-scale.sh runs it). Registers N fake workers with a
//! running `vlbench coordinator`, submits a benchmark for all of them, and
//! has every node heartbeat and post one realistic interval report per
//! second (histograms of every query) for `--duration`, then its final
//! report. Meanwhile it samples the coordinator's CPU time and RSS from
//! /proc (`--pid`) and prints the series and a summary.
//!
//! A measurement tool, not part of vlbench: it owns no protocol of its own
//! (messages and client come from vlbench-cluster).

mod fleet;
mod intervals;
mod procstat;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use tokio::time::Instant;
use vlbench_cluster::client::CoordinatorClient;

use fleet::{Node, Tally};
use procstat::Reading;

/// Why the harness stopped.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// The coordinator refused or did not answer a setup call.
    #[error("{0}")]
    Coordinator(String),
    /// Not every node got the assignment in time.
    #[error("only {got} of {want} fake nodes received the assignment within 60 s; is the coordinator's --heartbeat-interval short enough?")]
    NotAssigned {
        /// Nodes with the assignment.
        got: usize,
        /// Nodes in the fleet.
        want: usize,
    },
    /// The coordinator process could not be read.
    #[error(transparent)]
    Proc(#[from] procstat::ProcError),
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
}

/// Flags of `coordinator-load`.
#[derive(Parser, Debug)]
#[command(about = "Load a vlbench coordinator with fake workers' heartbeats and reports")]
struct Args {
    /// Base URL of the coordinator.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    coordinator: String,
    /// Process id of the coordinator, for CPU and RSS sampling.
    #[arg(long)]
    pid: u32,
    /// Fake workers.
    #[arg(long, default_value_t = 200)]
    nodes: usize,
    /// Queries in the benchmark (histograms per report: 2 per query + 1).
    #[arg(long, default_value_t = 10)]
    queries: usize,
    /// Requests recorded per query per interval (sets histogram sizes).
    #[arg(long, default_value_t = 50)]
    requests_per_query: u64,
    /// Reporting time in seconds (one report per node per second).
    #[arg(long, default_value_t = 60)]
    duration: u64,
    /// Seconds between CPU/RSS samples.
    #[arg(long, default_value_t = 5)]
    sample_every: u64,
    /// Spread of the nodes' clocks, ms: node i posts each report at the end
    /// of its second plus a fixed offset in [0, skew) (seeded by i). 0 =
    /// every report at the same instant; 1000 = spread evenly over the
    /// second (the most wake-ups for the coordinator).
    #[arg(long, default_value_t = 20)]
    skew_ms: u64,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("coordinator-load: {}", HarnessError::Runtime(e));
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("coordinator-load: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The benchmark the fake fleet is assigned: closed model, one user per
/// node, `queries` queries; the target is never contacted.
fn benchmark_yaml(nodes: usize, queries: usize, duration: u64) -> String {
    let mut y = format!(
        "apiVersion: benchmark.victorialogs.io/v1\nkind: BenchmarkConfig\nmetadata:\n  name: coordinator-scale\n\
         spec:\n  target:\n    url: http://127.0.0.1:9\n  workload:\n    total_concurrent_users: {nodes}\n    \
         duration: {duration}\n  workers:\n    replicas: {nodes}\n    start_timeout: 60s\n  reporting:\n    \
         formats: [json]\n  queries:\n"
    );
    for q in 0..queries {
        y.push_str(&format!(
            "    - name: q{q}\n      template: 'level:error namespace:ns{q} | limit 10'\n      weight: {}\n",
            q + 1
        ));
    }
    y
}

async fn run(args: Args) -> Result<(), HarnessError> {
    let client = CoordinatorClient::new(&args.coordinator, Duration::from_secs(10))
        .map_err(|e| HarnessError::Coordinator(e.to_string()))?;
    let nodes: Vec<Arc<Node>> = (0..args.nodes)
        .map(|i| Arc::new(Node::new(format!("fake-{i:04}"))))
        .collect();
    let mut interval = Duration::from_secs(1);
    for n in &nodes {
        interval = fleet::register(&client, n).await?;
    }
    let idle = procstat::read(args.pid)?;
    println!(
        "registered {} fake nodes (heartbeat every {interval:?}); coordinator RSS {:.1} MB",
        nodes.len(),
        mb(idle.rss_kib)
    );
    let tally = Arc::new(Tally::default());
    // Heartbeats run through setup, reporting and a short tail.
    let hb_until = Instant::now() + Duration::from_secs(args.duration + 90);
    let mut heartbeats = Vec::with_capacity(nodes.len());
    let interval_ms = u64::try_from(interval.as_millis()).unwrap_or(u64::MAX);
    for (i, n) in nodes.iter().enumerate() {
        // Real workers start at different times: their beats are spread
        // over the interval, not sent together.
        heartbeats.push(tokio::spawn(fleet::heartbeat_loop(
            client.clone(),
            n.clone(),
            fleet::clock_offset(i as u64, interval_ms),
            interval,
            hb_until,
            tally.clone(),
        )));
    }
    let yaml = benchmark_yaml(args.nodes, args.queries, args.duration);
    let task = client
        .submit(yaml)
        .await
        .map_err(|e| HarnessError::Coordinator(format!("submitting the benchmark: {e}")))?;
    wait_assigned(&nodes).await?;
    let start_ms = nodes
        .first()
        .and_then(|n| n.assigned())
        .map_or(0, |a| a.start_unix_ms);
    println!(
        "task {} assigned; start at unix ms {start_ms}",
        task.task_id
    );

    let shape = intervals::Shape {
        queries: args.queries,
        requests_per_query: args.requests_per_query,
    };
    let poster = fleet::Poster::new(&args.coordinator, Duration::from_secs(10))?;
    let mut posters = Vec::with_capacity(nodes.len());
    for (i, n) in nodes.iter().enumerate() {
        let variants = intervals::variants(shape, i as u64, 4);
        let variants: Arc<[intervals::Prepared]> = intervals::prepare(&variants)
            .map_err(|e| HarnessError::Coordinator(format!("encoding a report: {e}")))?
            .into();
        posters.push(tokio::spawn(fleet::report_loop(
            poster.clone(),
            n.clone(),
            fleet::clock_offset(i as u64, args.skew_ms),
            variants,
            args.duration,
            tally.clone(),
        )));
    }
    tokio::time::sleep_until(fleet::instant_of(start_ms)).await;
    let samples = sample(args.pid, args.duration, args.sample_every).await?;
    for p in posters {
        let _ = p.await;
    }
    let status = final_status(&client, &task.task_id).await;
    for h in &heartbeats {
        h.abort();
    }
    summarize(&args, &samples, &tally, &status);
    Ok(())
}

async fn wait_assigned(nodes: &[Arc<Node>]) -> Result<(), HarnessError> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = nodes.iter().filter(|n| n.assigned().is_some()).count();
        if got == nodes.len() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(HarnessError::NotAssigned {
                got,
                want: nodes.len(),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Readings every `every` seconds over `secs` seconds, printed as they come.
async fn sample(pid: u32, secs: u64, every: u64) -> Result<Vec<(f64, Reading)>, HarnessError> {
    let t0 = Instant::now();
    let mut out = vec![(0.0, procstat::read(pid)?)];
    println!("{:>7} {:>10} {:>10}", "t (s)", "CPU % 1c", "RSS MB");
    let every = Duration::from_secs(every.max(1));
    let mut next = t0 + every;
    while next <= t0 + Duration::from_secs(secs) {
        tokio::time::sleep_until(next).await;
        let r = procstat::read(pid)?;
        let t = t0.elapsed().as_secs_f64();
        if let Some((pt, prev)) = out.last() {
            let pct = procstat::cpu_percent(prev, &r, Duration::from_secs_f64(t - pt));
            println!("{t:>7.0} {pct:>10.2} {:>10.1}", mb(r.rss_kib));
        }
        out.push((t, r));
        next += every;
    }
    Ok(out)
}

/// Polls the task until it is no longer running (at most 30 s).
async fn final_status(client: &CoordinatorClient, id: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = match client.benchmark(id).await {
            Ok(t) => match t.error_message {
                // The message names every failed node: keep the start.
                Some(m) => format!(
                    "{:?} ({})",
                    t.status,
                    m.chars().take(200).collect::<String>()
                )
                .to_lowercase(),
                None => format!("{:?}", t.status).to_lowercase(),
            },
            Err(e) => format!("unknown ({e})"),
        };
        if !status.starts_with("running") || Instant::now() > deadline {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn mb(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn summarize(args: &Args, s: &[(f64, Reading)], tally: &Tally, status: &str) {
    let (Some((t_first, first)), Some((t_last, last))) = (s.first(), s.last()) else {
        return;
    };
    let wall = Duration::from_secs_f64((t_last - t_first).max(0.001));
    let avg = procstat::cpu_percent(first, last, wall);
    let max_rss = s.iter().map(|(_, r)| r.rss_kib).max().unwrap_or(0);
    // RSS growth over the second half of the run: ~0 when memory is flat.
    let mid = &s[s.len() / 2].1;
    let accepted = tally.accepted.load(Ordering::Relaxed);
    let sent = accepted
        + tally.duplicates.load(Ordering::Relaxed)
        + tally.report_errors.load(Ordering::Relaxed);
    let own = procstat::read(std::process::id()).map(|r| r.cpu.as_secs_f64());
    let warm = warm_up_secs(args.duration);
    match rss_slope_mb_per_min(s, warm) {
        Some(slope) => println!(
            "RSS slope after warm-up (t >= {warm:.0} s, least squares): {slope:+.3} MB/min"
        ),
        None => println!("RSS slope after warm-up: too few samples after {warm:.0} s"),
    }
    println!(
        "summary: {} nodes x {} s, {} queries: coordinator CPU {avg:.2} % of one core (average), \
         RSS {:.1} MB at start of reporting, {:.1} MB at mid-run, {:.1} MB at end (max {:.1}), peak {:.1} MB",
        args.nodes,
        args.duration,
        args.queries,
        mb(first.rss_kib),
        mb(mid.rss_kib),
        mb(last.rss_kib),
        mb(max_rss),
        mb(last.hwm_kib)
    );
    println!(
        "reports: {accepted} accepted, {} duplicate, {} failed; mean round trip {:.1} ms, max {:.1} ms; \
         heartbeats {} ok, {} failed; task {status}; harness CPU {:.1} s",
        tally.duplicates.load(Ordering::Relaxed),
        tally.report_errors.load(Ordering::Relaxed),
        tally.report_rtt_us.load(Ordering::Relaxed) as f64 / 1000.0 / sent.max(1) as f64,
        tally.report_rtt_max_us.load(Ordering::Relaxed) as f64 / 1000.0,
        tally.heartbeats.load(Ordering::Relaxed),
        tally.heartbeat_errors.load(Ordering::Relaxed),
        own.unwrap_or(0.0)
    );
}

/// Seconds of reporting ignored by the RSS slope: the accumulators and the
/// 32 s of full per-second slots fill during the first ~35 s.
fn warm_up_secs(duration: u64) -> f64 {
    (duration as f64 / 2.0).min(40.0)
}

/// Least-squares slope of RSS over the samples at or after `from` seconds,
/// in MB per minute; None with fewer than 3 such samples.
fn rss_slope_mb_per_min(s: &[(f64, Reading)], from: f64) -> Option<f64> {
    let pts: Vec<(f64, f64)> = s
        .iter()
        .filter(|(t, _)| *t >= from)
        .map(|(t, r)| (*t, mb(r.rss_kib)))
        .collect();
    if pts.len() < 3 {
        return None;
    }
    let n = pts.len() as f64;
    let (mt, mr) = (
        pts.iter().map(|p| p.0).sum::<f64>() / n,
        pts.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let cov: f64 = pts.iter().map(|(t, r)| (t - mt) * (r - mr)).sum();
    let var: f64 = pts.iter().map(|(t, _)| (t - mt) * (t - mt)).sum();
    (var > 0.0).then(|| cov / var * 60.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rss_slope_is_per_minute_after_warm_up() {
        let reading = |kib: u64| Reading {
            cpu: Duration::ZERO,
            rss_kib: kib,
            hwm_kib: kib,
        };
        // 1 MiB per 10 s after t = 20; a jump before it is ignored.
        let s: Vec<(f64, Reading)> = (0..10)
            .map(|i| {
                let t = i as f64 * 10.0;
                let kib = if t < 20.0 { 100 } else { 50_000 + 1024 * i };
                (t, reading(kib))
            })
            .collect();
        let slope = rss_slope_mb_per_min(&s, 20.0).unwrap();
        assert!((slope - 6.0).abs() < 1e-9, "{slope}");
        assert!(rss_slope_mb_per_min(&s[..3], 20.0).is_none());
        assert_eq!(warm_up_secs(60), 30.0);
        assert_eq!(warm_up_secs(600), 40.0);
    }

    #[test]
    fn benchmark_has_every_query_and_replica() {
        let y = benchmark_yaml(3, 2, 60);
        assert!(y.contains("replicas: 3"));
        assert!(y.contains("total_concurrent_users: 3"));
        assert!(y.contains("name: q0") && y.contains("name: q1") && !y.contains("name: q2"));
        assert!(y.contains("duration: 60"));
    }
}
