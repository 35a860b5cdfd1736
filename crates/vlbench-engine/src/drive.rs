//! The shard's dispatcher: the single loop that turns the schedule into
//! work. On each wake it rotates the interval when a second has passed,
//! sets the number of active closed-model users, and hands out every
//! arrival (open model) or rate permit (capped closed model) whose time has
//! come, then sleeps until the next event. The same loop serves every model
//! and stage shape (STYLE convention 3); live updates swap its plan.
//!
//! Timing: tokio's timer has ~1 ms granularity, so for an arrival (and the
//! start) the loop waits on the shard's [`Clock`], which wakes it within
//! tens of µs without spinning; interval rotation and user ticks use
//! tokio's timer. Every due arrival is dispatched in one batch per wake;
//! the send lag (measured by the worker at the real send) shows the rest.
//!
//! Must not send requests itself (workers do) nor block.

use std::rc::Rc;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use vlbench_stats::IntervalStats;
use vlbench_workload::{Model, Schedule, Share};

use crate::clock::Clock;
use crate::collector::ShardMsg;
use crate::options::LiveUpdate;
use crate::shard::{Mode, Shard};

/// Closed model: how often the number of active users is re-read.
const USER_TICK: Duration = Duration::from_millis(10);
/// Most arrivals handed out per wake, so a huge backlog cannot starve I/O.
const MAX_BATCH: u32 = 4096;
/// The interval length.
pub(crate) const INTERVAL: Duration = Duration::from_secs(1);

/// What a shard runs: its part of the schedule and where results go.
pub(crate) struct ShardPlan {
    pub index: usize,
    pub shards: usize,
    pub schedule: Schedule,
    /// This shard's share (already split).
    pub share: Share,
    /// The schedule's t = 0.
    pub start: Instant,
    /// How far into the run this process joined (the start was already
    /// past when `run` was called): arrivals before it are not caught up
    /// (they would go out as one burst). `None` when started on time.
    pub joined_late: Option<Duration>,
    pub first_seq: u64,
    pub n_queries: usize,
    pub timeout: Duration,
    pub grace: Duration,
    pub updates: Option<watch::Receiver<LiveUpdate>>,
    pub shutdown: CancellationToken,
    pub results: mpsc::UnboundedSender<ShardMsg>,
    pub spares: std_mpsc::Receiver<IntervalStats>,
}

/// The next arrivals of this shard's share.
struct Arrivals {
    /// Local index of the next arrival.
    k: u64,
    /// Its time, `None` past the schedule's end or without a rate.
    next: Option<Instant>,
    /// Arrivals before this local index were handed to the clock.
    handed: u64,
}

impl Arrivals {
    /// Positioned at the first arrival after `done` (the time up to which
    /// arrivals were handed out already), or at the very first one.
    fn seek(plan: &ShardPlan, done: Option<Duration>) -> Arrivals {
        let total = plan.share.count_below(plan.schedule.total_arrivals());
        let (mut lo, mut hi) = (0u64, total);
        while let Some(t) = done.filter(|_| lo < hi) {
            let mid = lo + (hi - lo) / 2;
            match arrival(plan, mid) {
                Some(at) if at <= t => lo = mid + 1,
                _ => hi = mid,
            }
        }
        Arrivals {
            k: lo,
            next: arrival(plan, lo).map(|d| plan.start + d),
            handed: lo + 1,
        }
    }

    /// Hands the clock the arrivals after the next one, up to its
    /// lookahead, so that it wakes the dispatcher for each in turn.
    fn hand_ahead(&mut self, plan: &ShardPlan, clock: &mut Clock) {
        if self.next.is_none() {
            return;
        }
        self.handed = self.handed.max(self.k + 1);
        let from = self.handed;
        let mut handed = 0;
        clock.ahead(
            (from..)
                .map_while(|k| arrival(plan, k).map(|d| plan.start + d))
                .inspect(|_| handed += 1),
        );
        self.handed += handed;
    }

    fn advance(&mut self, plan: &ShardPlan) {
        self.k += 1;
        self.next = arrival(plan, self.k).map(|d| plan.start + d);
    }
}

fn arrival(plan: &ShardPlan, k: u64) -> Option<Duration> {
    plan.schedule.arrival_time(plan.share.nth(k))
}

/// Interval bookkeeping: the next boundary and its sequence number.
struct Rotation {
    seq: u64,
    /// Start of the current interval.
    begin: Instant,
}

impl Rotation {
    fn next_boundary(&self) -> Instant {
        self.begin + INTERVAL
    }

    /// Hands the current interval over (full, or partial when `end` is set).
    fn flush(&mut self, shard: &Shard, plan: &ShardPlan, end: Option<Instant>) {
        let mut stats = plan
            .spares
            .try_recv()
            .unwrap_or_else(|_| IntervalStats::new(plan.n_queries));
        shard.recorder.borrow_mut().swap_into(&mut stats);
        let duration = end.map_or(INTERVAL, |e| e.saturating_duration_since(self.begin));
        let partial_and_empty = end.is_some() && stats.is_empty() && duration < INTERVAL;
        if !partial_and_empty {
            let _ = plan.results.send(ShardMsg::Interval {
                shard: plan.index,
                seq: self.seq,
                duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
                stats,
            });
            self.seq += 1;
        }
        self.begin += INTERVAL;
    }

    fn rotate_due(&mut self, shard: &Shard, plan: &ShardPlan, now: Instant) {
        while now >= self.next_boundary() {
            self.flush(shard, plan, None);
        }
    }
}

/// Runs the shard: waits for the start, dispatches until the schedule ends
/// or shutdown, drains in-flight requests, flushes the last interval.
pub(crate) async fn drive(shard: Rc<Shard>, mut plan: ShardPlan) {
    let begin = plan.start + INTERVAL * u32::try_from(plan.first_seq).unwrap_or(u32::MAX);
    let mut rot = Rotation {
        seq: plan.first_seq,
        begin,
    };
    let late = plan.joined_late;
    let mut clock = Clock::default();
    tokio::select! {
        _ = clock.sleep_until(plan.start) => {}
        _ = plan.shutdown.cancelled() => {}
    }
    let mut arrivals = Arrivals::seek(&plan, late);
    let mut dispatched = late;
    let mut updates = plan.updates.take();
    let stopped = loop {
        let now = Instant::now();
        rot.rotate_due(&shard, &plan, now);
        if plan.shutdown.is_cancelled() {
            break true;
        }
        let t = now.saturating_duration_since(plan.start);
        if t >= plan.schedule.duration() {
            // A wake that came after the end (a busy thread) still sends
            // the open-model arrivals due before it: they are the schedule.
            if let Mode::Open { .. } = shard.mode.get() {
                while !dispatch_arrivals(&shard, &plan, &mut arrivals, now) {}
            }
            break false;
        }
        if dispatch(&shard, &plan, &mut arrivals, now, t) {
            dispatched = Some(t);
        }
        let (wake, precise) = next_wake(&shard, &plan, &arrivals, &rot, now);
        if precise {
            arrivals.hand_ahead(&plan, &mut clock);
        }
        tokio::select! {
            _ = sleep_until(&mut clock, wake, precise) => {}
            Some(update) = changed(&mut updates) => {
                apply(&shard, &mut plan, update);
                arrivals = Arrivals::seek(&plan, dispatched);
                clock.clear();
            }
            _ = plan.shutdown.cancelled() => {}
        }
    };
    drain(&shard, &plan, &mut rot, stopped).await;
    rot.flush(&shard, &plan, Some(Instant::now()));
    let _ = plan.results.send(ShardMsg::Done {
        shard: plan.index,
        next_seq: rot.seq,
    });
}

/// Hands out what is due at `now`; `false` when the batch limit left some.
fn dispatch(
    shard: &Rc<Shard>,
    plan: &ShardPlan,
    arrivals: &mut Arrivals,
    now: Instant,
    t: Duration,
) -> bool {
    if let Mode::Closed { .. } = shard.mode.get() {
        let users = plan.share.count_below(plan.schedule.users_at(t));
        shard.set_users(usize::try_from(users).unwrap_or(usize::MAX));
    }
    dispatch_arrivals(shard, plan, arrivals, now)
}

/// Hands out the arrivals (open model) or rate permits (capped closed
/// model) due at `now`; `false` when the batch limit left some.
fn dispatch_arrivals(
    shard: &Rc<Shard>,
    plan: &ShardPlan,
    arrivals: &mut Arrivals,
    now: Instant,
) -> bool {
    let mut batch = 0;
    while let Some(at) = arrivals.next.filter(|&at| at <= now) {
        match shard.mode.get() {
            Mode::Open { .. } => shard.arrive(at, now),
            Mode::Closed { .. } => shard.permit(at),
        }
        arrivals.advance(plan);
        batch += 1;
        if batch >= MAX_BATCH {
            return false;
        }
    }
    true
}

/// When to wake next, and whether that instant needs sub-ms precision.
fn next_wake(
    shard: &Shard,
    plan: &ShardPlan,
    arrivals: &Arrivals,
    rot: &Rotation,
    now: Instant,
) -> (Instant, bool) {
    let mut wake = rot
        .next_boundary()
        .min(plan.start + plan.schedule.duration());
    if let Mode::Closed { .. } = shard.mode.get() {
        wake = wake.min(now + USER_TICK);
    }
    match arrivals.next {
        Some(at) if at <= wake => (at, true),
        _ => (wake, false),
    }
}

/// Applies a live update: new schedule and share, new mode.
fn apply(shard: &Rc<Shard>, plan: &mut ShardPlan, update: LiveUpdate) {
    plan.share = update.share.split(plan.shards, plan.index);
    plan.schedule = update.schedule;
    let capped = plan.schedule.rate_cap.is_some();
    let mode = Mode::of(&plan.schedule.model, capped, plan.shards);
    let old = shard.mode.replace(mode);
    if std::mem::discriminant(&old) != std::mem::discriminant(&mode) {
        shard.set_users(0);
        shard.clear_queue();
    }
    if let Model::Open { .. } = plan.schedule.model {
        shard.job_ready.notify_waiters(); // let excess pool workers see the new bound
    }
    shard.retire.notify_waiters();
}

/// After the last dispatch: workers finish (the queue too on a normal end),
/// bounded by the timeout (normal end) or the grace (shutdown).
async fn drain(shard: &Rc<Shard>, plan: &ShardPlan, rot: &mut Rotation, stopped: bool) {
    if stopped {
        shard.clear_queue();
    }
    shard.set_users(0);
    shard.close();
    let limit = if stopped {
        plan.grace
    } else {
        plan.timeout + plan.grace
    };
    let mut deadline = Instant::now() + limit;
    let mut stopped = stopped;
    while shard.alive() > 0 {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        rot.rotate_due(shard, plan, now);
        let wake = rot.next_boundary().min(deadline);
        tokio::select! {
            _ = shard.all_done.notified() => {}
            _ = tokio::time::sleep_until(wake.into()) => {}
            _ = plan.shutdown.cancelled(), if !stopped => {
                // Shutdown during a normal drain: only the grace is left.
                stopped = true;
                shard.clear_queue();
                deadline = deadline.min(Instant::now() + plan.grace);
            }
        }
    }
}

async fn changed(updates: &mut Option<watch::Receiver<LiveUpdate>>) -> Option<LiveUpdate> {
    match updates {
        Some(rx) => match rx.changed().await {
            Ok(()) => Some(rx.borrow_and_update().clone()),
            Err(_) => {
                *updates = None; // the sender is gone: no more updates
                None
            }
        },
        None => std::future::pending().await,
    }
}

async fn sleep_until(clock: &mut Clock, at: Instant, precise: bool) {
    if precise {
        clock.sleep_until(at).await;
    } else {
        tokio::time::sleep_until(at.into()).await;
    }
}
