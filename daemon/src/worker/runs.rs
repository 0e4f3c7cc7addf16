//! The routing table from agent run id to the task that owns that run.
//!
//! Connection tasks look a run up for every Transaction, from many threads
//! at once, while the registry inserts and removes runs rarely: a sharded
//! concurrent map (dashmap) keeps those lookups from contending.

use super::registry::RunEnd;
use super::run::RunSettings;
use bytes::Bytes;
use dashmap::DashMap;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};

/// Messages to a run task.
pub enum RunMsg {
    /// A Transaction frame body for this run, from the connection whose
    /// [`Origin`] comes with it. Only its envelope has been read: the run
    /// task verifies the whole body before using it. The permit holds the
    /// body's bytes against the run's queue budget until it is dropped.
    Transaction(Bytes, Arc<Origin>, OwnedSemaphorePermit),
    /// The first step of a shutdown, taken while agents are still served:
    /// harvest everything held so far the final way (delivered, or with a
    /// spool written to disk) before the instant, then keep merging
    /// Transactions without harvesting them until [`RunMsg::FinalHarvest`].
    /// Reply when done.
    Flush(tokio::time::Instant, oneshot::Sender<()>),
    /// Harvest everything now (before the instant) and stop; reply when
    /// done.
    FinalHarvest(tokio::time::Instant, oneshot::Sender<()>),
    /// The application is connected (again): post under this run from now
    /// on. What the task holds is carried over.
    Connected(Box<RunSettings>),
    /// The registry gave the application up (410 or 401 on connect): stop
    /// without sending.
    End(RunEnd),
}

impl std::fmt::Debug for RunMsg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunMsg::Transaction(body, ..) => write!(f, "Transaction({} bytes)", body.len()),
            RunMsg::Flush(..) => f.write_str("Flush"),
            RunMsg::FinalHarvest(..) => f.write_str("FinalHarvest"),
            RunMsg::Connected(s) => write!(f, "Connected({})", s.run_id),
            RunMsg::End(end) => write!(f, "End({end:?})"),
        }
    }
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

/// Most bytes of Transaction bodies a run's queue holds. The queue is
/// also limited to [`super::run::RUN_QUEUE`] messages, but by count alone
/// 10 000 frames of up to 32 MiB could wait at once: 600 frames of 2.4 MiB
/// from 20 agents already took the worker to 1.7 GB.
pub const RUN_QUEUE_BYTES: usize = 128 << 20;

/// Sender half of a run task's queue: a bounded channel plus a byte
/// budget, so a burst of large Transactions waits at the connection (only
/// that application's agents are slowed) instead of piling up in memory.
#[derive(Debug, Clone)]
pub struct RunSender {
    tx: mpsc::Sender<RunMsg>,
    budget: Arc<Semaphore>,
    task: u64,
}

/// A fresh id for a run task.
pub fn next_task_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// The run is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the run has ended")]
pub struct RunClosed;

impl RunSender {
    /// A sender on `tx` (the queue of task `task`) whose Transactions may
    /// hold at most `budget` bytes at once; the budget is shared with the
    /// receiving task, which closes it when the run ends.
    pub fn new(tx: mpsc::Sender<RunMsg>, budget: Arc<Semaphore>, task: u64) -> Self {
        RunSender { tx, budget, task }
    }

    /// The id of the task it sends to.
    pub fn task_id(&self) -> u64 {
        self.task
    }

    /// Queues a Transaction body, waiting while the queue is full by count
    /// or by bytes. A body larger than the whole budget takes all of it.
    pub async fn transaction(&self, body: Bytes, origin: Arc<Origin>) -> Result<(), RunClosed> {
        let cost = u32::try_from(body.len().clamp(1, RUN_QUEUE_BYTES)).unwrap_or(u32::MAX);
        let permit = Arc::clone(&self.budget)
            .acquire_many_owned(cost)
            .await
            .map_err(|_| RunClosed)?;
        self.tx
            .send(RunMsg::Transaction(body, origin, permit))
            .await
            .map_err(|_| RunClosed)
    }

    /// Sends a control message (the shutdown's flush and final harvest).
    pub async fn send(&self, msg: RunMsg) -> Result<(), RunClosed> {
        self.tx.send(msg).await.map_err(|_| RunClosed)
    }
}

/// A fresh byte budget for one run's queue.
pub fn queue_budget() -> Arc<Semaphore> {
    Arc::new(Semaphore::new(RUN_QUEUE_BYTES))
}

/// Where a run id leads.
#[derive(Clone)]
struct Route {
    tx: RunSender,
    /// The id agents should use now; false for an earlier id of the same
    /// application (an alias), kept so Transactions still carrying it
    /// are not lost.
    current: bool,
}

/// Live runs by agent run id. Several ids can lead to one task: the
/// current one and earlier ones agents may still be using.
#[derive(Clone, Default)]
pub struct Runs(Arc<DashMap<Arc<str>, Route>>);

impl Runs {
    /// The queue of run `id`, if it is live (current or an alias).
    pub fn get(&self, id: &str) -> Option<RunSender> {
        self.0.get(id).map(|r| r.value().tx.clone())
    }

    /// True if `id` leads to a live run.
    pub fn contains(&self, id: &str) -> bool {
        self.0.contains_key(id)
    }

    /// True if `id` is some application's current run id.
    pub fn is_current(&self, id: &str) -> bool {
        self.0.get(id).is_some_and(|r| r.current)
    }

    /// Makes `id` the current run id of the task behind `tx`.
    pub fn insert(&self, id: Arc<str>, tx: RunSender) {
        self.0.insert(id, Route { tx, current: true });
    }

    /// Routes an earlier (or an agent's stale) id to the task behind `tx`.
    pub fn insert_alias(&self, id: Arc<str>, tx: RunSender) {
        self.0.insert(id, Route { tx, current: false });
    }

    /// Turns the current id `id` into an alias.
    pub fn demote(&self, id: &str) {
        if let Some(mut r) = self.0.get_mut(id) {
            r.current = false;
        }
    }

    /// Forgets a run id; later Transactions carrying it are dropped.
    pub fn remove(&self, id: &str) {
        self.0.remove(id);
    }

    /// Number of run ids routed.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when no run is live.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn large_transactions_wait_for_queue_bytes() {
        let (tx, mut rx) = mpsc::channel(100);
        let budget = queue_budget();
        let sender = RunSender::new(tx, Arc::clone(&budget), next_task_id());
        let origin = Arc::new(Origin::default());
        let big = Bytes::from(vec![0u8; RUN_QUEUE_BYTES / 2 + 1]);
        sender
            .transaction(big.clone(), Arc::clone(&origin))
            .await
            .unwrap();
        // The second does not fit while the first is queued.
        let second = sender.transaction(big.clone(), Arc::clone(&origin));
        tokio::pin!(second);
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(50), &mut second)
                .await
                .is_err()
        );
        // Once the run has merged (dropped) the first, it goes through.
        drop(rx.recv().await);
        second.await.unwrap();
        // A body above the whole budget still fits alone.
        drop(rx.recv().await);
        let huge = Bytes::from(vec![0u8; RUN_QUEUE_BYTES + 1]);
        sender.transaction(huge, Arc::clone(&origin)).await.unwrap();
        assert_eq!(budget.available_permits(), 0);
        // A closed budget (the run ended) refuses at once.
        budget.close();
        assert_eq!(
            sender.transaction(Bytes::from_static(b"x"), origin).await,
            Err(RunClosed)
        );
    }
}
