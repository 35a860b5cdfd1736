//! Behaviour knobs on a real listener: latency, error rate, stalls, the
//! concurrency queue's 503, mid-stream aborts on the wire, and counters
//! that equal the requests sent.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use vlbench_target::{start, TargetConfig, TargetHandle};

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Empty<Bytes>>;

fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

async fn start_with(yaml: &str) -> TargetHandle {
    let mut cfg: TargetConfig = serde_yaml_ng::from_str(yaml).expect("test yaml");
    cfg.rows = 20_000;
    cfg.tenants.clear();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    start(cfg, listener).await.expect("start")
}

/// GET; returns status, content type and the body (or the body error).
async fn fetch(c: &HttpClient, addr: SocketAddr, pq: &str) -> (u16, String, Result<Bytes, String>) {
    let uri: http::Uri = format!("http://{addr}{pq}").parse().expect("uri");
    let resp = c.get(uri).await.expect("response head");
    let status = resp.status().as_u16();
    let ctype = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = resp
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .map_err(|e| format!("{e:?}"));
    (status, ctype, body)
}

const LIMIT1: &str = "/select/logsql/query?query=*+%7C+limit+1";

#[tokio::test]
async fn configured_latency_is_observed() {
    let t = start_with("latency: {query: {fixed: 20ms}}").await;
    let c = client();
    let mut took = Vec::new();
    for _ in 0..10 {
        let began = Instant::now();
        let (status, _, body) = fetch(&c, t.addr(), LIMIT1).await;
        assert_eq!(status, 200);
        assert!(body.is_ok());
        took.push(began.elapsed());
    }
    took.sort();
    assert!(
        took[0] >= Duration::from_millis(20),
        "fastest {:?}",
        took[0]
    );
    assert!(took[5] < Duration::from_millis(500), "median {:?}", took[5]);
    // Other endpoints have no latency configured.
    let began = Instant::now();
    let _ = fetch(&c, t.addr(), "/select/logsql/field_names?query=_time:5m").await;
    assert!(began.elapsed() < Duration::from_millis(500));
    t.shutdown().await.unwrap();
}

#[tokio::test]
async fn error_rate_and_counters_match_what_clients_saw() {
    let t = start_with("errors: {503: 0.1}").await;
    let c = client();
    let mut seen_503 = 0u64;
    for _ in 0..2000 {
        let (status, ctype, body) = fetch(&c, t.addr(), LIMIT1).await;
        match status {
            200 => assert_eq!(ctype, "application/stream+json"),
            503 => {
                seen_503 += 1;
                assert_eq!(ctype, "text/plain; charset=utf-8");
                let text = String::from_utf8(body.unwrap().to_vec()).unwrap();
                assert!(
                    text.starts_with("couldn't start executing the request in "),
                    "{text}"
                );
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!((160..=240).contains(&seen_503), "{seen_503} errors of 2000");
    let snap = t.counters().snapshot();
    assert_eq!(snap.requests["/select/logsql/query"], 2000);
    assert_eq!(snap.responses[&("/select/logsql/query", 503)], seen_503);
    assert_eq!(
        snap.responses[&("/select/logsql/query", 200)],
        2000 - seen_503
    );
    let (_, _, metrics) = fetch(&c, t.addr(), "/metrics").await;
    let metrics = String::from_utf8(metrics.unwrap().to_vec()).unwrap();
    for line in [
        "vl_http_requests_total{path=\"/select/logsql/query\"} 2000".to_string(),
        "vl_http_request_duration_seconds_count{path=\"/select/logsql/query\"} 2000".to_string(),
        format!("vl_http_errors_total{{path=\"/select/logsql/query\"}} {seen_503}"),
        format!("vlbench_target_responses_total{{path=\"/select/logsql/query\",status=\"503\"}} {seen_503}"),
        "vl_concurrent_select_current 0".to_string(),
    ] {
        assert!(metrics.lines().any(|l| l == line), "missing {line}");
    }
    t.shutdown().await.unwrap();
}

#[tokio::test]
async fn stall_window_holds_requests_until_it_ends() {
    let began = Instant::now();
    // The first window covers the first 1.5 s after start.
    let t = start_with("stalls: [{every: 1h, for: 1500ms}]").await;
    let c = client();
    let (status, _, _) = fetch(&c, t.addr(), LIMIT1).await;
    assert_eq!(status, 200);
    assert!(
        began.elapsed() >= Duration::from_millis(1400),
        "answered after {:?}",
        began.elapsed()
    );
    let after = Instant::now();
    let _ = fetch(&c, t.addr(), LIMIT1).await;
    assert!(
        after.elapsed() < Duration::from_millis(500),
        "outside the window: {:?}",
        after.elapsed()
    );
    t.shutdown().await.unwrap();
}

#[tokio::test]
async fn concurrency_queue_times_out_with_victorialogs_503() {
    let t = start_with("concurrency: {max_concurrent: 1}\nlatency: {query: {fixed: 1500ms}}").await;
    let addr = t.addr();
    let busy = tokio::spawn(async move { fetch(&client(), addr, LIMIT1).await.0 });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let began = Instant::now();
    let (status, ctype, body) = fetch(
        &client(),
        addr,
        "/select/logsql/query?query=_time:5m+%7C+limit+1&timeout=0.2",
    )
    .await;
    let waited = began.elapsed();
    assert_eq!((status, ctype.as_str()), (503, "text/plain; charset=utf-8"));
    assert!(
        waited >= Duration::from_millis(190) && waited < Duration::from_millis(1200),
        "{waited:?}"
    );
    let text = String::from_utf8(body.unwrap().to_vec()).unwrap();
    let recorded = fixture("concurrency_limit_queue_timeout_503")["response"]["body"]
        .as_str()
        .unwrap()
        .to_string();
    let normalize = |s: &str| {
        let s = s
            .replacen("maxConcurrentRequests=4 ", "maxConcurrentRequests=N ", 1)
            .replacen("maxConcurrentRequests=1 ", "maxConcurrentRequests=N ", 1);
        let (head, tail) = s.split_once(" seconds").unwrap();
        format!(
            "{}#{}",
            head.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.'),
            tail
        )
    };
    assert_eq!(normalize(&text), normalize(&recorded));
    assert_eq!(busy.await.unwrap(), 200);
    let snap = t.counters().snapshot();
    assert_eq!((snap.limit_reached, snap.limit_timeout), (1, 1));
    assert_eq!(snap.responses[&("/select/logsql/query", 503)], 1);
    t.shutdown().await.unwrap();
}

/// Splits a raw HTTP/1.1 response into head and body bytes.
fn split_head(raw: &[u8]) -> (String, &[u8]) {
    let at = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of head")
        + 4;
    (
        String::from_utf8_lossy(&raw[..at]).to_lowercase(),
        &raw[at..],
    )
}

#[tokio::test]
async fn abort_cuts_the_connection_like_victorialogs() {
    let t = start_with("abort: {timeout_below: 100ms, after_rows: 3}").await;
    let abort_text = b"\nthe connection has been aborted; see the last line in the response and/or in the server log for the reason\n";
    // /query: 200 chunked, 3 rows in complete chunks, the raw text, a close.
    let req = "GET /select/logsql/query?query=*&timeout=0.05 HTTP/1.1\r\nHost: x\r\n\r\n";
    let (raw, closed) = raw_exchange(t.addr(), req, Duration::from_secs(5)).await;
    assert!(closed, "server must close the connection");
    let (head, body) = split_head(&raw);
    assert!(head.starts_with("http/1.1 200 ok\r\n"), "{head}");
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    assert!(
        head.contains("content-type: application/stream+json"),
        "{head}"
    );
    assert!(
        body.ends_with(abort_text),
        "{}",
        String::from_utf8_lossy(body)
    );
    assert!(!body.ends_with(b"0\r\n\r\n"));
    let chunked = &body[..body.len() - abort_text.len()];
    let mut rows = 0;
    let mut rest = chunked;
    while !rest.is_empty() {
        let eol = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let size = usize::from_str_radix(std::str::from_utf8(&rest[..eol]).unwrap(), 16).unwrap();
        assert!(size > 0, "no terminating chunk may be sent");
        let data = &rest[eol + 2..eol + 2 + size];
        rows += data.iter().filter(|&&b| b == b'\n').count();
        assert_eq!(&rest[eol + 2 + size..eol + 4 + size], b"\r\n");
        rest = &rest[eol + 4 + size..];
    }
    assert_eq!(rows, 3);
    // stats_query: headers, then the raw text with no data, as recorded.
    let req = "GET /select/logsql/stats_query?query=*+%7C+stats+count()&timeout=50ms HTTP/1.1\r\nHost: x\r\n\r\n";
    let (raw, closed) = raw_exchange(t.addr(), req, Duration::from_secs(5)).await;
    assert!(closed);
    let (head, body) = split_head(&raw);
    let recorded = fixture("stats_timeout_param_wire")["response"]["body"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        head.contains("transfer-encoding: chunked")
            && head.contains("content-type: application/json"),
        "{head}"
    );
    assert_eq!(body, recorded.as_bytes());
    // An HTTP client sees a body error after the status 200.
    let (status, _, body) = fetch(
        &client(),
        t.addr(),
        "/select/logsql/query?query=*&timeout=0.01",
    )
    .await;
    assert_eq!(status, 200);
    assert!(body.is_err(), "client must see the cut: {body:?}");
    // Requests without a small timeout are not cut, and are counted apart.
    let (_, _, ok) = fetch(&client(), t.addr(), LIMIT1).await;
    assert!(ok.is_ok());
    let snap = t.counters().snapshot();
    assert_eq!(snap.aborted_streams, 3);
    assert_eq!(snap.requests["/select/logsql/query"], 3);
    assert_eq!(snap.errors["/select/logsql/query"], 2);
    t.shutdown().await.unwrap();
}

#[tokio::test]
async fn counters_cover_every_endpoint_and_status() {
    let t = start_with("{}").await;
    let c = client();
    let sent = [
        ("/select/logsql/query?query=error&limit=3", 200),
        ("/select/logsql/query?query=%7C+limit+1", 400),
        ("/select/logsql/stats_query?query=error", 422),
        ("/select/logsql/stats_query?query=*+%7C+stats+count()", 200),
        (
            "/select/logsql/stats_query_range?query=*+%7C+stats+count()&start=1h&step=10m",
            200,
        ),
        ("/select/logsql/hits?query=*&start=1h&step=10m", 200),
        ("/select/logsql/field_names?query=*", 200),
        ("/select/logsql/field_values?query=*", 400),
        ("/select/logsql/field_values?query=*&field=level", 200),
        ("/select/logsql/streams?query=*", 200),
        ("/select/logsql/query?query=*", 200),
    ];
    for (pq, want) in sent {
        let (status, _, body) = fetch(&c, t.addr(), pq).await;
        assert_eq!(status, want, "{pq}");
        assert!(body.is_ok());
    }
    let snap = t.counters().snapshot();
    assert_eq!(snap.total_requests(), sent.len() as u64);
    assert_eq!(snap.requests["/select/logsql/query"], 3);
    assert_eq!(snap.responses[&("/select/logsql/query", 400)], 1);
    assert_eq!(snap.responses[&("/select/logsql/stats_query", 422)], 1);
    assert_eq!(snap.responses[&("/select/logsql/field_values", 200)], 1);
    assert_eq!(snap.responses.values().sum::<u64>(), sent.len() as u64);
    assert_eq!(snap.aborted_streams, 0);
    // /health and /metrics are not select requests and are not counted.
    let _ = fetch(&c, t.addr(), "/health").await;
    assert_eq!(t.counters().snapshot().total_requests(), sent.len() as u64);
    t.shutdown().await.unwrap();
}
