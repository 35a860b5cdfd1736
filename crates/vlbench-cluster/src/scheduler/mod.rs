//! TaskScheduler (S-1): the actor that owns every task record and every
//! node's assignment. Heartbeats are answered from its state alone (never
//! waiting on the aggregator); the control loop's ticks start and finish
//! tasks.
//!
//! Must not: merge results (the aggregator does) or track node liveness (the
//! registry does; the tick receives a snapshot of it).

mod live;
#[cfg(test)]
mod live_tests;
mod persist;
mod start;
mod state;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use live::Member;
pub use persist::PlanState;
pub use start::redact;
pub use state::{SchedError, Scheduler, SchedulerConfig, Started, TickOutcome};

use crate::actor::{self, Gone};
use crate::adjust::{AdjustPolicy, NodeWindow};
use crate::model::{NodeRecord, TaskRecord};
use crate::planner::Benchmark;
use crate::protocol::{HeartbeatResponse, ReportStatus, TuneRequest};

type Reply<T> = oneshot::Sender<T>;

enum Command {
    Submit(
        Box<(Benchmark, String)>,
        Vec<NodeRecord>,
        Reply<Result<TaskRecord, SchedError>>,
    ),
    Tick(Vec<NodeRecord>, Reply<TickOutcome>),
    Heartbeat(
        String,
        Option<String>,
        Option<u64>,
        Reply<HeartbeatResponse>,
    ),
    NodeFinished(String, String, ReportStatus, Option<String>, Reply<()>),
    Stop(String, Reply<Result<TaskRecord, SchedError>>),
    Tune(String, TuneRequest, Reply<Result<TaskRecord, SchedError>>),
    Adjust(
        String,
        BTreeMap<String, NodeWindow>,
        AdjustPolicy,
        Reply<usize>,
    ),
    Get(String, Reply<Option<TaskRecord>>),
    List(Reply<Vec<TaskRecord>>),
    Running(Reply<Vec<String>>),
    NodeTasks(Reply<HashMap<String, String>>),
}

/// Handle to the scheduler actor (cheap to clone).
#[derive(Clone)]
pub struct SchedulerHandle {
    tx: mpsc::Sender<Command>,
}

const NAME: &str = "task scheduler";

impl SchedulerHandle {
    /// Starts the actor over a scheduler (with its stored tasks loaded);
    /// it ends when every handle is dropped.
    pub fn spawn(mut s: Scheduler) -> (SchedulerHandle, JoinHandle<()>) {
        let (tx, mut rx) = mpsc::channel(actor::QUEUE);
        let task = tokio::spawn(async move {
            while let Some(cmd) = rx.recv().await {
                serve(&mut s, cmd);
            }
        });
        (SchedulerHandle { tx }, task)
    }

    /// S-19: new users and/or rate for a running task from now on.
    pub async fn tune(
        &self,
        id: String,
        req: TuneRequest,
    ) -> Result<Result<TaskRecord, SchedError>, Gone> {
        actor::call(&self.tx, NAME, |r| Command::Tune(id, req, r)).await
    }

    /// S-10: applies the load adjuster's policy to a task; returns how many
    /// weights changed.
    pub async fn adjust(
        &self,
        id: String,
        windows: BTreeMap<String, NodeWindow>,
        policy: AdjustPolicy,
    ) -> Result<usize, Gone> {
        actor::call(&self.tx, NAME, |r| Command::Adjust(id, windows, policy, r)).await
    }

    /// Accepts a benchmark (`config` is the file's text, sent to workers).
    pub async fn submit(
        &self,
        benchmark: Benchmark,
        config: String,
        nodes: Vec<NodeRecord>,
    ) -> Result<Result<TaskRecord, SchedError>, Gone> {
        actor::call(&self.tx, NAME, |r| {
            Command::Submit(Box::new((benchmark, config)), nodes, r)
        })
        .await
    }

    /// Starts and finishes tasks given the nodes' current state.
    pub async fn tick(&self, nodes: Vec<NodeRecord>) -> Result<TickOutcome, Gone> {
        actor::call(&self.tx, NAME, |r| Command::Tick(nodes, r)).await
    }

    /// A node's assignment; `running` is the task the node says it runs,
    /// `applied` the assignment version it has (see
    /// [`Scheduler::heartbeat_from`](crate::scheduler::Scheduler::heartbeat_from)).
    pub async fn heartbeat(
        &self,
        node: String,
        running: Option<String>,
        applied: Option<u64>,
    ) -> Result<HeartbeatResponse, Gone> {
        actor::call(&self.tx, NAME, |r| {
            Command::Heartbeat(node, running, applied, r)
        })
        .await
    }

    /// A node's final report arrived.
    pub async fn node_finished(
        &self,
        task: String,
        node: String,
        status: ReportStatus,
        error: Option<String>,
    ) -> Result<(), Gone> {
        actor::call(&self.tx, NAME, |r| {
            Command::NodeFinished(task, node, status, error, r)
        })
        .await
    }

    /// Stops a task.
    pub async fn stop(&self, id: String) -> Result<Result<TaskRecord, SchedError>, Gone> {
        actor::call(&self.tx, NAME, |r| Command::Stop(id, r)).await
    }

    /// One task's record.
    pub async fn get(&self, id: String) -> Result<Option<TaskRecord>, Gone> {
        actor::call(&self.tx, NAME, |r| Command::Get(id, r)).await
    }

    /// Every task's record.
    pub async fn list(&self) -> Result<Vec<TaskRecord>, Gone> {
        actor::call(&self.tx, NAME, Command::List).await
    }

    /// The ids of the running tasks (the control loop's question, without
    /// copying records: a 200-node task's record is large).
    pub async fn running(&self) -> Result<Vec<String>, Gone> {
        actor::call(&self.tx, NAME, Command::Running).await
    }

    /// Node id → task it is part of.
    pub async fn node_tasks(&self) -> Result<HashMap<String, String>, Gone> {
        actor::call(&self.tx, NAME, Command::NodeTasks).await
    }
}

fn serve(s: &mut Scheduler, cmd: Command) {
    let now = Instant::now();
    match cmd {
        Command::Submit(b, nodes, r) => {
            let (benchmark, config) = *b;
            actor::reply(r, s.submit(benchmark, config, &nodes, now));
        }
        Command::Tick(nodes, r) => actor::reply(r, s.tick(&nodes, now)),
        Command::Heartbeat(node, running, applied, r) => {
            actor::reply(r, s.heartbeat_from(&node, running.as_deref(), applied))
        }
        Command::NodeFinished(task, node, status, error, r) => {
            s.node_finished(&task, &node, status, error);
            actor::reply(r, ());
        }
        Command::Stop(id, r) => actor::reply(r, s.stop(&id, now)),
        Command::Tune(id, req, r) => {
            actor::reply(r, s.tune(&id, &req, std::time::SystemTime::now()))
        }
        Command::Adjust(id, windows, policy, r) => {
            actor::reply(r, s.adjust(&id, &windows, &policy))
        }
        Command::Get(id, r) => actor::reply(r, s.get(&id)),
        Command::List(r) => actor::reply(r, s.list()),
        Command::Running(r) => actor::reply(r, s.running()),
        Command::NodeTasks(r) => actor::reply(r, s.node_tasks()),
    }
}
