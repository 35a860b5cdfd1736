//! vlbench-report: report files of a finished benchmark.
//!
//! # Layout
//! - [`model`]: the [`Report`] model, built once from `RunStats` + context.
//! - [`schedule`]: the ledger totals and the "generator could not keep up" verdict.
//! - [`threshold`]: SLO checks against a built report (SPEC B-5).
//! - [`json`], [`csv`], [`prom`]: one file per format; each renders the model
//!   to a `String` (the coordinator serves these) and [`write_reports`] puts
//!   them in a directory.
//! - [`html`]: a self-contained page with tables and SVG charts for people.
//!
//! Every number in every format comes from the model, and every percentile
//! in the model from merged histograms (SPEC B-1).

pub mod csv;
pub mod html;
pub mod json;
pub mod model;
pub mod prom;
pub mod schedule;
pub mod threshold;

use std::path::{Path, PathBuf};

pub use csv::{render_csv, CSV_HEADER};
pub use html::render_html;
pub use json::{parse_json, render_json};
pub use model::{
    Errors, IntervalFigures, IntervalLedger, IntervalPoint, Meta, Metrics, Report, ReportContext,
    TOTAL_QUERY,
};
pub use prom::render_prom;
pub use schedule::ScheduleSummary;
pub use threshold::{Threshold, ThresholdResult};

/// Why a report could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Creating the directory or writing a file failed.
    #[error("cannot write report {path}: {source}; check that the directory is writable (reporting.storage.path)")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A report JSON did not match the schema.
    #[error("report JSON is not a vlbench report: {0}")]
    Parse(#[source] serde_json::Error),
    /// An unknown format name.
    #[error("report format {0:?} is unknown; use json, csv, prometheus or html")]
    UnknownFormat(String),
}

/// A report file format.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// `report.json`: the whole model.
    Json,
    /// `report.csv`: the per-second series.
    Csv,
    /// `report.prom`: final figures in Prometheus text format.
    Prometheus,
    /// `report.html`: a self-contained page with tables and charts.
    Html,
}

impl Format {
    /// The format named in `reporting.formats` ("json", "csv", "prometheus"
    /// or "prom", "html").
    pub fn from_name(name: &str) -> Result<Format, ReportError> {
        match name {
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            "prometheus" | "prom" => Ok(Format::Prometheus),
            "html" => Ok(Format::Html),
            other => Err(ReportError::UnknownFormat(other.to_string())),
        }
    }

    /// The file this format is written to.
    pub fn file_name(self) -> &'static str {
        match self {
            Format::Json => "report.json",
            Format::Csv => "report.csv",
            Format::Prometheus => "report.prom",
            Format::Html => "report.html",
        }
    }

    /// The report rendered in this format.
    pub fn render(self, report: &Report) -> String {
        match self {
            Format::Json => render_json(report),
            Format::Csv => render_csv(report),
            Format::Prometheus => render_prom(report),
            Format::Html => render_html(report),
        }
    }
}

/// Writes one file per format into `dir` (created if needed) and returns
/// their paths in the order of `formats` (a repeated format is written once).
pub fn write_reports(
    report: &Report,
    dir: &Path,
    formats: &[Format],
) -> Result<Vec<PathBuf>, ReportError> {
    std::fs::create_dir_all(dir).map_err(|source| ReportError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut written = Vec::with_capacity(formats.len());
    for (i, &format) in formats.iter().enumerate() {
        if formats[..i].contains(&format) {
            continue;
        }
        let path = dir.join(format.file_name());
        std::fs::write(&path, format.render(report)).map_err(|source| ReportError::Io {
            path: path.clone(),
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}
