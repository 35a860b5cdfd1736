//! `report.csv`: the per-second series as one row per interval and query,
//! plus a `__total__` row per interval (all queries merged), for
//! spreadsheets and plotting tools.
//!
//! Columns ([`CSV_HEADER`]):
//! - `seq`: second index since the start; `start`: RFC 3339 UTC;
//!   `duration_ms`: length of the interval (0 when missing);
//! - `missing`: `true` when no report arrived for that second (then every
//!   figure is empty, but the row is there);
//! - `query`: the query name, or `__total__`;
//! - `total_queries`, `failed_queries`, `dropped_queries`, `qps`;
//! - `avg_response_time`, `p50_response_time`, `p95_response_time`,
//!   `p99_response_time`, `max_response_time` in ms;
//! - `planned`, `sent`, `completed`, `dropped`, `lag_p99_ms`: the schedule
//!   ledger, only on `__total__` rows (the ledger is not per query).
//!
//! Fields are quoted per RFC 4180 when they contain a comma, quote or line
//! break. Must not: compute anything the model does not hold.

use std::fmt::Write as _;

use crate::model::{IntervalFigures, IntervalPoint, Report, TOTAL_QUERY};

/// The header line (without the line break).
pub const CSV_HEADER: &str =
    "seq,start,duration_ms,missing,query,total_queries,failed_queries,dropped_queries,qps,\
avg_response_time,p50_response_time,p95_response_time,p99_response_time,max_response_time,\
planned,sent,completed,dropped,lag_p99_ms";

/// The report's series as CSV text (header + rows, `\n` line ends).
pub fn render_csv(report: &Report) -> String {
    let names: Vec<&String> = report.queries.keys().collect();
    let mut out = String::with_capacity(128 * (report.intervals.len() * (names.len() + 1) + 1));
    out.push_str(CSV_HEADER);
    out.push('\n');
    for p in &report.intervals {
        row(&mut out, p, TOTAL_QUERY, p.total.as_ref(), true);
        for name in &names {
            row(&mut out, p, name, p.queries.get(*name), false);
        }
    }
    out
}

fn row(
    out: &mut String,
    p: &IntervalPoint,
    query: &str,
    f: Option<&IntervalFigures>,
    with_ledger: bool,
) {
    // Writing to a String cannot fail; the fmt::Result is discarded.
    let _ = write!(
        out,
        "{},{},{},{},",
        p.seq, p.start, p.duration_ms, p.missing
    );
    push_field(out, query);
    match f {
        Some(f) => {
            let _ = write!(
                out,
                ",{},{},{},{},{},{},{},{},{}",
                f.total_queries,
                f.failed_queries,
                f.dropped_queries,
                f.qps,
                f.avg_response_time,
                f.p50_response_time,
                f.p95_response_time,
                f.p99_response_time,
                f.max_response_time
            );
        }
        None => out.push_str(",,,,,,,,,"),
    }
    match (&p.ledger, with_ledger) {
        (Some(l), true) => {
            let _ = write!(
                out,
                ",{},{},{},{},{}",
                l.planned, l.sent, l.completed, l.dropped, l.lag_p99_ms
            );
        }
        _ => out.push_str(",,,,,"),
    }
    out.push('\n');
}

/// Appends `s` as one CSV field, quoted when it needs to be.
fn push_field(out: &mut String, s: &str) {
    if s.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}
