//! Precise sleeps for the added-latency knob.
//!
//! Owns: [`sleep`], which ends within a few microseconds after its
//! deadline instead of tokio's 1 ms timer granularity (tokio rounds a
//! sleep up to its next millisecond tick, so a 10 ms latency used to be
//! answered after 10.5-11.5 ms). A sleep first waits on tokio's timer
//! until [`COARSE_MARGIN`] before the deadline, then hands its waker to
//! one process-wide timer thread that keeps a binary heap of deadlines,
//! blocks on a condvar with the next deadline as timeout (the kernel's
//! high-resolution timers; the thread's timer slack is lowered to 1 ns
//! where Linux allows it) and wakes every future whose deadline is within
//! a learnt margin (`vlbench_timing::WakeMargin`: what waking a runtime
//! thread has recently taken, at most 200 µs); the woken future spins the
//! rest. The thread itself sleeps in the kernel between deadlines.
//! Must not: decide how long to sleep (see `knobs.rs`).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use vlbench_timing::{lower_timer_slack, spin_until, WakeMargin, MAX_MARGIN};

/// How long before the deadline the tokio phase ends: tokio wakes up to
/// about 1 ms after its target (tick rounding), so 2 ms leaves the precise
/// phase at least ~1 ms to spare on a normally loaded machine.
pub const COARSE_MARGIN: Duration = Duration::from_millis(2);

/// Sleeps for `d`, ending as close after `now + d` as the OS allows.
pub async fn sleep(d: Duration) {
    sleep_until(Instant::now() + d).await;
}

/// Sleeps until `deadline` (see the module docs). Never ends before it.
pub async fn sleep_until(deadline: Instant) {
    let Some(timer) = timer() else {
        // No timer thread: tokio's timer is the best there is.
        return tokio::time::sleep_until(deadline.into()).await;
    };
    if let Some(coarse) = deadline.checked_sub(COARSE_MARGIN) {
        if coarse > Instant::now() {
            tokio::time::sleep_until(coarse.into()).await;
        }
    }
    Precise {
        timer,
        deadline,
        waker: None,
    }
    .await;
}

/// The fine phase: ready once `deadline` has passed; before that, the
/// timer thread holds a clone of the task's waker.
struct Precise {
    timer: &'static Timer,
    deadline: Instant,
    /// The waker last handed to the timer thread.
    waker: Option<Waker>,
}

impl Future for Precise {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let now = Instant::now();
        let registered = self.waker.is_some();
        if registered {
            // Woken (by the timer thread, a margin early or late; or
            // spuriously, which teaches nothing unless near the deadline).
            self.timer.margin.learn(self.deadline, now);
        }
        if now >= self.deadline {
            return Poll::Ready(());
        }
        // The timer thread wakes at most MAX_MARGIN early, after removing
        // the entry: spin the rest rather than wait for a wake-up that
        // would come late (or not at all).
        let left = self.deadline - now;
        if left <= self.timer.margin.get() || (registered && left <= MAX_MARGIN) {
            spin_until(self.deadline);
            return Poll::Ready(());
        }
        // Register again only when polled by another task's waker (a
        // spurious poll with the same waker is already covered).
        if !self.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            let waker = cx.waker().clone();
            self.timer.add(self.deadline, waker.clone());
            self.waker = Some(waker);
        }
        Poll::Pending
    }
}

/// A registered deadline. Ordered by deadline, then registration order.
struct Entry {
    deadline: Instant,
    seq: u64,
    waker: Waker,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.deadline, self.seq) == (other.deadline, other.seq)
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.deadline, self.seq).cmp(&(other.deadline, other.seq))
    }
}

#[derive(Default)]
struct Queue {
    heap: BinaryHeap<Reverse<Entry>>,
    seq: u64,
}

/// The state shared with the timer thread.
struct Timer {
    queue: Mutex<Queue>,
    changed: Condvar,
    /// How early the thread wakes a sleep (which spins the rest).
    margin: WakeMargin,
}

/// The process-wide timer; its thread starts on first use. None when the
/// thread cannot be started.
fn timer() -> Option<&'static Timer> {
    static TIMER: OnceLock<Option<&'static Timer>> = OnceLock::new();
    *TIMER.get_or_init(|| {
        // Leaked on purpose: the thread uses it for the process lifetime.
        let t: &'static Timer = Box::leak(Box::new(Timer {
            queue: Mutex::new(Queue::default()),
            changed: Condvar::new(),
            margin: WakeMargin::default(),
        }));
        let spawned = std::thread::Builder::new()
            .name("vlbench-target-timer".into())
            .spawn(move || t.run());
        match spawned {
            Ok(_) => Some(t),
            Err(e) => {
                tracing::warn!(error = %e, "vlbench target: cannot start the precise timer thread; added latency uses tokio's 1 ms timer");
                None
            }
        }
    })
}

impl Timer {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // Entries are pushed and popped whole; a poisoned queue is usable.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wakes `waker` at `deadline`.
    fn add(&self, deadline: Instant, waker: Waker) {
        let mut q = self.lock();
        let seq = q.seq;
        q.seq = q.seq.wrapping_add(1);
        let earliest = q.heap.peek().is_none_or(|Reverse(e)| deadline < e.deadline);
        q.heap.push(Reverse(Entry {
            deadline,
            seq,
            waker,
        }));
        drop(q);
        if earliest {
            // The thread sleeps until the old earliest deadline: wake it to
            // sleep until this one instead.
            self.changed.notify_one();
        }
    }

    /// The timer thread: wake what is due, sleep until the next deadline.
    fn run(&self) {
        lower_timer_slack();
        let mut due: Vec<Waker> = Vec::new();
        let mut q = self.lock();
        loop {
            let now = Instant::now();
            let margin = self.margin.get();
            while q
                .heap
                .peek()
                .is_some_and(|Reverse(e)| e.deadline <= now + margin)
            {
                if let Some(Reverse(e)) = q.heap.pop() {
                    due.push(e.waker);
                }
            }
            if !due.is_empty() {
                // Wake outside the lock: waking may run code of the runtime.
                drop(q);
                due.drain(..).for_each(Waker::wake);
                q = self.lock();
                continue;
            }
            let next = q
                .heap
                .peek()
                .map(|Reverse(e)| e.deadline.saturating_duration_since(now + margin));
            q = match next {
                Some(wait) => match self.changed.wait_timeout(q, wait) {
                    Ok((q, _)) => q,
                    Err(e) => e.into_inner().0,
                },
                None => self.changed.wait(q).unwrap_or_else(|e| e.into_inner()),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sleeps_never_end_early_and_end_soon_after() {
        let mut late = Vec::new();
        for i in 0..40u64 {
            // Short ones go straight to the precise phase, long ones
            // through tokio's timer first.
            let d = Duration::from_micros(300 + i * 100);
            let began = Instant::now();
            sleep(d).await;
            let took = began.elapsed();
            assert!(took >= d, "{took:?} < {d:?}");
            late.push(took - d);
        }
        late.sort();
        // Wide margin (the precise timer is typically 20-80 µs late).
        assert!(
            late[20] < Duration::from_millis(1),
            "median late {:?}",
            late[20]
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_sleeps_all_end_after_their_deadlines() {
        let began = Instant::now();
        let tasks: Vec<_> = (0..50u64)
            .map(|i| {
                tokio::spawn(async move {
                    let d = Duration::from_millis(1 + (i * 7) % 5);
                    sleep_until(began + d).await;
                    (d, began.elapsed())
                })
            })
            .collect();
        for t in tasks {
            let (d, took) = t.await.expect("task");
            assert!(took >= d, "{took:?} < {d:?}");
            assert!(took < d + Duration::from_millis(200), "{took:?} for {d:?}");
        }
    }
}
