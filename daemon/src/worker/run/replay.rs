//! Replaying an application's spooled payloads with the current run id.

use super::{Run, RunSettings};
use crate::loglimit::{LogLimit, EVERY_MINUTE};
use crate::worker::spool::{self, SpoolHandle};
use crate::worker::stats::WorkerStats;
use seraph_collector::{DiscardReason, Method, Outcome};
use std::sync::atomic::Ordering;
use std::sync::Arc;

impl Run {
    /// Starts replaying this application's spooled payloads, unless a
    /// replay is already running or nothing is waiting.
    pub(super) fn maybe_replay(&mut self) {
        let Some(spool) = self.settings.spool.clone() else {
            return;
        };
        if !spool.has_pending(&self.settings.app) || self.replaying.swap(true, Ordering::AcqRel) {
            return;
        }
        let settings = Arc::clone(&self.settings);
        let replaying = Arc::clone(&self.replaying);
        let stats = Arc::clone(&self.stats);
        tokio::spawn(async move {
            replay(&settings, &spool, &stats).await;
            replaying.store(false, Ordering::Release);
        });
    }
}

/// Sends this application's spooled payloads with the current run id,
/// oldest first, a few at a time; stops at the first failure that means
/// "not now" and leaves the rest for a later harvest. True when nothing of
/// the application is left in the spool.
pub(super) async fn replay(
    settings: &RunSettings,
    spool: &SpoolHandle,
    stats: &WorkerStats,
) -> bool {
    let app = &settings.app;
    let Some(endpoint) = &settings.endpoint else {
        return false;
    };
    loop {
        let records = spool.take(app, REPLAY_BATCH).await;
        if records.is_empty() {
            return true;
        }
        let mut done = Vec::new();
        let mut retry = Vec::new();
        let mut stop = false;
        for record in records {
            if stop {
                retry.push(record.id);
                continue;
            }
            let method = match record.method.parse::<Method>() {
                Ok(m) => m,
                Err(_) => {
                    tracing::warn!(method = %record.method, "dropping a spooled payload of an unknown method");
                    stats.spool_dropped.fetch_add(1, Ordering::Relaxed);
                    done.push(record.id);
                    continue;
                }
            };
            let rewritten =
                spool::with_run_id_off_runtime(method, record.body, Arc::clone(&settings.run_id))
                    .await;
            let Some(body) = rewritten else {
                tracing::warn!(method = %method, "dropping an unreadable spooled payload");
                stats.spool_dropped.fetch_add(1, Ordering::Relaxed);
                done.push(record.id);
                continue;
            };
            let response = settings.client.invoke(endpoint, method, &body).await;
            match response.outcome {
                Outcome::Success(_) => {
                    stats.spool_replayed.fetch_add(1, Ordering::Relaxed);
                    done.push(record.id);
                }
                Outcome::MergeBack { .. }
                | Outcome::Discard(DiscardReason::Transport(_) | DiscardReason::Timeout(_))
                | Outcome::Disconnect
                | Outcome::LicenseInvalid
                | Outcome::Restart => {
                    retry.push(record.id);
                    stop = true;
                }
                Outcome::Discard(reason) => {
                    crate::limited!(REPLAY_REFUSED, warn, method = %method, %reason, "collector refused a spooled payload; dropping it");
                    stats.spool_dropped.fetch_add(1, Ordering::Relaxed);
                    done.push(record.id);
                }
            }
        }
        if !done.is_empty() {
            tracing::info!(
                payloads = done.len(),
                "replayed payloads from the disk spool"
            );
            spool.ack(app, done).await;
        }
        if !retry.is_empty() {
            spool.nack(app, retry).await;
        }
        if stop {
            return false;
        }
    }
}

/// Spooled payloads taken per replay step.
const REPLAY_BATCH: usize = 16;

/// Spooled payloads the collector refused for good.
static REPLAY_REFUSED: LogLimit = LogLimit::new(EVERY_MINUTE);
