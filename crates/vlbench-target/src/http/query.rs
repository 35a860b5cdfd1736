//! `/select/logsql/query`: rows as JSON lines.
//!
//! Owns: choosing Content-Length (small results) or chunked streaming
//! (bigger ones) like the real server, the `limit` arg, lazy streaming of
//! filter/limit queries straight from the data, and the mid-stream abort
//! after `abort.after_rows` rows.
//! Must not: parse queries or evaluate filters itself.

use std::cell::RefCell;
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
    let body = if exec::is_streamable(&p.query) {
        let cursor = RowCursor::new(&ctx);
        let (lo, hi) = (ctx.lo, ctx.hi);
        let rows = CursorRows {
            ds: Arc::clone(&ds),
            query: Arc::clone(&p.query),
            now: p.now,
            lo,
            hi,
            cursor,
            left,
            fields,
        };
        body(rows, abort)
    } else {
        match exec::run(&ctx, None) {
            Output::Rows(mut rows) => {
                rows.truncate(usize::try_from(left).unwrap_or(usize::MAX));
                let rows = VecRows {
                    ds: Arc::clone(&ds),
                    rows,
                    next: 0,
                    fields,
                };
                body(rows, abort)
            }
            Output::Table(t) => {
                let mut out = Vec::new();
                render::table_lines(&mut out, &t);
                body(Once(Some(out)), abort)
            }
        }
    };
    Ok(Reply {
        status: 200,
        ctype: Ctype::StreamJson,
        body,
    })
}

thread_local! {
    /// Where the first part of each body is rendered before it is copied
    /// out at its exact size (one allocation per small response).
    static FIRST: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(SMALL_BODY + 1024));
}

/// The response body of `producer`: whole (Content-Length) when it fits
/// in [`SMALL_BODY`], else chunked; the producer is boxed only then.
fn body<P: Producer + 'static>(mut producer: P, abort: bool) -> ResponseBody {
    let (first, more) = FIRST
        .try_with(|buf| {
            let mut buf = buf.borrow_mut();
            buf.clear();
            let more = producer.fill(&mut buf, SMALL_BODY + 1);
            (Bytes::copy_from_slice(&buf), more)
        })
        .unwrap_or_else(|_| {
            // Only while the thread is being torn down.
            let mut buf = Vec::new();
            let more = producer.fill(&mut buf, SMALL_BODY + 1);
            (Bytes::from(buf), more)
        });
    let rest: Option<Box<dyn Producer>> = if more { Some(Box::new(producer)) } else { None };
    if abort {
        return ResponseBody::stream(first, rest, true);
    }
    if rest.is_none() && first.len() <= SMALL_BODY {
        ResponseBody::full(first)
    } else {
        ResponseBody::stream(first, rest, false)
    }
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
