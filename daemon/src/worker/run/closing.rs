//! The end of a run: the final harvest at shutdown, and what happens to
//! the data a run still holds when it ends (expiry, restart, disconnect).

use super::batch::{build_payload, default_batches, Batch, Sent};
use super::cycle::Cycle;
use super::replay::replay;
use super::Run;
use crate::worker::registry::RunEnd;
use crate::worker::runs::RunMsg;
use crate::worker::spool::SpoolHandle;
use seraph_harvest::EventKind;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::mpsc;
use tokio::time::Instant;

impl Run {
    /// After the task ended (expiry, 410, a refused license): New Relic's
    /// daemon discards what the run still holds. With a disk spool, after
    /// an expiry, that data (what the harvest holds, Transactions still
    /// queued, and the posts in flight that fail) is written to the spool
    /// instead, and the application's next run replays it.
    pub(super) async fn close(
        &mut self,
        end: RunEnd,
        mut rx: mpsc::Receiver<RunMsg>,
        mut done_rx: mpsc::Receiver<Sent>,
    ) {
        // Connections still holding this run's sender get an error (and
        // count the Transaction as for an unknown run) instead of waiting
        // on a queue nobody reads.
        rx.close();
        self.budget.close();
        let keep = end == RunEnd::Expired && self.settings.spool.is_some();
        let mut finals = Vec::new();
        while let Some(msg) = rx.recv().await {
            match msg {
                RunMsg::Transaction(body, origin, _queued) if keep => self.merge(&body, &origin),
                RunMsg::Transaction(..) => {
                    self.stats
                        .transactions_unknown_run
                        .fetch_add(1, Ordering::Relaxed);
                }
                RunMsg::FinalHarvest(_, done) | RunMsg::Flush(_, done) => finals.push(done),
                RunMsg::Connected(_) | RunMsg::End(_) => {}
            }
        }
        if keep {
            if let Some(spool) = self.settings.spool.clone() {
                self.final_mode = true;
                self.settle(&mut done_rx, Instant::now() + CLOSE_DEADLINE)
                    .await;
                let s = Arc::clone(&self.settings);
                let batches = if self.harvest.is_empty() {
                    Vec::new()
                } else {
                    self.take_everything()
                };
                let payloads = batches.len() + self.spool_writes.len();
                for batch in batches {
                    let method = batch.method();
                    match build_payload(&s, batch).await.1 {
                        Ok(body) => spool.push(&s.app, method, body).await,
                        Err(e) => tracing::error!(error = %e, "cannot build a payload to spool"),
                    }
                }
                for task in self.spool_writes.drain(..) {
                    let _ = task.await;
                }
                if payloads > 0 {
                    tracing::info!(
                        run_id = %s.run_id,
                        ?end,
                        payloads,
                        "run ended: its unsent data went to the disk spool for the next run"
                    );
                }
            }
        }
        for done in finals {
            let _ = done.send(());
        }
    }

    /// Posts everything the run holds and waits for the results, before
    /// `deadline` (at most [`FINAL_HARVEST_DEADLINE`] from now): first
    /// whatever is in flight, then events and the non-metric default data,
    /// then the metrics with their supportability counts. With a spool the
    /// payloads are written there first.
    ///
    /// A shutdown does this twice (`docs/daemon.md` §8). First as the
    /// flush (`last` false), while agents are still served, so the slow
    /// part (building, compressing, writing and posting everything a
    /// harvest period or an outage left) does not keep agents from a
    /// daemon; without a spool, what the collector could not take is
    /// merged back for the second time. Then (`last` true), once agent
    /// connections are closed, for what arrived meanwhile: usually
    /// little, so agents are without a daemon only briefly.
    pub(super) async fn final_harvest(
        &mut self,
        done_rx: &mut mpsc::Receiver<Sent>,
        deadline: Instant,
        last: bool,
    ) {
        let deadline = deadline.min(Instant::now() + FINAL_HARVEST_DEADLINE);
        if !self.live() && (self.settings.spool.is_none() || self.harvest.is_empty()) {
            if last && !self.harvest.is_empty() {
                tracing::warn!(
                    run_id = %self.settings.run_id,
                    "shutting down while the application is not connected and there is no disk spool: its data is lost"
                );
            }
            return;
        }
        if last && self.flushed && self.harvest.is_empty() && self.in_flight == 0 {
            // Nothing arrived since the flush.
            return;
        }
        match self.settings.spool.clone() {
            Some(spool) => {
                self.final_mode = true;
                self.final_harvest_via_spool(done_rx, &spool, deadline)
                    .await
            }
            None => self.final_harvest_posts(done_rx, deadline, last).await,
        }
        for task in self.spool_writes.drain(..) {
            let _ = task.await;
        }
        if !last {
            self.final_mode = false;
        }
    }

    /// With a disk spool the final harvest is written ahead: every payload
    /// goes to the spool first, then the spool is replayed until the
    /// deadline. Whatever the collector has not acknowledged by then is
    /// still on disk and is delivered after the next start, however slow
    /// the collector is now. After a flush whose replay stopped short, the
    /// final harvest only writes.
    pub(super) async fn final_harvest_via_spool(
        &mut self,
        done_rx: &mut mpsc::Receiver<Sent>,
        spool: &SpoolHandle,
        deadline: Instant,
    ) {
        // Posts already in flight report back first; those the collector
        // sits on are cancelled. Failures are spooled.
        self.settle(done_rx, deadline).await;
        let batches = self.take_everything();
        let s = Arc::clone(&self.settings);
        for batch in batches {
            let method = batch.method();
            match build_payload(&s, batch).await.1 {
                Ok(body) => spool.push(&s.app, method, body).await,
                Err(e) => tracing::error!(error = %e, "cannot build a final payload"),
            }
        }
        if !self.replay_all {
            // The flush's replay, a moment ago, was not taken: with the
            // collector away, trying again only keeps agents waiting for
            // a daemon. The next run delivers it.
            tracing::info!(
                "the collector did not take the flush; what came since stays in the disk spool for the next run"
            );
            return;
        }
        let replayed = tokio::time::timeout_at(deadline, replay(&s, spool, &self.stats)).await;
        if replayed.is_err() {
            tracing::warn!(
                "collector too slow for the final harvest; the rest stays in the disk spool"
            );
        }
        self.replay_all = replayed.unwrap_or(false);
    }

    /// Without a spool: the final posts. In the shutdown's flush (`last`
    /// false) a post that fails retryably merges its data back, for the
    /// final harvest to carry; in the final harvest there is no later
    /// chance and it is dropped.
    pub(super) async fn final_harvest_posts(
        &mut self,
        done_rx: &mut mpsc::Receiver<Sent>,
        deadline: Instant,
        last: bool,
    ) {
        // Posts cancelled while settling merge their data back, so the final
        // posts below carry it; after those there is no later harvest.
        let settled = self.settle(done_rx, deadline).await;
        self.final_mode = last;
        if !settled {
            return;
        }
        // The last chance to post: a pending Retry-After is not waited out.
        let mut batches: Vec<Batch> = EventKind::ALL
            .into_iter()
            .flat_map(|kind| self.event_batches(kind))
            .collect();
        let data = self.harvest.take_default_data(SystemTime::now());
        let (metrics, distinct_pids, others) = default_batches(data);
        batches.extend(others);
        for batch in batches {
            self.send(batch, false, 0);
        }
        if !self.drain(done_rx, deadline).await {
            return;
        }
        self.cycle = Some(Cycle {
            metrics,
            distinct_pids,
            outstanding: 0,
        });
        self.maybe_send_metrics();
        self.drain(done_rx, deadline).await;
    }

    /// Lets the posts in flight finish for at most [`SETTLE_GRACE`], then
    /// cancels the rest: their data comes back as undelivered (spooled in
    /// final mode) instead of being lost with the task. False if the run
    /// must end first.
    pub(super) async fn settle(
        &mut self,
        done_rx: &mut mpsc::Receiver<Sent>,
        deadline: Instant,
    ) -> bool {
        let grace = (Instant::now() + SETTLE_GRACE).min(deadline);
        if self.drain(done_rx, grace).await {
            return true;
        }
        if self.in_flight > 0 {
            tracing::warn!(
                posts = self.in_flight,
                "collector still busy with earlier posts; cancelling them"
            );
        }
        // `send_replace`: `send` leaves the value alone when no receiver
        // is left, and the reset below must happen regardless.
        self.cancel.send_replace(true);
        let settled = self.drain(done_rx, deadline).await;
        // Posts started from now on (the final ones) must go out.
        self.cancel.send_replace(false);
        settled
    }

    /// Waits for every in-flight send. False if the run must end (or the
    /// deadline passed) first.
    pub(super) async fn drain(
        &mut self,
        done_rx: &mut mpsc::Receiver<Sent>,
        deadline: Instant,
    ) -> bool {
        while self.in_flight > 0 {
            match tokio::time::timeout_at(deadline, done_rx.recv()).await {
                Ok(Some(sent)) => {
                    if self.sent(sent).is_some() {
                        return false;
                    }
                }
                Ok(None) | Err(_) => return false,
            }
        }
        true
    }
}

/// At shutdown, how long posts already in flight may still finish before
/// they are cancelled and their data spooled (or, without a spool, given
/// up) so the final posts can start.
const SETTLE_GRACE: Duration = Duration::from_secs(5);

/// After a run ended, how long its posts in flight and its spool writes may
/// take.
pub(super) const CLOSE_DEADLINE: Duration = Duration::from_secs(30);

/// How long each of SIGTERM's two harvests (the flush and the final
/// harvest) may take per run, at most.
const FINAL_HARVEST_DEADLINE: Duration = Duration::from_secs(30);
