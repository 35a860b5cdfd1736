//! `report.json`: the serialisation of the [`Report`] model, and its
//! reading back (the coordinator stores reports and serves them again).
//!
//! Must not: add or drop fields relative to the model: JSON *is* the model.

use crate::model::Report;
use crate::ReportError;

/// The report as pretty-printed JSON.
pub fn render_json(report: &Report) -> String {
    // Serialising cannot fail: every map in the model has string keys and
    // every type's Serialize is derived (no custom errors); serde_json writes
    // non-finite floats as null instead of failing.
    #[allow(clippy::expect_used)]
    let mut text = serde_json::to_string_pretty(report).expect("Report serialises to JSON");
    text.push('\n');
    text
}

/// Reads a report written by [`render_json`].
pub fn parse_json(text: &str) -> Result<Report, ReportError> {
    serde_json::from_str(text).map_err(ReportError::Parse)
}
