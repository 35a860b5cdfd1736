//! Problems found in a benchmark file: the field path they belong to, the
//! message, and the collection returned when the file is not usable.
//!
//! Owns how problems are named, ordered and printed. It must not decide what
//! is a problem: the schema walk and `validate` do that.

use std::fmt;

/// One step of a field path: a map key or a list index.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Segment {
    /// `spec`, `workload`, ...
    Key(String),
    /// `[2]` in `spec.queries[2]`.
    Index(usize),
}

/// Where a problem is: `spec.queries[2].weight`. Orders by segments, so
/// `queries[10]` sorts after `queries[2]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FieldPath(Vec<Segment>);

impl FieldPath {
    /// The document itself (syntax errors, unreadable files).
    pub fn root() -> Self {
        FieldPath(Vec::new())
    }

    /// Parses `spec.queries[2].weight`; keys must not contain `.` or `[`.
    pub fn parse(text: &str) -> Self {
        let mut segments = Vec::new();
        for part in text.split('.').filter(|p| !p.is_empty()) {
            let (key, mut indexes) = part.split_once('[').map_or((part, ""), |(k, i)| (k, i));
            if !key.is_empty() {
                segments.push(Segment::Key(key.to_string()));
            }
            while let Some((index, rest)) = indexes.split_once(']') {
                if let Ok(i) = index.parse() {
                    segments.push(Segment::Index(i));
                }
                indexes = rest.strip_prefix('[').unwrap_or(rest);
            }
        }
        FieldPath(segments)
    }

    /// This path extended by a map key.
    pub fn key(&self, key: &str) -> Self {
        let mut segments = self.0.clone();
        segments.push(Segment::Key(key.to_string()));
        FieldPath(segments)
    }

    /// This path extended by a list index.
    pub fn index(&self, index: usize) -> Self {
        let mut segments = self.0.clone();
        segments.push(Segment::Index(index));
        FieldPath(segments)
    }

    /// Whether `self` is `prefix` or lies under it.
    pub fn starts_with(&self, prefix: &FieldPath) -> bool {
        self.0.starts_with(&prefix.0)
    }

    /// True for the document root.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The segments, outermost first.
    pub fn segments(&self) -> &[Segment] {
        &self.0
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(key) if i == 0 => f.write_str(key)?,
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// One error or warning: which field, and what to do about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The field the problem belongs to (root for syntax errors).
    pub path: FieldPath,
    /// What is wrong and how to fix it. Never contains a secret value.
    pub message: String,
}

impl Problem {
    /// A problem at `path`.
    pub fn new(path: FieldPath, message: impl Into<String>) -> Self {
        Problem {
            path,
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_root() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Why a benchmark file cannot be used: every error found in one pass,
/// sorted by field path, plus the warnings found on the way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigErrors {
    /// At least one; sorted by path.
    pub errors: Vec<Problem>,
    /// Sorted by path; also worth showing when there are errors.
    pub warnings: Vec<Problem>,
}

impl ConfigErrors {
    /// A single error at the root (unreadable file, YAML syntax).
    pub fn single(message: impl Into<String>) -> Self {
        ConfigErrors {
            errors: vec![Problem::new(FieldPath::root(), message)],
            warnings: Vec::new(),
        }
    }

    /// The error at `path`, if any: handy in tests and for editors.
    pub fn at(&self, path: &str) -> Vec<&Problem> {
        let path = FieldPath::parse(path);
        self.errors.iter().filter(|p| p.path == path).collect()
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Collects problems during one validation pass.
///
/// The schema walk removes values it rejected (unknown keys, wrong types)
/// and records their paths as `pruned`; later checks that then see such a
/// field as missing stay quiet, so each mistake is reported once.
#[derive(Debug, Default)]
pub(crate) struct Problems {
    /// From the schema walk: unknown keys and wrong types.
    schema: Vec<Problem>,
    /// From the semantic checks.
    errors: Vec<Problem>,
    warnings: Vec<Problem>,
    pruned: Vec<FieldPath>,
    /// Paths set by CLI overrides, with the flag that set them.
    overridden: Vec<(FieldPath, &'static str)>,
}

impl Problems {
    pub(crate) fn error(&mut self, path: &FieldPath, message: impl Into<String>) {
        self.errors.push(Problem::new(path.clone(), message));
    }

    pub(crate) fn warn(&mut self, path: &FieldPath, message: impl Into<String>) {
        self.warnings.push(Problem::new(path.clone(), message));
    }

    /// Records a schema error and that the value at `path` was removed.
    pub(crate) fn prune(&mut self, path: &FieldPath, message: impl Into<String>) {
        self.schema.push(Problem::new(path.clone(), message));
        self.pruned.push(path.clone());
    }

    pub(crate) fn overridden(&mut self, path: FieldPath, flag: &'static str) {
        self.overridden.push((path, flag));
    }

    /// Errors and warnings in path order; `Ok(warnings)` when no error.
    pub(crate) fn finish(self) -> Result<Vec<Problem>, ConfigErrors> {
        let Problems {
            schema,
            errors,
            mut warnings,
            pruned,
            overridden,
        } = self;
        let mut kept: Vec<Problem> = schema;
        for problem in errors {
            // The walk removed or replaced this value: checks that now see
            // it missing would repeat the same mistake.
            let shadowed = pruned.iter().any(|p| problem.path.starts_with(p));
            if !shadowed && !kept.contains(&problem) {
                kept.push(problem);
            }
        }
        for problem in &mut kept {
            if let Some((_, flag)) = overridden.iter().find(|(p, _)| *p == problem.path) {
                problem.message.push_str(&format!(" (set by {flag})"));
            }
        }
        kept.sort_by(|a, b| a.path.cmp(&b.path));
        warnings.sort_by(|a, b| a.path.cmp(&b.path));
        if kept.is_empty() {
            Ok(warnings)
        } else {
            Err(ConfigErrors {
                errors: kept,
                warnings,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_print_and_parse() {
        let p = FieldPath::root()
            .key("spec")
            .key("queries")
            .index(2)
            .key("weight");
        assert_eq!(p.to_string(), "spec.queries[2].weight");
        assert_eq!(FieldPath::parse("spec.queries[2].weight"), p);
    }

    #[test]
    fn errors_sort_by_path_with_numeric_indexes() {
        let mut problems = Problems::default();
        let queries = FieldPath::parse("spec.queries");
        problems.error(&queries.index(10).key("name"), "b");
        problems.error(&queries.index(2).key("name"), "a");
        problems.error(&FieldPath::parse("apiVersion"), "c");
        let text = problems.finish().err().map(|e| e.to_string());
        assert_eq!(
            text.as_deref(),
            Some("apiVersion: c\nspec.queries[2].name: a\nspec.queries[10].name: b")
        );
    }

    #[test]
    fn errors_under_a_pruned_path_are_dropped() {
        let mut problems = Problems::default();
        let workload = FieldPath::parse("spec.workload");
        problems.prune(&workload, "expected a map, found a list");
        problems.error(&workload.key("duration"), "missing; set the run's length");
        let errors = problems
            .finish()
            .err()
            .map(|e| e.errors)
            .unwrap_or_default();
        assert_eq!(
            errors,
            vec![Problem::new(workload, "expected a map, found a list")]
        );
    }
}
