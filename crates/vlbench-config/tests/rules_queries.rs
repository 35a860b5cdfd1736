//! One test per rule on `spec.queries`.

mod common;

use std::time::Duration;

use common::{assert_only_error, check, edited, errors, warnings};
use vlbench_workload::{QueryType, TimeValue};

#[test]
fn queries_are_required() {
    assert_only_error(
        &[("spec.queries", None)],
        "spec.queries: missing; add at least one query with `name` and `template`",
    );
    assert_only_error(
        &[("spec.queries", Some("[]"))],
        "spec.queries: empty; add at least one query with `name` and `template`",
    );
}

#[test]
fn names_are_required_and_unique() {
    assert_only_error(
        &[("spec.queries[1].name", Some("q0"))],
        "spec.queries[1].name: `q0` is already the name of spec.queries[0]; names must be unique",
    );
    assert_only_error(
        &[("spec.queries[1].name", Some("' '"))],
        "spec.queries[1].name: is empty; name the query",
    );
    assert_only_error(
        &[("spec.queries[0].name", None)],
        "spec.queries[0].name: missing; name the query; reports and thresholds refer to it",
    );
}

#[test]
fn weight_must_be_positive() {
    assert_only_error(
        &[("spec.queries[1].weight", Some("0"))],
        "spec.queries[1].weight: must be > 0",
    );
    let config =
        check(&edited(&[("spec.queries[1].weight", Some("7"))])).unwrap_or_else(|e| panic!("{e}"));
    let weights: Vec<u32> = config.workload.queries.iter().map(|q| q.weight).collect();
    assert_eq!(weights, vec![1, 7]);
}

#[test]
fn templates_must_have_a_filter_first() {
    assert_only_error(
        &[("spec.queries[0].template", Some("'  '"))],
        "spec.queries[0].template: is empty; write the LogsQL query, e.g. `_time:5m error` (`*` matches all logs)",
    );
    assert_only_error(
        &[("spec.queries[0].template", Some("'| limit 10'"))],
        "spec.queries[0].template: starts with a pipe: VictoriaLogs answers 400 `missing query`; put a filter first, e.g. `* | ...`",
    );
}

#[test]
fn stats_queries_need_a_stats_pipe() {
    assert_only_error(
        &[("spec.queries[1].template", Some("error"))],
        "spec.queries[1].template: a `stats`/`stats_range` query needs a `| stats ...` pipe (VictoriaLogs answers 422 otherwise), e.g. `error | stats count() hits`",
    );
}

#[test]
fn template_syntax_errors_come_from_the_workload_crate_with_the_path() {
    let got = errors(&edited(&[(
        "spec.queries[0].template",
        Some("'level:{{ int 5 1 }}'"),
    )]));
    assert_eq!(got.len(), 1);
    assert!(
        got[0].starts_with("spec.queries[0].template: template placeholder `{{ int 5 1 }}`"),
        "{got:?}"
    );
}

#[test]
fn template_value_files_are_relative_to_the_config_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("pods.txt"), "a\nb\n").expect("write");
    let yaml = edited(&[(
        "spec.queries[0].template",
        Some(r#"'pod:{{ file "pods.txt" }}'"#),
    )]);
    assert!(common::check_in(&yaml, dir.path()).is_ok());
    let got = common::check(&yaml)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        got.starts_with("spec.queries[0].template: template value file ./pods.txt: cannot read it"),
        "{got}"
    );
}

#[test]
fn type_must_be_a_known_endpoint() {
    assert_only_error(
        &[("spec.queries[1].type", Some("stat"))],
        "spec.queries[1].type: unknown query type `stat`; did you mean `stats`?",
    );
}

#[test]
fn field_values_needs_a_field() {
    let edits = [("spec.queries[0].type", Some("field_values"))];
    assert_only_error(&edits, "spec.queries[0].params.field: missing; `field_values` lists the values of one field, e.g. `level`");
    let config = check(&edited(&[
        edits[0],
        ("spec.queries[0].params", Some("{field: level}")),
    ]))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.workload.queries[0].qtype, QueryType::FieldValues);
    assert_eq!(
        config.workload.queries[0].params.field.as_deref(),
        Some("level")
    );
}

#[test]
fn step_only_for_stats_range_and_hits() {
    assert_only_error(
        &[("spec.queries[0].params", Some("{step: 5m}"))],
        "spec.queries[0].params.step: only for `stats_range` and `hits` queries",
    );
    let hits = [("spec.queries[0].type", Some("hits"))];
    assert_only_error(
        &[hits[0], ("spec.queries[0].params", Some("{step: 5 min}"))],
        "spec.queries[0].params.step: invalid duration `5 min`: unknown unit `min`; use ms, s, m, h, d or w",
    );
    assert_only_error(
        &[hits[0], ("spec.queries[0].params", Some("{step: 0}"))],
        "spec.queries[0].params.step: must be > 0 (VictoriaLogs answers 422 for a zero step)",
    );
    let config = check(&edited(&[
        hits[0],
        ("spec.queries[0].params", Some("{step: 90}")),
    ]))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        config.workload.queries[0].params.step.as_deref(),
        Some("1m30s")
    );
}

#[test]
fn limit_must_be_positive() {
    assert_only_error(
        &[("spec.queries[0].params", Some("{limit: 0}"))],
        "spec.queries[0].params.limit: must be > 0",
    );
}

#[test]
fn start_and_end_are_time_values_in_order() {
    let config = check(&edited(&[(
        "spec.queries[0].params",
        Some("{start: -1h, end: now}"),
    )]))
    .unwrap_or_else(|e| panic!("{e}"));
    let params = &config.workload.queries[0].params;
    assert_eq!(
        (params.start, params.end),
        (
            Some(TimeValue::Relative(Duration::from_secs(3600))),
            Some(TimeValue::Now)
        )
    );
    let got = errors(&edited(&[(
        "spec.queries[0].params",
        Some("{start: yesterday}"),
    )]));
    assert_eq!(got.len(), 1);
    assert!(
        got[0].starts_with("spec.queries[0].params.start: invalid time value \"yesterday\""),
        "{got:?}"
    );
    assert_only_error(
        &[("spec.queries[0].params", Some("{start: now, end: -1h}"))],
        "spec.queries[0].params.start: must be before `end`",
    );
    let config = check(&edited(&[(
        "spec.queries[0].params",
        Some("{start: 1700000000, end: '2024-01-01T00:00:00Z'}"),
    )]));
    assert!(config.is_ok());
}

#[test]
fn broken_msg_wildcard_is_a_warning_not_an_error() {
    let yaml = edited(&[(
        "spec.queries[0].template",
        Some(r#"'_msg:*"status":5* OR _msg:*"status":4*'"#),
    )]);
    let got = warnings(&yaml);
    assert_eq!(got.len(), 1);
    assert!(
        got[0].starts_with(r#"spec.queries[0].template: `_msg:*"status":5*` parses in VictoriaLogs but matches nothing"#),
        "{got:?}"
    );
    assert!(
        got[0].contains(r#"_msg:'"status":5'*"#)
            && got[0].contains(r#"_msg:~'"status":[45][0-9][0-9]'"#)
    );
}

#[test]
fn field_on_other_types_is_a_warning() {
    let got = warnings(&edited(&[(
        "spec.queries[0].params",
        Some("{field: level}"),
    )]));
    assert_eq!(got, vec!["spec.queries[0].params.field: `query` queries ignore `field`; it is used by `field_values` and `hits`"]);
}
