//! The task that owns one application's data and its runs.
//!
//! It starts with the application's first App query and lives until the
//! application expires or is refused for good. Until a connect hands it a
//! run (and again after the collector asked for a reconnect) it is in
//! standby: it keeps merging Transactions and posts nothing; once
//! connected it posts what it held under the new run.
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

use super::health::CollectorHealth;
use super::registry::{AppId, RegistryHandle, RunEnd};
use super::runs::{self, Origin, RunMsg, RunSender};
use super::spool::SpoolHandle;
use super::stats::{Reported, WorkerStats};
use bytes::Bytes;
use seraph_collector::{CollectorClient, Endpoint, Method};
use seraph_config::IntegrationFormat;
use seraph_harvest::{
    Harvest, HarvestLimits, MetricRules, SupportabilityTracker, SystemCertificates,
};
use seraph_wire::message::{decode, Body};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

mod batch;
mod closing;
mod cycle;
mod integration;
mod post;
mod replay;
mod schedule;

use batch::{Sent, METHODS};
use cycle::Cycle;
use integration::log_integration_payloads;
use schedule::{Due, Schedule};

/// Depth of a run's Transaction queue. Connection tasks wait when it is
/// full, which slows only the agents of this application.
pub const RUN_QUEUE: usize = 10_000;

/// Everything a run needs, fixed at connect time (a task not connected yet
/// has defaults and no endpoint).
pub struct RunSettings {
    /// The application's id in the registry, and its opaque id in the
    /// disk spool.
    pub app: AppId,
    /// The agent run id (empty before the first connect).
    pub run_id: Arc<str>,
    /// Where this run's harvest calls go; `None` while not connected (or,
    /// for a run restored from disk, while its license is not known).
    pub endpoint: Option<Endpoint>,
    /// The collector client.
    pub client: CollectorClient,
    /// Reservoir and table limits from the connect reply.
    pub limits: HarvestLimits,
    /// `metric_name_rules` from the connect reply.
    pub rules: Arc<MetricRules>,
    /// Period of default data (metrics, errors, slow SQL, traces).
    pub default_period: Duration,
    /// Period of each event type, in [`seraph_harvest::EventKind::ALL`] order.
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
    /// Noted on every successful post.
    pub health: Arc<CollectorHealth>,
}

/// Starts the task of an application, connected or not yet.
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
    let task = runs::next_task_id();
    let run = Run {
        harvest: Harvest::new(settings.limits, SystemTime::now()),
        schedule: Schedule::new(
            settings.default_period,
            settings.event_periods,
            Instant::now(),
        ),
        settings: Arc::new(settings),
        task,
        awaiting_reconnect: false,
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
        flushed: false,
        replay_all: true,
        replaying: Arc::new(AtomicBool::new(false)),
        cancel: watch::channel(false).0,
        budget: Arc::clone(&budget),
        reported: Reported::default(),
    };
    tokio::spawn(run.run(rx, done_rx));
    RunSender::new(tx, budget, task)
}

struct Run {
    settings: Arc<RunSettings>,
    /// This task's id (what its `RunSender`s carry).
    task: u64,
    /// The collector asked for a reconnect (401/409): nothing is posted
    /// until the registry hands over a new run.
    awaiting_reconnect: bool,
    harvest: Harvest,
    schedule: Schedule,
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
    /// The shutdown's flush is done: only the final harvest posts now.
    flushed: bool,
    /// False once a shutdown's replay of the spool stopped short (the
    /// collector refused, failed or was too slow): the final harvest then
    /// leaves what it writes to the spool for the next run.
    replay_all: bool,
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
        let sleep = tokio::time::sleep_until(self.schedule.next());
        tokio::pin!(sleep);
        let mut batch = Vec::with_capacity(256);
        tracing::debug!(run_id = %self.settings.run_id, connected = self.live(), "application task started");
        let end = 'run: loop {
            tokio::select! {
                n = rx.recv_many(&mut batch, 256) => {
                    if n == 0 {
                        return;
                    }
                    let mut rescheduled = false;
                    for msg in batch.drain(..) {
                        match msg {
                            RunMsg::Transaction(body, origin, _queued) => {
                                self.merge(&body, &origin);
                            }
                            RunMsg::Flush(deadline, done) => {
                                self.final_harvest(&mut done_rx, deadline, false).await;
                                self.flushed = true;
                                let _ = done.send(());
                            }
                            RunMsg::FinalHarvest(deadline, done) => {
                                self.final_harvest(&mut done_rx, deadline, true).await;
                                let _ = done.send(());
                                return;
                            }
                            RunMsg::Connected(settings) => {
                                self.connected(*settings);
                                rescheduled = true;
                            }
                            RunMsg::End(end) => break 'run end,
                        }
                    }
                    if rescheduled {
                        sleep.as_mut().reset(self.schedule.next());
                    }
                }
                () = &mut sleep => {
                    for due in self.schedule.take_due(Instant::now()) {
                        if self.expired() {
                            break 'run RunEnd::Expired;
                        }
                        if !self.live() || self.flushed {
                            // Standby, or shutting down after the flush:
                            // the data keeps aggregating.
                            continue;
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
                    sleep.as_mut().reset(self.schedule.next());
                }
                Some(sent) = done_rx.recv() => {
                    if let Some(end) = self.sent(sent) {
                        break end;
                    }
                }
            }
        };
        let s = Arc::clone(&self.settings);
        tracing::debug!(run_id = %s.run_id, ?end, "application task ended");
        self.registry
            .run_ended(Arc::clone(&s.app), self.task, end)
            .await;
        self.close(end, rx, done_rx).await;
    }

    /// Whether posts can go out: connected, and not waiting for a
    /// reconnect.
    fn live(&self) -> bool {
        self.settings.endpoint.is_some() && !self.awaiting_reconnect
    }

    /// A connect (or reconnect, or a restored run's license) handed this
    /// task its run: post under it from now on, with its limits and
    /// periods. What the harvest holds is carried over.
    fn connected(&mut self, settings: RunSettings) {
        tracing::debug!(from = %self.settings.run_id, to = %settings.run_id, "run handed over");
        self.harvest.set_limits(settings.limits);
        self.schedule = Schedule::new(
            settings.default_period,
            settings.event_periods,
            Instant::now(),
        );
        self.not_before = [None; METHODS];
        self.awaiting_reconnect = false;
        self.settings = Arc::new(settings);
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
                crate::limited!(
                    super::connection::BAD_FRAMES,
                    warn,
                    error = %e,
                    "invalid transaction frame; closing its connection"
                );
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
}
