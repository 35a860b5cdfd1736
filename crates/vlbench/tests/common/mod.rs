//! Shared helpers of the process-level tests: start real `vlbench` processes
//! on 127.0.0.1, wait for them, talk plain HTTP/1.1 to them, and kill them
//! when the test ends (also when it fails).

#![allow(dead_code)] // each test binary uses a different subset

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Path of the `vlbench` binary built for these tests.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_vlbench"))
}

/// A free TCP port on 127.0.0.1. The port is released before it is used, so
/// another process could take it in between; on a test machine that window is
/// negligible, and a clash fails loudly (address in use), never silently.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local addr").port()
}

/// A child process killed when dropped.
pub struct Proc {
    pub child: Child,
    pub name: String,
}

impl Proc {
    /// Starts `vlbench ARGS...` with stdout/stderr inherited (visible with --nocapture).
    pub fn start(name: &str, args: &[&str]) -> Proc {
        let child = Command::new(bin())
            .args(args)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        Proc {
            child,
            name: name.to_string(),
        }
    }

    /// Kills the process at once (SIGKILL).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts `vlbench target` on a free port with extra flags and waits for it.
pub fn start_target(extra: &[&str]) -> (Proc, SocketAddr) {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec!["target", "--listen", listen.as_str()];
    args.extend_from_slice(extra);
    let proc = Proc::start("target", &args);
    let addr: SocketAddr = listen.parse().expect("socket address");
    wait_http(addr, "/health", Duration::from_secs(20));
    (proc, addr)
}

/// Waits until `GET path` answers 200, or panics after `limit`.
pub fn wait_http(addr: SocketAddr, path: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok((200, _)) = http_get(addr, path) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{addr}{path} did not answer 200 within {limit:?}");
}

/// A minimal HTTP/1.1 GET (Connection: close) returning status and body.
/// Enough for health checks and /metrics; bodies with chunked framing are
/// returned raw, so use it for small Content-Length answers.
pub fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no header end"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status"))?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    Ok((status, body))
}

/// Removes HTTP/1.1 chunk framing from a complete chunked body.
fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// Sum of a Prometheus counter over all label sets whose labels contain
/// every `(name, value)` in `labels`.
pub fn metric_sum(metrics: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let (metric, rest) = match series.split_once('{') {
                Some((m, r)) => (m, r),
                None => (series, ""),
            };
            if metric != name {
                return None;
            }
            let all = labels
                .iter()
                .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")));
            all.then(|| value.parse::<f64>().ok()).flatten()
        })
        .sum()
}

/// Runs `vlbench ARGS...` to completion with a time limit.
pub fn run(args: &[&str], limit: Duration) -> Output {
    let mut child = Command::new(bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start vlbench");
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait().expect("wait vlbench") {
            Some(_) => return child.wait_with_output().expect("collect output"),
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let out = child.wait_with_output().expect("collect output");
                panic!(
                    "vlbench {args:?} ran past {limit:?}\nstderr:\n{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// Writes a benchmark file into `dir` and returns its path.
pub fn write_config(dir: &Path, name: &str, yaml: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, yaml).expect("write config");
    path
}

/// Writes `yaml` as `bench.yaml` in a new temporary directory and runs
/// `vlbench run bench.yaml --quiet --output DIR/results` there. Returns the
/// process output, the results directory, and the directory guard (the
/// files live as long as it does).
pub fn run_bench(yaml: &str, limit: Duration) -> (Output, PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(dir.path(), "bench.yaml", yaml);
    let out_dir = dir.path().join("results");
    let out = run(
        &[
            "run",
            cfg.to_str().expect("utf-8 path"),
            "--quiet",
            "--output",
            out_dir.to_str().expect("utf-8 path"),
        ],
        limit,
    );
    (out, out_dir, dir)
}

/// Starts `vlbench target` on a chosen address (e.g. again on the port of
/// one that was killed) and waits for it.
pub fn start_target_on(addr: SocketAddr, extra: &[&str]) -> Proc {
    let listen = addr.to_string();
    let mut args = vec!["target", "--listen", listen.as_str()];
    args.extend_from_slice(extra);
    let proc = Proc::start("target", &args);
    wait_http(addr, "/health", Duration::from_secs(20));
    proc
}

/// A free address on 127.0.0.1 (see [`free_port`]).
pub fn local_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], free_port()))
}

/// GET `path` and parse the 200 answer as JSON (panics with the body otherwise).
pub fn get_json(addr: SocketAddr, path: &str) -> serde_json::Value {
    let (status, body) = http_get(addr, path).unwrap_or_else(|e| panic!("GET {path}: {e}"));
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
}

/// `vlbench coordinator` on `addr` with its store in `data`, plus `extra`
/// flags; returns once its `/health` answers.
pub fn start_coordinator(addr: SocketAddr, data: &Path, extra: &[&str]) -> Proc {
    let (listen, data) = (addr.to_string(), data.to_string_lossy().into_owned());
    let mut args = vec!["coordinator", "--listen", &listen, "--data", &data];
    args.extend_from_slice(extra);
    let proc = Proc::start("coordinator", &args);
    wait_http(addr, "/health", Duration::from_secs(20));
    proc
}

/// `vlbench worker` named `id` for the coordinator at `coordinator`, one
/// engine thread, plus `extra` flags.
pub fn start_worker(coordinator: SocketAddr, id: &str, extra: &[&str]) -> Proc {
    let url = format!("http://{coordinator}");
    let mut args = vec![
        "worker",
        "--coordinator",
        &url,
        "--node-id",
        id,
        "--threads",
        "1",
    ];
    args.extend_from_slice(extra);
    Proc::start(id, &args)
}

/// Waits (20 s at most) until exactly `n` nodes are `active` or `busy`.
pub fn wait_nodes(coordinator: SocketAddr, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let nodes = get_json(coordinator, "/api/v1/nodes");
        let alive = nodes.as_array().map_or(0, |a| {
            a.iter()
                .filter(|n| n["status"] == "active" || n["status"] == "busy")
                .count()
        });
        if alive == n {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{n} workers did not register within 20 s");
}
