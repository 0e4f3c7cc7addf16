//! The application registry: which applications exist, their connection
//! state, and the answers to App queries.
//!
//! One task owns the whole table, so App queries, connect results and run
//! endings are applied in order without locks. It never waits on the
//! network itself: connects and probes run in their own tasks and report
//! back with a message. Answers follow New Relic's daemon
//! (protocol.md §1.6–1.7): a live run id gets StillValid;
//! otherwise the app key decides.
//!
//! Unlike New Relic's daemon, an application's data does not live and die
//! with one run. Each application has one task holding its harvest from
//! its first App query on; connects hand that task its run, and a
//! reconnect (the collector answered 401 or 409) hands it a new one while
//! it keeps what it holds. While the application is not connected (the
//! collector is away, or this worker has not connected it yet) the task
//! keeps accumulating under the run agents already use, and its data goes
//! out once a connect succeeds. Earlier run ids stay routed to the same
//! task (aliases), so agents that have not asked again yet lose nothing;
//! a run id an agent presents that this worker never saw (its predecessor
//! connected it) is taken on the same way.

mod key;
#[cfg(test)]
mod tests;

pub use key::AppKey;

use super::health::CollectorHealth;
use super::journal::Journal;
use super::record::RunRecord;
use super::runs::{RunMsg, RunSender, Runs};
use crate::loglimit::{LogLimit, EVERY_MINUTE};
use seraph_wire::{AppInfo, AppReplyInfo, AppStatus};
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// A boxed future, for the object-safe [`Upstream`] trait.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// An application's id: [`AppKey::spool_id`], the same whether or not the
/// license is known (a run restored from disk learns it later).
pub type AppId = Arc<str>;

/// An App query from an agent.
#[derive(Debug, Clone)]
pub struct AppQuery {
    /// What the agent says about its application.
    pub info: AppInfo,
    /// The run id the agent is using, if it has one.
    pub run_id: Option<String>,
}

/// What a successful connect established: the run, and what agents are told.
#[derive(Debug, Clone)]
pub struct RunInfo {
    /// Agent run id chosen by the collector.
    pub run_id: Arc<str>,
    /// The connect reply (`return_value`), verbatim, for agents.
    pub connect_reply: String,
    /// `{policy: enabled}` from preconnect.
    pub security_policies: String,
    /// Unix seconds of the connect.
    pub connect_timestamp: u64,
    /// AppReply.harvest_frequency (sampling target period, seconds).
    pub harvest_frequency: u16,
    /// AppReply.sampling_target.
    pub sampling_target: u16,
}

/// How a connect attempt ended.
pub enum ConnectOutcome {
    /// Connected: the run's settings went to the application's task; this
    /// is what agents are told, and the record a successor worker needs.
    Connected(RunInfo, Box<RunRecord>),
    /// The collector answered 410.
    Disconnected,
    /// The collector answered 401.
    InvalidLicense,
    /// Anything else: try again later, not before `retry_after` when the
    /// collector sent one.
    Failed {
        /// What went wrong, for the log.
        reason: String,
        /// The collector's `Retry-After`, if any.
        retry_after: Option<Duration>,
    },
}

/// Why a run task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    /// No activity for `app_timeout`: forget the application entirely.
    Expired,
    /// The collector answered 410: the application is disconnected.
    Disconnected,
    /// The collector refused the license (401 on connect).
    InvalidLicense,
}

/// Where the registry gets run tasks and connects from; the worker's real
/// one talks to the collector, tests use a fake.
pub trait Upstream: Send + Sync + 'static {
    /// Starts the task that will hold `info`'s application's data; it is
    /// not connected yet. `activity` is shared with it (last activity, ms
    /// since the registry's epoch).
    fn start(
        &self,
        id: AppId,
        info: Arc<AppInfo>,
        activity: Arc<AtomicU64>,
        registry: RegistryHandle,
    ) -> RunSender;

    /// Preconnects and connects `info`'s application; on success the new
    /// run's settings are sent to `run` before this returns.
    fn connect(&self, id: AppId, info: Arc<AppInfo>, run: RunSender) -> BoxFuture<ConnectOutcome>;

    /// One cheap call (preconnect) showing whether the collector answers.
    fn probe(&self, info: Arc<AppInfo>) -> BoxFuture<bool>;

    /// Carries on a run an earlier worker connected. With `run`, its
    /// settings (now that `info` brings the license) go to that task;
    /// otherwise a task is started for it, able to post only if `info`
    /// has a license. `None` if the record is unusable.
    fn resume(
        &self,
        record: &RunRecord,
        info: Arc<AppInfo>,
        run: Option<RunSender>,
        activity: Arc<AtomicU64>,
        registry: RegistryHandle,
    ) -> Option<(RunInfo, RunSender)>;
}

/// Registry tuning.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// Most applications at once (New Relic: 250).
    pub app_limit: usize,
    /// First retry delay after a failed connect; doubles per failure.
    pub retry_initial: Duration,
    /// Longest delay between connect attempts (New Relic waits 30 s).
    pub retry_max: Duration,
    /// While applications wait to reconnect, how often the collector is
    /// probed; an answer makes them try again at once.
    pub probe_every: Duration,
    /// `app_timeout`: an application that is not connected and has not
    /// been asked about for this long may make room for a new one when
    /// `app_limit` is reached (`None`: never).
    pub app_timeout: Option<Duration>,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            app_limit: 250,
            retry_initial: Duration::from_secs(1),
            retry_max: Duration::from_secs(30),
            probe_every: Duration::from_secs(2),
            app_timeout: Some(Duration::from_secs(600)),
        }
    }
}

enum RegistryMsg {
    Query(Box<AppQuery>, oneshot::Sender<AppReplyInfo>),
    ConnectDone(AppId, ConnectOutcome),
    ProbeDone(bool),
    RunEnded(AppId, u64, RunEnd),
    NeedsReconnect(AppId, u64),
    Flush(Duration, oneshot::Sender<usize>),
    Shutdown(Duration, oneshot::Sender<usize>),
}

/// A cheap handle to the registry task.
#[derive(Clone)]
pub struct RegistryHandle {
    tx: mpsc::Sender<RegistryMsg>,
    epoch: Instant,
}

impl RegistryHandle {
    /// Answers an App query; `None` once the registry has stopped.
    pub async fn query(&self, query: AppQuery) -> Option<AppReplyInfo> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(RegistryMsg::Query(Box::new(query), tx))
            .await
            .ok()?;
        rx.await.ok()
    }

    /// Reports that the run task `task` of application `id` ended.
    pub async fn run_ended(&self, id: AppId, task: u64, end: RunEnd) {
        let _ = self.tx.send(RegistryMsg::RunEnded(id, task, end)).await;
    }

    /// The collector asked run task `task` for a reconnect (401/409).
    pub async fn needs_reconnect(&self, id: AppId, task: u64) {
        let _ = self.tx.send(RegistryMsg::NeedsReconnect(id, task)).await;
    }

    /// The shutdown's first step, while agents are still served: every
    /// run harvests what it holds the final way ([`RunMsg::Flush`]), within
    /// `deadline`; returns how many runs finished in time. The registry
    /// keeps answering App queries meanwhile.
    pub async fn flush(&self, deadline: Duration) -> usize {
        let (tx, rx) = oneshot::channel();
        if self
            .tx
            .send(RegistryMsg::Flush(deadline, tx))
            .await
            .is_err()
        {
            return 0;
        }
        rx.await.unwrap_or(0)
    }

    /// Final harvest of every run, waiting at most `deadline`; returns how
    /// many runs finished in time.
    pub async fn shutdown(&self, deadline: Duration) -> usize {
        let (tx, rx) = oneshot::channel();
        if self
            .tx
            .send(RegistryMsg::Shutdown(deadline, tx))
            .await
            .is_err()
        {
            return 0;
        }
        rx.await.unwrap_or(0)
    }

    /// Milliseconds since the registry started: the unit of activity stamps.
    pub fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// An application with a task holding its data.
struct Active {
    tx: RunSender,
    /// What agents are told; `None` until the first connect.
    run: Option<RunInfo>,
    /// The run id agents should use now.
    current: Option<Arc<str>>,
    /// Earlier run ids still routed to the task, oldest first.
    aliases: VecDeque<Arc<str>>,
    /// The task cannot post until a connect succeeds (never connected, or
    /// the collector asked for a reconnect).
    needs_connect: bool,
    /// A connect is running.
    connecting: bool,
    /// Restored from disk without the license: the record, until an App
    /// query brings the license.
    awaiting_license: Option<Box<RunRecord>>,
}

enum AppState {
    Active(Active),
    Disconnected,
    InvalidLicense,
}

struct AppEntry {
    /// The first App seen (from a disk record: without its license until
    /// an agent asks).
    info: Arc<AppInfo>,
    state: AppState,
    activity: Arc<AtomicU64>,
    failures: u32,
    next_attempt: Instant,
    /// When the last connect attempt failed.
    failed_at: Option<Instant>,
}

impl AppEntry {
    fn name(&self) -> &str {
        &self.info.app_name
    }
}

/// The worker-wide parts the registry works with.
pub struct RegistryParts {
    /// Live run ids.
    pub runs: Runs,
    /// Starts run tasks and connects.
    pub upstream: Arc<dyn Upstream>,
    /// Whether the collector has been answering.
    pub health: Arc<CollectorHealth>,
    /// Where run records go for the next worker.
    pub journal: Journal,
    /// Runs an earlier worker had.
    pub restored: Vec<RunRecord>,
}

struct Registry {
    config: RegistryConfig,
    apps: HashMap<AppId, AppEntry>,
    runs: Runs,
    upstream: Arc<dyn Upstream>,
    health: Arc<CollectorHealth>,
    journal: Journal,
    handle: RegistryHandle,
    limit_warned: bool,
    probing: bool,
    last_probe: Option<Instant>,
}

/// Starts the registry task, first taking on the runs an earlier worker had.
pub fn spawn(config: RegistryConfig, parts: RegistryParts) -> RegistryHandle {
    let (tx, rx) = mpsc::channel(1024);
    let handle = RegistryHandle {
        tx,
        epoch: Instant::now(),
    };
    let mut registry = Registry {
        config,
        apps: HashMap::new(),
        runs: parts.runs,
        upstream: parts.upstream,
        health: parts.health,
        journal: parts.journal,
        handle: handle.clone(),
        limit_warned: false,
        probing: false,
        last_probe: None,
    };
    registry.restore(parts.restored);
    tokio::spawn(registry.run(rx));
    handle
}

/// How often the registry looks for applications due to reconnect.
const TICK: Duration = Duration::from_secs(1);

/// Earlier run ids kept routed per application.
const MAX_ALIASES: usize = 8;

/// Longest connect `Retry-After` honoured.
const MAX_CONNECT_RETRY_AFTER: Duration = Duration::from_secs(600);

/// Failed connects (one line a minute during an outage).
static CONNECT_FAILED: LogLimit = LogLimit::new(EVERY_MINUTE);
/// App queries with a malformed license key.
static BAD_LICENSE: LogLimit = LogLimit::new(EVERY_MINUTE);

impl Registry {
    async fn run(mut self, mut rx: mpsc::Receiver<RegistryMsg>) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let msg = tokio::select! {
                msg = rx.recv() => match msg {
                    Some(msg) => msg,
                    None => return,
                },
                _ = tick.tick() => {
                    self.start_due_connects();
                    self.maybe_probe();
                    continue;
                }
            };
            match msg {
                RegistryMsg::Query(query, reply) => {
                    let answer = self.query(*query);
                    let _ = reply.send(answer);
                }
                RegistryMsg::ConnectDone(id, outcome) => self.connect_done(&id, outcome),
                RegistryMsg::ProbeDone(answered) => {
                    self.probing = false;
                    if answered {
                        self.health.answered();
                        tracing::info!("the collector answers again; reconnecting applications");
                        self.start_due_connects();
                    }
                }
                RegistryMsg::RunEnded(id, task, end) => self.run_ended(&id, task, end),
                RegistryMsg::NeedsReconnect(id, task) => self.needs_reconnect(&id, task),
                RegistryMsg::Flush(deadline, done) => self.flush(deadline, done),
                RegistryMsg::Shutdown(deadline, done) => {
                    let finished = self.shutdown(deadline).await;
                    let _ = done.send(finished);
                    return;
                }
            }
        }
    }

    /// Takes on the runs an earlier worker connected, before any agent is
    /// served: Transactions carrying their ids are merged from the start.
    fn restore(&mut self, records: Vec<RunRecord>) {
        for record in records {
            if self.apps.len() >= self.config.app_limit {
                break;
            }
            let id: AppId = record.app.as_str().into();
            if self.apps.contains_key(&id) || self.runs.contains(&record.run_id) {
                continue;
            }
            let Ok(info) = record.app_info() else {
                tracing::warn!("ignoring an unreadable run record");
                continue;
            };
            let info = Arc::new(info);
            let activity = Arc::new(AtomicU64::new(self.handle.now_ms()));
            let Some((run, tx)) = self.upstream.resume(
                &record,
                Arc::clone(&info),
                None,
                Arc::clone(&activity),
                self.handle.clone(),
            ) else {
                continue;
            };
            tracing::info!(
                app = %info.app_name,
                run_id = %run.run_id,
                "carrying on a run of the previous worker"
            );
            let current = Arc::clone(&run.run_id);
            self.runs.insert(Arc::clone(&current), tx.clone());
            let awaiting_license = info.license.is_empty().then(|| Box::new(record));
            self.apps.insert(
                id,
                AppEntry {
                    info,
                    state: AppState::Active(Active {
                        tx,
                        run: Some(run),
                        current: Some(current),
                        aliases: VecDeque::new(),
                        needs_connect: false,
                        connecting: false,
                        awaiting_license,
                    }),
                    activity,
                    failures: 0,
                    next_attempt: Instant::now(),
                    failed_at: None,
                },
            );
        }
    }

    fn query(&mut self, query: AppQuery) -> AppReplyInfo {
        if let Err(why) = seraph_wire::check_license(&query.info.license) {
            crate::limited!(
                BAD_LICENSE,
                warn,
                app = %query.info.app_name,
                "refusing an App query: {why}"
            );
            return AppReplyInfo::status(AppStatus::InvalidLicense);
        }
        let id: AppId = AppKey::of(&query.info).spool_id().into();
        self.supply_license(&id, &query.info);
        if let Some(run_id) = &query.run_id {
            if self.runs.is_current(run_id) {
                return AppReplyInfo::status(AppStatus::StillValid);
            }
        }
        if !self.apps.contains_key(&id) && !self.make_room(&query.info) {
            return AppReplyInfo::status(AppStatus::Unknown);
        }
        let now_ms = self.handle.now_ms();
        let runs = self.runs.clone();
        let upstream = Arc::clone(&self.upstream);
        let handle = self.handle.clone();
        let entry = self.apps.entry(Arc::clone(&id)).or_insert_with(|| {
            tracing::info!(app = %query.info.app_name, "new application");
            let info = Arc::new(query.info.clone());
            let activity = Arc::new(AtomicU64::new(now_ms));
            let tx = upstream.start(
                Arc::clone(&id),
                Arc::clone(&info),
                Arc::clone(&activity),
                handle,
            );
            AppEntry {
                info,
                state: AppState::Active(Active {
                    tx,
                    run: None,
                    current: None,
                    aliases: VecDeque::new(),
                    needs_connect: true,
                    connecting: false,
                    awaiting_license: None,
                }),
                activity,
                failures: 0,
                next_attempt: Instant::now(),
                failed_at: None,
            }
        });
        entry.activity.store(now_ms, Ordering::Relaxed);
        let reply = match &mut entry.state {
            AppState::Disconnected => AppReplyInfo::status(AppStatus::Disconnected),
            AppState::InvalidLicense => AppReplyInfo::status(AppStatus::InvalidLicense),
            AppState::Active(active) => {
                // A run id this worker does not know: the agent got it from
                // an earlier worker (or an earlier run of this one that has
                // been forgotten). Its Transactions belong to this
                // application.
                let foreign = query
                    .run_id
                    .as_deref()
                    .filter(|r| plausible_run_id(r) && !runs.contains(r));
                match (foreign, &active.current) {
                    (Some(r), None) => {
                        // Nothing connected yet: carry on under the agent's run.
                        let r: Arc<str> = r.into();
                        runs.insert(Arc::clone(&r), active.tx.clone());
                        active.current = Some(r);
                        AppReplyInfo::status(AppStatus::StillValid)
                    }
                    (Some(r), Some(_)) => {
                        add_alias(&runs, active, r.into());
                        connected_reply(active.run.as_ref())
                    }
                    (None, _) => connected_reply(active.run.as_ref()),
                }
            }
        };
        self.maybe_connect(&id);
        reply
    }

    /// An App query for a run restored from disk brings its license: the
    /// task can post from now on.
    fn supply_license(&mut self, id: &AppId, info: &AppInfo) {
        let Some(entry) = self.apps.get_mut(id) else {
            return;
        };
        let AppState::Active(active) = &mut entry.state else {
            return;
        };
        let Some(record) = active.awaiting_license.take() else {
            return;
        };
        let info = Arc::new(info.clone());
        entry.info = Arc::clone(&info);
        let resumed = self.upstream.resume(
            &record,
            info,
            Some(active.tx.clone()),
            Arc::clone(&entry.activity),
            self.handle.clone(),
        );
        if resumed.is_some() {
            tracing::info!(app = %entry.info.app_name, "license known again: the restored run posts from now on");
        }
    }

    /// At the application limit, makes room if it can; false (and a
    /// warning, once) if the new application cannot be taken.
    fn make_room(&mut self, info: &AppInfo) -> bool {
        if self.apps.len() >= self.config.app_limit {
            self.forget_idle_unconnected();
        }
        if self.apps.len() < self.config.app_limit {
            return true;
        }
        if !self.limit_warned {
            tracing::warn!(
                limit = self.config.app_limit,
                app = %info.app_name,
                "application limit reached; new applications are not connected"
            );
            self.limit_warned = true;
        }
        false
    }

    /// Starts a connect for `id` if it needs one and one is due: its
    /// backoff has passed, or the collector answered since it failed.
    fn maybe_connect(&mut self, id: &AppId) {
        let Some(entry) = self.apps.get_mut(id) else {
            return;
        };
        let now = Instant::now();
        let due = now >= entry.next_attempt
            || entry
                .failed_at
                .is_some_and(|t| self.health.answered_since(t));
        let AppState::Active(active) = &mut entry.state else {
            return;
        };
        if !active.needs_connect || active.connecting || !due || entry.info.license.is_empty() {
            return;
        }
        active.connecting = true;
        let upstream = Arc::clone(&self.upstream);
        let info = Arc::clone(&entry.info);
        let tx = active.tx.clone();
        let handle = self.handle.clone();
        let id = Arc::clone(id);
        tokio::spawn(async move {
            let outcome = upstream.connect(Arc::clone(&id), info, tx).await;
            let _ = handle.tx.send(RegistryMsg::ConnectDone(id, outcome)).await;
        });
    }

    fn start_due_connects(&mut self) {
        let waiting: Vec<AppId> = self
            .apps
            .iter()
            .filter(|(_, e)| matches!(&e.state, AppState::Active(a) if a.needs_connect && !a.connecting))
            .map(|(id, _)| Arc::clone(id))
            .collect();
        for id in waiting {
            self.maybe_connect(&id);
        }
    }

    /// While applications wait out a connect backoff longer than
    /// `probe_every`, asks the collector (preconnect) every `probe_every`
    /// whether it answers again.
    fn maybe_probe(&mut self) {
        if self.probing
            || self
                .last_probe
                .is_some_and(|t| t.elapsed() < self.config.probe_every)
        {
            return;
        }
        let now = Instant::now();
        let waiting = self.apps.values().find(|e| {
            matches!(&e.state, AppState::Active(a) if a.needs_connect && !a.connecting)
                && !e.info.license.is_empty()
                && e.next_attempt > now + self.config.probe_every
                && e.failed_at.is_some_and(|t| !self.health.answered_since(t))
        });
        let Some(entry) = waiting else {
            return;
        };
        self.probing = true;
        self.last_probe = Some(now);
        let probe = self.upstream.probe(Arc::clone(&entry.info));
        let tx = self.handle.tx.clone();
        tokio::spawn(async move {
            let answered = probe.await;
            let _ = tx.send(RegistryMsg::ProbeDone(answered)).await;
        });
    }

    fn connect_done(&mut self, id: &AppId, outcome: ConnectOutcome) {
        let Some(entry) = self.apps.get_mut(id) else {
            return;
        };
        let name = entry.info.app_name.clone();
        let AppState::Active(active) = &mut entry.state else {
            return;
        };
        active.connecting = false;
        match outcome {
            ConnectOutcome::Connected(run, record) => {
                tracing::info!(app = %name, run_id = %run.run_id, "application connected");
                entry.failures = 0;
                entry.failed_at = None;
                active.needs_connect = false;
                // A run id handed out again must not stay listed as an
                // alias (trimming aliases would then unroute the current run).
                active.aliases.retain(|a| **a != *run.run_id);
                if let Some(old) = active.current.take() {
                    if *old != *run.run_id {
                        self.runs.demote(&old);
                        active.aliases.push_back(old);
                        trim_aliases(&self.runs, active);
                    }
                }
                self.runs.insert(Arc::clone(&run.run_id), active.tx.clone());
                active.current = Some(Arc::clone(&run.run_id));
                active.run = Some(run);
                self.journal.record(&record);
            }
            ConnectOutcome::Disconnected => {
                tracing::warn!(app = %name, "the collector disconnected the application (410)");
                self.give_up(id, AppState::Disconnected, RunEnd::Disconnected);
            }
            ConnectOutcome::InvalidLicense => {
                tracing::error!(app = %name, "the collector refused the license key (401)");
                self.give_up(id, AppState::InvalidLicense, RunEnd::InvalidLicense);
            }
            ConnectOutcome::Failed {
                reason,
                retry_after,
            } => {
                entry.failures = entry.failures.saturating_add(1);
                // The collector's Retry-After is a floor (capped: a far
                // date must not shut the application out for good).
                let delay = retry_delay(&self.config, entry.failures)
                    .max(retry_after.unwrap_or_default().min(MAX_CONNECT_RETRY_AFTER));
                let held = if active.current.is_some() {
                    "the application's data is kept meanwhile"
                } else {
                    "agents run uninstrumented meanwhile"
                };
                crate::limited!(
                    CONNECT_FAILED,
                    warn,
                    app = %name,
                    %reason,
                    retry_in = ?delay,
                    "connect failed; {held}"
                );
                entry.next_attempt = Instant::now() + delay;
                entry.failed_at = Some(Instant::now());
            }
        }
    }

    /// Ends an application's task for good (410, 401 on connect).
    fn give_up(&mut self, id: &AppId, state: AppState, end: RunEnd) {
        let Some(entry) = self.apps.get_mut(id) else {
            return;
        };
        let old = std::mem::replace(&mut entry.state, state);
        if let AppState::Active(active) = old {
            forget_ids(&self.runs, &active);
            let tx = active.tx;
            tokio::spawn(async move {
                let _ = tx.send(RunMsg::End(end)).await;
            });
        }
        self.journal.forget(id);
    }

    fn run_ended(&mut self, id: &AppId, task: u64, end: RunEnd) {
        let Some(entry) = self.apps.get_mut(id) else {
            return;
        };
        // News about a task the application no longer has.
        let AppState::Active(active) = &entry.state else {
            return;
        };
        if active.tx.task_id() != task {
            return;
        }
        forget_ids(&self.runs, active);
        self.journal.forget(id);
        match end {
            RunEnd::Expired => {
                tracing::info!(app = %entry.name(), "application expired after inactivity");
                self.apps.remove(id);
            }
            RunEnd::Disconnected => entry.state = AppState::Disconnected,
            RunEnd::InvalidLicense => entry.state = AppState::InvalidLicense,
        }
    }

    fn needs_reconnect(&mut self, id: &AppId, task: u64) {
        let Some(entry) = self.apps.get_mut(id) else {
            return;
        };
        let AppState::Active(active) = &mut entry.state else {
            return;
        };
        if active.tx.task_id() != task {
            return;
        }
        tracing::info!(app = %entry.info.app_name, "collector asked for a reconnect; the application's data is kept meanwhile");
        active.needs_connect = true;
        entry.next_attempt = Instant::now();
        entry.failures = 0;
        self.maybe_connect(id);
    }

    /// At the application limit: forgets applications that never connected
    /// or were refused and that no agent has asked about for
    /// `app_timeout`. New Relic's daemon keeps them for the life of the
    /// process, so 250 such names (typos, a deleted application, a test
    /// license) lock every new application out until a restart. Connected
    /// apps expire through their run.
    fn forget_idle_unconnected(&mut self) {
        let Some(timeout) = self.config.app_timeout else {
            return;
        };
        let now_ms = self.handle.now_ms();
        let timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        let forget: Vec<AppId> = self
            .apps
            .iter()
            .filter(|(_, e)| {
                let idle = now_ms.saturating_sub(e.activity.load(Ordering::Relaxed));
                let unconnected = match &e.state {
                    AppState::Active(a) => a.run.is_none(),
                    AppState::Disconnected | AppState::InvalidLicense => true,
                };
                unconnected && idle >= timeout_ms
            })
            .map(|(id, _)| Arc::clone(id))
            .collect();
        for id in forget {
            if let Some(entry) = self.apps.remove(&id) {
                tracing::info!(app = %entry.name(), "forgetting an idle application that is not connected");
                if let AppState::Active(active) = entry.state {
                    forget_ids(&self.runs, &active);
                    tokio::spawn(async move {
                        let _ = active.tx.send(RunMsg::End(RunEnd::Expired)).await;
                    });
                }
            }
        }
        if self.apps.len() < self.config.app_limit {
            self.limit_warned = false;
        }
    }

    /// Starts every run's flush and replies once all are done (or the
    /// deadline passed) from a task of its own: the registry goes on
    /// answering App queries meanwhile.
    fn flush(&self, deadline: Duration, done: oneshot::Sender<usize>) {
        let runs = self.active_runs();
        tokio::spawn(async move {
            let until = Instant::now() + deadline;
            let finished = harvest_all(runs, |tx| RunMsg::Flush(until, tx), until, "flush").await;
            let _ = done.send(finished);
        });
    }

    async fn shutdown(&mut self, deadline: Duration) -> usize {
        let until = Instant::now() + deadline;
        let runs = self.active_runs();
        harvest_all(
            runs,
            |tx| RunMsg::FinalHarvest(until, tx),
            until,
            "final harvest",
        )
        .await
    }

    fn active_runs(&self) -> Vec<RunSender> {
        self.apps
            .values()
            .filter_map(|entry| match &entry.state {
                AppState::Active(active) => Some(active.tx.clone()),
                _ => None,
            })
            .collect()
    }
}

/// Sends each run the message `msg` makes and waits for their replies
/// until `until`; returns how many replied in time.
async fn harvest_all(
    runs: Vec<RunSender>,
    msg: impl Fn(oneshot::Sender<()>) -> RunMsg,
    until: Instant,
    what: &'static str,
) -> usize {
    let total = runs.len();
    let all = async {
        let mut waits = Vec::new();
        for run in runs {
            let (done_tx, done_rx) = oneshot::channel();
            if run.send(msg(done_tx)).await.is_ok() {
                waits.push(done_rx);
            }
        }
        let mut done = 0;
        for w in waits {
            if w.await.is_ok() {
                done += 1;
            }
        }
        done
    };
    match tokio::time::timeout_at(until, all).await {
        Ok(done) => done,
        Err(_) => {
            tracing::warn!(runs = total, "{what} did not finish before the deadline");
            0
        }
    }
}

/// The answer for an application with a task: its run's connect reply, or
/// Unknown while it never connected.
fn connected_reply(run: Option<&RunInfo>) -> AppReplyInfo {
    match run {
        Some(run) => AppReplyInfo {
            status: AppStatus::Connected,
            connect_reply: Some(run.connect_reply.clone()),
            security_policies: Some(run.security_policies.clone()),
            connect_timestamp: run.connect_timestamp,
            harvest_frequency: run.harvest_frequency,
            sampling_target: run.sampling_target,
        },
        None => AppReplyInfo::status(AppStatus::Unknown),
    }
}

/// Run ids the collector hands out are short printable strings; anything
/// else an agent presents is not taken on.
fn plausible_run_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 256 && id.bytes().all(|b| b.is_ascii_graphic())
}

fn add_alias(runs: &Runs, active: &mut Active, id: Arc<str>) {
    runs.insert_alias(Arc::clone(&id), active.tx.clone());
    active.aliases.push_back(id);
    trim_aliases(runs, active);
}

fn trim_aliases(runs: &Runs, active: &mut Active) {
    while active.aliases.len() > MAX_ALIASES {
        if let Some(old) = active.aliases.pop_front() {
            runs.remove(&old);
        }
    }
}

fn forget_ids(runs: &Runs, active: &Active) {
    if let Some(id) = &active.current {
        runs.remove(id);
    }
    for id in &active.aliases {
        runs.remove(id);
    }
}

fn retry_delay(config: &RegistryConfig, failures: u32) -> Duration {
    let shift = failures.saturating_sub(1).min(16);
    config
        .retry_initial
        .saturating_mul(1 << shift)
        .min(config.retry_max)
}
