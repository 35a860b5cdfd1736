//! The worker loop: the one loop every request goes through, for both
//! models. A worker owns a keep-alive connection (its slot of the shard's
//! connection pool) and repeats: wait for its next job → execute → record.
//!
//! - A closed-model *user* `k` makes its own jobs: after its think time (and,
//!   under a rate cap, a permit from the dispatcher) while `k` is active.
//! - An open-model *pool* worker takes arrivals from the shard's queue; the
//!   pool grows on demand up to `max_in_flight`, and idle workers are the
//!   idle connections.
//!
//! Must not decide load: jobs and active users come from the dispatcher.

use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::client::Line;
use crate::shard::{Job, Mode, Shard};

/// What a worker is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// Closed-model user with this local index.
    User(usize),
    /// Open-model in-flight slot.
    Pool,
}

/// A worker whose requests wait in the kernel (see `Shard::solo`) lets the
/// rest of its thread (the dispatcher's user ticks and interval rotation,
/// live updates, shutdown) run after the first request that ends this long
/// after its last yield (one request holds the thread for at most
/// `h1::DIRECT_READS` × `h1::DIRECT_WAIT`).
const YIELD_EVERY: Duration = Duration::from_millis(1);

/// Runs one worker until it is retired or the shard closes.
pub(crate) async fn run(shard: Rc<Shard>, role: Role) {
    let mut line = Line::default();
    // When the user may send again; `thinks`: that may be in the future
    // (without think time the clock need not be read again).
    let (mut ready_at, mut thinks) = (Instant::now(), false);
    let mut yield_at = ready_at + YIELD_EVERY;
    loop {
        let job = match role {
            Role::User(k) => next_user_job(&shard, k, ready_at, thinks).await,
            Role::Pool => next_pool_job(&shard).await,
        };
        let Some(job) = job else { break };
        let direct = shard.solo();
        let end = shard.execute(&mut line, job, direct).await;
        if let Mode::Closed { think, .. } = shard.mode.get() {
            (ready_at, thinks) = (end + think, !think.is_zero());
        }
        // A direct request may not have yielded to the runtime at all.
        if direct && end >= yield_at {
            tokio::task::yield_now().await;
            yield_at = end + YIELD_EVERY;
        }
    }
    shard.worker_ended(role);
}

/// Open model: the oldest queued arrival; `None` when the shard closes
/// with an empty queue or the pool shrank.
async fn next_pool_job(shard: &Shard) -> Option<Job> {
    loop {
        if let Some(job) = shard.pop() {
            return Some(job);
        }
        if shard.is_closed() || shard.pool_excess() {
            return None;
        }
        wait_for_job(shard).await;
    }
}

/// Closed model: user `k`'s next request once its think time is over
/// (`thinks`: `ready_at` may be ahead) and (capped) a permit is available;
/// `None` once `k` is retired.
async fn next_user_job(shard: &Shard, k: usize, ready_at: Instant, thinks: bool) -> Option<Job> {
    while thinks && Instant::now() < ready_at {
        if !shard.user_active(k) {
            return None;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(ready_at.into()) => {}
            _ = shard.retire.notified() => {}
            _ = shard.closing.cancelled() => {}
        }
    }
    loop {
        if !shard.user_active(k) {
            return None;
        }
        let Mode::Closed { capped, .. } = shard.mode.get() else {
            return None;
        };
        let intended = if capped {
            match shard.pop() {
                Some(permit) => permit.lag_from.max(ready_at),
                None => {
                    tokio::select! {
                        _ = wait_for_job(shard) => {}
                        _ = shard.retire.notified() => {}
                    }
                    continue;
                }
            }
        } else {
            shard.recorder.borrow_mut().planned(1);
            ready_at
        };
        return Some(Job {
            query: shard.pick(),
            // Closed model: latency counts from the real send.
            intended: None,
            lag_from: intended,
            slot_wait: None,
        });
    }
}

/// Waits (as an idle worker) until a job may be there or the shard closes.
async fn wait_for_job(shard: &Shard) {
    shard.idle.set(shard.idle.get() + 1);
    let guard = IdleGuard(shard);
    tokio::select! {
        _ = shard.job_ready.notified() => {}
        _ = shard.closing.cancelled() => {}
    }
    drop(guard);
}

/// Counts a worker as idle while it waits, also when the wait is dropped.
struct IdleGuard<'a>(&'a Shard);

impl Drop for IdleGuard<'_> {
    fn drop(&mut self) {
        self.0.idle.set(self.0.idle.get().saturating_sub(1));
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::rc::Rc;
    use std::sync::Arc;
    use std::time::Duration;

    use rand::SeedableRng;
    use vlbench_workload::{QueryDef, QueryType, Template, Workload};

    use super::*;
    use crate::client::Client;
    use crate::options::TargetOptions;

    /// A closed user is one task of this future: 10,000 users must fit in
    /// well under 200 MB, so rarely-live parts (connecting) stay boxed.
    #[test]
    fn a_user_task_stays_small() {
        let target = TargetOptions {
            base_url: "http://127.0.0.1:1".parse().unwrap(),
            headers: Vec::new(),
            timeout: Duration::from_secs(1),
            http2: false,
            accept_gzip: false,
            tls: Default::default(),
        };
        let def = QueryDef {
            name: "a".into(),
            category: None,
            qtype: QueryType::Query,
            template: Template::parse("*", Path::new(".")).unwrap(),
            params: Default::default(),
            weight: 1,
        };
        let workload = Arc::new(Workload::new(vec![def]).unwrap());
        let client = Client::new(&target, workload).unwrap();
        let mode = Mode::Closed {
            think: Duration::ZERO,
            capped: false,
        };
        let rng = rand::rngs::SmallRng::seed_from_u64(1);
        let shard = Rc::new(Shard::new(client, 1, rng, mode, 0));
        let user = run(shard, Role::User(0));
        let size = std::mem::size_of_val(&user);
        assert!(size <= 4096, "a user's future is {size} bytes");
    }
}
