//! End-to-end load benchmark of the engine (Linux): the three budgets of
//! the engine, against a minimal hyper server in a *child process* so the
//! server's CPU is not counted as ours.
//!
//! ```text
//! cargo bench -p vlbench-engine --bench load              # all three
//! cargo bench -p vlbench-engine --bench load -- throughput|lag|memory
//! ```
//!
//! - throughput: closed model, 16 users, one shard, 5 s: requests per
//!   CPU-second of this process (histograms and body counting on), and the
//!   same for `wrk -t1 -c16` against the same server when wrk is installed.
//! - lag: open model at 10,000 arrivals/s for 5 s: scheduling lag p50/p99.
//! - memory: 10,000 closed users (think time 1 s): resident memory growth.

use std::convert::Infallible;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::Response;
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use vlbench_engine::{EnginePlan, RunOptions, TargetOptions, TlsOptions};
use vlbench_stats::IntervalStats;
use vlbench_workload::{
    Model, QueryDef, QueryParams, QueryType, Schedule, Share, Stage, Template, Workload,
};

const SERVER_ENV: &str = "VLBENCH_ENGINE_BENCH_SERVER";
const BODY: &str =
    "{\"_time\":\"2026-11-25T00:00:04Z\",\"_msg\":\"GET /api/v1/cart 200\",\"level\":\"info\"}\n";

fn main() {
    if std::env::var_os(SERVER_ENV).is_some() {
        return serve_forever();
    }
    let which: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let want = |name: &str| which.is_empty() || which.iter().any(|w| w == name);
    let mut child = Command::new(std::env::current_exe().expect("own path"))
        .env(SERVER_ENV, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the server process");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped"))
        .read_line(&mut line)
        .expect("server port");
    let addr = line.trim().to_owned();
    let url = format!("http://{addr}");
    if want("throughput") {
        throughput(&url);
    }
    if want("lag") {
        lag(&url);
    }
    if want("memory") {
        memory(&url);
    }
    drop(child.stdin.take()); // the server exits when its stdin closes
    let _ = child.wait();
}

/// The child: a minimal HTTP/1.1 server on one thread until stdin closes.
fn serve_forever() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        println!("{}", l.local_addr().expect("addr"));
        std::io::stdout().flush().expect("flush");
        tokio::task::spawn_blocking(|| {
            let mut s = String::new();
            let _ = std::io::stdin().read_line(&mut s);
            std::process::exit(0);
        });
        loop {
            let Ok((tcp, _)) = l.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(|_req| async {
                    let r = Response::builder()
                        .header("content-type", "application/stream+json")
                        .body(Full::new(Bytes::from_static(BODY.as_bytes())))
                        .expect("response");
                    Ok::<_, Infallible>(r)
                });
                let b = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                let _ = b.serve_connection(TokioIo::new(tcp), svc).await;
            });
        }
    });
}

fn plan(url: &str, schedule: Schedule, threads: usize) -> EnginePlan {
    let def = QueryDef {
        name: "q".to_owned(),
        category: None,
        qtype: QueryType::Query,
        template: Template::parse(
            r#"_time:5m level:{{ choice "error" "warn" }}"#,
            Path::new("."),
        )
        .expect("template"),
        params: QueryParams {
            limit: Some(10),
            ..Default::default()
        },
        weight: 1,
    };
    EnginePlan {
        target: TargetOptions {
            base_url: url.parse().expect("url"),
            headers: Vec::new(),
            timeout: Duration::from_secs(10),
            http2: false,
            accept_gzip: false,
            tls: TlsOptions::default(),
        },
        workload: Arc::new(Workload::new(vec![def]).expect("workload")),
        schedule,
        share: Share::whole(),
        threads,
        start: SystemTime::now() + Duration::from_millis(100),
    }
}

fn schedule(model: Model, value: f64, initial: f64, secs: u64) -> Schedule {
    Schedule {
        model,
        stages: vec![Stage {
            duration: Duration::from_secs(secs),
            target: value,
        }],
        initial,
        rate_cap: None,
    }
}

/// Runs a plan to its end on a small control runtime; merged stats.
fn run(plan: EnginePlan, options: RunOptions) -> IntervalStats {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let (tx, mut rx) = mpsc::channel(16);
        let engine = tokio::spawn(vlbench_engine::run_with_control(
            plan,
            options,
            tx,
            CancellationToken::new(),
        ));
        let mut total = IntervalStats::new(1);
        while let Some(r) = rx.recv().await {
            total.merge(&r.stats);
        }
        engine.await.expect("join").expect("engine");
        total
    })
}

/// CPU seconds (user + system) used by this process so far.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0 // fields 14, 15 of stat; CLK_TCK = 100
}

fn throughput(url: &str) {
    let secs = 5;
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    let p = plan(
        url,
        schedule(
            Model::Closed {
                think_time: Duration::ZERO,
            },
            16.0,
            16.0,
            secs,
        ),
        1,
    );
    let total = run(p, RunOptions::default()).total();
    let cpu = cpu_seconds() - cpu0;
    let wall = t0.elapsed().as_secs_f64();
    println!(
        "throughput vlbench (1 shard, 16 users): {} ok of {}, {:.0} req/s, {:.2} CPU-s, {:.0} req/CPU-s, p99 {} µs",
        total.ok,
        total.total(),
        total.total() as f64 / secs as f64,
        cpu,
        total.total() as f64 / cpu.max(0.01),
        total.latency.value_at_quantile(0.99)
    );
    let _ = wall;
    wrk(url, secs);
}

/// wrk with the same connections; its CPU from the shell's `times`.
fn wrk(url: &str, secs: u64) {
    let script = format!(
        "wrk -t1 -c16 -d{secs}s '{url}/select/logsql/query?query=_time%3A5m+level%3Aerror&limit=10' && times"
    );
    let Ok(out) = Command::new("bash").arg("-c").arg(&script).output() else {
        println!("throughput wrk: not run (no bash)");
        return;
    };
    if !out.status.success() {
        println!("throughput wrk: not run (is wrk installed?)");
        return;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let rps = text
        .lines()
        .find(|l| l.starts_with("Requests/sec:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0);
    // `times` prints "<shell user> <shell sys>\n<children user> <children sys>", e.g. 0m1.234s.
    let cpu: f64 = text
        .lines()
        .last()
        .unwrap_or("")
        .split_whitespace()
        .map(|t| {
            let t = t.trim_end_matches('s');
            let (m, s) = t.split_once('m').unwrap_or(("0", t));
            m.parse::<f64>().unwrap_or(0.0) * 60.0 + s.parse::<f64>().unwrap_or(0.0)
        })
        .sum();
    println!(
        "throughput wrk -t1 -c16: {rps:.0} req/s, {cpu:.2} CPU-s, {:.0} req/CPU-s",
        rps * secs as f64 / cpu.max(0.01)
    );
}

fn lag(url: &str) {
    let rate = 10_000.0;
    let p = plan(
        url,
        schedule(
            Model::Open {
                max_in_flight: 2000,
            },
            rate,
            rate,
            5,
        ),
        2,
    );
    let all = run(
        p,
        RunOptions {
            max_queued: 10_000,
            ..Default::default()
        },
    );
    let l = &all.ledger;
    println!(
        "lag at 10k/s (1 shard): planned {}, sent {}, dropped {}, lag p50 {} µs, p99 {} µs, p999 {} µs, max {} µs; latency p99 {} µs",
        l.planned,
        l.sent,
        l.dropped,
        l.lag.value_at_quantile(0.5),
        l.lag.value_at_quantile(0.99),
        l.lag.value_at_quantile(0.999),
        l.lag.max(),
        all.total().latency.value_at_quantile(0.99)
    );
}

/// Resident set size of this process, bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn memory(url: &str) {
    let users = 10_000.0;
    let base = rss();
    let peak = Arc::new(AtomicU64::new(base));
    let done = Arc::new(AtomicBool::new(false));
    let (p2, d2) = (peak.clone(), done.clone());
    let sampler = std::thread::spawn(move || {
        while !d2.load(Ordering::Relaxed) {
            p2.fetch_max(rss(), Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    // Ramp 0 → 10k users over 4 s, hold 4 s; each user sends once a second.
    let mut s = schedule(
        Model::Closed {
            think_time: Duration::from_secs(1),
        },
        users,
        0.0,
        4,
    );
    s.stages.push(Stage {
        duration: Duration::from_secs(4),
        target: users,
    });
    let total = run(plan(url, s, 1), RunOptions::default()).total();
    done.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    let grown = peak.load(Ordering::Relaxed).saturating_sub(base);
    println!(
        "memory with 10k closed users (1 shard): peak RSS growth {:.1} MB ({:.1} KB/user); {} ok of {}, errors {:?}",
        grown as f64 / 1e6,
        grown as f64 / users / 1e3,
        total.ok,
        total.total(),
        total.errors
    );
}
