//! Load over time: stages of users (closed model) or arrival rate (open).
//!
//! Owns the piecewise-linear load profile, its integral N(t) and the exact
//! arrival times N⁻¹(i) of the *global* schedule, plus live retargeting
//! (S-19). It does not split load between nodes (see `wrr::Share`) and does
//! not sleep or read clocks: callers ask for times and wait themselves.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How load is generated.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Model {
    /// `value` concurrent users, each sending, awaiting the answer, then
    /// pausing `think_time`.
    Closed {
        /// Pause between a user's response and its next request.
        think_time: Duration,
    },
    /// `value` arrivals per second regardless of answers (B-2); arrivals
    /// beyond `max_in_flight` outstanding requests are dropped and counted.
    Open {
        /// Bound on outstanding requests.
        max_in_flight: u32,
    },
}

/// One stage: move linearly from the previous value to `target` over
/// `duration` (k6 "ramping" semantics). A zero duration is a step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stage {
    /// How long the stage lasts.
    pub duration: Duration,
    /// The value reached at the stage's end (users or arrivals/s).
    pub target: f64,
}

/// The whole load plan of a run; the same on every node (nodes take a
/// `Share` of it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    /// Closed or open model.
    pub model: Model,
    /// Users (closed) or arrivals/s (open) over time.
    pub stages: Vec<Stage>,
    /// The value at t = 0 (0 when there is a ramp-up).
    pub initial: f64,
    /// Closed model only: a global cap in requests/s, as stages starting
    /// at the first stage's target (a constant cap is one stage). After its
    /// last stage the cap holds; it ends with the main stages.
    pub rate_cap: Option<Vec<Stage>>,
}

/// Values closer than this to an integer count as that integer when users
/// are counted, so float noise at a stage end does not lose a user.
const EPS: f64 = 1e-9;

impl Schedule {
    /// Total length of the run: the sum of the stage durations.
    pub fn duration(&self) -> Duration {
        self.stages.iter().map(|s| s.duration).sum()
    }

    /// The users or rate at `t`; past the end, the last target.
    pub fn value_at(&self, t: Duration) -> f64 {
        self.main().value_at(secs(t))
    }

    /// Closed model: whole users wanted at `t` (the value, rounded down).
    pub fn users_at(&self, t: Duration) -> u64 {
        (self.value_at(t) + EPS).floor() as u64
    }

    /// Closed model with a cap: the cap in requests/s at `t`.
    pub fn rate_cap_at(&self, t: Duration) -> Option<f64> {
        self.arrivals().map(|p| p.value_at(secs(t)))
    }

    /// Time of the `i`-th arrival (i = 0, 1, ...) of the global schedule:
    /// the first t with N(t) > i, where N(t) = ∫₀ᵗ rate. The rate is the open
    /// model's value or the closed model's cap; `None` without a rate or
    /// when `i >= total_arrivals()`. Any window [a, b) holds
    /// ceil(N(b)) − ceil(N(a)) arrivals: the integral to within 1.
    pub fn arrival_time(&self, i: u64) -> Option<Duration> {
        let p = self.arrivals()?;
        if i >= p.total() {
            return None;
        }
        Some(Duration::try_from_secs_f64(p.inverse(i as f64)).unwrap_or(Duration::ZERO))
    }

    /// Number of arrivals in the whole run: ceil(N(duration)); 0 without a rate.
    pub fn total_arrivals(&self) -> u64 {
        self.arrivals().map_or(0, |p| p.total())
    }

    /// N(t): the expected number of arrivals before `t` (0 without a rate).
    pub fn arrivals_before(&self, t: Duration) -> f64 {
        self.arrivals().map_or(0.0, |p| p.integral(secs(t)))
    }

    /// Live tuning (S-19): the same schedule up to `at`, then a step to
    /// `new_value` held to the original end. N(t) is unchanged before `at`,
    /// so global arrival indices stay consistent across the change.
    pub fn retarget(&self, at: Duration, new_value: f64) -> Schedule {
        let mut s = self.clone();
        s.stages = retarget_stages(self.initial, &self.stages, self.duration(), at, new_value);
        s
    }

    /// Live tuning of the closed model's rate cap, like [`Schedule::retarget`].
    /// A schedule without a cap gets one that is 0 before `at` (those times
    /// are past, and arrival indices then start at 0 from `at`).
    pub fn retarget_rate_cap(&self, at: Duration, new_rate: f64) -> Schedule {
        let mut s = self.clone();
        let end = self.duration();
        let uncapped = [Stage {
            duration: end,
            target: 0.0,
        }];
        let cap = match &self.rate_cap {
            Some(cap) if !cap.is_empty() => cap.as_slice(),
            _ => &uncapped,
        };
        // The cap profile starts at its first target (see `arrivals`).
        s.rate_cap = Some(retarget_stages(cap[0].target, cap, end, at, new_rate));
        s
    }

    fn main(&self) -> Profile<'_> {
        Profile {
            initial: self.initial,
            stages: &self.stages,
            end: secs(self.duration()),
        }
    }

    /// The profile arrivals follow, if the schedule has one.
    fn arrivals(&self) -> Option<Profile<'_>> {
        match (&self.model, &self.rate_cap) {
            (Model::Open { .. }, _) => Some(self.main()),
            (Model::Closed { .. }, Some(cap)) => Some(Profile {
                initial: cap.first().map_or(0.0, |s| s.target),
                stages: cap,
                end: secs(self.duration()),
            }),
            (Model::Closed { .. }, None) => None,
        }
    }
}

/// Stages equal to `stages` before `at`, then a step to `value` held until `end`.
fn retarget_stages(
    initial: f64,
    stages: &[Stage],
    end: Duration,
    at: Duration,
    value: f64,
) -> Vec<Stage> {
    if at >= end {
        return stages.to_vec();
    }
    let profile = Profile {
        initial,
        stages,
        end: secs(end),
    };
    let mut out = Vec::with_capacity(stages.len() + 3);
    let mut t0 = Duration::ZERO;
    for s in stages {
        if t0 + s.duration > at {
            break;
        }
        out.push(s.clone());
        t0 += s.duration;
    }
    if at > t0 {
        out.push(Stage {
            duration: at - t0,
            target: profile.value_at(secs(at)),
        });
    }
    out.push(Stage {
        duration: Duration::ZERO,
        target: value,
    });
    out.push(Stage {
        duration: end - at,
        target: value,
    });
    out
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// A piecewise-linear function of time in seconds, holding its last value
/// from the end of its stages to `end`. Negative or NaN values count as 0.
struct Profile<'a> {
    initial: f64,
    stages: &'a [Stage],
    end: f64,
}

/// One linear segment: from `t0`, lasting `d`, from value `v0` to `v1`.
struct Segment {
    t0: f64,
    d: f64,
    v0: f64,
    v1: f64,
}

impl Segment {
    fn area(&self) -> f64 {
        self.d * (self.v0 + self.v1) / 2.0
    }

    fn value(&self, tau: f64) -> f64 {
        if self.d <= 0.0 {
            return self.v1;
        }
        self.v0 + (self.v1 - self.v0) * tau / self.d
    }

    fn integral(&self, tau: f64) -> f64 {
        if self.d <= 0.0 {
            return 0.0;
        }
        tau * (self.v0 + self.value(tau)) / 2.0
    }

    /// τ in [0, d] with integral(τ) = y, for 0 <= y <= area.
    fn solve(&self, y: f64) -> f64 {
        if y <= 0.0 || self.d <= 0.0 {
            return 0.0;
        }
        // v0·τ + a·τ² = y with a = (v1 − v0) / 2d. The form 2y / (v0 + v(τ))
        // avoids cancellation; v0 + v(τ) > 0 because y > 0 needs some rate.
        let a = (self.v1 - self.v0) / (2.0 * self.d);
        let disc = (self.v0 * self.v0 + 4.0 * a * y).max(0.0);
        let denom = self.v0 + disc.sqrt();
        let tau = if denom > 0.0 { 2.0 * y / denom } else { self.d };
        tau.clamp(0.0, self.d)
    }
}

fn clean(v: f64) -> f64 {
    v.max(0.0)
}

impl Profile<'_> {
    /// The segments in order, ending with the hold to `end`.
    fn segments(&self) -> impl Iterator<Item = Segment> + '_ {
        let mut t0 = 0.0;
        let mut prev = clean(self.initial);
        let mut stages = self.stages.iter();
        let mut held = false;
        std::iter::from_fn(move || {
            if let Some(s) = stages.next() {
                let d = secs(s.duration);
                let seg = Segment {
                    t0,
                    d,
                    v0: prev,
                    v1: clean(s.target),
                };
                t0 += d;
                prev = seg.v1;
                return Some(seg);
            }
            if held || t0 >= self.end {
                return None;
            }
            held = true;
            Some(Segment {
                t0,
                d: self.end - t0,
                v0: prev,
                v1: prev,
            })
        })
    }

    fn value_at(&self, t: f64) -> f64 {
        let mut last = clean(self.initial);
        for seg in self.segments() {
            if t < seg.t0 + seg.d {
                return seg.value(t - seg.t0);
            }
            last = seg.v1;
        }
        last
    }

    /// N(t), with t clamped to [0, end].
    fn integral(&self, t: f64) -> f64 {
        let t = t.min(self.end);
        let mut n = 0.0;
        for seg in self.segments() {
            if t < seg.t0 + seg.d {
                return n + seg.integral((t - seg.t0).max(0.0));
            }
            n += seg.area();
        }
        n
    }

    fn total(&self) -> u64 {
        let n = self.integral(self.end);
        if n.is_finite() && n > 0.0 {
            n.ceil() as u64
        } else {
            0
        }
    }

    /// The first t with N(t) > x (x < N(end)).
    fn inverse(&self, x: f64) -> f64 {
        let mut n = 0.0;
        let mut last_end = 0.0;
        for seg in self.segments() {
            let area = seg.area();
            if n + area > x {
                return (seg.t0 + seg.solve(x - n)).min(self.end);
            }
            n += area;
            last_end = seg.t0 + seg.d;
        }
        last_end.min(self.end)
    }
}
