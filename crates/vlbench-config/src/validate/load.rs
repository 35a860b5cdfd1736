//! Checks of `spec.workload` and the load plan built from it: model, users
//! or rate, duration, ramp-up, stages, think time, open-model limits.
//!
//! Owns how the keys combine into stages: without `stages`, the run is one
//! flat stage of `duration` (its first `ramp_up_time` ramping from zero);
//! with `stages`, they define the run and `ramp_up_time` becomes a first
//! stage from zero to the first stage's value. It must not compute arrival
//! times (the workload crate's `Schedule` does).

use std::time::Duration;

use super::{unknown_name, Ctx};
use crate::error::FieldPath;
use crate::raw;

/// Default for `spec.workload.max_in_flight` (open model).
pub(crate) const DEFAULT_MAX_IN_FLIGHT: u32 = 1000;

/// The load model with its settings.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum PlanModel {
    /// Users loop: send, wait for the answer, think.
    Closed { think_time: Duration },
    /// Arrivals at a rate, bounded in flight and in queue.
    Open { max_in_flight: u32, max_queued: u32 },
}

/// The validated load over time, before it becomes a `Schedule`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct LoadPlan {
    pub(crate) model: PlanModel,
    /// Users or arrivals/s at t = 0.
    pub(crate) initial: f64,
    /// (duration, value reached at its end); the sum is the run's length.
    pub(crate) stages: Vec<(Duration, f64)>,
    /// Closed model: constant global cap in queries/s.
    pub(crate) rate_cap: Option<f64>,
}

impl LoadPlan {
    /// The run's length.
    pub(crate) fn duration(&self) -> Duration {
        self.stages.iter().map(|(d, _)| *d).sum()
    }
}

/// Validates `spec.workload`; `None` when it has errors.
pub(crate) fn load_plan(
    ctx: &mut Ctx<'_>,
    raw: Option<&raw::Workload>,
    path: &FieldPath,
) -> Option<LoadPlan> {
    let raw = ctx.required(
        path,
        raw,
        "set `total_concurrent_users` and `duration` (or `stages`)",
    )?;
    let open = match raw.model.as_deref().unwrap_or("closed") {
        "closed" => false,
        "open" => true,
        other => {
            ctx.error(
                &path.key("model"),
                unknown_name("model", other, &["closed", "open"]),
            );
            return None;
        }
    };
    let model = if open {
        open_model(ctx, raw, path)
    } else {
        closed_model(ctx, raw, path)
    };
    let rate_cap = match (open, raw.target_qps) {
        (false, Some(qps)) => ctx.rate(&path.key("target_qps"), qps).map(Some),
        _ => Some(None),
    };
    let ramp_up = ctx.duration(
        &path.key("ramp_up_time"),
        raw.ramp_up_time.as_ref(),
        Duration::ZERO,
    );
    let stages = match &raw.stages {
        Some(stages) => staged(ctx, raw, stages, path, open),
        None => flat(ctx, raw, path, open, ramp_up),
    };
    let (initial, mut stages) = stages?;
    let (ramp_up, rate_cap) = (ramp_up?, rate_cap?);
    let initial = if raw.stages.is_some() && !ramp_up.is_zero() {
        stages.insert(0, (ramp_up, initial));
        0.0
    } else {
        initial
    };
    Some(LoadPlan {
        model: model?,
        initial,
        stages,
        rate_cap,
    })
}

fn closed_model(ctx: &mut Ctx<'_>, raw: &raw::Workload, path: &FieldPath) -> Option<PlanModel> {
    let mut ok = true;
    for (key, set) in [
        ("max_in_flight", raw.max_in_flight.is_some()),
        ("max_queued", raw.max_queued.is_some()),
    ] {
        if set {
            ctx.error(
                &path.key(key),
                "only for `model: open`; closed-model users have one query in flight each",
            );
            ok = false;
        }
    }
    let think_time = ctx.duration(
        &path.key("think_time"),
        raw.think_time.as_ref(),
        Duration::ZERO,
    )?;
    ok.then_some(PlanModel::Closed { think_time })
}

fn open_model(ctx: &mut Ctx<'_>, raw: &raw::Workload, path: &FieldPath) -> Option<PlanModel> {
    let mut ok = true;
    if raw.total_concurrent_users.is_some() {
        ctx.error(
            &path.key("total_concurrent_users"),
            "only for `model: closed`; the open model's load is `target_qps` (arrivals per second)",
        );
        ok = false;
    }
    if raw.think_time.is_some() {
        ctx.error(
            &path.key("think_time"),
            "only for `model: closed`; open-model arrivals do not wait for answers",
        );
        ok = false;
    }
    let max_in_flight = match raw.max_in_flight {
        Some(n) => ctx.count(&path.key("max_in_flight"), n, 1),
        None => Some(DEFAULT_MAX_IN_FLIGHT),
    };
    let max_queued = match raw.max_queued {
        Some(n) => ctx.count(&path.key("max_queued"), n, 0),
        None => max_in_flight,
    };
    let model = PlanModel::Open {
        max_in_flight: max_in_flight?,
        max_queued: max_queued?,
    };
    ok.then_some(model)
}

/// No `stages`: `duration` at `total_concurrent_users` (closed) or
/// `target_qps` (open), the first `ramp_up_time` ramping from zero.
fn flat(
    ctx: &mut Ctx<'_>,
    raw: &raw::Workload,
    path: &FieldPath,
    open: bool,
    ramp_up: Option<Duration>,
) -> Option<(f64, Vec<(Duration, f64)>)> {
    let duration = ctx.positive_duration(
        &path.key("duration"),
        raw.duration.as_ref(),
        "set how long the run lasts, e.g. `10m`",
    );
    let value = if open {
        let qps = ctx.required(
            &path.key("target_qps"),
            raw.target_qps.as_ref(),
            "the open model needs an arrival rate (queries per second), or `stages`",
        );
        qps.and_then(|q| ctx.rate(&path.key("target_qps"), *q))
    } else {
        let users = ctx.required(
            &path.key("total_concurrent_users"),
            raw.total_concurrent_users.as_ref(),
            "set the number of concurrent users (or give `stages`)",
        );
        users
            .and_then(|u| ctx.count(&path.key("total_concurrent_users"), *u, 1))
            .map(f64::from)
    };
    let (duration, ramp_up) = (duration?, ramp_up?);
    if ramp_up > duration {
        ctx.error(
            &path.key("ramp_up_time"),
            format!(
                "must be <= `duration` ({}); the ramp-up is part of the run",
                crate::format_duration(duration)
            ),
        );
        return None;
    }
    let value = value?;
    if ramp_up.is_zero() {
        return Some((value, vec![(duration, value)]));
    }
    let mut stages = vec![(ramp_up, value)];
    if duration > ramp_up {
        stages.push((duration - ramp_up, value));
    }
    Some((0.0, stages))
}

/// `stages` given: they define the run. Returns the first stage's value as
/// the initial value.
fn staged(
    ctx: &mut Ctx<'_>,
    raw: &raw::Workload,
    stages: &[raw::Stage],
    path: &FieldPath,
    open: bool,
) -> Option<(f64, Vec<(Duration, f64)>)> {
    let mut ok = true;
    let defined_by_stages =
        "conflicts with `stages`: when stages are given they define the run; remove one";
    if raw.duration.is_some() {
        ctx.error(&path.key("duration"), defined_by_stages);
        ok = false;
    }
    if !open && raw.total_concurrent_users.is_some() {
        ctx.error(&path.key("total_concurrent_users"), defined_by_stages);
        ok = false;
    }
    if open && raw.target_qps.is_some() {
        ctx.error(&path.key("target_qps"), defined_by_stages);
        ok = false;
    }
    let list = path.key("stages");
    if stages.is_empty() {
        ctx.error(&list, "empty; give at least one `{duration, users}` (closed) or `{duration, target_qps}` (open), or remove `stages`");
        return None;
    }
    let mut out = Vec::with_capacity(stages.len());
    for (i, stage) in stages.iter().enumerate() {
        match one_stage(ctx, stage, &list.index(i), open) {
            Some(s) => out.push(s),
            None => ok = false,
        }
    }
    if ok && out.iter().all(|(_, value)| *value == 0.0) {
        ctx.error(
            &list,
            "no stage applies any load; give at least one stage a value > 0",
        );
        ok = false;
    }
    let initial = out.first().map(|(_, value)| *value)?;
    ok.then_some((initial, out))
}

fn one_stage(
    ctx: &mut Ctx<'_>,
    stage: &raw::Stage,
    path: &FieldPath,
    open: bool,
) -> Option<(Duration, f64)> {
    let duration = ctx.positive_duration(
        &path.key("duration"),
        stage.duration.as_ref(),
        "set how long this stage lasts",
    );
    let (own, other) = if open {
        ("target_qps", "users")
    } else {
        ("users", "target_qps")
    };
    let model = if open { "open" } else { "closed" };
    let other_set = if open {
        stage.users.is_some()
    } else {
        stage.target_qps.is_some()
    };
    if other_set {
        ctx.error(
            &path.key(other),
            format!("not for `model: {model}`; {model}-model stages set `{own}`"),
        );
        return None;
    }
    let value = if open {
        let qps = ctx.required(
            &path.key(own),
            stage.target_qps.as_ref(),
            "set the arrival rate reached at the end of this stage",
        );
        qps.and_then(|q| {
            if q.is_finite() && *q >= 0.0 {
                Some(*q)
            } else {
                ctx.error(&path.key(own), "must be a number >= 0");
                None
            }
        })
    } else {
        let users = ctx.required(
            &path.key(own),
            stage.users.as_ref(),
            "set the number of users reached at the end of this stage",
        );
        users
            .and_then(|u| ctx.count(&path.key(own), *u, 0))
            .map(f64::from)
    };
    Some((duration?, value?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Problems;

    fn plan(yaml: &str) -> Result<LoadPlan, Vec<String>> {
        let raw: raw::Workload = serde_yaml_ng::from_str(yaml).unwrap_or_else(|e| panic!("{e}"));
        let mut problems = Problems::default();
        let env = std::collections::HashMap::new();
        let mut ctx = Ctx {
            problems: &mut problems,
            base_dir: std::path::Path::new("."),
            env: &env,
        };
        let plan = load_plan(&mut ctx, Some(&raw), &FieldPath::parse("spec.workload"));
        match problems.finish() {
            Ok(_) => plan.ok_or_else(Vec::new),
            Err(e) => Err(e.errors.iter().map(|p| p.to_string()).collect()),
        }
    }

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn closed_with_ramp_up_is_a_ramp_then_a_plateau() {
        let p = plan("total_concurrent_users: 8\nduration: 30s\nramp_up_time: 5s\n")
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            p.model,
            PlanModel::Closed {
                think_time: Duration::ZERO
            }
        );
        assert_eq!(
            (p.initial, p.stages),
            (0.0, vec![(S(5), 8.0), (S(25), 8.0)])
        );
    }

    #[test]
    fn closed_without_ramp_up_is_flat() {
        let p =
            plan("total_concurrent_users: 3\nduration: 10\ntarget_qps: 50\nthink_time: 100ms\n")
                .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            p.model,
            PlanModel::Closed {
                think_time: Duration::from_millis(100)
            }
        );
        assert_eq!(
            (p.initial, p.stages, p.rate_cap),
            (3.0, vec![(S(10), 3.0)], Some(50.0))
        );
    }

    #[test]
    fn open_defaults_and_queue() {
        let p =
            plan("model: open\ntarget_qps: 20\nduration: 1m\n").unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            p.model,
            PlanModel::Open {
                max_in_flight: 1000,
                max_queued: 1000
            }
        );
        assert_eq!((p.initial, p.stages), (20.0, vec![(S(60), 20.0)]));
        let p = plan("model: open\ntarget_qps: 20\nduration: 1m\nmax_in_flight: 10\n")
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            p.model,
            PlanModel::Open {
                max_in_flight: 10,
                max_queued: 10
            }
        );
    }

    #[test]
    fn stages_with_ramp_up_start_from_zero() {
        let yaml = "ramp_up_time: 10s\nstages:\n  - {duration: 1m, users: 10}\n  - {duration: 30s, users: 0}\n";
        let p = plan(yaml).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(p.initial, 0.0);
        assert_eq!(p.stages, vec![(S(10), 10.0), (S(60), 10.0), (S(30), 0.0)]);
        assert_eq!(p.duration(), S(100));
    }

    #[test]
    fn stages_without_ramp_up_start_at_the_first_value() {
        let p = plan("model: open\nstages:\n  - {duration: 1m, target_qps: 5}\n  - {duration: 1m, target_qps: 50}\n")
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            (p.initial, p.stages),
            (5.0, vec![(S(60), 5.0), (S(60), 50.0)])
        );
    }
}
