//! Semantic checks of a benchmark file that passed the schema walk, and the
//! building of the validated value from it.
//!
//! Owns every rule about values: required fields, ranges, combinations,
//! cross-references, defaults. Each check records its problem with the
//! field path and goes on, so one pass reports everything. The only I/O is
//! reading the files the config names (token/password/CA files, template
//! value files) and environment variables through [`Environment`]. It must
//! not parse YAML or check key names (that is `schema`).

mod load;
mod queries;
mod settings;
mod target;

use std::path::Path;
use std::time::Duration;

use crate::duration::parse_duration;
use crate::error::{FieldPath, Problems};

pub(crate) use load::{load_plan, LoadPlan, PlanModel};
pub(crate) use queries::queries;
pub use settings::{parse_quantity, QuantityError};
pub(crate) use settings::{reporting, thresholds, workers};
pub(crate) use target::target;

/// Where validation reads environment variables from. The process
/// environment in production; a map in tests, so they never mutate the
/// process environment.
pub trait Environment {
    /// The variable's value, `None` when unset or not Unicode.
    fn var(&self, name: &str) -> Option<String>;
}

/// The real process environment.
#[derive(Copy, Clone, Debug, Default)]
pub struct ProcessEnvironment;

impl Environment for ProcessEnvironment {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl Environment for std::collections::HashMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

/// What every check needs: where to record problems, where relative files
/// are, and the environment.
pub(crate) struct Ctx<'a> {
    pub(crate) problems: &'a mut Problems,
    pub(crate) base_dir: &'a Path,
    pub(crate) env: &'a dyn Environment,
}

impl Ctx<'_> {
    pub(crate) fn error(&mut self, path: &FieldPath, message: impl Into<String>) {
        self.problems.error(path, message);
    }

    pub(crate) fn warn(&mut self, path: &FieldPath, message: impl Into<String>) {
        self.problems.warn(path, message);
    }

    /// The value, or an error "missing; {hint}".
    pub(crate) fn required<'v, T: ?Sized>(
        &mut self,
        path: &FieldPath,
        value: Option<&'v T>,
        hint: &str,
    ) -> Option<&'v T> {
        if value.is_none() {
            self.error(path, format!("missing; {hint}"));
        }
        value
    }

    /// A duration field: parsed, `default` when unset, error when invalid.
    pub(crate) fn duration(
        &mut self,
        path: &FieldPath,
        text: Option<&String>,
        default: Duration,
    ) -> Option<Duration> {
        let Some(text) = text else {
            return Some(default);
        };
        match parse_duration(text) {
            Ok(d) => Some(d),
            Err(e) => {
                self.error(path, e.to_string());
                None
            }
        }
    }

    /// A duration that must be set and > 0.
    pub(crate) fn positive_duration(
        &mut self,
        path: &FieldPath,
        text: Option<&String>,
        hint: &str,
    ) -> Option<Duration> {
        let text = self.required(path, text, hint)?;
        let d = self.duration(path, Some(text), Duration::ZERO)?;
        if d.is_zero() {
            self.error(path, "must be > 0");
            return None;
        }
        Some(d)
    }

    /// A whole number that must lie in `1..=u32::MAX` (`min` = 1) or
    /// `0..=u32::MAX` (`min` = 0).
    pub(crate) fn count(&mut self, path: &FieldPath, value: i64, min: i64) -> Option<u32> {
        if value < min {
            let bound = if min == 1 {
                "> 0".to_string()
            } else {
                format!(">= {min}")
            };
            self.error(path, format!("must be {bound}"));
            return None;
        }
        match u32::try_from(value) {
            Ok(v) => Some(v),
            Err(_) => {
                self.error(path, format!("must be <= {}", u32::MAX));
                None
            }
        }
    }

    /// A rate (queries per second) that must be finite and > 0.
    pub(crate) fn rate(&mut self, path: &FieldPath, value: f64) -> Option<f64> {
        if value.is_finite() && value > 0.0 {
            Some(value)
        } else {
            self.error(path, "must be a number > 0");
            None
        }
    }
}

/// `a`, `b` and `c` → "`a`, `b` or `c`".
pub(crate) fn one_of(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => quoted.join(""),
    }
}

/// The closest of `names` to `given`, if it looks like a typo of it.
pub(crate) fn suggest<'a>(given: &str, names: &[&'a str]) -> Option<&'a str> {
    names
        .iter()
        .map(|name| (strsim::jaro_winkler(given, name), *name))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, name)| name)
}

/// "unknown X `given`; did you mean `y`?" or "...; use `a`, `b` or `c`".
pub(crate) fn unknown_name(what: &str, given: &str, names: &[&str]) -> String {
    match suggest(given, names) {
        Some(best) => format!("unknown {what} `{given}`; did you mean `{best}`?"),
        None => format!("unknown {what} `{given}`; use {}", one_of(names)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_read_naturally() {
        assert_eq!(one_of(&["a"]), "`a`");
        assert_eq!(one_of(&["a", "b", "c"]), "`a`, `b` or `c`");
        assert_eq!(
            unknown_name("model", "opne", &["closed", "open"]),
            "unknown model `opne`; did you mean `open`?"
        );
        assert_eq!(
            unknown_name("model", "x", &["closed", "open"]),
            "unknown model `x`; use `closed` or `open`"
        );
    }
}
