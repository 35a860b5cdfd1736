//! `report.csv`: parseable, one row per interval and query, gaps shown.

mod common;

use common::{report, ODD_NAME};
use vlbench_report::{render_csv, CSV_HEADER, TOTAL_QUERY};

/// A small RFC 4180 reader: rows of fields; quoted fields may hold commas,
/// doubled quotes and line breaks.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, '"') => panic!("quote inside an unquoted field: {field}"),
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(!quoted, "unterminated quoted field");
    assert!(
        field.is_empty() && row.is_empty(),
        "last line has no line break"
    );
    rows
}

#[test]
fn csv_has_header_and_a_row_per_interval_and_query() {
    let r = report();
    let rows = parse_csv(&render_csv(&r));
    let header: Vec<&str> = CSV_HEADER.split(',').collect();
    assert_eq!(rows[0], header);
    assert_eq!(rows.len(), 1 + 4 * 3);
    for row in &rows {
        assert_eq!(row.len(), header.len(), "{row:?}");
    }
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let queries: Vec<&str> = rows[1..4]
        .iter()
        .map(|r| r[col("query")].as_str())
        .collect();
    assert_eq!(queries, vec![TOTAL_QUERY, "fast", ODD_NAME]);
    // Numbers equal the model's.
    let total1 = &rows[4];
    assert_eq!(total1[col("seq")], "1");
    assert_eq!(total1[col("missing")], "false");
    assert_eq!(total1[col("total_queries")], "100");
    assert_eq!(total1[col("failed_queries")], "20");
    assert_eq!(total1[col("planned")], "101");
    let model = r.intervals[1].total.as_ref().unwrap();
    assert_eq!(
        total1[col("p99_response_time")].parse::<f64>().unwrap(),
        model.p99_response_time
    );
    assert_eq!(total1[col("qps")].parse::<f64>().unwrap(), model.qps);
    // Ledger columns only on __total__ rows.
    assert_eq!(rows[5][col("query")], "fast");
    assert_eq!(rows[5][col("total_queries")], "80");
    assert_eq!(rows[5][col("planned")], "");
}

#[test]
fn csv_shows_missing_intervals_as_rows() {
    let rows = parse_csv(&render_csv(&report()));
    let header: Vec<&str> = CSV_HEADER.split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let missing: Vec<&Vec<String>> = rows[1..].iter().filter(|r| r[col("seq")] == "2").collect();
    assert_eq!(missing.len(), 3);
    for row in missing {
        assert_eq!(row[col("missing")], "true");
        assert_eq!(row[col("total_queries")], "");
        assert_eq!(row[col("p99_response_time")], "");
        assert!(!row[col("start")].is_empty());
    }
}
