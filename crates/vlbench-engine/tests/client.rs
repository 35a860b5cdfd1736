//! The HTTP client path through the public API: error classes (via
//! `probe`), row and byte counting (via short runs), gzip, TLS and HTTP/2.

mod common;

use std::io::Write;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use vlbench_engine::{probe, ProbeResult, RunOptions, TlsOptions};
use vlbench_stats::ErrorClass;
use vlbench_workload::QueryType;

const T: Duration = Duration::from_secs(5);

async fn probe_one(url: &str, qtype: QueryType, timeout: Duration) -> ProbeResult {
    let w = workload(&[("q", qtype)]);
    let mut r = probe(&target(url, timeout), &w).await.unwrap();
    assert_eq!(r.len(), 1);
    r.remove(0)
}

#[tokio::test]
async fn connection_refused_is_connect() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    drop(l);
    let r = probe_one(&url, QueryType::Query, T).await;
    assert_eq!((r.status, r.error), (0, Some(ErrorClass::Connect)));
    assert!(r.message.contains("connect"), "{}", r.message);
}

#[tokio::test]
async fn slow_answer_is_timeout() {
    let s = serve(|_| async {
        tokio::time::sleep(Duration::from_secs(3)).await;
        full(200, LINES_CT, "")
    })
    .await;
    let r = probe_one(&s.url(), QueryType::Query, Duration::from_millis(200)).await;
    assert_eq!((r.status, r.error), (0, Some(ErrorClass::Timeout)));
}

#[tokio::test]
async fn slow_body_after_headers_is_timeout_with_status() {
    let s = serve(|_| async {
        let frames = futures_util::stream::unfold(0, |i| async move {
            if i > 0 {
                tokio::time::sleep(Duration::from_secs(3)).await;
            }
            Some((
                Ok::<_, std::convert::Infallible>(hyper::body::Frame::data(Bytes::from("{}\n"))),
                i + 1,
            ))
        });
        http::Response::builder()
            .header("content-type", LINES_CT)
            .body(http_body_util::BodyExt::boxed(
                http_body_util::StreamBody::new(frames),
            ))
            .unwrap()
    })
    .await;
    let r = probe_one(&s.url(), QueryType::Query, Duration::from_millis(300)).await;
    assert_eq!((r.status, r.error), (200, Some(ErrorClass::Timeout)));
}

#[tokio::test]
async fn status_4xx_and_5xx_keep_status_and_body_text() {
    let s = serve(|req| async move {
        if req.uri().path().ends_with("/query") {
            full(400, "text/plain", "cannot parse query [*]: missing query")
        } else {
            full(
                503,
                "text/plain",
                "couldn't start executing the request in 0.504 seconds",
            )
        }
    })
    .await;
    let r = probe_one(&s.url(), QueryType::Query, T).await;
    assert_eq!((r.status, r.error), (400, Some(ErrorClass::Http4xx)));
    assert_eq!(r.message, "cannot parse query [*]: missing query");
    let r = probe_one(&s.url(), QueryType::Stats, T).await;
    assert_eq!((r.status, r.error), (503, Some(ErrorClass::Http5xx)));
    assert!(r.message.starts_with("couldn't start executing"));
}

#[tokio::test]
async fn error_message_is_cut_at_512_bytes() {
    let s = serve(|_| async { full(500, "text/plain", "x".repeat(2000)) }).await;
    let r = probe_one(&s.url(), QueryType::Query, T).await;
    assert_eq!(r.message.len(), 512);
}

/// VictoriaLogs on a query timeout: 200, chunked JSON lines, then raw
/// (unframed) text and a TCP close. Recorded in query_timeout_param_wire.
#[tokio::test]
async fn stream_cut_mid_body_is_body_error() {
    let fx = fixture("query_timeout_param_wire.json");
    let tail = fx["response"]["wire_tail_last_400B"].as_str().unwrap();
    let abort = &tail[tail.find("\r\n\nthe connection").unwrap() + 2..];
    let rows = lines(20);
    let wire = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/stream+json\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{rows}\r\n{abort}",
        rows.len()
    );
    let s = serve_raw(wire.into_bytes()).await;
    let r = probe_one(&s.url(), QueryType::Query, T).await;
    assert_eq!((r.status, r.error), (200, Some(ErrorClass::Body)));
}

#[tokio::test]
async fn early_close_with_content_length_is_body_error() {
    let wire = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"status\":".to_vec();
    let s = serve_raw(wire).await;
    let r = probe_one(&s.url(), QueryType::Stats, T).await;
    assert_eq!((r.status, r.error), (200, Some(ErrorClass::Body)));
}

#[tokio::test]
async fn wrong_shapes_are_invalid_response() {
    let s = serve(|req| async move {
        match req.uri().path() {
            "/select/logsql/query" => full(200, LINES_CT, "{\"a\":1}\n{\"unterminated\":"),
            "/select/logsql/hits" => full(200, LINES_CT, "<html>oops</html>\n"),
            _ => full(200, "text/html", "<html>login page</html>"),
        }
    })
    .await;
    for q in [QueryType::Query, QueryType::Hits, QueryType::Stats] {
        let r = probe_one(&s.url(), q, T).await;
        assert_eq!(
            (r.status, r.error),
            (200, Some(ErrorClass::InvalidResponse)),
            "{q}"
        );
    }
    let s = serve_raw(b"SSH-2.0-OpenSSH_9.6\r\n".to_vec()).await;
    let r = probe_one(&s.url(), QueryType::Query, T).await;
    assert_eq!(
        r.error,
        Some(ErrorClass::InvalidResponse),
        "not HTTP at all"
    );
}

/// Real recorded answers are counted and accepted as VictoriaLogs means them.
#[tokio::test]
async fn recorded_victorialogs_answers_are_valid() {
    let q = fixture("query_star_limit.json");
    let st = fixture("stats_level_error_count.json");
    let qbody = q["response"]["body"].as_str().unwrap().to_owned();
    let sbody = st["response"]["body"].as_str().unwrap().to_owned();
    let s = serve(move |req| {
        let (qbody, sbody) = (qbody.clone(), sbody.clone());
        async move {
            if req.uri().path().ends_with("/query") {
                let parts = qbody
                    .as_bytes()
                    .chunks(700)
                    .map(Bytes::copy_from_slice)
                    .collect();
                chunked(200, "application/stream+json", parts)
            } else {
                full(200, "application/json", sbody)
            }
        }
    })
    .await;
    let w = workload(&[("lines", QueryType::Query), ("count", QueryType::Stats)]);
    let r = probe(&target(&s.url(), T), &w).await.unwrap();
    let want_rows = q["observed"]["body_lines_total"].as_u64().unwrap();
    assert_eq!((r[0].status, r[0].error, r[0].rows), (200, None, want_rows));
    assert_eq!((r[1].status, r[1].error, r[1].rows), (200, None, 0));
    assert!(r[0].message.is_empty());
}

/// Runs one closed user for a short while against `s` and returns the
/// totals: (requests, ok, bytes, rows).
async fn counted(url: &str, gzip: bool) -> (u64, u64, u64, u64) {
    let mut t = target(url, T);
    t.accept_gzip = gzip;
    let p = plan(
        t,
        workload(&[("q", QueryType::Query)]),
        closed(1.0, 0.5, Duration::ZERO),
        1,
    );
    let reports = run_all(p, RunOptions::default()).await;
    let total = merged(&reports).total();
    (total.total(), total.ok, total.bytes, total.rows)
}

#[tokio::test]
async fn rows_and_bytes_with_content_length_and_chunked() {
    let body = lines(37);
    let len = body.len() as u64;
    let b = body.clone();
    let s = serve(move |_| {
        let b = b.clone();
        async move { full(200, LINES_CT, b) }
    })
    .await;
    let (n, ok, bytes, rows) = counted(&s.url(), false).await;
    assert!(n > 0 && ok == n, "{n} {ok}");
    assert_eq!((bytes, rows), (len * n, 37 * n));
    assert_eq!(
        s.requests(),
        n,
        "the server answered exactly what was counted"
    );

    let s = serve(move |_| {
        let parts = body
            .as_bytes()
            .chunks(33)
            .map(Bytes::copy_from_slice)
            .collect();
        async move { chunked(200, LINES_CT, parts) }
    })
    .await;
    let (n, ok, bytes, rows) = counted(&s.url(), false).await;
    assert!(n > 0 && ok == n);
    assert_eq!((bytes, rows), (len * n, 37 * n));
}

#[tokio::test]
async fn gzip_counts_wire_bytes_and_decoded_rows() {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(lines(500).as_bytes()).unwrap();
    let gz = Bytes::from(enc.finish().unwrap());
    let gz_len = gz.len() as u64;
    let s = serve(move |req| {
        let gz = gz.clone();
        async move {
            assert_eq!(req.headers()["accept-encoding"], "gzip");
            let mut r = chunked(
                200,
                LINES_CT,
                gz.chunks(100).map(Bytes::copy_from_slice).collect(),
            );
            r.headers_mut()
                .insert("content-encoding", "gzip".parse().unwrap());
            r
        }
    })
    .await;
    let (n, ok, bytes, rows) = counted(&s.url(), true).await;
    assert!(n > 0 && ok == n);
    assert_eq!((bytes, rows), (gz_len * n, 500 * n));
}

#[tokio::test]
async fn headers_and_path_prefix_are_sent() {
    let s = serve(|req| async move {
        let ok = req.uri().path() == "/vl/select/logsql/query"
            && req.headers()["authorization"] == "Bearer secret"
            && req.headers()["accountid"] == "7"
            && req.headers()["host"]
                .to_str()
                .unwrap()
                .starts_with("127.0.0.1:");
        full(if ok { 200 } else { 418 }, LINES_CT, "")
    })
    .await;
    let mut t = target(&format!("{}/vl/", s.url()), T);
    t.headers = vec![
        (
            "authorization".parse().unwrap(),
            "Bearer secret".parse().unwrap(),
        ),
        ("accountid".parse().unwrap(), "7".parse().unwrap()),
    ];
    let r = probe(&t, &workload(&[("q", QueryType::Query)]))
        .await
        .unwrap();
    assert_eq!((r[0].status, r[0].error), (200, None));
}

#[tokio::test]
async fn http2_multiplexes_on_one_connection() {
    let s = serve(|_| async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        full(200, LINES_CT, lines(2))
    })
    .await;
    let mut t = target(&s.url(), T);
    t.http2 = true;
    let p = plan(
        t,
        workload(&[("q", QueryType::Query)]),
        closed(4.0, 0.5, Duration::ZERO),
        1,
    );
    let total = merged(&run_all(p, RunOptions::default()).await).total();
    assert!(
        total.ok > 10 && total.ok == total.total(),
        "{} of {}",
        total.ok,
        total.total()
    );
    assert_eq!(s.counters.http2.load(Ordering::SeqCst), s.requests());
    assert_eq!(
        s.counters.max_in_flight.load(Ordering::SeqCst),
        4,
        "4 users, 4 concurrent streams"
    );
}

#[tokio::test]
async fn tls_with_ca_file_and_with_verification_off() {
    let s = serve_tls(|_| async { full(200, LINES_CT, lines(3)) }).await;
    let url = format!("https://localhost:{}", s.addr.port());
    let w = workload(&[("q", QueryType::Query)]);
    let mut t = target(&url, T);
    t.tls = TlsOptions {
        ca_file: Some(fixtures().join("ca.pem")),
        insecure_skip_verify: false,
    };
    let r = probe(&t, &w).await.unwrap();
    assert_eq!(
        (r[0].status, r[0].error, r[0].rows),
        (200, None, 3),
        "{}",
        r[0].message
    );
    t.http2 = true;
    let r = probe(&t, &w).await.unwrap();
    assert_eq!((r[0].status, r[0].error), (200, None), "{}", r[0].message);
    assert_eq!(s.counters.http2.load(Ordering::SeqCst), 1, "ALPN chose h2");

    let mut t = target(&url, T);
    let r = probe(&t, &w).await.unwrap();
    assert_eq!(
        r[0].error,
        Some(ErrorClass::Connect),
        "unknown CA must fail"
    );
    t.tls.insecure_skip_verify = true;
    let r = probe(&t, &w).await.unwrap();
    assert_eq!((r[0].status, r[0].error), (200, None));
}

#[test]
fn run_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let p = plan(
        target("http://127.0.0.1:1", T),
        workload(&[("q", QueryType::Query)]),
        open(1.0, 1.0, 1),
        1,
    );
    let (tx, _rx) = tokio::sync::mpsc::channel(1);
    let fut = vlbench_engine::run(p, tx, Default::default());
    assert_send(&fut);
    let t = target("http://127.0.0.1:1", T);
    let w = workload(&[("q", QueryType::Query)]);
    assert_send(&probe(&t, &w));
}
