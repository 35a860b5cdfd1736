//! Everything called per request is allocation-free once the caller's
//! buffer has grown: counted with a global allocator on this test's thread.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use rand::rngs::SmallRng;
use rand::SeedableRng;
use vlbench_workload::{
    Model, QueryDef, QueryParams, QueryType, Schedule, Share, Stage, Template, TimeValue, Workload,
};

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCS.with(Cell::get)
}

#[test]
fn per_request_paths_do_not_allocate() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pods.txt"), "a\nb b\nc:\"d\"\n").unwrap();
    let src = r#"_time:[{{ now "-1h" }}, {{ now }}) pod:{{ file "pods.txt" }} status:{{ int 400 599 }} {{ choice "x" "y" }} | stats count() {{ unix }}"#;
    let mut q = QueryDef {
        name: "q".into(),
        category: None,
        qtype: QueryType::StatsRange,
        template: Template::parse(src, dir.path()).unwrap(),
        params: QueryParams {
            start: Some(TimeValue::parse("-15m").unwrap()),
            end: Some(TimeValue::parse("2026-11-25T04:00:03.25Z").unwrap()),
            limit: Some(100),
            step: Some("1m".into()),
            field: None,
        },
        weight: 2,
    };
    let other = QueryDef {
        name: "p".into(),
        template: Template::parse("* | limit 1", Path::new(".")).unwrap(),
        ..q.clone()
    };
    q.weight = 3;
    let w = Workload::new(vec![q, other]).unwrap();
    let schedule = Schedule {
        model: Model::Open { max_in_flight: 10 },
        stages: vec![
            Stage {
                duration: Duration::from_secs(60),
                target: 500.0,
            },
            Stage {
                duration: Duration::from_secs(60),
                target: 0.0,
            },
        ],
        initial: 0.0,
        rate_cap: None,
    };
    let share = Share::from_weights(&[3, 2, 5], 1).split(3, 2);
    let mut rng = SmallRng::seed_from_u64(11);
    let mut out = String::with_capacity(1024);
    let now = UNIX_EPOCH + Duration::from_secs(1_795_579_803);

    let before = allocations();
    let mut sink = 0u64;
    for k in 0..2_000u64 {
        let q = w.pick(&mut rng);
        w.render_request(q, &mut rng, now, &mut out);
        sink += out.len() as u64;
        w.render_form_body(q, &mut rng, now, &mut out);
        let i = share.nth(k);
        if share.contains(i) {
            sink += schedule.arrival_time(i).map_or(0, |t| t.as_nanos() as u64);
        }
        sink += share.count_below(i) + schedule.users_at(Duration::from_millis(k));
    }
    let after = allocations();
    assert!(sink > 0);
    assert_eq!(after - before, 0, "allocations on the per-request path");
    assert!(before > 0, "the counter counts");
}
