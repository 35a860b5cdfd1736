//! Shared helpers: a minimal valid benchmark and edits of it by field path.

#![allow(dead_code)] // each test file uses a different subset

use std::collections::HashMap;
use std::path::Path;

use serde_yaml_ng::{Mapping, Value};
use vlbench_config::{from_str_with_env, ConfigErrors, Overrides, ValidatedConfig};

/// The smallest valid benchmark.
pub const BASE: &str = r#"
apiVersion: benchmark.victorialogs.io/v1
kind: BenchmarkConfig
metadata:
  name: base
spec:
  target:
    url: http://127.0.0.1:9428
  workload:
    total_concurrent_users: 2
    duration: 10s
  queries:
    - name: q0
      template: 'error'
    - name: q1
      template: '_time:5m | stats count()'
      type: stats
"#;

/// An environment with `TOKEN`, `PASSWORD` and `EMPTY` set.
pub fn env() -> HashMap<String, String> {
    HashMap::from([
        ("TOKEN".to_string(), "env-token-value".to_string()),
        ("PASSWORD".to_string(), "env-password-value".to_string()),
        ("EMPTY".to_string(), String::new()),
    ])
}

/// Validates `yaml` with files relative to `base_dir`.
pub fn check_in(yaml: &str, base_dir: &Path) -> Result<ValidatedConfig, ConfigErrors> {
    from_str_with_env(yaml, base_dir, &Overrides::default(), &env())
}

pub fn check(yaml: &str) -> Result<ValidatedConfig, ConfigErrors> {
    check_in(yaml, Path::new("."))
}

/// The base config with edits: `(path, Some(yaml))` sets, `(path, None)`
/// removes. Paths look like `spec.queries[1].weight`.
pub fn edited(edits: &[(&str, Option<&str>)]) -> String {
    let mut doc: Value = serde_yaml_ng::from_str(BASE).expect("BASE is valid YAML");
    for (path, value) in edits {
        let new = value.map(|v| serde_yaml_ng::from_str::<Value>(v).expect("edit is valid YAML"));
        apply(&mut doc, &steps(path), new);
    }
    serde_yaml_ng::to_string(&doc).expect("serializable")
}

enum Step {
    Key(String),
    Index(usize),
}

fn steps(path: &str) -> Vec<Step> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let mut pieces = part.split('[');
        let key = pieces.next().unwrap_or_default();
        if !key.is_empty() {
            out.push(Step::Key(key.to_string()));
        }
        for index in pieces {
            out.push(Step::Index(
                index.trim_end_matches(']').parse().expect("index"),
            ));
        }
    }
    out
}

fn apply(node: &mut Value, steps: &[Step], new: Option<Value>) {
    let (first, rest) = steps.split_first().expect("non-empty path");
    if rest.is_empty() {
        match (first, node, new) {
            (Step::Key(k), Value::Mapping(m), Some(v)) => {
                m.insert(Value::String(k.clone()), v);
            }
            (Step::Key(k), Value::Mapping(m), None) => {
                m.remove(k.as_str());
            }
            (Step::Index(i), Value::Sequence(s), Some(v)) if *i < s.len() => s[*i] = v,
            (Step::Index(_), Value::Sequence(s), Some(v)) => s.push(v),
            (Step::Index(i), Value::Sequence(s), None) => {
                s.remove(*i);
            }
            _ => panic!("cannot apply edit"),
        }
        return;
    }
    let child = match (first, node) {
        (Step::Key(k), Value::Mapping(m)) => m
            .entry(Value::String(k.clone()))
            .or_insert_with(|| Value::Mapping(Mapping::new())),
        (Step::Index(i), Value::Sequence(s)) => &mut s[*i],
        _ => panic!("cannot walk edit path"),
    };
    apply(child, rest, new);
}

/// The error lines (`path: message`) of a config that must fail.
pub fn errors(yaml: &str) -> Vec<String> {
    match check(yaml) {
        Ok(_) => panic!("expected errors, the config validated:\n{yaml}"),
        Err(e) => e.errors.iter().map(ToString::to_string).collect(),
    }
}

/// Asserts that the edited base config fails with exactly this one error.
pub fn assert_only_error(edits: &[(&str, Option<&str>)], expected: &str) {
    let got = errors(&edited(edits));
    assert_eq!(
        got,
        vec![expected.to_string()],
        "edits: {:?}",
        edits.iter().map(|e| e.0).collect::<Vec<_>>()
    );
}

/// The warning lines of a config that must validate.
pub fn warnings(yaml: &str) -> Vec<String> {
    match check(yaml) {
        Ok(c) => c.warnings.iter().map(ToString::to_string).collect(),
        Err(e) => panic!("expected success, got:\n{e}"),
    }
}
