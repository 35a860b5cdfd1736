//! The LogsQL subset over the generated data: every count is compared with
//! one computed independently (plain string operations over the rows).

mod common;

use std::sync::Arc;

use common::*;
use serde_json::Value;
use vlbench_target::data::{Dataset, Level};
use vlbench_target::TargetState;

async fn count(st: &Arc<TargetState>, q: &str) -> u64 {
    let r = get(
        st,
        "/select/logsql/stats_query",
        &[("query", &format!("{q} | stats count() n"))],
    )
    .await;
    assert_eq!(r.status, 200, "{q}: {}", r.body);
    let v: Value = serde_json::from_str(&r.body).unwrap();
    v["data"]["result"][0]["value"][1]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

fn tokens(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|t| !t.is_empty())
}

fn expect(ds: &Dataset, pred: impl Fn(&vlbench_target::data::Row) -> bool) -> u64 {
    ds.rows.iter().filter(|r| pred(r)).count() as u64
}

#[tokio::test]
async fn filter_counts_match_independent_counts() {
    let st = state(small_config());
    let ds = st.dataset((0, 0));
    let ns = |r: &vlbench_target::data::Row| ds.stream_of(r).namespace;
    let cases: Vec<(&str, u64)> = vec![
        ("*", ds.rows.len() as u64),
        ("level:error", expect(&ds, |r| r.level == Level::Error)),
        (
            "error",
            expect(&ds, |r| tokens(&r.msg).any(|t| t == "error")),
        ),
        (
            "_msg:error",
            expect(&ds, |r| tokens(&r.msg).any(|t| t == "error")),
        ),
        (
            "err*",
            expect(&ds, |r| tokens(&r.msg).any(|t| t.starts_with("err"))),
        ),
        (
            "timeout",
            expect(&ds, |r| tokens(&r.msg).any(|t| t == "timeout")),
        ),
        (
            "\"connection refused\"",
            expect(&ds, |r| r.msg.contains("connection refused")),
        ),
        (
            "job:\"loki.source.journal\"",
            expect(&ds, |r| ds.stream_of(r).job == "loki.source.journal"),
        ),
        (
            "namespace:payments AND level:warn",
            expect(&ds, |r| ns(r) == "payments" && r.level == Level::Warn),
        ),
        (
            "namespace:payments level:warn",
            expect(&ds, |r| ns(r) == "payments" && r.level == Level::Warn),
        ),
        ("NOT level:info", expect(&ds, |r| r.level != Level::Info)),
        ("-level:info", expect(&ds, |r| r.level != Level::Info)),
        ("!level:info", expect(&ds, |r| r.level != Level::Info)),
        (
            "(level:error OR level:warn) namespace:auth",
            expect(&ds, |r| r.level >= Level::Warn && ns(r) == "auth"),
        ),
        (
            "namespace:(auth OR checkout)",
            expect(&ds, |r| ns(r) == "auth" || ns(r) == "checkout"),
        ),
        ("~\"timeout.*\"", expect(&ds, |r| r.msg.contains("timeout"))),
        (
            "level:~\"^(warn|error)$\"",
            expect(&ds, |r| r.level >= Level::Warn),
        ),
        ("level:=warn", expect(&ds, |r| r.level == Level::Warn)),
        (
            "pod:=\"none\"",
            expect(&ds, |r| &*ds.stream_of(r).pod == "none"),
        ),
        ("trace_id:*", expect(&ds, |r| r.trace_id.is_some())),
        ("error | frobnicate", 0),
        (
            "error | filter level:warn",
            expect(&ds, |r| {
                tokens(&r.msg).any(|t| t == "error") && r.level == Level::Warn
            }),
        ),
    ];
    for (q, want) in cases {
        assert_eq!(count(&st, q).await, want, "{q}");
    }
}

#[tokio::test]
async fn spec_status_templates() {
    let st = state(small_config());
    let ds = st.dataset((0, 0));
    let want = expect(&ds, |r| {
        r.msg.contains("\"status\":5") || r.msg.contains("\"status\":4")
    });
    assert!(want > 100, "data must contain 4xx/5xx access logs");
    assert_eq!(
        count(&st, "_msg:'\"status\":5'* OR _msg:'\"status\":4'*").await,
        want
    );
    assert_eq!(count(&st, "_msg:~'\"status\":[45][0-9][0-9]'").await, want);
    // The broken spec form parses and matches nothing, as on the real server.
    assert_eq!(
        count(&st, "_msg:*\"status\":5* OR _msg:*\"status\":4*").await,
        0
    );
    let r = get(
        &st,
        "/select/logsql/query",
        &[
            ("query", "_msg:*\"status\":5* OR _msg:*\"status\":4*"),
            ("limit", "5"),
        ],
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (200, ""));
}

#[tokio::test]
async fn time_filters_and_args() {
    let st = state(small_config());
    let ds = st.dataset((0, 0));
    let now = vlbench_target::time::now_ns();
    let sec = 1_000_000_000;
    let in_range = |lo: i64, hi: i64| {
        (0..ds.rows.len())
            .filter(|&i| (lo..=hi).contains(&ds.row_time(now, i)))
            .count() as i64
    };
    let recent = count(&st, "_time:5m").await as i64;
    let want = in_range(now - 300 * sec, now);
    assert!(
        want > 20 && (recent - want).abs() <= 2,
        "_time:5m: {recent} vs {want}"
    );
    let hour = count(&st, "_time:1h error").await as i64;
    assert!(hour > 0 && hour < count(&st, "error").await as i64);
    // Absolute ranges are exact.
    let (lo, hi) = (now - 7200 * sec, now - 3600 * sec);
    let fmt = |t: i64| {
        let mut v = Vec::new();
        vlbench_target::time::push_rfc3339(&mut v, t, true);
        String::from_utf8(v).unwrap()
    };
    let q = format!("_time:[{}, {}]", fmt(lo), fmt(hi));
    assert_eq!(count(&st, &q).await as i64, in_range(lo, hi), "{q}");
    // start/end args: unix seconds, RFC3339 and relative durations agree.
    let st2 = &st;
    let args = |start: String, end: String| async move {
        let r = get(
            st2,
            "/select/logsql/query",
            &[("query", "*"), ("start", &start), ("end", &end)],
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body.lines().count() as i64
    };
    let unix = args(
        ((now - 7200 * sec) / sec).to_string(),
        ((now - 3600 * sec) / sec).to_string(),
    )
    .await;
    let rfc = args(
        fmt((now - 7200 * sec) / sec * sec),
        fmt((now - 3600 * sec) / sec * sec),
    )
    .await;
    assert_eq!(unix, rfc);
    assert_eq!(
        unix,
        in_range(
            (now - 7200 * sec) / sec * sec,
            (now - 3600 * sec) / sec * sec
        )
    );
    let rel = args("10m".into(), "now".into()).await;
    assert!((rel - in_range(now - 600 * sec, now)).abs() <= 2);
}

#[tokio::test]
async fn pipes() {
    let st = state(small_config());
    let ds = st.dataset((0, 0));
    let q = |query: &'static str| {
        let st = Arc::clone(&st);
        async move {
            let r = get(&st, "/select/logsql/query", &[("query", query)]).await;
            assert_eq!(r.status, 200, "{query}: {}", r.body);
            r.body
                .lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(q("* | limit 7").await.len(), 7);
    assert_eq!(q("* | head 3").await.len(), 3);
    assert_eq!(q("level:error | offset 2 | limit 4").await.len(), 4);
    let rows = q("* | fields _time, level | limit 2").await;
    assert_eq!(
        rows[0].as_object().unwrap().keys().collect::<Vec<_>>(),
        ["_time", "level"]
    );
    let desc = q("error | sort by (_time) desc | limit 50").await;
    let times: Vec<&str> = desc.iter().map(|r| r["_time"].as_str().unwrap()).collect();
    assert_eq!(times.len(), 50);
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "not descending");
    let by_ns = q("* | sort by (namespace, _time desc) | limit 5").await;
    assert!(by_ns.iter().all(|r| r["namespace"] == "auth"));
    let stats = q("* | stats by (level) count() hits").await;
    for row in &stats {
        let level = row["level"].as_str().unwrap();
        let want = ds.rows.iter().filter(|r| r.level.as_str() == level).count();
        assert_eq!(row["hits"].as_str().unwrap(), want.to_string(), "{level}");
    }
    assert_eq!(stats.len(), 4);
    let uniq = q("* | stats count_uniq(pod) pods").await;
    let pods: std::collections::HashSet<_> = ds.streams.iter().map(|s| &s.pod).collect();
    assert_eq!(uniq[0]["pods"].as_str().unwrap(), pods.len().to_string());
    let top = q("* | stats by (namespace) count() hits | sort by (hits desc) | limit 2").await;
    assert_eq!(top.len(), 2);
    let h = |r: &Value| r["hits"].as_str().unwrap().parse::<u64>().unwrap();
    assert!(h(&top[0]) >= h(&top[1]));
}

#[tokio::test]
async fn tenants_and_endpoint_counts_agree() {
    let st = state(small_config());
    let tenant = |acc: &'static str| {
        let st = Arc::clone(&st);
        async move {
            let req =
                http::Request::get("/select/logsql/stats_query?query=*+%7C+stats+count()+rows")
                    .header("AccountID", acc)
                    .header("ProjectID", "2")
                    .body(axum::body::Body::empty())
                    .unwrap();
            let r = oneshot(&st, req).await;
            let v: Value = serde_json::from_str(&r.body).unwrap();
            v["data"]["result"][0]["value"][1]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    assert_eq!(tenant("1").await, "2000");
    assert_eq!(tenant("77").await, "0");
    let unknown = http::Request::get("/select/logsql/query?query=*")
        .header("AccountID", "77")
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(oneshot(&st, unknown).await.body, "");

    let total = count(&st, "_time:[-3h, -1h) level:error").await;
    let hits = get(
        &st,
        "/select/logsql/hits",
        &[
            ("query", "level:error"),
            ("start", "3h"),
            ("end", "1h"),
            ("step", "10m"),
        ],
    )
    .await;
    let v: Value = serde_json::from_str(&hits.body).unwrap();
    let hits_total = v["hits"][0]["total"].as_u64().unwrap();
    let sum: u64 = v["hits"][0]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .sum();
    assert_eq!(sum, hits_total);
    assert!(hits_total.abs_diff(total) <= 2, "{hits_total} vs {total}");
    let range = get(
        &st,
        "/select/logsql/stats_query_range",
        &[
            ("query", "level:error | stats count() n"),
            ("start", "3h"),
            ("end", "1h"),
            ("step", "15m"),
        ],
    )
    .await;
    let v: Value = serde_json::from_str(&range.body).unwrap();
    let sum: u64 = v["data"]["result"][0]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[1].as_str().unwrap().parse::<u64>().unwrap())
        .sum();
    assert!(sum.abs_diff(total) <= 2, "{sum} vs {total}");
    let fv = get(
        &st,
        "/select/logsql/field_values",
        &[("query", "*"), ("field", "level")],
    )
    .await;
    let v: Value = serde_json::from_str(&fv.body).unwrap();
    let sum: u64 = v["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["hits"].as_u64().unwrap())
        .sum();
    assert_eq!(sum, 20_000);
    let streams = get(
        &st,
        "/select/logsql/streams",
        &[("query", "namespace:payments"), ("limit", "3")],
    )
    .await;
    let v: Value = serde_json::from_str(&streams.body).unwrap();
    assert_eq!(v["values"].as_array().unwrap().len(), 3);
    assert!(
        v["values"][0]["value"]
            .as_str()
            .unwrap()
            .contains("namespace=\\\"payments\\\"")
            || v["values"][0]["value"]
                .as_str()
                .unwrap()
                .contains("namespace=\"payments\"")
    );
}
