//! JSON rendering of rows and stats results, appended to reused buffers.
//!
//! Owns: the `/query` line of a row (field order as VictoriaLogs prints
//! it: `_time, _stream_id, _stream, _msg`, stream and other fields, then
//! `level, trace_id`), projected rows for `| fields`, and stats rows as
//! `/query` lines. Must not: choose rows.

use crate::data::{Dataset, Field};
use crate::exec::{RowRef, StatsTable};
use crate::json::{push_escaped, push_str, push_u64};
use crate::time::push_rfc3339;

/// Appends one row as a JSON line.
pub fn row(out: &mut Vec<u8>, ds: &Dataset, r: RowRef, fields: Option<&[Field]>) {
    if let Some(fields) = fields {
        return projected(out, ds, r, fields);
    }
    let row = &ds.rows[r.idx as usize];
    let s = ds.stream_of(row);
    out.extend_from_slice(b"{\"_time\":\"");
    push_rfc3339(out, r.ts, true);
    out.extend_from_slice(b"\",\"_stream_id\":\"");
    out.extend_from_slice(s.id.as_bytes());
    out.extend_from_slice(b"\",\"_stream\":");
    push_str(out, &s.label);
    out.extend_from_slice(b",\"_msg\":");
    push_str(out, &row.msg);
    for (name, value) in [
        ("app", s.app),
        ("container", s.container),
        ("job", s.job),
        ("namespace", s.namespace),
        ("node", s.node),
        ("pod", &s.pod),
        ("level", row.level.as_str()),
    ] {
        out.extend_from_slice(b",\"");
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\":\"");
        push_escaped(out, value);
        out.push(b'"');
    }
    if let Some(t) = &row.trace_id {
        out.extend_from_slice(b",\"trace_id\":\"");
        out.extend_from_slice(t);
        out.push(b'"');
    }
    out.extend_from_slice(b"}\n");
}

fn projected(out: &mut Vec<u8>, ds: &Dataset, r: RowRef, fields: &[Field]) {
    let row = &ds.rows[r.idx as usize];
    out.push(b'{');
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_str(out, f.name());
        out.push(b':');
        if *f == Field::Time {
            out.push(b'"');
            push_rfc3339(out, r.ts, true);
            out.push(b'"');
        } else {
            push_str(out, ds.field(row, f).unwrap_or(""));
        }
    }
    out.extend_from_slice(b"}\n");
}

/// Appends the rows of a stats table as `/query` JSON lines
/// (`{"level":"error","hits":"10741"}`).
pub fn table_lines(out: &mut Vec<u8>, t: &StatsTable) {
    for r in &t.rows {
        out.push(b'{');
        let mut first = true;
        let mut sep = |out: &mut Vec<u8>| {
            if !std::mem::take(&mut first) {
                out.push(b',');
            }
        };
        for (name, label) in t.by.iter().zip(&r.labels) {
            sep(out);
            push_str(out, name);
            out.push(b':');
            push_str(out, label);
        }
        for (name, v) in t.names.iter().zip(&r.values) {
            sep(out);
            push_str(out, name);
            out.extend_from_slice(b":\"");
            push_u64(out, *v);
            out.push(b'"');
        }
        out.extend_from_slice(b"}\n");
    }
}
