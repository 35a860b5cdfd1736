//! The workload model of vlbench: what to send and when.
//!
//! This crate owns the query mix, query templates, VictoriaLogs endpoints and
//! their parameters, load schedules (closed users, open arrival rate, stages,
//! live retargeting) and the split of one global schedule between nodes and
//! shards. It has no HTTP and no async: the engine asks it for the next
//! request text and the next arrival time. Everything called per request
//! writes into a caller's reused buffer and does not allocate.
//!
//! # Layout
//!
//! - [`endpoint`]: [`QueryType`] → path, [`QueryParams`].
//! - [`time`]: [`TimeValue`] (`now`, `-1h`, RFC3339, unix seconds) and durations.
//! - [`template`]: [`Template`], the `{{ ... }}` syntax below.
//! - [`workload`]: [`QueryDef`], [`Workload`] (weighted pick, request rendering).
//! - [`schedule`]: [`Schedule`], [`Model`], [`Stage`]: load over time, arrivals.
//! - [`wrr`]: [`SmoothWrr`] (S-9) and [`Share`] (a node's part of the load).
//!
//! # Templates
//!
//! A template is LogsQL text with `{{ ... }}` placeholders. A placeholder is a
//! function name followed by arguments; arguments are bare words (`1`, `-1h`)
//! or double-quoted strings (`"a b"`, with `\"` and `\\` escapes).
//!
//! | placeholder | renders |
//! |---|---|
//! | `{{ choice "a" "b" "c" }}` | one of the values, uniformly at random |
//! | `{{ int 1 100 }}` | an integer in 1..=100 (both ends included) |
//! | `{{ file "values.txt" }}` | a random non-blank line of the file, read once at parse time, relative to the config's directory |
//! | `{{ now }}`, `{{ now "-1h" }}` | the send time (or one hour before it) as RFC3339, e.g. `2024-01-02T03:04:05Z` |
//! | `{{ unix }}`, `{{ unix "-15m" }}` | the same as unix seconds, e.g. `1704164645` |
//! | `{{ duration_choice "5m" "1h" }}` | one of the durations, as written (checked at parse time) |
//! | `{{ "{{" }}` | the quoted text itself: the way to write a literal `{{` |
//!
//! Time arguments accept what `start`/`end` accept: `now`, `-1h`/`1h`/`now-1h`
//! (before the send time), RFC3339, unix seconds. For example
//!
//! ```text
//! _time:{{ duration_choice "5m" "1h" }} level:{{ choice "error" "warn" }} pod:{{ file "pods.txt" }}
//! _time:[{{ now "-1h" }}, {{ now }}] | stats count()
//! ```
//!
//! ```
//! # use std::{path::Path, time::{Duration, UNIX_EPOCH}};
//! # use rand::{rngs::SmallRng, SeedableRng};
//! use vlbench_workload::Template;
//! let t = Template::parse(r#"_time:[{{ now "-1h" }}, {{ now }}) status:{{ int 500 504 }}"#, Path::new("."))?;
//! let mut out = String::new();
//! let now = UNIX_EPOCH + Duration::from_secs(1_704_164_645);
//! t.render(&mut SmallRng::seed_from_u64(1), now, &mut out);
//! assert!(out.starts_with("_time:[2024-01-02T02:04:05Z, 2024-01-02T03:04:05Z) status:50"));
//! # Ok::<(), vlbench_workload::TemplateError>(())
//! ```
//!
//! Parse errors give the byte offset and the placeholder text, e.g.
//! ``template placeholder `{{ int 5 1 }}` at byte 7: int bounds are reversed: 5 > 1``.

pub mod endpoint;
pub mod schedule;
pub mod template;
pub mod time;
pub mod workload;
pub mod wrr;

pub use endpoint::{QueryParams, QueryType, UnknownQueryType};
pub use schedule::{Model, Schedule, Stage};
pub use template::{Template, TemplateError};
pub use time::{parse_duration, DurationError, TimeValue, TimeValueError};
pub use workload::{FormEncoder, QueryDef, Workload, WorkloadError};
pub use wrr::{Share, SmoothWrr, MAX_CYCLE};
