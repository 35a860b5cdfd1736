//! Starting and joining the shards: [`run`] and [`run_with_control`].
//!
//! Each shard is an OS thread with a current-thread tokio runtime and a
//! `LocalSet` (shard state is `Rc`, never locked). The caller's task runs
//! the collector, which merges the shards' intervals into one report per
//! second, and joins every thread before returning. Must not hold any
//! per-request state.

use std::rc::Rc;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant, SystemTime};

use rand::rngs::SmallRng;
use rand::SeedableRng;
use tokio::runtime::Runtime;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use vlbench_stats::IntervalReport;

use crate::client::Client;
use crate::collector::{collect, Collector, ShardMsg};
use crate::drive::{drive, ShardPlan};
use crate::error::EngineError;
use crate::options::{EnginePlan, RunOptions, DEFAULT_SHUTDOWN_GRACE};
use crate::shard::{Mode, Shard};

/// Runs the plan to its end or until `shutdown`; sends one merged
/// [`IntervalReport`] per second (seq from the run's start) on `reports`;
/// returns when every shard has stopped. Open-model arrivals beyond
/// `max_in_flight` are dropped (see [`run_with_control`] for a queue).
pub async fn run(
    plan: EnginePlan,
    reports: mpsc::Sender<IntervalReport>,
    shutdown: CancellationToken,
) -> Result<(), EngineError> {
    run_with_control(plan, RunOptions::default(), reports, shutdown).await
}

/// [`run`] with run-time controls: a bounded arrival queue and live updates
/// of schedule and share (S-19, rebalancing after a node failure).
pub async fn run_with_control(
    plan: EnginePlan,
    options: RunOptions,
    reports: mpsc::Sender<IntervalReport>,
    shutdown: CancellationToken,
) -> Result<(), EngineError> {
    let shards = if plan.threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        plan.threads
    };
    // One clock reading converts the wall-clock barrier to this process's
    // monotonic clock; every shard uses the same instant.
    let (start, first_seq, joined_late) = start_instant(plan.start);
    let grace = options
        .shutdown_grace
        .unwrap_or(DEFAULT_SHUTDOWN_GRACE.min(plan.target.timeout));
    let (tx, rx) = mpsc::unbounded_channel();
    let mut spare_txs = Vec::with_capacity(shards);
    let mut handles = Vec::with_capacity(shards);
    let stop_all = shutdown.child_token();
    let max_queued = (options.max_queued as usize).div_ceil(shards);
    for index in 0..shards {
        let client = Client::new(&plan.target, plan.workload.clone())?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| shard_err(index, e))?;
        let (spare_tx, spares) = std_mpsc::channel();
        spare_txs.push(spare_tx);
        let shard_plan = ShardPlan {
            index,
            shards,
            schedule: plan.schedule.clone(),
            share: plan.share.split(shards, index),
            start,
            joined_late,
            first_seq,
            n_queries: plan.workload.len(),
            timeout: plan.target.timeout,
            grace,
            updates: options.updates.clone(),
            shutdown: stop_all.clone(),
            results: tx.clone(),
            spares,
        };
        let spawned = std::thread::Builder::new()
            .name(format!("vlbench-shard-{index}"))
            .spawn(move || shard_main(runtime, client, shard_plan, max_queued));
        match spawned {
            Ok(h) => handles.push(h),
            Err(e) => {
                stop_all.cancel(); // the shards already started stop at once
                drop(tx);
                join_all(handles).await?;
                return Err(shard_err(index, e));
            }
        }
    }
    drop(tx);
    collect(
        Collector::new(plan.start, first_seq, spare_txs),
        rx,
        reports,
    )
    .await;
    join_all(handles).await
}

/// The schedule's t = 0 as an `Instant`, the first interval seq (0, or the
/// current second when joining a run that already started), and how late.
fn start_instant(start: SystemTime) -> (Instant, u64, Option<Duration>) {
    let now_i = Instant::now();
    let now_s = SystemTime::now();
    match start.duration_since(now_s) {
        Ok(ahead) => (now_i + ahead, 0, None),
        Err(e) => {
            let behind = e.duration();
            let start = now_i.checked_sub(behind).unwrap_or(now_i);
            let late = now_i.saturating_duration_since(start);
            (start, late.as_secs(), Some(late))
        }
    }
}

fn shard_main(runtime: Runtime, client: Client, plan: ShardPlan, max_queued: usize) {
    // Tells the collector this shard is gone even if it panics.
    let _done = DoneGuard {
        tx: plan.results.clone(),
        shard: plan.index,
    };
    let capped = plan.schedule.rate_cap.is_some();
    let mode = Mode::of(&plan.schedule.model, capped, plan.shards);
    let rng = SmallRng::from_os_rng();
    let shard = Rc::new(Shard::new(client, plan.n_queries, rng, mode, max_queued));
    let local = tokio::task::LocalSet::new();
    // The dispatcher runs as a task of its own: the future given to
    // `block_on` is polled again on every wake of any task (every
    // response), a spawned one only when its own events fire.
    let dispatcher = local.spawn_local(drive(shard, plan));
    if let Err(e) = local.block_on(&runtime, dispatcher) {
        if e.is_panic() {
            std::panic::resume_unwind(e.into_panic()); // as if run in place
        }
    }
    // Dropping the LocalSet and runtime abandons requests past the drain.
}

/// Sends a final `Done` when a shard thread ends (normally a no-op repeat).
struct DoneGuard {
    tx: mpsc::UnboundedSender<ShardMsg>,
    shard: usize,
}

impl Drop for DoneGuard {
    fn drop(&mut self) {
        let _ = self.tx.send(ShardMsg::Done {
            shard: self.shard,
            next_seq: 0,
        });
    }
}

async fn join_all(handles: Vec<std::thread::JoinHandle<()>>) -> Result<(), EngineError> {
    let joined = tokio::task::spawn_blocking(move || {
        handles
            .into_iter()
            .enumerate()
            .find_map(|(i, h)| h.join().err().map(|_| i))
    })
    .await;
    match joined {
        Ok(None) => Ok(()),
        Ok(Some(i)) => Err(EngineError::ShardPanicked(i)),
        Err(_) => Err(EngineError::ShardPanicked(usize::MAX)),
    }
}

fn shard_err(shard: usize, e: std::io::Error) -> EngineError {
    EngineError::Shard {
        shard,
        reason: e.to_string(),
    }
}
