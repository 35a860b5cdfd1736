//! The shape of a benchmark file (which keys exist where, and the YAML type
//! of each value) and a walk that checks a parsed document against it.
//!
//! The walk reports every unknown key (with the closest known key) and every
//! value of the wrong type, with its path, then removes or neutralises that
//! value so the typed structs in `raw` always deserialize and the semantic
//! checks still run on the rest. It also turns numbers written where text is
//! expected (`duration: 600`, `cpu: 2`) into text. It must not judge values
//! (ranges, formats): `validate` does that.
//!
//! The tree mirrors `raw`; a test compares every struct's field list with it.

use serde_yaml_ng::{Mapping, Value};

use crate::error::{FieldPath, Problems};

/// The expected YAML type of a value.
#[derive(Debug)]
pub(crate) enum Shape {
    /// Text; numbers and booleans are accepted and become text.
    Text,
    /// A duration: text, or a number of seconds (which becomes text).
    Duration,
    /// A whole number.
    Int,
    /// Any number.
    Number,
    /// `true` or `false`.
    Bool,
    /// A list of values of one shape.
    List(&'static Shape),
    /// A map with a fixed set of keys.
    Struct(&'static [(&'static str, Shape)]),
    /// A map of free-form names to text.
    TextMap,
}

impl Shape {
    fn describe(&self) -> &'static str {
        match self {
            Shape::Text => "text",
            Shape::Duration => "a duration such as `30s`, `10m` or a number of seconds",
            Shape::Int => "a whole number",
            Shape::Number => "a number",
            Shape::Bool => "`true` or `false`",
            Shape::List(_) => "a list",
            Shape::Struct(_) => "a map",
            Shape::TextMap => "a map of names to text",
        }
    }

    /// What replaces a wrong list item, so later items keep their index.
    fn placeholder(&self) -> Value {
        match self {
            Shape::Text | Shape::Duration => Value::String(String::new()),
            Shape::Int | Shape::Number => Value::Number(0.into()),
            Shape::Bool => Value::Bool(false),
            Shape::List(_) => Value::Sequence(Vec::new()),
            Shape::Struct(_) | Shape::TextMap => Value::Mapping(Mapping::new()),
        }
    }
}

const TEXT: Shape = Shape::Text;

const RESOURCE_LIST: Shape = Shape::Struct(&[("cpu", Shape::Text), ("memory", Shape::Text)]);

const STAGE: Shape = Shape::Struct(&[
    ("duration", Shape::Duration),
    ("users", Shape::Int),
    ("target_qps", Shape::Number),
]);

const PARAMS: Shape = Shape::Struct(&[
    ("start", Shape::Text),
    ("end", Shape::Text),
    ("limit", Shape::Int),
    ("step", Shape::Duration),
    ("field", Shape::Text),
]);

const QUERY: Shape = Shape::Struct(&[
    ("name", Shape::Text),
    ("template", Shape::Text),
    ("weight", Shape::Int),
    ("category", Shape::Text),
    ("type", Shape::Text),
    ("params", PARAMS),
]);

const THRESHOLD: Shape = Shape::Struct(&[
    ("metric", Shape::Text),
    ("max", Shape::Number),
    ("min", Shape::Number),
    ("query", Shape::Text),
]);

const AUTH: Shape = Shape::Struct(&[
    ("type", Shape::Text),
    ("token", Shape::Text),
    ("token_file", Shape::Text),
    ("token_env", Shape::Text),
    ("username", Shape::Text),
    ("password", Shape::Text),
    ("password_file", Shape::Text),
    ("password_env", Shape::Text),
]);

const TARGET: Shape = Shape::Struct(&[
    ("url", Shape::Text),
    ("auth", AUTH),
    ("headers", Shape::TextMap),
    (
        "tenant",
        Shape::Struct(&[("account_id", Shape::Int), ("project_id", Shape::Int)]),
    ),
    (
        "tls",
        Shape::Struct(&[
            ("ca_file", Shape::Text),
            ("insecure_skip_verify", Shape::Bool),
        ]),
    ),
    ("timeout", Shape::Duration),
    ("http2", Shape::Bool),
    ("accept_gzip", Shape::Bool),
]);

const WORKLOAD: Shape = Shape::Struct(&[
    ("model", Shape::Text),
    ("total_concurrent_users", Shape::Int),
    ("duration", Shape::Duration),
    ("ramp_up_time", Shape::Duration),
    ("target_qps", Shape::Number),
    ("max_in_flight", Shape::Int),
    ("max_queued", Shape::Int),
    ("think_time", Shape::Duration),
    ("stages", Shape::List(&STAGE)),
]);

const WORKERS: Shape = Shape::Struct(&[
    ("replicas", Shape::Int),
    (
        "resources",
        Shape::Struct(&[("requests", RESOURCE_LIST), ("limits", RESOURCE_LIST)]),
    ),
    ("start_timeout", Shape::Duration),
]);

const REPORTING: Shape = Shape::Struct(&[
    ("formats", Shape::List(&TEXT)),
    (
        "storage",
        Shape::Struct(&[("type", Shape::Text), ("path", Shape::Text)]),
    ),
]);

const SPEC: Shape = Shape::Struct(&[
    ("target", TARGET),
    ("workload", WORKLOAD),
    ("queries", Shape::List(&QUERY)),
    ("workers", WORKERS),
    ("reporting", REPORTING),
    ("thresholds", Shape::List(&THRESHOLD)),
]);

const METADATA: Shape = Shape::Struct(&[("name", Shape::Text), ("labels", Shape::TextMap)]);

/// The whole document.
pub(crate) const FILE: Shape = Shape::Struct(&[
    ("apiVersion", Shape::Text),
    ("kind", Shape::Text),
    ("metadata", METADATA),
    ("spec", SPEC),
]);

/// Checks a parsed document against [`FILE`]; see the module doc for what
/// happens to rejected values.
pub(crate) fn check(doc: &mut Value, problems: &mut Problems) {
    let root = FieldPath::root();
    if let Err(found) = walk(doc, &FILE, &root, problems) {
        problems.prune(
            &root,
            format!("the file must be a YAML map with `apiVersion`, `kind`, `metadata` and `spec`; {found}"),
        );
        *doc = Value::Mapping(Mapping::new());
    }
}

/// Walks `value`; `Err(message)` when its type does not fit `shape` (the
/// caller records it and removes the value).
fn walk(
    value: &mut Value,
    shape: &Shape,
    path: &FieldPath,
    problems: &mut Problems,
) -> Result<(), String> {
    let text = match (shape, &*value) {
        (Shape::Text | Shape::Duration, Value::String(_)) => return Ok(()),
        (Shape::Text | Shape::Duration, Value::Number(n)) => n.to_string(),
        (Shape::Text, Value::Bool(b)) => b.to_string(),
        (Shape::Int, Value::Number(n)) if n.is_i64() => return Ok(()),
        (Shape::Int, Value::Number(n)) if n.is_u64() => return Err(format!("{n} is too large")),
        (Shape::Int, Value::Number(n)) => {
            return Err(format!("expected a whole number, found {n}"))
        }
        (Shape::Number, Value::Number(_)) | (Shape::Bool, Value::Bool(_)) => return Ok(()),
        (Shape::List(item), Value::Sequence(_)) => {
            if let Value::Sequence(items) = value {
                walk_list(items, item, path, problems);
            }
            return Ok(());
        }
        (Shape::Struct(fields), Value::Mapping(_)) => {
            if let Value::Mapping(map) = value {
                walk_struct(map, fields, path, problems);
            }
            return Ok(());
        }
        (Shape::TextMap, Value::Mapping(_)) => {
            if let Value::Mapping(map) = value {
                walk_text_map(map, path, problems);
            }
            return Ok(());
        }
        _ => {
            return Err(format!(
                "expected {}, found {}",
                shape.describe(),
                kind_of(value)
            ))
        }
    };
    *value = Value::String(text);
    Ok(())
}

fn walk_list(items: &mut [Value], item: &Shape, path: &FieldPath, problems: &mut Problems) {
    for (i, value) in items.iter_mut().enumerate() {
        let child = path.index(i);
        if let Err(message) = walk(value, item, &child, problems) {
            problems.prune(&child, message);
            *value = item.placeholder();
        }
    }
}

fn walk_struct(
    map: &mut Mapping,
    fields: &[(&str, Shape)],
    path: &FieldPath,
    problems: &mut Problems,
) {
    let keys: Vec<Value> = map.keys().cloned().collect();
    for key in keys {
        let Some(name) = key.as_str() else {
            problems.prune(
                &path.key(&key_text(&key)),
                format!("keys must be text, found {}", kind_of(&key)),
            );
            map.remove(&key);
            continue;
        };
        let child = path.key(name);
        let Some((_, shape)) = fields.iter().find(|(field, _)| *field == name) else {
            problems.prune(&child, unknown_key_message(name, fields, path));
            map.remove(&key);
            continue;
        };
        let Some(value) = map.get_mut(&key) else {
            continue;
        };
        if value.is_null() {
            // `key:` with nothing after it means "not set".
            map.remove(&key);
        } else if let Err(message) = walk(value, shape, &child, problems) {
            problems.prune(&child, message);
            map.remove(&key);
        }
    }
}

fn walk_text_map(map: &mut Mapping, path: &FieldPath, problems: &mut Problems) {
    let keys: Vec<Value> = map.keys().cloned().collect();
    for key in keys {
        let Some(name) = key.as_str() else {
            problems.prune(
                &path.key(&key_text(&key)),
                format!("keys must be text, found {}", kind_of(&key)),
            );
            map.remove(&key);
            continue;
        };
        let child = path.key(name);
        let Some(value) = map.get_mut(&key) else {
            continue;
        };
        if let Err(message) = walk(value, &Shape::Text, &child, problems) {
            problems.prune(&child, message);
            map.remove(&key);
        }
    }
}

fn key_text(key: &Value) -> String {
    match key {
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => "?".to_string(),
    }
}

/// The YAML type of a value, for messages (never the value itself: it may
/// be a secret).
fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a map",
        Value::Tagged(_) => "a tagged value (YAML `!tag`s are not supported)",
    }
}

/// "unknown field; did you mean `x`?", or where the key belongs, or the
/// list of keys allowed here.
fn unknown_key_message(name: &str, fields: &[(&str, Shape)], path: &FieldPath) -> String {
    let known: Vec<&str> = fields.iter().map(|(field, _)| *field).collect();
    if let Some(best) = closest(name, &known) {
        return format!("unknown field; did you mean `{best}`?");
    }
    let here = path.to_string();
    if let Some(home) = homes_of(name).into_iter().find(|home| *home != here) {
        return format!("unknown field here; `{name}` belongs under `{home}`");
    }
    let list: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
    format!("unknown field; expected one of {}", list.join(", "))
}

/// The known key most like `name`, if any is close enough to be a typo.
fn closest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    let lower = name.to_ascii_lowercase();
    known
        .iter()
        .map(|candidate| {
            let cand = candidate.to_ascii_lowercase();
            let mut score = strsim::jaro_winkler(&lower, &cand);
            if lower.len() >= 3 && (cand.contains(&lower) || lower.contains(&cand)) {
                score = score.max(0.9);
            }
            (score, *candidate)
        })
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

/// Paths of the maps that have a key `name`, shortest first
/// (`spec.queries[*]` for list items).
fn homes_of(name: &str) -> Vec<String> {
    fn visit(shape: &Shape, path: &str, name: &str, out: &mut Vec<String>) {
        match shape {
            Shape::Struct(fields) => {
                for (field, child) in fields.iter() {
                    if *field == name {
                        out.push(path.to_string());
                    }
                    let child_path = if path.is_empty() {
                        field.to_string()
                    } else {
                        format!("{path}.{field}")
                    };
                    visit(child, &child_path, name, out);
                }
            }
            Shape::List(item) => visit(item, &format!("{path}[*]"), name, out),
            _ => {}
        }
    }
    let mut out = Vec::new();
    visit(&FILE, "", name, &mut out);
    out.retain(|home| !home.is_empty());
    out.sort_by_key(|home| (home.matches('.').count(), home.len()));
    out
}

#[cfg(test)]
#[path = "schema_tests.rs"]
mod tests;
