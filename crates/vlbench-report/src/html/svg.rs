//! Line charts as inline SVG for the HTML report: axes with "nice" ticks,
//! a linear or logarithmic y axis, one path per series broken at missing
//! seconds (shaded as gaps, never drawn as zeros), and an HTML legend.
//!
//! Must not: read the report model (the page builds [`Chart`]s from it) or
//! emit anything that loads external resources.

use std::fmt::Write as _;

use super::esc;

/// viewBox width and height; the SVG scales to its container (CSS width 100 %).
const W: f64 = 960.0;
const H: f64 = 240.0;
/// Plot area margins inside the viewBox.
const LEFT: f64 = 70.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 44.0;
/// A log y axis is used (when asked) only if the data spans more than this factor.
const LOG_MIN_SPAN: f64 = 20.0;

/// What the y values are, for tick labels.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Unit {
    /// Events per second.
    PerSec,
    /// Milliseconds (labels switch to seconds from 1000 ms).
    Ms,
}

/// One line of a chart.
pub(crate) struct Series {
    /// Legend text (escaped when rendered).
    pub name: String,
    /// A CSS colour.
    pub color: &'static str,
    /// Drawn dashed (e.g. "planned" beside "sent").
    pub dashed: bool,
    /// Thicker line, for the "all queries" series.
    pub bold: bool,
    /// One value per x of the chart; `None` is a gap.
    pub values: Vec<Option<f64>>,
}

/// A chart over the seconds of the run.
pub(crate) struct Chart<'a> {
    /// Heading above the chart.
    pub title: &'a str,
    /// Unit of the y values.
    pub unit: Unit,
    /// Use a log y axis when the values span more than [`LOG_MIN_SPAN`].
    pub log_if_wide: bool,
    /// x of every value: seconds since the start.
    pub xs: &'a [f64],
    /// Seconds without a report, shaded.
    pub gaps: &'a [f64],
    /// The lines.
    pub series: Vec<Series>,
}

/// Maps values to plot coordinates.
struct Frame {
    x_max: f64,
    y_lo: f64,
    y_hi: f64,
    log: bool,
}

impl Frame {
    fn x(&self, x: f64) -> f64 {
        LEFT + (W - LEFT - RIGHT) * (x / self.x_max).clamp(0.0, 1.0)
    }

    fn y(&self, v: f64) -> f64 {
        let t = if self.log {
            let v = v.max(self.y_lo);
            (v.log10() - self.y_lo.log10()) / (self.y_hi.log10() - self.y_lo.log10())
        } else {
            (v - self.y_lo) / (self.y_hi - self.y_lo)
        };
        H - BOTTOM - (H - TOP - BOTTOM) * t.clamp(0.0, 1.0)
    }
}

/// The chart as a `<figure>`: heading, one `<svg>`, legend.
pub(crate) fn render(c: &Chart) -> String {
    let mut out = String::with_capacity(2048 + 16 * c.xs.len() * c.series.len());
    let (frame, y_ticks) = frame(c);
    put!(
        out,
        "<figure class=\"chart\"><figcaption>{}</figcaption>\n\
         <svg viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{}\">\n",
        esc(c.title),
        esc(c.title)
    );
    for &g in c.gaps {
        let (a, b) = (frame.x(g - 0.5), frame.x(g + 0.5));
        put!(
            out,
            "<rect class=\"gap\" x=\"{a:.1}\" y=\"{TOP}\" width=\"{:.1}\" height=\"{}\"><title>no report for second {g}</title></rect>\n",
            (b - a).max(1.0),
            H - TOP - BOTTOM
        );
    }
    y_axis(&mut out, &frame, &y_ticks, c.unit);
    x_axis(&mut out, &frame);
    if c.xs.is_empty() {
        put!(
            out,
            "<text class=\"empty\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">no per-second data</text>\n",
            (LEFT + W - RIGHT) / 2.0,
            (TOP + H - BOTTOM) / 2.0
        );
    }
    for s in &c.series {
        series_path(&mut out, &frame, c.xs, s);
    }
    out.push_str("</svg>\n");
    legend(&mut out, c);
    out.push_str("</figure>\n");
    out
}

/// The frame of `c` and its y ticks.
fn frame(c: &Chart) -> (Frame, Vec<f64>) {
    let x_max = c.xs.iter().copied().fold(0.0_f64, f64::max).max(1.0);
    let finite = || {
        c.series
            .iter()
            .flat_map(|s| s.values.iter().flatten().copied())
            .filter(|v| v.is_finite())
    };
    let max = finite().fold(0.0_f64, f64::max);
    let min_pos = finite().filter(|v| *v > 0.0).fold(f64::INFINITY, f64::min);
    if c.log_if_wide && min_pos.is_finite() && max / min_pos > LOG_MIN_SPAN {
        let lo = 10f64.powf(min_pos.log10().floor());
        let hi = log_top(max).max(lo * 10.0);
        let frame = Frame {
            x_max,
            y_lo: lo,
            y_hi: hi,
            log: true,
        };
        return (frame, log_ticks(lo, hi));
    }
    let (top, step) = nice(if max > 0.0 { max } else { 1.0 });
    let ticks = (0..)
        .map(|i| i as f64 * step)
        .take_while(|t| *t <= top * (1.0 + 1e-9))
        .take(12)
        .collect();
    let frame = Frame {
        x_max,
        y_lo: 0.0,
        y_hi: top,
        log: false,
    };
    (frame, ticks)
}

/// A round step near `max / 5` (1, 2, 2.5 or 5 times a power of ten) and the
/// first multiple of it at or above `max`.
fn nice(max: f64) -> (f64, f64) {
    let raw = max / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = match raw / mag {
        n if n <= 1.0 => mag,
        n if n <= 2.0 => 2.0 * mag,
        n if n <= 2.5 => 2.5 * mag,
        n if n <= 5.0 => 5.0 * mag,
        _ => 10.0 * mag,
    };
    ((max / step).ceil().max(1.0) * step, step)
}

/// A tick step in seconds that reads as time (5 s, 15 s, 1 m, 5 m, 1 h...),
/// giving at most about 10 ticks over `span`.
fn time_step(span: f64) -> f64 {
    const STEPS: [f64; 14] = [
        1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0,
    ];
    let want = span / 10.0;
    STEPS
        .into_iter()
        .find(|s| *s >= want)
        .unwrap_or_else(|| (want / 3600.0).ceil() * 3600.0)
}

/// The first of 1, 2 or 5 times a power of ten at or above `max` (> 0).
fn log_top(max: f64) -> f64 {
    let decade = 10f64.powf(max.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * decade)
        .find(|t| *t >= max * (1.0 - 1e-9))
        .unwrap_or(10.0 * decade)
}

/// Decades from `lo` to `hi`, with 2 and 5 between them when there are few,
/// and `hi` itself.
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let decades = ((hi / lo).log10() - 1e-9).ceil().clamp(1.0, 12.0) as i32;
    let mults: &[f64] = if decades <= 3 {
        &[1.0, 2.0, 5.0]
    } else {
        &[1.0]
    };
    let mut ticks = Vec::new();
    for d in 0..=decades {
        for m in mults {
            let t = lo * 10f64.powi(d) * m;
            if t <= hi * (1.0 + 1e-9) {
                ticks.push(t);
            }
        }
    }
    // The top of the axis is always labelled (e.g. 2 s above 1 s).
    if ticks.last().is_some_and(|t| *t < hi * (1.0 - 1e-9)) {
        ticks.push(hi);
    }
    ticks
}

/// The y axis: grid lines with tick labels, and the unit as its title.
fn y_axis(out: &mut String, frame: &Frame, ticks: &[f64], unit: Unit) {
    for t in ticks {
        let y = frame.y(*t);
        put!(
            out,
            "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/><text class=\"tick\" x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\n",
            W - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            tick_label(*t, unit)
        );
    }
    let scale = if frame.log { " (log scale)" } else { "" };
    put!(
        out,
        "<text class=\"axis\" x=\"14\" y=\"{}\" transform=\"rotate(-90 14 {})\" text-anchor=\"middle\">{}{scale}</text>\n",
        (TOP + H - BOTTOM) / 2.0,
        (TOP + H - BOTTOM) / 2.0,
        match unit {
            Unit::PerSec => "per second",
            Unit::Ms => "milliseconds",
        }
    );
}

/// The x axis: baseline, ticks in seconds since the start, title.
fn x_axis(out: &mut String, f: &Frame) {
    let base = H - BOTTOM;
    put!(
        out,
        "<line class=\"axisline\" x1=\"{LEFT}\" x2=\"{}\" y1=\"{base}\" y2=\"{base}\"/>\n",
        W - RIGHT
    );
    let step = time_step(f.x_max);
    let mut t = 0.0;
    while t <= f.x_max + 1e-9 {
        let x = f.x(t);
        put!(
            out,
            "<line class=\"axisline\" x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{base}\" y2=\"{}\"/><text class=\"tick\" x=\"{x:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
            base + 4.0,
            base + 17.0,
            secs_label(t)
        );
        t += step;
    }
    put!(
        out,
        "<text class=\"axis\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">seconds since start</text>\n",
        (LEFT + W - RIGHT) / 2.0,
        H - 6.0
    );
}

/// One series as a path broken at gaps; a point alone between gaps gets a
/// dot, since a one-point segment draws nothing visible.
fn series_path(out: &mut String, f: &Frame, xs: &[f64], s: &Series) {
    let value = |i: usize| s.values.get(i).copied().flatten().filter(|v| v.is_finite());
    let mut d = String::with_capacity(16 * xs.len());
    let mut dots = String::new();
    for (i, x) in xs.iter().enumerate() {
        let Some(v) = value(i) else { continue };
        let (px, py) = (f.x(*x), f.y(v));
        let starts = i == 0 || value(i - 1).is_none();
        put!(d, "{}{px:.1} {py:.1} ", if starts { 'M' } else { 'L' });
        if starts && value(i + 1).is_none() {
            put!(
                dots,
                "<circle class=\"dot\" cx=\"{px:.1}\" cy=\"{py:.1}\" r=\"3\" fill=\"{}\"/>\n",
                s.color
            );
        }
    }
    if d.is_empty() {
        return;
    }
    let width = if s.bold { 2.4 } else { 1.5 };
    let dash = if s.dashed {
        " stroke-dasharray=\"6 4\""
    } else {
        ""
    };
    put!(
        out,
        "<path class=\"series\" d=\"{}\" stroke=\"{}\" stroke-width=\"{width}\"{dash}><title>{}</title></path>\n{dots}",
        d.trim_end(),
        s.color,
        esc(&s.name)
    );
}

/// The legend under the chart, plus a "no data" key when there are gaps.
fn legend(out: &mut String, c: &Chart) {
    out.push_str("<ul class=\"legend\">");
    for s in &c.series {
        let style = if s.dashed { "dashed" } else { "solid" };
        put!(
            out,
            "<li><span class=\"key {style}\" style=\"border-color:{}\"></span>{}</li>",
            s.color,
            esc(&s.name)
        );
    }
    if !c.gaps.is_empty() {
        out.push_str("<li><span class=\"key gapkey\"></span>no report (gap)</li>");
    }
    out.push_str("</ul>\n");
}

/// A y tick label in the chart's unit.
fn tick_label(v: f64, unit: Unit) -> String {
    match unit {
        Unit::PerSec => short(v),
        Unit::Ms if v >= 1000.0 => format!("{} s", short(v / 1000.0)),
        Unit::Ms => format!("{} ms", short(v)),
    }
}

/// `v` with at most 3 decimals and no trailing zeros: "20", "2.5", "0.001".
fn short(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// An x tick label: "45s", "2m", "1m30s", "1h05m".
fn secs_label(t: f64) -> String {
    let s = t.round() as u64;
    match (s / 3600, s / 60 % 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s:02}s"),
        (h, m, _) => format!("{h}h{m:02}m"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_steps_are_round_and_cover_the_maximum() {
        assert_eq!(nice(73.0), (80.0, 20.0));
        assert_eq!(nice(1.0), (1.0, 0.2));
        assert_eq!(nice(12.0), (12.5, 2.5));
        assert_eq!(nice(1000.0), (1000.0, 200.0));
    }

    #[test]
    fn time_steps_read_as_time() {
        assert_eq!(time_step(4.0), 1.0);
        assert_eq!(time_step(120.0), 15.0);
        assert_eq!(time_step(3600.0), 600.0);
        assert_eq!(time_step(86_400.0 * 3.0), 8.0 * 3600.0);
    }

    #[test]
    fn log_ticks_span_decades() {
        assert_eq!(
            log_ticks(1.0, 100.0),
            vec![1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0]
        );
        assert_eq!(log_ticks(1.0, 10_000.0).len(), 5);
        assert_eq!(log_ticks(1.0, 2000.0).last(), Some(&2000.0));
        assert_eq!(
            (log_top(1999.0), log_top(100.0), log_top(301.0)),
            (2000.0, 100.0, 500.0)
        );
    }

    fn latency_chart(values: Vec<Option<f64>>) -> String {
        let xs: Vec<f64> = (0..values.len()).map(|i| i as f64).collect();
        render(&Chart {
            title: "t",
            unit: Unit::Ms,
            log_if_wide: true,
            xs: &xs,
            gaps: &[],
            series: vec![Series {
                name: "p99".to_string(),
                color: "red",
                dashed: false,
                bold: false,
                values,
            }],
        })
    }

    #[test]
    fn wide_latency_spans_use_a_log_axis() {
        let wide = latency_chart(vec![Some(2.0), Some(1500.0), Some(40.0)]);
        assert!(wide.contains("milliseconds (log scale)"));
        for tick in [">1 ms<", ">10 ms<", ">100 ms<", ">1 s<", ">2 s<"] {
            assert!(wide.contains(tick), "{tick} missing");
        }
        let narrow = latency_chart(vec![Some(20.0), Some(150.0)]);
        assert!(!narrow.contains("log scale"));
        assert!(narrow.contains(">0 ms<") && narrow.contains(">150 ms<"));
    }

    #[test]
    fn labels_read_well() {
        assert_eq!(secs_label(90.0), "1m30s");
        assert_eq!(secs_label(120.0), "2m");
        assert_eq!(secs_label(3900.0), "1h05m");
        assert_eq!(tick_label(2500.0, Unit::Ms), "2.5 s");
        assert_eq!(tick_label(20.0, Unit::Ms), "20 ms");
        assert_eq!(tick_label(0.2, Unit::PerSec), "0.2");
    }
}
