//! vlbench-cluster: distributed mode. One coordinator splits a benchmark over
//! worker nodes, which run their share with the engine and report interval
//! statistics that the coordinator merges exactly.
//!
//! # Layout
//! - [`protocol`]: the JSON messages between coordinator and workers (S-3..S-5).
//! - [`model`]: records served by the user API (nodes S-7, tasks S-8, live window S-11).
//! - [`planner`]: the seam to the config code (the binary implements [`planner::Planner`]).
//! - [`split`]: cutting one global schedule into per-node shares (S-4, S-9).
//! - [`adjust`]: the S-10 load adjuster's policy (node-specific rules only).
//! - [`actor`]: the command/oneshot plumbing of the coordinator's actors.
//! - [`registry`]: NodeManager + failure detector (S-7, S-12).
//! - [`scheduler`]: TaskScheduler: tasks, assignments, start and finish (S-8).
//! - [`aggregator`]: ResultAggregator: exact merge, dedup, live window (S-11, B-1);
//!   shared under a lock rather than an actor (see its handle's docs).
//! - [`ingest`]: a result report read with sparse histograms (the coordinator's HTTP path).
//! - [`store`]: JSON files under `--data`, written atomically.
//! - [`report`]: the final report (vlbench-report's schema + `cluster`).
//! - [`metrics`]: Prometheus metric names and handles (S-14).
//! - [`api`]: the coordinator's HTTP API (router + `AppError`).
//! - [`coordinator`]: the coordinator's lifecycle and control loop.
//! - [`client`]: typed HTTP client of the coordinator (workers, CLI).
//! - [`worker`]: the worker role: registrar, executor, reporter (S-2).
//!
//! Must not: block the engine, or hold a lock across the coordinator's
//! control loop (its parts are actors that own their state, but for the
//! aggregator, whose short lock is never held across an await).

pub mod actor;
pub mod adjust;
pub mod aggregator;
mod aggregator_live;
pub mod api;
pub mod client;
pub mod coordinator;
pub mod ingest;
pub mod metrics;
pub mod model;
pub mod planner;
pub mod protocol;
pub mod registry;
pub mod report;
pub mod scheduler;
pub mod split;
pub mod store;
pub mod worker;
