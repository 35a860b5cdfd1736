//! `report.html`: well-formed, self-contained, shows the report's numbers,
//! escapes hostile strings, and draws missing seconds as gaps.

mod common;

use std::time::Duration;

use vlbench_report::{render_html, write_reports, Format, Report, Threshold};
use vlbench_stats::RunStats;

const CHARTS: usize = 5;
const HOSTILE: &str = "<script>alert(1)</script>";
const QUOTES: &str = "\"&'";

/// Checks that every opened element is closed in order (void elements and
/// `/>` excepted) and returns the element names seen, in order.
fn assert_balanced(html: &str) -> Vec<String> {
    const VOID: [&str; 6] = ["meta", "br", "hr", "img", "input", "link"];
    let mut stack: Vec<String> = Vec::new();
    let mut seen = Vec::new();
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        let close = rest[open..].find('>').expect("unterminated tag") + open;
        let tag = &rest[open + 1..close];
        rest = &rest[close + 1..];
        if tag.starts_with('!') {
            continue;
        }
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        assert!(!name.is_empty(), "bad tag <{tag}>");
        if tag.starts_with('/') {
            assert_eq!(
                stack.pop().as_deref(),
                Some(name.as_str()),
                "closing </{name}>"
            );
        } else if !tag.ends_with('/') && !VOID.contains(&name.as_str()) {
            stack.push(name.clone());
        }
        seen.push(name);
    }
    assert!(stack.is_empty(), "unclosed: {stack:?}");
    seen
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

/// The `d` attributes of the series paths of the `n`th chart.
fn chart_paths(html: &str, n: usize) -> Vec<String> {
    let svg = html.split("<svg").nth(n + 1).unwrap();
    let svg = &svg[..svg.find("</svg>").unwrap()];
    svg.split("<path class=\"series\" d=\"")
        .skip(1)
        .map(|p| p[..p.find('"').unwrap()].to_string())
        .collect()
}

/// The report's table formatting: 0 decimals from 100, 1 from 10, else 2.
fn fmt(v: f64) -> String {
    match v.abs() {
        a if a >= 100.0 => format!("{v:.0}"),
        a if a >= 10.0 => format!("{v:.1}"),
        _ => format!("{v:.2}"),
    }
}

#[test]
fn is_well_formed_with_one_svg_per_chart() {
    let html = render_html(&common::report());
    assert!(html.starts_with("<!DOCTYPE html>\n<html"));
    let tags = assert_balanced(&html);
    for main in ["html", "head", "body", "main", "style"] {
        assert_eq!(
            tags.iter().filter(|t| *t == main).count(),
            2,
            "<{main}> once"
        );
    }
    assert_eq!(count(&html, "<svg "), CHARTS);
    assert_eq!(count(&html, "<figure class=\"chart\">"), CHARTS);
    assert_eq!(count(&html, "viewBox=\"0 0 960 240\""), CHARTS);
}

#[test]
fn loads_nothing_from_outside() {
    let html = render_html(&common::report_with_nodes());
    for bad in [
        "<script", "<link", "src=", "href=", "url(", "@import", "<iframe",
    ] {
        assert!(!html.contains(bad), "{bad} in the page");
    }
    // The only URL is the benchmark's target inside the shown config.
    let config_start = html.find("<details>").unwrap();
    let config_end = html.find("</details>").unwrap();
    assert!(html[config_start..config_end].contains("http://127.0.0.1:9428"));
    let outside = format!("{}{}", &html[..config_start], &html[config_end..]);
    for scheme in ["http:", "https:", "//"] {
        assert!(!outside.contains(scheme), "a URL outside the config");
    }
}

#[test]
fn shows_the_numbers_of_the_report() {
    let r = common::report();
    let html = render_html(&r);
    let m = &r.metrics;
    assert_eq!((m.total_queries, m.failed_queries), (300, 30));
    let total_row = html.split("<tr class=\"total\">").nth(1).unwrap();
    let total_row = &total_row[..total_row.find("</tr>").unwrap()];
    for figure in [
        ">300<".to_string(),
        ">30<".to_string(),
        ">10.0 %<".to_string(),
        ">75.0<".to_string(),
        format!(">{}<", fmt(m.p90_response_time)),
        format!(">{}<", fmt(m.p999_response_time)),
        format!(">{}<", fmt(m.max_response_time)),
        // Service time is half the latency in the common run, so it is shown.
        format!("<small>svc {}</small>", fmt(m.p99_service_time)),
    ] {
        assert!(total_row.contains(&figure), "{figure} not in {total_row}");
    }
    let fast = &r.queries["fast"];
    assert!(html.contains(&format!(">{}<", fmt(fast.p50_response_time))));
    assert!(html.contains("odd, &quot;name&quot;\\x"));
    for text in [
        "smoke",
        "stopped early",
        "4.0 s of 5.0 s planned",
        "open",
        "503",
        "http_5xx",
    ] {
        assert!(html.contains(text), "{text} missing");
    }
    assert!(html.contains("<td>503</td><td class=\"n\">30</td>"));
    assert!(!html.contains("Generator bound"));
    assert!(!html.contains("Thresholds"));
}

#[test]
fn escapes_hostile_strings_everywhere() {
    let mut run = RunStats::new(vec![HOSTILE.to_string(), QUOTES.to_string()]);
    run.add(common::interval(0, 5, 1));
    let mut ctx = common::context(vec![Threshold {
        metric: HOSTILE.to_string(),
        query: Some(QUOTES.to_string()),
        max: Some(1.0),
        min: None,
    }]);
    ctx.name = HOSTILE.to_string();
    ctx.warnings = vec![HOSTILE.to_string()];
    ctx.config = serde_json::json!({ HOSTILE: QUOTES });
    let mut r = Report::build(&run, None, ctx);
    r.schedule.generator_bound = true;
    r.schedule.generator_bound_reason = Some(HOSTILE.to_string());
    let html = render_html(&r);
    assert_balanced(&html);
    assert!(!html.contains("<script"));
    assert!(!html.contains(QUOTES));
    let escaped = "&lt;script&gt;alert(1)&lt;/script&gt;";
    // Title, heading, warning, generator box, query row, legends, threshold, config.
    assert!(count(&html, escaped) >= 8, "{}", count(&html, escaped));
    assert!(html.contains("&quot;&amp;&#39;"));
    assert!(html.contains("Generator bound"));
}

#[test]
fn missing_seconds_are_gaps_not_zeros() {
    // Seconds 0, 1 and 3 have reports; 2 is missing.
    let html = render_html(&common::report());
    assert_eq!(count(&html, "<rect class=\"gap\""), CHARTS);
    assert!(html.contains("no report for second 2"));
    for chart in 0..CHARTS {
        let paths = chart_paths(&html, chart);
        assert!(!paths.is_empty(), "chart {chart} draws nothing");
        for d in paths {
            // One segment over seconds 0-1, a new one (a dot) at second 3.
            assert_eq!(count(&d, "M"), 2, "chart {chart}: {d}");
            assert_eq!(count(&d, "L"), 1, "chart {chart}: {d}");
        }
    }
    // The lone point at second 3 of each series is drawn as a dot: 3 + 3 + 3 + 3 + 1.
    assert_eq!(count(&html, "<circle class=\"dot\""), 13);
    let throughput = chart_paths(&html, 0);
    assert_eq!(throughput.len(), 3, "total and two queries");
}

#[test]
fn renders_a_run_without_intervals() {
    let mut ctx = common::context(Vec::new());
    ctx.duration = Duration::ZERO;
    ctx.warnings.clear();
    let r = Report::build(&RunStats::new(Vec::new()), None, ctx);
    assert!(r.intervals.is_empty());
    let html = render_html(&r);
    assert_balanced(&html);
    assert_eq!(count(&html, "<svg "), CHARTS);
    assert_eq!(count(&html, "no per-second data"), CHARTS);
    assert!(!html.contains("class=\"series\""));
    assert!(!html.contains("Warnings"));
    assert!(html.contains("no responses"));
}

#[test]
fn shows_nodes_in_distributed_runs() {
    let r = common::report_with_nodes();
    let html = render_html(&r);
    assert_balanced(&html);
    let nodes = &html[html.find("<h2>Nodes</h2>").unwrap()..];
    let nodes = &nodes[..nodes.find("</section>").unwrap()];
    for (id, m) in r.nodes.as_ref().unwrap() {
        assert!(nodes.contains(&format!(
            "<th scope=\"row\">{id}</th><td class=\"n\">{}</td>",
            m.total_queries
        )));
    }
    assert!(!render_html(&common::report()).contains("<h2>Nodes</h2>"));
}

#[test]
fn shows_threshold_verdicts() {
    let thresholds = vec![
        Threshold {
            metric: "p99_response_time".to_string(),
            query: None,
            max: Some(1e6),
            min: None,
        },
        Threshold {
            metric: "error_rate".to_string(),
            query: Some("fast".to_string()),
            max: Some(0.5),
            min: Some(0.2),
        },
    ];
    let html = render_html(&Report::build(
        &common::run(),
        None,
        common::context(thresholds),
    ));
    assert!(html.contains("1 of 2 thresholds failed"));
    assert_eq!(count(&html, "<span class=\"pill pass\">PASS</span>"), 1);
    assert_eq!(count(&html, "<span class=\"pill fail\">FAIL</span>"), 1);
    assert!(html.contains("&ge; 0.2 and &le; 0.5"));
}

#[test]
fn html_is_a_report_format() {
    assert_eq!(Format::from_name("html").unwrap(), Format::Html);
    assert_eq!(Format::Html.file_name(), "report.html");
    let tmp = tempfile::tempdir().unwrap();
    let r = common::report();
    let paths = write_reports(&r, tmp.path(), &[Format::Html]).unwrap();
    assert_eq!(paths, vec![tmp.path().join("report.html")]);
    assert_eq!(std::fs::read_to_string(&paths[0]).unwrap(), render_html(&r));
    let err = Format::from_name("pdf").unwrap_err();
    assert!(err.to_string().contains("html"), "{err}");
}
