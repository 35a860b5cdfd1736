//! A typed HTTP client of the coordinator's API, used by workers (protocol
//! endpoints) and by the CLI (`vlbench submit|status|stop|report|nodes|tune`).
//!
//! Must not: retry on its own (callers decide: the worker's reporter
//! retries with a bounded buffer, the CLI fails fast) or log secrets.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::model::{NodeRecord, SubmitResponse, TaskRecord};
use crate::protocol::{
    ErrorBody, HeartbeatRequest, HeartbeatResponse, RegisterRequest, RegisterResponse, ReportAck,
    ResultReport, TuneRequest,
};

/// Why a call to the coordinator failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No answer (connection refused, timeout, ...).
    #[error(
        "cannot reach the coordinator at {url}: {source}; check --coordinator / COORDINATOR_URL"
    )]
    Unreachable {
        /// The URL called.
        url: String,
        /// The transport error.
        source: reqwest::Error,
    },
    /// The coordinator answered with an error.
    #[error("coordinator answered {status} for {url}: {}", .body.error)]
    Refused {
        /// HTTP status.
        status: u16,
        /// The URL called.
        url: String,
        /// Its JSON error.
        body: ErrorBody,
    },
    /// The coordinator's URL is not a valid base URL.
    #[error("coordinator URL {0:?} is not a valid http:// URL")]
    BadUrl(String),
}

impl ClientError {
    /// The HTTP status, when the coordinator answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Refused { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Client of one coordinator.
#[derive(Clone, Debug)]
pub struct CoordinatorClient {
    base: String,
    http: reqwest::Client,
}

impl CoordinatorClient {
    /// A client of the coordinator at `base` (e.g. `http://10.0.0.5:8080`),
    /// with a per-request timeout.
    pub fn new(base: &str, timeout: Duration) -> Result<CoordinatorClient, ClientError> {
        let base = base.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(ClientError::BadUrl(base));
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|source| ClientError::Unreachable {
                url: base.clone(),
                source,
            })?;
        Ok(CoordinatorClient { base, http })
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    async fn send(
        &self,
        req: reqwest::RequestBuilder,
        url: String,
    ) -> Result<reqwest::Response, ClientError> {
        let resp = req
            .send()
            .await
            .map_err(|source| ClientError::Unreachable {
                url: url.clone(),
                source,
            })?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(ErrorBody {
            error: text,
            details: vec![],
        });
        Err(ClientError::Refused { status, url, body })
    }

    async fn json<T: DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
        url: String,
    ) -> Result<T, ClientError> {
        let resp = self.send(req, url.clone()).await?;
        resp.json()
            .await
            .map_err(|source| ClientError::Unreachable { url, source })
    }

    async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        let url = format!("{}{path}", self.base);
        self.json(self.http.post(&url).json(body), url).await
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let url = format!("{}{path}", self.base);
        self.json(self.http.get(&url), url).await
    }

    /// S-3 registration.
    pub async fn register(&self, req: &RegisterRequest) -> Result<RegisterResponse, ClientError> {
        self.post("/api/v1/nodes/register", req).await
    }

    /// A heartbeat; the answer carries the node's assignment.
    pub async fn heartbeat(
        &self,
        node: &str,
        hb: &HeartbeatRequest,
    ) -> Result<HeartbeatResponse, ClientError> {
        self.post(&format!("/api/v1/nodes/{node}/heartbeat"), hb)
            .await
    }

    /// S-5 result report.
    pub async fn report(&self, r: &ResultReport) -> Result<ReportAck, ClientError> {
        self.post(&format!("/api/v1/tasks/{}/reports", r.task_id), r)
            .await
    }

    /// Submits a benchmark file's text.
    pub async fn submit(&self, text: String) -> Result<SubmitResponse, ClientError> {
        let url = format!("{}/api/v1/benchmarks", self.base);
        let req = self
            .http
            .post(&url)
            .header("content-type", "application/yaml")
            .body(text);
        self.json(req, url).await
    }

    /// One benchmark's record with live figures.
    pub async fn benchmark(&self, id: &str) -> Result<TaskRecord, ClientError> {
        self.get(&format!("/api/v1/benchmarks/{id}")).await
    }

    /// Every benchmark's record.
    pub async fn benchmarks(&self) -> Result<Vec<TaskRecord>, ClientError> {
        self.get("/api/v1/benchmarks").await
    }

    /// Stops a benchmark.
    pub async fn stop(&self, id: &str) -> Result<TaskRecord, ClientError> {
        self.post(
            &format!("/api/v1/benchmarks/{id}/stop"),
            &serde_json::json!({}),
        )
        .await
    }

    /// S-19: changes a running benchmark's users and/or rate from now on.
    pub async fn tune(&self, id: &str, req: &TuneRequest) -> Result<TaskRecord, ClientError> {
        let url = format!("{}/api/v1/benchmarks/{id}", self.base);
        self.json(self.http.patch(&url).json(req), url).await
    }

    /// A benchmark's report rendered by the coordinator (json, csv, prometheus).
    pub async fn report_text(&self, id: &str, format: &str) -> Result<String, ClientError> {
        let url = format!(
            "{}/api/v1/benchmarks/{id}/report?format={format}",
            self.base
        );
        let resp = self.send(self.http.get(&url), url.clone()).await?;
        resp.text()
            .await
            .map_err(|source| ClientError::Unreachable { url, source })
    }

    /// Every node's record.
    pub async fn nodes(&self) -> Result<Vec<NodeRecord>, ClientError> {
        self.get("/api/v1/nodes").await
    }
}
