//! Runs outlive the worker: the real daemon, agents speaking the wire
//! protocol with New Relic's captured frames, the collector stand-in.
//!
//! New Relic's agent keeps sending the run id it has for up to 20 s before
//! it asks again, and cannot be changed; these tests send its Transactions
//! right after a worker crash or a daemon restart, without an App query
//! first, and require every one of them in the harvest.

use collector_standin::{RecordedCall, Standin, StandinConfig};
use seraph_e2e::agent::{app_info, Address, AgentConn};
use seraph_e2e::daemon::{children_of, Daemon, DaemonOptions};
use seraph_e2e::{harvest, vectors};
use seraph_wire::message::{decode, Body};
use seraph_wire::{AppStatus, TransactionData};
use std::time::Duration;

const LICENSE: &str = "0123456789012345678901234567890123456789";
const WAIT: Duration = Duration::from_secs(30);

/// New Relic's captured web transaction.
fn web_transaction() -> TransactionData {
    let c = vectors::transactions()
        .into_iter()
        .find(|c| c.scenario.starts_with("07"))
        .expect("a captured web transaction");
    let mut scratch = Vec::new();
    let msg = decode(c.body(), &mut scratch).unwrap();
    let Body::Transaction(t) = msg.body else {
        panic!("not a transaction")
    };
    TransactionData::from_fb(&t)
}

async fn daemon(standin: &Standin, cfg: Vec<String>, watcher: bool) -> Daemon {
    Daemon::start(DaemonOptions {
        cfg,
        ca_pem: standin.ca_pem().map(str::to_owned),
        foreground: !watcher,
        args: if watcher {
            vec!["--watchdog-foreground".into()]
        } else {
            Vec::new()
        },
        ..Default::default()
    })
    .await
}

async fn connect(daemon: &Daemon, standin: &Standin, app: &str) -> (AgentConn, String) {
    let mut agent = daemon.agent().await;
    let run = agent
        .connect_app(&app_info(LICENSE, app, &standin.host()), WAIT)
        .await
        .expect("app connects");
    (agent, run)
}

async fn send(conn: &mut AgentConn, run: &str, n: usize) {
    let t = web_transaction();
    for _ in 0..n {
        conn.send_transaction(run, &t).await.unwrap();
    }
}

fn calls_of_run(standin: &Standin, run: &str) -> Vec<RecordedCall> {
    standin
        .calls()
        .into_iter()
        .filter(|c| c.run_id.as_deref() == Some(run))
        .collect()
}

/// Waits until the collector took `n` transactions under `run`.
async fn wait_harvested(standin: &Standin, daemon: &Daemon, run: &str, n: f64) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let got = harvest::transactions(&calls_of_run(standin, run));
        if got >= n {
            assert_eq!(got, n, "more transactions than were sent");
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{got} of {n} transactions harvested under run {run}; log:\n{}",
            daemon.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Connects to `address`, retrying while nothing listens yet.
async fn reconnect(address: &Address) -> AgentConn {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Ok(conn) = AgentConn::connect(address).await {
            return conn;
        }
        assert!(tokio::time::Instant::now() < deadline, "nothing listens");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watcher_hands_runs_to_a_respawned_worker() {
    let standin = Standin::start(StandinConfig::fast()).await.unwrap();
    let daemon = daemon(&standin, Vec::new(), true).await;
    let (mut agent, run) = connect(&daemon, &standin, "handover").await;
    send(&mut agent, &run, 20).await;
    wait_harvested(&standin, &daemon, &run, 20.0).await;

    let worker = children_of(daemon.pid());
    assert_eq!(worker.len(), 1, "one worker: {worker:?}");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(worker[0] as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(agent.is_closed_by_peer(Duration::from_secs(5)).await);
    let deadline = tokio::time::Instant::now() + WAIT;
    while daemon.log_text().matches("listening for agents").count() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "no new worker");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // As New Relic's agent does: reconnect and send with the run id it
    // has, no App query first.
    let mut conn = reconnect(&daemon.address).await;
    let t = web_transaction();
    for _ in 0..30 {
        if let Err(e) = conn.send_transaction(&run, &t).await {
            panic!("{e}; log:\n{}", daemon.log_text());
        }
    }
    wait_harvested(&standin, &daemon, &run, 50.0).await;
    assert_eq!(standin.calls_for("connect").len(), 1, "no reconnect needed");
    assert!(daemon
        .log_text()
        .contains("carrying on a run of the previous worker"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_daemon_carries_runs_on_from_the_spool_directory() {
    let standin = Standin::start(StandinConfig::fast()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = vec![format!(
        "spool_dir = {}",
        dir.path().join("spool").display()
    )];
    let mut first = daemon(&standin, cfg.clone(), false).await;
    let (mut agent, run) = connect(&first, &standin, "restart").await;
    send(&mut agent, &run, 10).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let status = tokio::task::spawn_blocking(move || {
        let s = first.terminate(Duration::from_secs(30));
        (s, first)
    })
    .await
    .unwrap();
    assert!(status.0.success());
    wait_harvested(&standin, &status.1, &run, 10.0).await;

    let second = daemon(&standin, cfg, false).await;
    let mut conn = second.agent().await;
    send(&mut conn, &run, 15).await;
    // Held until an App query brings the license (it is not on disk),
    // which New Relic's agent sends within 20 s.
    let app = app_info(LICENSE, "restart", &standin.host());
    assert_eq!(
        conn.app_query(&app, Some(&run)).await.unwrap().status,
        AppStatus::StillValid
    );
    wait_harvested(&standin, &second, &run, 25.0).await;
    assert_eq!(standin.calls_for("connect").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_daemon_takes_on_the_run_an_agent_presents() {
    let standin = Standin::start(StandinConfig::fast()).await.unwrap();
    let mut first = daemon(&standin, Vec::new(), false).await;
    let (_agent, run) = connect(&first, &standin, "adopted").await;
    tokio::task::spawn_blocking(move || first.terminate(Duration::from_secs(30)))
        .await
        .unwrap();
    // No spool, no watcher: the new daemon knows nothing of the run. An
    // agent that asks first (Seraph's extension does, on every new
    // connection) keeps its run, and its Transactions are kept.
    let second = daemon(&standin, Vec::new(), false).await;
    let mut conn = second.agent().await;
    let app = app_info(LICENSE, "adopted", &standin.host());
    assert_eq!(
        conn.app_query(&app, Some(&run)).await.unwrap().status,
        AppStatus::StillValid
    );
    send(&mut conn, &run, 12).await;
    let new_run = conn.connect_app(&app, WAIT).await.unwrap();
    assert_ne!(new_run, run);
    wait_harvested(&standin, &second, &new_run, 12.0).await;
    // The agent's next query moves it to the new run.
    let reply = conn.app_query(&app, Some(&run)).await.unwrap();
    assert_eq!(reply.status, AppStatus::Connected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_longer_than_new_relics_retry_budget_costs_no_metrics() {
    let standin = Standin::start(StandinConfig::fast()).await.unwrap();
    let daemon = daemon(&standin, Vec::new(), false).await;
    let (mut agent, run) = connect(&daemon, &standin, "outage").await;
    // Every call fails for 8 harvests (New Relic's daemon drops metrics
    // after 5): first 503, then the collector's connection dropped.
    standin.inject(collector_standin::Fault::status(503).times(usize::MAX));
    send(&mut agent, &run, 10).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    standin.clear_faults();
    standin.inject(collector_standin::Fault::drop_connection().times(usize::MAX));
    send(&mut agent, &run, 10).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    standin.clear_faults();
    wait_harvested(&standin, &daemon, &run, 20.0).await;
    let log = daemon.log_text();
    assert!(log.contains("collector answered 503"), "{log}");
    assert!(log.contains("collector unreachable"), "{log}");
    let dropped: Vec<&str> = log
        .lines()
        .filter(|l| (l.contains("Warning:") || l.contains("Error:")) && l.contains("dropped"))
        .collect();
    assert!(dropped.is_empty(), "{dropped:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_asked_by_the_collector_keeps_the_data_without_a_spool() {
    let standin = Standin::start(StandinConfig::fast()).await.unwrap();
    let daemon = daemon(&standin, Vec::new(), false).await;
    let (mut agent, run) = connect(&daemon, &standin, "restart").await;
    standin.set_run_status(&run, Some(409));
    send(&mut agent, &run, 10).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while standin.calls_for("connect").len() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "no reconnect");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Agents still using the old run id lose nothing either.
    send(&mut agent, &run, 5).await;
    let new_run = agent
        .connect_app(&app_info(LICENSE, "restart", &standin.host()), WAIT)
        .await
        .unwrap();
    assert_ne!(new_run, run);
    wait_harvested(&standin, &daemon, &new_run, 15.0).await;
}

/// SIGTERM first harvests everything while agents are still served (the
/// flush), and only then closes their connections and harvests what came
/// meanwhile: a flush held up by a slow collector leaves agents a daemon
/// to talk to, and nothing they send meanwhile is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_are_served_while_a_shutdown_harvests() {
    // 60 s harvests: only the shutdown posts.
    let standin = Standin::start(StandinConfig::default()).await.unwrap();
    let mut daemon = daemon(&standin, Vec::new(), false).await;
    let (mut agent, run) = connect(&daemon, &standin, "flush").await;
    send(&mut agent, &run, 5).await;
    standin.inject(
        collector_standin::Fault::delay(Duration::from_secs(3))
            .for_method("metric_data")
            .times(1),
    );
    daemon.signal(nix::sys::signal::Signal::SIGTERM);
    let deadline = tokio::time::Instant::now() + WAIT;
    while standin.active_calls("metric_data") == 0 {
        assert!(tokio::time::Instant::now() < deadline, "no flush");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The flush's metrics post hangs: a new agent connects, asks, sends.
    let mut late = AgentConn::connect(&daemon.address)
        .await
        .expect("the daemon still listens during the flush");
    let reply = late
        .app_query(&app_info(LICENSE, "flush", &standin.host()), Some(&run))
        .await
        .expect("App query answered during the flush");
    assert_eq!(reply.status, AppStatus::StillValid);
    send(&mut late, &run, 7).await;
    let status = tokio::task::spawn_blocking(move || {
        let status = daemon.wait_exit(WAIT);
        (status, daemon)
    })
    .await
    .unwrap();
    assert!(status.0.success(), "{}", status.1.log_text());
    let posts = calls_of_run(&standin, &run);
    assert_eq!(
        harvest::transactions(&posts),
        12.0,
        "{}",
        status.1.log_text()
    );
    let metric_posts = posts.iter().filter(|c| c.method == "metric_data").count();
    assert_eq!(metric_posts, 2, "the flush's, then the final harvest's");
}
