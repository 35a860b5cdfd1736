//! `/select/logsql/stats_query` and `/select/logsql/stats_query_range`:
//! Prometheus-style JSON (`vector` / `matrix`, values as strings).
//!
//! Owns: the `time`, `start`/`end`/`step` args of these endpoints, their
//! 422 JSON errors (missing `| stats` pipe, bad step) and the result JSON.
//! Must not: aggregate (see `exec.rs`).

use super::reply::{json_422, Ctype, Reply};
use super::{prepare, Args, Data};
use crate::exec::{self, Ctx, Output, StatsTable};
use crate::json::{push_str, push_u64};
use crate::metrics::Endpoint;
use crate::time::{push_unix_secs, NS_PER_SEC};
use crate::TargetState;

/// Default `step` of `stats_query_range` and `hits`: one day.
pub const DEFAULT_STEP: i64 = 86_400 * NS_PER_SEC;

fn stats_table(
    state: &TargetState,
    ds: &Data,
    args: &Args<'_>,
    ep: Endpoint,
    abort: bool,
) -> Result<(StatsTable, i64), Reply> {
    let time_arg = ep == Endpoint::StatsQuery;
    let p = prepare(state, ep, args, time_arg)?;
    if p.query.stats().is_none() {
        return Err(json_422(&format!(
            "missing `| stats ...` pipe in the query [{}]",
            p.query
        )));
    }
    let step = if time_arg {
        None
    } else {
        let step = args.step(DEFAULT_STEP).map_err(|m| json_422(&m))?;
        if step <= 0 {
            return Err(json_422("'step' must be bigger than zero"));
        }
        Some(step)
    };
    if abort {
        return Err(Reply::aborted(Ctype::Json));
    }
    let ctx = Ctx::new(ds, &p.query, p.now, p.lo, p.hi);
    match exec::run(&ctx, step) {
        Output::Table(t) => Ok((t, if args.time.is_some() { p.hi } else { p.now })),
        // Unreachable: the query has a stats pipe, so `run` returns a table.
        Output::Rows(_) => Ok((StatsTable::default(), p.now)),
    }
}

fn push_metric(out: &mut Vec<u8>, t: &StatsTable, labels: &[String], name: &str) {
    out.extend_from_slice(b"{\"metric\":{\"__name__\":");
    push_str(out, name);
    for (by, v) in t.by.iter().zip(labels) {
        out.push(b',');
        push_str(out, by);
        out.push(b':');
        push_str(out, v);
    }
    out.push(b'}');
}

/// `stats_query`: one sample per group and result column.
pub fn instant(
    state: &TargetState,
    ds: Data,
    args: &Args<'_>,
    abort: bool,
) -> Result<Reply, Reply> {
    let (t, ts) = stats_table(state, &ds, args, Endpoint::StatsQuery, abort)?;
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(
        b"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[",
    );
    let mut first = true;
    for row in &t.rows {
        for (name, v) in t.names.iter().zip(&row.values) {
            if !std::mem::take(&mut first) {
                out.push(b',');
            }
            push_metric(&mut out, &t, &row.labels, name);
            out.extend_from_slice(b",\"value\":[");
            push_unix_secs(&mut out, ts);
            out.extend_from_slice(b",\"");
            push_u64(&mut out, *v);
            out.extend_from_slice(b"\"]}");
        }
    }
    out.extend_from_slice(b"]}}");
    Ok(Reply::full(200, Ctype::Json, out))
}

/// Labels of one series and its (bucket, values) points.
type Series<'a> = (&'a [String], Vec<(i64, &'a [u64])>);

/// `stats_query_range`: one series per group and result column, one point
/// per non-empty step bucket.
pub fn range(state: &TargetState, ds: Data, args: &Args<'_>, abort: bool) -> Result<Reply, Reply> {
    let (t, _) = stats_table(state, &ds, args, Endpoint::StatsQueryRange, abort)?;
    // Rows come sorted by bucket, then labels; regroup by labels.
    let mut series: Vec<Series<'_>> = Vec::new();
    for row in &t.rows {
        let bucket = row.bucket.unwrap_or(0);
        match series.iter_mut().find(|(l, _)| *l == row.labels.as_slice()) {
            Some((_, pts)) => pts.push((bucket, &row.values)),
            None => series.push((&row.labels, vec![(bucket, &row.values)])),
        }
    }
    series.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(
        b"{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[",
    );
    let mut first = true;
    for (labels, pts) in &series {
        for (i, name) in t.names.iter().enumerate() {
            if !std::mem::take(&mut first) {
                out.push(b',');
            }
            push_metric(&mut out, &t, labels, name);
            out.extend_from_slice(b",\"values\":[");
            for (j, (bucket, values)) in pts.iter().enumerate() {
                if j > 0 {
                    out.push(b',');
                }
                out.push(b'[');
                push_unix_secs(&mut out, *bucket);
                out.extend_from_slice(b",\"");
                push_u64(&mut out, values[i]);
                out.extend_from_slice(b"\"]");
            }
            out.extend_from_slice(b"]}");
        }
    }
    out.extend_from_slice(b"]}}");
    Ok(Reply::full(200, Ctype::Json, out))
}
