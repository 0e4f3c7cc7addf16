//! The routing table from agent run id to the task that owns that run.
//!
//! Connection tasks look a run up for every Transaction, from many threads
//! at once, while the registry inserts and removes runs rarely: a sharded
//! concurrent map (dashmap) keeps those lookups from contending.

use bytes::Bytes;
use dashmap::DashMap;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Messages to a run task.
#[derive(Debug)]
pub enum RunMsg {
    /// A Transaction frame body for this run, from the connection whose
    /// [`Origin`] comes with it. Only its envelope has been read: the run
    /// task verifies the whole body before using it.
    Transaction(Bytes, Arc<Origin>),
    /// Harvest everything now and stop; reply when done.
    FinalHarvest(oneshot::Sender<()>),
}

/// The connection a Transaction came from, so the run task that finds the
/// body invalid can have that connection closed.
#[derive(Debug, Default)]
pub struct Origin {
    bad: std::sync::atomic::AtomicBool,
    wake: tokio::sync::Notify,
}

impl Origin {
    /// Marks the connection as having sent an invalid frame.
    pub fn reject(&self) {
        self.bad.store(true, std::sync::atomic::Ordering::Release);
        self.wake.notify_one();
    }

    /// True once a frame of this connection was rejected.
    pub fn is_rejected(&self) -> bool {
        self.bad.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Resolves when a frame is rejected.
    pub async fn rejected(&self) {
        if !self.is_rejected() {
            self.wake.notified().await;
        }
    }
}

/// Sender half of a run task's queue.
pub type RunSender = mpsc::Sender<RunMsg>;

/// Live runs by agent run id.
#[derive(Clone, Default)]
pub struct Runs(Arc<DashMap<Arc<str>, RunSender>>);

impl Runs {
    /// The queue of run `id`, if it is live.
    pub fn get(&self, id: &str) -> Option<RunSender> {
        self.0.get(id).map(|r| r.value().clone())
    }

    /// True if run `id` is live.
    pub fn contains(&self, id: &str) -> bool {
        self.0.contains_key(id)
    }

    /// Registers a new run.
    pub fn insert(&self, id: Arc<str>, tx: RunSender) {
        self.0.insert(id, tx);
    }

    /// Forgets a run; later Transactions for it are dropped.
    pub fn remove(&self, id: &str) {
        self.0.remove(id);
    }

    /// Number of live runs.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when no run is live.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
