//! Checks of the run's surroundings: `spec.workers` (distributed mode),
//! `spec.reporting` and `spec.thresholds`.
//!
//! Owns Kubernetes quantity syntax and the threshold schema. It must not
//! look at queries beyond their names.

use std::path::PathBuf;
use std::time::Duration;

use super::{one_of, unknown_name, Ctx};
use crate::error::FieldPath;
use crate::model::{
    Metric, ReportFormat, ReportingSpec, ResourceList, Resources, StorageKind, StorageSpec,
    Threshold, WorkersSpec,
};
use crate::raw;

/// Default for `spec.workers.start_timeout`.
pub(crate) const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(60);
/// Default for `spec.reporting.storage.path`.
pub(crate) const DEFAULT_RESULTS_DIR: &str = "./results";
/// Default for `spec.reporting.formats`.
pub(crate) const DEFAULT_FORMATS: [ReportFormat; 3] = [
    ReportFormat::Json,
    ReportFormat::Csv,
    ReportFormat::Prometheus,
];

/// Why a Kubernetes quantity was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid quantity `{0}`: write a number with an optional suffix, e.g. `500m`, `2`, `512Mi`, `1Gi`, `1G`")]
pub struct QuantityError(pub String);

/// Parses a Kubernetes resource quantity (`500m`, `2`, `1.5`, `512Mi`,
/// `1G`, `1e3`) into its value in base units (cores or bytes).
pub fn parse_quantity(text: &str) -> Result<f64, QuantityError> {
    let err = || QuantityError(text.to_string());
    let t = text.trim();
    let number_len = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+'))
        .unwrap_or(t.len());
    let (number, suffix) = t.split_at(number_len);
    if number.is_empty()
        || number.starts_with('.') && number.len() == 1
        || number.matches('.').count() > 1
    {
        return Err(err());
    }
    let value: f64 = number.parse().map_err(|_| err())?;
    let scale = match suffix {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024f64,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        exp if exp.starts_with(['e', 'E']) => {
            10f64.powi(exp[1..].parse::<i32>().map_err(|_| err())?)
        }
        _ => return Err(err()),
    };
    Ok(value * scale)
}

/// Validates `spec.workers`; `Some(None)` when absent.
pub(crate) fn workers(
    ctx: &mut Ctx<'_>,
    raw: Option<&raw::Workers>,
    path: &FieldPath,
) -> Option<Option<WorkersSpec>> {
    let Some(raw) = raw else { return Some(None) };
    let replicas = ctx.count(&path.key("replicas"), raw.replicas.unwrap_or(1), 1);
    let start_timeout = ctx.duration(
        &path.key("start_timeout"),
        raw.start_timeout.as_ref(),
        DEFAULT_START_TIMEOUT,
    );
    if start_timeout.is_some_and(|t| t.is_zero()) {
        ctx.error(&path.key("start_timeout"), "must be > 0");
    }
    let resources = resources(ctx, raw.resources.as_ref(), &path.key("resources"));
    Some(Some(WorkersSpec {
        replicas: replicas?,
        resources: resources?,
        start_timeout: start_timeout.filter(|t| !t.is_zero())?,
    }))
}

fn resources(
    ctx: &mut Ctx<'_>,
    raw: Option<&raw::Resources>,
    path: &FieldPath,
) -> Option<Resources> {
    let Some(raw) = raw else {
        return Some(Resources::default());
    };
    let empty = raw::ResourceList::default();
    let requests = raw.requests.as_ref().unwrap_or(&empty);
    let limits = raw.limits.as_ref().unwrap_or(&empty);
    let mut ok = true;
    for (name, request, limit) in [
        ("cpu", &requests.cpu, &limits.cpu),
        ("memory", &requests.memory, &limits.memory),
    ] {
        let request_path = path.key("requests").key(name);
        let limit_path = path.key("limits").key(name);
        let request_value = quantity(ctx, &request_path, request.as_deref(), name, &mut ok);
        let limit_value = quantity(ctx, &limit_path, limit.as_deref(), name, &mut ok);
        if let (Some(request), Some(limit)) = (request_value, limit_value) {
            if limit < request {
                ctx.error(&limit_path, format!("must be >= `requests.{name}` (Kubernetes rejects a limit below the request)"));
                ok = false;
            }
        }
    }
    let list = |l: &raw::ResourceList| ResourceList {
        cpu: l.cpu.clone(),
        memory: l.memory.clone(),
    };
    ok.then(|| Resources {
        requests: list(requests),
        limits: list(limits),
    })
}

fn quantity(
    ctx: &mut Ctx<'_>,
    path: &FieldPath,
    text: Option<&str>,
    name: &str,
    ok: &mut bool,
) -> Option<f64> {
    let text = text?;
    match parse_quantity(text) {
        Ok(value) => {
            if name == "memory" && text.trim().ends_with('m') {
                ctx.warn(
                    path,
                    format!(
                        "`{text}` means thousandths of a byte; did you mean `{}Mi`?",
                        text.trim_end_matches('m')
                    ),
                );
            }
            Some(value)
        }
        Err(e) => {
            ctx.error(path, e.to_string());
            *ok = false;
            None
        }
    }
}

/// Validates `spec.reporting`, applying defaults.
pub(crate) fn reporting(
    ctx: &mut Ctx<'_>,
    raw: Option<&raw::Reporting>,
    path: &FieldPath,
) -> Option<ReportingSpec> {
    let default = raw::Reporting::default();
    let raw = raw.unwrap_or(&default);
    let formats = match &raw.formats {
        None => Some(DEFAULT_FORMATS.to_vec()),
        Some(names) => formats(ctx, names, &path.key("formats")),
    };
    let storage = storage(ctx, raw.storage.as_ref(), &path.key("storage"));
    Some(ReportingSpec {
        formats: formats?,
        storage: storage?,
    })
}

fn formats(ctx: &mut Ctx<'_>, names: &[String], path: &FieldPath) -> Option<Vec<ReportFormat>> {
    let known: Vec<&str> = ReportFormat::ALL.iter().map(|f| f.as_str()).collect();
    if names.is_empty() {
        ctx.error(
            path,
            format!(
                "empty; list some of {}, or remove `formats` for the default",
                one_of(&known)
            ),
        );
        return None;
    }
    let mut out = Vec::new();
    let mut ok = true;
    for (i, name) in names.iter().enumerate() {
        match ReportFormat::from_name(name) {
            Some(f) if out.contains(&f) => {
                ctx.error(&path.index(i), format!("`{name}` is listed twice"));
                ok = false;
            }
            Some(f) => out.push(f),
            None => {
                ctx.error(&path.index(i), unknown_name("format", name, &known));
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

fn storage(ctx: &mut Ctx<'_>, raw: Option<&raw::Storage>, path: &FieldPath) -> Option<StorageSpec> {
    let default = raw::Storage::default();
    let raw = raw.unwrap_or(&default);
    let kind = match raw.kind.as_deref().unwrap_or("local") {
        "local" => Some(StorageKind::Local),
        "persistent_volume" => Some(StorageKind::PersistentVolume),
        other => {
            ctx.error(
                &path.key("type"),
                unknown_name("storage type", other, &["local", "persistent_volume"]),
            );
            None
        }
    };
    let dir = raw.path.as_deref().unwrap_or(DEFAULT_RESULTS_DIR);
    if dir.trim().is_empty() {
        ctx.error(
            &path.key("path"),
            "is empty; name a directory, e.g. `./results`",
        );
        return None;
    }
    Some(StorageSpec {
        kind: kind?,
        path: PathBuf::from(dir),
    })
}

/// Validates `spec.thresholds` against the metric list and query names.
pub(crate) fn thresholds(
    ctx: &mut Ctx<'_>,
    raw: Option<&Vec<raw::Threshold>>,
    path: &FieldPath,
    query_names: &[&str],
) -> Option<Vec<Threshold>> {
    let Some(raw) = raw else {
        return Some(Vec::new());
    };
    let mut out = Vec::new();
    let mut ok = true;
    for (i, t) in raw.iter().enumerate() {
        match threshold(ctx, t, &path.index(i), query_names) {
            Some(t) => out.push(t),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn threshold(
    ctx: &mut Ctx<'_>,
    raw: &raw::Threshold,
    path: &FieldPath,
    query_names: &[&str],
) -> Option<Threshold> {
    let metric = ctx
        .required(
            &path.key("metric"),
            raw.metric.as_ref(),
            "name a metric such as `p99_response_time`",
        )
        .and_then(|name| metric(ctx, name, &path.key("metric")));
    let mut ok = bounds(ctx, raw, path, metric);
    if let Some(query) = &raw.query {
        // With no valid query names the queries' own errors say enough.
        if !query_names.is_empty() && !query_names.contains(&query.as_str()) {
            ctx.error(
                &path.key("query"),
                unknown_name("query", query, query_names),
            );
            ok = false;
        }
    }
    let metric = metric?;
    ok.then(|| Threshold {
        metric,
        query: raw.query.clone(),
        max: raw.max,
        min: raw.min,
    })
}

fn metric(ctx: &mut Ctx<'_>, name: &str, path: &FieldPath) -> Option<Metric> {
    let found = Metric::from_name(name);
    if found.is_none() {
        // People say "latency" or just "p99"; the report says
        // "p99_response_time".
        let guesses = [
            name.replace("latency", "response_time"),
            format!("{name}_response_time"),
        ];
        let message = match guesses.iter().find_map(|g| Metric::from_name(g)) {
            Some(m) => format!("unknown metric `{name}`; did you mean `{}`?", m.as_str()),
            None => {
                let known: Vec<&str> = Metric::ALL.iter().map(|m| m.as_str()).collect();
                unknown_name("metric", name, &known)
            }
        };
        ctx.error(path, message);
    }
    found
}

/// `max`/`min`: at least one, >= 0, a fraction for ratios, min <= max.
fn bounds(
    ctx: &mut Ctx<'_>,
    raw: &raw::Threshold,
    path: &FieldPath,
    metric: Option<Metric>,
) -> bool {
    let mut ok = true;
    if raw.max.is_none() && raw.min.is_none() {
        ctx.error(path, "set `max` (fail above) or `min` (fail below)");
        ok = false;
    }
    for (key, value) in [("max", raw.max), ("min", raw.min)] {
        let Some(value) = value else { continue };
        if !value.is_finite() || value < 0.0 {
            ctx.error(&path.key(key), "must be a number >= 0");
            ok = false;
        } else if metric.is_some_and(Metric::is_ratio) && value > 1.0 {
            ctx.error(&path.key(key), "is a fraction between 0 and 1 (0.01 = 1 %)");
            ok = false;
        }
    }
    if let (Some(max), Some(min)) = (raw.max, raw.min) {
        if min > max {
            ctx.error(&path.key("min"), "must be <= `max`");
            ok = false;
        }
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(parse_quantity("500m"), Ok(0.5));
        assert_eq!(parse_quantity("2"), Ok(2.0));
        assert_eq!(parse_quantity("1Gi"), Ok(1024f64.powi(3)));
        assert_eq!(parse_quantity("1G"), Ok(1e9));
        assert_eq!(parse_quantity("1e3"), Ok(1000.0));
        for bad in ["", "abc", "1GB", "-1", "1.2.3", "."] {
            assert!(parse_quantity(bad).is_err(), "{bad}");
        }
    }
}
