//! [`ValidatedConfig`], the ready-to-use result of a benchmark file, and the
//! top-level `validate` that builds it from the raw file.
//!
//! Owns the document-level checks (`apiVersion`, `kind`, `metadata`) and the
//! assembly of the parts checked in `validate::*`. It must not read the file
//! or parse YAML (that is `loader`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use vlbench_workload::{Model, Schedule, Stage, Workload};

use crate::error::{FieldPath, Problem};
use crate::model::{ReportingSpec, TargetSpec, Threshold, WorkersSpec};
use crate::raw;
use crate::validate::{self, Ctx, LoadPlan, PlanModel};

/// The only `apiVersion` this crate reads.
pub const API_VERSION: &str = "benchmark.victorialogs.io/v1";
/// The only `kind` this crate reads.
pub const KIND: &str = "BenchmarkConfig";

/// A benchmark file that passed every check: what a run needs, with
/// defaults applied, secrets resolved and value files read.
#[derive(Clone, Debug)]
pub struct ValidatedConfig {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.labels` (empty when not given).
    pub labels: BTreeMap<String, String>,
    /// Where and how to send requests.
    pub target: TargetSpec,
    /// The weighted query mix, templates parsed.
    pub workload: Workload,
    /// Load over time (the whole run, before any split over nodes).
    pub schedule: Schedule,
    /// Open model only: arrivals that may wait for a free in-flight slot
    /// before they are dropped (`spec.workload.max_queued`). `None` for the
    /// closed model. Kept here because `workload::Model::Open` has no field
    /// for it.
    pub max_queued: Option<u32>,
    /// The worker fleet, when `spec.workers` is given.
    pub workers: Option<WorkersSpec>,
    /// Report formats and directory.
    pub reporting: ReportingSpec,
    /// Pass/fail limits (may be empty).
    pub thresholds: Vec<Threshold>,
    /// Things that are allowed but probably not what the author meant,
    /// sorted by path. Show them before the run.
    pub warnings: Vec<Problem>,
    /// The file as written (after CLI overrides); secrets redacted when
    /// printed or serialised.
    pub raw: raw::BenchmarkFile,
    /// The directory relative files were resolved against.
    pub base_dir: PathBuf,
}

impl ValidatedConfig {
    /// The whole file as JSON with every secret (tokens, passwords,
    /// credential headers, URL credentials) replaced by `***`: what
    /// reports embed.
    pub fn redacted_json(&self) -> serde_json::Value {
        // Serialising the raw structs cannot fail: every map key is text.
        serde_json::to_value(&self.raw).unwrap_or(serde_json::Value::Null)
    }
}

/// The validated parts, before warnings and raw are attached.
pub(crate) struct Parts {
    pub(crate) name: String,
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) target: TargetSpec,
    pub(crate) workload: Workload,
    pub(crate) schedule: Schedule,
    pub(crate) max_queued: Option<u32>,
    pub(crate) workers: Option<WorkersSpec>,
    pub(crate) reporting: ReportingSpec,
    pub(crate) thresholds: Vec<Threshold>,
}

impl Parts {
    /// The final value, with the warnings and the raw file attached.
    pub(crate) fn into_config(
        self,
        warnings: Vec<Problem>,
        raw: raw::BenchmarkFile,
        base_dir: &Path,
    ) -> ValidatedConfig {
        ValidatedConfig {
            name: self.name,
            labels: self.labels,
            target: self.target,
            workload: self.workload,
            schedule: self.schedule,
            max_queued: self.max_queued,
            workers: self.workers,
            reporting: self.reporting,
            thresholds: self.thresholds,
            warnings,
            raw,
            base_dir: base_dir.to_path_buf(),
        }
    }
}

/// Runs every semantic check; `None` when any failed (the problems are in
/// `ctx`). Each part is checked even when an earlier one failed.
pub(crate) fn validate(ctx: &mut Ctx<'_>, file: &raw::BenchmarkFile) -> Option<Parts> {
    let root = FieldPath::root();
    document(ctx, file);
    let name = metadata_name(ctx, file.metadata.as_ref(), &root.key("metadata"));
    let spec_path = root.key("spec");
    let empty = raw::Spec::default();
    let spec = match ctx.required(
        &spec_path,
        file.spec.as_ref(),
        "add `spec` with `target`, `workload` and `queries`",
    ) {
        Some(spec) => spec,
        None => &empty,
    };
    let target = validate::target(ctx, spec.target.as_ref(), &spec_path.key("target"));
    let plan = validate::load_plan(ctx, spec.workload.as_ref(), &spec_path.key("workload"));
    let queries = validate::queries(ctx, spec.queries.as_ref(), &spec_path.key("queries"));
    let workers = validate::workers(ctx, spec.workers.as_ref(), &spec_path.key("workers"));
    let reporting = validate::reporting(ctx, spec.reporting.as_ref(), &spec_path.key("reporting"));
    let names: Vec<&str> = queries.names.iter().map(String::as_str).collect();
    let thresholds = validate::thresholds(
        ctx,
        spec.thresholds.as_ref(),
        &spec_path.key("thresholds"),
        &names,
    );
    let plan = plan?;
    let labels = file
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    Some(Parts {
        name: name?,
        labels,
        target: target?,
        workload: queries.workload?,
        max_queued: match plan.model {
            PlanModel::Open { max_queued, .. } => Some(max_queued),
            PlanModel::Closed { .. } => None,
        },
        schedule: schedule(&plan),
        workers: workers?,
        reporting: reporting?,
        thresholds: thresholds?,
    })
}

fn document(ctx: &mut Ctx<'_>, file: &raw::BenchmarkFile) {
    let root = FieldPath::root();
    for (key, value, expected) in [
        ("apiVersion", &file.api_version, API_VERSION),
        ("kind", &file.kind, KIND),
    ] {
        match value {
            None => ctx.error(&root.key(key), format!("missing; set `{key}: {expected}`")),
            Some(v) if v != expected => {
                ctx.error(&root.key(key), format!("must be `{expected}`, found `{v}`"))
            }
            Some(_) => {}
        }
    }
}

/// `metadata.name`: it names result files, so a conservative alphabet.
fn metadata_name(
    ctx: &mut Ctx<'_>,
    metadata: Option<&raw::Metadata>,
    path: &FieldPath,
) -> Option<String> {
    let metadata = ctx.required(path, metadata, "add `metadata.name` to name the benchmark")?;
    let name_path = path.key("name");
    let name = ctx.required(
        &name_path,
        metadata.name.as_ref(),
        "name the benchmark, e.g. `quickstart`",
    )?;
    let valid = !name.is_empty()
        && name.len() <= 253
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid {
        ctx.error(
            &name_path,
            "use 1-253 letters, digits, `-`, `_` or `.`, starting with a letter or digit (it names result files)",
        );
        return None;
    }
    Some(name.clone())
}

/// The workload crate's schedule for a validated plan.
fn schedule(plan: &LoadPlan) -> Schedule {
    let model = match plan.model {
        PlanModel::Closed { think_time } => Model::Closed { think_time },
        PlanModel::Open { max_in_flight, .. } => Model::Open { max_in_flight },
    };
    let stages = plan
        .stages
        .iter()
        .map(|&(duration, target)| Stage { duration, target })
        .collect();
    // A constant cap is one stage over the whole run (the cap profile starts
    // at its first stage's target).
    let rate_cap = plan.rate_cap.map(|cap| {
        vec![Stage {
            duration: plan.duration(),
            target: cap,
        }]
    });
    Schedule {
        model,
        stages,
        initial: plan.initial,
        rate_cap,
    }
}
