//! APIServer (S-1, S-15): the coordinator's HTTP API, built by [`router`]
//! so tests drive it with `oneshot` and no socket. Protocol endpoints for
//! workers, user endpoints for benchmarks and nodes, `/health`, `/metrics`.
//!
//! Handlers only translate between HTTP and the actors: parse, ask, answer.
//! Every error is an [`AppError`] with a JSON [`ErrorBody`]: 400 for a
//! malformed or unknown message (naming the field), 404 for an unknown
//! task or node, 409 for tuning a task that is not running, 503 while
//! shutting down. Must not: hold state itself.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::actor::Gone;
use crate::aggregator::{AggError, AggregatorHandle};
use crate::ingest::IngestReport;
use crate::metrics::CoordinatorMetrics;
use crate::model::{SubmitResponse, TaskRecord, TaskStatus};
use crate::planner::Planner;
use crate::protocol::{
    ErrorBody, Health, HeartbeatRequest, Metrics, RegisterRequest, RegisterResponse, ReportAck,
    ReportStatus, TuneRequest,
};
use crate::registry::RegistryHandle;
use crate::report::ClusterReport;
use crate::scheduler::{SchedError, SchedulerHandle};
use crate::store::Store;

/// What every handler can reach: actor handles and fixed settings.
#[derive(Clone)]
pub struct AppState {
    /// Node registry.
    pub registry: RegistryHandle,
    /// Task scheduler.
    pub scheduler: SchedulerHandle,
    /// Result aggregator.
    pub aggregator: AggregatorHandle,
    /// Benchmark file → facts.
    pub planner: Arc<dyn Planner>,
    /// Coordinator metrics.
    pub metrics: Arc<CoordinatorMetrics>,
    /// Stored results of tasks from before a restart.
    pub store: Option<Store>,
    /// Heartbeat interval told to workers.
    pub heartbeat_interval: Duration,
    /// Heartbeat timeout told to workers.
    pub heartbeat_timeout: Duration,
}

/// An API error: status + JSON body; internal details stay in the log.
#[derive(Debug)]
pub enum AppError {
    /// Malformed or unknown message, invalid config, or a benchmark that
    /// does not fit.
    BadRequest(String, Vec<String>),
    /// Unknown task, node or path.
    NotFound(String),
    /// The task is not in a state that allows the change.
    Conflict(String),
    /// The coordinator is shutting down.
    Unavailable(String),
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, error, details) = match self {
            AppError::BadRequest(e, d) => (StatusCode::BAD_REQUEST, e, d),
            AppError::NotFound(e) => (StatusCode::NOT_FOUND, e, vec![]),
            AppError::Conflict(e) => (StatusCode::CONFLICT, e, vec![]),
            AppError::Unavailable(e) => (StatusCode::SERVICE_UNAVAILABLE, e, vec![]),
        };
        (status, Json(ErrorBody { error, details })).into_response()
    }
}

impl From<SchedError> for AppError {
    fn from(e: SchedError) -> Self {
        match e {
            e @ SchedError::UnknownTask(_) => AppError::NotFound(e.to_string()),
            e @ SchedError::NotRunning { .. } => AppError::Conflict(e.to_string()),
            e @ (SchedError::Split(_) | SchedError::Invalid(_)) => {
                AppError::BadRequest(e.to_string(), vec![])
            }
        }
    }
}

impl From<Gone> for AppError {
    fn from(g: Gone) -> Self {
        AppError::Unavailable(g.to_string())
    }
}

type ApiResult<T> = Result<T, AppError>;

/// The coordinator's routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/api/v1/nodes", get(list_nodes))
        .route("/api/v1/nodes/register", post(register))
        .route("/api/v1/nodes/{id}/heartbeat", post(heartbeat))
        .route("/api/v1/tasks/{task_id}/reports", post(report))
        .route("/api/v1/benchmarks", post(submit).get(list_benchmarks))
        .route("/api/v1/benchmarks/{id}", get(get_benchmark).patch(tune))
        .route("/api/v1/benchmarks/{id}/stop", post(stop))
        .route("/api/v1/benchmarks/{id}/report", get(get_report))
        .fallback(not_found)
        .with_state(state)
}

async fn not_found(uri: axum::http::Uri) -> AppError {
    AppError::NotFound(format!(
        "no endpoint {uri}; see docs/protocol.md for the API"
    ))
}

/// Parses a JSON body, naming the field path of the first problem.
fn parse<T: DeserializeOwned>(body: &Bytes, what: &str) -> ApiResult<T> {
    // Plain serde first: tracking the path costs on every field, and is
    // only needed to explain an error (a fifth of a report's decoding).
    let error = match serde_json::from_slice(body) {
        Ok(v) => return Ok(v),
        Err(e) => e,
    };
    let de = &mut serde_json::Deserializer::from_slice(body);
    let (at, msg) = match serde_path_to_error::deserialize::<_, T>(de) {
        Err(e) => {
            let path = e.path().to_string();
            let at = if path == "." {
                String::new()
            } else {
                format!(" at `{path}`")
            };
            (at, e.inner().to_string())
        }
        // Valid up to its end: what follows it is the error.
        Ok(_) => (String::new(), error.to_string()),
    };
    Err(AppError::BadRequest(
        format!("malformed {what}{at}: {msg}"),
        vec![],
    ))
}

async fn health(State(s): State<AppState>) -> ApiResult<Json<Health>> {
    let nodes = s.registry.list().await?;
    let tasks = s.scheduler.list().await?;
    Ok(Json(Health {
        status: "ok".into(),
        timestamp: chrono::Utc::now(),
        version: env!("CARGO_PKG_VERSION").into(),
        active_nodes: nodes.iter().filter(|n| n.status.is_alive()).count(),
        running_tasks: tasks
            .iter()
            .filter(|t| t.status == TaskStatus::Running)
            .count(),
    }))
}

async fn metrics(State(s): State<AppState>) -> Response {
    let ct = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    ([(header::CONTENT_TYPE, ct)], s.metrics.encode()).into_response()
}

async fn register(State(s): State<AppState>, body: Bytes) -> ApiResult<Json<RegisterResponse>> {
    let req: RegisterRequest = parse(&body, "registration message")?;
    if req.node_id.trim().is_empty() || req.node_id.len() > 253 {
        return Err(AppError::BadRequest(
            "`node_id` must be 1 to 253 characters".into(),
            vec![],
        ));
    }
    let record = s.registry.register(req).await?;
    tracing::info!(node = %record.node_id, "node registered");
    Ok(Json(RegisterResponse {
        node_id: record.node_id,
        heartbeat_interval_ms: s.heartbeat_interval.as_millis() as u64,
        heartbeat_timeout_ms: s.heartbeat_timeout.as_millis() as u64,
    }))
}

async fn heartbeat(
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let hb: HeartbeatRequest = parse(&body, "heartbeat message")?;
    let running = hb.task_id.clone();
    let applied = hb.assignment_version;
    s.registry
        .heartbeat(id.clone(), hb)
        .await?
        .map_err(|e| AppError::NotFound(e.to_string()))?;
    s.metrics.heartbeat("heartbeat");
    let answer = s.scheduler.heartbeat(id, running, Some(applied)).await?;
    Ok(Json(answer).into_response())
}

async fn report(
    State(s): State<AppState>,
    Path(task_id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<ReportAck>> {
    // Read with sparse histograms: decoding into full ones was most of the
    // coordinator's CPU with a big fleet (issue 6.4).
    let r: IngestReport =
        parse(&body, "result report").inspect_err(|_| s.metrics.report("rejected"))?;
    if r.task_id != task_id {
        s.metrics.report("rejected");
        let msg = format!(
            "`task_id` {:?} does not match the path's {task_id:?}",
            r.task_id
        );
        return Err(AppError::BadRequest(msg, vec![]));
    }
    let node = r.node_id.clone();
    let beat = match (r.status, r.assignment_version) {
        (ReportStatus::Running, Some(v)) => Some((v, r.metrics.clone())),
        _ => None,
    };
    let accepted = match s.aggregator.add_raw(r, Some(body)).await? {
        Ok(a) => a,
        Err(e @ AggError::Invalid(_)) => {
            s.metrics.report("rejected");
            return Err(AppError::BadRequest(e.to_string(), vec![]));
        }
        Err(e) => {
            s.metrics.report("rejected");
            return Err(AppError::NotFound(e.to_string()));
        }
    };
    s.metrics.report(if accepted.new {
        "accepted"
    } else {
        "duplicate"
    });
    if let Some((status, error)) = accepted.finished {
        let status = if status == ReportStatus::Failed {
            status
        } else {
            ReportStatus::Completed
        };
        s.scheduler
            .node_finished(task_id, node, status, error)
            .await?;
        return Ok(Json(ReportAck {
            accepted: accepted.new,
            assignment_unchanged: None,
        }));
    }
    let assignment_unchanged = match beat {
        Some((applied, metrics)) => Some(report_beat(&s, node, task_id, applied, metrics).await?),
        None => None,
    };
    Ok(Json(ReportAck {
        accepted: accepted.new,
        assignment_unchanged,
    }))
}

/// A running report that carries the node's assignment version is also its
/// heartbeat: the registry hears from the node, and the scheduler answers
/// whether that version is still the node's assignment (when not, the
/// worker heartbeats at once to fetch it). An unknown node (the coordinator
/// restarted) gets false, so its heartbeat finds out and it registers again.
async fn report_beat(
    s: &AppState,
    node: String,
    task_id: String,
    applied: u64,
    metrics: Metrics,
) -> ApiResult<bool> {
    if s.registry
        .report_beat(node.clone(), metrics)
        .await?
        .is_err()
    {
        return Ok(false);
    }
    s.metrics.heartbeat("report");
    let answer = s
        .scheduler
        .heartbeat(node, Some(task_id), Some(applied))
        .await?;
    Ok(answer.unchanged)
}

async fn list_nodes(State(s): State<AppState>) -> ApiResult<Json<Vec<crate::model::NodeRecord>>> {
    let mut nodes = s.registry.list().await?;
    let tasks = s.scheduler.node_tasks().await?;
    for n in &mut nodes {
        n.assigned_tasks = tasks.get(&n.node_id).cloned().into_iter().collect();
    }
    Ok(Json(nodes))
}

async fn submit(State(s): State<AppState>, body: Bytes) -> ApiResult<Response> {
    let text = String::from_utf8(body.to_vec()).map_err(|_| {
        AppError::BadRequest(
            "the benchmark file must be UTF-8 text (YAML or JSON)".into(),
            vec![],
        )
    })?;
    let planner = s.planner.clone();
    let parse_text = text.clone();
    let parsed = tokio::task::spawn_blocking(move || planner.benchmark(&parse_text))
        .await
        .map_err(|_| AppError::Unavailable("the config check was cancelled; retry".into()))?;
    let benchmark = parsed.map_err(|problems| {
        let msg = format!("invalid benchmark config: {} problem(s)", problems.len());
        AppError::BadRequest(msg, problems)
    })?;
    let nodes = s.registry.list().await?;
    let task = s.scheduler.submit(benchmark, text, nodes).await??;
    tracing::info!(task = %task.task_id, "benchmark submitted");
    let body = SubmitResponse {
        task_id: task.task_id.clone(),
        task,
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

async fn list_benchmarks(State(s): State<AppState>) -> ApiResult<Json<Vec<TaskRecord>>> {
    Ok(Json(s.scheduler.list().await?))
}

async fn task_or_404(s: &AppState, id: &str) -> ApiResult<TaskRecord> {
    s.scheduler
        .get(id.to_string())
        .await?
        .ok_or_else(|| AppError::NotFound(SchedError::UnknownTask(id.to_string()).to_string()))
}

async fn get_benchmark(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<TaskRecord>> {
    let mut task = task_or_404(&s, &id).await?;
    task.live = s.aggregator.live(id).await?;
    Ok(Json(task))
}

async fn stop(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<TaskRecord>> {
    let task = s.scheduler.stop(id).await??;
    tracing::info!(task = %task.task_id, "benchmark stopped by the user");
    Ok(Json(task))
}

/// S-19: `PATCH /api/v1/benchmarks/{id}` with `{"users": N}` and/or
/// `{"target_qps": Q}`.
async fn tune(
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<TaskRecord>> {
    let req: TuneRequest = parse(&body, "tuning request")?;
    validate_tune(&req)?;
    let mut task = s.scheduler.tune(id.clone(), req).await??;
    task.live = s.aggregator.live(id).await?;
    Ok(Json(task))
}

fn validate_tune(req: &TuneRequest) -> ApiResult<()> {
    let bad = |m: &str| Err(AppError::BadRequest(m.to_string(), vec![]));
    match (req.users, req.target_qps) {
        (None, None) => bad("give `users` (closed model) and/or `target_qps` (req/s)"),
        (Some(0), _) => bad("`users` must be at least 1; stop the benchmark to end it"),
        (Some(u), _) if u > 1_000_000 => bad("`users` must be at most 1000000"),
        (_, Some(q)) if !(q.is_finite() && q > 0.0 && q <= 10_000_000.0) => {
            bad("`target_qps` must be a number above 0 and at most 10000000")
        }
        _ => Ok(()),
    }
}

#[derive(Deserialize)]
struct ReportQuery {
    format: Option<String>,
}

async fn get_report(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<ReportQuery>,
) -> ApiResult<Response> {
    let name = q.format.as_deref().unwrap_or("json");
    let format = vlbench_report::Format::from_name(name)
        .map_err(|e| AppError::BadRequest(e.to_string(), vec![]))?;
    let task = task_or_404(&s, &id).await?;
    let report = match s.aggregator.results(id.clone()).await? {
        Some(results) => ClusterReport::build(&task, &results),
        None => stored_report(&s, &id)?,
    };
    let (ct, body) = report.render(format);
    Ok(([(header::CONTENT_TYPE, ct)], body).into_response())
}

fn stored_report(s: &AppState, id: &str) -> ApiResult<ClusterReport> {
    let none = || {
        AppError::NotFound(format!(
            "benchmark {id:?} has no results yet: it has not started"
        ))
    };
    let store = s.store.as_ref().ok_or_else(none)?;
    let value = store
        .load_result(id)
        .map_err(|e| AppError::Unavailable(e.to_string()))?
        .ok_or_else(none)?;
    serde_json::from_value(value)
        .map_err(|e| AppError::Unavailable(format!("stored results of {id:?} are unreadable: {e}")))
}
