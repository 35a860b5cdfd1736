//! The charts over time: which series of the report each chart shows, as
//! per-second values with `None` for seconds without data (drawn as gaps).
//!
//! Must not: draw (see `svg`) or compute anything but per-second rates of
//! the model's counts.

use std::fmt::Write as _;

use super::svg::{self, Chart, Series, Unit};
use crate::model::{IntervalFigures, IntervalLedger, IntervalPoint, Report};

/// Series colours for queries, in query order (Tableau 10).
const PALETTE: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac",
];
/// Colour of "all queries" lines.
const TOTAL_COLOR: &str = "#1f2937";
/// Colour of the "planned" line.
const PLANNED_COLOR: &str = "#6b7280";
/// Most queries drawn as their own lines; more would be unreadable.
const MAX_QUERY_LINES: usize = PALETTE.len();

/// Appends the "Over time" section: five charts over the run's seconds.
pub(super) fn charts(out: &mut String, r: &Report) {
    let xs: Vec<f64> = r.intervals.iter().map(|p| p.seq as f64).collect();
    let gaps: Vec<f64> = r
        .intervals
        .iter()
        .filter(|p| p.missing)
        .map(|p| p.seq as f64)
        .collect();
    out.push_str("<section>\n<h2>Over time</h2>\n");
    if r.queries.len() > MAX_QUERY_LINES {
        put!(
            out,
            "<p class=\"note\">{} queries: only the total is drawn; report.csv has every query's series.</p>\n",
            r.queries.len()
        );
    }
    out.push_str("<div class=\"charts\">\n");
    let specs = [
        (
            "Throughput (completed requests per second)",
            Unit::PerSec,
            false,
            throughput(r),
        ),
        ("Latency, all queries", Unit::Ms, true, latency(r)),
        ("Errors per second", Unit::PerSec, false, errors(r)),
        (
            "Schedule: planned vs sent, dropped",
            Unit::PerSec,
            false,
            schedule(r),
        ),
        ("Scheduling lag p99", Unit::Ms, true, lag(r)),
    ];
    for (title, unit, log_if_wide, series) in specs {
        out.push_str(&svg::render(&Chart {
            title,
            unit,
            log_if_wide,
            xs: &xs,
            gaps: &gaps,
            series,
        }));
    }
    out.push_str("</div>\n</section>\n");
}

fn throughput(r: &Report) -> Vec<Series> {
    let figure = |p: &IntervalPoint, f: &IntervalFigures| rate(p, f.total_queries);
    let mut series = vec![bold(line(
        "all queries",
        TOTAL_COLOR,
        values(r, None, figure),
    ))];
    series.extend(query_series(r, figure));
    series
}

fn latency(r: &Report) -> Vec<Series> {
    // No latency in a second that completed nothing: a gap, not 0 ms.
    let pick = |v: fn(&IntervalFigures) -> f64| {
        values(r, None, move |_, f| (f.total_queries > 0).then(|| v(f)))
    };
    vec![
        line("p50", PALETTE[0], pick(|f| f.p50_response_time)),
        line("p95", PALETTE[1], pick(|f| f.p95_response_time)),
        bold(line("p99", PALETTE[3], pick(|f| f.p99_response_time))),
    ]
}

fn errors(r: &Report) -> Vec<Series> {
    let figure = |p: &IntervalPoint, f: &IntervalFigures| rate(p, f.failed_queries);
    let mut series = vec![bold(line(
        "all queries",
        TOTAL_COLOR,
        values(r, None, figure),
    ))];
    series.extend(query_series(r, figure));
    series
}

fn schedule(r: &Report) -> Vec<Series> {
    let ledger = |pick: fn(&IntervalLedger) -> u64| -> Vec<Option<f64>> {
        r.intervals
            .iter()
            .map(|p| p.ledger.as_ref().and_then(|l| rate(p, pick(l))))
            .collect()
    };
    let mut planned = line("planned", PLANNED_COLOR, ledger(|l| l.planned));
    planned.dashed = true;
    vec![
        planned,
        line("sent", PALETTE[0], ledger(|l| l.sent)),
        line("dropped", PALETTE[3], ledger(|l| l.dropped)),
    ]
}

fn lag(r: &Report) -> Vec<Series> {
    // A second that sent nothing has no lag to show.
    let values = r
        .intervals
        .iter()
        .map(|p| {
            p.ledger
                .as_ref()
                .filter(|l| !p.missing && l.sent > 0)
                .map(|l| l.lag_p99_ms)
        })
        .collect();
    vec![line("send lag p99", PALETTE[6], values)]
}

/// A per-second rate of `n` events in interval `p`; `None` when missing.
fn rate(p: &IntervalPoint, n: u64) -> Option<f64> {
    (!p.missing && p.duration_ms > 0).then(|| n as f64 * 1000.0 / p.duration_ms as f64)
}

/// Values of one figure per interval, of `query` or (`None`) all queries;
/// `None` where missing or absent.
fn values(
    r: &Report,
    query: Option<&str>,
    figure: impl Fn(&IntervalPoint, &IntervalFigures) -> Option<f64>,
) -> Vec<Option<f64>> {
    r.intervals
        .iter()
        .map(|p| {
            let f = match query {
                None => p.total.as_ref(),
                Some(q) => p.queries.get(q),
            };
            f.and_then(|f| figure(p, f))
        })
        .collect()
}

/// Per-query series of `figure`, or none when there are too many queries.
fn query_series(
    r: &Report,
    figure: impl Fn(&IntervalPoint, &IntervalFigures) -> Option<f64> + Copy,
) -> Vec<Series> {
    if r.queries.len() > MAX_QUERY_LINES {
        return Vec::new();
    }
    r.queries
        .keys()
        .zip(PALETTE)
        .map(|(name, color)| line(name, color, values(r, Some(name), figure)))
        .collect()
}

fn line(name: &str, color: &'static str, values: Vec<Option<f64>>) -> Series {
    Series {
        name: name.to_string(),
        color,
        dashed: false,
        bold: false,
        values,
    }
}

fn bold(mut s: Series) -> Series {
    s.bold = true;
    s
}
