//! Reading a benchmark file: YAML text → generic value → CLI overrides →
//! schema walk → typed raw structs → semantic validation.
//!
//! Owns the order of those steps and the entry points the CLI and the
//! coordinator call. It must not hold rules about values (`validate`) or
//! keys (`schema`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_yaml_ng::{Mapping, Value};

use crate::config::{validate, ValidatedConfig};

use crate::duration::format_duration;
use crate::error::{ConfigErrors, FieldPath, Problems};
use crate::raw;
use crate::schema;
use crate::validate::{Ctx, Environment, ProcessEnvironment};

/// What `load` returns: the validated benchmark.
pub type Loaded = ValidatedConfig;

/// Values the command line sets over the file's, before validation (so a
/// bad override is reported like a bad file value, naming the flag).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--duration`: replaces `spec.workload.duration`.
    pub duration: Option<Duration>,
    /// `--target URL`: replaces `spec.target.url`.
    pub target_url: Option<String>,
    /// Replaces `spec.workload.ramp_up_time` (the demo scales its ramp-up to
    /// a short `--duration`).
    pub ramp_up_time: Option<Duration>,
}

/// Reads and validates the benchmark file at `path`. Relative files it names
/// are resolved against its directory.
pub fn load(path: &Path) -> Result<Loaded, ConfigErrors> {
    load_with(path, &Overrides::default())
}

/// [`load`] with command-line overrides applied first.
pub fn load_with(path: &Path, overrides: &Overrides) -> Result<Loaded, ConfigErrors> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors::single(format!(
            "cannot read benchmark file `{}`: {e}",
            path.display()
        ))
    })?;
    let base_dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    from_str_with(&text, &base_dir, overrides)
}

/// Validates benchmark YAML given as text (e.g. posted to the coordinator);
/// relative files are resolved against `base_dir`.
pub fn from_str(text: &str, base_dir: &Path) -> Result<Loaded, ConfigErrors> {
    from_str_with(text, base_dir, &Overrides::default())
}

/// [`from_str`] with command-line overrides applied first.
pub fn from_str_with(
    text: &str,
    base_dir: &Path,
    overrides: &Overrides,
) -> Result<Loaded, ConfigErrors> {
    from_str_with_env(text, base_dir, overrides, &ProcessEnvironment)
}

/// The full form: overrides, and where `*_env` secrets are looked up (tests
/// pass a map instead of touching the process environment).
pub fn from_str_with_env(
    text: &str,
    base_dir: &Path,
    overrides: &Overrides,
    env: &dyn Environment,
) -> Result<Loaded, ConfigErrors> {
    let mut doc = parse_yaml(text)?;
    let mut problems = Problems::default();
    apply_overrides(&mut doc, overrides, &mut problems);
    schema::check(&mut doc, &mut problems);
    let Some(file) = typed(doc, &mut problems) else {
        let fallback = || ConfigErrors::single("invalid benchmark file");
        return Err(problems.finish().err().unwrap_or_else(fallback));
    };
    let mut ctx = Ctx {
        problems: &mut problems,
        base_dir,
        env,
    };
    let parts = validate(&mut ctx, &file);
    let warnings = problems.finish()?;
    match parts {
        Some(parts) => Ok(parts.into_config(warnings, file, base_dir)),
        // Every failing check records an error, so this is not expected;
        // say so rather than return a half-built config.
        None => Err(ConfigErrors::single(
            "the benchmark file is invalid, but no check said why; please report it",
        )),
    }
}

/// The walked document as typed structs.
fn typed(doc: Value, problems: &mut Problems) -> Option<raw::BenchmarkFile> {
    match serde_path_to_error::deserialize::<_, raw::BenchmarkFile>(doc) {
        Ok(file) => Some(file),
        Err(e) => {
            // Only reachable if the schema tree and the raw structs disagree.
            let path = FieldPath::parse(&e.path().to_string());
            let message = format!(
                "{} (vlbench's schema check missed this; please report it)",
                e.inner()
            );
            problems.prune(&path, message);
            None
        }
    }
}

/// YAML text → value, with merge keys (`<<: *anchor`) applied.
fn parse_yaml(text: &str) -> Result<Value, ConfigErrors> {
    let mut doc: Value = serde_yaml_ng::from_str(text).map_err(|e| {
        let at = e
            .location()
            .map(|l| format!(" at line {}, column {}", l.line(), l.column()))
            .unwrap_or_default();
        let message = e.to_string();
        // The library appends its own location; keep one.
        let message = message.split(" at line ").next().unwrap_or(&message);
        ConfigErrors::single(format!("YAML syntax error{at}: {message}"))
    })?;
    if doc.is_null() {
        return Err(ConfigErrors::single(
            "the benchmark file is empty; start from examples/quickstart.yaml",
        ));
    }
    doc.apply_merge()
        .map_err(|e| ConfigErrors::single(format!("YAML merge key (`<<`) error: {e}")))?;
    Ok(doc)
}

fn apply_overrides(doc: &mut Value, overrides: &Overrides, problems: &mut Problems) {
    if let Some(d) = overrides.duration {
        set(
            doc,
            &["spec", "workload", "duration"],
            Value::String(format_duration(d)),
        );
        problems.overridden(FieldPath::parse("spec.workload.duration"), "--duration");
    }
    if let Some(d) = overrides.ramp_up_time {
        set(
            doc,
            &["spec", "workload", "ramp_up_time"],
            Value::String(format_duration(d)),
        );
        problems.overridden(
            FieldPath::parse("spec.workload.ramp_up_time"),
            "a ramp-up override",
        );
    }
    if let Some(url) = &overrides.target_url {
        set(doc, &["spec", "target", "url"], Value::String(url.clone()));
        problems.overridden(FieldPath::parse("spec.target.url"), "--target");
    }
}

/// Sets `doc[keys...] = value`, creating maps on the way. A non-map on the
/// way is left alone: the schema walk reports it.
fn set(doc: &mut Value, keys: &[&str], value: Value) {
    let Some((last, parents)) = keys.split_last() else {
        return;
    };
    let mut node = doc;
    for key in parents {
        let Value::Mapping(map) = node else { return };
        let child = map
            .entry(Value::String((*key).to_string()))
            .or_insert(Value::Mapping(Mapping::new()));
        if child.is_null() {
            *child = Value::Mapping(Mapping::new());
        }
        node = child;
    }
    if let Value::Mapping(map) = node {
        map.insert(Value::String((*last).to_string()), value);
    }
}
