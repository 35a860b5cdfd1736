//! `/select/logsql/query`: rows as JSON lines.
//!
//! Owns: choosing Content-Length (small results) or chunked streaming
//! (bigger ones) like the real server, the `limit` arg, lazy streaming of
//! filter/limit queries straight from the data, and the mid-stream abort
//! after `abort.after_rows` rows.
//! Must not: parse queries or evaluate filters itself.

use std::sync::Arc;

use bytes::Bytes;

use super::reply::{bad_request, Ctype, Reply};
use super::{prepare, render, Args, Data};
use crate::body::{Producer, ResponseBody, SMALL_BODY};
use crate::data::Field;
use crate::exec::{self, Ctx, Output, RowCursor, RowRef};
use crate::logsql::Query;
use crate::metrics::Endpoint;
use crate::TargetState;

/// Streams rows of a query without sort/stats from a [`RowCursor`].
struct CursorRows {
    ds: Data,
    query: Arc<Query>,
    now: i64,
    lo: i64,
    hi: i64,
    cursor: RowCursor,
    left: u64,
    fields: Option<Vec<Field>>,
}

impl Producer for CursorRows {
    fn fill(&mut self, buf: &mut Vec<u8>, target: usize) -> bool {
        let ctx = Ctx {
            ds: &self.ds,
            query: &self.query,
            now: self.now,
            lo: self.lo,
            hi: self.hi,
        };
        while buf.len() < target {
            if self.left == 0 {
                return false;
            }
            let Some(r) = self.cursor.next_row(&ctx) else {
                return false;
            };
            self.left -= 1;
            render::row(buf, &self.ds, r, self.fields.as_deref());
        }
        true
    }
}

/// Streams already computed rows (after a sort).
struct VecRows {
    ds: Data,
    rows: Vec<RowRef>,
    next: usize,
    fields: Option<Vec<Field>>,
}

impl Producer for VecRows {
    fn fill(&mut self, buf: &mut Vec<u8>, target: usize) -> bool {
        while buf.len() < target {
            let Some(&r) = self.rows.get(self.next) else {
                return false;
            };
            self.next += 1;
            render::row(buf, &self.ds, r, self.fields.as_deref());
        }
        true
    }
}

/// Handles one `/query` request.
pub fn handle(state: &TargetState, ds: Data, args: &Args<'_>, abort: bool) -> Result<Reply, Reply> {
    let p = prepare(state, Endpoint::Query, args, false)?;
    let limit = args.limit().map_err(|m| bad_request(Endpoint::Query, &m))?;
    let mut left = if limit == 0 { u64::MAX } else { limit };
    if abort {
        left = left.min(state.knobs().abort_after_rows);
    }
    let fields = exec::projection(&p.query).map(<[Field]>::to_vec);
    let ctx = Ctx::new(&ds, &p.query, p.now, p.lo, p.hi);
    let mut producer: Box<dyn Producer> = if exec::is_streamable(&p.query) {
        let cursor = RowCursor::new(&ctx);
        let (lo, hi) = (ctx.lo, ctx.hi);
        Box::new(CursorRows {
            ds: Arc::clone(&ds),
            query: Arc::clone(&p.query),
            now: p.now,
            lo,
            hi,
            cursor,
            left,
            fields,
        })
    } else {
        match exec::run(&ctx, None) {
            Output::Rows(mut rows) => {
                rows.truncate(usize::try_from(left).unwrap_or(usize::MAX));
                Box::new(VecRows {
                    ds: Arc::clone(&ds),
                    rows,
                    next: 0,
                    fields,
                })
            }
            Output::Table(t) => {
                let mut out = Vec::new();
                render::table_lines(&mut out, &t);
                Box::new(Once(Some(out)))
            }
        }
    };
    // Sized for a few rows: most answers of a load test are small, and big
    // first allocations make the allocator consolidate on every free.
    let mut first = Vec::with_capacity(1024);
    let more = producer.fill(&mut first, SMALL_BODY + 1);
    let rest = more.then_some(producer);
    if abort {
        return Ok(Reply {
            status: 200,
            ctype: Ctype::StreamJson,
            body: ResponseBody::stream(first.into(), rest, true),
        });
    }
    let body = if rest.is_none() && first.len() <= SMALL_BODY {
        ResponseBody::full(Bytes::from(first))
    } else {
        ResponseBody::stream(first.into(), rest, false)
    };
    Ok(Reply {
        status: 200,
        ctype: Ctype::StreamJson,
        body,
    })
}

/// A producer of one prepared buffer.
struct Once(Option<Vec<u8>>);

impl Producer for Once {
    fn fill(&mut self, buf: &mut Vec<u8>, _target: usize) -> bool {
        if let Some(data) = self.0.take() {
            buf.extend_from_slice(&data);
        }
        false
    }
}
