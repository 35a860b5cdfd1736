//! One test per rule on `spec.workload`, and the schedule built from it.

mod common;

use std::time::Duration;

use common::{assert_only_error, check, edited, errors};
use vlbench_workload::{Model, Stage};

const S: fn(u64) -> Duration = Duration::from_secs;

#[test]
fn closed_schedule_ramps_then_holds() {
    let config = check(&edited(&[("spec.workload.ramp_up_time", Some("4s"))]))
        .unwrap_or_else(|e| panic!("{e}"));
    let s = &config.schedule;
    assert_eq!(
        s.model,
        Model::Closed {
            think_time: Duration::ZERO
        }
    );
    assert_eq!(s.initial, 0.0);
    assert_eq!(
        s.stages,
        vec![
            Stage {
                duration: S(4),
                target: 2.0
            },
            Stage {
                duration: S(6),
                target: 2.0
            }
        ]
    );
    assert_eq!(
        (s.duration(), s.rate_cap.clone(), config.max_queued),
        (S(10), None, None)
    );
}

#[test]
fn closed_target_qps_is_a_cap_over_the_whole_run() {
    let config = check(&edited(&[("spec.workload.target_qps", Some("25"))]))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        config.schedule.rate_cap,
        Some(vec![Stage {
            duration: S(10),
            target: 25.0
        }])
    );
    assert_only_error(
        &[("spec.workload.target_qps", Some("0"))],
        "spec.workload.target_qps: must be a number > 0",
    );
}

#[test]
fn users_must_be_positive_for_the_closed_model() {
    assert_only_error(
        &[("spec.workload.total_concurrent_users", Some("0"))],
        "spec.workload.total_concurrent_users: must be > 0",
    );
    assert_only_error(
        &[("spec.workload.total_concurrent_users", None)],
        "spec.workload.total_concurrent_users: missing; set the number of concurrent users (or give `stages`)",
    );
}

#[test]
fn model_is_closed_or_open() {
    assert_only_error(
        &[("spec.workload.model", Some("opne"))],
        "spec.workload.model: unknown model `opne`; did you mean `open`?",
    );
}

#[test]
fn open_model_needs_a_rate_and_rejects_closed_keys() {
    let open = [
        ("spec.workload.model", Some("open")),
        ("spec.workload.total_concurrent_users", None),
    ];
    assert_only_error(
        &open,
        "spec.workload.target_qps: missing; the open model needs an arrival rate (queries per second), or `stages`",
    );
    let mut edits = open.to_vec();
    edits.push(("spec.workload.target_qps", Some("-3")));
    assert_only_error(&edits, "spec.workload.target_qps: must be a number > 0");
    let got = errors(&edited(&[
        ("spec.workload.model", Some("open")),
        ("spec.workload.target_qps", Some("5")),
        ("spec.workload.think_time", Some("1s")),
    ]));
    assert_eq!(
        got,
        vec![
            "spec.workload.think_time: only for `model: closed`; open-model arrivals do not wait for answers",
            "spec.workload.total_concurrent_users: only for `model: closed`; the open model's load is `target_qps` (arrivals per second)",
        ]
    );
}

#[test]
fn open_model_limits_default_and_validate() {
    let open = [
        ("spec.workload.model", Some("open")),
        ("spec.workload.total_concurrent_users", None),
        ("spec.workload.target_qps", Some("40")),
    ];
    let config = check(&edited(&open)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        config.schedule.model,
        Model::Open {
            max_in_flight: 1000
        }
    );
    assert_eq!(
        (config.schedule.initial, config.max_queued),
        (40.0, Some(1000))
    );
    let mut edits = open.to_vec();
    edits.push(("spec.workload.max_in_flight", Some("0")));
    assert_only_error(&edits, "spec.workload.max_in_flight: must be > 0");
    edits.pop();
    edits.push(("spec.workload.max_queued", Some("-1")));
    assert_only_error(&edits, "spec.workload.max_queued: must be >= 0");
    assert_only_error(
        &[("spec.workload.max_in_flight", Some("5"))],
        "spec.workload.max_in_flight: only for `model: open`; closed-model users have one query in flight each",
    );
}

#[test]
fn durations_must_be_positive_and_hold_the_ramp_up() {
    assert_only_error(
        &[("spec.workload.duration", Some("0"))],
        "spec.workload.duration: must be > 0",
    );
    assert_only_error(
        &[("spec.workload.duration", None)],
        "spec.workload.duration: missing; set how long the run lasts, e.g. `10m`",
    );
    assert_only_error(
        &[("spec.workload.duration", Some("10 minutes"))],
        "spec.workload.duration: invalid duration `10 minutes`: unknown unit `minutes`; use ms, s, m, h, d or w",
    );
    assert_only_error(
        &[("spec.workload.ramp_up_time", Some("11s"))],
        "spec.workload.ramp_up_time: must be <= `duration` (10s); the ramp-up is part of the run",
    );
    assert_only_error(
        &[("spec.workload.think_time", Some("-1s"))],
        "spec.workload.think_time: negative duration `-1s`; durations must be >= 0",
    );
}

#[test]
fn stages_define_the_run() {
    let yaml = edited(&[
        ("spec.workload.total_concurrent_users", None),
        ("spec.workload.duration", None),
        ("spec.workload.ramp_up_time", Some("5s")),
        (
            "spec.workload.stages",
            Some("[{duration: 1m, users: 10}, {duration: 30s, users: 0}]"),
        ),
    ]);
    let config = check(&yaml).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.schedule.initial, 0.0);
    assert_eq!(
        config.schedule.stages,
        vec![
            Stage {
                duration: S(5),
                target: 10.0
            },
            Stage {
                duration: S(60),
                target: 10.0
            },
            Stage {
                duration: S(30),
                target: 0.0
            },
        ]
    );
}

#[test]
fn stages_conflict_with_duration_and_users() {
    let got = errors(&edited(&[(
        "spec.workload.stages",
        Some("[{duration: 1m, users: 10}]"),
    )]));
    let conflict = "conflicts with `stages`: when stages are given they define the run; remove one";
    assert_eq!(
        got,
        vec![
            format!("spec.workload.duration: {conflict}"),
            format!("spec.workload.total_concurrent_users: {conflict}")
        ]
    );
}

fn staged(stages: &str) -> Vec<(&'static str, Option<&str>)> {
    vec![
        ("spec.workload.total_concurrent_users", None),
        ("spec.workload.duration", None),
        ("spec.workload.stages", Some(stages)),
    ]
}

#[test]
fn stage_items_need_a_duration_and_the_models_value() {
    assert_only_error(
        &staged("[]"),
        "spec.workload.stages: empty; give at least one `{duration, users}` (closed) or `{duration, target_qps}` (open), or remove `stages`",
    );
    assert_only_error(
        &staged("[{duration: 1m, users: 3}, {users: 4}]"),
        "spec.workload.stages[1].duration: missing; set how long this stage lasts",
    );
    assert_only_error(
        &staged("[{duration: 1m}]"),
        "spec.workload.stages[0].users: missing; set the number of users reached at the end of this stage",
    );
    assert_only_error(
        &staged("[{duration: 1m, users: 2, target_qps: 5}]"),
        "spec.workload.stages[0].target_qps: not for `model: closed`; closed-model stages set `users`",
    );
    assert_only_error(
        &staged("[{duration: 1m, users: 0}]"),
        "spec.workload.stages: no stage applies any load; give at least one stage a value > 0",
    );
    assert_only_error(
        &staged("[{duration: 0s, users: 1}]"),
        "spec.workload.stages[0].duration: must be > 0",
    );
}

#[test]
fn open_stages_use_target_qps() {
    let mut edits = staged("[{duration: 1m, target_qps: 5}, {duration: 1m, users: 3}]");
    edits.push(("spec.workload.model", Some("open")));
    assert_only_error(
        &edits,
        "spec.workload.stages[1].users: not for `model: open`; open-model stages set `target_qps`",
    );
}
