//! Template syntax, rendering and parse errors.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::rngs::SmallRng;
use rand::SeedableRng;
use vlbench_workload::{Template, TemplateError};

const NOW_SECS: u64 = 1_704_164_645; // 2024-01-02T03:04:05Z

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(NOW_SECS)
}

fn parse(src: &str) -> Template {
    Template::parse(src, Path::new(".")).unwrap_or_else(|e| panic!("{src}: {e}"))
}

/// Every distinct rendering over `n` seeded draws.
fn renderings(t: &Template, n: u64) -> BTreeSet<String> {
    let mut rng = SmallRng::seed_from_u64(42);
    (0..n)
        .map(|_| {
            let mut s = String::new();
            t.render(&mut rng, now(), &mut s);
            s
        })
        .collect()
}

fn syntax_error(src: &str) -> (usize, String, String) {
    match Template::parse(src, Path::new(".")) {
        Err(TemplateError::Syntax {
            offset,
            placeholder,
            reason,
        }) => (offset, placeholder, reason),
        other => panic!("{src}: expected a syntax error, got {other:?}"),
    }
}

#[test]
fn plain_text_renders_unchanged() {
    let src = r#"{job="a"} _msg:~'"status":5' | stats count() }} x"#;
    let t = parse(src);
    assert!(t.is_static());
    assert_eq!(renderings(&t, 3), BTreeSet::from([src.to_owned()]));
    assert_eq!(t.source(), src);
}

#[test]
fn choice_draws_every_value_and_nothing_else() {
    let t = parse(r#"level:{{ choice "error" "warn" "a b" }} x"#);
    assert!(!t.is_static());
    let want: BTreeSet<String> = ["level:error x", "level:warn x", "level:a b x"]
        .map(String::from)
        .into();
    assert_eq!(renderings(&t, 200), want);
}

#[test]
fn int_covers_its_inclusive_range() {
    let t = parse("status:{{int 500 503}}");
    let want: BTreeSet<String> = (500..=503).map(|i| format!("status:{i}")).collect();
    assert_eq!(renderings(&t, 400), want);
    assert_eq!(
        renderings(&parse("{{ int -2 -2 }}"), 5),
        BTreeSet::from(["-2".to_owned()])
    );
}

#[test]
fn times_resolve_against_the_given_now() {
    let t = parse(
        r#"_time:[{{ now "-1h" }}, {{ now }}) {{ unix "-15m" }} {{ unix }} {{ now 2020-01-01T00:00:00Z }}"#,
    );
    let mut out = String::new();
    t.render(&mut SmallRng::seed_from_u64(0), now(), &mut out);
    assert_eq!(
        out,
        format!(
            "_time:[2024-01-02T02:04:05Z, 2024-01-02T03:04:05Z) {} {} 2020-01-01T00:00:00Z",
            NOW_SECS - 900,
            NOW_SECS
        )
    );
}

#[test]
fn duration_choice_renders_the_written_durations() {
    let t = parse(r#"_time:{{ duration_choice "5m" "1h" 30s }}"#);
    let want: BTreeSet<String> = ["_time:5m", "_time:1h", "_time:30s"]
        .map(String::from)
        .into();
    assert_eq!(renderings(&t, 200), want);
    let (_, _, reason) = syntax_error(r#"{{ duration_choice "5m" "soon" }}"#);
    assert!(reason.contains("\"soon\""), "{reason}");
}

#[test]
fn file_values_are_read_once_relative_to_base_dir() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pods.txt"), "pod-a\r\n\n  \npod b\n").unwrap();
    let t = Template::parse(r#"pod:"{{ file "pods.txt" }}""#, dir.path()).unwrap();
    // Deleting the file afterwards does not matter: values were read at parse time.
    std::fs::remove_file(dir.path().join("pods.txt")).unwrap();
    let want: BTreeSet<String> = [r#"pod:"pod-a""#, r#"pod:"pod b""#]
        .map(String::from)
        .into();
    assert_eq!(renderings(&t, 100), want);
}

#[test]
fn missing_and_empty_files_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let err = Template::parse(r#"{{ file "nope.txt" }}"#, dir.path()).unwrap_err();
    assert!(matches!(err, TemplateError::File { .. }), "{err:?}");
    assert!(err.to_string().contains("nope.txt"), "{err}");

    std::fs::write(dir.path().join("empty.txt"), "\n \n").unwrap();
    let err = Template::parse(r#"{{ file "empty.txt" }}"#, dir.path()).unwrap_err();
    assert!(matches!(err, TemplateError::EmptyFile { .. }), "{err:?}");
    assert!(err.to_string().contains("empty.txt"), "{err}");
}

#[test]
fn a_quoted_placeholder_is_literal_text() {
    let t = parse(r#"a {{ "{{" }} b {{ "x \"y\" \\" }}"#);
    assert!(t.is_static());
    assert_eq!(
        renderings(&t, 2),
        BTreeSet::from([r#"a {{ b x "y" \"#.to_owned()])
    );
    // A "}}" inside quotes does not close the placeholder.
    assert_eq!(
        renderings(&parse(r#"{{ choice "}}" }}"#), 2),
        BTreeSet::from(["}}".to_owned()])
    );
}

#[test]
fn parse_errors_say_what_and_where() {
    let cases: &[(&str, usize, &str, &str)] = &[
        ("level:{{ int 5 1 }}", 6, "{{ int 5 1 }}", "reversed"),
        ("x {{ int 1 }}", 2, "{{ int 1 }}", "two bounds"),
        (
            "x {{ int a 2 }}",
            2,
            "{{ int a 2 }}",
            "\"a\" is not an integer",
        ),
        ("ab {{ choice }}", 3, "{{ choice }}", "at least one"),
        (
            "{{ rand 1 }}",
            0,
            "{{ rand 1 }}",
            "unknown function \"rand\"",
        ),
        ("{{ }}", 0, "{{ }}", "empty placeholder"),
        (
            "ok {{ choice \"a\" ",
            3,
            "{{ choice \"a\" ",
            "no closing }}",
        ),
        ("{{ choice \"a }}", 0, "{{ choice \"a }}", "unterminated"),
        ("{{ now \"-1x\" }}", 0, "{{ now \"-1x\" }}", "\"-1x\""),
        ("{{ now 1h 2h }}", 0, "{{ now 1h 2h }}", "at most one"),
        ("{{ \"a\" \"b\" }}", 0, "{{ \"a\" \"b\" }}", "alone"),
        ("{{ \"\\q\" }}", 0, "{{ \"\\q\" }}", "unknown escape"),
    ];
    for &(src, offset, placeholder, reason) in cases {
        let (o, p, r) = syntax_error(src);
        assert_eq!((o, p.as_str()), (offset, placeholder), "{src}");
        assert!(r.contains(reason), "{src}: {r}");
        let msg = Template::parse(src, Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains(placeholder) && msg.contains(&format!("byte {offset}")),
            "{msg}"
        );
    }
}

#[test]
fn rendering_appends_and_reuses_the_buffer() {
    let t = parse(r#"a{{ choice "b" }}"#);
    let mut out = String::from("x");
    t.render(&mut SmallRng::seed_from_u64(0), now(), &mut out);
    assert_eq!(out, "xab");
}
