//! JSON rendering of rows and stats results, appended to reused buffers.
//!
//! Owns: the `/query` line of a row (field order as VictoriaLogs prints
//! it: `_time, _stream_id, _stream, _msg`, stream and other fields, then
//! `level, trace_id`), projected rows for `| fields`, and stats rows as
//! `/query` lines. Must not: choose rows.

use crate::data::{Dataset, Field, Stream};
use crate::exec::{RowRef, StatsTable};
use crate::json::{push_escaped, push_str, push_u64};
use crate::time::push_rfc3339;

/// Appends one row as a JSON line.
pub fn row(out: &mut Vec<u8>, ds: &Dataset, r: RowRef, fields: Option<&[Field]>) {
    if let Some(fields) = fields {
        return projected(out, ds, r, fields);
    }
    let row = &ds.rows[r.idx as usize];
    let [head, tail] = &ds.stream_of(row).json;
    out.reserve(128 + head.len() + tail.len() + row.msg.len());
    out.extend_from_slice(b"{\"_time\":\"");
    push_rfc3339(out, r.ts, true);
    out.extend_from_slice(head);
    push_str(out, &row.msg);
    out.extend_from_slice(tail);
    push_escaped(out, row.level.as_str());
    out.push(b'"');
    if let Some(t) = &row.trace_id {
        out.extend_from_slice(b",\"trace_id\":\"");
        out.extend_from_slice(t);
        out.push(b'"');
    }
    out.extend_from_slice(b"}\n");
}

/// The JSON a stream fixes in every row (see [`Stream::json`]): from the
/// end of `_time`'s value to the start of `_msg`'s, and from the end of
/// `_msg`'s to the start of `level`'s value.
pub fn stream_json(s: &Stream) -> [Box<[u8]>; 2] {
    let mut head = Vec::with_capacity(64 + s.id.len() + s.label.len());
    head.extend_from_slice(b"\",\"_stream_id\":\"");
    head.extend_from_slice(s.id.as_bytes());
    head.extend_from_slice(b"\",\"_stream\":");
    push_str(&mut head, &s.label);
    head.extend_from_slice(b",\"_msg\":");
    let mut tail = Vec::with_capacity(160);
    for (name, value) in [
        ("app", s.app),
        ("container", s.container),
        ("job", s.job),
        ("namespace", s.namespace),
        ("node", s.node),
        ("pod", &s.pod),
    ] {
        tail.extend_from_slice(b",\"");
        tail.extend_from_slice(name.as_bytes());
        tail.extend_from_slice(b"\":\"");
        push_escaped(&mut tail, value);
        tail.push(b'"');
    }
    tail.extend_from_slice(b",\"level\":\"");
    [head.into(), tail.into()]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_have_victorialogs_field_order_and_the_data_values() {
        let ds = Dataset::generate(200, 3_600_000_000_000, 7);
        let now = 1_795_579_802_000_000_000;
        for idx in 0..200u32 {
            let r = RowRef {
                idx,
                ts: ds.row_time(now, idx as usize),
            };
            let mut out = Vec::new();
            row(&mut out, &ds, r, None);
            let line = std::str::from_utf8(&out).expect("utf-8");
            assert!(line.ends_with("}\n"));
            let v: serde_json::Value = serde_json::from_str(line).expect("json line");
            let data = &ds.rows[idx as usize];
            let mut at = 0;
            for f in [
                Field::Time,
                Field::StreamId,
                Field::Stream,
                Field::Msg,
                Field::App,
                Field::Container,
                Field::Job,
                Field::Namespace,
                Field::Node,
                Field::Pod,
                Field::Level,
                Field::TraceId,
            ] {
                let key = format!("\"{}\":", f.name());
                let Some(pos) = line.find(&key) else {
                    assert!(
                        data.trace_id.is_none() && f == Field::TraceId,
                        "{key} in {line}"
                    );
                    continue;
                };
                assert!(pos > at || at == 0, "{key} out of order in {line}");
                at = pos;
                if f != Field::Time {
                    assert_eq!(v[f.name()], ds.field(data, &f).unwrap_or(""), "{line}");
                }
            }
        }
    }
}
