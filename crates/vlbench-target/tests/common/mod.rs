//! Helpers shared by the integration tests: a small target, fixture
//! replay through the router, and a raw HTTP/1.1 client for wire checks.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use http::Request;
use http_body_util::BodyExt;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tower::ServiceExt;
use vlbench_target::{TargetConfig, TargetState, TenantConfig};

/// A fast config: 20k rows for 0:0 and 2k for 1:2.
pub fn small_config() -> TargetConfig {
    TargetConfig {
        rows: 20_000,
        tenants: vec![TenantConfig {
            account_id: 1,
            project_id: 2,
            rows: 2_000,
            seed: 1,
        }],
        ..TargetConfig::default()
    }
}

pub fn state(cfg: TargetConfig) -> Arc<TargetState> {
    TargetState::new(cfg).expect("valid test config")
}

/// A response read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub exact_len: Option<u64>,
    pub body: String,
}

/// Sends one request through the router (no socket).
pub async fn oneshot(state: &Arc<TargetState>, req: Request<Body>) -> Resp {
    let resp = vlbench_target::router(Arc::clone(state))
        .oneshot(req)
        .await
        .expect("infallible");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let exact_len = http_body::Body::size_hint(resp.body()).exact();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    Resp {
        status,
        headers,
        exact_len,
        body: String::from_utf8(bytes.to_vec()).expect("utf-8 body"),
    }
}

/// GET `path?query` through the router.
pub async fn get(state: &Arc<TargetState>, path: &str, params: &[(&str, &str)]) -> Resp {
    let qs = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let uri = if qs.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{qs}")
    };
    oneshot(
        state,
        Request::get(uri).body(Body::empty()).expect("request"),
    )
    .await
}

pub fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).expect("fixture JSON")
}

/// Shifts an absolute `start`/`end`/`time` value from the recording time
/// to now, so fixtures replay against the rolling data at any date.
fn shift_time(value: &str, shift_ns: i64) -> String {
    if value.chars().all(|c| c.is_ascii_digit()) && value.len() >= 9 {
        let secs: i64 = value.parse().expect("digits");
        return (secs + shift_ns / 1_000_000_000).to_string();
    }
    match vlbench_target::time::parse_rfc3339(value) {
        Some(t) if value.contains('T') => {
            let mut out = Vec::new();
            vlbench_target::time::push_rfc3339(&mut out, t + shift_ns, false);
            String::from_utf8(out).expect("ascii")
        }
        _ => value.to_string(),
    }
}

/// The fixture's request, rebuilt for the router.
pub fn fixture_request(fx: &Value) -> Request<Body> {
    let req = &fx["request"];
    let recorded = fx["observed"]["recorded_at"].as_str().expect("recorded_at");
    let recorded = vlbench_target::time::parse_rfc3339(recorded).expect("recorded_at time");
    let shift = vlbench_target::time::now_ns() - recorded;
    let method = req["method"].as_str().expect("method");
    let path = req["path"].as_str().expect("path");
    let mut uri = path.to_string();
    if method == "GET" {
        let mut ser = form_urlencoded::Serializer::new(String::new());
        for (k, v) in req["params"].as_object().expect("params") {
            let v = v.as_str().expect("string param");
            let v = if matches!(k.as_str(), "start" | "end" | "time") {
                shift_time(v, shift)
            } else {
                v.to_string()
            };
            ser.append_pair(k, &v);
        }
        let qs = ser.finish();
        if !qs.is_empty() {
            uri = format!("{path}?{qs}");
        }
    }
    let mut b = Request::builder().method(method).uri(uri);
    let headers = req["headers"].as_object().expect("headers");
    for (k, v) in headers {
        b = b.header(k.as_str(), v.as_str().expect("header value"));
    }
    let body = match req["body"].as_str() {
        Some(s) => {
            if !headers
                .keys()
                .any(|k| k.eq_ignore_ascii_case("content-type"))
            {
                b = b.header("content-type", "application/x-www-form-urlencoded");
            }
            Body::from(s.to_string())
        }
        None => Body::empty(),
    };
    b.body(body).expect("request")
}

/// Asserts that `ours` has the same JSON shape as `theirs`: same types,
/// same object keys, same element shape for non-empty arrays.
pub fn assert_same_shape(theirs: &Value, ours: &Value, path: &str) {
    match (theirs, ours) {
        (Value::Object(a), Value::Object(b)) => {
            let ka: Vec<_> = a.keys().collect();
            let kb: Vec<_> = b.keys().collect();
            assert_eq!(ka, kb, "keys differ at {path}");
            for (k, v) in a {
                assert_same_shape(v, &b[k], &format!("{path}.{k}"));
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            if let (Some(x), Some(y)) = (a.first(), b.first()) {
                assert_same_shape(x, y, &format!("{path}[0]"));
            }
        }
        (Value::Number(_), Value::Number(_)) => {}
        (a, b) => assert_eq!(
            std::mem::discriminant(a),
            std::mem::discriminant(b),
            "type differs at {path}: recorded {a}, ours {b}"
        ),
    }
}

/// Raw HTTP/1.1 exchange on a real socket: returns everything the server
/// wrote until it closed the connection (bounded by `limit`).
pub async fn raw_exchange(
    addr: std::net::SocketAddr,
    request: &str,
    limit: Duration,
) -> (Vec<u8>, bool) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(request.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    let closed = tokio::time::timeout(limit, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return true,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .unwrap_or(false);
    (out, closed)
}
