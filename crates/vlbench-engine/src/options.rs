//! What the engine is told: the target's connection options, the plan of a
//! run, and the optional run-time controls (queue bound, live updates).
//!
//! Owns only plain data and its defaults; it must not open sockets or read
//! files (TLS files are read by `tls`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::{HeaderName, HeaderValue, Uri};
use tokio::sync::watch;
use vlbench_workload::{Schedule, Share, Workload};

/// How to reach and talk to the target (one VictoriaLogs endpoint).
#[derive(Clone, Debug)]
pub struct TargetOptions {
    /// Scheme (`http`/`https`), authority and an optional path prefix that
    /// every query path is appended to (e.g. a proxy's `/vl`).
    pub base_url: Uri,
    /// Sent with every request: auth (mark it sensitive), tenant, custom.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The whole request, connect and body included; past it a request is a
    /// `timeout` error.
    pub timeout: Duration,
    /// Speak HTTP/2 (ALPN `h2` over TLS, prior knowledge over plain TCP).
    pub http2: bool,
    /// Ask for gzip (`Accept-Encoding: gzip`); bodies are decoded on the fly
    /// to count rows while bytes count what crossed the wire.
    pub accept_gzip: bool,
    /// Certificate checks for `https` targets.
    pub tls: TlsOptions,
}

/// Certificate checks for `https` targets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// Extra PEM roots trusted besides the system's (a private CA).
    pub ca_file: Option<PathBuf>,
    /// Accept any certificate (test setups only; a warning is logged).
    pub insecure_skip_verify: bool,
}

/// One process's part of a benchmark, as the engine runs it.
#[derive(Clone, Debug)]
pub struct EnginePlan {
    /// Where requests go.
    pub target: TargetOptions,
    /// What each request asks (the weighted query mix).
    pub workload: Arc<Workload>,
    /// The *global* load over time; this process takes `share` of it.
    pub schedule: Schedule,
    /// This process's part of the global users/arrivals (`Share::whole()`
    /// for a single process).
    pub share: Share,
    /// Shards: OS threads, each with its own runtime and recorder (0 = one
    /// per available core).
    pub threads: usize,
    /// When the schedule's t = 0 is: the fleet's common start (a barrier),
    /// possibly in the future. Intervals are aligned to it.
    pub start: SystemTime,
}

/// A live change of the load (S-19, fault tolerance): the new global
/// schedule and this process's new share, effective as soon as each shard
/// sees it. Build retargeted schedules with `Schedule::retarget` so that
/// arrival numbering stays consistent before the change.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveUpdate {
    /// The whole run's schedule after the change.
    pub schedule: Schedule,
    /// This process's share after the change.
    pub share: Share,
}

/// Run-time controls beyond the plan; `Default` is what [`crate::run`] uses.
#[derive(Debug, Default)]
pub struct RunOptions {
    /// Open model: arrivals that find `max_in_flight` requests outstanding
    /// wait in a FIFO of at most this many (per process, split between the
    /// shards like `max_in_flight`); beyond it they are dropped and counted.
    /// 0 (the default) drops at once.
    pub max_queued: u32,
    /// Live updates of schedule and share; `None` runs the plan as given.
    pub updates: Option<watch::Receiver<LiveUpdate>>,
    /// How long in-flight requests may finish after `shutdown` before they
    /// are abandoned; `None` = the default (1 s, at most the timeout).
    pub shutdown_grace: Option<Duration>,
}

/// The default grace after a shutdown for in-flight requests.
pub(crate) const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(1);
