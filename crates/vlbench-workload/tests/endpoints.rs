//! Endpoint and parameter mapping checked against requests recorded from a
//! real VictoriaLogs (tests/fixtures, copied from the shared fixture set):
//! rendering the equivalent `QueryDef` gives the same path and the same
//! decoded parameters, times compared as the instants they mean.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::rngs::SmallRng;
use rand::SeedableRng;
use serde_json::Value;
use vlbench_workload::{QueryDef, QueryParams, QueryType, Template, TimeValue, Workload};

/// The recorded requests that VictoriaLogs answered with 200.
const ACCEPTED: &[&str] = &[
    "query_start_end_rfc3339",
    "query_start_end_unix",
    "query_start_relative",
    "hits_1h_step10m",
    "stats_range_by_level",
    "stats_range_no_step",
    "field_values_level",
    "field_names",
    "streams",
    "query_spec_template_job",
    "query_status_4xx_5xx_regexp",
    "stats_level_error_count",
    "stats_status_4xx_5xx_prefix_phrase",
];

fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn recorded_params(request: &Value) -> BTreeMap<String, String> {
    request["params"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect()
}

/// The QueryDef a user would write for the recorded request.
fn def_for(name: &str, path: &str, params: &BTreeMap<String, String>) -> QueryDef {
    let time = |k: &str| params.get(k).map(|v| TimeValue::parse(v).unwrap());
    QueryDef {
        name: name.to_owned(),
        category: None,
        qtype: QueryType::from_path(path).unwrap_or_else(|| panic!("{name}: path {path}")),
        template: Template::parse(&params["query"], Path::new(".")).unwrap(),
        params: QueryParams {
            start: time("start"),
            end: time("end"),
            limit: params.get("limit").map(|v| v.parse().unwrap()),
            step: params.get("step").cloned(),
            field: params.get("field").cloned(),
        },
        weight: 1,
    }
}

fn decode(query_string: &str) -> BTreeMap<String, String> {
    form_urlencoded::parse(query_string.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn instant(v: &str, now: SystemTime) -> (i64, u32) {
    TimeValue::parse(v).unwrap().resolve(now)
}

#[test]
fn rendered_requests_match_the_recorded_ones() {
    let now = UNIX_EPOCH + Duration::from_secs(1_795_579_803);
    let mut rng = SmallRng::seed_from_u64(7);
    let mut out = String::new();
    for name in ACCEPTED {
        let fx = fixture(name);
        assert_eq!(fx["response"]["status"], 200, "{name}");
        let req = &fx["request"];
        let path = req["path"].as_str().unwrap();
        let recorded = recorded_params(req);
        let url = req["url"].as_str().unwrap();
        // The fixture's own URL decodes to its params (sanity of the comparison).
        let (url_path, url_query) = url.split_once('?').unwrap();
        assert_eq!(url_path, path, "{name}");
        assert_eq!(decode(url_query), recorded, "{name}");

        let w = Workload::new(vec![def_for(name, path, &recorded)]).unwrap();
        w.render_request(0, &mut rng, now, &mut out);
        let (ours_path, ours_query) = out.split_once('?').unwrap();
        assert_eq!(ours_path, path, "{name}");
        let ours = decode(ours_query);
        assert_eq!(
            ours.keys().collect::<Vec<_>>(),
            recorded.keys().collect::<Vec<_>>(),
            "{name}"
        );
        for (k, v) in &recorded {
            if k == "start" || k == "end" {
                // We send resolved unix seconds, a form VictoriaLogs accepted
                // (query_start_end_unix); the instant must be the same.
                assert!(
                    ours[k].bytes().all(|b| b.is_ascii_digit()),
                    "{name}: {k}={}",
                    ours[k]
                );
                assert_eq!(instant(&ours[k], now), instant(v, now), "{name}: {k}");
            } else {
                assert_eq!(&ours[k], v, "{name}: {k}");
            }
        }
    }
}

#[test]
fn encoding_escapes_what_logsql_uses() {
    let fx = fixture("query_status_4xx_5xx_regexp");
    let recorded = recorded_params(&fx["request"]);
    let w = Workload::new(vec![def_for("re", "/select/logsql/query", &recorded)]).unwrap();
    let mut out = String::new();
    w.render_request(0, &mut SmallRng::seed_from_u64(1), UNIX_EPOCH, &mut out);
    let query = out.split_once('?').unwrap().1;
    for raw in ['"', ':', '\'', '[', ']', '|', ' ', '&', '#', '+'] {
        assert!(
            !query.contains(raw) || raw == '&',
            "{raw:?} left raw in {query}"
        );
    }
    assert_eq!(query.matches('&').count(), 1, "{query}");
}

#[test]
fn form_body_matches_the_recorded_post() {
    let fx = fixture("query_post_form");
    let req = &fx["request"];
    assert_eq!(req["method"], "POST");
    let recorded = recorded_params(req);
    let path = req["path"].as_str().unwrap();
    let w = Workload::new(vec![def_for("post", path, &recorded)]).unwrap();
    let mut body = String::new();
    w.render_form_body(0, &mut SmallRng::seed_from_u64(1), UNIX_EPOCH, &mut body);
    assert_eq!(decode(&body), decode(req["body"].as_str().unwrap()));
    assert_eq!(decode(&body), recorded);
    assert_eq!(w.path(0), Some(path));
}

#[test]
fn values_victorialogs_rejects_are_rejected_at_parse_time() {
    let fx = fixture("query_bad_start");
    assert_eq!(fx["response"]["status"], 400);
    let start = fx["request"]["params"]["start"].as_str().unwrap();
    let err = TimeValue::parse(start).unwrap_err().to_string();
    assert!(err.contains(start), "{err}");
}
