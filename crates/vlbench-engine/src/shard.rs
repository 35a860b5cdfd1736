//! One shard's shared state: what the dispatcher and the shard's workers
//! (closed-model users or open-model request slots) have in common. It lives
//! in an `Rc` on one thread: `Cell`/`RefCell`, no locks on the hot path.
//!
//! Owns the job queue (open-model arrivals waiting for a free slot,
//! closed-model rate-cap permits), worker bookkeeping, the recorder and the
//! per-request step [`Shard::execute`]. Must not decide *when* load happens:
//! that is the dispatcher's (`drive`), driven by the schedule.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use vlbench_stats::{ErrorClass, Outcome, Recorder};
use vlbench_workload::Model;

use crate::client::{Client, Line};
use crate::worker;

/// One request to make: which query, when it was meant to start, and from
/// when the generator's own delay (the send lag) counts.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Job {
    /// Index into the workload.
    pub query: usize,
    /// Latency is measured from here: the intended start (open model and
    /// rate permits), or `None` for the real send (closed model).
    pub intended: Option<Instant>,
    /// The send lag is the real send time minus this: the intended send
    /// time, moved later by any wait for a free in-flight slot (that wait
    /// is the target's slowness, not the generator's).
    pub lag_from: Instant,
    /// Set while the job waits in the queue because every in-flight slot
    /// is busy: since when (see [`Shard::pop`]).
    pub slot_wait: Option<Instant>,
}

/// How the shard's workers get their work (from the schedule's model).
#[derive(Copy, Clone, Debug, PartialEq)]
pub(crate) enum Mode {
    /// Users loop with think time; `capped` users wait for rate permits.
    Closed { think: Duration, capped: bool },
    /// Arrivals are queued for at most `max_in_flight` pool workers.
    Open { max_in_flight: usize },
}

impl Mode {
    /// The mode of one of `shards` shards: a process-wide `max_in_flight`
    /// is split between them (rounded up, at least 1 each).
    pub(crate) fn of(model: &Model, capped: bool, shards: usize) -> Mode {
        match model {
            Model::Closed { think_time } => Mode::Closed {
                think: *think_time,
                capped,
            },
            Model::Open { max_in_flight } => Mode::Open {
                max_in_flight: per_shard(*max_in_flight as usize, shards),
            },
        }
    }
}

/// `n` split over `shards`, rounded up, at least 1.
pub(crate) fn per_shard(n: usize, shards: usize) -> usize {
    n.div_ceil(shards.max(1)).max(1)
}

/// The state shared by a shard's dispatcher and workers.
pub(crate) struct Shard {
    pub client: Client,
    pub recorder: RefCell<Recorder>,
    rng: RefCell<SmallRng>,
    scratch: RefCell<String>,
    pub mode: Cell<Mode>,
    /// Closed model: local users `0..active` should run.
    active: Cell<usize>,
    /// Closed model: which local users have a running task.
    running: RefCell<Vec<bool>>,
    /// Pending jobs, FIFO; bounded by the dispatcher.
    queue: RefCell<VecDeque<Job>>,
    /// Wakes one idle worker when a job arrives.
    pub job_ready: Notify,
    /// Wakes every user when users are retired or the mode changes.
    pub retire: Notify,
    /// Open model: bound on queued jobs beyond the in-flight slots.
    max_queued: usize,
    /// Worker tasks alive / busy in a request / idle waiting for a job.
    alive: Cell<usize>,
    busy: Cell<usize>,
    pub idle: Cell<usize>,
    /// Fired when the last worker ends.
    pub all_done: Notify,
    /// No new jobs: workers finish the queue (unless `abort`) and end.
    pub closing: CancellationToken,
    /// Set with `closing` by [`Shard::close`]: read once per request, and
    /// the token's own check takes a lock.
    closed: Cell<bool>,
}

impl Shard {
    pub(crate) fn new(
        client: Client,
        n_queries: usize,
        rng: SmallRng,
        mode: Mode,
        max_queued: usize,
    ) -> Shard {
        Shard {
            client,
            recorder: RefCell::new(Recorder::new(n_queries)),
            rng: RefCell::new(rng),
            scratch: RefCell::new(String::with_capacity(256)),
            mode: Cell::new(mode),
            active: Cell::new(0),
            running: RefCell::new(Vec::new()),
            queue: RefCell::new(VecDeque::new()),
            job_ready: Notify::new(),
            retire: Notify::new(),
            max_queued,
            alive: Cell::new(0),
            busy: Cell::new(0),
            idle: Cell::new(0),
            all_done: Notify::new(),
            closing: CancellationToken::new(),
            closed: Cell::new(false),
        }
    }

    /// Picks a query by weight with the shard's generator.
    pub(crate) fn pick(&self) -> usize {
        self.client.workload().pick(&mut *self.rng.borrow_mut())
    }

    /// Open model: arrival due at `intended`, handled at `now`. Queued for
    /// a worker, or dropped when in-flight slots and queue are full.
    pub(crate) fn arrive(self: &Rc<Self>, intended: Instant, now: Instant) {
        let Mode::Open { max_in_flight } = self.mode.get() else {
            return;
        };
        let query = self.pick();
        let mut rec = self.recorder.borrow_mut();
        rec.planned(1);
        let queued = self.queue.borrow().len();
        if self.busy.get() + queued >= max_in_flight + self.max_queued {
            rec.dropped(query);
            return;
        }
        drop(rec);
        // An idle worker (an open pooled connection) takes it, else a new
        // worker; only with every slot busy does the job wait for one.
        let direct = self.idle.get() > queued || self.alive.get() < max_in_flight;
        self.queue.borrow_mut().push_back(Job {
            query,
            intended: Some(intended),
            lag_from: intended,
            slot_wait: (!direct).then_some(now),
        });
        if self.idle.get() > queued {
            self.job_ready.notify_one();
        } else if self.alive.get() < max_in_flight {
            self.spawn(worker::Role::Pool);
        }
    }

    /// Closed model with a rate cap: one permit, intended at `intended`.
    /// Permits in stock are bounded by the active users (no burst later).
    pub(crate) fn permit(&self, intended: Instant) {
        if self.queue.borrow().len() >= self.active.get() {
            return; // every user already has a permit waiting: not asked for
        }
        self.recorder.borrow_mut().planned(1);
        self.queue.borrow_mut().push_back(Job {
            query: 0,
            intended: Some(intended),
            lag_from: intended,
            slot_wait: None,
        });
        self.job_ready.notify_one();
    }

    /// Closed model: `n` local users should be running now.
    pub(crate) fn set_users(self: &Rc<Self>, n: usize) {
        let old = self.active.replace(n);
        if n < old {
            self.retire.notify_waiters();
            return;
        }
        for k in old..n {
            let start = {
                let mut running = self.running.borrow_mut();
                if running.len() <= k {
                    running.resize(k + 1, false);
                }
                !std::mem::replace(&mut running[k], true)
            };
            if start {
                self.spawn(worker::Role::User(k));
            }
        }
    }

    /// Whether closed-model user `k` should keep running.
    pub(crate) fn user_active(&self, k: usize) -> bool {
        matches!(self.mode.get(), Mode::Closed { .. })
            && k < self.active.get()
            && !self.closed.get()
    }

    fn spawn(self: &Rc<Self>, role: worker::Role) {
        self.alive.set(self.alive.get() + 1);
        tokio::task::spawn_local(worker::run(self.clone(), role));
    }

    /// Whether [`Shard::close`] was called.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.get()
    }

    /// No new jobs from now on: workers finish the queue and end.
    pub(crate) fn close(&self) {
        self.closed.set(true);
        self.closing.cancel();
    }

    /// Bookkeeping when a worker ends.
    pub(crate) fn worker_ended(&self, role: worker::Role) {
        if let worker::Role::User(k) = role {
            if let Some(r) = self.running.borrow_mut().get_mut(k) {
                *r = false;
            }
        }
        self.alive.set(self.alive.get().saturating_sub(1));
        if self.alive.get() == 0 {
            self.all_done.notify_waiters();
        }
    }

    /// Worker tasks still alive.
    pub(crate) fn alive(&self) -> usize {
        self.alive.get()
    }

    /// The next queued job, if any. A job that waited for a free slot has
    /// that wait taken out of its send lag.
    pub(crate) fn pop(&self) -> Option<Job> {
        let mut job = self.queue.borrow_mut().pop_front()?;
        if let Some(since) = job.slot_wait.take() {
            job.lag_from += Instant::now().saturating_duration_since(since);
        }
        Some(job)
    }

    /// Drops every queued job (shutdown: they were planned, never sent).
    pub(crate) fn clear_queue(&self) {
        self.queue.borrow_mut().clear();
    }

    /// Open model: pool workers beyond the in-flight bound end when idle.
    pub(crate) fn pool_excess(&self) -> bool {
        match self.mode.get() {
            Mode::Open { max_in_flight } => self.alive.get() > max_in_flight,
            Mode::Closed { .. } => true,
        }
    }

    /// Whether the one worker of this shard may wait for its answers in
    /// the kernel, holding the thread (see `h1`): only when nothing else
    /// on the thread needs it meanwhile. That is a closed model without
    /// rate cap (the dispatcher only re-reads the user count every few ms
    /// and rotates intervals; it runs when the worker yields, see
    /// `worker`) and a single worker task (no other request's answer can
    /// be waiting to be read), with a client that allows it
    /// (`Client::may_wait_directly`).
    pub(crate) fn solo(&self) -> bool {
        matches!(self.mode.get(), Mode::Closed { capped: false, .. })
            && self.alive.get() == 1
            && self.client.may_wait_directly()
    }

    /// Sends `job`'s request on `line`, reads the answer and records it
    /// (the send lag too). Returns when the answer is complete (the end of
    /// the service time). `direct`: see [`Shard::solo`].
    pub(crate) async fn execute(&self, line: &mut Line, job: Job, direct: bool) -> Instant {
        self.busy.set(self.busy.get() + 1);
        let sent = Instant::now();
        let lag_us = micros(sent.saturating_duration_since(job.lag_from));
        self.recorder.borrow_mut().sent(lag_us);
        let req = {
            let mut rng = self.rng.borrow_mut();
            let mut scratch = self.scratch.borrow_mut();
            self.client.prepare(job.query, &mut *rng, &mut scratch)
        };
        let ex = match req {
            Some(req) => {
                self.client
                    .exchange(line, req, job.query, 0, sent, direct)
                    .await
            }
            // Form-encoded text always parses; a bad base URL is refused at start.
            None => crate::client::Exchange {
                error: Some(ErrorClass::InvalidResponse),
                ..Default::default()
            },
        };
        let end = Instant::now();
        let service_us = micros(end.saturating_duration_since(sent));
        let latency_us = match job.intended {
            Some(intended) => micros(end.saturating_duration_since(intended)),
            None => service_us,
        };
        self.recorder.borrow_mut().record(&Outcome {
            query: job.query,
            latency_us,
            service_us,
            status: ex.status,
            error: ex.error,
            bytes: ex.bytes,
            rows: ex.rows,
        });
        self.busy.set(self.busy.get() - 1);
        end
    }
}

/// Whole microseconds, saturating.
pub(crate) fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}
