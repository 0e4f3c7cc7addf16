//! The application registry: which applications exist, their connection
//! state, and the answers to App queries.
//!
//! One task owns the whole table, so App queries, connect results and run
//! endings are applied in order without locks. It never waits on the
//! network itself: connects run in their own tasks and report back with a
//! message. Answers follow New Relic's daemon (protocol.md §1.6–1.7): a
//! live run id gets StillValid; otherwise the app key decides;
//! a new app answers Unknown and starts connecting at once.

use super::runs::{RunMsg, RunSender, Runs};
use seraph_wire::{AppInfo, AppReplyInfo, AppStatus};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// A boxed future, for the object-safe [`Upstream`] trait.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// An App query from an agent.
#[derive(Debug, Clone)]
pub struct AppQuery {
    /// What the agent says about its application.
    pub info: AppInfo,
    /// The run id the agent is using, if it has one.
    pub run_id: Option<String>,
}

/// Identity of an application (protocol.md §1.7): two queries
/// with equal keys share one application, its connect and its harvest.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AppKey {
    license: String,
    app_name: String,
    redirect_collector: String,
    high_security: bool,
    agent_language: String,
    policies_hash: String,
    host: String,
    trace_observer_host: String,
    trace_observer_port: u16,
}

impl AppKey {
    /// The key of an App query.
    pub fn of(info: &AppInfo) -> AppKey {
        AppKey {
            license: info.license.clone(),
            app_name: info.app_name.clone(),
            redirect_collector: info.redirect_collector.clone(),
            high_security: info.high_security,
            agent_language: info.agent_language.clone(),
            policies_hash: supported_policies_hash(&info.supported_security_policies),
            host: info.host.clone(),
            trace_observer_host: info.trace_observer_host.clone(),
            trace_observer_port: info.trace_observer_port,
        }
    }

    /// The application name, for logs.
    pub fn app_name(&self) -> &str {
        &self.app_name
    }

    /// A stable opaque id of this application for the disk spool: SHA-256
    /// over every key field, so the license key never reaches the disk.
    pub fn spool_id(&self) -> String {
        let mut h = Sha256::new();
        for field in [
            self.license.as_str(),
            &self.app_name,
            &self.redirect_collector,
            if self.high_security { "1" } else { "0" },
            &self.agent_language,
            &self.policies_hash,
            &self.host,
            &self.trace_observer_host,
            &self.trace_observer_port.to_string(),
        ] {
            h.update(field.as_bytes());
            h.update([0]);
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// SHA-256 (hex) of the sorted names of the policies the agent supports.
fn supported_policies_hash(json: &str) -> String {
    let mut names: Vec<String> = serde_json::from_str::<serde_json::Value>(json)
        .ok()
        .and_then(|v| v.as_object().cloned())
        .map(|obj| {
            obj.into_iter()
                .filter(|(_, p)| {
                    p.get("supported").and_then(serde_json::Value::as_bool) == Some(true)
                })
                .map(|(name, _)| name)
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let digest = Sha256::digest(names.concat().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
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
    /// Connected: the run info, and a started run task.
    Connected(RunInfo, RunSender),
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

/// Why a run ended (reported by its task).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    /// No activity for `app_timeout`: forget the application entirely.
    Expired,
    /// The collector answered 410 to a harvest.
    Disconnected,
    /// The collector asked for a restart (401/409): reconnect.
    Restart,
}

/// Where the registry gets connects and runs from; the worker's real one
/// talks to the collector, tests use a fake.
pub trait Upstream: Send + Sync + 'static {
    /// Preconnects and connects `info`'s application and, on success,
    /// starts the task that will own the new run. `activity` is shared with
    /// that task (last activity, ms since the registry's epoch).
    fn connect(
        &self,
        key: AppKey,
        info: Arc<AppInfo>,
        activity: Arc<AtomicU64>,
        registry: RegistryHandle,
    ) -> BoxFuture<ConnectOutcome>;
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
            app_timeout: Some(Duration::from_secs(600)),
        }
    }
}

enum RegistryMsg {
    Query(AppQuery, oneshot::Sender<AppReplyInfo>),
    ConnectDone(AppKey, ConnectOutcome),
    RunEnded(AppKey, Arc<str>, RunEnd),
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
        self.tx.send(RegistryMsg::Query(query, tx)).await.ok()?;
        rx.await.ok()
    }

    /// Reports that a run task ended.
    pub async fn run_ended(&self, key: AppKey, run_id: Arc<str>, end: RunEnd) {
        let _ = self.tx.send(RegistryMsg::RunEnded(key, run_id, end)).await;
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

enum AppState {
    Unknown,
    Connecting,
    Connected(RunInfo, RunSender),
    Disconnected,
    InvalidLicense,
}

struct AppEntry {
    info: Arc<AppInfo>,
    state: AppState,
    activity: Arc<AtomicU64>,
    failures: u32,
    next_attempt: Instant,
}

struct Registry {
    config: RegistryConfig,
    apps: HashMap<AppKey, AppEntry>,
    runs: Runs,
    upstream: Arc<dyn Upstream>,
    handle: RegistryHandle,
    limit_warned: bool,
}

/// Starts the registry task.
pub fn spawn(config: RegistryConfig, runs: Runs, upstream: Arc<dyn Upstream>) -> RegistryHandle {
    let (tx, rx) = mpsc::channel(1024);
    let handle = RegistryHandle {
        tx,
        epoch: Instant::now(),
    };
    let registry = Registry {
        config,
        apps: HashMap::new(),
        runs,
        upstream,
        handle: handle.clone(),
        limit_warned: false,
    };
    tokio::spawn(registry.run(rx));
    handle
}

impl Registry {
    async fn run(mut self, mut rx: mpsc::Receiver<RegistryMsg>) {
        while let Some(msg) = rx.recv().await {
            match msg {
                RegistryMsg::Query(query, reply) => {
                    let answer = self.query(query);
                    let _ = reply.send(answer);
                }
                RegistryMsg::ConnectDone(key, outcome) => self.connect_done(key, outcome),
                RegistryMsg::RunEnded(key, run_id, end) => self.run_ended(key, &run_id, end),
                RegistryMsg::Shutdown(deadline, done) => {
                    let finished = self.shutdown(deadline).await;
                    let _ = done.send(finished);
                    return;
                }
            }
        }
    }

    fn query(&mut self, query: AppQuery) -> AppReplyInfo {
        if let Some(run_id) = &query.run_id {
            if self.runs.contains(run_id) {
                return AppReplyInfo::status(AppStatus::StillValid);
            }
        }
        let key = AppKey::of(&query.info);
        let now = Instant::now();
        if !self.apps.contains_key(&key) {
            if self.apps.len() >= self.config.app_limit {
                self.forget_idle_unconnected();
            }
            if self.apps.len() >= self.config.app_limit {
                if !self.limit_warned {
                    tracing::warn!(
                        limit = self.config.app_limit,
                        app = %query.info.app_name,
                        "application limit reached; new applications are not connected"
                    );
                    self.limit_warned = true;
                }
                return AppReplyInfo::status(AppStatus::Unknown);
            }
            tracing::info!(app = %query.info.app_name, "new application");
            self.apps.insert(
                key.clone(),
                AppEntry {
                    info: Arc::new(query.info),
                    state: AppState::Unknown,
                    activity: Arc::new(AtomicU64::new(0)),
                    failures: 0,
                    next_attempt: now,
                },
            );
        }
        let now_ms = self.handle.now_ms();
        let Some(entry) = self.apps.get_mut(&key) else {
            return AppReplyInfo::status(AppStatus::Unknown);
        };
        entry.activity.store(now_ms, Ordering::Relaxed);
        let reply = match &entry.state {
            AppState::Unknown | AppState::Connecting => AppReplyInfo::status(AppStatus::Unknown),
            AppState::Disconnected => AppReplyInfo::status(AppStatus::Disconnected),
            AppState::InvalidLicense => AppReplyInfo::status(AppStatus::InvalidLicense),
            AppState::Connected(run, _) => AppReplyInfo {
                status: AppStatus::Connected,
                connect_reply: Some(run.connect_reply.clone()),
                security_policies: Some(run.security_policies.clone()),
                connect_timestamp: run.connect_timestamp,
                harvest_frequency: run.harvest_frequency,
                sampling_target: run.sampling_target,
            },
        };
        if matches!(entry.state, AppState::Unknown) && now >= entry.next_attempt {
            entry.state = AppState::Connecting;
            let upstream = Arc::clone(&self.upstream);
            let info = Arc::clone(&entry.info);
            let activity = Arc::clone(&entry.activity);
            let handle = self.handle.clone();
            tokio::spawn(async move {
                let outcome = upstream
                    .connect(key.clone(), info, activity, handle.clone())
                    .await;
                let _ = handle.tx.send(RegistryMsg::ConnectDone(key, outcome)).await;
            });
        }
        reply
    }

    fn connect_done(&mut self, key: AppKey, outcome: ConnectOutcome) {
        let Some(entry) = self.apps.get_mut(&key) else {
            return;
        };
        match outcome {
            ConnectOutcome::Connected(run, tx) => {
                tracing::info!(app = %key.app_name, run_id = %run.run_id, "application connected");
                entry.failures = 0;
                self.runs.insert(Arc::clone(&run.run_id), tx.clone());
                entry.state = AppState::Connected(run, tx);
            }
            ConnectOutcome::Disconnected => {
                tracing::warn!(app = %key.app_name, "the collector disconnected the application (410)");
                entry.state = AppState::Disconnected;
            }
            ConnectOutcome::InvalidLicense => {
                tracing::error!(app = %key.app_name, "the collector refused the license key (401)");
                entry.state = AppState::InvalidLicense;
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
                tracing::warn!(
                    app = %key.app_name,
                    %reason,
                    retry_in = ?delay,
                    "connect failed"
                );
                entry.next_attempt = Instant::now() + delay;
                entry.state = AppState::Unknown;
            }
        }
    }

    fn run_ended(&mut self, key: AppKey, run_id: &str, end: RunEnd) {
        self.runs.remove(run_id);
        let Some(entry) = self.apps.get_mut(&key) else {
            return;
        };
        // Ignore news about a run this app has already replaced.
        if let AppState::Connected(run, _) = &entry.state {
            if &*run.run_id != run_id {
                return;
            }
        }
        match end {
            RunEnd::Expired => {
                tracing::info!(app = %key.app_name, run_id, "application expired after inactivity");
                self.apps.remove(&key);
            }
            RunEnd::Disconnected => entry.state = AppState::Disconnected,
            RunEnd::Restart => {
                tracing::info!(app = %key.app_name, run_id, "collector asked for a reconnect");
                entry.state = AppState::Unknown;
                entry.next_attempt = Instant::now();
            }
        }
    }

    /// At the application limit: forgets applications that never connected
    /// or were refused (Unknown, Disconnected, InvalidLicense) and that no
    /// agent has asked about for `app_timeout`. New Relic's daemon keeps
    /// them for the life of the process, so 250 such names (typos, a
    /// deleted application, a test license) lock every new application
    /// out until a restart. Connected apps expire through their run.
    fn forget_idle_unconnected(&mut self) {
        let Some(timeout) = self.config.app_timeout else {
            return;
        };
        let now_ms = self.handle.now_ms();
        let timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        self.apps.retain(|key, entry| {
            let idle = now_ms.saturating_sub(entry.activity.load(Ordering::Relaxed));
            let unconnected = matches!(
                entry.state,
                AppState::Unknown | AppState::Disconnected | AppState::InvalidLicense
            );
            let forget = unconnected && idle >= timeout_ms;
            if forget {
                tracing::info!(app = %key.app_name, "forgetting an idle application that is not connected");
            }
            !forget
        });
        if self.apps.len() < self.config.app_limit {
            self.limit_warned = false;
        }
    }

    async fn shutdown(&mut self, deadline: Duration) -> usize {
        let mut waits = Vec::new();
        for entry in self.apps.values() {
            if let AppState::Connected(_, tx) = &entry.state {
                let (done_tx, done_rx) = oneshot::channel();
                if tx.send(RunMsg::FinalHarvest(done_tx)).await.is_ok() {
                    waits.push(done_rx);
                }
            }
        }
        let total = waits.len();
        let all = async {
            let mut done = 0;
            for w in waits {
                if w.await.is_ok() {
                    done += 1;
                }
            }
            done
        };
        match tokio::time::timeout(deadline, all).await {
            Ok(done) => done,
            Err(_) => {
                tracing::warn!(
                    runs = total,
                    "final harvest did not finish before the deadline"
                );
                0
            }
        }
    }
}

/// Longest connect `Retry-After` honoured.
const MAX_CONNECT_RETRY_AFTER: Duration = Duration::from_secs(600);

fn retry_delay(config: &RegistryConfig, failures: u32) -> Duration {
    let shift = failures.saturating_sub(1).min(16);
    config
        .retry_initial
        .saturating_mul(1 << shift)
        .min(config.retry_max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Connects according to a script of outcomes, recording every attempt.
    struct FakeUpstream {
        script: Mutex<Vec<&'static str>>,
        attempts: AtomicU64,
        runs: Mutex<Vec<mpsc::Receiver<RunMsg>>>,
    }

    impl FakeUpstream {
        fn new(script: &[&'static str]) -> Arc<Self> {
            Arc::new(FakeUpstream {
                script: Mutex::new(script.iter().rev().copied().collect()),
                attempts: AtomicU64::new(0),
                runs: Mutex::new(Vec::new()),
            })
        }
    }

    impl Upstream for FakeUpstream {
        fn connect(
            &self,
            _key: AppKey,
            _info: Arc<AppInfo>,
            _activity: Arc<AtomicU64>,
            _registry: RegistryHandle,
        ) -> BoxFuture<ConnectOutcome> {
            let n = self.attempts.fetch_add(1, Ordering::SeqCst) + 1;
            let step = self.script.lock().unwrap().pop().unwrap_or("fail");
            let outcome = match step {
                "ok" => {
                    let (tx, rx) = mpsc::channel(8);
                    self.runs.lock().unwrap().push(rx);
                    let tx = RunSender::new(tx, crate::worker::runs::queue_budget());
                    ConnectOutcome::Connected(
                        RunInfo {
                            run_id: format!("RUN-{n}").into(),
                            connect_reply: format!(r#"{{"agent_run_id":"RUN-{n}"}}"#),
                            security_policies: "{}".into(),
                            connect_timestamp: 1,
                            harvest_frequency: 60,
                            sampling_target: 10,
                        },
                        tx,
                    )
                }
                "410" => ConnectOutcome::Disconnected,
                "401" => ConnectOutcome::InvalidLicense,
                "429" => ConnectOutcome::Failed {
                    reason: "scripted 429".into(),
                    retry_after: Some(Duration::from_secs(20)),
                },
                _ => ConnectOutcome::Failed {
                    reason: "scripted failure".into(),
                    retry_after: None,
                },
            };
            Box::pin(async move { outcome })
        }
    }

    fn app(name: &str) -> AppInfo {
        AppInfo {
            license: "0123456789012345678901234567890123456789".into(),
            app_name: name.into(),
            agent_language: "php".into(),
            supported_security_policies:
                r#"{"record_sql":{"enabled":true,"supported":true},"custom_events":{"enabled":true,"supported":false}}"#
                    .into(),
            ..Default::default()
        }
    }

    async fn ask(reg: &RegistryHandle, name: &str, run_id: Option<&str>) -> AppReplyInfo {
        reg.query(AppQuery {
            info: app(name),
            run_id: run_id.map(str::to_owned),
        })
        .await
        .unwrap()
    }

    async fn settle() {
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn new_app_is_unknown_then_connected_then_still_valid() {
        let upstream = FakeUpstream::new(&["ok"]);
        let runs = Runs::default();
        let reg = spawn(RegistryConfig::default(), runs.clone(), upstream.clone());
        assert_eq!(ask(&reg, "a", None).await.status, AppStatus::Unknown);
        settle().await;
        assert_eq!(
            upstream.attempts.load(Ordering::SeqCst),
            1,
            "connect starts at once"
        );
        let reply = ask(&reg, "a", None).await;
        assert_eq!(reply.status, AppStatus::Connected);
        assert_eq!(
            reply.connect_reply.as_deref(),
            Some(r#"{"agent_run_id":"RUN-1"}"#)
        );
        assert_eq!(reply.harvest_frequency, 60);
        assert!(runs.contains("RUN-1"));
        assert_eq!(
            ask(&reg, "a", Some("RUN-1")).await.status,
            AppStatus::StillValid
        );
        // A stale run id falls through to the key lookup.
        assert_eq!(
            ask(&reg, "a", Some("RUN-0")).await.status,
            AppStatus::Connected
        );
    }

    #[tokio::test(start_paused = true)]
    async fn failed_connects_back_off_and_terminal_states_stick() {
        let upstream = FakeUpstream::new(&["fail", "fail", "410"]);
        let reg = spawn(RegistryConfig::default(), Runs::default(), upstream.clone());
        assert_eq!(ask(&reg, "a", None).await.status, AppStatus::Unknown);
        settle().await;
        // Within the first retry delay (1 s) queries do not reconnect.
        assert_eq!(ask(&reg, "a", None).await.status, AppStatus::Unknown);
        settle().await;
        assert_eq!(upstream.attempts.load(Ordering::SeqCst), 1);
        tokio::time::advance(Duration::from_millis(1001)).await;
        ask(&reg, "a", None).await;
        settle().await;
        assert_eq!(upstream.attempts.load(Ordering::SeqCst), 2);
        // Second failure: 2 s.
        tokio::time::advance(Duration::from_millis(1500)).await;
        ask(&reg, "a", None).await;
        settle().await;
        assert_eq!(upstream.attempts.load(Ordering::SeqCst), 2);
        tokio::time::advance(Duration::from_millis(600)).await;
        ask(&reg, "a", None).await;
        settle().await;
        assert_eq!(upstream.attempts.load(Ordering::SeqCst), 3);
        assert_eq!(ask(&reg, "a", None).await.status, AppStatus::Disconnected);
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert_eq!(ask(&reg, "a", None).await.status, AppStatus::Disconnected);
        assert_eq!(upstream.attempts.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_connect_retry_after_is_honoured() {
        let upstream = FakeUpstream::new(&["429", "ok"]);
        let reg = spawn(RegistryConfig::default(), Runs::default(), upstream.clone());
        ask(&reg, "a", None).await;
        settle().await;
        // The backoff alone would allow another attempt after 1 s.
        for _ in 0..19 {
            tokio::time::advance(Duration::from_secs(1)).await;
            ask(&reg, "a", None).await;
            settle().await;
        }
        assert_eq!(upstream.attempts.load(Ordering::SeqCst), 1);
        tokio::time::advance(Duration::from_millis(1001)).await;
        ask(&reg, "a", None).await;
        settle().await;
        assert_eq!(upstream.attempts.load(Ordering::SeqCst), 2);
        assert_eq!(ask(&reg, "a", None).await.status, AppStatus::Connected);
    }

    #[tokio::test(start_paused = true)]
    async fn idle_refused_apps_make_room_at_the_limit() {
        let upstream = FakeUpstream::new(&["401", "410", "ok"]);
        let config = RegistryConfig {
            app_limit: 2,
            app_timeout: Some(Duration::from_secs(600)),
            ..Default::default()
        };
        let reg = spawn(config, Runs::default(), upstream.clone());
        ask(&reg, "typo", None).await;
        ask(&reg, "deleted", None).await;
        settle().await;
        assert_eq!(
            ask(&reg, "typo", None).await.status,
            AppStatus::InvalidLicense
        );
        assert_eq!(
            ask(&reg, "deleted", None).await.status,
            AppStatus::Disconnected
        );
        // While they are recent, the limit holds.
        assert_eq!(ask(&reg, "new", None).await.status, AppStatus::Unknown);
        settle().await;
        assert_eq!(upstream.attempts.load(Ordering::SeqCst), 2);
        // Nobody asks about them for app_timeout: a new app gets in.
        tokio::time::advance(Duration::from_secs(601)).await;
        ask(&reg, "new", None).await;
        settle().await;
        assert_eq!(upstream.attempts.load(Ordering::SeqCst), 3);
        assert_eq!(ask(&reg, "new", None).await.status, AppStatus::Connected);
    }

    #[tokio::test(start_paused = true)]
    async fn invalid_license() {
        let upstream = FakeUpstream::new(&["401"]);
        let reg = spawn(RegistryConfig::default(), Runs::default(), upstream);
        ask(&reg, "a", None).await;
        settle().await;
        assert_eq!(ask(&reg, "a", None).await.status, AppStatus::InvalidLicense);
    }

    #[tokio::test(start_paused = true)]
    async fn app_limit_is_enforced() {
        let upstream = FakeUpstream::new(&[]);
        let config = RegistryConfig {
            app_limit: 2,
            ..Default::default()
        };
        let reg = spawn(config, Runs::default(), upstream.clone());
        ask(&reg, "a", None).await;
        ask(&reg, "b", None).await;
        assert_eq!(ask(&reg, "c", None).await.status, AppStatus::Unknown);
        settle().await;
        assert_eq!(
            upstream.attempts.load(Ordering::SeqCst),
            2,
            "the third app never connects"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn expiry_forgets_the_app_and_restart_reconnects() {
        let upstream = FakeUpstream::new(&["ok", "ok", "ok"]);
        let runs = Runs::default();
        let reg = spawn(RegistryConfig::default(), runs.clone(), upstream.clone());
        ask(&reg, "a", None).await;
        settle().await;
        assert_eq!(ask(&reg, "a", None).await.status, AppStatus::Connected);
        let key = AppKey::of(&app("a"));
        reg.run_ended(key.clone(), "RUN-1".into(), RunEnd::Restart)
            .await;
        assert_eq!(ask(&reg, "a", None).await.status, AppStatus::Unknown);
        assert!(!runs.contains("RUN-1"));
        settle().await;
        let reply = ask(&reg, "a", None).await;
        assert_eq!(
            reply.connect_reply.as_deref(),
            Some(r#"{"agent_run_id":"RUN-2"}"#)
        );
        reg.run_ended(key, "RUN-2".into(), RunEnd::Expired).await;
        assert_eq!(
            ask(&reg, "a", Some("RUN-2")).await.status,
            AppStatus::Unknown
        );
        settle().await;
        assert_eq!(
            upstream.attempts.load(Ordering::SeqCst),
            3,
            "a fresh app connects again"
        );
    }

    #[test]
    fn app_key_hashes_only_supported_policies_in_sorted_order() {
        let a = app("x");
        let mut b = app("x");
        b.supported_security_policies =
            r#"{"custom_events":{"enabled":false,"supported":false},"record_sql":{"enabled":false,"supported":true}}"#
                .into();
        assert_eq!(AppKey::of(&a), AppKey::of(&b));
        b.supported_security_policies = "{}".into();
        assert_ne!(AppKey::of(&a), AppKey::of(&b));
        let mut c = app("x");
        c.settings = "{\"other\":1}".into();
        assert_eq!(
            AppKey::of(&a),
            AppKey::of(&c),
            "settings are not part of the key"
        );
    }
}
