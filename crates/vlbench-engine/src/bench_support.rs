//! Hooks for the crate's benchmarks only (hidden from docs, not a stable
//! API): the real per-request step of a shard, callable one request at a
//! time, so criterion can time render → send → stream body → record.
//!
//! Must not be used by other crates.

use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::SeedableRng;
use vlbench_stats::IntervalStats;
use vlbench_workload::Workload;

use crate::client::Client;
use crate::conn::Conn;
use crate::error::EngineError;
use crate::options::TargetOptions;
use crate::shard::{Job, Mode, Shard};

/// One shard's request path with one keep-alive connection.
pub struct OneConnection {
    shard: Rc<Shard>,
    conn: Option<Conn>,
}

impl OneConnection {
    /// A shard for `target` and `workload` (call inside a tokio runtime).
    pub fn new(target: &TargetOptions, workload: Arc<Workload>) -> Result<Self, EngineError> {
        let n = workload.len();
        let client = Client::new(target, workload)?;
        let mode = Mode::Closed {
            think: Duration::ZERO,
            capped: false,
        };
        let shard = Shard::new(client, n, SmallRng::seed_from_u64(1), mode, 0);
        Ok(OneConnection {
            shard: Rc::new(shard),
            conn: None,
        })
    }

    /// One request exactly as a closed-model user makes it, recorded.
    pub async fn request(&mut self) {
        let job = Job {
            query: self.shard.pick(),
            intended: Instant::now(),
            lag_us: 0,
        };
        self.shard.execute(&mut self.conn, job).await;
    }

    /// Everything recorded so far (moved out).
    pub fn take_stats(&self) -> IntervalStats {
        let mut out = IntervalStats::new(0);
        self.shard.recorder.borrow_mut().swap_into(&mut out);
        out
    }
}
