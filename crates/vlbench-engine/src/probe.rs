//! One request per query, sequentially: `vlbench validate --probe` and the
//! start-up reachability check of `vlbench run` (fail fast with a clear
//! message instead of a run full of `connect` errors).
//!
//! Uses the same client as the load (same headers, TLS, validation), so a
//! probe that passes means the load's requests are well-formed. Must not
//! record statistics.

use std::time::Instant;

use rand::rngs::SmallRng;
use rand::SeedableRng;
use vlbench_stats::ErrorClass;
use vlbench_workload::Workload;

use crate::client::{Client, Line};
use crate::error::EngineError;
use crate::options::TargetOptions;

/// How much of an error body a probe keeps for the message.
pub const PROBE_MESSAGE_BYTES: usize = 512;

/// The answer to one probe request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeResult {
    /// Index into the workload's queries.
    pub query: usize,
    /// HTTP status; 0 without a response.
    pub status: u16,
    /// Why it failed; `None` when the answer is a valid success.
    pub error: Option<ErrorClass>,
    /// JSON lines in the answer.
    pub rows: u64,
    /// For a failure: the first 512 bytes of the error body, or what went
    /// wrong (connect error, timeout); empty for a success.
    pub message: String,
}

impl ProbeResult {
    /// Whether the query got a valid answer.
    pub fn is_ok(&self) -> bool {
        self.error.is_none()
    }
}

/// Sends each query of `workload` once, one after the other, and reports
/// what came back. Errors only when the target options are unusable.
pub async fn probe(
    target: &TargetOptions,
    workload: &Workload,
) -> Result<Vec<ProbeResult>, EngineError> {
    let client = Client::new(target, std::sync::Arc::new(workload.clone()))?;
    let mut rng = SmallRng::from_os_rng();
    let mut scratch = String::new();
    let mut line = Line::default();
    let mut out = Vec::with_capacity(workload.len());
    for q in 0..workload.len() {
        let Some(req) = client.prepare(q, &mut rng, &mut scratch) else {
            out.push(ProbeResult {
                query: q,
                status: 0,
                error: Some(ErrorClass::InvalidResponse),
                rows: 0,
                message: format!("the rendered request {scratch:?} is not a valid request target"),
            });
            continue;
        };
        let ex = client
            .exchange(
                &mut line,
                req,
                q,
                PROBE_MESSAGE_BYTES,
                Instant::now(),
                false,
            )
            .await;
        let message = match ex.error {
            None => String::new(),
            Some(class) => ex
                .detail
                .unwrap_or_else(|| default_message(class, ex.status)),
        };
        out.push(ProbeResult {
            query: q,
            status: ex.status,
            error: ex.error,
            rows: ex.rows,
            message,
        });
    }
    Ok(out)
}

fn default_message(class: ErrorClass, status: u16) -> String {
    match class {
        ErrorClass::Body => "the response body was cut before its end".to_owned(),
        ErrorClass::InvalidResponse => {
            format!("status {status}, but the body is not what the endpoint returns")
        }
        _ => format!("{class} (status {status})"),
    }
}
