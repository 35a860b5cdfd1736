//! `report.prom`: valid Prometheus text exposition format with the
//! report's numbers.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{report, report_with_nodes, ODD_NAME};
use vlbench_report::render_prom;
use vlbench_stats::ErrorClass;

/// One parsed sample: name, labels, value.
type Sample = (String, BTreeMap<String, String>, f64);

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Parses `{k="v",...}` (with `\\`, `\"`, `\n` escapes) and returns the
/// labels and the rest of the line.
fn parse_labels(s: &str) -> (BTreeMap<String, String>, &str) {
    let mut labels = BTreeMap::new();
    let Some(mut rest) = s.strip_prefix('{') else {
        return (labels, s);
    };
    loop {
        if let Some(r) = rest.strip_prefix('}') {
            return (labels, r);
        }
        let eq = rest.find("=\"").expect("label needs =\"");
        let key = &rest[..eq];
        assert!(
            is_name(key) && !key.starts_with("__"),
            "bad label name {key:?}"
        );
        let mut value = String::new();
        let mut chars = rest[eq + 2..].char_indices();
        let end = loop {
            match chars.next().expect("unterminated label value") {
                (_, '\\') => match chars.next().expect("dangling escape").1 {
                    '\\' => value.push('\\'),
                    '"' => value.push('"'),
                    'n' => value.push('\n'),
                    c => panic!("bad escape \\{c}"),
                },
                (i, '"') => break eq + 2 + i + 1,
                (_, '\n') => panic!("raw line break in label value"),
                (_, c) => value.push(c),
            }
        };
        assert!(
            labels.insert(key.to_string(), value).is_none(),
            "duplicate label {key}"
        );
        rest = &rest[end..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
}

/// Validates the text format's rules and returns the samples: HELP/TYPE
/// before a family's samples, one TYPE per family, families contiguous,
/// counters named `_total`, summaries with quantile/_sum/_count.
fn parse_prom(text: &str) -> Vec<Sample> {
    assert!(text.ends_with('\n'));
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut helped = BTreeSet::new();
    let mut current: Option<String> = None;
    let mut finished = BTreeSet::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap();
            assert!(
                is_name(name) && helped.insert(name.to_string()),
                "bad or repeated HELP: {line}"
            );
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(
                ["counter", "gauge", "summary", "histogram", "untyped"].contains(&kind),
                "{line}"
            );
            assert!(
                types.insert(name.to_string(), kind.to_string()).is_none(),
                "repeated TYPE: {line}"
            );
            if kind == "counter" {
                assert!(name.ends_with("_total"), "counter without _total: {name}");
            }
            if let Some(prev) = current.replace(name.to_string()) {
                finished.insert(prev);
            }
            continue;
        }
        assert!(
            !line.starts_with('#') && !line.is_empty(),
            "unexpected line {line:?}"
        );
        let name_end = line.find(['{', ' ']).unwrap();
        let name = &line[..name_end];
        assert!(is_name(name), "bad metric name {name:?}");
        let (labels, rest) = parse_labels(&line[name_end..]);
        let value: f64 = match rest.trim_start() {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        let family = current.as_deref().expect("sample before any TYPE");
        assert!(!finished.contains(family));
        let ok = match types[family].as_str() {
            "summary" => {
                name == family && labels.contains_key("quantile")
                    || name == format!("{family}_sum")
                    || name == format!("{family}_count")
            }
            _ => name == family,
        };
        assert!(ok, "sample {name} does not belong to family {family}");
        samples.push((name.to_string(), labels, value));
    }
    assert!(
        types.keys().all(|t| helped.contains(t)),
        "every family has HELP"
    );
    samples
}

fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let want: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    samples
        .iter()
        .find(|(n, l, _)| n == name && *l == want)
        .unwrap_or_else(|| panic!("no {name} {labels:?}"))
        .2
}

#[test]
fn prom_text_is_valid_and_matches_the_report() {
    let r = report();
    let samples = parse_prom(&render_prom(&r));
    assert_eq!(
        value(&samples, "vlbench_queries_total", &[("query", "fast")]),
        270.0
    );
    assert_eq!(
        value(
            &samples,
            "vlbench_queries_failed_total",
            &[("query", ODD_NAME)]
        ),
        30.0
    );
    assert_eq!(
        value(
            &samples,
            "vlbench_queries_dropped_total",
            &[("query", ODD_NAME)]
        ),
        3.0
    );
    for c in ErrorClass::ALL {
        let expected = if c == ErrorClass::Http5xx { 30.0 } else { 0.0 };
        assert_eq!(
            value(&samples, "vlbench_errors_total", &[("class", c.as_str())]),
            expected
        );
    }
    assert_eq!(
        value(&samples, "vlbench_responses_total", &[("status", "503")]),
        30.0
    );
    let p99 = value(
        &samples,
        "vlbench_response_time_seconds",
        &[("quantile", "0.99")],
    );
    assert_eq!(p99, r.metrics.p99_response_time / 1000.0);
    assert_eq!(
        value(&samples, "vlbench_response_time_seconds_count", &[]),
        300.0
    );
    let p50_fast = value(
        &samples,
        "vlbench_query_response_time_seconds",
        &[("query", "fast"), ("quantile", "0.5")],
    );
    assert!((p50_fast - 0.010).abs() < 0.0001, "{p50_fast}");
    assert_eq!(value(&samples, "vlbench_qps", &[]), 75.0);
    assert_eq!(
        value(&samples, "vlbench_schedule_planned_total", &[]),
        303.0
    );
    assert_eq!(value(&samples, "vlbench_generator_bound", &[]), 0.0);
}

#[test]
fn validator_rejects_broken_text() {
    let broken = [
        "# TYPE x_total counter\n# HELP x_total h\nx_total{a=\"1} 1\n",
        "# HELP x h\n# TYPE x counter\nx 1\n",
        "# HELP x h\n# TYPE x gauge\nx one\n",
        "x 1\n",
    ];
    for text in broken {
        assert!(
            std::panic::catch_unwind(|| parse_prom(text)).is_err(),
            "accepted {text:?}"
        );
    }
}

#[test]
fn node_figures_appear_only_in_distributed_runs() {
    let single = parse_prom(&render_prom(&report()));
    assert!(single
        .iter()
        .all(|(n, _, _)| !n.starts_with("vlbench_node_")));
    let fleet = parse_prom(&render_prom(&report_with_nodes()));
    assert_eq!(
        value(&fleet, "vlbench_node_queries_total", &[("node", "node-a")]),
        100.0
    );
    assert_eq!(
        value(
            &fleet,
            "vlbench_node_queries_failed_total",
            &[("node", "node-b")]
        ),
        20.0
    );
    assert_eq!(
        value(
            &fleet,
            "vlbench_node_response_time_seconds_count",
            &[("node", "node-b")]
        ),
        200.0
    );
}
