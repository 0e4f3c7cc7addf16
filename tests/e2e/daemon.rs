//! End-to-end tests of the real `newrelic-daemon` binary against the
//! collector stand-in over TLS (a generated test CA, passed as `--cafile`):
//! agents' App and Transaction frames in, exact collector payloads out.

use collector_standin::{Fault, RecordedCall, Standin, StandinConfig};
use seraph_e2e::agent::{app_info, AgentConn};
use seraph_e2e::daemon::{Daemon, DaemonOptions};
use seraph_e2e::vectors;
use seraph_wire::message::{decode, Body};
use seraph_wire::{AppStatus, MetricData, TransactionData};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

const LICENSE: &str = "0123456789012345678901234567890123456789";
const WAIT: Duration = Duration::from_secs(20);

/// A stand-in (1 s harvests unless configured otherwise) and a daemon
/// trusting its CA.
async fn setup(standin: StandinConfig, cfg: &[&str]) -> (Standin, Daemon) {
    let options = DaemonOptions {
        cfg: cfg.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    setup_with(standin, options).await
}

/// [`setup`] with more daemon options (`cfg` gets the CA line added).
async fn setup_with(standin: StandinConfig, mut options: DaemonOptions) -> (Standin, Daemon) {
    let standin = Standin::start(standin).await.expect("start stand-in");
    options.ca_pem = standin.ca_pem().map(str::to_owned);
    let daemon = Daemon::start(options).await;
    (standin, daemon)
}

/// Connects `app_name` through the daemon and returns the run id.
async fn connect(daemon: &Daemon, standin: &Standin, app_name: &str) -> (AgentConn, String) {
    let mut agent = daemon.agent().await;
    let app = app_info(LICENSE, app_name, &standin.host());
    let first = agent.app_query(&app, None).await.unwrap();
    assert_eq!(
        first.status,
        AppStatus::Unknown,
        "a new app is Unknown at first"
    );
    let run_id = agent.connect_app(&app, WAIT).await.expect("app connects");
    (agent, run_id)
}

/// The captured transactions, owned.
fn captured() -> Vec<(String, TransactionData)> {
    vectors::transactions()
        .into_iter()
        .map(|c| {
            let mut scratch = Vec::new();
            let msg = decode(c.body(), &mut scratch).unwrap();
            let Body::Transaction(t) = msg.body else {
                panic!("{} is not a transaction", c.scenario)
            };
            (c.scenario.clone(), TransactionData::from_fb(&t))
        })
        .collect()
}

type Table = BTreeMap<(String, String), [f64; 6]>;

/// Sums every `metric_data` post (for one run) into one table.
fn harvested_metrics(calls: &[RecordedCall]) -> Table {
    let mut table = Table::new();
    for call in calls.iter().filter(|c| c.method == "metric_data") {
        for entry in call.payload[3].as_array().expect("metric array") {
            let name = entry[0]["name"].as_str().unwrap().to_owned();
            let scope = entry[0]["scope"].as_str().unwrap_or("").to_owned();
            let v: Vec<f64> = entry[1]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect();
            let slot =
                table
                    .entry((name, scope))
                    .or_insert([0.0, 0.0, 0.0, f64::MAX, f64::MIN, 0.0]);
            slot[0] += v[0];
            slot[1] += v[1];
            slot[2] += v[2];
            slot[3] = slot[3].min(v[3]);
            slot[4] = slot[4].max(v[4]);
            slot[5] += v[5];
        }
    }
    table
}

/// What the daemon must make of `txns` (protocol.md §4.4),
/// computed independently of the daemon's code.
fn expected_metrics(txns: &[TransactionData]) -> Table {
    let mut table = Table::new();
    let mut add = |name: &str, scope: &str, m: &MetricData| {
        let slot = table.entry((name.to_owned(), scope.to_owned())).or_insert([
            0.0,
            0.0,
            0.0,
            f64::MAX,
            f64::MIN,
            0.0,
        ]);
        slot[0] += m.count;
        slot[1] += m.total;
        slot[2] += m.exclusive;
        slot[3] = slot[3].min(m.min);
        slot[4] = slot[4].max(m.max);
        slot[5] += m.sum_squares;
    };
    for t in txns {
        for m in &t.metrics {
            add(&m.name, "", m);
            if m.scoped {
                add(&m.name, &t.name, m);
            }
        }
    }
    table
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// Harvest-time metrics the daemon adds itself (protocol.md §4.9).
fn is_daemon_metric(name: &str) -> bool {
    name == "Instance/Reporting"
        || name.starts_with("Supportability/TxnData/")
        || name.starts_with("Supportability/EventHarvest/")
        || name.starts_with("Supportability/Events/")
        || name.starts_with("Supportability/AnalyticsEvents/")
        || name.starts_with("Supportability/SpanEvent/")
        || name.starts_with("Supportability/Logging/Forwarding/Seen")
        || name.starts_with("Supportability/Logging/Forwarding/Sent")
        || name.starts_with("Supportability/PHP/Collector/")
        || name.starts_with("Supportability/Agent/Collector/")
        || name.starts_with("Supportability/PHP/SystemCertificates/")
        || name.starts_with("Supportability/Seraph/Daemon/")
}

/// Waits until the harvested `OtherTransaction/all` + `WebTransaction`
/// counts reach `n` transactions.
async fn wait_for_transactions(standin: &Standin, run_id: &str, n: f64) -> Vec<RecordedCall> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let calls: Vec<_> = standin
            .calls()
            .into_iter()
            .filter(|c| c.run_id.as_deref() == Some(run_id))
            .collect();
        let table = harvested_metrics(&calls);
        let seen: f64 = ["OtherTransaction/all", "WebTransaction"]
            .iter()
            .filter_map(|m| table.get(&(m.to_string(), String::new())))
            .map(|v| v[0])
            .sum();
        if seen >= n {
            return calls;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "harvest shows {seen} of {n} transactions"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn events(calls: &[RecordedCall], method: &str) -> (u64, Vec<Value>) {
    let mut seen = 0;
    let mut out = Vec::new();
    for c in calls.iter().filter(|c| c.method == method) {
        seen += c.payload[1]["events_seen"].as_u64().unwrap();
        out.extend(c.payload[2].as_array().unwrap().iter().cloned());
    }
    (seen, out)
}

/// Polls `ready` until it holds or [`WAIT`] passes; the assertions that
/// follow then say what is wrong. A fixed sleep instead would fail on a
/// loaded machine whose harvests run late.
async fn settle(mut ready: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !ready() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn captured_agent_frames_are_aggregated_exactly() {
    let (standin, daemon) = setup(StandinConfig::fast(), &[]).await;
    let (mut agent, run_id) = connect(&daemon, &standin, "vectors").await;
    let txns = captured();
    assert!(txns.len() >= 19);
    // Every captured transaction, twice, over two connections.
    let mut second = daemon.agent().await;
    let mut sent = Vec::new();
    for (_, t) in &txns {
        agent.send_transaction(&run_id, t).await.unwrap();
        second.send_transaction(&run_id, t).await.unwrap();
        sent.push(t.clone());
        sent.push(t.clone());
    }
    let expected_txns = sent.len() as f64;
    wait_for_transactions(&standin, &run_id, expected_txns).await;
    // Event and default-data harvests run on their own timers, and each
    // method is its own post: wait until every kind asserted below is in.
    let want_spans: usize = sent.iter().map(|t| t.span_events.len()).sum();
    let want_errors: usize = sent.iter().map(|t| t.errors.len()).sum();
    settle(|| {
        let calls = standin.calls();
        let error_traces: usize = standin
            .calls_for("error_data")
            .iter()
            .map(|c| c.payload[1].as_array().map_or(0, Vec::len))
            .sum();
        events(&calls, "analytic_event_data").0 >= sent.len() as u64
            && events(&calls, "span_event_data").0 as usize >= want_spans
            && error_traces >= want_errors.min(20)
            && !standin.calls_for("sql_trace_data").is_empty()
            && !standin.calls_for("transaction_sample_data").is_empty()
    })
    .await;
    let calls: Vec<_> = standin
        .calls()
        .into_iter()
        .filter(|c| c.run_id.as_deref() == Some(run_id.as_str()))
        .collect();

    // Metrics: exactly the merge of what the agents sent, scoped copies
    // included, plus the daemon's own.
    let got = harvested_metrics(&calls);
    let want = expected_metrics(&sent);
    for (key, w) in &want {
        let g = got
            .get(key)
            .unwrap_or_else(|| panic!("metric {key:?} missing"));
        assert!(close(g[0], w[0]), "{key:?} count {} != {}", g[0], w[0]);
        assert!(close(g[1], w[1]), "{key:?} total {} != {}", g[1], w[1]);
        assert!(close(g[2], w[2]), "{key:?} exclusive {} != {}", g[2], w[2]);
        assert!(close(g[3], w[3]), "{key:?} min {} != {}", g[3], w[3]);
        assert!(close(g[4], w[4]), "{key:?} max {} != {}", g[4], w[4]);
        assert!(
            close(g[5], w[5]),
            "{key:?} sum_squares {} != {}",
            g[5],
            w[5]
        );
    }
    for key in got.keys() {
        assert!(
            want.contains_key(key) || is_daemon_metric(&key.0),
            "unexpected metric {key:?}"
        );
    }
    assert_eq!(
        got[&("Supportability/TxnData/Size".to_owned(), String::new())][0],
        expected_txns
    );
    assert!(got[&("Instance/Reporting".to_owned(), String::new())][0] >= 1.0);

    // Every transaction event, verbatim (the agents' JSON is passed through).
    let (seen, got_events) = events(&standin.calls(), "analytic_event_data");
    assert_eq!(seen, sent.len() as u64);
    let mut want_events: Vec<Value> = sent
        .iter()
        .filter_map(|t| t.txn_event.as_deref())
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    let mut got_events = got_events;
    let key = |v: &Value| v.to_string();
    want_events.sort_by_key(key);
    got_events.sort_by_key(key);
    assert_eq!(got_events, want_events);

    // Span events: all of them (2000 fit).
    let (span_seen, spans) = events(&standin.calls(), "span_event_data");
    assert_eq!(span_seen as usize, want_spans);
    assert_eq!(spans.len(), want_spans);

    // Error traces: one per error-carrying transaction, 20 at most.
    let errors: Vec<Value> = standin
        .calls_for("error_data")
        .iter()
        .flat_map(|c| c.payload[1].as_array().unwrap().clone())
        .collect();
    assert_eq!(errors.len(), want_errors.min(20));
    assert!(
        errors.iter().all(|e| e[3].is_string()),
        "error class present"
    );

    // Slow SQL from the PDO scenario, merged by id: count 2 each.
    let sql: Vec<Value> = standin
        .calls_for("sql_trace_data")
        .iter()
        .flat_map(|c| c.expanded.as_ref().unwrap()[0].as_array().unwrap().clone())
        .collect();
    assert_eq!(sql.len(), 2, "two distinct slow queries: {sql:?}");
    for q in &sql {
        assert_eq!(q[5], json!(2), "merged count of {}", q[4]);
        assert_eq!(q[0], json!("OtherTransaction/php/script.php"));
        assert!(q[9]["backtrace"].is_array());
    }

    // Transaction traces: the slowest regular trace of each harvest.
    let traces = standin.calls_for("transaction_sample_data");
    assert!(!traces.is_empty());
    for t in &traces {
        let expanded = t.expanded.as_ref().unwrap();
        let list = expanded[1].as_array().unwrap();
        assert_eq!(list.len(), 1, "one regular trace per harvest");
        assert!(list[0][4].is_array(), "trace data is decoded JSON");
    }

    // Request shape: protocol 17, license, run id, extra headers.
    for c in &calls {
        assert_eq!(c.query["protocol_version"], "17");
        assert_eq!(c.license, LICENSE);
        assert_eq!(c.header("x-nr-run-token"), Some("standin-run-token"));
        assert_eq!(c.header("content-encoding"), Some("deflate"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_concurrent_agents_lose_nothing() {
    let (standin, daemon) = setup(StandinConfig::fast(), &[]).await;
    let (_agent, run_id) = connect(&daemon, &standin, "concurrent").await;
    let (_, template) = captured()
        .into_iter()
        .find(|(s, _)| s == "01-cli-minimal")
        .unwrap();
    const AGENTS: usize = 300;
    const EACH: usize = 20;
    let mut tasks = Vec::new();
    for i in 0..AGENTS {
        let addr = daemon.address.clone();
        let template = template.clone();
        let run_id = run_id.clone();
        let host = standin.host();
        tasks.push(tokio::spawn(async move {
            let mut conn = AgentConn::connect(&addr).await.unwrap();
            let app = app_info(LICENSE, "concurrent", &host);
            // Agents pass their run id: the daemon says it is still valid.
            let reply = conn.app_query(&app, Some(&run_id)).await.unwrap();
            assert_eq!(reply.status, AppStatus::StillValid);
            for j in 0..EACH {
                let mut t = template.clone();
                t.pid = i32::try_from(i).unwrap();
                t.sampling_priority = (i * EACH + j) as f64 / 10_000.0;
                conn.send_transaction(&run_id, &t).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let total = (AGENTS * EACH) as f64;
    let calls = wait_for_transactions(&standin, &run_id, total).await;
    let table = harvested_metrics(&calls);
    let k = |n: &str| (n.to_owned(), String::new());
    assert_eq!(table[&k("OtherTransaction/all")][0], total);
    assert_eq!(table[&k("Supportability/TxnData/Size")][0], total);
    // Instance/Reporting counts distinct pids per harvest: at most 300.
    let reporting: Vec<f64> = calls
        .iter()
        .filter(|c| c.method == "metric_data")
        .flat_map(|c| c.payload[3].as_array().unwrap().clone())
        .filter(|e| e[0]["name"] == "Instance/Reporting")
        .map(|e| e[1][0].as_f64().unwrap())
        .collect();
    assert!(reporting
        .iter()
        .all(|&n| (1.0..=AGENTS as f64).contains(&n)));
    // The event harvest runs on its own timer.
    settle(|| events(&standin.calls(), "analytic_event_data").0 >= total as u64).await;
    let (seen, kept) = events(&standin.calls(), "analytic_event_data");
    assert_eq!(seen, total as u64);
    assert_eq!(kept.len(), total as usize, "10 000 fit in the reservoir");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reservoirs_keep_the_highest_priorities() {
    let mut config = StandinConfig::fast();
    config
        .harvest_limits
        .insert("analytic_event_data".into(), json!(10));
    // Longer event period, so all 100 land in one harvest.
    config.report_period_ms = 3000;
    let (standin, daemon) = setup(config, &[]).await;
    let (mut agent, run_id) = connect(&daemon, &standin, "sampling").await;
    let (_, template) = captured()
        .into_iter()
        .find(|(s, _)| s == "01-cli-minimal")
        .unwrap();
    for i in 0..100 {
        let mut t = template.clone();
        // Priorities 0.00 .. 0.99 in a scrambled order.
        let p = (i * 37) % 100;
        t.sampling_priority = f64::from(p) / 100.0;
        t.txn_event = Some(format!(r#"[{{"type":"Transaction","p":{p}}},{{}},{{}}]"#));
        agent.send_transaction(&run_id, &t).await.unwrap();
    }
    let calls = standin
        .wait_for("analytic_event_data", 1, WAIT)
        .await
        .unwrap();
    let first = &calls[0].payload;
    assert_eq!(first[1], json!({"reservoir_size": 10, "events_seen": 100}));
    let mut kept: Vec<i64> = first[2]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e[0]["p"].as_i64().unwrap())
        .collect();
    kept.sort_unstable();
    assert_eq!(kept, (90..100).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metric_table_limit_drops_unforced_metrics_and_counts_them() {
    let (standin, daemon) = setup(StandinConfig::fast(), &[]).await;
    let (mut agent, run_id) = connect(&daemon, &standin, "limits").await;
    let mut t = TransactionData {
        name: "OtherTransaction/php/limits.php".into(),
        uri: "<unknown>".into(),
        pid: 1,
        ..Default::default()
    };
    let metric = |name: String, forced: bool| MetricData {
        name,
        count: 1.0,
        total: 1.0,
        exclusive: 1.0,
        min: 1.0,
        max: 1.0,
        sum_squares: 1.0,
        scoped: false,
        forced,
    };
    t.metrics.push(metric("OtherTransaction/all".into(), true));
    for i in 0..2100 {
        t.metrics.push(metric(format!("Custom/m{i:04}"), false));
    }
    t.metrics.push(metric("Forced/after-the-cap".into(), true));
    agent.send_transaction(&run_id, &t).await.unwrap();
    let calls = wait_for_transactions(&standin, &run_id, 1.0).await;
    let table = harvested_metrics(&calls);
    let custom = table
        .keys()
        .filter(|(n, _)| n.starts_with("Custom/"))
        .count();
    // 2000 slots: OtherTransaction/all, the per-transaction TxnData
    // metrics the daemon adds first and 2000 minus those Custom ones.
    assert!(
        custom < 2000 && custom > 1900,
        "{custom} custom metrics kept"
    );
    let dropped = table[&("Supportability/MetricsDropped".to_owned(), String::new())][0];
    assert_eq!(dropped as usize, 2100 - custom);
    assert!(table.contains_key(&("Forced/after-the-cap".to_owned(), String::new())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retryable_failures_merge_back_and_410_disconnects() {
    let (standin, daemon) = setup(StandinConfig::fast(), &[]).await;
    let (mut agent, run_id) = connect(&daemon, &standin, "faults").await;
    let (_, template) = captured()
        .into_iter()
        .find(|(s, _)| s == "01-cli-minimal")
        .unwrap();
    // The next two metric posts fail with 503 (and 429): their data must
    // come back in a later post.
    standin.inject(Fault::status(503).for_method("metric_data").times(1));
    standin.inject(
        Fault::status(429)
            .with_retry_after("1")
            .for_method("metric_data")
            .times(1),
    );
    for _ in 0..5 {
        agent.send_transaction(&run_id, &template).await.unwrap();
    }
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let ok: Vec<_> = standin
            .calls_for("metric_data")
            .into_iter()
            .filter(|c| c.response_status == 200)
            .collect();
        let table = harvested_metrics(&ok);
        if table
            .get(&("OtherTransaction/all".to_owned(), String::new()))
            .is_some_and(|v| v[0] == 5.0)
        {
            let failed = standin
                .calls_for("metric_data")
                .iter()
                .filter(|c| c.response_status != 200)
                .count();
            assert_eq!(failed, 2);
            // The failure is counted in the next successful post.
            assert!(table.contains_key(&(
                "Supportability/Agent/Collector/HTTPError/503".to_owned(),
                String::new()
            )));
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "merged-back metrics never arrived"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // 410 on a harvest: the application is disconnected for good.
    standin.inject(Fault::status(410).for_method("metric_data").times(1));
    agent.send_transaction(&run_id, &template).await.unwrap();
    let app = app_info(LICENSE, "faults", &standin.host());
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let reply = agent.app_query(&app, Some(&run_id)).await.unwrap();
        if reply.status == AppStatus::Disconnected {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still {:?}",
            reply.status
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_license_is_reported_to_agents() {
    let mut config = StandinConfig::fast();
    let bad = "9999999999999999999999999999999999999999";
    config.licenses_401.push(bad.into());
    let (standin, daemon) = setup(config, &[]).await;
    let mut agent = daemon.agent().await;
    let app = app_info(bad, "bad-license", &standin.host());
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let reply = agent.app_query(&app, None).await.unwrap();
        if reply.status == AppStatus::InvalidLicense {
            break;
        }
        assert_eq!(reply.status, AppStatus::Unknown);
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The license never appears whole in the daemon's log.
    assert!(!daemon.log_text().contains(bad));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_applications_expire_and_reconnect_with_a_new_run() {
    let (standin, daemon) = setup(StandinConfig::fast(), &["app_timeout = 2s"]).await;
    let (mut agent, run_id) = connect(&daemon, &standin, "expiry").await;
    let app = app_info(LICENSE, "expiry", &standin.host());
    assert_eq!(
        agent.app_query(&app, Some(&run_id)).await.unwrap().status,
        AppStatus::StillValid
    );
    // No data and no key lookups for longer than app_timeout.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while !daemon.log_text().contains("application expired") {
        assert!(tokio::time::Instant::now() < deadline, "never expired");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The expired app starts over: the agent's run id is taken on while a
    // new run connects, then leads to the new run.
    let reply = agent.app_query(&app, Some(&run_id)).await.unwrap();
    assert_eq!(reply.status, AppStatus::StillValid);
    let new_run = agent.connect_app(&app, WAIT).await.unwrap();
    assert_ne!(new_run, run_id);
    assert_eq!(standin.calls_for("connect").len(), 2);
    let reply = agent.app_query(&app, Some(&run_id)).await.unwrap();
    assert_eq!(
        reply.status,
        AppStatus::Connected,
        "the old id is not current"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_harvests_everything_before_exiting() {
    // 60 s harvests: only the final harvest can deliver the data in time.
    let (standin, mut daemon) = setup(StandinConfig::default(), &[]).await;
    let (mut agent, run_id) = connect(&daemon, &standin, "final").await;
    let (_, with_error) = captured()
        .into_iter()
        .find(|(s, _)| s == "03-cli-error/a-uncaught")
        .unwrap();
    for _ in 0..3 {
        agent.send_transaction(&run_id, &with_error).await.unwrap();
    }
    // Many more, from 20 connections, written right before the signal:
    // what agents wrote before SIGTERM must reach the final harvest.
    let (_, plain) = captured()
        .into_iter()
        .find(|(s, _)| s == "01-cli-minimal")
        .unwrap();
    let mut writers = Vec::new();
    for _ in 0..20 {
        let mut conn = daemon.agent().await;
        let run_id = run_id.clone();
        let plain = plain.clone();
        writers.push(tokio::spawn(async move {
            for _ in 0..500 {
                conn.send_transaction(&run_id, &plain).await.unwrap();
            }
            conn
        }));
    }
    let mut open = Vec::new();
    for w in writers {
        open.push(w.await.unwrap());
    }
    assert!(standin.calls_for("metric_data").is_empty());
    let status = tokio::task::spawn_blocking(move || {
        let status = daemon.terminate(Duration::from_secs(30));
        (status, daemon)
    })
    .await
    .unwrap();
    assert!(status.0.success(), "exit status {:?}", status.0);
    let table = harvested_metrics(&standin.calls_for("metric_data"));
    assert_eq!(
        table[&("OtherTransaction/all".to_owned(), String::new())][0],
        3.0 + 20.0 * 500.0
    );
    assert_eq!(table[&("Errors/all".to_owned(), String::new())][0], 3.0);
    // SIGTERM harvests twice (docs/daemon.md §8): a flush while agents are
    // still served, then what the run had merged since. Transactions still
    // in a connection's buffer when the flush starts land in the second
    // harvest, so how the 10 003 events split between the two is a race;
    // what is not: each harvest's reservoir keeps at most 10 000, a full
    // one is posted in two halves each reporting its own length as
    // events_seen (protocol.md §4.1): 10 000 to 10 003 events in two to four
    // posts.
    let posts = standin.calls_for("analytic_event_data");
    let (seen, txn_events) = events(&posts, "analytic_event_data");
    assert_eq!(seen as usize, txn_events.len());
    assert!(
        (2..=4).contains(&posts.len()) && (10_000..=10_003).contains(&txn_events.len()),
        "{} events in {} posts",
        txn_events.len(),
        posts.len()
    );
    let error_traces: usize = standin
        .calls_for("error_data")
        .iter()
        .map(|c| c.payload[1].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(error_traces, 3);
    assert_eq!(events(&standin.calls(), "error_event_data").1.len(), 3);
    drop(open);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_frame_closes_only_its_connection() {
    let (standin, daemon) = setup(StandinConfig::fast(), &[]).await;
    let (mut good, run_id) = connect(&daemon, &standin, "robust").await;
    // Garbage body in a well-formed preamble.
    let mut bad = daemon.agent().await;
    bad.send_body(&[0xff; 64]).await.unwrap();
    assert!(bad.is_closed_by_peer(Duration::from_secs(5)).await);
    // A frame above the size limit.
    let mut huge = daemon.agent().await;
    let mut preamble = (64u32 << 20).to_le_bytes().to_vec();
    preamble.extend_from_slice(&2u32.to_le_bytes());
    huge.send_raw(&preamble).await.unwrap();
    assert!(huge.is_closed_by_peer(Duration::from_secs(5)).await);
    // A Transaction whose envelope reads fine but whose body is truncated:
    // routed to the run, refused there, and its connection closed.
    let (_, template) = captured()
        .into_iter()
        .find(|(s, _)| s == "05-pdo-sqlite")
        .unwrap();
    let body = seraph_wire::encode_transaction(&run_id, &template);
    let truncated = &body[..body.len() * 2 / 3];
    assert!(seraph_wire::peek(truncated).is_ok());
    assert!(seraph_wire::decode(truncated, &mut Vec::new()).is_err());
    let mut corrupt = daemon.agent().await;
    corrupt.send_body(truncated).await.unwrap();
    assert!(corrupt.is_closed_by_peer(Duration::from_secs(5)).await);
    // A transaction without a run id.
    let mut no_run = daemon.agent().await;
    no_run
        .send_body(&seraph_wire::encode_transaction("", &TransactionData::default())[..])
        .await
        .unwrap();
    // The daemon and the good connection carry on.
    let (_, template) = captured()
        .into_iter()
        .find(|(s, _)| s == "01-cli-minimal")
        .unwrap();
    good.send_transaction(&run_id, &template).await.unwrap();
    wait_for_transactions(&standin, &run_id, 1.0).await;
    let app = app_info(LICENSE, "robust", &standin.host());
    assert_eq!(
        good.app_query(&app, Some(&run_id)).await.unwrap().status,
        AppStatus::StillValid
    );
    // The daemon reports its own trouble with the application's metrics:
    // three connections closed for bad frames, one Transaction without a
    // run, and its memory and open connections each cycle.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let got = harvested_metrics(&standin.calls_for("metric_data"));
        let count = |name: &str| got.get(&(name.to_owned(), String::new())).map(|v| v[0]);
        let invalid = count("Supportability/Seraph/Daemon/Frames/Invalid");
        let unknown = count("Supportability/Seraph/Daemon/Transactions/UnknownRun");
        if invalid == Some(3.0) && unknown == Some(1.0) {
            let rss = got[&(
                "Supportability/Seraph/Daemon/Memory/RSS".to_owned(),
                String::new(),
            )];
            assert!(rss[1] > 1.0, "resident memory in MiB: {rss:?}");
            let open = got[&(
                "Supportability/Seraph/Daemon/Connections/Open".to_owned(),
                String::new(),
            )];
            assert!(open[4] >= 1.0, "the good connection is open: {open:?}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "invalid frames {invalid:?}, unknown-run transactions {unknown:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integration_mode_logs_each_transactions_payloads() {
    let standin = Standin::start(StandinConfig::fast()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    standin.write_ca(&ca).unwrap();
    let daemon = Daemon::start(DaemonOptions {
        cfg: vec![format!("ssl_ca_bundle = {}", ca.display())],
        args: vec!["--integration".into()],
        ..Default::default()
    })
    .await;
    let (mut agent, run_id) = connect(&daemon, &standin, "integration").await;
    let (_, t) = captured()
        .into_iter()
        .find(|(s, _)| s == "05-pdo-sqlite")
        .unwrap();
    agent.send_transaction(&run_id, &t).await.unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    let log = loop {
        let log = daemon.log_text();
        if log.contains("NR_INTEGRATION_TEST 'sql_trace_data'") {
            break log;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no integration lines:\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let line = |method: &str| -> Value {
        let prefix = format!("NR_INTEGRATION_TEST '{method}' '");
        let start = log
            .find(&prefix)
            .unwrap_or_else(|| panic!("{method} not logged"))
            + prefix.len();
        let end = start + log[start..].find("'\n").unwrap();
        serde_json::from_str(&log[start..end]).unwrap()
    };
    let metrics = line("metric_data");
    assert_eq!(metrics[0], json!(run_id));
    assert!(metrics[3]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m[0] == json!({"name": "Datastore/statement/SQLite/users/select", "scope": "OtherTransaction/php/script.php"})));
    // Audit form: SQL parameters as JSON, not a compressed blob.
    let sql = line("sql_trace_data");
    assert!(sql[0][0][9]["backtrace"].is_array());
    let traces = line("transaction_sample_data");
    assert!(traces[1][0][4].is_array());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undeliverable_data_survives_a_restart_in_the_disk_spool() {
    let standin = Standin::start(StandinConfig::fast()).await.unwrap();
    let collector = standin.addr();
    let dir = tempfile::tempdir().unwrap();
    let spool_dir = dir.path().join("spool");
    let cfg = |ca: &Path, extra: &[&str]| {
        let mut lines = vec![
            format!("ssl_ca_bundle = {}", ca.display()),
            format!("spool_dir = {}", spool_dir.display()),
        ];
        lines.extend(extra.iter().map(|s| s.to_string()));
        lines
    };
    let ca_one = dir.path().join("ca-one.pem");
    standin.write_ca(&ca_one).unwrap();
    // First daemon: no periodic harvest, so only its final harvest posts.
    let mut first = Daemon::start(DaemonOptions {
        cfg: cfg(&ca_one, &["harvest_cycle = 1h"]),
        ..Default::default()
    })
    .await;
    let (mut agent, run_one) = connect(&first, &standin, "spooled").await;
    let (_, template) = captured()
        .into_iter()
        .find(|(s, _)| s == "03-cli-error/a-uncaught")
        .unwrap();
    for _ in 0..5 {
        agent.send_transaction(&run_one, &template).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The collector goes away; SIGTERM: the final harvest is written to
    // the spool first, then cannot be delivered.
    standin.shutdown().await;
    let status = tokio::task::spawn_blocking(move || first.terminate(Duration::from_secs(30)))
        .await
        .unwrap();
    assert!(status.success());
    assert!(std::fs::read_dir(&spool_dir).unwrap().any(|e| e
        .unwrap()
        .path()
        .extension()
        .is_some_and(|x| x == "seg")));

    // The run is in the spool directory, without the license.
    let runs = std::fs::read_to_string(spool_dir.join("runs.jsonl")).unwrap();
    assert!(runs.contains(&run_one), "{runs}");
    assert!(!runs.contains(LICENSE));
    assert!(!runs.contains(&hex(LICENSE)));

    // The collector is back (same address, new certificate) and asks the
    // old run to reconnect. A second daemon on the same spool carries the
    // run on (the agent's first query is answered Connected at once, no
    // connect), learns the license from that query, reconnects when the
    // collector answers 409, and replays the spooled payloads with its new
    // run id.
    let mut config = StandinConfig {
        listen: collector,
        ..StandinConfig::fast()
    };
    config
        .connect_overrides
        .insert("agent_run_id".into(), json!("RUN-TWO"));
    let standin = Standin::start(config).await.unwrap();
    standin.set_run_status(&run_one, Some(409));
    let ca_two = dir.path().join("ca-two.pem");
    standin.write_ca(&ca_two).unwrap();
    let second = Daemon::start(DaemonOptions {
        cfg: cfg(&ca_two, &[]),
        ..Default::default()
    })
    .await;
    let mut agent = second.agent().await;
    let app = app_info(LICENSE, "spooled", &standin.host());
    let first_reply = agent.app_query(&app, None).await.unwrap();
    assert_eq!(first_reply.status, AppStatus::Connected);
    assert!(first_reply
        .connect_reply
        .as_deref()
        .is_some_and(|r| r.contains(&run_one)));
    let run_two = "RUN-TWO".to_owned();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let calls = standin.calls();
        let table = harvested_metrics(
            &calls
                .iter()
                .filter(|c| c.run_id.as_deref() == Some(run_two.as_str()))
                .cloned()
                .collect::<Vec<_>>(),
        );
        let replayed_errors = calls
            .iter()
            .filter(|c| c.method == "error_data" && c.run_id.as_deref() == Some(run_two.as_str()))
            .count();
        // Calls the collector took (those refused with 409 came first).
        let taken: Vec<_> = calls
            .iter()
            .filter(|c| c.response_status == 200)
            .cloned()
            .collect();
        let (_, txn_events) = events(&taken, "analytic_event_data");
        let (_, error_events) = events(&taken, "error_event_data");
        if table
            .get(&("OtherTransaction/all".to_owned(), String::new()))
            .is_some_and(|v| v[0] == 5.0)
            && replayed_errors == 1
            && txn_events.len() == 5
            && error_events.len() == 5
        {
            // The replayed payloads carry the new run id in the body too.
            for c in taken.iter().filter(|c| c.method == "metric_data") {
                assert_eq!(c.payload[0], json!(run_two));
            }
            assert!(table.contains_key(&("Errors/all".to_owned(), String::new())));
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "spooled data not replayed; daemon log:\n{}",
            second.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_ne!(run_one, run_two);
    assert_eq!(agent.connect_app(&app, WAIT).await.unwrap(), run_two);
}

/// `bytes` as lowercase hex.
fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

/// The template transaction of scenario `name`.
fn template(name: &str) -> TransactionData {
    captured()
        .into_iter()
        .find(|(s, _)| s == name)
        .unwrap_or_else(|| panic!("no captured scenario {name}"))
        .1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_agents_cannot_take_the_descriptors_harvests_need() {
    // 320 descriptors: 160 for agents, the rest for the daemon itself.
    let options = DaemonOptions {
        cfg: vec!["rlimit_files = 0".into()],
        nofile: Some(320),
        ..Default::default()
    };
    let (standin, daemon) = setup_with(StandinConfig::fast(), options).await;
    let (mut agent, run_id) = connect(&daemon, &standin, "fds").await;
    // Far more idle agents than descriptors.
    let mut idle = Vec::new();
    for _ in 0..400 {
        idle.push(daemon.agent().await);
    }
    // The collector connection is dropped, so the next posts need new
    // sockets: they must still get them.
    standin.inject(Fault::drop_connection().times(2));
    agent
        .send_transaction(&run_id, &template("01-cli-minimal"))
        .await
        .unwrap();
    wait_for_transactions(&standin, &run_id, 1.0).await;
    // The surplus agents were closed at once (they retry on their next
    // request), with a warning. "At once" is when the daemon accepts them,
    // which a loaded machine may put off: look again until 200 are seen
    // closed (a closed one stays closed) or the deadline passes.
    let mut is_closed = vec![false; idle.len()];
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut closed = 0;
    loop {
        for (conn, c) in idle.iter_mut().zip(is_closed.iter_mut()) {
            if !*c && conn.is_closed_by_peer(Duration::from_millis(20)).await {
                *c = true;
                closed += 1;
            }
        }
        if closed >= 200 || tokio::time::Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        (200..=260).contains(&closed),
        "{closed} of 400 surplus connections closed"
    );
    assert!(
        daemon.open_fds() < 320,
        "{} descriptors open",
        daemon.open_fds()
    );
    assert!(daemon.log_text().contains("too many agent connections"));
    // Once idle agents leave, new ones get in again.
    drop(idle);
    let app = app_info(LICENSE, "fds", &standin.host());
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let mut fresh = daemon.agent().await;
        if let Ok(reply) = fresh.app_query(&app, Some(&run_id)).await {
            assert_eq!(reply.status, AppStatus::StillValid);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no room for a new agent"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Fast harvests with custom events switched off, so custom events used as
/// padding make frames large without being kept by the harvest.
fn custom_events_off() -> StandinConfig {
    let mut config = StandinConfig::fast();
    config
        .harvest_limits
        .insert("custom_event_data".into(), json!(0));
    config
}

/// A minimal transaction padded with `count` custom events of about
/// `bytes` bytes each.
fn padded(bytes: usize, count: usize) -> TransactionData {
    let mut t = template("01-cli-minimal");
    let pad = format!(r#"[{{"type":"Pad","x":"{}"}},{{}}]"#, "x".repeat(bytes));
    t.custom_events = vec![pad; count];
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_agents_do_not_keep_the_memory_of_their_largest_frame() {
    // Custom events are off, so the padding below is not kept anywhere:
    // whatever memory stays is the connections'.
    let (standin, daemon) = setup(custom_events_off(), &["loglevel = info"]).await;
    let (_agent, run_id) = connect(&daemon, &standin, "big-frames").await;
    let t = padded(4000, 1000);
    let base = daemon.rss_kib();
    // 60 php-fpm workers each send one 4 MiB transaction, then idle.
    let mut workers = Vec::new();
    for _ in 0..60 {
        let mut conn = daemon.agent().await;
        conn.send_transaction(&run_id, &t).await.unwrap();
        workers.push(conn);
    }
    wait_for_transactions(&standin, &run_id, 60.0).await;
    let grown = daemon.rss_kib().saturating_sub(base);
    assert!(
        grown < 64 * 1024,
        "60 idle connections hold {grown} KiB after 240 MiB of frames"
    );
    drop(workers);
}

/// `n` copies of the minimal transaction, each with its own event.
fn numbered_transactions(n: usize) -> Vec<TransactionData> {
    let t = template("01-cli-minimal");
    (0..n)
        .map(|i| {
            let mut t = t.clone();
            t.txn_event = Some(format!(r#"[{{"type":"Transaction","i":{i}}},{{}},{{}}]"#));
            t.sampling_priority = i as f64 / n as f64;
            t
        })
        .collect()
}

/// Calls of `method` for `run_id` that the stand-in answered with `status`.
fn answered(standin: &Standin, method: &str, run_id: &str, status: u16) -> Vec<RecordedCall> {
    standin
        .calls_for(method)
        .into_iter()
        .filter(|c| c.run_id.as_deref() == Some(run_id) && c.response_status == status)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payloads_refused_as_too_large_are_split_twice_then_dropped() {
    // 2 s periods: the transactions below land in one harvest.
    let config = StandinConfig {
        data_report_period: 2,
        report_period_ms: 2000,
        ..StandinConfig::fast()
    };
    let (standin, daemon) = setup(config, &[]).await;
    let (mut agent, run_id) = connect(&daemon, &standin, "too-large").await;
    // The events are refused whole and as halves: quarters get through.
    // (By size: the halves are posted together, and a quarter of one may
    // reach the stand-in before the other half.) The metrics are refused
    // whole: halves get through.
    standin.inject(
        Fault::status(413)
            .for_method("analytic_event_data")
            .min_items(3)
            .times(3),
    );
    standin.inject(Fault::status(413).for_method("metric_data").times(1));
    for t in numbered_transactions(8) {
        agent.send_transaction(&run_id, &t).await.unwrap();
    }
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let ok = answered(&standin, "analytic_event_data", &run_id, 200);
        let (seen, got) = events(&ok, "analytic_event_data");
        let metrics = harvested_metrics(&answered(&standin, "metric_data", &run_id, 200));
        let txns = metrics
            .get(&("OtherTransaction/all".to_owned(), String::new()))
            .map_or(0.0, |v| v[0]);
        if got.len() == 8 && txns == 8.0 {
            assert_eq!(seen, 8, "events_seen adds up over the quarters");
            assert_eq!(ok.len(), 4, "four quarters");
            let mut ids: Vec<i64> = got.iter().map(|e| e[0]["i"].as_i64().unwrap()).collect();
            ids.sort_unstable();
            assert_eq!(ids, (0..8).collect::<Vec<_>>());
            assert_eq!(answered(&standin, "metric_data", &run_id, 413).len(), 1);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} of 8 events, {txns} of 8 transactions delivered; log:\n{}",
            got.len(),
            daemon.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Refused whole, as halves and as quarters: the data is dropped (and
    // the next harvest is not affected).
    standin.inject(
        Fault::status(413)
            .for_method("analytic_event_data")
            .times(7),
    );
    for t in numbered_transactions(8) {
        agent.send_transaction(&run_id, &t).await.unwrap();
    }
    let deadline = tokio::time::Instant::now() + WAIT;
    while answered(&standin, "analytic_event_data", &run_id, 413).len() < 10 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no second round of 413s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        answered(&standin, "analytic_event_data", &run_id, 413).len(),
        10
    );
    let (_, got) = events(
        &answered(&standin, "analytic_event_data", &run_id, 200),
        "analytic_event_data",
    );
    assert_eq!(
        got.len(),
        8,
        "the refused quarters were dropped, not resent"
    );
    assert!(daemon
        .log_text()
        .contains("payload still too large after splitting; its data is dropped"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_honoured_before_the_data_is_posted_again() {
    let (standin, daemon) = setup(StandinConfig::fast(), &[]).await;
    let (mut agent, run_id) = connect(&daemon, &standin, "throttled").await;
    standin.inject(
        Fault::status(429)
            .with_retry_after("4")
            .for_method("analytic_event_data")
            .times(1),
    );
    for t in numbered_transactions(5) {
        agent.send_transaction(&run_id, &t).await.unwrap();
    }
    let refused = loop {
        if let Some(c) = answered(&standin, "analytic_event_data", &run_id, 429).pop() {
            break c;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // Meanwhile more data arrives every 200 ms: each 1 s event harvest has
    // something to post.
    for t in numbered_transactions(20) {
        agent.send_transaction(&run_id, &t).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let next = standin
        .wait_for("analytic_event_data", 2, WAIT)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.seq > refused.seq)
        .unwrap();
    let waited = next.received_at_ms - refused.received_at_ms;
    assert!(
        waited >= 3_900,
        "posted again {waited} ms after Retry-After: 4"
    );
    // Nothing was lost meanwhile: the refused events were merged back.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (seen, _) = events(
            &answered(&standin, "analytic_event_data", &run_id, 200),
            "analytic_event_data",
        );
        if seen == 25 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{seen} of 25 events"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Other methods were not held back.
    assert!(answered(&standin, "metric_data", &run_id, 200)
        .iter()
        .any(
            |c| c.received_at_ms > refused.received_at_ms && c.received_at_ms < next.received_at_ms
        ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_collector_gets_one_post_per_method_at_a_time() {
    let (standin, daemon) = setup(StandinConfig::fast(), &[]).await;
    let (mut agent, run_id) = connect(&daemon, &standin, "stalled").await;
    // The collector sits on events posts for 3 s each while harvests keep
    // coming due every second: each due harvest used to start one more
    // post (holding one more reservoir) until the collector answered.
    standin.inject(
        Fault::delay(Duration::from_secs(3))
            .for_method("analytic_event_data")
            .times(2),
    );
    let all = numbered_transactions(30);
    for t in &all {
        agent.send_transaction(&run_id, t).await.unwrap();
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (seen, got) = events(
            &answered(&standin, "analytic_event_data", &run_id, 200),
            "analytic_event_data",
        );
        if seen == 30 {
            assert_eq!(got.len(), 30);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{seen} of 30 events; log:\n{}",
            daemon.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let peak = standin.peak_concurrency("analytic_event_data");
    assert_eq!(
        peak, 1,
        "{peak} analytic_event_data posts in flight at once"
    );
}

/// A stand-in and a daemon spooling to `spool` (1 s harvests).
async fn setup_spooled(standin: StandinConfig, spool: &Path, cfg: &[&str]) -> (Standin, Daemon) {
    let mut lines = vec![format!("spool_dir = {}", spool.display())];
    lines.extend(cfg.iter().map(|s| s.to_string()));
    let options = DaemonOptions {
        cfg: lines,
        ..Default::default()
    };
    setup_with(standin, options).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_held_back_by_a_failing_collector_survives_the_apps_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let (standin, daemon) = setup_spooled(
        StandinConfig::fast(),
        &dir.path().join("spool"),
        &["app_timeout = 2s"],
    )
    .await;
    let (mut agent, run_one) = connect(&daemon, &standin, "expiring").await;
    // Every harvest post fails retryably: the data is merged back and
    // waits in memory.
    for method in [
        "metric_data",
        "analytic_event_data",
        "error_data",
        "error_event_data",
    ] {
        standin.inject(Fault::status(503).for_method(method).times(1000));
    }
    let with_error = template("03-cli-error/a-uncaught");
    for _ in 0..4 {
        agent.send_transaction(&run_one, &with_error).await.unwrap();
    }
    // The agents go quiet; the application expires. New Relic's daemon
    // drops what the run held at that point.
    let app = app_info(LICENSE, "expiring", &standin.host());
    let deadline = tokio::time::Instant::now() + WAIT;
    while !daemon.log_text().contains("application expired") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the app never expired"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The collector recovers and the application comes back.
    standin.clear_faults();
    let run_two = agent.connect_app(&app, WAIT).await.unwrap();
    assert_ne!(run_one, run_two);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let table = harvested_metrics(&answered(&standin, "metric_data", &run_two, 200));
        let (_, txn_events) = events(
            &answered(&standin, "analytic_event_data", &run_two, 200),
            "analytic_event_data",
        );
        let txns = table
            .get(&("OtherTransaction/all".to_owned(), String::new()))
            .map_or(0.0, |v| v[0]);
        if txns == 4.0 && txn_events.len() == 4 {
            assert_eq!(table[&("Errors/all".to_owned(), String::new())][0], 4.0);
            assert_eq!(answered(&standin, "error_data", &run_two, 200).len(), 1);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{txns} of 4 transactions and {} of 4 events delivered after the expiry; log:\n{}",
            txn_events.len(),
            daemon.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_while_the_collector_sits_on_a_post_keeps_that_posts_data() {
    let dir = tempfile::tempdir().unwrap();
    let (standin, mut daemon) =
        setup_spooled(StandinConfig::fast(), &dir.path().join("spool"), &[]).await;
    let (mut agent, run_id) = connect(&daemon, &standin, "hung").await;
    // The collector takes the next events post and does not answer for
    // longer than any deadline of the daemon.
    standin.inject(
        Fault::delay(Duration::from_secs(120))
            .for_method("analytic_event_data")
            .times(1),
    );
    for t in numbered_transactions(6) {
        agent.send_transaction(&run_id, &t).await.unwrap();
    }
    let deadline = tokio::time::Instant::now() + WAIT;
    while standin.active_calls("analytic_event_data") == 0 {
        assert!(tokio::time::Instant::now() < deadline, "no events post");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // systemd signals the whole cgroup and the watcher forwards: the
    // worker gets SIGTERM twice.
    daemon.signal(nix::sys::signal::Signal::SIGTERM);
    daemon.signal(nix::sys::signal::Signal::SIGTERM);
    let status = tokio::task::spawn_blocking(move || {
        let status = daemon.wait_exit(Duration::from_secs(60));
        (status, daemon)
    })
    .await
    .unwrap();
    assert!(status.0.success(), "exit status {:?}", status.0);
    // The hung post's events were taken back, spooled and delivered by
    // the final harvest's replay.
    let (seen, got) = events(
        &answered(&standin, "analytic_event_data", &run_id, 200),
        "analytic_event_data",
    );
    assert_eq!(
        (seen, got.len()),
        (6, 6),
        "events delivered; log:\n{}",
        status.1.log_text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_applications_do_not_lock_new_ones_out_for_good() {
    // app_limit 1 stands for New Relic's 250.
    let mut config = StandinConfig::fast();
    let bad = "9999999999999999999999999999999999999999";
    config.licenses_401.push(bad.into());
    let (standin, daemon) = setup(config, &["app_limit = 1", "app_timeout = 1s"]).await;
    let mut agent = daemon.agent().await;
    let typo = app_info(bad, "typo", &standin.host());
    let deadline = tokio::time::Instant::now() + WAIT;
    while agent.app_query(&typo, None).await.unwrap().status != AppStatus::InvalidLicense {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The refused application's agents give up on it; a real one arrives.
    let real = app_info(LICENSE, "real", &standin.host());
    assert_eq!(
        agent.app_query(&real, None).await.unwrap().status,
        AppStatus::Unknown,
        "the limit holds while the other app is recent"
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    agent
        .connect_app(&real, WAIT)
        .await
        .expect("the new app connects once the refused one is idle");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_large_transactions_is_held_to_the_queue_budget() {
    // Custom events are off: the padding is not kept by the harvest, so
    // memory is what waits in the queue.
    let (standin, daemon) = setup(custom_events_off(), &["loglevel = info"]).await;
    let (_agent, run_id) = connect(&daemon, &standin, "burst").await;
    let t = padded(200, 10_000);
    let body = seraph_wire::encode_transaction(&run_id, &t);
    assert!(body.len() > 2 << 20);
    // Sample the daemon's memory while 20 agents write 600 of them
    // (1.4 GB) as fast as they can.
    let pid = daemon.pid();
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let sampler = {
        let peak = std::sync::Arc::clone(&peak);
        tokio::spawn(async move {
            loop {
                let rss = seraph_e2e::daemon::rss_kib_of(pid);
                peak.fetch_max(rss, std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    let base = daemon.rss_kib();
    let mut writers = Vec::new();
    for _ in 0..20 {
        let mut conn = daemon.agent().await;
        let body = body.clone();
        writers.push(tokio::spawn(async move {
            for _ in 0..30 {
                conn.send_body(&body).await.unwrap();
            }
            conn
        }));
    }
    let mut open = Vec::new();
    for w in writers {
        open.push(w.await.unwrap());
    }
    wait_for_transactions(&standin, &run_id, 600.0).await;
    sampler.abort();
    let grown = peak
        .load(std::sync::atomic::Ordering::Relaxed)
        .saturating_sub(base);
    // 128 MiB of queue, a frame per connection being read, the harvest.
    assert!(
        grown < 512 * 1024,
        "the daemon grew by {grown} KiB while 1.4 GB of Transactions arrived"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_is_respawned_and_the_spool_survives_it() {
    let dir = tempfile::tempdir().unwrap();
    let options = DaemonOptions {
        cfg: vec![format!(
            "spool_dir = {}",
            dir.path().join("spool").display()
        )],
        args: vec!["--watchdog-foreground".into()],
        foreground: false,
        ..Default::default()
    };
    let (standin, daemon) = setup_with(StandinConfig::fast(), options).await;
    let (mut agent, run_one) = connect(&daemon, &standin, "killed").await;
    // The collector refuses error traces retryably: they go to the spool
    // at once (New Relic never retries them). Metrics and events are
    // merged back in memory.
    standin.inject(Fault::status(503).for_method("error_data").times(1));
    standin.inject(Fault::status(503).for_method("metric_data").times(1000));
    agent
        .send_transaction(&run_one, &template("03-cli-error/a-uncaught"))
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while !daemon.log_text().contains("payload kept in the disk spool") {
        assert!(tokio::time::Instant::now() < deadline, "nothing spooled");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // SIGKILL the worker in the middle of its harvests.
    let worker = seraph_e2e::daemon::children_of(daemon.pid());
    assert_eq!(worker.len(), 1, "one worker: {worker:?}");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(worker[0] as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    // The agent's connection dies with it; the watcher starts a new worker.
    assert!(agent.is_closed_by_peer(Duration::from_secs(5)).await);
    let deadline = tokio::time::Instant::now() + WAIT;
    let respawned = loop {
        let now = seraph_e2e::daemon::children_of(daemon.pid());
        if now.len() == 1 && now != worker {
            break now[0];
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no new worker: {now:?}; log:\n{}",
            daemon.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_ne!(respawned, worker[0]);
    standin.clear_faults();
    // The watcher handed the run over: the new worker carries it on
    // without a connect, and replays the spooled error trace under it.
    // (What the killed worker held in memory is gone.)
    let deadline = tokio::time::Instant::now() + WAIT;
    let run_two = loop {
        if let Ok(mut conn) = AgentConn::connect(&daemon.address).await {
            let app = app_info(LICENSE, "killed", &standin.host());
            if let Ok(run) = conn.connect_app(&app, WAIT).await {
                break run;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no new worker listening"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(run_two, run_one, "the run survives its worker");
    let replayed = standin.wait_for("error_data", 2, WAIT).await.unwrap();
    let last = replayed.last().unwrap();
    assert_eq!(last.response_status, 200);
    assert_eq!(last.run_id.as_deref(), Some(run_one.as_str()));
    assert_eq!(last.payload[0], json!(run_one));
    assert_eq!(standin.calls_for("connect").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_stalled_connect_exits_promptly() {
    let (standin, mut daemon) = setup(StandinConfig::fast(), &[]).await;
    standin.inject(
        Fault::delay(Duration::from_secs(120))
            .for_method("preconnect")
            .times(1),
    );
    let mut agent = daemon.agent().await;
    let app = app_info(LICENSE, "connecting", &standin.host());
    assert_eq!(
        agent.app_query(&app, None).await.unwrap().status,
        AppStatus::Unknown
    );
    let deadline = tokio::time::Instant::now() + WAIT;
    while standin.active_calls("preconnect") == 0 {
        assert!(tokio::time::Instant::now() < deadline, "no preconnect");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Nothing to harvest: the worker must not wait for the connect (nor
    // for the 45 s request timeout).
    let status = tokio::task::spawn_blocking(move || daemon.terminate(Duration::from_secs(20)))
        .await
        .unwrap();
    assert!(status.success(), "exit status {status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_app_queries_are_refused_before_they_are_stored() {
    let (standin, daemon) = setup(StandinConfig::fast(), &["loglevel = info"]).await;
    let base = daemon.rss_kib();
    // 60 applications whose App queries carry 4 MiB of settings each (a
    // real one is a few KiB; New Relic's daemon refuses frames over 2 MiB).
    let padding = format!(r#"{{"x":"{}"}}"#, "s".repeat(4 << 20));
    for i in 0..60 {
        let mut conn = daemon.agent().await;
        let mut app = app_info(LICENSE, &format!("huge{i}"), &standin.host());
        app.settings = padding.clone();
        match conn.app_query(&app, None).await {
            Ok(reply) => assert_eq!(reply.status, AppStatus::Unknown),
            Err(_) => assert!(conn.is_closed_by_peer(Duration::from_secs(5)).await),
        }
    }
    // Freed as their connections end, which the daemon sees when it gets
    // to them: poll for the memory to come back rather than sleep.
    let mut grown = u64::MAX;
    settle(|| {
        grown = daemon.rss_kib().saturating_sub(base);
        grown < 64 * 1024
    })
    .await;
    assert!(
        grown < 64 * 1024,
        "60 oversized App queries left {grown} KiB behind"
    );
    // Ordinary applications still connect.
    connect(&daemon, &standin, "ordinary").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_type_is_handled_on_one_connection() {
    let (standin, daemon) = setup(StandinConfig::fast(), &[]).await;
    let (mut agent, run_id) = connect(&daemon, &standin, "kinds").await;
    let app = app_info(LICENSE, "kinds", &standin.host());
    // NONE, an AppReply (a daemon's message, sent by an agent), a
    // SpanBatch (Infinite Tracing, unsupported), a Transaction for a run
    // that does not exist: ignored or dropped, the connection stays.
    agent
        .send_body(&seraph_wire::encode_other(Some(&run_id), 0, 0, &[]))
        .await
        .unwrap();
    agent
        .send_body(&seraph_wire::AppReplyInfo::status(AppStatus::Connected).encode())
        .await
        .unwrap();
    agent
        .send_body(&seraph_wire::encode_other(
            Some(&run_id),
            4,
            2,
            &[0xde, 0xad],
        ))
        .await
        .unwrap();
    agent
        .send_transaction("no-such-run", &template("01-cli-minimal"))
        .await
        .unwrap();
    agent
        .send_transaction(&run_id, &template("01-cli-minimal"))
        .await
        .unwrap();
    assert_eq!(
        agent.app_query(&app, Some(&run_id)).await.unwrap().status,
        AppStatus::StillValid
    );
    wait_for_transactions(&standin, &run_id, 1.0).await;
    // An unknown message type is a bad frame: that connection closes.
    let mut odd = daemon.agent().await;
    odd.send_body(&seraph_wire::encode_other(Some(&run_id), 9, 0, &[]))
        .await
        .unwrap();
    assert!(odd.is_closed_by_peer(Duration::from_secs(5)).await);
    assert_eq!(
        agent.app_query(&app, Some(&run_id)).await.unwrap().status,
        AppStatus::StillValid
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_409_on_a_harvest_loses_nothing_with_a_spool() {
    let dir = tempfile::tempdir().unwrap();
    let (standin, daemon) =
        setup_spooled(StandinConfig::fast(), &dir.path().join("spool"), &[]).await;
    let (mut agent, run_one) = connect(&daemon, &standin, "restarted").await;
    // The collector asks for a reconnect in answer to the metrics post;
    // New Relic's daemon drops that post and everything the run holds.
    standin.inject(Fault::status(409).for_method("metric_data").times(1));
    for _ in 0..3 {
        agent
            .send_transaction(&run_one, &template("03-cli-error/a-uncaught"))
            .await
            .unwrap();
    }
    standin.wait_for("metric_data", 1, WAIT).await.unwrap();
    let app = app_info(LICENSE, "restarted", &standin.host());
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if agent.connect_app(&app, WAIT).await.unwrap() != run_one {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no reconnect");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let table = harvested_metrics(
            &standin
                .calls_for("metric_data")
                .into_iter()
                .filter(|c| c.response_status == 200)
                .collect::<Vec<_>>(),
        );
        let txns = table
            .get(&("OtherTransaction/all".to_owned(), String::new()))
            .map_or(0.0, |v| v[0]);
        if txns == 3.0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{txns} of 3 transactions delivered after the 409; log:\n{}",
            daemon.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_timeout_while_a_post_is_in_flight_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let (standin, daemon) = setup_spooled(
        StandinConfig::fast(),
        &dir.path().join("spool"),
        &["app_timeout = 2s"],
    )
    .await;
    let (mut agent, run_one) = connect(&daemon, &standin, "in-flight").await;
    standin.inject(
        Fault::delay(Duration::from_secs(120))
            .for_method("analytic_event_data")
            .times(1),
    );
    for t in numbered_transactions(4) {
        agent.send_transaction(&run_one, &t).await.unwrap();
    }
    // The agents go quiet while the collector sits on the events post; the
    // application expires with that post still in flight.
    let deadline = tokio::time::Instant::now() + WAIT;
    while !daemon.log_text().contains("application expired") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the app never expired"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(standin.active_calls("analytic_event_data"), 1);
    let app = app_info(LICENSE, "in-flight", &standin.host());
    let run_two = agent.connect_app(&app, WAIT).await.unwrap();
    assert_ne!(run_one, run_two);
    // The cancelled post's events come back with the next run (the agent
    // keeps asking, so the app stays active).
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        agent.app_query(&app, None).await.unwrap();
        let delivered: Vec<RecordedCall> = standin
            .calls_for("analytic_event_data")
            .into_iter()
            .filter(|c| c.response_status == 200 && c.run_id.as_deref() != Some(&run_one))
            .collect();
        let (_, got) = events(&delivered, "analytic_event_data");
        if got.len() == 4 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} of 4 events delivered; log:\n{}",
            got.len(),
            daemon.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_spool_a_hung_post_does_not_stop_the_final_posts() {
    let (standin, mut daemon) = setup(StandinConfig::fast(), &[]).await;
    let (mut agent, run_id) = connect(&daemon, &standin, "final-no-spool").await;
    standin.inject(
        Fault::delay(Duration::from_secs(120))
            .for_method("analytic_event_data")
            .times(1),
    );
    let all = numbered_transactions(6);
    for t in &all[..3] {
        agent.send_transaction(&run_id, t).await.unwrap();
    }
    let deadline = tokio::time::Instant::now() + WAIT;
    while standin.active_calls("analytic_event_data") == 0 {
        assert!(tokio::time::Instant::now() < deadline, "no events post");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // More events arrive while that post hangs: only the final harvest
    // can deliver them.
    for t in &all[3..] {
        agent.send_transaction(&run_id, t).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let status = tokio::task::spawn_blocking(move || {
        let status = daemon.terminate(Duration::from_secs(60));
        (status, daemon)
    })
    .await
    .unwrap();
    assert!(status.0.success());
    let (_, got) = events(
        &answered(&standin, "analytic_event_data", &run_id, 200),
        "analytic_event_data",
    );
    let mut ids: Vec<i64> = got.iter().map(|e| e[0]["i"].as_i64().unwrap()).collect();
    ids.sort_unstable();
    // The hung post is cancelled after the grace period and its events
    // go out with the final posts, next to the later ones (New Relic's
    // daemon would lose the first three).
    assert_eq!(
        ids,
        (0..6).collect::<Vec<_>>(),
        "log:\n{}",
        status.1.log_text()
    );
}
