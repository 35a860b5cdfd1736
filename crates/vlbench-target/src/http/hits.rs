//! `/select/logsql/hits`: matching rows per time bucket, optionally
//! grouped by `field` args and capped by `fields_limit`.
//!
//! Owns: the hits JSON (`{"hits":[{"fields":{..},"timestamps":[..],
//! "values":[..],"total":N}]}`) and the "other" group that collects the
//! groups beyond `fields_limit`. Must not: aggregate (see `exec.rs`).

use super::reply::{bad_request, Ctype, Reply};
use super::stats::DEFAULT_STEP;
use super::{prepare, Args, Data};
use crate::data::Field;
use crate::exec::{self, Ctx, Output};
use crate::json::{push_str, push_u64};
use crate::logsql::{Pipe, Query, StatsFunc, StatsKind, StatsPipe};
use crate::metrics::Endpoint;
use crate::time::push_rfc3339;
use crate::TargetState;

struct Group {
    labels: Vec<String>,
    points: Vec<(i64, u64)>,
    total: u64,
}

/// Handles one `hits` request.
pub fn handle(state: &TargetState, ds: Data, args: &Args<'_>, abort: bool) -> Result<Reply, Reply> {
    let ep = Endpoint::Hits;
    let p = prepare(state, ep, args, false)?;
    let step = args.step(DEFAULT_STEP).map_err(|m| bad_request(ep, &m))?;
    if step <= 0 {
        return Err(bad_request(ep, "'step' must be bigger than zero"));
    }
    let fields_limit = args.fields_limit().map_err(|m| bad_request(ep, &m))?;
    if p.query.stats().is_some() {
        return Err(bad_request(
            ep,
            "the hits query must not contain a `| stats` pipe",
        ));
    }
    if abort {
        return Err(Reply::aborted(Ctype::Json));
    }
    let by: Vec<Field> = args.field.iter().map(|f| Field::from_name(f)).collect();
    let mut query = Query::clone(&p.query);
    let count = StatsFunc {
        kind: StatsKind::Count(Vec::new()),
        name: "hits".into(),
    };
    query.pipes.push(Pipe::Stats(StatsPipe {
        by,
        funcs: vec![count],
    }));
    let ctx = Ctx::new(&ds, &query, p.now, p.lo, p.hi);
    let Output::Table(t) = exec::run(&ctx, Some(step)) else {
        return Err(bad_request(ep, "internal error: hits produced no table"));
    };
    let mut groups: Vec<Group> = Vec::new();
    for row in &t.rows {
        let v = row.values.first().copied().unwrap_or(0);
        let point = (row.bucket.unwrap_or(0), v);
        match groups.iter_mut().find(|g| g.labels == row.labels) {
            Some(g) => {
                g.points.push(point);
                g.total += v;
            }
            None => groups.push(Group {
                labels: row.labels.clone(),
                points: vec![point],
                total: v,
            }),
        }
    }
    let groups = cap_groups(groups, fields_limit);
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"{\"hits\":[");
    for (i, g) in groups.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"fields\":{");
        for (j, (name, v)) in t.by.iter().zip(&g.labels).enumerate() {
            if j > 0 {
                out.push(b',');
            }
            push_str(&mut out, name);
            out.push(b':');
            push_str(&mut out, v);
        }
        out.extend_from_slice(b"},\"timestamps\":[");
        for (j, (ts, _)) in g.points.iter().enumerate() {
            if j > 0 {
                out.push(b',');
            }
            out.push(b'"');
            push_rfc3339(&mut out, *ts, false);
            out.push(b'"');
        }
        out.extend_from_slice(b"],\"values\":[");
        for (j, (_, v)) in g.points.iter().enumerate() {
            if j > 0 {
                out.push(b',');
            }
            push_u64(&mut out, *v);
        }
        out.extend_from_slice(b"],\"total\":");
        push_u64(&mut out, g.total);
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
    Ok(Reply::full(200, Ctype::Json, out))
}

/// Keeps the `limit` groups with the most hits (sorted by labels) and
/// merges the rest into one group without fields, listed last.
fn cap_groups(mut groups: Vec<Group>, limit: u64) -> Vec<Group> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if limit == 0 || groups.len() <= limit {
        groups.sort_by(|a, b| a.labels.cmp(&b.labels));
        return groups;
    }
    groups.sort_by(|a, b| b.total.cmp(&a.total).then_with(|| a.labels.cmp(&b.labels)));
    let rest = groups.split_off(limit);
    groups.sort_by(|a, b| a.labels.cmp(&b.labels));
    let mut other = Group {
        labels: Vec::new(),
        points: Vec::new(),
        total: 0,
    };
    for g in rest {
        other.total += g.total;
        for (ts, v) in g.points {
            match other.points.iter_mut().find(|(t, _)| *t == ts) {
                Some(p) => p.1 += v,
                None => other.points.push((ts, v)),
            }
        }
    }
    other.points.sort_unstable();
    groups.push(other);
    groups
}
