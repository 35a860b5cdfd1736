//! The weighted query mix and request rendering.
//!
//! Owns picking a query by weight and writing its request (path and
//! form-encoded parameters) into a caller's reused buffer. It does not send
//! anything and does not know about HTTP clients, headers or tenants.

use std::collections::HashSet;
use std::fmt::{self, Write as _};
use std::time::SystemTime;

use rand::Rng;

use crate::endpoint::{QueryParams, QueryType};
use crate::template::Template;

/// One named query of the mix.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryDef {
    /// Unique name; statistics are kept per name.
    pub name: String,
    /// Optional group for reports (S-6 `category`).
    pub category: Option<String>,
    /// The endpoint the query goes to.
    pub qtype: QueryType,
    /// The LogsQL text, sent as `query`.
    pub template: Template,
    /// Other request parameters.
    pub params: QueryParams,
    /// Relative frequency in the mix; 0 means never picked (still probed).
    pub weight: u32,
}

/// Why a query list cannot form a workload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkloadError {
    /// No queries at all.
    #[error("the workload has no queries: add at least one entry under `queries`")]
    Empty,
    /// Every weight is zero, so nothing could be picked.
    #[error("every query has weight 0: give at least one query a positive weight")]
    AllZeroWeights,
    /// Two queries share a name, which would merge their statistics.
    #[error("query name {0:?} is used more than once: query names must be unique")]
    DuplicateName(String),
}

/// The weighted query mix: what to send, chosen per request.
#[derive(Clone, Debug, PartialEq)]
pub struct Workload {
    /// The queries, in the order statistics use (`Outcome::query` indexes it).
    pub queries: Vec<QueryDef>,
    /// `cumulative[i]` = sum of weights of queries `0..=i`.
    cumulative: Vec<u64>,
}

impl Workload {
    /// Checks the list (non-empty, a positive weight, unique names) and
    /// precomputes the cumulative weights used by [`Workload::pick`].
    pub fn new(queries: Vec<QueryDef>) -> Result<Workload, WorkloadError> {
        if queries.is_empty() {
            return Err(WorkloadError::Empty);
        }
        let mut seen = HashSet::new();
        for q in &queries {
            if !seen.insert(q.name.as_str()) {
                return Err(WorkloadError::DuplicateName(q.name.clone()));
            }
        }
        let cumulative: Vec<u64> = queries
            .iter()
            .scan(0u64, |sum, q| {
                *sum += u64::from(q.weight);
                Some(*sum)
            })
            .collect();
        if cumulative.last() == Some(&0) {
            return Err(WorkloadError::AllZeroWeights);
        }
        Ok(Workload {
            queries,
            cumulative,
        })
    }

    /// Picks a query index with probability proportional to its weight:
    /// one random draw and a binary search, no allocation (and no draw
    /// when there is only one query).
    pub fn pick(&self, rng: &mut (impl Rng + ?Sized)) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(0);
        if total == 0 || self.cumulative.len() == 1 {
            return 0;
        }
        let r = rng.random_range(0..total);
        self.cumulative.partition_point(|&c| c <= r)
    }

    /// Writes `path?query=...&start=...` for query `q` into `out` (cleared
    /// first), rendering the template with `rng` and resolving times at
    /// `now`. Allocation-free once `out` has grown to the request size.
    /// An index out of range leaves `out` empty.
    pub fn render_request(
        &self,
        q: usize,
        rng: &mut (impl Rng + ?Sized),
        now: SystemTime,
        out: &mut String,
    ) {
        out.clear();
        let Some(def) = self.queries.get(q) else {
            return;
        };
        out.push_str(def.qtype.path());
        out.push('?');
        write_params(def, rng, now, out);
    }

    /// Writes only the form-encoded parameters of query `q` into `out`
    /// (cleared first): the body of a POST with
    /// `Content-Type: application/x-www-form-urlencoded`.
    pub fn render_form_body(
        &self,
        q: usize,
        rng: &mut (impl Rng + ?Sized),
        now: SystemTime,
        out: &mut String,
    ) {
        out.clear();
        if let Some(def) = self.queries.get(q) {
            write_params(def, rng, now, out);
        }
    }

    /// The endpoint path of query `q` (for POST requests).
    pub fn path(&self, q: usize) -> Option<&'static str> {
        self.queries.get(q).map(|d| d.qtype.path())
    }

    /// The query names in order, for statistics and reports.
    pub fn names(&self) -> Vec<String> {
        self.queries.iter().map(|q| q.name.clone()).collect()
    }

    /// Number of queries.
    pub fn len(&self) -> usize {
        self.queries.len()
    }

    /// Always false: [`Workload::new`] rejects an empty list.
    pub fn is_empty(&self) -> bool {
        self.queries.is_empty()
    }
}

/// Appends `query=...` and the set parameters, form-encoded.
fn write_params(def: &QueryDef, rng: &mut (impl Rng + ?Sized), now: SystemTime, out: &mut String) {
    // Writing into a String cannot fail, so the fmt::Results are ignored.
    out.push_str("query=");
    let _ = def.template.render_to(rng, now, &mut FormEncoder(out));
    let p = &def.params;
    if let Some(start) = &p.start {
        out.push_str("&start=");
        let _ = start.write_unix(now, &mut FormEncoder(out));
    }
    if let Some(end) = &p.end {
        out.push_str("&end=");
        let _ = end.write_unix(now, &mut FormEncoder(out));
    }
    if let Some(limit) = p.limit {
        let _ = write!(out, "&limit={limit}");
    }
    if let Some(step) = &p.step {
        out.push_str("&step=");
        let _ = FormEncoder(out).write_str(step);
    }
    if let Some(field) = &p.field {
        out.push_str("&field=");
        let _ = FormEncoder(out).write_str(field);
    }
}

/// A writer that appends `application/x-www-form-urlencoded` text (space as
/// `+`, everything but `A-Za-z0-9*-._` percent-encoded), as Go's
/// `url.ParseQuery` in VictoriaLogs decodes it.
pub struct FormEncoder<'a>(pub &'a mut String);

impl fmt::Write for FormEncoder<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for chunk in form_urlencoded::byte_serialize(s.as_bytes()) {
            self.0.push_str(chunk);
        }
        Ok(())
    }
}
