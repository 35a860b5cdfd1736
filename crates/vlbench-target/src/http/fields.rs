//! `/select/logsql/field_names`, `/select/logsql/field_values` and
//! `/select/logsql/streams`: `{"values":[{"value":..,"hits":N}]}`.
//!
//! Owns: counting field names, field values and streams over the rows a
//! query returns, the `field` and `limit` args of these endpoints, and
//! their order (names alphabetically, values and streams by hits).
//! Must not: evaluate filters itself.

use std::collections::HashMap;

use super::reply::{bad_request, Ctype, Reply};
use super::{prepare, Args, Data};
use crate::data::Field;
use crate::exec::{self, Ctx};
use crate::json::{push_str, push_u64};
use crate::metrics::Endpoint;
use crate::TargetState;

fn values_json(items: &[(&str, u64)]) -> Reply {
    let mut out = Vec::with_capacity(64 + items.len() * 32);
    out.extend_from_slice(b"{\"values\":[");
    for (i, (v, hits)) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"value\":");
        push_str(&mut out, v);
        out.extend_from_slice(b",\"hits\":");
        push_u64(&mut out, *hits);
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
    Reply::full(200, Ctype::Json, out)
}

/// Sorts by hits (descending), then value, and applies `limit` (0 = all).
fn top(mut items: Vec<(&str, u64)>, limit: u64) -> Vec<(&str, u64)> {
    items.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    if limit > 0 {
        items.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    }
    items
}

/// `field_names`: every field present in the matching rows.
pub fn names(state: &TargetState, ds: Data, args: &Args<'_>, abort: bool) -> Result<Reply, Reply> {
    let p = prepare(state, Endpoint::FieldNames, args, false)?;
    if abort {
        return Err(Reply::aborted(Ctype::Json));
    }
    let ctx = Ctx::new(&ds, &p.query, p.now, p.lo, p.hi);
    let mut counts = [0u64; Field::ALL.len()];
    exec::for_each_row(&ctx, |r| {
        let row = &ds.rows[r.idx as usize];
        for (i, f) in Field::ALL.iter().enumerate() {
            if *f == Field::Time || ds.field(row, f).is_some_and(|v| !v.is_empty()) {
                counts[i] += 1;
            }
        }
    });
    let mut items: Vec<(&str, u64)> = Field::ALL
        .iter()
        .zip(counts)
        .filter(|(_, n)| *n > 0)
        .map(|(f, n)| (f.name(), n))
        .collect();
    items.sort_by(|a, b| a.0.cmp(b.0));
    Ok(values_json(&items))
}

/// `field_values`: values of the `field` arg by hits.
pub fn values(state: &TargetState, ds: Data, args: &Args<'_>, abort: bool) -> Result<Reply, Reply> {
    let ep = Endpoint::FieldValues;
    let p = prepare(state, ep, args, false)?;
    let Some(name) = args.field.first().filter(|f| !f.is_empty()) else {
        return Err(bad_request(ep, "missing 'field' query arg"));
    };
    let limit = args.limit().map_err(|m| bad_request(ep, &m))?;
    if abort {
        return Err(Reply::aborted(Ctype::Json));
    }
    let field = Field::from_name(name);
    let ctx = Ctx::new(&ds, &p.query, p.now, p.lo, p.hi);
    let mut counts: HashMap<&str, u64> = HashMap::new();
    exec::for_each_row(&ctx, |r| {
        let row = &ds.rows[r.idx as usize];
        *counts
            .entry(ds.field(row, &field).unwrap_or(""))
            .or_default() += 1;
    });
    Ok(values_json(&top(counts.into_iter().collect(), limit)))
}

/// `streams`: the `_stream` values by hits.
pub fn streams(
    state: &TargetState,
    ds: Data,
    args: &Args<'_>,
    abort: bool,
) -> Result<Reply, Reply> {
    let ep = Endpoint::Streams;
    let p = prepare(state, ep, args, false)?;
    let limit = args.limit().map_err(|m| bad_request(ep, &m))?;
    if abort {
        return Err(Reply::aborted(Ctype::Json));
    }
    let ctx = Ctx::new(&ds, &p.query, p.now, p.lo, p.hi);
    let mut counts = vec![0u64; ds.streams.len()];
    exec::for_each_row(&ctx, |r| {
        counts[usize::from(ds.rows[r.idx as usize].stream)] += 1
    });
    let items = ds
        .streams
        .iter()
        .zip(counts)
        .filter(|(_, n)| *n > 0)
        .map(|(s, n)| (&*s.label, n))
        .collect();
    Ok(values_json(&top(items, limit)))
}
