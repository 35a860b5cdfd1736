//! The small plumbing shared by the coordinator's actors: each actor is a
//! task that owns its state and serves commands from an `mpsc` channel; a
//! command that wants an answer carries a `oneshot` sender.
//!
//! Must not: hold state of its own. The actor loop ends when every handle is
//! dropped, so shutting the coordinator down is dropping the handles and
//! joining the tasks.

use tokio::sync::{mpsc, oneshot};

/// Queue length of every actor: commands are small and served quickly; a
/// full queue makes callers wait (back-pressure), it never drops.
pub const QUEUE: usize = 256;

/// The actor's task has ended (the coordinator is shutting down).
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the coordinator is shutting down ({0} stopped); retry against a running coordinator")]
pub struct Gone(pub &'static str);

/// Sends a command built around a fresh reply channel and waits for the
/// answer.
pub async fn call<C, R>(
    tx: &mpsc::Sender<C>,
    name: &'static str,
    make: impl FnOnce(oneshot::Sender<R>) -> C,
) -> Result<R, Gone> {
    let (reply, rx) = oneshot::channel();
    tx.send(make(reply)).await.map_err(|_| Gone(name))?;
    rx.await.map_err(|_| Gone(name))
}

/// Sends a reply, ignoring a caller that stopped waiting (its request was
/// cancelled, e.g. the HTTP client went away).
pub fn reply<R>(tx: oneshot::Sender<R>, value: R) {
    let _ = tx.send(value);
}
