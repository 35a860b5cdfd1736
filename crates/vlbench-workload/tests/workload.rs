//! The query mix: validation, weighted picks, request rendering.

use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use rand::rngs::SmallRng;
use rand::SeedableRng;
use vlbench_workload::{
    QueryDef, QueryParams, QueryType, Template, TimeValue, Workload, WorkloadError,
};

fn def(name: &str, weight: u32, qtype: QueryType, template: &str) -> QueryDef {
    QueryDef {
        name: name.to_owned(),
        category: None,
        qtype,
        template: Template::parse(template, Path::new(".")).unwrap(),
        params: QueryParams::default(),
        weight,
    }
}

#[test]
fn invalid_mixes_are_rejected() {
    assert_eq!(Workload::new(vec![]).unwrap_err(), WorkloadError::Empty);
    let zero = vec![
        def("a", 0, QueryType::Query, "*"),
        def("b", 0, QueryType::Hits, "*"),
    ];
    assert_eq!(
        Workload::new(zero).unwrap_err(),
        WorkloadError::AllZeroWeights
    );
    let dup = vec![
        def("a", 1, QueryType::Query, "*"),
        def("a", 1, QueryType::Hits, "*"),
    ];
    let err = Workload::new(dup).unwrap_err();
    assert_eq!(err, WorkloadError::DuplicateName("a".into()));
    assert!(err.to_string().contains("\"a\""), "{err}");
}

#[test]
fn picks_follow_the_weights() {
    let w = Workload::new(vec![
        def("never", 0, QueryType::Query, "*"),
        def("one", 1, QueryType::Query, "*"),
        def("three", 3, QueryType::Stats, "* | stats count()"),
        def("never2", 0, QueryType::Query, "*"),
    ])
    .unwrap();
    assert_eq!(w.names(), ["never", "one", "three", "never2"]);
    assert_eq!(w.len(), 4);
    let mut rng = SmallRng::seed_from_u64(3);
    let mut counts = [0u32; 4];
    for _ in 0..40_000 {
        counts[w.pick(&mut rng)] += 1;
    }
    assert_eq!(
        (counts[0], counts[3]),
        (0, 0),
        "zero weights are never picked"
    );
    let share = f64::from(counts[2]) / 40_000.0;
    assert!((share - 0.75).abs() < 0.02, "{counts:?}");
}

/// One query needs no draw: the pick leaves the generator (which the
/// template's random choices use next) where it was.
#[test]
fn a_single_query_is_picked_without_a_draw() {
    let w = Workload::new(vec![def("only", 2, QueryType::Query, "*")]).unwrap();
    let mut rng = SmallRng::seed_from_u64(5);
    let before = rng.clone();
    for _ in 0..10 {
        assert_eq!(w.pick(&mut rng), 0);
    }
    assert_eq!(rng, before, "the generator moved");
}

#[test]
fn requests_carry_path_and_every_set_parameter() {
    let mut q = def(
        "v",
        1,
        QueryType::FieldValues,
        "_time:5m level:{{ choice \"error\" }}",
    );
    q.params = QueryParams {
        start: Some(TimeValue::parse("-1h").unwrap()),
        end: Some(TimeValue::Now),
        limit: Some(10),
        step: Some("5m".into()),
        field: Some("k8s pod".into()),
    };
    let w = Workload::new(vec![q]).unwrap();
    let now = UNIX_EPOCH + Duration::from_secs(7200);
    let mut out = String::from("stale");
    w.render_request(0, &mut SmallRng::seed_from_u64(0), now, &mut out);
    assert_eq!(
        out,
        "/select/logsql/field_values?query=_time%3A5m+level%3Aerror\
         &start=3600&end=7200&limit=10&step=5m&field=k8s+pod"
    );
    let mut body = String::new();
    w.render_form_body(0, &mut SmallRng::seed_from_u64(0), now, &mut body);
    assert_eq!(Some(body.as_str()), out.split_once('?').map(|(_, q)| q));
    // An index out of range renders nothing rather than a wrong request.
    w.render_request(9, &mut SmallRng::seed_from_u64(0), now, &mut out);
    assert_eq!(out, "");
    assert_eq!(w.path(9), None);
}

#[test]
fn rfc3339_start_is_sent_as_the_same_instant() {
    let mut q = def("r", 1, QueryType::Hits, "error");
    q.params.start = Some(TimeValue::parse("2026-11-25T04:00:03.5Z").unwrap());
    let w = Workload::new(vec![q]).unwrap();
    let mut out = String::new();
    w.render_request(0, &mut SmallRng::seed_from_u64(0), UNIX_EPOCH, &mut out);
    assert_eq!(out, "/select/logsql/hits?query=error&start=1795579203.5");
}
