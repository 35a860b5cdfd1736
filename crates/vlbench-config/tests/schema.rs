//! Key and type checks, YAML syntax errors, and one-pass reporting.

mod common;

use common::{check, edited, errors, BASE};

#[test]
fn unknown_key_gets_the_closest_known_key() {
    let yaml = BASE.replace("total_concurrent_users", "total_users");
    assert_eq!(
        errors(&yaml),
        vec![
            // The walk removes the unknown key, so the missing one is reported too.
            "spec.workload.total_concurrent_users: missing; set the number of concurrent users (or give `stages`)",
            "spec.workload.total_users: unknown field; did you mean `total_concurrent_users`?",
        ]
    );
}

#[test]
fn unknown_keys_are_rejected_at_every_level() {
    let got = errors(&edited(&[
        ("spec.queries[0].wieght", Some("2")),
        ("spec.target.tls", Some("{insecure: true}")),
        ("spec.extra", Some("1")),
        ("metadata.nmae", Some("x")),
    ]));
    assert_eq!(
        got,
        vec![
            "metadata.nmae: unknown field; did you mean `name`?",
            "spec.extra: unknown field; expected one of `target`, `workload`, `queries`, `workers`, `reporting`, `thresholds`",
            "spec.queries[0].wieght: unknown field; did you mean `weight`?",
            "spec.target.tls.insecure: unknown field; did you mean `insecure_skip_verify`?",
        ]
    );
}

#[test]
fn misplaced_key_names_its_home() {
    let got = errors(&edited(&[("spec.ramp_up_time", Some("5s"))]));
    assert_eq!(
        got,
        vec!["spec.ramp_up_time: unknown field here; `ramp_up_time` belongs under `spec.workload`"]
    );
}

#[test]
fn wrong_types_are_reported_with_paths() {
    let got = errors(&edited(&[
        ("spec.queries[0].weight", Some("heavy")),
        ("spec.target.http2", Some("'yes'")),
        ("spec.reporting.formats", Some("json")),
    ]));
    assert_eq!(
        got,
        vec![
            "spec.queries[0].weight: expected a whole number, found text",
            "spec.reporting.formats: expected a list, found text",
            "spec.target.http2: expected `true` or `false`, found text",
        ]
    );
}

#[test]
fn yaml_syntax_errors_have_line_and_column() {
    let got = errors("apiVersion: x\nspec:\n  target: [\n");
    assert_eq!(got.len(), 1);
    assert!(got[0].starts_with("YAML syntax error at line "), "{got:?}");
    assert!(got[0].contains(", column "), "{got:?}");
    let got = errors("a: 1\na: 2\n");
    assert_eq!(
        got,
        vec!["YAML syntax error at line 1, column 1: duplicate entry with key \"a\""]
    );
}

#[test]
fn empty_file_says_where_to_start() {
    assert_eq!(
        errors("# nothing\n"),
        vec!["the benchmark file is empty; start from examples/quickstart.yaml"]
    );
}

#[test]
fn every_problem_is_reported_in_one_pass_sorted_by_path() {
    let yaml = r#"
apiVersion: benchmark.victorialogs.io/v1
kind: Benchmark
metadata: {name: x}
spec:
  target: {url: "ftp://x", timeout: 0s}
  workload: {total_concurrent_users: 0, duration: 10s, ramp_up_time: 1m, durration: 1}
  queries:
    - {name: a, template: "| limit 1"}
    - {name: a, template: "x", weight: 0}
    - {name: c, template: "error", type: stats}
    - {name: d, template: "x", type: field_values}
    - {name: e, template: "x", params: {limit: 0, step: 1m}}
    - {name: f, template: "x", weight: 1}
    - {name: g, template: "x"}
    - {name: h, template: "x"}
    - {name: i, template: "x"}
    - {name: j, template: "x"}
    - {name: k, template: "x", weight: -2}
  reporting: {formats: [json, pdf]}
  thresholds: [{metric: p99, max: 1}]
"#;
    let got = errors(yaml);
    assert_eq!(
        got,
        vec![
            "kind: must be `BenchmarkConfig`, found `Benchmark`",
            "spec.queries[0].template: starts with a pipe: VictoriaLogs answers 400 `missing query`; put a filter first, e.g. `* | ...`",
            "spec.queries[1].name: `a` is already the name of spec.queries[0]; names must be unique",
            "spec.queries[1].weight: must be > 0",
            "spec.queries[2].template: a `stats`/`stats_range` query needs a `| stats ...` pipe (VictoriaLogs answers 422 otherwise), e.g. `error | stats count() hits`",
            "spec.queries[3].params.field: missing; `field_values` lists the values of one field, e.g. `level`",
            "spec.queries[4].params.limit: must be > 0",
            "spec.queries[4].params.step: only for `stats_range` and `hits` queries",
            "spec.queries[10].weight: must be > 0",
            "spec.reporting.formats[1]: unknown format `pdf`; use `json`, `csv`, `prometheus` or `html`",
            "spec.target.timeout: must be > 0",
            "spec.target.url: must start with `http://` or `https://`",
            "spec.thresholds[0].metric: unknown metric `p99`; did you mean `p99_response_time`?",
            "spec.workload.durration: unknown field; did you mean `duration`?",
            "spec.workload.ramp_up_time: must be <= `duration` (10s); the ramp-up is part of the run",
            "spec.workload.total_concurrent_users: must be > 0",
        ]
    );
}

#[test]
fn yaml_anchors_and_merge_keys_work() {
    let yaml = BASE.replace(
        "  queries:\n",
        "  queries:\n    - &common {name: m, template: 'error', weight: 2}\n    - <<: *common\n      name: n\n",
    );
    let config = check(&yaml).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.workload.names(), vec!["m", "n", "q0", "q1"]);
    assert_eq!(config.workload.queries[1].weight, 2);
}
