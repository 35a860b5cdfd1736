//! The live view of a running benchmark: one redrawn line on a terminal, plain
//! periodic lines otherwise (CI logs, pipes).
//!
//! It only consumes interval reports; it never touches the engine. Figures
//! shown are those of a short sliding window (the last few intervals merged),
//! so the p99 on screen comes from a merged histogram like everything else.

use std::collections::VecDeque;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use vlbench_stats::{IntervalReport, IntervalStats, Summary};

/// How many one-second intervals the live figures cover.
const WINDOW: usize = 5;
/// How often a plain (non-terminal) progress line is printed.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

/// Live progress of one run.
pub struct Progress {
    bar: Option<ProgressBar>,
    total: Duration,
    window: VecDeque<IntervalReport>,
    sent: u64,
    failed: u64,
    dropped: u64,
    last_plain: Option<Instant>,
    quiet: bool,
}

impl Progress {
    /// A progress view for a run of `total` length. `quiet` prints nothing
    /// until the summary; otherwise a terminal on stderr gets a redrawn line.
    pub fn new(total: Duration, quiet: bool) -> Progress {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(total.as_secs().max(1));
            // The template is a constant: a parse failure is a programming
            // error caught by the first run, so fall back to the default style.
            let style =
                ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len}s {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> ");
            bar.set_style(style);
            bar
        });
        Progress {
            bar,
            total,
            window: VecDeque::with_capacity(WINDOW + 1),
            sent: 0,
            failed: 0,
            dropped: 0,
            last_plain: None,
            quiet,
        }
    }

    /// Takes one interval report (one second of the run) into the view.
    pub fn observe(&mut self, report: &IntervalReport) {
        let total = report.stats.total();
        self.sent += total.ok + total.errors.iter().sum::<u64>();
        self.failed += total.errors.iter().sum::<u64>();
        self.dropped += total.dropped;
        self.window.push_back(report.clone());
        while self.window.len() > WINDOW {
            self.window.pop_front();
        }
        let elapsed = Duration::from_millis((report.seq + 1) * 1000).min(self.total);
        let line = self.line(elapsed);
        if let Some(bar) = &self.bar {
            bar.set_position(elapsed.as_secs());
            bar.set_message(line);
        } else if !self.quiet && self.last_plain.is_none_or(|t| t.elapsed() >= PLAIN_EVERY) {
            self.last_plain = Some(Instant::now());
            eprintln!(
                "[{:>4}s/{}s] {line}",
                elapsed.as_secs(),
                self.total.as_secs()
            );
        }
    }

    /// The figures of the sliding window, as one short line.
    fn line(&self, _elapsed: Duration) -> String {
        let Some(first) = self.window.front() else {
            return String::new();
        };
        let mut merged = IntervalStats::new(first.stats.queries.len());
        let mut millis = 0;
        for r in &self.window {
            merged.merge(&r.stats);
            millis += r.duration_ms;
        }
        let secs = (millis as f64 / 1000.0).max(0.001);
        let s = Summary::from_stats(&merged.total(), secs);
        let err_pct = if self.sent == 0 {
            0.0
        } else {
            100.0 * self.failed as f64 / self.sent as f64
        };
        let mut line = format!(
            "{:.0} q/s | p50 {:.1} ms | p99 {:.1} ms | sent {} | errors {} ({err_pct:.2}%)",
            s.qps, s.p50_response_time, s.p99_response_time, self.sent, self.failed
        );
        if self.dropped > 0 {
            line.push_str(&format!(" | dropped {}", self.dropped));
        }
        line
    }

    /// Clears the live line before the summary is printed.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
