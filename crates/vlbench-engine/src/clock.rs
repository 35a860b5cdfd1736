//! Precise wake-ups for a shard's dispatcher: [`Clock::sleep_until`].
//!
//! tokio's timer has a 1 ms tick (deadlines are rounded up to the next
//! millisecond, and the reactor waits in whole milliseconds), so an arrival
//! woken by it is up to ~2 ms late. Spinning until the instant instead
//! burns a core and, on a busy machine, gets the thread preempted for a
//! whole time slice: the lag it meant to avoid. Here a helper thread sleeps
//! on a condition variable with the exact timeout (the kernel's
//! high-resolution timers; with sparse arrivals the thread's timer slack is
//! lowered to 1 ns) and wakes the dispatcher's task.
//!
//! A wake-up still takes time: the helper's wait ends some µs late, then
//! the runtime thread must be woken (tens of µs on a VM), and every µs of
//! it was counted as lag and latency (both are measured from the intended
//! send time). So the helper wakes the dispatcher a learnt margin early
//! (`vlbench_timing::WakeMargin`: about what wake-ups have recently taken,
//! at most 200 µs) and the dispatcher, after letting the runtime's other
//! ready tasks run, spins the rest: the only spinning, bounded per
//! arrival, never longer than the wake-up it replaces, and only while
//! arrivals are sparse ([`SPARSE_GAP`]: at high rates it would take much
//! of the thread, whose wake-ups are quick then anyway).
//!
//! The dispatcher hands the helper the next arrivals ahead of time
//! ([`Clock::ahead`]), so the helper goes from one to the next without
//! being told each time: per arrival one timed wait and one wake, and
//! every deadline already passed is served by the same wake.
//!
//! The thread starts on the first wait (closed-model shards never start it)
//! and stops when the `Clock` is dropped. Must not know what it wakes for.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Poll, Waker};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use vlbench_timing::{set_timer_slack, spin_until, WakeMargin, DEFAULT_SLACK_NS};

/// How many upcoming deadlines the helper is given ahead.
pub(crate) const AHEAD: usize = 32;

/// A shard's precise timer (one waiter: the dispatcher).
#[derive(Debug, Default)]
pub(crate) struct Clock {
    helper: Option<Helper>,
    /// The helper thread could not be started: tokio's timer is used.
    failed: bool,
    /// The previous deadline asked for.
    last_at: Option<Instant>,
    /// Moving average of the time between deadlines, ns (0: unknown).
    gap_ns: u64,
}

/// Deadlines at least this far apart on average (a shard at up to 2,500
/// arrivals/s) get the early wake-up and its spin. Closer ones would spin
/// much of the thread's time away, and the runtime thread is seldom parked
/// then anyway, so waking it is quick.
pub(crate) const SPARSE_GAP: Duration = Duration::from_micros(400);

#[derive(Debug)]
struct Helper {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    /// How early the helper wakes the dispatcher (when `early` is set).
    margin: WakeMargin,
    /// Whether the dispatcher wants the early wake-up (sparse arrivals).
    early: AtomicBool,
}

/// What the helper thread should do next.
#[derive(Debug, Default)]
struct State {
    /// Wake `waker` at each of these instants (ascending).
    due: VecDeque<Instant>,
    waker: Option<Waker>,
    stop: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent whatever a panicking holder did.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How early the helper wakes the dispatcher now.
    fn lead(&self) -> Duration {
        if self.early.load(Ordering::Relaxed) {
            self.margin.get()
        } else {
            Duration::ZERO
        }
    }
}

impl Clock {
    /// Completes at `at` (not before), within a few µs of it on an idle
    /// machine (see the module docs: the helper wakes the dispatcher a
    /// margin early and the last stretch is spun).
    pub(crate) async fn sleep_until(&mut self, at: Instant) {
        let Some(shared) = self.shared() else {
            tokio::time::sleep_until(at.into()).await;
            return;
        };
        let early = self.note(at);
        shared.early.store(early, Ordering::Relaxed);
        // Spin only after the runtime ran its other ready tasks (sends,
        // responses): a dispatcher that spun from one arrival to the next
        // would starve them.
        let mut yielded = false;
        loop {
            let now = Instant::now();
            if now >= at {
                return;
            }
            if early && at - now <= shared.margin.get() {
                if yielded {
                    spin_until(at);
                    return;
                }
                tokio::task::yield_now().await;
                yielded = true;
                continue;
            }
            let mut armed = false;
            poll_fn(|cx| {
                if armed {
                    return Poll::Ready(()); // woken: the loop re-checks
                }
                armed = true;
                let mut st = shared.lock();
                // Deadlines before `at` are past or no longer wanted.
                while st.due.front().is_some_and(|&d| d < at) {
                    st.due.pop_front();
                }
                let mut changed = st.due.front() != Some(&at);
                if changed {
                    st.due.push_front(at);
                }
                if !st.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    st.waker = Some(cx.waker().clone());
                    changed = true;
                }
                drop(st);
                if changed {
                    shared.changed.notify_one();
                }
                Poll::Pending
            })
            .await;
            // Woken: by the helper (a margin early, or late), or by another
            // branch of the caller's `select!` (any time: then the loop
            // waits again, or spins if close enough).
            yielded = true;
            if early {
                shared.margin.learn(at, Instant::now());
            }
        }
    }

    /// Notes a deadline; whether deadlines come far enough apart (see
    /// [`SPARSE_GAP`]) for the early wake-up.
    fn note(&mut self, at: Instant) -> bool {
        if let Some(last) = self.last_at.filter(|&l| at > l) {
            let gap = u64::try_from((at - last).as_nanos()).unwrap_or(u64::MAX);
            self.gap_ns = if self.gap_ns == 0 {
                gap
            } else {
                self.gap_ns - self.gap_ns / 8 + gap / 8
            };
        }
        self.last_at = Some(at);
        self.gap_ns >= u64::try_from(SPARSE_GAP.as_nanos()).unwrap_or(u64::MAX)
    }

    /// Tells the helper the deadlines after the next one (ascending, each
    /// later than those given before), so it needs no message per wait.
    /// Returns how many it holds now (at most [`AHEAD`] are useful).
    pub(crate) fn ahead(&mut self, times: impl Iterator<Item = Instant>) -> usize {
        let Some(shared) = self.shared() else {
            return AHEAD; // no helper: nothing to hand over
        };
        let mut st = shared.lock();
        let was_empty = st.due.is_empty();
        for t in times.take(AHEAD.saturating_sub(st.due.len())) {
            if st.due.back().is_none_or(|&last| t > last) {
                st.due.push_back(t);
            }
        }
        let held = st.due.len();
        drop(st);
        if was_empty && held > 0 {
            shared.changed.notify_one(); // it may be waiting without a timeout
        }
        held
    }

    /// How many deadlines the helper still holds.
    #[cfg(test)]
    fn held(&mut self) -> usize {
        match self.shared() {
            Some(shared) => shared.lock().due.len(),
            None => AHEAD,
        }
    }

    /// Forgets every deadline handed over (the schedule changed).
    pub(crate) fn clear(&mut self) {
        if let Some(h) = &self.helper {
            h.shared.lock().due.clear();
        }
    }

    /// The helper thread's state, starting the thread on first use.
    fn shared(&mut self) -> Option<Arc<Shared>> {
        if self.failed {
            return None;
        }
        if let Some(h) = &self.helper {
            return Some(h.shared.clone());
        }
        let shared = Arc::new(Shared::default());
        let theirs = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("vlbench-clock".to_owned())
            .spawn(move || run(&theirs));
        match spawned {
            Ok(thread) => {
                self.helper = Some(Helper {
                    shared: shared.clone(),
                    thread: Some(thread),
                });
                Some(shared)
            }
            Err(e) => {
                tracing::warn!("cannot start the scheduling clock thread ({e}); arrivals use tokio's 1 ms timer");
                self.failed = true;
                None
            }
        }
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.changed.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The helper thread: sleeps until the first deadline, drops every
/// deadline that has passed and wakes the waiter once for all of them.
fn run(shared: &Shared) {
    // Precise waits (1 ns slack) only while the early wake-up is on: with
    // dense arrivals the default slack merges nearby wake-ups, which saves
    // more CPU than the µs it costs.
    let mut precise = false;
    let mut st = shared.lock();
    loop {
        if st.stop {
            return;
        }
        let want = shared.early.load(Ordering::Relaxed);
        if want != precise {
            precise = want;
            set_timer_slack(if precise { 1 } else { DEFAULT_SLACK_NS });
        }
        let Some(&at) = st.due.front() else {
            st = shared
                .changed
                .wait(st)
                .unwrap_or_else(PoisonError::into_inner);
            continue;
        };
        let now = Instant::now();
        let wake = at.checked_sub(shared.lead()).unwrap_or(at);
        if now < wake {
            st = shared
                .changed
                .wait_timeout(st, wake - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            continue;
        }
        // This deadline and every one already passed: the dispatcher
        // serves them all after this wake; later ones get their own.
        let upto = at.max(now);
        while st.due.front().is_some_and(|&d| d <= upto) {
            st.due.pop_front();
        }
        let waker = st.waker.clone();
        drop(st);
        if let Some(w) = waker {
            w.wake();
        }
        st = shared.lock();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn never_wakes_early_and_wakes_close_to_the_instant() {
        let rt = runtime();
        let mut clock = Clock::default();
        let mut late = Vec::new();
        rt.block_on(async {
            for i in 0..50u64 {
                let at = Instant::now() + Duration::from_micros(300 + 37 * i);
                clock.sleep_until(at).await;
                let now = Instant::now();
                assert!(now >= at, "woke {:?} early", at - now);
                late.push(now - at);
            }
        });
        late.sort();
        // A behavioural bound, wide for a loaded CI machine: tokio's own
        // timer alone would be ~1 ms late on average.
        let median = late[late.len() / 2];
        assert!(
            median < Duration::from_millis(5),
            "median lateness {median:?}"
        );
        assert!(clock.helper.is_some(), "the helper thread did the waits");
    }

    #[test]
    fn dense_deadlines_leave_the_runtime_to_other_tasks() {
        let rt = runtime();
        let mut clock = Clock::default();
        let (other, spins) = rt.block_on(async {
            let ran = std::rc::Rc::new(std::cell::Cell::new(0u64));
            let counter = ran.clone();
            let local = tokio::task::LocalSet::new();
            local
                .run_until(async move {
                    tokio::task::spawn_local(async move {
                        loop {
                            counter.set(counter.get() + 1);
                            tokio::task::yield_now().await;
                        }
                    });
                    let start = Instant::now() + Duration::from_millis(1);
                    let mut early = 0;
                    // 10,000/s: too dense for the early wake-up and its spin.
                    for i in 0..100u32 {
                        clock
                            .sleep_until(start + Duration::from_micros(100) * i)
                            .await;
                        early += u32::from(
                            clock
                                .helper
                                .as_ref()
                                .is_some_and(|h| h.shared.early.load(Ordering::Relaxed)),
                        );
                    }
                    (ran.get(), early)
                })
                .await
        });
        assert!(other >= 50, "the other task ran {other} times");
        assert!(
            spins <= 10,
            "{spins} dense deadlines took the early wake-up"
        );
    }

    #[test]
    fn sparse_deadlines_take_the_early_wake_up_and_are_never_early() {
        let rt = runtime();
        let mut clock = Clock::default();
        rt.block_on(async {
            let start = Instant::now() + Duration::from_millis(1);
            for i in 0..20u32 {
                let at = start + Duration::from_micros(1000) * i;
                clock.sleep_until(at).await;
                assert!(Instant::now() >= at);
            }
        });
        let shared = &clock.helper.as_ref().expect("the helper ran").shared;
        assert!(shared.early.load(Ordering::Relaxed), "1,000/s is sparse");
    }

    #[test]
    fn deadlines_handed_ahead_wake_in_turn_and_drop_stops_the_thread() {
        let rt = runtime();
        let mut clock = Clock::default();
        rt.block_on(async {
            let first = Instant::now() + Duration::from_millis(2);
            clock.sleep_until(first).await;
            let times: Vec<Instant> = (1..=5u64)
                .map(|i| first + Duration::from_micros(700 * i))
                .collect();
            assert_eq!(clock.ahead(times.iter().copied()), 5);
            for &at in &times {
                clock.sleep_until(at).await;
                assert!(Instant::now() >= at);
            }
            // Deadlines met by spinning may still be held; the next wait
            // drops them, and the helper drops the one it wakes for.
            clock
                .sleep_until(Instant::now() + Duration::from_millis(3))
                .await;
            assert_eq!(clock.held(), 0, "every deadline was served");
            clock.ahead(std::iter::once(Instant::now() + Duration::from_secs(60)));
            clock.clear();
            assert_eq!(clock.held(), 0);
            let past = Instant::now();
            clock.sleep_until(past).await; // already past: returns at once
        });
        let started = Instant::now();
        drop(clock);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the thread ended"
        );
    }
}
