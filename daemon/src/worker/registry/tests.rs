use super::*;
use crate::worker::runs::{next_task_id, queue_budget};
use std::sync::atomic::AtomicBool;
use std::sync::Mutex;

/// Connects according to a script of outcomes, recording every attempt
/// and every task it starts.
struct FakeUpstream {
    script: Mutex<Vec<&'static str>>,
    attempts: AtomicU64,
    /// Task ids of the tasks started (receivers kept open).
    tasks: Mutex<Vec<(u64, mpsc::Receiver<RunMsg>)>>,
    /// What a probe answers.
    collector_up: AtomicBool,
    probes: AtomicU64,
    resumed: AtomicU64,
}

impl FakeUpstream {
    fn new(script: &[&'static str]) -> Arc<Self> {
        Arc::new(FakeUpstream {
            script: Mutex::new(script.iter().rev().copied().collect()),
            attempts: AtomicU64::new(0),
            tasks: Mutex::new(Vec::new()),
            collector_up: AtomicBool::new(false),
            probes: AtomicU64::new(0),
            resumed: AtomicU64::new(0),
        })
    }

    fn new_task(&self) -> RunSender {
        let (tx, rx) = mpsc::channel(8);
        let id = next_task_id();
        self.tasks.lock().unwrap().push((id, rx));
        RunSender::new(tx, queue_budget(), id)
    }

    fn started(&self) -> usize {
        self.tasks.lock().unwrap().len()
    }

    fn task(&self, i: usize) -> u64 {
        self.tasks.lock().unwrap()[i].0
    }

    fn attempts(&self) -> u64 {
        self.attempts.load(Ordering::SeqCst)
    }
}

fn run_info(run_id: &str) -> RunInfo {
    RunInfo {
        run_id: run_id.into(),
        connect_reply: format!(r#"{{"agent_run_id":"{run_id}"}}"#),
        security_policies: "{}".into(),
        connect_timestamp: 1,
        harvest_frequency: 60,
        sampling_target: 10,
    }
}

impl Upstream for FakeUpstream {
    fn start(
        &self,
        _id: AppId,
        _info: Arc<AppInfo>,
        _activity: Arc<AtomicU64>,
        _registry: RegistryHandle,
    ) -> RunSender {
        self.new_task()
    }

    fn connect(
        &self,
        _id: AppId,
        info: Arc<AppInfo>,
        _run: RunSender,
    ) -> BoxFuture<ConnectOutcome> {
        let n = self.attempts.fetch_add(1, Ordering::SeqCst) + 1;
        let step = self.script.lock().unwrap().pop().unwrap_or("fail");
        let outcome = match step {
            "ok" => {
                let run = run_info(&format!("RUN-{n}"));
                let record = RunRecord::new(&AppKey::of(&info), &info, &run, "fake", None);
                ConnectOutcome::Connected(run, Box::new(record))
            }
            "same" => {
                let run = run_info("RUN-1");
                let record = RunRecord::new(&AppKey::of(&info), &info, &run, "fake", None);
                ConnectOutcome::Connected(run, Box::new(record))
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

    fn probe(&self, _info: Arc<AppInfo>) -> BoxFuture<bool> {
        self.probes.fetch_add(1, Ordering::SeqCst);
        let up = self.collector_up.load(Ordering::SeqCst);
        Box::pin(async move { up })
    }

    fn resume(
        &self,
        record: &RunRecord,
        _info: Arc<AppInfo>,
        run: Option<RunSender>,
        _activity: Arc<AtomicU64>,
        _registry: RegistryHandle,
    ) -> Option<(RunInfo, RunSender)> {
        self.resumed.fetch_add(1, Ordering::SeqCst);
        let tx = run.unwrap_or_else(|| self.new_task());
        Some((run_info(&record.run_id), tx))
    }
}

const LICENSE: &str = "0123456789012345678901234567890123456789";

fn app(name: &str) -> AppInfo {
    AppInfo {
        license: LICENSE.into(),
        app_name: name.into(),
        agent_language: "php".into(),
        ..Default::default()
    }
}

fn start(config: RegistryConfig, upstream: Arc<FakeUpstream>) -> (RegistryHandle, Runs) {
    start_with(config, upstream, Vec::new())
}

fn start_with(
    config: RegistryConfig,
    upstream: Arc<FakeUpstream>,
    restored: Vec<RunRecord>,
) -> (RegistryHandle, Runs) {
    let runs = Runs::default();
    let reg = spawn(
        config,
        RegistryParts {
            runs: runs.clone(),
            upstream,
            health: Arc::new(CollectorHealth::default()),
            journal: Journal::default(),
            restored,
        },
    );
    (reg, runs)
}

async fn ask(reg: &RegistryHandle, name: &str, run_id: Option<&str>) -> AppReplyInfo {
    reg.query(AppQuery {
        info: app(name),
        run_id: run_id.map(str::to_owned),
    })
    .await
    .unwrap()
}

fn id_of(name: &str) -> AppId {
    AppKey::of(&app(name)).spool_id().into()
}

async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn new_app_is_unknown_then_connected_then_still_valid() {
    let upstream = FakeUpstream::new(&["ok"]);
    let (reg, runs) = start(RegistryConfig::default(), upstream.clone());
    assert_eq!(ask(&reg, "a", None).await.status, AppStatus::Unknown);
    settle().await;
    assert_eq!(upstream.attempts(), 1, "connect starts at once");
    let reply = ask(&reg, "a", None).await;
    assert_eq!(reply.status, AppStatus::Connected);
    assert_eq!(
        reply.connect_reply.as_deref(),
        Some(r#"{"agent_run_id":"RUN-1"}"#)
    );
    assert_eq!(reply.harvest_frequency, 60);
    assert!(runs.is_current("RUN-1"));
    assert_eq!(
        ask(&reg, "a", Some("RUN-1")).await.status,
        AppStatus::StillValid
    );
    assert_eq!(upstream.started(), 1, "one task for the application");
}

#[tokio::test(start_paused = true)]
async fn failed_connects_back_off_and_terminal_states_stick() {
    let upstream = FakeUpstream::new(&["fail", "fail", "410"]);
    let (reg, _runs) = start(RegistryConfig::default(), upstream.clone());
    assert_eq!(ask(&reg, "a", None).await.status, AppStatus::Unknown);
    settle().await;
    // Within the first retry delay (1 s) nothing reconnects.
    assert_eq!(ask(&reg, "a", None).await.status, AppStatus::Unknown);
    settle().await;
    assert_eq!(upstream.attempts(), 1);
    tokio::time::advance(Duration::from_millis(1001)).await;
    ask(&reg, "a", None).await;
    settle().await;
    assert_eq!(upstream.attempts(), 2);
    // Second failure: 2 s.
    tokio::time::advance(Duration::from_millis(1500)).await;
    ask(&reg, "a", None).await;
    settle().await;
    assert_eq!(upstream.attempts(), 2);
    tokio::time::advance(Duration::from_millis(600)).await;
    ask(&reg, "a", None).await;
    settle().await;
    assert_eq!(upstream.attempts(), 3);
    assert_eq!(ask(&reg, "a", None).await.status, AppStatus::Disconnected);
    tokio::time::advance(Duration::from_secs(3600)).await;
    assert_eq!(ask(&reg, "a", None).await.status, AppStatus::Disconnected);
    assert_eq!(upstream.attempts(), 3);
}

#[tokio::test(start_paused = true)]
async fn applications_waiting_for_a_connect_retry_without_being_asked() {
    let upstream = FakeUpstream::new(&["fail", "fail", "ok"]);
    let (reg, _runs) = start(RegistryConfig::default(), upstream.clone());
    ask(&reg, "a", None).await;
    settle().await;
    for _ in 0..4 {
        tokio::time::advance(Duration::from_secs(1)).await;
        settle().await;
    }
    assert_eq!(upstream.attempts(), 3, "1 s, then 2 s later");
    assert_eq!(ask(&reg, "a", None).await.status, AppStatus::Connected);
}

#[tokio::test(start_paused = true)]
async fn a_connect_retry_after_is_honoured() {
    let upstream = FakeUpstream::new(&["429", "ok"]);
    let (reg, _runs) = start(RegistryConfig::default(), upstream.clone());
    ask(&reg, "a", None).await;
    settle().await;
    // The backoff alone would allow another attempt after 1 s.
    for _ in 0..19 {
        tokio::time::advance(Duration::from_secs(1)).await;
        ask(&reg, "a", None).await;
        settle().await;
    }
    assert_eq!(upstream.attempts(), 1);
    assert!(
        upstream.probes.load(Ordering::SeqCst) >= 5,
        "the collector is probed meanwhile"
    );
    tokio::time::advance(Duration::from_millis(1001)).await;
    ask(&reg, "a", None).await;
    settle().await;
    assert_eq!(upstream.attempts(), 2);
    assert_eq!(ask(&reg, "a", None).await.status, AppStatus::Connected);
}

#[tokio::test(start_paused = true)]
async fn once_the_collector_answers_again_waiting_applications_connect_within_seconds() {
    let upstream = FakeUpstream::new(&["fail", "fail", "fail", "fail", "fail", "ok"]);
    let (reg, _runs) = start(RegistryConfig::default(), upstream.clone());
    ask(&reg, "a", None).await;
    // Five failures: the backoff is now 16 s.
    let mut waited = Duration::ZERO;
    while upstream.attempts() < 5 {
        tokio::time::advance(Duration::from_millis(500)).await;
        settle().await;
        waited += Duration::from_millis(500);
        assert!(waited < Duration::from_secs(60));
    }
    settle().await;
    upstream.collector_up.store(true, Ordering::SeqCst);
    let recovered = Instant::now();
    while ask(&reg, "a", None).await.status != AppStatus::Connected {
        tokio::time::advance(Duration::from_millis(100)).await;
        settle().await;
    }
    assert!(
        recovered.elapsed() <= Duration::from_secs(4),
        "reconnected {:?} after the collector came back, not after the 16 s backoff",
        recovered.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn a_reconnect_keeps_the_task_and_earlier_run_ids_lead_to_it() {
    let upstream = FakeUpstream::new(&["ok", "ok"]);
    let (reg, runs) = start(RegistryConfig::default(), upstream.clone());
    ask(&reg, "a", None).await;
    settle().await;
    assert!(runs.is_current("RUN-1"));
    let task = upstream.task(0);
    reg.needs_reconnect(id_of("a"), task).await;
    settle().await;
    assert_eq!(
        upstream.attempts(),
        2,
        "reconnects without waiting for a query"
    );
    assert!(runs.is_current("RUN-2"));
    assert!(!runs.is_current("RUN-1"));
    assert_eq!(
        runs.get("RUN-1").unwrap().task_id(),
        task,
        "the old id is an alias"
    );
    assert_eq!(runs.get("RUN-2").unwrap().task_id(), task);
    assert_eq!(upstream.started(), 1, "the same task carries on");
    let reply = ask(&reg, "a", Some("RUN-1")).await;
    assert_eq!(reply.status, AppStatus::Connected);
    assert_eq!(
        reply.connect_reply.as_deref(),
        Some(r#"{"agent_run_id":"RUN-2"}"#)
    );
    assert_eq!(
        ask(&reg, "a", Some("RUN-2")).await.status,
        AppStatus::StillValid
    );
}

#[tokio::test(start_paused = true)]
async fn run_ids_of_an_earlier_worker_are_taken_on() {
    let upstream = FakeUpstream::new(&["ok", "fail", "ok"]);
    let (reg, runs) = start(RegistryConfig::default(), upstream.clone());
    // A connected application: a foreign id becomes an alias.
    ask(&reg, "a", None).await;
    settle().await;
    let reply = ask(&reg, "a", Some("OLD-7")).await;
    assert_eq!(reply.status, AppStatus::Connected);
    assert_eq!(runs.get("OLD-7").unwrap().task_id(), upstream.task(0));
    // A new application whose connect fails: the agent's run is carried
    // on, so its Transactions are kept meanwhile.
    assert_eq!(
        ask(&reg, "b", Some("OLD-9")).await.status,
        AppStatus::StillValid
    );
    assert!(runs.is_current("OLD-9"));
    settle().await;
    assert_eq!(
        ask(&reg, "b", Some("OLD-9")).await.status,
        AppStatus::StillValid
    );
    tokio::time::advance(Duration::from_millis(1001)).await;
    settle().await;
    assert!(runs.is_current("RUN-3"));
    assert_eq!(runs.get("OLD-9").unwrap().task_id(), upstream.task(1));
    assert_eq!(
        ask(&reg, "b", Some("OLD-9")).await.status,
        AppStatus::Connected
    );
    // Nonsense is not taken on.
    ask(&reg, "c", Some("bad id\n")).await;
    assert!(!runs.contains("bad id\n"));
}

#[tokio::test(start_paused = true)]
async fn runs_of_the_previous_worker_are_served_at_once() {
    let upstream = FakeUpstream::new(&[]);
    let with_license = {
        let info = app("a");
        RunRecord::new(&AppKey::of(&info), &info, &run_info("R-A"), "h", None)
    };
    let from_disk = {
        let info = app("b");
        RunRecord::new(&AppKey::of(&info), &info, &run_info("R-B"), "h", None)
            .without_license()
            .unwrap()
    };
    let (reg, runs) = start_with(
        RegistryConfig::default(),
        upstream.clone(),
        vec![with_license, from_disk],
    );
    assert!(runs.is_current("R-A"));
    assert!(runs.is_current("R-B"), "routed before the license is known");
    assert_eq!(upstream.resumed.load(Ordering::SeqCst), 2);
    assert_eq!(
        ask(&reg, "a", Some("R-A")).await.status,
        AppStatus::StillValid
    );
    // The first query for b brings its license to the restored run.
    assert_eq!(
        ask(&reg, "b", Some("R-B")).await.status,
        AppStatus::StillValid
    );
    assert_eq!(upstream.resumed.load(Ordering::SeqCst), 3);
    let reply = ask(&reg, "b", None).await;
    assert_eq!(reply.status, AppStatus::Connected);
    assert_eq!(
        reply.connect_reply.as_deref(),
        Some(r#"{"agent_run_id":"R-B"}"#)
    );
    settle().await;
    assert_eq!(upstream.attempts(), 0, "nothing needed a connect");
}

#[tokio::test(start_paused = true)]
async fn idle_refused_apps_make_room_at_the_limit() {
    let upstream = FakeUpstream::new(&["401", "410", "ok"]);
    let config = RegistryConfig {
        app_limit: 2,
        app_timeout: Some(Duration::from_secs(600)),
        ..Default::default()
    };
    let (reg, _runs) = start(config, upstream.clone());
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
    assert_eq!(upstream.attempts(), 2);
    // Nobody asks about them for app_timeout: a new app gets in.
    tokio::time::advance(Duration::from_secs(601)).await;
    ask(&reg, "new", None).await;
    settle().await;
    assert_eq!(upstream.attempts(), 3);
    assert_eq!(ask(&reg, "new", None).await.status, AppStatus::Connected);
}

#[tokio::test(start_paused = true)]
async fn invalid_license() {
    let upstream = FakeUpstream::new(&["401"]);
    let (reg, _runs) = start(RegistryConfig::default(), upstream);
    ask(&reg, "a", None).await;
    settle().await;
    assert_eq!(ask(&reg, "a", None).await.status, AppStatus::InvalidLicense);
}

#[tokio::test(start_paused = true)]
async fn malformed_license_keys_are_refused_without_asking_the_collector() {
    let upstream = FakeUpstream::new(&["ok"]);
    let (reg, _runs) = start(RegistryConfig::default(), upstream.clone());
    for license in ["", "short", "0123456789012345678901234567890123456789-x"] {
        let reply = reg
            .query(AppQuery {
                info: AppInfo {
                    license: license.into(),
                    ..app("a")
                },
                run_id: None,
            })
            .await
            .unwrap();
        assert_eq!(reply.status, AppStatus::InvalidLicense, "{license:?}");
    }
    settle().await;
    assert_eq!(upstream.attempts(), 0);
    assert_eq!(upstream.started(), 0);
}

#[tokio::test(start_paused = true)]
async fn app_limit_is_enforced() {
    let upstream = FakeUpstream::new(&[]);
    let config = RegistryConfig {
        app_limit: 2,
        ..Default::default()
    };
    let (reg, _runs) = start(config, upstream.clone());
    ask(&reg, "a", None).await;
    ask(&reg, "b", None).await;
    assert_eq!(ask(&reg, "c", None).await.status, AppStatus::Unknown);
    settle().await;
    assert_eq!(upstream.attempts(), 2, "the third app never connects");
}

#[tokio::test(start_paused = true)]
async fn expiry_forgets_the_app() {
    let upstream = FakeUpstream::new(&["ok", "ok"]);
    let (reg, runs) = start(RegistryConfig::default(), upstream.clone());
    ask(&reg, "a", None).await;
    settle().await;
    assert_eq!(ask(&reg, "a", None).await.status, AppStatus::Connected);
    reg.run_ended(id_of("a"), upstream.task(0), RunEnd::Expired)
        .await;
    settle().await;
    assert!(!runs.contains("RUN-1"));
    assert_eq!(ask(&reg, "a", None).await.status, AppStatus::Unknown);
    settle().await;
    assert_eq!(upstream.attempts(), 2, "a fresh app connects again");
    assert_eq!(upstream.started(), 2, "with a fresh task");
    // News about the old task changes nothing.
    reg.run_ended(id_of("a"), upstream.task(0), RunEnd::Disconnected)
        .await;
    assert_eq!(ask(&reg, "a", None).await.status, AppStatus::Connected);
}

#[tokio::test(start_paused = true)]
async fn a_run_id_handed_out_again_stays_current_however_many_aliases_come() {
    let upstream = FakeUpstream::new(&["ok", "same"]);
    let (reg, runs) = start(RegistryConfig::default(), upstream.clone());
    ask(&reg, "a", None).await;
    settle().await;
    reg.needs_reconnect(id_of("a"), upstream.task(0)).await;
    settle().await;
    assert_eq!(upstream.attempts(), 2);
    assert!(runs.is_current("RUN-1"));
    for i in 0..20 {
        ask(&reg, "a", Some(&format!("OLD-{i}"))).await;
    }
    assert!(runs.is_current("RUN-1"), "never trimmed as an alias");
    assert!(!runs.contains("OLD-0"), "the oldest aliases go");
    assert!(runs.contains("OLD-19"));
}
