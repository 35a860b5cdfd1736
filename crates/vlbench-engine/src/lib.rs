//! vlbench-engine: the query-load engine, the hot path of vlbench.
//!
//! # Layout
//! - [`options`]: what the engine is told ([`TargetOptions`], [`EnginePlan`],
//!   [`RunOptions`], [`LiveUpdate`]).
//! - `run`: [`run`] / [`run_with_control`]: shard threads + the collector.
//! - `drive`: a shard's dispatcher, the one loop driven by the schedule
//!   (users, arrivals, rate permits, interval rotation, live updates).
//! - `clock`: precise wake-ups for the dispatcher (a helper thread, no
//!   spinning).
//! - `shard`: a shard's shared state (`Rc`, no locks): job queue, worker
//!   bookkeeping, recorder, the per-request step.
//! - `worker`: the worker loop (closed-model user or open-model slot), each
//!   owning one keep-alive connection.
//! - `collector`: merging shard intervals into one report per second.
//! - `client`, `conn`, `tls`, `body`: one HTTP exchange: connections (TCP,
//!   TLS, HTTP/1.1 or HTTP/2), streaming and counting the body, error class.
//! - `h1`, `chunked`: our own HTTP/1.1 client (one task per connection, a
//!   pooled buffer per in-flight request); hyper serves only HTTP/2.
//! - `probe`: one request per query, for `validate --probe` and start-up.
//!
//! # Why it is shaped like this
//! Each shard is an OS thread with a current-thread runtime and its own
//! `Recorder`: nothing on the per-request path crosses threads or takes a
//! lock, and results leave a shard once a second as one aggregate (STYLE
//! convention 2). Closed users hold only a connection; the render buffer and
//! random generator are the shard's. Open-model latency is measured from
//! the intended start (no coordinated omission), service time from the send.
//!
//! Must not know about coordinators, report files or the CLI.

#[doc(hidden)]
pub mod bench_support;
mod body;
mod chunked;
mod client;
mod clock;
mod collector;
mod conn;
mod drive;
pub mod error;
mod h1;
pub mod options;
mod probe;
mod run;
mod shard;
#[cfg(test)]
mod test_util;
mod tls;
mod worker;

pub use error::EngineError;
pub use options::{EnginePlan, LiveUpdate, RunOptions, TargetOptions, TlsOptions};
pub use probe::{probe, ProbeResult, PROBE_MESSAGE_BYTES};
pub use run::{run, run_with_control};
