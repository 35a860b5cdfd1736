//! Every file in examples/ validates, without warnings, and means what its
//! comments say.

mod common;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use vlbench_config::{from_str_with_env, Overrides, ReportFormat, StorageKind, ValidatedConfig};
use vlbench_workload::{Model, QueryType};

fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn example(name: &str) -> ValidatedConfig {
    let dir = examples_dir();
    let text = std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let env = HashMap::from([("VLBENCH_TARGET_TOKEN".to_string(), "t".to_string())]);
    let config = from_str_with_env(&text, &dir, &Overrides::default(), &env)
        .unwrap_or_else(|e| panic!("{name}:\n{e}"));
    assert!(config.warnings.is_empty(), "{name}: {:?}", config.warnings);
    config
}

#[test]
fn every_example_is_covered() {
    let mut names: Vec<String> = std::fs::read_dir(examples_dir())
        .expect("examples/")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            "distributed.yaml",
            "open-model.yaml",
            "quickstart.yaml",
            "stages.yaml"
        ]
    );
}

#[test]
fn quickstart() {
    let c = example("quickstart.yaml");
    assert_eq!(c.name, "quickstart");
    assert_eq!(c.target.url.to_string(), "http://127.0.0.1:9428/");
    assert_eq!(
        c.schedule.model,
        Model::Closed {
            think_time: Duration::ZERO
        }
    );
    assert_eq!(
        (c.schedule.duration(), c.schedule.initial),
        (Duration::from_secs(30), 0.0)
    );
    assert_eq!(c.schedule.value_at(Duration::from_secs(10)), 8.0);
    let types: Vec<QueryType> = c.workload.queries.iter().map(|q| q.qtype).collect();
    assert_eq!(
        types,
        vec![
            QueryType::Query,
            QueryType::Query,
            QueryType::Stats,
            QueryType::Hits,
            QueryType::FieldValues
        ]
    );
    assert_eq!(
        c.workload.queries[1].template.source(),
        r#"_msg:'"status":5'* OR _msg:'"status":4'*"#
    );
    assert_eq!(c.reporting.storage.path, PathBuf::from("./results"));
    assert_eq!(c.thresholds.len(), 2);
}

#[test]
fn open_model() {
    let c = example("open-model.yaml");
    assert_eq!(c.schedule.model, Model::Open { max_in_flight: 200 });
    assert_eq!(c.max_queued, Some(100));
    assert_eq!(c.schedule.duration(), Duration::from_secs(120));
    assert_eq!(c.schedule.value_at(Duration::from_secs(60)), 50.0);
    assert_eq!(
        c.target.tenant.map(|t| (t.account_id, t.project_id)),
        Some((0, 0))
    );
}

#[test]
fn stages() {
    let c = example("stages.yaml");
    assert_eq!(
        c.schedule.duration(),
        Duration::from_secs(10 + 30 + 60 + 30 + 10)
    );
    assert_eq!(c.schedule.value_at(Duration::from_secs(25)), 4.0);
    assert_eq!(c.schedule.value_at(Duration::from_secs(130)), 32.0);
    assert!(c.schedule.rate_cap.is_some());
    assert_eq!(c.reporting.formats.last(), Some(&ReportFormat::Html));
    assert_eq!(
        c.labels.get("team").map(String::as_str),
        Some("observability")
    );
}

#[test]
fn distributed() {
    let c = example("distributed.yaml");
    let workers = c.workers.expect("workers");
    assert_eq!(
        (workers.replicas, workers.start_timeout),
        (5, Duration::from_secs(120))
    );
    assert_eq!(workers.resources.requests.memory.as_deref(), Some("1Gi"));
    assert_eq!(c.schedule.duration(), Duration::from_secs(600));
    assert_eq!(c.reporting.storage.kind, StorageKind::PersistentVolume);
    assert!(c
        .target
        .headers
        .iter()
        .any(|h| h.name == "Authorization" && h.value.is_secret()));
}
