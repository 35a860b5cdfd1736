//! The LogsQL subset the target understands.
//!
//! Owns: the parsed [`Query`] (a [`Filter`] plus [`Pipe`]s), parse errors
//! worded like VictoriaLogs', the canonical text of a query, and
//! [`QueryCache`], which keeps parsed queries (with compiled regexps) so a
//! request never parses or compiles the same text twice.
//! Must not: evaluate pipes over data (see `exec.rs`).
//!
//! Layout: `lexer.rs` tokens, `parser.rs` filters, `pipes.rs` pipes,
//! `filter.rs` the filter tree and its matching.

pub mod filter;
pub mod lexer;
mod parser;
mod pipes;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

pub use filter::{Bound, Filter};

use crate::data::Field;

/// A parsed query: rows matching `filter`, then `pipes` in order.
#[derive(Debug, Clone)]
pub struct Query {
    /// The filter before the first pipe (with leading filter pipes merged).
    pub filter: Filter,
    /// The pipes after it.
    pub pipes: Vec<Pipe>,
}

/// One pipe of the subset.
#[derive(Debug, Clone)]
pub enum Pipe {
    /// `| limit N` / `| head N`.
    Limit(u64),
    /// `| offset N` / `| skip N`.
    Offset(u64),
    /// `| fields a, b` / `| keep a, b`: the fields written per row.
    Fields(Vec<Field>),
    /// `| sort by (a, b desc) [desc] [limit N]`.
    Sort(SortPipe),
    /// `| filter ...` (and unknown pipe names, read as filters as
    /// VictoriaLogs does).
    Filter(Filter),
    /// `| stats [by (a, b)] count() [name], count_uniq(f) [name]`.
    Stats(StatsPipe),
}

/// The `sort` pipe.
#[derive(Debug, Clone)]
pub struct SortPipe {
    /// Fields and whether each is descending.
    pub keys: Vec<(Field, bool)>,
    /// Rows kept after sorting.
    pub limit: Option<u64>,
}

/// The `stats` pipe.
#[derive(Debug, Clone)]
pub struct StatsPipe {
    /// Group-by fields.
    pub by: Vec<Field>,
    /// Result columns.
    pub funcs: Vec<StatsFunc>,
}

/// One stats function with its result name.
#[derive(Debug, Clone)]
pub struct StatsFunc {
    /// What is computed.
    pub kind: StatsKind,
    /// Result name (`count(*)` when none is given).
    pub name: Box<str>,
}

/// Supported stats functions.
#[derive(Debug, Clone)]
pub enum StatsKind {
    /// `count()` (empty list) or `count(a, b)`: rows with any of the fields
    /// non-empty.
    Count(Vec<Field>),
    /// `count_uniq(a, b)`: distinct value tuples.
    CountUniq(Vec<Field>),
}

/// A syntax error, worded like VictoriaLogs'.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// What is wrong (`missing query`, `cannot parse 'stats' pipe: ...`).
    pub message: String,
    /// The query text up to the token where parsing stopped.
    pub context: String,
}

impl ParseError {
    /// `cannot parse query [<q>]: <message>; context: [<context>]`.
    pub fn render(&self, query: &str) -> String {
        format!(
            "cannot parse query [{query}]: {}; context: [{}]",
            self.message, self.context
        )
    }
}

/// Parses a query.
pub fn parse(text: &str) -> Result<Query, ParseError> {
    parser::parse_query(text)
}

impl Query {
    /// The `stats` pipe, if any.
    pub fn stats(&self) -> Option<&StatsPipe> {
        self.pipes.iter().find_map(|p| match p {
            Pipe::Stats(s) => Some(s),
            _ => None,
        })
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.filter)?;
        for p in &self.pipes {
            write!(f, " | {p}")?;
        }
        Ok(())
    }
}

fn write_fields(f: &mut fmt::Formatter<'_>, fields: &[Field]) -> fmt::Result {
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        filter::quote_if_needed(f, field.name())?;
    }
    Ok(())
}

impl fmt::Display for Pipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pipe::Limit(n) => write!(f, "limit {n}"),
            Pipe::Offset(n) => write!(f, "offset {n}"),
            Pipe::Fields(fields) => {
                f.write_str("fields ")?;
                write_fields(f, fields)
            }
            Pipe::Sort(s) => {
                f.write_str("sort by (")?;
                for (i, (field, desc)) in s.keys.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    filter::quote_if_needed(f, field.name())?;
                    if *desc {
                        f.write_str(" desc")?;
                    }
                }
                f.write_str(")")?;
                match s.limit {
                    Some(n) => write!(f, " limit {n}"),
                    None => Ok(()),
                }
            }
            Pipe::Filter(flt) => write!(f, "filter {flt}"),
            Pipe::Stats(s) => {
                f.write_str("stats ")?;
                if !s.by.is_empty() {
                    f.write_str("by (")?;
                    write_fields(f, &s.by)?;
                    f.write_str(") ")?;
                }
                for (i, func) in s.funcs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    let (name, args) = match &func.kind {
                        StatsKind::Count(a) => ("count", a),
                        StatsKind::CountUniq(a) => ("count_uniq", a),
                    };
                    write!(f, "{name}(")?;
                    if args.is_empty() {
                        f.write_str("*")?;
                    }
                    write_fields(f, args)?;
                    f.write_str(") as ")?;
                    filter::quote_if_needed(f, &func.name)?;
                }
                Ok(())
            }
        }
    }
}

/// A cached parse result: a shared query or the error to answer.
pub type Parsed = Result<Arc<Query>, ParseError>;

/// Parsed queries by text, shared by all requests. Bounded: when full it is
/// cleared (a load test uses a small set of distinct texts, so a smarter
/// eviction would buy nothing).
#[derive(Debug)]
pub struct QueryCache {
    map: Mutex<HashMap<Box<str>, Parsed>>,
    capacity: usize,
}

impl QueryCache {
    /// A cache holding at most `capacity` texts.
    pub fn new(capacity: usize) -> QueryCache {
        QueryCache {
            map: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// The parse result for `text`, parsing it on a miss. A std mutex is
    /// right here: the critical section is one hash lookup, never awaits.
    pub fn get(&self, text: &str) -> Parsed {
        if let Some(hit) = self.lock().get(text) {
            return hit.clone();
        }
        let parsed = parse(text).map(Arc::new);
        let mut map = self.lock();
        if map.len() >= self.capacity {
            map.clear();
        }
        map.insert(text.into(), parsed.clone());
        parsed
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Box<str>, Parsed>> {
        // A panic while holding the lock cannot leave the map inconsistent
        // (single insert/clear calls), so a poisoned lock is still usable.
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Number of cached texts.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
