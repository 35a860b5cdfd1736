//! Turns a validated benchmark file into what the engine runs: the target's
//! connection options and the engine plan for one process.
//!
//! Only translation lives here; validation is the config crate's and the
//! hot path is the engine's.

use std::sync::Arc;
use std::time::SystemTime;

use anyhow::Context;
use http::{HeaderName, HeaderValue};
use vlbench_config::ValidatedConfig;
use vlbench_engine::{EnginePlan, TargetOptions, TlsOptions};
use vlbench_workload::Share;

/// Connection options for the target of a validated config.
pub fn target_options(cfg: &ValidatedConfig) -> anyhow::Result<TargetOptions> {
    let spec = &cfg.target;
    let mut headers = Vec::with_capacity(spec.headers.len() + 2);
    for h in &spec.headers {
        let name = HeaderName::from_bytes(h.name.as_bytes())
            .with_context(|| format!("spec.target.headers: invalid header name {:?}", h.name))?;
        let mut value = HeaderValue::from_str(h.value.expose())
            .with_context(|| format!("spec.target.headers.{}: invalid header value", h.name))?;
        value.set_sensitive(h.value.is_secret());
        headers.push((name, value));
    }
    if let Some(t) = &spec.tenant {
        headers.push((
            HeaderName::from_static("accountid"),
            HeaderValue::from(t.account_id),
        ));
        headers.push((
            HeaderName::from_static("projectid"),
            HeaderValue::from(t.project_id),
        ));
    }
    Ok(TargetOptions {
        base_url: spec.url.clone(),
        headers,
        timeout: spec.timeout,
        http2: spec.http2,
        accept_gzip: spec.accept_gzip,
        tls: TlsOptions {
            ca_file: spec.tls.ca_file.clone(),
            insecure_skip_verify: spec.tls.insecure_skip_verify,
        },
    })
}

/// The engine plan for running the whole benchmark in this process.
pub fn single_process(
    cfg: &ValidatedConfig,
    threads: Option<usize>,
    start: SystemTime,
) -> anyhow::Result<EnginePlan> {
    let threads = threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    Ok(EnginePlan {
        target: target_options(cfg)?,
        workload: Arc::new(cfg.workload.clone()),
        schedule: cfg.schedule.clone(),
        share: Share::whole(),
        threads,
        start,
    })
}

/// The load model's name as reports and the CLI show it.
pub fn model_name(schedule: &vlbench_workload::Schedule) -> &'static str {
    match schedule.model {
        vlbench_workload::Model::Closed { .. } => "closed",
        vlbench_workload::Model::Open { .. } => "open",
    }
}
