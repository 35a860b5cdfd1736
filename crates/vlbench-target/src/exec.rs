//! Running a parsed query over a tenant's data.
//!
//! Owns: the time window of a request, the row pipeline (filters, offsets,
//! limits, field lists) as a lazy [`RowCursor`] so `* | limit 1` touches one
//! row, sorting, and `stats` aggregation (also bucketed by time for
//! `stats_query_range` and `hits`). Counts are real counts over the data.
//! Must not: format responses or know about HTTP.

use std::collections::{HashMap, HashSet};

use crate::data::{Dataset, Field};
use crate::logsql::{Pipe, Query, SortPipe, StatsKind, StatsPipe};

/// One query execution: data, query, the request's "now" and time bounds.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    /// The tenant's rows.
    pub ds: &'a Dataset,
    /// The query.
    pub query: &'a Query,
    /// The request's "now" (ns).
    pub now: i64,
    /// Lowest timestamp included (ns).
    pub lo: i64,
    /// Highest timestamp included (ns).
    pub hi: i64,
}

impl<'a> Ctx<'a> {
    /// A context whose bounds are the args' `[lo, hi]` narrowed by the
    /// query's top-level `_time` filters.
    pub fn new(ds: &'a Dataset, query: &'a Query, now: i64, lo: i64, hi: i64) -> Ctx<'a> {
        let (flo, fhi) = query.filter.time_range(now);
        Ctx {
            ds,
            query,
            now,
            lo: lo.max(flo),
            hi: hi.min(fhi),
        }
    }
}

/// A row in a result: index into `Dataset::rows` and its timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowRef {
    /// Index into the data set's rows.
    pub idx: u32,
    /// Timestamp at the request's "now".
    pub ts: i64,
}

/// Where the row pipeline of a query stops being streamable.
fn barrier(pipes: &[Pipe]) -> usize {
    pipes
        .iter()
        .position(|p| matches!(p, Pipe::Sort(_) | Pipe::Stats(_)))
        .unwrap_or(pipes.len())
}

/// A leading `| sort by (_time [desc])` is the data's own order: returns
/// (descending, its limit) so it can stream instead of sorting.
fn leading_time_sort(pipes: &[Pipe]) -> Option<(bool, Option<u64>)> {
    match pipes.first() {
        Some(Pipe::Sort(SortPipe { keys, limit }))
            if keys.len() == 1 && keys[0].0 == Field::Time =>
        {
            Some((keys[0].1, *limit))
        }
        _ => None,
    }
}

/// The per-op counters of offsets and limits in a streamable run of pipes.
#[derive(Debug)]
struct OpState {
    counts: Vec<u64>,
    stopped: bool,
}

enum Pass {
    Keep,
    Drop,
    Stop,
}

impl OpState {
    fn new(n: usize) -> OpState {
        OpState {
            counts: vec![0; n],
            stopped: false,
        }
    }

    fn pass(&mut self, ops: &[Pipe], ctx: &Ctx<'_>, r: RowRef) -> Pass {
        if self.stopped {
            return Pass::Stop;
        }
        for (i, op) in ops.iter().enumerate() {
            match op {
                Pipe::Filter(f) => {
                    let row = &ctx.ds.rows[r.idx as usize];
                    if !f.matches(ctx.ds, row, r.ts, ctx.now) {
                        return Pass::Drop;
                    }
                }
                Pipe::Offset(n) => {
                    if self.counts[i] < *n {
                        self.counts[i] += 1;
                        return Pass::Drop;
                    }
                }
                Pipe::Limit(n) => {
                    if self.counts[i] >= *n {
                        self.stopped = true;
                        return Pass::Stop;
                    }
                    self.counts[i] += 1;
                    if self.counts[i] == *n {
                        // Later rows cannot pass this limit: end the scan
                        // after this one.
                        self.stopped = true;
                    }
                }
                Pipe::Fields(_) | Pipe::Sort(_) | Pipe::Stats(_) => {}
            }
        }
        Pass::Keep
    }
}

/// Lazily yields the rows of a query without sort/stats barriers, in time
/// order (or reverse for a leading `sort by (_time) desc`).
#[derive(Debug)]
pub struct RowCursor {
    next: usize,
    end: usize,
    desc: bool,
    ops_from: usize,
    ops_to: usize,
    state: OpState,
    window: crate::data::Window,
}

impl RowCursor {
    /// A cursor over the streamable part of `ctx.query`. Check
    /// [`is_streamable`] first to know whether it is the whole query.
    pub fn new(ctx: &Ctx<'_>) -> RowCursor {
        let pipes = &ctx.query.pipes;
        let (desc, ops_from, sort_limit) = match leading_time_sort(pipes) {
            Some((desc, limit)) => (desc, 1, limit),
            None => (false, 0, None),
        };
        let ops_to = ops_from + barrier(&pipes[ops_from..]);
        let window = ctx.ds.window(ctx.now, ctx.lo, ctx.hi);
        let mut end = window.end;
        if let Some(limit) = sort_limit {
            // The sort's own limit caps the rows read from the window.
            let limit = usize::try_from(limit).unwrap_or(usize::MAX);
            end = end.min(window.start.saturating_add(limit));
        }
        RowCursor {
            next: window.start,
            end,
            desc,
            ops_from,
            ops_to,
            state: OpState::new(ops_to),
            window,
        }
    }

    /// The next row, or None at the end.
    pub fn next_row(&mut self, ctx: &Ctx<'_>) -> Option<RowRef> {
        let ops = &ctx.query.pipes[self.ops_from..self.ops_to];
        while self.next < self.end {
            let k = if self.desc {
                self.window.end - 1 - (self.next - self.window.start)
            } else {
                self.next
            };
            self.next += 1;
            let idx = ctx.ds.index_at(&self.window, k);
            let ts = ctx.ds.time_at(&self.window, k);
            let row = &ctx.ds.rows[idx];
            if !ctx.query.filter.matches(ctx.ds, row, ts, ctx.now) {
                continue;
            }
            // Row counts are far below u32::MAX (config caps them at 10M).
            let r = RowRef {
                idx: idx as u32,
                ts,
            };
            match self.state.pass(ops, ctx, r) {
                Pass::Keep => return Some(r),
                Pass::Drop => {}
                Pass::Stop => break,
            }
        }
        self.next = self.end;
        None
    }
}

/// True when [`RowCursor`] alone answers the query (no sort or stats
/// after the leading `_time` sort).
pub fn is_streamable(query: &Query) -> bool {
    let from = usize::from(leading_time_sort(&query.pipes).is_some());
    barrier(&query.pipes[from..]) == query.pipes.len() - from
}

/// The fields a `/query` row shows: the last `fields` pipe, or all.
pub fn projection(query: &Query) -> Option<&[Field]> {
    query.pipes.iter().rev().find_map(|p| match p {
        Pipe::Fields(f) => Some(f.as_slice()),
        _ => None,
    })
}

/// Result of running every pipe: rows, or a stats table.
#[derive(Debug)]
pub enum Output {
    /// Rows in output order.
    Rows(Vec<RowRef>),
    /// `stats` result rows.
    Table(StatsTable),
}

/// Runs the whole pipeline, materializing rows (for sort and stats).
pub fn run(ctx: &Ctx<'_>, bucket_step: Option<i64>) -> Output {
    let mut cursor = RowCursor::new(ctx);
    let mut rows = Vec::new();
    while let Some(r) = cursor.next_row(ctx) {
        rows.push(r);
    }
    let pipes = &ctx.query.pipes;
    let mut i = cursor.ops_to;
    while i < pipes.len() {
        match &pipes[i] {
            Pipe::Sort(s) => sort_rows(ctx, &mut rows, s),
            Pipe::Stats(s) => {
                let mut table = stats(ctx, &rows, s, bucket_step);
                table.apply(&pipes[i + 1..]);
                return Output::Table(table);
            }
            _ => {
                let next = i + 1 + barrier(&pipes[i + 1..]);
                let ops = &pipes[i..next];
                let mut st = OpState::new(ops.len());
                let mut kept = Vec::with_capacity(rows.len());
                for &r in &rows {
                    match st.pass(ops, ctx, r) {
                        Pass::Keep => kept.push(r),
                        Pass::Drop => {}
                        Pass::Stop => break,
                    }
                }
                rows = kept;
                i = next;
                continue;
            }
        }
        i += 1;
    }
    if let Some(step) = bucket_step {
        // Buckets without a stats pipe (hits): count rows per step.
        let all = StatsPipe {
            by: Vec::new(),
            funcs: Vec::new(),
        };
        return Output::Table(stats(ctx, &rows, &all, Some(step)));
    }
    Output::Rows(rows)
}

fn sort_rows(ctx: &Ctx<'_>, rows: &mut Vec<RowRef>, s: &SortPipe) {
    let ds = ctx.ds;
    rows.sort_by(|a, b| {
        for (field, desc) in &s.keys {
            let ord = if *field == Field::Time {
                a.ts.cmp(&b.ts)
            } else {
                let va = ds.field(&ds.rows[a.idx as usize], field).unwrap_or("");
                let vb = ds.field(&ds.rows[b.idx as usize], field).unwrap_or("");
                va.cmp(vb)
            };
            let ord = if *desc { ord.reverse() } else { ord };
            if ord.is_ne() {
                return ord;
            }
        }
        std::cmp::Ordering::Equal
    });
    if let Some(n) = s.limit {
        rows.truncate(usize::try_from(n).unwrap_or(usize::MAX));
    }
}

/// The result of a `stats` pipe: one row per group (and time bucket).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct StatsTable {
    /// Names of the group-by fields.
    pub by: Vec<String>,
    /// Names of the result columns.
    pub names: Vec<String>,
    /// Rows sorted by bucket, then labels.
    pub rows: Vec<StatsRow>,
}

/// One group of a [`StatsTable`].
#[derive(Debug, Clone, PartialEq)]
pub struct StatsRow {
    /// Bucket start (ns) when bucketed by time.
    pub bucket: Option<i64>,
    /// Group-by values, in `by` order (empty string for a missing field).
    pub labels: Vec<String>,
    /// One value per result column.
    pub values: Vec<u64>,
}

struct Group {
    row: StatsRow,
    uniq: Vec<HashSet<String>>,
}

fn stats(ctx: &Ctx<'_>, rows: &[RowRef], s: &StatsPipe, step: Option<i64>) -> StatsTable {
    let ds = ctx.ds;
    let mut groups: HashMap<String, Group> = HashMap::new();
    let mut key = String::new();
    let mut uniq_key = String::new();
    for r in rows {
        let row = &ds.rows[r.idx as usize];
        let bucket = step.map(|st| r.ts.div_euclid(st.max(1)) * st.max(1));
        key.clear();
        if let Some(b) = bucket {
            key.push_str(&b.to_string());
        }
        for f in &s.by {
            key.push('\u{1}');
            key.push_str(ds.field(row, f).unwrap_or(""));
        }
        if !groups.contains_key(key.as_str()) {
            let labels =
                s.by.iter()
                    .map(|f| ds.field(row, f).unwrap_or("").to_string())
                    .collect();
            let row = StatsRow {
                bucket,
                labels,
                values: vec![0; s.funcs.len().max(1)],
            };
            let uniq = vec![HashSet::new(); s.funcs.len()];
            groups.insert(key.clone(), Group { row, uniq });
        }
        let Some(g) = groups.get_mut(key.as_str()) else {
            continue;
        };
        if s.funcs.is_empty() {
            g.row.values[0] += 1;
        }
        for (i, func) in s.funcs.iter().enumerate() {
            match &func.kind {
                StatsKind::Count(fields) => {
                    if fields.is_empty()
                        || fields
                            .iter()
                            .any(|f| ds.field(row, f).is_some_and(|v| !v.is_empty()))
                    {
                        g.row.values[i] += 1;
                    }
                }
                StatsKind::CountUniq(fields) => {
                    uniq_key.clear();
                    for f in fields {
                        uniq_key.push_str(ds.field(row, f).unwrap_or(""));
                        uniq_key.push('\u{1}');
                    }
                    if !g.uniq[i].contains(uniq_key.as_str()) {
                        g.uniq[i].insert(uniq_key.clone());
                        g.row.values[i] += 1;
                    }
                }
            }
        }
    }
    let mut out: Vec<StatsRow> = groups.into_values().map(|g| g.row).collect();
    if out.is_empty() && s.by.is_empty() && step.is_none() {
        // VictoriaLogs answers a global count over no rows with one zero row.
        out.push(StatsRow {
            bucket: None,
            labels: Vec::new(),
            values: vec![0; s.funcs.len().max(1)],
        });
    }
    out.sort_by(|a, b| (a.bucket, &a.labels).cmp(&(b.bucket, &b.labels)));
    StatsTable {
        by: s.by.iter().map(|f| f.name().to_string()).collect(),
        names: s.funcs.iter().map(|f| f.name.to_string()).collect(),
        rows: out,
    }
}

impl StatsTable {
    /// Applies the pipes after `stats` (sort, limit, offset) to its rows.
    fn apply(&mut self, pipes: &[Pipe]) {
        for p in pipes {
            match p {
                Pipe::Sort(s) => {
                    let cols: Vec<(Option<usize>, Option<usize>, bool)> = s
                        .keys
                        .iter()
                        .map(|(f, desc)| {
                            let name = f.name();
                            (
                                self.by.iter().position(|b| b == name),
                                self.names.iter().position(|n| n == name),
                                *desc,
                            )
                        })
                        .collect();
                    self.rows.sort_by(|a, b| {
                        for &(label, value, desc) in &cols {
                            let ord = match (label, value) {
                                (Some(l), _) => a.labels[l].cmp(&b.labels[l]),
                                (None, Some(v)) => a.values[v].cmp(&b.values[v]),
                                (None, None) => std::cmp::Ordering::Equal,
                            };
                            let ord = if desc { ord.reverse() } else { ord };
                            if ord.is_ne() {
                                return ord;
                            }
                        }
                        std::cmp::Ordering::Equal
                    });
                    if let Some(n) = s.limit {
                        self.rows.truncate(usize::try_from(n).unwrap_or(usize::MAX));
                    }
                }
                Pipe::Limit(n) => self
                    .rows
                    .truncate(usize::try_from(*n).unwrap_or(usize::MAX)),
                Pipe::Offset(n) => {
                    let n = usize::try_from(*n)
                        .unwrap_or(usize::MAX)
                        .min(self.rows.len());
                    self.rows.drain(..n);
                }
                _ => {}
            }
        }
    }
}

/// Calls `f` for every row the query returns (rows only: a `stats` pipe
/// is ignored here; the field endpoints count rows before stats).
pub fn for_each_row(ctx: &Ctx<'_>, mut f: impl FnMut(RowRef)) {
    if is_streamable(ctx.query) {
        let mut cursor = RowCursor::new(ctx);
        while let Some(r) = cursor.next_row(ctx) {
            f(r);
        }
        return;
    }
    let stats_at = ctx
        .query
        .pipes
        .iter()
        .position(|p| matches!(p, Pipe::Stats(_)));
    let query = match stats_at {
        Some(at) => Query {
            filter: ctx.query.filter.clone(),
            pipes: ctx.query.pipes[..at].to_vec(),
        },
        None => ctx.query.clone(),
    };
    let inner = Ctx {
        query: &query,
        ..*ctx
    };
    if let Output::Rows(rows) = run(&inner, None) {
        rows.into_iter().for_each(f);
    }
}
