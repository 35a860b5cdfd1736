//! Replays recorded VictoriaLogs requests against the router and compares
//! the answers field by field: status, content type, headers, JSON shape
//! (keys and types, not data values) and error message texts.

mod common;

use common::*;
use serde_json::Value;

/// Fixtures whose request the router answers the same way (no knobs).
const REPLAYED: &[&str] = &[
    "health",
    "unknown_endpoint_root",
    "unknown_endpoint_select",
    "query_empty",
    "query_bad_limit",
    "query_bad_start",
    "query_syntax_error",
    "query_pipe_limit_only",
    "query_fields_pipe",
    "query_sort_desc",
    "query_post_json_body",
    "query_post_form",
    "query_star_limit",
    "query_fields_pipe_with_filter",
    "query_no_limit_streaming",
    "query_sort_desc_with_filter",
    "query_spec_template_job",
    "query_spec_template_status_4xx_5xx",
    "query_status_4xx_5xx_prefix_phrase",
    "query_status_4xx_5xx_regexp",
    "query_syntax_error_unknown_pipe",
    "query_time5m_error",
    "query_regexp_timeout",
    "query_start_end_rfc3339",
    "query_start_end_unix",
    "query_start_relative",
    "field_values_missing_field",
    "field_names",
    "field_values_level",
    "streams",
    "hits_1h_step10m",
    "hits_by_field",
    "stats_by_namespace_1h",
    "stats_level_error_count",
    "stats_multi_func",
    "stats_query_syntax_error",
    "stats_query_without_stats_pipe",
    "parsed_form_spec_template_status",
    "parsed_form_unknown_pipe",
    "stats_range_bad_step",
    "stats_range_by_level",
    "stats_range_no_step",
    "stats_status_4xx_5xx_prefix_phrase",
    "stats_status_4xx_5xx_regexp",
    "tenant_1_2_count",
    "tenant_bad_header",
    "tenant_default_count",
    "tenant_unknown_count",
];

const IGNORED_HEADERS: &[&str] = &["date", "content-length", "transfer-encoding"];

fn check(name: &str, fx: &Value, ours: &Resp) {
    let theirs = &fx["response"];
    assert_eq!(
        u64::from(ours.status),
        theirs["status"].as_u64().unwrap(),
        "{name}: status; body {}",
        ours.body
    );
    let th = theirs["headers"].as_object().unwrap();
    let ctype = ours
        .headers
        .get("content-type")
        .map(|v| v.to_str().unwrap());
    assert_eq!(ctype, th["content-type"].as_str(), "{name}: content-type");
    for key in th.keys().filter(|k| !IGNORED_HEADERS.contains(&k.as_str())) {
        assert!(
            ours.headers.contains_key(key.as_str()),
            "{name}: header {key} missing"
        );
    }
    for key in ours
        .headers
        .keys()
        .filter(|k| !IGNORED_HEADERS.contains(&k.as_str()))
    {
        assert!(th.contains_key(key.as_str()), "{name}: extra header {key}");
    }
    // Framing: small bodies carry a Content-Length, bigger ones are chunked.
    let small = ours.body.len() <= 2048;
    assert_eq!(
        ours.exact_len.is_some(),
        small,
        "{name}: framing for {} bytes",
        ours.body.len()
    );
    let body = theirs["body"].as_str().unwrap();
    match (ctype.unwrap(), ours.status) {
        ("text/plain; charset=utf-8", _) => assert_eq!(ours.body, body, "{name}: text body"),
        ("application/json", 422) => assert_eq!(ours.body, body, "{name}: 422 error body"),
        ("application/json", _) => {
            let t: Value = serde_json::from_str(body).unwrap();
            let o: Value = serde_json::from_str(&ours.body)
                .unwrap_or_else(|e| panic!("{name}: {e}: {}", ours.body));
            assert_same_shape(&t, &o, name);
        }
        ("application/stream+json", _) => {
            assert_eq!(
                body.is_empty(),
                ours.body.is_empty(),
                "{name}: empty vs non-empty result"
            );
            for line in ours.body.lines() {
                let o: Value =
                    serde_json::from_str(line).unwrap_or_else(|e| panic!("{name}: {e}: {line}"));
                let mut t: Value = serde_json::from_str(body.lines().next().unwrap()).unwrap();
                // Journal rows carry no `trace_id`, in the recorded data set
                // (`gen_logs.py`) as in ours; which row `* | limit 1` meets
                // depends on the clock, so such a row is compared without it.
                if o["job"] == "loki.source.journal" {
                    if let Some(obj) = t.as_object_mut() {
                        obj.remove("trace_id");
                    }
                }
                assert_same_shape(&t, &o, name);
            }
        }
        (other, _) => panic!("{name}: unexpected content type {other}"),
    }
}

#[tokio::test]
async fn every_recorded_request_gets_the_recorded_shape() {
    let st = state(small_config());
    for name in REPLAYED {
        let fx = fixture(name);
        let ours = oneshot(&st, fixture_request(&fx)).await;
        check(name, &fx, &ours);
    }
}

#[tokio::test]
async fn metrics_has_every_recorded_select_series() {
    let st = state(small_config());
    let fx = fixture("metrics_query_counters");
    let ours = get(&st, "/metrics", &[]).await;
    assert_eq!(ours.status, 200);
    assert_eq!(ours.headers["content-type"], "text/plain; charset=utf-8");
    let theirs = format!(
        "{}{}",
        fx["response"]["body"].as_str().unwrap(),
        fx["response"]["body_tail_last_1KiB"].as_str().unwrap()
    );
    let served = [
        "query",
        "stats_query",
        "stats_query_range",
        "hits",
        "field_names",
        "field_values",
        "streams",
    ];
    let mut checked = 0;
    for line in theirs.lines() {
        let series = line.split(' ').next().unwrap();
        let relevant = series.starts_with("vl_concurrent_select")
            || served
                .iter()
                .any(|p| series.contains(&format!("path=\"/select/logsql/{p}\"")));
        if relevant && !series.contains("quantile") {
            assert!(
                ours.body
                    .lines()
                    .any(|l| l.starts_with(&format!("{series} "))),
                "missing {series}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 15, "only {checked} series compared");
    for name in [
        "vlbench_target_aborted_streams_total",
        "vl_http_errors_total{path=\"/select/logsql/query\"}",
    ] {
        assert!(ours.body.contains(name), "missing {name}");
    }
}

#[tokio::test]
async fn small_bodies_have_content_length_and_big_ones_are_chunked() {
    let st = state(small_config());
    let one = get(&st, "/select/logsql/query", &[("query", "* | limit 1")]).await;
    assert_eq!(one.body.lines().count(), 1);
    assert_eq!(one.exact_len, Some(one.body.len() as u64));
    let many = get(
        &st,
        "/select/logsql/query",
        &[("query", "*"), ("limit", "500")],
    )
    .await;
    assert_eq!(many.body.lines().count(), 500);
    assert_eq!(many.exact_len, None);
    let none = get(
        &st,
        "/select/logsql/query",
        &[("query", "no_such_word_anywhere")],
    )
    .await;
    assert_eq!(
        (none.status, none.exact_len, none.body.as_str()),
        (200, Some(0), "")
    );
}

#[tokio::test]
async fn query_rows_have_the_recorded_fields_in_order() {
    let st = state(small_config());
    let fx = fixture("query_star_limit");
    let theirs: Value = serde_json::from_str(
        fx["response"]["body"]
            .as_str()
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    let ours = get(
        &st,
        "/select/logsql/query",
        &[("query", "job:\"loki.source.kubernetes.pods\" | limit 1")],
    )
    .await;
    let ours: Value = serde_json::from_str(ours.body.lines().next().unwrap()).unwrap();
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&ours), keys(&theirs));
}

#[tokio::test]
async fn errors_of_each_endpoint() {
    let st = state(small_config());
    let r = get(
        &st,
        "/select/logsql/hits",
        &[("query", "*"), ("step", "soon")],
    )
    .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            400,
            "cannot parse step=soon: cannot parse duration \"soon\"\n"
        )
    );
    let r = get(
        &st,
        "/select/logsql/stats_query_range",
        &[("query", "* | stats count()"), ("start", "later")],
    )
    .await;
    assert_eq!(r.status, 422);
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(
        v["error"],
        "cannot parse start=later: cannot parse duration \"later\""
    );
    let r = get(&st, "/select/logsql/streams", &[("query", "i(error)")]).await;
    assert_eq!(r.status, 400);
    assert!(
        r.body
            .starts_with("cannot parse query [i(error)]: filter i() is not supported"),
        "{}",
        r.body
    );
    let r = get(&st, "/select/logsql/query", &[("query", "* | unpack_json")]).await;
    assert_eq!(r.status, 400);
    assert!(
        r.body
            .contains("pipe 'unpack_json' is not supported by vlbench target"),
        "{}",
        r.body
    );
}
