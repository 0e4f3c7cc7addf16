//! The task that owns one connected application run.
//!
//! Everything about a run's data lives here and nowhere else: the task
//! merges each Transaction into its [`Harvest`], and on each harvest tick
//! swaps the due parts out and hands them to send tasks, so merging never
//! waits on the network. Send tasks report back with the data they carried,
//! which is merged back when the collector asked for a retry (§4.6), and
//! with their call numbers for the supportability metrics (§4.9). Metrics
//! are posted last in each cycle, once the other payloads of that cycle have
//! finished, because their supportability counts describe those calls.
//!
//! What a sick collector can make the run hold is bounded: at most one post
//! per method is in flight (two halves for split payloads), a harvest whose
//! previous post has not come back, or that the collector asked to wait
//! (`Retry-After`), is skipped and its data keeps aggregating in the
//! harvest, whose reservoirs and tables are bounded.

use super::registry::{AppKey, RegistryHandle, RunEnd};
use super::runs::{self, Origin, RunMsg, RunSender};
use super::spool::{self, SpoolHandle};
use super::stats::{Reported, WorkerStats};
use bytes::Bytes;
use seraph_collector::{
    CallStats, CollectorClient, DiscardReason, Endpoint, Method, Outcome, Response,
};
use seraph_config::IntegrationFormat;
use seraph_harvest::{
    payload, BlobEncoding, CallOutcome, DefaultData, ErrorTraces, EventKind, EventReservoir,
    Harvest, HarvestLimits, LogLabels, MetricRules, MetricTable, PhpPackage, SlowSqls,
    SupportabilityTracker, SystemCertificates, Traces, FAILED_EVENT_ATTEMPTS_LIMIT,
    FAILED_METRIC_ATTEMPTS_LIMIT,
};
use seraph_wire::message::{decode, Body};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// Depth of a run's Transaction queue. Connection tasks wait when it is
/// full, which slows only the agents of this application.
pub const RUN_QUEUE: usize = 10_000;

/// Everything a run needs, fixed at connect time.
pub struct RunSettings {
    /// The application's identity in the registry.
    pub key: AppKey,
    /// The agent run id.
    pub run_id: Arc<str>,
    /// Where this run's harvest calls go.
    pub endpoint: Endpoint,
    /// The collector client.
    pub client: CollectorClient,
    /// Reservoir and table limits from the connect reply.
    pub limits: HarvestLimits,
    /// `metric_name_rules` from the connect reply.
    pub rules: Arc<MetricRules>,
    /// Period of default data (metrics, errors, slow SQL, traces).
    pub default_period: Duration,
    /// Period of each event type, in [`EventKind::ALL`] order.
    pub event_periods: [Duration; 5],
    /// `event_harvest_config.report_period_ms`, reported in a metric.
    pub report_period: Duration,
    /// Forget the run after this long without activity (`None`: never).
    pub app_timeout: Option<Duration>,
    /// Transaction events are split in two posts above 5 000 when
    /// distributed tracing is on (§4.1).
    pub distributed_tracing: bool,
    /// `php` for PHP agents: names the `Output/Bytes` metrics.
    pub agent_language: String,
    /// Whether system roots are in use (a supportability metric).
    pub certificates: SystemCertificates,
    /// `--integration`: also log every transaction's own payloads.
    pub integration: Option<IntegrationFormat>,
    /// The disk spool, when `spool_dir` is set.
    pub spool: Option<SpoolHandle>,
    /// This application's opaque id in the spool.
    pub spool_app: String,
}

/// Starts the task for a freshly connected run.
pub fn spawn(
    settings: RunSettings,
    activity: Arc<AtomicU64>,
    registry: RegistryHandle,
    stats: Arc<WorkerStats>,
) -> RunSender {
    let (tx, rx) = mpsc::channel(RUN_QUEUE);
    let budget = runs::queue_budget();
    let (done_tx, done_rx) = mpsc::channel(64);
    let tracker = SupportabilityTracker::new(&settings.agent_language, settings.certificates);
    let run = Run {
        harvest: Harvest::new(settings.limits, SystemTime::now()),
        settings: Arc::new(settings),
        activity,
        registry,
        stats,
        tracker,
        done_tx,
        in_flight: 0,
        in_flight_by: [0; METHODS],
        not_before: [None; METHODS],
        cycle: None,
        scratch: Vec::new(),
        spool_writes: Vec::new(),
        final_mode: false,
        replaying: Arc::new(AtomicBool::new(false)),
        cancel: watch::channel(false).0,
        budget: Arc::clone(&budget),
        reported: Reported::default(),
    };
    tokio::spawn(run.run(rx, done_rx));
    RunSender::new(tx, budget)
}

/// Data taken out of the harvest and on its way to the collector; it comes
/// back with the result so it can be merged back.
enum Batch {
    Metrics(MetricTable),
    Events(EventKind, EventReservoir),
    Logs(EventReservoir, LogLabels),
    Errors(ErrorTraces),
    SlowSqls(SlowSqls),
    Traces(Traces),
    Packages(Vec<PhpPackage>),
}

impl Batch {
    fn method(&self) -> Method {
        match self {
            Batch::Metrics(_) => Method::MetricData,
            Batch::Events(kind, _) => event_method(*kind),
            Batch::Logs(..) => Method::LogEventData,
            Batch::Errors(_) => Method::ErrorData,
            Batch::SlowSqls(_) => Method::SqlTraceData,
            Batch::Traces(_) => Method::TransactionSampleData,
            Batch::Packages(_) => Method::UpdateLoadedModules,
        }
    }

    /// Moves about half of the data into a new batch, for a payload the
    /// collector refused as too large. `None` when it cannot be split
    /// (fewer than two items; traces and packages are never split).
    fn split_off_half(&mut self) -> Option<Batch> {
        Some(match self {
            Batch::Metrics(t) => Batch::Metrics(t.split_off_half()?),
            Batch::Events(kind, r) => Batch::Events(*kind, r.split_off_half()?),
            Batch::Logs(r, labels) => Batch::Logs(r.split_off_half()?, labels.clone()),
            Batch::Errors(e) => Batch::Errors(e.split_off_half()?),
            Batch::SlowSqls(s) => Batch::SlowSqls(s.split_off_half()?),
            Batch::Traces(_) | Batch::Packages(_) => return None,
        })
    }
}

fn event_method(kind: EventKind) -> Method {
    match kind {
        EventKind::Transaction => Method::AnalyticEventData,
        EventKind::Custom => Method::CustomEventData,
        EventKind::Error => Method::ErrorEventData,
        EventKind::Span => Method::SpanEventData,
        EventKind::Log => Method::LogEventData,
    }
}

/// Number of collector methods, for per-method state.
const METHODS: usize = Method::ALL.len();

/// A batch on its way, with what the run needs to know when it comes back.
struct Post {
    batch: Batch,
    /// Part of the current default-data cycle (metrics wait for these).
    in_cycle: bool,
    /// How many times this data was already halved after a 413.
    splits: u8,
}

/// A finished send.
struct Sent {
    post: Post,
    response: Response,
}

/// A default-data cycle waiting for its non-metric posts to finish.
struct Cycle {
    metrics: MetricTable,
    distinct_pids: usize,
    outstanding: usize,
}

struct Run {
    settings: Arc<RunSettings>,
    harvest: Harvest,
    activity: Arc<AtomicU64>,
    registry: RegistryHandle,
    stats: Arc<WorkerStats>,
    tracker: SupportabilityTracker,
    done_tx: mpsc::Sender<Sent>,
    /// Sends not yet reported back.
    in_flight: usize,
    /// The same, per method (indexed by `Method as usize`).
    in_flight_by: [usize; METHODS],
    /// Per method: no post before this instant (the collector's
    /// `Retry-After`).
    not_before: [Option<Instant>; METHODS],
    cycle: Option<Cycle>,
    scratch: Vec<u8>,
    /// Spool writes started during the final harvest, awaited before exit.
    spool_writes: Vec<tokio::task::JoinHandle<()>>,
    /// Set during the final harvest: nothing can be retried later, so
    /// undelivered data goes to the disk spool.
    final_mode: bool,
    /// A replay of spooled data is running.
    replaying: Arc<AtomicBool>,
    /// Set to true to make every send still waiting on the collector give
    /// up and return its data (at shutdown).
    cancel: watch::Sender<bool>,
    /// The byte budget of the queue; closed when the run ends.
    budget: Arc<tokio::sync::Semaphore>,
    /// The daemon's trouble counters as this run last reported them.
    reported: Reported,
}

impl Run {
    async fn run(mut self, mut rx: mpsc::Receiver<RunMsg>, mut done_rx: mpsc::Receiver<Sent>) {
        let s = Arc::clone(&self.settings);
        let mut schedule = Schedule::new(s.default_period, s.event_periods, Instant::now());
        let sleep = tokio::time::sleep_until(schedule.next());
        tokio::pin!(sleep);
        let mut batch = Vec::with_capacity(256);
        tracing::debug!(run_id = %s.run_id, default_period = ?s.default_period, "run started");
        let end = 'run: loop {
            tokio::select! {
                n = rx.recv_many(&mut batch, 256) => {
                    if n == 0 {
                        return;
                    }
                    for msg in batch.drain(..) {
                        match msg {
                            RunMsg::Transaction(body, origin, _queued) => {
                                self.merge(&body, &origin);
                            }
                            RunMsg::FinalHarvest(done) => {
                                self.final_harvest(&mut done_rx).await;
                                let _ = done.send(());
                                return;
                            }
                        }
                    }
                }
                () = &mut sleep => {
                    for due in schedule.take_due(Instant::now()) {
                        if self.expired() {
                            break 'run RunEnd::Expired;
                        }
                        match due {
                            Due::Default => {
                                self.harvest_default();
                                self.maybe_replay();
                            }
                            Due::Events(kind) => {
                                self.harvest_events(kind);
                            }
                        }
                    }
                    sleep.as_mut().reset(schedule.next());
                }
                Some(sent) = done_rx.recv() => {
                    if let Some(end) = self.sent(sent) {
                        break end;
                    }
                }
            }
        };
        tracing::debug!(run_id = %s.run_id, ?end, "run ended");
        self.registry
            .run_ended(s.key.clone(), Arc::clone(&s.run_id), end)
            .await;
        self.close(end, rx, done_rx).await;
    }

    /// After the run ended (expiry, restart, disconnect): New Relic's
    /// daemon discards what the run still holds. With a disk spool, unless
    /// the collector disconnected the application, that data (what the
    /// harvest holds, Transactions still queued, and the posts in flight
    /// that fail) is written to the spool instead, and the application's
    /// next run replays it.
    async fn close(
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
        let keep = end != RunEnd::Disconnected && self.settings.spool.is_some();
        let mut finals = Vec::new();
        while let Some(msg) = rx.recv().await {
            match msg {
                RunMsg::Transaction(body, origin, _queued) if keep => self.merge(&body, &origin),
                RunMsg::Transaction(..) => {
                    self.stats
                        .transactions_unknown_run
                        .fetch_add(1, Ordering::Relaxed);
                }
                RunMsg::FinalHarvest(done) => finals.push(done),
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
                    match build_payload(&s, &batch) {
                        Ok(body) => spool.push(&s.spool_app, batch.method(), body).await,
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

    fn merge(&mut self, body: &Bytes, origin: &Origin) {
        self.activity
            .store(self.registry.now_ms(), Ordering::Relaxed);
        match decode(body, &mut self.scratch) {
            Ok(msg) => {
                if let Body::Transaction(txn) = msg.body {
                    self.harvest.add_transaction(txn, body.len());
                    self.stats
                        .transactions_merged
                        .fetch_add(1, Ordering::Relaxed);
                    if let Some(format) = self.settings.integration {
                        log_integration_payloads(&self.settings, format, txn, body.len());
                    }
                }
            }
            // Connections route Transactions on their envelope only: this
            // is where a bad body is found. Its connection is closed.
            Err(e) => {
                tracing::warn!(error = %e, "invalid transaction frame; closing its connection");
                origin.reject();
            }
        }
    }

    fn expired(&self) -> bool {
        let Some(timeout) = self.settings.app_timeout else {
            return false;
        };
        let idle_ms = self
            .registry
            .now_ms()
            .saturating_sub(self.activity.load(Ordering::Relaxed));
        Duration::from_millis(idle_ms) >= timeout
    }

    /// Whether a post of `method` may start now: none in flight, and no
    /// `Retry-After` pending.
    fn may_post(&self, method: Method) -> bool {
        self.in_flight_by[method as usize] == 0
            && self.not_before[method as usize].is_none_or(|t| t <= Instant::now())
    }

    /// Takes and sends metrics, errors, slow SQL, traces and packages. A
    /// part whose previous post is still in flight, or that the collector
    /// asked to wait, stays in the harvest for the next cycle.
    fn harvest_default(&mut self) {
        let mut others = Vec::new();
        if self.may_post(Method::ErrorData) {
            let errors = self.harvest.take_errors();
            if !errors.is_empty() {
                others.push(Batch::Errors(errors));
            }
        }
        if self.may_post(Method::SqlTraceData) {
            let sqls = self.harvest.take_slow_sqls();
            if !sqls.is_empty() {
                others.push(Batch::SlowSqls(sqls));
            }
        }
        if self.may_post(Method::TransactionSampleData) {
            let traces = self.harvest.take_traces();
            if !traces.is_empty() {
                others.push(Batch::Traces(traces));
            }
        }
        if self.may_post(Method::UpdateLoadedModules) {
            let packages = self.harvest.take_php_packages();
            if !packages.is_empty() {
                others.push(Batch::Packages(packages));
            }
        }
        // The previous metrics post has not finished (or must wait): this
        // period's metrics stay in the table (period start, pids and all)
        // for the next cycle rather than posting two at once.
        let with_metrics = self.cycle.is_none() && self.may_post(Method::MetricData);
        if with_metrics {
            let metrics = self.harvest.take_metrics(SystemTime::now());
            let (distinct_pids, _) = self.harvest.take_period_counts();
            self.cycle = Some(Cycle {
                metrics,
                distinct_pids,
                outstanding: 0,
            });
        }
        for batch in others {
            self.send(batch, with_metrics, 0);
        }
        self.maybe_send_metrics();
    }

    /// Takes and sends one event type, unless its previous post is still
    /// in flight or the collector asked to wait: the reservoir then keeps
    /// sampling until the next period.
    fn harvest_events(&mut self, kind: EventKind) {
        if !self.may_post(event_method(kind)) {
            tracing::debug!(method = %event_method(kind), "previous post pending; harvest skipped");
            return;
        }
        for batch in self.event_batches(kind) {
            self.send(batch, false, 0);
        }
    }

    /// Takes one event type's reservoir as the posts it makes: none when
    /// the type is off or saw nothing, two halves for a large transaction
    /// reservoir with distributed tracing (§4.1), labels with log events.
    fn event_batches(&mut self, kind: EventKind) -> Vec<Batch> {
        let reservoir = self.harvest.take_events(kind);
        if reservoir.capacity() == 0 || (reservoir.is_empty() && reservoir.seen() == 0) {
            return Vec::new();
        }
        let parts = if kind == EventKind::Transaction {
            reservoir.split_for_post(self.settings.distributed_tracing)
        } else {
            vec![reservoir]
        };
        parts
            .into_iter()
            .map(|part| {
                if kind == EventKind::Log {
                    Batch::Logs(part, self.harvest.log_labels().clone())
                } else {
                    Batch::Events(kind, part)
                }
            })
            .collect()
    }

    /// Everything the harvest holds, as the posts it makes, metrics (with
    /// the cycle's supportability metrics) last.
    fn take_everything(&mut self) -> Vec<Batch> {
        let mut batches: Vec<Batch> = EventKind::ALL
            .into_iter()
            .flat_map(|kind| self.event_batches(kind))
            .collect();
        let data = self.harvest.take_default_data(SystemTime::now());
        let (mut metrics, distinct_pids, others) = default_batches(data);
        batches.extend(others);
        self.close_cycle(&mut metrics, distinct_pids);
        batches.push(Batch::Metrics(metrics));
        batches
    }

    /// Completes a cycle's metrics before they are posted: the
    /// supportability metrics of §4.9 and the daemon's own health.
    fn close_cycle(&mut self, metrics: &mut MetricTable, distinct_pids: usize) {
        let s = &self.settings;
        self.tracker
            .append_cycle(metrics, distinct_pids, s.report_period, &s.limits);
        self.stats.append_metrics(metrics, &mut self.reported);
    }

    fn maybe_send_metrics(&mut self) {
        let Some(cycle) = &self.cycle else { return };
        if cycle.outstanding > 0 || self.in_flight_by[Method::MetricData as usize] > 0 {
            return;
        }
        let Some(mut cycle) = self.cycle.take() else {
            return;
        };
        self.close_cycle(&mut cycle.metrics, cycle.distinct_pids);
        self.send(Batch::Metrics(cycle.metrics), false, 0);
    }

    fn send(&mut self, batch: Batch, in_cycle: bool, splits: u8) {
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
            let post = Post {
                batch,
                in_cycle,
                splits,
            };
            let response = match build_payload(&settings, &post.batch) {
                Ok(body) => {
                    let call = settings.client.invoke(&settings.endpoint, method, &body);
                    tokio::select! {
                        r = call => r,
                        _ = cancel.wait_for(|c| *c) => not_sent(method, DiscardReason::Timeout("cancelled: the run is closing")),
                    }
                }
                Err(e) => {
                    tracing::error!(method = %method, error = %e, "cannot build payload; dropping it");
                    not_sent(method, DiscardReason::BadResponse(e.to_string()))
                }
            };
            let _ = done.send(Sent { post, response }).await;
        });
    }

    /// Applies a finished send. Returns why the run must end, if it must.
    fn sent(&mut self, sent: Sent) -> Option<RunEnd> {
        let Sent { post, response } = sent;
        let Post {
            batch,
            in_cycle,
            splits,
        } = post;
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
        let end = match response.outcome {
            Outcome::Success(_) => None,
            Outcome::MergeBack { retry_after } => {
                tracing::warn!(
                    method = %method,
                    ?retry_after,
                    "collector asked to retry; keeping the data for the next harvest"
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
                tracing::warn!(method = %method, %reason, "collector unreachable; keeping the data");
                self.merge_back(batch);
                None
            }
            Outcome::Discard(reason) if too_large => {
                self.split_or_drop(batch, in_cycle, splits, &reason);
                None
            }
            Outcome::Discard(reason) => {
                tracing::warn!(method = %method, %reason, "harvest post failed; its data is dropped");
                None
            }
            Outcome::Disconnect => {
                tracing::error!(method = %method, run_id = %self.settings.run_id, "collector disconnected the application (410)");
                Some(RunEnd::Disconnected)
            }
            Outcome::LicenseInvalid | Outcome::Restart => {
                tracing::warn!(method = %method, run_id = %self.settings.run_id, "collector asked for a restart");
                // Not delivered: kept like the rest of the run's data (the
                // run's close spools it when there is a spool).
                self.merge_back(batch);
                Some(RunEnd::Restart)
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
    fn hold_off(&mut self, method: Method, wait: Duration) {
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
    /// the data is dropped (`docs/daemon.md` §13). New Relic's daemon drops
    /// it at once.
    fn split_or_drop(&mut self, batch: Batch, in_cycle: bool, splits: u8, reason: &DiscardReason) {
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

    /// Keeps a batch whose post can be retried: merged back into the
    /// harvest while its retry budget lasts (§4.6), otherwise (and for the
    /// kinds New Relic never retries, and during the final harvest) written
    /// to the disk spool when there is one.
    fn merge_back(&mut self, batch: Batch) {
        let batch = match batch {
            Batch::Metrics(table)
                if !self.final_mode && table.failed_harvests() < FAILED_METRIC_ATTEMPTS_LIMIT =>
            {
                self.harvest.merge_back_metrics(table);
                return;
            }
            Batch::Logs(reservoir, _)
                if !self.final_mode
                    && reservoir.failed_harvests() < FAILED_EVENT_ATTEMPTS_LIMIT =>
            {
                self.harvest.merge_back_events(EventKind::Log, reservoir);
                return;
            }
            Batch::Events(kind, reservoir)
                if !self.final_mode
                    && reservoir.failed_harvests() < FAILED_EVENT_ATTEMPTS_LIMIT =>
            {
                self.harvest.merge_back_events(kind, reservoir);
                return;
            }
            other => other,
        };
        let method = batch.method();
        let Some(spool) = self.settings.spool.clone() else {
            tracing::warn!(method = %method, "collector unreachable and no disk spool: dropping the data");
            return;
        };
        let settings = Arc::clone(&self.settings);
        let task = tokio::spawn(async move {
            match build_payload(&settings, &batch) {
                Ok(body) => spool.push(&settings.spool_app, method, body).await,
                Err(e) => tracing::error!(error = %e, "cannot build a payload to spool"),
            }
        });
        if self.final_mode {
            self.spool_writes.push(task);
        }
    }

    /// Starts replaying this application's spooled payloads, unless a
    /// replay is already running or nothing is waiting.
    fn maybe_replay(&mut self) {
        let Some(spool) = self.settings.spool.clone() else {
            return;
        };
        if !spool.has_pending(&self.settings.spool_app)
            || self.replaying.swap(true, Ordering::AcqRel)
        {
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

    /// Posts everything the run holds and waits for the results (SIGTERM):
    /// first whatever is in flight, then events and the non-metric default
    /// data, then the metrics with their supportability counts.
    async fn final_harvest(&mut self, done_rx: &mut mpsc::Receiver<Sent>) {
        let deadline = Instant::now() + FINAL_HARVEST_DEADLINE;
        match self.settings.spool.clone() {
            Some(spool) => {
                self.final_mode = true;
                self.final_harvest_via_spool(done_rx, &spool, deadline)
                    .await
            }
            None => self.final_harvest_posts(done_rx, deadline).await,
        }
        for task in self.spool_writes.drain(..) {
            let _ = task.await;
        }
    }

    /// With a disk spool the final harvest is written ahead: every payload
    /// goes to the spool first, then the spool is replayed until the
    /// deadline. Whatever the collector has not acknowledged by then is
    /// still on disk and is delivered after the next start, however slow
    /// the collector is now.
    async fn final_harvest_via_spool(
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
        for batch in &batches {
            match build_payload(&s, batch) {
                Ok(body) => spool.push(&s.spool_app, batch.method(), body).await,
                Err(e) => tracing::error!(error = %e, "cannot build a final payload"),
            }
        }
        if tokio::time::timeout_at(deadline, replay(&s, spool, &self.stats))
            .await
            .is_err()
        {
            tracing::warn!(
                "collector too slow for the final harvest; the rest stays in the disk spool"
            );
        }
    }

    async fn final_harvest_posts(&mut self, done_rx: &mut mpsc::Receiver<Sent>, deadline: Instant) {
        // Posts cancelled while settling merge their data back, so the final
        // posts below carry it; after those there is no later harvest.
        let settled = self.settle(done_rx, deadline).await;
        self.final_mode = true;
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
    async fn settle(&mut self, done_rx: &mut mpsc::Receiver<Sent>, deadline: Instant) -> bool {
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
    async fn drain(&mut self, done_rx: &mut mpsc::Receiver<Sent>, deadline: Instant) -> bool {
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

/// A response for a post that never reached the collector.
fn not_sent(method: Method, reason: DiscardReason) -> Response {
    Response {
        outcome: Outcome::Discard(reason),
        stats: CallStats {
            method,
            status: 0,
            request_bytes: 0,
            compressed_bytes: 0,
            response_bytes: 0,
            sent: false,
        },
    }
}

/// How many times a payload refused as too large is halved
/// (`docs/daemon.md` §13: split, split once more, then drop).
const MAX_SPLITS: u8 = 2;

/// Longest `Retry-After` honoured: a larger value (or a date far ahead)
/// would stop a data type for good while its reservoir keeps discarding.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// At shutdown, how long posts already in flight may still finish before
/// they are cancelled and their data spooled (or, without a spool, given
/// up) so the final posts can start.
const SETTLE_GRACE: Duration = Duration::from_secs(5);

/// After a run ended, how long its posts in flight and its spool writes may
/// take.
const CLOSE_DEADLINE: Duration = Duration::from_secs(30);

/// Integration mode (`--integration`, used by test runners): the
/// transaction is also aggregated on its own into a throwaway harvest and
/// each of its payloads is logged in audit form, one line per payload:
/// `NR_INTEGRATION_TEST '<method>' ['<seq>'] '<json>'`.
fn log_integration_payloads(
    settings: &RunSettings,
    format: IntegrationFormat,
    txn: seraph_wire::fb::Transaction<'_>,
    body_len: usize,
) {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let now = SystemTime::now();
    let mut one = Harvest::new(settings.limits, now);
    one.add_transaction(txn, body_len);
    match payload::audit_payloads(&settings.run_id, one, now) {
        Ok(payloads) => {
            for (method, body) in payloads {
                let json = String::from_utf8_lossy(&body);
                match format {
                    IntegrationFormat::Plain => {
                        tracing::info!("NR_INTEGRATION_TEST '{method}' '{json}'");
                    }
                    IntegrationFormat::Seq => {
                        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
                        tracing::info!("NR_INTEGRATION_TEST '{method}' '{seq}' '{json}'");
                    }
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot build integration payloads"),
    }
}

/// The non-metric parts of default data as the posts they make (empty
/// ones left out); also returns the metrics and the distinct pid count.
fn default_batches(data: DefaultData) -> (MetricTable, usize, Vec<Batch>) {
    let DefaultData {
        metrics,
        errors,
        slow_sqls,
        traces,
        php_packages,
        distinct_pids,
        ..
    } = data;
    let mut batches = Vec::new();
    if !errors.is_empty() {
        batches.push(Batch::Errors(errors));
    }
    if !slow_sqls.is_empty() {
        batches.push(Batch::SlowSqls(slow_sqls));
    }
    if !traces.is_empty() {
        batches.push(Batch::Traces(traces));
    }
    if !php_packages.is_empty() {
        batches.push(Batch::Packages(php_packages));
    }
    (metrics, distinct_pids, batches)
}

/// Sends this application's spooled payloads with the current run id,
/// oldest first, a few at a time; stops at the first failure that means
/// "not now" and leaves the rest for a later harvest.
async fn replay(settings: &RunSettings, spool: &SpoolHandle, stats: &WorkerStats) {
    let app = &settings.spool_app;
    loop {
        let records = spool.take(app, REPLAY_BATCH).await;
        if records.is_empty() {
            return;
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
            let Some(body) = spool::with_run_id(method, &record.body, &settings.run_id) else {
                tracing::warn!(method = %method, "dropping an unreadable spooled payload");
                stats.spool_dropped.fetch_add(1, Ordering::Relaxed);
                done.push(record.id);
                continue;
            };
            let response = settings
                .client
                .invoke(&settings.endpoint, method, &body)
                .await;
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
                    tracing::warn!(method = %method, %reason, "collector refused a spooled payload; dropping it");
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
            return;
        }
    }
}

/// Spooled payloads taken per replay step.
const REPLAY_BATCH: usize = 16;

/// How long SIGTERM's final harvest may take per run.
const FINAL_HARVEST_DEADLINE: Duration = Duration::from_secs(30);

/// When each harvest is due: default data and the five event types, on
/// one timer so the run loop polls a single sleep.
struct Schedule {
    /// `[default, events in EventKind::ALL order]`.
    periods: [Duration; 6],
    due: [Instant; 6],
}

/// A harvest that came due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Due {
    Default,
    Events(EventKind),
}

impl Schedule {
    fn new(default: Duration, events: [Duration; 5], now: Instant) -> Self {
        let mut periods = [default; 6];
        periods[1..].copy_from_slice(&events);
        let periods = periods.map(|p| p.max(Duration::from_millis(100)));
        Schedule {
            periods,
            due: periods.map(|p| now + p),
        }
    }

    fn next(&self) -> Instant {
        self.due.iter().copied().min().unwrap_or_else(Instant::now)
    }

    /// Everything due at `now`, each rescheduled one period on.
    fn take_due(&mut self, now: Instant) -> Vec<Due> {
        let mut out = Vec::new();
        for i in 0..6 {
            if self.due[i] <= now {
                out.push(if i == 0 {
                    Due::Default
                } else {
                    Due::Events(EventKind::ALL[i - 1])
                });
                self.due[i] = (self.due[i] + self.periods[i]).max(now);
            }
        }
        out
    }
}

fn build_payload(
    settings: &RunSettings,
    batch: &Batch,
) -> Result<Vec<u8>, seraph_harvest::PayloadError> {
    let run_id = &*settings.run_id;
    Ok(match batch {
        Batch::Metrics(table) => {
            let start = table.period_start();
            payload::metric_data(run_id, start, SystemTime::now(), table, &settings.rules)?
        }
        Batch::Events(_, reservoir) => payload::event_data(run_id, reservoir),
        Batch::Logs(reservoir, labels) => payload::log_event_data(reservoir, labels),
        Batch::Errors(errors) => payload::error_data(run_id, errors),
        Batch::SlowSqls(sqls) => payload::sql_trace_data(sqls, BlobEncoding::Compressed)?,
        Batch::Traces(traces) => {
            payload::transaction_sample_data(run_id, traces, BlobEncoding::Compressed)?
        }
        Batch::Packages(pkgs) => payload::update_loaded_modules(pkgs),
    })
}
