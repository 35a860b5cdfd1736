//! Loading from a file, and command-line overrides.

mod common;

use std::time::Duration;

use common::{edited, BASE};
use vlbench_config::{load, load_with, Overrides};

#[test]
fn load_reads_the_file_and_resolves_relative_files_next_to_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("levels.txt"), "error\nwarn\n").expect("write");
    let yaml = edited(&[(
        "spec.queries[0].template",
        Some(r#"'level:{{ file "levels.txt" }}'"#),
    )]);
    let path = dir.path().join("bench.yaml");
    std::fs::write(&path, yaml).expect("write");
    let config = load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.base_dir, dir.path());
}

#[test]
fn a_missing_file_is_one_clear_error() {
    let err = load(std::path::Path::new("/nonexistent/bench.yaml")).expect_err("missing file");
    assert_eq!(err.errors.len(), 1);
    assert!(
        err.to_string()
            .starts_with("cannot read benchmark file `/nonexistent/bench.yaml`: "),
        "{err}"
    );
}

#[test]
fn overrides_apply_before_validation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bench.yaml");
    std::fs::write(&path, BASE).expect("write");
    let overrides = Overrides {
        duration: Some(Duration::from_secs(90)),
        target_url: Some("http://10.0.0.1:9428".into()),
        ..Default::default()
    };
    let config = load_with(&path, &overrides).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.schedule.duration(), Duration::from_secs(90));
    assert_eq!(config.target.url.to_string(), "http://10.0.0.1:9428/");
    // The raw file records the effective values, for the report.
    assert_eq!(
        config.redacted_json()["spec"]["workload"]["duration"],
        "1m30s"
    );
}

#[test]
fn a_bad_override_names_the_flag() {
    let yaml = edited(&[
        ("spec.workload.ramp_up_time", Some("30s")),
        ("spec.workload.duration", Some("1m")),
    ]);
    let overrides = Overrides {
        duration: Some(Duration::from_secs(10)),
        ..Default::default()
    };
    let err = vlbench_config::from_str_with_env(
        &yaml,
        std::path::Path::new("."),
        &overrides,
        &common::env(),
    )
    .expect_err("ramp-up longer than the overridden duration");
    assert_eq!(
        err.to_string(),
        "spec.workload.ramp_up_time: must be <= `duration` (10s); the ramp-up is part of the run"
    );
    let overrides = Overrides {
        target_url: Some("localhost".into()),
        ..Default::default()
    };
    let err = vlbench_config::from_str_with_env(
        BASE,
        std::path::Path::new("."),
        &overrides,
        &common::env(),
    )
    .err();
    assert_eq!(
        err.map(|e| e.to_string()).as_deref(),
        Some("spec.target.url: must start with `http://` or `https://` and name a host, e.g. `http://127.0.0.1:9428` (set by --target)")
    );
}
