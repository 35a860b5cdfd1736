//! vlbench-timing: the pieces of a precise wake-up that the engine's
//! scheduling clock (`vlbench-engine`'s `clock.rs`) and the simulated
//! target's latency timer (`vlbench-target`'s `timer.rs`) share.
//!
//! Both have a helper thread that sleeps until the next deadline and wakes
//! a task on a tokio runtime. Two delays remain after the kernel's timer
//! fires: the helper's wait ends late (by the thread's timer slack, 50 µs
//! by default on Linux: [`lower_timer_slack`] makes it 1 ns), and the
//! runtime thread must be woken (tens of µs on a VM). Both are measured
//! (as lag and latency by the engine, as added latency by the target). So
//! the helper wakes the task a learnt [`WakeMargin`] early and the task
//! spins the rest ([`spin_until`]): the only spinning, bounded by
//! [`MAX_MARGIN`] per wake-up, and never longer than the wake-up it
//! replaces.
//!
//! Must not: own threads or queues (each user keeps its own).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The first margin: about one thread wake-up on an idle machine.
pub const INITIAL_MARGIN: Duration = Duration::from_micros(40);
/// The most a margin grows to, so the most one wake-up spins.
pub const MAX_MARGIN: Duration = Duration::from_micros(200);

/// How long before a deadline a helper thread wakes its task: what
/// wake-ups have recently taken. Shared between the helper (reads it) and
/// the woken tasks (teach it); lock-free.
#[derive(Debug)]
pub struct WakeMargin {
    ns: AtomicU64,
}

impl Default for WakeMargin {
    fn default() -> Self {
        WakeMargin {
            ns: AtomicU64::new(nanos(INITIAL_MARGIN)),
        }
    }
}

impl WakeMargin {
    /// The current margin.
    pub fn get(&self) -> Duration {
        Duration::from_nanos(self.ns.load(Ordering::Relaxed))
    }

    /// Learns from a wake-up for `deadline` observed at `now`: late by `l`,
    /// the margin grows by `l / 4` (up to [`MAX_MARGIN`]); early by `e`
    /// within the margin, it shrinks by `e / 16`. It settles where about
    /// one wake-up in five is late (a high quantile of the wake-up time),
    /// so most deadlines are met and the spinning stays short. A wake-up
    /// earlier than the margin (not the helper's) teaches nothing.
    pub fn learn(&self, deadline: Instant, now: Instant) {
        let m = self.get();
        let next = if now >= deadline {
            (m + (now - deadline) / 4).min(MAX_MARGIN)
        } else if deadline - now <= m {
            m.saturating_sub((deadline - now) / 16)
        } else {
            return;
        };
        self.ns.store(nanos(next), Ordering::Relaxed);
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Busy-waits until `deadline` (callers only do so within a
/// [`WakeMargin`] of it).
pub fn spin_until(deadline: Instant) {
    while Instant::now() < deadline {
        std::hint::spin_loop();
    }
}

/// Linux's default timer slack of a thread, ns.
pub const DEFAULT_SLACK_NS: u64 = 50_000;

/// Asks Linux for 1 ns of timer slack on the calling thread: the default
/// 50 µs lets the kernel end each timed wait up to 50 µs late.
pub fn lower_timer_slack() {
    set_timer_slack(1);
}

/// Sets the calling thread's timer slack (ns; 0 means the process default).
/// Slack lets the kernel merge nearby wake-ups: lower is more precise and
/// costs more wake-ups. A thread may set its own slack through
/// `/proc/<tid>/timerslack_ns`; elsewhere (or when that fails) this does
/// nothing but log at debug level.
pub fn set_timer_slack(ns: u64) {
    let Ok(link) = std::fs::read_link("/proc/thread-self") else {
        return;
    };
    // The link reads `<pid>/task/<tid>`.
    let Some(tid) = link.to_str().and_then(|s| s.rsplit('/').next()) else {
        return;
    };
    let path = format!("/proc/{tid}/timerslack_ns");
    if let Err(e) = std::fs::write(&path, ns.to_string()) {
        tracing::debug!(error = %e, %path, "timer slack unchanged");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_margin_learns_from_late_and_early_wake_ups_within_bounds() {
        let m = WakeMargin::default();
        let at = Instant::now() + Duration::from_secs(1);
        assert_eq!(m.get(), INITIAL_MARGIN);
        // 80 µs late: grows by a quarter of it.
        m.learn(at, at + Duration::from_micros(80));
        assert_eq!(m.get(), INITIAL_MARGIN + Duration::from_micros(20));
        // 32 µs early (within the margin): shrinks by a sixteenth of it.
        m.learn(at, at - Duration::from_micros(32));
        assert_eq!(m.get(), INITIAL_MARGIN + Duration::from_micros(18));
        // Far earlier than the margin (not the helper's wake-up): no change.
        m.learn(at, at - Duration::from_millis(5));
        assert_eq!(m.get(), INITIAL_MARGIN + Duration::from_micros(18));
        // Never above the cap, whatever the lateness.
        for _ in 0..20 {
            m.learn(at, at + Duration::from_millis(50));
        }
        assert_eq!(m.get(), MAX_MARGIN);
        // And down to zero when every wake-up is early.
        for _ in 0..2000 {
            m.learn(at, at - m.get());
        }
        assert!(m.get() < Duration::from_micros(1), "{:?}", m.get());
    }

    #[test]
    fn spins_until_the_deadline_and_not_before() {
        let at = Instant::now() + Duration::from_micros(300);
        spin_until(at);
        assert!(Instant::now() >= at);
        spin_until(Instant::now() - Duration::from_millis(1)); // past: returns
    }

    #[test]
    fn lowers_the_slack_of_the_calling_thread_only() {
        let read = || std::fs::read_to_string("/proc/thread-self/timerslack_ns").ok();
        let (before, after) = std::thread::spawn(move || {
            let before = read();
            set_timer_slack(DEFAULT_SLACK_NS);
            let default = read();
            lower_timer_slack();
            (before.zip(default), read())
        })
        .join()
        .unwrap();
        // Linux only: elsewhere there is nothing to check.
        if let (Some((before, default)), Some(after)) = (before, after) {
            assert_eq!(default.trim(), DEFAULT_SLACK_NS.to_string(), "was {before}");
            assert_eq!(after.trim(), "1", "was {before}");
            assert_ne!(read().map(|s| s.trim().to_string()), Some("1".into()));
        }
    }
}
