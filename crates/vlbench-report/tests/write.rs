//! `write_reports`: one file per format in a created directory.

mod common;

use vlbench_report::{parse_json, write_reports, Format, ReportError};

#[test]
fn writes_one_file_per_format_and_creates_the_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a/b");
    let r = common::report();
    let formats = [Format::Json, Format::Csv, Format::Prometheus, Format::Json];
    let paths = write_reports(&r, &dir, &formats).unwrap();
    let names: Vec<_> = paths
        .iter()
        .map(|p| p.file_name().unwrap().to_str().unwrap())
        .collect();
    assert_eq!(names, vec!["report.json", "report.csv", "report.prom"]);
    let json = std::fs::read_to_string(dir.join("report.json")).unwrap();
    common::assert_same_report(&parse_json(&json).unwrap(), &r);
    assert_eq!(
        std::fs::read_to_string(dir.join("report.csv")).unwrap(),
        vlbench_report::render_csv(&r)
    );
}

#[test]
fn unwritable_directory_names_the_path() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let err = write_reports(&common::report(), &file.join("sub"), &[Format::Json]).unwrap_err();
    assert!(matches!(err, ReportError::Io { .. }));
    assert!(err.to_string().contains("sub"), "{err}");
}

#[test]
fn format_names() {
    assert_eq!(Format::from_name("json").unwrap(), Format::Json);
    assert_eq!(Format::from_name("csv").unwrap(), Format::Csv);
    assert_eq!(Format::from_name("prometheus").unwrap(), Format::Prometheus);
    assert_eq!(Format::from_name("prom").unwrap(), Format::Prometheus);
    let err = Format::from_name("pdf").unwrap_err();
    assert!(err.to_string().contains("\"pdf\""), "{err}");
}
