//! Runtime behaviour knobs: latency, injected errors, stalls, the
//! concurrency limit and mid-stream aborts.
//!
//! Owns: turning the validated [`TargetConfig`] into per-request decisions.
//! Random choices come from a seeded counter-based generator (SplitMix64
//! over an atomic counter): lock-free, and the same sequence of requests
//! gets the same decisions on every run.
//! Must not: write responses (handlers turn decisions into VictoriaLogs'
//! answers).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::SeedableRng;
use rand_distr::{Distribution, LogNormal};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::{LatencySpec, TargetConfig};
use crate::metrics::{Counters, Endpoint};

/// z-score of the 99th percentile of a standard normal distribution.
const Z99: f64 = 2.326_347_874;

/// Decisions for requests, built once from the config.
#[derive(Debug)]
pub struct Knobs {
    latency: [Option<LatencySpec>; 7],
    errors: Vec<(u16, f64)>,
    stalls: Vec<(Duration, Duration, Duration)>,
    start: Instant,
    seed: u64,
    draws: AtomicU64,
    slots: Option<Arc<Semaphore>>,
    /// `concurrency.max_concurrent` (for the 503 message).
    pub max_concurrent: u32,
    /// `concurrency.max_queue_duration`.
    pub max_queue: Duration,
    /// `concurrency.max_query_duration`.
    pub max_query: Duration,
    abort_probability: f64,
    abort_timeout_below: Option<Duration>,
    /// Rows of `/query` sent before an abort.
    pub abort_after_rows: u64,
}

/// Why a request got no concurrency slot: how long it waited.
#[derive(Debug, Clone, Copy)]
pub struct QueueTimeout(pub Duration);

impl Knobs {
    /// Builds the knobs; `start` is when stall windows are counted from.
    pub fn new(cfg: &TargetConfig, start: Instant) -> Knobs {
        let l = &cfg.latency;
        let pick = |own: Option<LatencySpec>| own.or(l.default);
        let mut latency = [None; 7];
        for (ep, spec) in [
            (Endpoint::Query, l.query),
            (Endpoint::StatsQuery, l.stats_query),
            (Endpoint::StatsQueryRange, l.stats_query_range),
            (Endpoint::Hits, l.hits),
            (Endpoint::FieldNames, l.field_names),
            (Endpoint::FieldValues, l.field_values),
            (Endpoint::Streams, l.streams),
        ] {
            latency[ep as usize] =
                pick(spec).filter(|s| *s != LatencySpec::Fixed(Default::default()));
        }
        let mut acc = 0.0;
        let errors = cfg
            .errors
            .iter()
            .filter(|(_, &p)| p > 0.0)
            .map(|(&status, &p)| {
                acc += p;
                (status, acc)
            })
            .collect();
        let c = &cfg.concurrency;
        Knobs {
            latency,
            errors,
            stalls: cfg
                .stalls
                .iter()
                .map(|s| (s.every.0, s.length.0, s.offset.0))
                .collect(),
            start,
            seed: cfg.seed,
            draws: AtomicU64::new(0),
            slots: c
                .max_concurrent
                .map(|n| Arc::new(Semaphore::new(n as usize))),
            max_concurrent: c.max_concurrent.unwrap_or(0),
            max_queue: c.max_queue_duration.0,
            max_query: c.max_query_duration.0,
            abort_probability: cfg.abort.probability,
            abort_timeout_below: cfg.abort.timeout_below.map(|d| d.0),
            abort_after_rows: u64::from(cfg.abort.after_rows),
        }
    }

    /// Next draw of the shared generator, uniform in `[0, 1)`.
    fn uniform(&self) -> f64 {
        let n = self.draws.fetch_add(1, Ordering::Relaxed);
        (splitmix64(self.seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15)) >> 11) as f64
            / (1u64 << 53) as f64
    }

    /// Added latency for one request of `ep`, None when there is none.
    pub fn latency(&self, ep: Endpoint) -> Option<Duration> {
        let spec = self.latency[ep as usize]?;
        Some(match spec {
            LatencySpec::Fixed(d) => d.0,
            LatencySpec::Uniform { min, max } => min.0 + (max.0 - min.0).mul_f64(self.uniform()),
            LatencySpec::Lognormal { median, p99 } => {
                let mu = median.0.as_secs_f64().ln();
                let sigma = ((p99.0.as_secs_f64() / median.0.as_secs_f64()).ln() / Z99).max(0.0);
                let n = self.draws.fetch_add(1, Ordering::Relaxed);
                let mut rng = SmallRng::seed_from_u64(splitmix64(self.seed.wrapping_add(n)));
                let secs = LogNormal::new(mu, sigma)
                    .map(|d| d.sample(&mut rng))
                    .unwrap_or(0.0);
                Duration::try_from_secs_f64(secs.min(3600.0)).unwrap_or_default()
            }
        })
    }

    /// The injected error status for one request, if any.
    pub fn pick_error(&self) -> Option<u16> {
        if self.errors.is_empty() {
            return None;
        }
        let u = self.uniform();
        self.errors
            .iter()
            .find(|(_, cum)| u < *cum)
            .map(|(s, _)| *s)
    }

    /// True when this request is cut mid-stream: always when its `timeout`
    /// arg is below `abort.timeout_below`, else with `abort.probability`.
    pub fn should_abort(&self, timeout_arg: Option<Duration>) -> bool {
        if let (Some(t), Some(below)) = (timeout_arg, self.abort_timeout_below) {
            if t < below {
                return true;
            }
        }
        self.abort_probability > 0.0 && self.uniform() < self.abort_probability
    }

    /// How long until the stall window containing `at` ends (None outside
    /// every window).
    pub fn stall_remaining(&self, at: Instant) -> Option<Duration> {
        let elapsed = at.saturating_duration_since(self.start);
        self.stalls
            .iter()
            .filter_map(|&(every, length, offset)| {
                let since = elapsed.checked_sub(offset)?;
                let phase =
                    Duration::from_nanos((since.as_nanos() % every.as_nanos().max(1)) as u64);
                (phase < length).then(|| length - phase)
            })
            .max()
    }

    /// Waits out the current stall window, if any.
    pub async fn wait_stall(&self) {
        if self.stalls.is_empty() {
            return;
        }
        // A window can be followed directly by another one, so loop (at
        // most once per configured stall).
        for _ in 0..=self.stalls.len() {
            match self.stall_remaining(Instant::now()) {
                Some(d) => tokio::time::sleep(d).await,
                None => return,
            }
        }
    }

    /// Takes a concurrency slot, queueing up to the smaller of the
    /// request's `timeout`, `max_query_duration` and `max_queue_duration`.
    pub async fn acquire(
        &self,
        counters: &Counters,
        timeout_arg: Option<Duration>,
    ) -> Result<Option<OwnedSemaphorePermit>, QueueTimeout> {
        let Some(slots) = &self.slots else {
            return Ok(None);
        };
        if let Ok(p) = Arc::clone(slots).try_acquire_owned() {
            return Ok(Some(p));
        }
        counters.limit_reached();
        let wait = timeout_arg
            .unwrap_or(self.max_query)
            .min(self.max_query)
            .min(self.max_queue);
        let began = Instant::now();
        match tokio::time::timeout(wait, Arc::clone(slots).acquire_owned()).await {
            Ok(Ok(p)) => Ok(Some(p)),
            // The semaphore is never closed; treat it like a timeout anyway.
            Ok(Err(_)) | Err(_) => {
                counters.limit_timeout();
                Err(QueueTimeout(began.elapsed()))
            }
        }
    }
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Go's `time.Duration` text for whole-second values (`10s`, `1m30s`),
/// as in VictoriaLogs' flag names of the 503 message.
pub fn go_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms % 1000 != 0 {
        return format!("{}s", d.as_secs_f64());
    }
    let secs = d.as_secs();
    match (secs / 3600, secs / 60 % 60, secs % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, m, s) => format!("{h}h{m}m{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn knobs(yaml: &str) -> Knobs {
        let cfg: TargetConfig = serde_yaml_ng::from_str(yaml).unwrap();
        cfg.validate().unwrap();
        Knobs::new(&cfg, Instant::now())
    }

    #[test]
    fn error_rate_is_close_to_the_configured_probability() {
        let k = knobs("errors: {503: 0.1, 500: 0.05}");
        let n = 20_000;
        let picks: Vec<_> = (0..n).map(|_| k.pick_error()).collect();
        let c503 = picks.iter().filter(|p| **p == Some(503)).count() as f64 / n as f64;
        let c500 = picks.iter().filter(|p| **p == Some(500)).count() as f64 / n as f64;
        assert!((c503 - 0.1).abs() < 0.01, "{c503}");
        assert!((c500 - 0.05).abs() < 0.01, "{c500}");
    }

    #[test]
    fn latency_distributions() {
        let k = knobs("latency: {default: {fixed: 20ms}, hits: {uniform: {min: 10ms, max: 20ms}}, query: {lognormal: {median: 10ms, p99: 100ms}}}");
        assert_eq!(
            k.latency(Endpoint::Streams),
            Some(Duration::from_millis(20))
        );
        for _ in 0..100 {
            let d = k.latency(Endpoint::Hits).unwrap();
            assert!(d >= Duration::from_millis(10) && d <= Duration::from_millis(20));
        }
        let mut v: Vec<Duration> = (0..4000)
            .map(|_| k.latency(Endpoint::Query).unwrap())
            .collect();
        v.sort();
        let median = v[2000].as_secs_f64();
        let p99 = v[3960].as_secs_f64();
        assert!((0.008..0.012).contains(&median), "{median}");
        assert!((0.07..0.14).contains(&p99), "{p99}");
        assert_eq!(knobs("{}").latency(Endpoint::Query), None);
    }

    #[test]
    fn stall_windows_repeat() {
        let k = knobs("stalls: [{every: 10s, for: 2s, offset: 1s}]");
        let at = |ms| k.start + Duration::from_millis(ms);
        assert_eq!(k.stall_remaining(at(500)), None);
        assert_eq!(
            k.stall_remaining(at(1500)),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(k.stall_remaining(at(3500)), None);
        assert_eq!(k.stall_remaining(at(11_000)), Some(Duration::from_secs(2)));
    }

    #[test]
    fn abort_by_timeout_arg() {
        let k = knobs("abort: {timeout_below: 100ms}");
        assert!(k.should_abort(Some(Duration::from_millis(50))));
        assert!(!k.should_abort(Some(Duration::from_millis(500))));
        assert!(!k.should_abort(None));
    }

    #[test]
    fn go_durations() {
        assert_eq!(go_duration(Duration::from_secs(10)), "10s");
        assert_eq!(go_duration(Duration::from_secs(90)), "1m30s");
    }
}
