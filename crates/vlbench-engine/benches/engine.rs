//! Criterion benchmarks of the per-request client path on one shard:
//! render → send → stream the body → count rows → record, against a
//! minimal in-process hyper server on 127.0.0.1 (HTTP/1.1 keep-alive).
//!
//! `cargo bench -p vlbench-engine --bench engine`. The server shares the
//! machine, so absolute numbers include its cost; compare runs, not tools
//! (benches/load.rs compares with wrk on a separate server process).
//! The `h1` group times the HTTP/1.1 client's hot functions alone: request
//! build, response head parse (fresh, and recalled by the memo as for a
//! repeated head), chunked decode with row counting.

use std::convert::Infallible;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use http::Response;
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use vlbench_engine::bench_support::{self, OneConnection, RequestBuilder};
use vlbench_engine::{TargetOptions, TlsOptions};
use vlbench_workload::{QueryDef, QueryParams, QueryType, Template, Workload};

/// Starts a minimal server on its own thread; returns its address.
fn server(body: &'static str) -> std::net::SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(l.local_addr().unwrap()).unwrap();
            loop {
                let Ok((tcp, _)) = l.accept().await else {
                    continue;
                };
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(|_req| async {
                        let r = Response::builder()
                            .header("content-type", "application/stream+json")
                            .body(Full::new(Bytes::from_static(body.as_bytes())))
                            .unwrap();
                        Ok::<_, Infallible>(r)
                    });
                    let b = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    let _ = b.serve_connection(TokioIo::new(tcp), svc).await;
                });
            }
        });
    });
    rx.recv().unwrap()
}

fn workload() -> Arc<Workload> {
    let q = |name: &str, src: &str| QueryDef {
        name: name.to_owned(),
        category: None,
        qtype: QueryType::Query,
        template: Template::parse(src, Path::new(".")).unwrap(),
        params: QueryParams {
            limit: Some(10),
            ..Default::default()
        },
        weight: 1,
    };
    Arc::new(
        Workload::new(vec![
            q("static", "_time:5m error"),
            q(
                "template",
                r#"_time:5m level:{{ choice "error" "warn" }} | stats count()"#,
            ),
        ])
        .unwrap(),
    )
}

/// One request at a time on one keep-alive connection; `direct`: waiting
/// for the answer in the kernel, as a shard's only user does.
fn bench_request(c: &mut Criterion, name: &str, body: &'static str, direct: bool) {
    let addr = server(body);
    let target = TargetOptions {
        base_url: format!("http://{addr}").parse().unwrap(),
        headers: vec![("accountid".parse().unwrap(), "0".parse().unwrap())],
        timeout: Duration::from_secs(5),
        http2: false,
        accept_gzip: false,
        tls: TlsOptions::default(),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    let mut one = local.block_on(&rt, async {
        OneConnection::new(&target, workload()).unwrap()
    });
    one.set_direct(direct);
    let mut g = c.benchmark_group("request");
    g.throughput(Throughput::Elements(1));
    g.bench_function(name, |b| b.iter(|| local.block_on(&rt, one.request())));
    g.finish();
    let stats = one.take_stats().total();
    assert_eq!(
        stats.ok,
        stats.total(),
        "every benchmarked request succeeded"
    );
}

/// A VictoriaLogs-like response head.
const HEAD: &[u8] = b"HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: *\r\nContent-Type: application/stream+json\r\nVary: Accept-Encoding\r\nX-Server-Hostname: vm\r\nDate: Wed, 25 Nov 2026 04:10:07 GMT\r\nTransfer-Encoding: chunked\r\n\r\n";

fn hot_functions(c: &mut Criterion) {
    let mut g = c.benchmark_group("h1");
    g.throughput(Throughput::Elements(1));
    g.bench_function("parse_head", |b| {
        b.iter(|| bench_support::parse_head(std::hint::black_box(HEAD)))
    });
    // The same head again and again, as a server repeats it: recalled.
    let memo = bench_support::HeadMemoBench::default();
    assert_eq!(memo.parse(HEAD), bench_support::parse_head(HEAD));
    g.bench_function("parse_head_repeated", |b| {
        b.iter(|| memo.parse(std::hint::black_box(HEAD)))
    });
    let rows: String = (0..100)
        .map(|i| format!("{{\"_msg\":\"row {i} of a typical log line\",\"level\":\"info\"}}\n"))
        .collect();
    let mut wire = Vec::new();
    for part in rows.as_bytes().chunks(1000) {
        wire.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        wire.extend_from_slice(part);
        wire.extend_from_slice(b"\r\n");
    }
    wire.extend_from_slice(b"0\r\n\r\n");
    assert_eq!(
        bench_support::chunked_rows(&wire),
        Some((rows.len() as u64, 100))
    );
    g.throughput(Throughput::Bytes(wire.len() as u64));
    g.bench_function("chunked_100_rows", |b| {
        b.iter(|| bench_support::chunked_rows(std::hint::black_box(&wire)))
    });
    g.throughput(Throughput::Elements(1));
    let target = TargetOptions {
        base_url: "http://127.0.0.1:9428".parse().unwrap(),
        headers: vec![("accountid".parse().unwrap(), "0".parse().unwrap())],
        timeout: Duration::from_secs(5),
        http2: false,
        accept_gzip: true,
        tls: TlsOptions::default(),
    };
    let mut builder = RequestBuilder::new(&target, workload()).unwrap();
    g.bench_function("build_static", |b| b.iter(|| builder.build(0)));
    g.bench_function("build_template", |b| b.iter(|| builder.build(1)));
    g.finish();
}

fn benches(c: &mut Criterion) {
    hot_functions(c);
    bench_request(c, "small_body", "{\"_msg\":\"x\"}\n", false);
    bench_request(c, "small_body_direct", "{\"_msg\":\"x\"}\n", true);
    let rows: &'static str = Box::leak((0..100).map(|i| format!("{{\"_msg\":\"row {i} of a typical log line with some text\",\"level\":\"info\"}}\n")).collect::<String>().into_boxed_str());
    bench_request(c, "100_rows", rows, false);
}

criterion_group!(engine, benches);
criterion_main!(engine);
