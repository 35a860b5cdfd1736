//! Every example message in docs/protocol.md parses into its type, and every
//! field the example shows survives a round trip (no field the code does not
//! know), so the documentation stays in step with the code.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use vlbench_cluster::model::{EventKind, NodeRecord, SubmitResponse, TaskEvent, TaskRecord};
use vlbench_cluster::protocol::{
    ErrorBody, Health, HeartbeatRequest, HeartbeatResponse, RegisterRequest, RegisterResponse,
    ReportAck, ReportStatus, ResultReport, TuneRequest,
};

const DOC: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../docs/protocol.md"
));

/// The ```json <tag> blocks of the document.
fn examples() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut lines = DOC.lines();
    while let Some(line) = lines.next() {
        let Some(tag) = line.strip_prefix("```json ") else {
            continue;
        };
        let body: Vec<&str> = lines
            .by_ref()
            .take_while(|l| !l.starts_with("```"))
            .collect();
        out.push((tag.trim().to_string(), body.join("\n")));
    }
    out
}

/// `shown` is contained in `full`: every key shown is there with the same value.
fn contained(shown: &Value, full: &Value) -> bool {
    match (shown, full) {
        (Value::Object(a), Value::Object(b)) => a
            .iter()
            .all(|(k, v)| b.get(k).is_some_and(|w| contained(v, w))),
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(v, w)| contained(v, w))
        }
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        _ => shown == full,
    }
}

fn check<T: DeserializeOwned + Serialize>(tag: &str, text: &str) -> T {
    let parsed: T = serde_json::from_str(text).unwrap_or_else(|e| panic!("example {tag}: {e}"));
    let shown: Value = serde_json::from_str(text).unwrap();
    let again = serde_json::to_value(&parsed).unwrap();
    assert!(
        contained(&shown, &again),
        "example {tag} loses fields:\nshown {shown:#}\nparsed {again:#}"
    );
    parsed
}

#[test]
fn every_documented_message_parses() {
    let examples = examples();
    let mut seen = Vec::new();
    for (tag, text) in &examples {
        match tag.as_str() {
            "error" => drop(check::<ErrorBody>(tag, text)),
            "register-request" => drop(check::<RegisterRequest>(tag, text)),
            "register-response" => drop(check::<RegisterResponse>(tag, text)),
            "heartbeat-request" => drop(check::<HeartbeatRequest>(tag, text)),
            "heartbeat-response" => {
                let hb = check::<HeartbeatResponse>(tag, text);
                let a = hb.assignment.expect("the example has an assignment");
                let weights: u32 = a
                    .node_assignments
                    .values()
                    .map(|n| n.concurrent_users)
                    .sum();
                assert_eq!(
                    weights, 12,
                    "the example's users add up to the schedule's 12"
                );
            }
            "heartbeat-unchanged" => {
                let hb = check::<HeartbeatResponse>(tag, text);
                assert!(hb.unchanged && hb.assignment.is_none());
            }
            "report-request" => {
                let r = check::<ResultReport>(tag, text);
                assert!(
                    r.assignment_version.is_some(),
                    "a report that is a heartbeat"
                );
                let iv = r.interval.expect("an interval");
                assert_eq!(
                    iv.stats.total().latency.len(),
                    1,
                    "the example histogram decodes"
                );
            }
            "report-final" => assert_eq!(
                check::<ResultReport>(tag, text).status,
                ReportStatus::Completed
            ),
            "report-response" => assert_eq!(
                check::<ReportAck>(tag, text).assignment_unchanged,
                Some(true)
            ),
            "submit-response" => drop(check::<SubmitResponse>(tag, text)),
            "task-record" => drop(check::<TaskRecord>(tag, text)),
            "task-events" => {
                let events = check::<Vec<TaskEvent>>(tag, text);
                assert_eq!(events[0].kind, EventKind::NodeFailed);
            }
            "tune-request" => {
                let t = check::<TuneRequest>(tag, text);
                assert_eq!((t.users, t.target_qps), (Some(20), Some(150.0)));
            }
            "node-record" => drop(check::<NodeRecord>(tag, text)),
            "health" => drop(check::<Health>(tag, text)),
            other => panic!("example tag {other:?} has no type in this test"),
        }
        seen.push(tag.clone());
    }
    for tag in [
        "error",
        "register-request",
        "register-response",
        "heartbeat-request",
        "heartbeat-response",
        "heartbeat-unchanged",
        "report-request",
        "report-final",
        "report-response",
        "submit-response",
        "task-record",
        "task-events",
        "tune-request",
        "node-record",
        "health",
    ] {
        assert!(
            seen.iter().any(|s| s == tag),
            "docs/protocol.md has no `json {tag}` example"
        );
    }
}

#[test]
fn unknown_fields_in_worker_messages_are_refused() {
    let text = r#"{"status": "busy", "cpu": 3}"#;
    let err = serde_json::from_str::<HeartbeatRequest>(text)
        .unwrap_err()
        .to_string();
    assert!(err.contains("cpu"), "{err}");
}
