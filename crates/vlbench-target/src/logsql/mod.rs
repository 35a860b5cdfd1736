//! The LogsQL subset the target understands.
//!
//! Owns: the parsed [`Query`] (a [`Filter`] plus [`Pipe`]s), parse errors
//! worded like VictoriaLogs', the canonical text of a query, and
//! [`QueryCache`], which keeps parsed queries (with compiled regexps) so a
//! request never parses or compiles the same text twice.
//! Must not: evaluate pipes over data (see `exec.rs`).
//!
//! Layout: `cache.rs` the query cache, `lexer.rs` tokens, `parser.rs` filters, `pipes.rs` pipes,
//! `filter.rs` the filter tree and its matching.

mod cache;
pub mod filter;
pub mod lexer;
mod parser;
mod pipes;

use std::fmt;

pub use cache::{Parsed, QueryCache};
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
