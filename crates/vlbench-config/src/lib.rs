//! vlbench-config: the benchmark file (`bench.yaml`, S-6) and its validation.
//!
//! `vlbench run bench.yaml` and `vlbench validate bench.yaml` call [`load`]
//! (or [`load_with`] for `--duration`/`--target`); the coordinator calls
//! [`from_str`] on a posted file. The result is a [`ValidatedConfig`] that
//! the run uses as is, or [`ConfigErrors`] listing *every* problem, one per
//! line, each with its field path:
//!
//! ```text
//! spec.queries[2].weight: must be > 0
//! spec.workload.total_users: unknown field; did you mean `total_concurrent_users`?
//! ```
//!
//! # Layout
//!
//! - `loader`: the pipeline: YAML text → generic value → CLI overrides →
//!   `schema` walk → typed [`raw`] structs → `validate` → [`ValidatedConfig`].
//! - `schema`: which keys exist where and their YAML types; unknown keys
//!   (with the closest known key) and type errors.
//! - [`raw`]: the file as written, one documented field per key.
//! - `validate`: semantic rules per section (target, workload, queries,
//!   workers/reporting/thresholds), defaults, secret resolution.
//! - `config`: [`ValidatedConfig`] and the document-level checks.
//! - `model`: the validated section types ([`TargetSpec`], [`Threshold`], ...).
//! - `duration`: [`parse_duration`], shared with other crates.
//! - `secret`: [`Secret`], which prints as `***` everywhere.
//! - `error`: [`FieldPath`], [`Problem`], [`ConfigErrors`].
//!
//! Template syntax and `start`/`end` time values belong to
//! `vlbench-workload` (`Template::parse`, `TimeValue::parse`); this crate
//! calls them and reports their errors with the field path.
//!
//! The key reference for users is docs/config.md.

#![warn(missing_docs)]

mod config;
mod duration;
mod error;
mod loader;
mod model;
pub mod raw;
mod schema;
mod secret;
mod validate;

pub use config::{ValidatedConfig, API_VERSION, KIND};
pub use duration::{format_duration, parse_duration, DurationError};
pub use error::{ConfigErrors, FieldPath, Problem, Segment};
pub use loader::{from_str, from_str_with, from_str_with_env, load, load_with, Loaded, Overrides};
pub use model::{
    Header, HeaderText, Metric, ReportFormat, ReportingSpec, ResourceList, Resources, StorageKind,
    StorageSpec, TargetSpec, Tenant, Threshold, TlsSpec, WorkersSpec,
};
pub use secret::{is_sensitive_header, Secret, REDACTED};
pub use validate::{parse_quantity, Environment, ProcessEnvironment, QuantityError};
