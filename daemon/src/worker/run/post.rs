//! Posting a batch and applying the collector's answer: success,
//! merge-back or spool on a retryable failure, splitting on 413, standby
//! until a reconnect on 401/409, the end on 410.

use super::batch::{build_payload, not_sent, Batch, Post, Sent};
use super::Run;
use crate::loglimit::{LogLimit, EVERY_MINUTE};
use crate::worker::registry::RunEnd;
use seraph_collector::status_message;
use seraph_collector::{DiscardReason, Method, Outcome};
use seraph_harvest::{CallOutcome, EventKind, FAILED_EVENT_ATTEMPTS_LIMIT};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

impl Run {
    pub(super) fn send(&mut self, batch: Batch, in_cycle: bool, splits: u8) {
        let method = batch.method();
        self.in_flight += 1;
        self.in_flight_by[method as usize] += 1;
        if in_cycle {
            if let Some(cycle) = &mut self.cycle {
                cycle.outstanding += 1;
            }
        }
        let settings = Arc::clone(&self.settings);
        let done = self.done_tx.clone();
        let mut cancel = self.cancel.subscribe();
        tokio::spawn(async move {
            let (batch, built) = build_payload(&settings, batch).await;
            let post = Post {
                batch,
                in_cycle,
                splits,
                run_id: Arc::clone(&settings.run_id),
            };
            let response = match (built, &settings.endpoint) {
                (_, None) => not_sent(method, DiscardReason::Timeout("not connected")),
                (Ok(body), Some(endpoint)) => {
                    let call = settings.client.invoke(endpoint, method, &body);
                    tokio::select! {
                        r = call => r,
                        _ = cancel.wait_for(|c| *c) => not_sent(method, DiscardReason::Timeout("cancelled: the run is closing")),
                    }
                }
                (Err(e), Some(_)) => {
                    tracing::error!(method = %method, error = %e, "cannot build payload; dropping it");
                    not_sent(method, DiscardReason::BadResponse(e.to_string()))
                }
            };
            if response.outcome.is_success() {
                settings.health.answered();
            }
            let _ = done.send(Sent { post, response }).await;
        });
    }

    /// Applies a finished send. Returns why the run must end, if it must.
    pub(super) fn sent(&mut self, sent: Sent) -> Option<RunEnd> {
        let Sent { post, response } = sent;
        let Post {
            batch,
            in_cycle,
            splits,
            run_id,
        } = post;
        // An answer about a run this task has since left (posts in flight
        // across a reconnect) changes nothing but where the data goes.
        let current = run_id == self.settings.run_id;
        let method = batch.method();
        self.in_flight = self.in_flight.saturating_sub(1);
        let slot = &mut self.in_flight_by[method as usize];
        *slot = slot.saturating_sub(1);
        let stats = &response.stats;
        if stats.sent {
            self.tracker.record_call(
                method.as_str(),
                CallOutcome::from_status(stats.status, response.outcome.is_success()),
                stats.request_bytes,
                stats.response_bytes,
            );
        }
        let too_large = matches!(
            response.outcome,
            Outcome::Discard(DiscardReason::Status(413) | DiscardReason::PayloadTooLarge { .. })
        );
        let events = match &batch {
            Batch::Events(kind, reservoir) => Some((*kind, reservoir)),
            Batch::Logs(reservoir, _) => Some((EventKind::Log, reservoir)),
            _ => None,
        };
        if let Some((kind, reservoir)) = events.filter(|_| !too_large) {
            // Split payloads report their events through the halves.
            let sent_count = if response.outcome.is_success() {
                reservoir.len() as u64
            } else {
                0
            };
            self.tracker.record_event_send(
                kind,
                reservoir.seen(),
                sent_count,
                reservoir.failed_harvests(),
            );
        }
        let status = response.stats.status;
        let end = match response.outcome {
            Outcome::Success(_) => None,
            Outcome::MergeBack { retry_after } => {
                crate::limited!(
                    COLLECTOR_BUSY,
                    warn,
                    method = %method,
                    status,
                    ?retry_after,
                    "collector answered {status} ({}); keeping the data for the next harvest",
                    status_message(status)
                );
                if let Some(wait) = retry_after {
                    self.hold_off(method, wait);
                }
                self.merge_back(batch);
                None
            }
            // The collector could not be reached at all: unlike New Relic's
            // daemon, keep the data as for a retryable status.
            Outcome::Discard(
                reason @ (DiscardReason::Transport(_) | DiscardReason::Timeout(_)),
            ) => {
                crate::limited!(
                    COLLECTOR_UNREACHABLE,
                    warn,
                    method = %method,
                    %reason,
                    "collector unreachable; keeping the data for the next harvest"
                );
                self.merge_back(batch);
                None
            }
            Outcome::Discard(reason) if too_large => {
                self.split_or_drop(batch, in_cycle, splits, &reason);
                None
            }
            Outcome::Discard(reason) => {
                crate::limited!(POST_REFUSED, warn, method = %method, %reason, "harvest post failed; its data is dropped");
                None
            }
            Outcome::Disconnect if current => {
                tracing::error!(method = %method, run_id = %run_id, "collector disconnected the application (410)");
                Some(RunEnd::Disconnected)
            }
            Outcome::LicenseInvalid | Outcome::Restart | Outcome::Disconnect => {
                // Not delivered: kept with the rest of the application's
                // data, posted once the registry has reconnected it.
                self.merge_back(batch);
                if current && !self.awaiting_reconnect {
                    tracing::warn!(method = %method, run_id = %run_id, status, "collector asked for a reconnect; keeping the data meanwhile");
                    self.awaiting_reconnect = true;
                    let registry = self.registry.clone();
                    let app = Arc::clone(&self.settings.app);
                    let task = self.task;
                    tokio::spawn(async move { registry.needs_reconnect(app, task).await });
                }
                None
            }
        };
        if in_cycle {
            if let Some(cycle) = &mut self.cycle {
                cycle.outstanding = cycle.outstanding.saturating_sub(1);
            }
        }
        if end.is_none() {
            self.maybe_send_metrics();
        }
        end
    }

    /// Honours a `Retry-After`: no post of `method` before it has passed
    /// (capped at [`MAX_RETRY_AFTER`]).
    pub(super) fn hold_off(&mut self, method: Method, wait: Duration) {
        if wait > MAX_RETRY_AFTER {
            tracing::warn!(method = %method, retry_after = ?wait, cap = ?MAX_RETRY_AFTER, "collector asked to wait too long; waiting the cap");
        }
        let until = Instant::now() + wait.min(MAX_RETRY_AFTER);
        let slot = &mut self.not_before[method as usize];
        *slot = Some(slot.map_or(until, |t| t.max(until)));
    }

    /// A payload the collector refused as too large (413, or over
    /// `max_payload_size_in_bytes` before sending): posted again as two
    /// halves, and once more halved if a half is refused too; after that
    /// the data is dropped (`docs/daemon.md` §13). New Relic's daemon drops it at once.
    pub(super) fn split_or_drop(
        &mut self,
        batch: Batch,
        in_cycle: bool,
        splits: u8,
        reason: &DiscardReason,
    ) {
        let method = batch.method();
        if splits >= MAX_SPLITS {
            tracing::warn!(method = %method, %reason, splits, "payload still too large after splitting; its data is dropped");
            return;
        }
        let mut batch = batch;
        match batch.split_off_half() {
            Some(other) => {
                tracing::warn!(method = %method, %reason, "payload too large; posting it in two halves");
                self.send(batch, in_cycle, splits + 1);
                self.send(other, in_cycle, splits + 1);
            }
            None => {
                tracing::warn!(method = %method, %reason, "payload too large and cannot be split; its data is dropped");
            }
        }
    }

    /// Keeps a batch whose post can be retried. Metrics are merged back
    /// into the harvest however long the collector stays away (New Relic's
    /// daemon drops them after 5 failed posts): a table is bounded, so an
    /// outage costs no metric data. Events are re-sampled into the current
    /// reservoir; with a disk spool, past New Relic's budget of 10 failed
    /// posts they go to the spool instead, so none are sampled away. Error
    /// traces, slow SQL, traces and packages (never retried by New Relic)
    /// and everything the final harvest could not deliver go to the spool
    /// when there is one, and are dropped otherwise.
    pub(super) fn merge_back(&mut self, batch: Batch) {
        let spooled = self.settings.spool.is_some();
        let keep_events = |r: &seraph_harvest::EventReservoir| {
            !spooled || r.failed_harvests() < FAILED_EVENT_ATTEMPTS_LIMIT
        };
        let batch = match batch {
            Batch::Metrics(table) if !self.final_mode => {
                self.harvest.retain_failed_metrics(table);
                return;
            }
            Batch::Logs(reservoir, _) if !self.final_mode && keep_events(&reservoir) => {
                self.harvest.retain_failed_events(EventKind::Log, reservoir);
                return;
            }
            Batch::Events(kind, reservoir) if !self.final_mode && keep_events(&reservoir) => {
                self.harvest.retain_failed_events(kind, reservoir);
                return;
            }
            other => other,
        };
        let method = batch.method();
        let Some(spool) = self.settings.spool.clone() else {
            if self.final_mode {
                crate::limited!(NOT_KEPT, warn, method = %method, "the final harvest could not deliver this data and there is no disk spool: dropped");
            } else {
                crate::limited!(NOT_KEPT, warn, method = %method, "not delivered and never retried without a disk spool (as in New Relic's daemon): dropped");
            }
            return;
        };
        let settings = Arc::clone(&self.settings);
        let task = tokio::spawn(async move {
            match build_payload(&settings, batch).await.1 {
                Ok(body) => spool.push(&settings.app, method, body).await,
                Err(e) => tracing::error!(error = %e, "cannot build a payload to spool"),
            }
        });
        if self.final_mode {
            self.spool_writes.push(task);
        }
    }
}

/// How many times a payload refused as too large is halved (`docs/daemon.md` §13: split,
/// split once more, then drop).
const MAX_SPLITS: u8 = 2;

/// Longest `Retry-After` honoured: a larger value (or a date far ahead)
/// would stop a data type for good while its reservoir keeps discarding.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// Posts the collector answered with a retryable status (408/429/500/503).
static COLLECTOR_BUSY: LogLimit = LogLimit::new(EVERY_MINUTE);
/// Posts that did not reach the collector (refused, reset, timed out).
static COLLECTOR_UNREACHABLE: LogLimit = LogLimit::new(EVERY_MINUTE);
/// Posts refused for good (other statuses, exceptions).
static POST_REFUSED: LogLimit = LogLimit::new(EVERY_MINUTE);
/// Undelivered data that could not be kept.
static NOT_KEPT: LogLimit = LogLimit::new(EVERY_MINUTE);
