//! CLI transactions against the in-test fake daemon, compared with the
//! frames New Relic's agent sent for the same scripts
//! (`tests/vectors`).

mod common;
use common::fake_daemon::{FakeDaemon, Mode};
use common::*;
use std::collections::BTreeSet;
use std::path::PathBuf;

const LICENSE: &str = "0123456789012345678901234567890123456789";

fn vectors() -> Option<PathBuf> {
    let p = vectors_dir();
    p.exists().then_some(p)
}

fn vector_metric_names(scenario: &str) -> BTreeSet<String> {
    let dir = vectors().expect("vectors").join(scenario);
    let text = std::fs::read_to_string(dir.join("002-Transaction.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    for_this_php(
        v["data"]["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["name"].as_str().unwrap().to_owned()),
    )
}

/// Runs a vector's script with its INI (cmd.txt) against `daemon`.
fn run_vector(scenario: &str, daemon: &FakeDaemon, extra: &[(&str, &str)]) -> std::process::Output {
    let dir = vectors().expect("vectors").join(scenario);
    let work = tempfile::tempdir().unwrap();
    std::fs::copy(dir.join("script.php"), work.path().join("script.php")).unwrap();
    let log = work.path().join("agent.log");
    let mut ini = vec![
        ("newrelic.daemon.address", daemon.address()),
        ("newrelic.daemon.dont_launch", "3".into()),
        ("newrelic.license", LICENSE.into()),
        ("newrelic.appname", "vectors".into()),
        ("newrelic.daemon.app_connect_timeout", "5s".into()),
        ("newrelic.logfile", log.to_str().unwrap().into()),
        ("newrelic.loglevel", "verbosedebug".into()),
    ];
    for (k, v) in extra {
        ini.push((k, (*v).to_owned()));
    }
    let ini_ref: Vec<(&str, &str)> = ini.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = php(&ini_ref)
        .arg("script.php")
        .current_dir(work.path())
        .output()
        .unwrap();
    out
}

#[test]
fn cli_minimal_sends_one_app_then_one_transaction() {
    let d = FakeDaemon::start(Mode::Connected);
    let out = run_vector("01-cli-minimal", &d, &[]);
    assert_eq!(stdout(&out), "hello from vectors\n");
    let frames = d.wait_frames(2);
    let kinds: Vec<_> = frames.iter().map(|f| f.kind()).collect();
    assert_eq!(kinds, ["App", "Transaction"]);
    assert_eq!(frames[0].run_id(), None);
    assert_eq!(frames[1].run_id().as_deref(), Some("RUN-1"));

    let app = frames[0].app();
    assert_eq!(app.license, LICENSE);
    assert_eq!(app.app_name, "vectors");
    assert_eq!(app.agent_language, "php");
    assert_eq!(app.agent_version, "12.9.0.0");
    assert_eq!(app.trace_observer_port, 443);
    assert_eq!(app.span_queue_size, 100_000);
    assert_eq!(app.span_events_max_samples_stored, 2000);
    assert_eq!(app.custom_events_max_samples_stored, 30_000);
    assert_eq!(app.log_events_max_samples_stored, 10_000);
    assert_eq!(app.metadata, "{}");
    let settings: serde_json::Value = serde_json::from_str(&app.settings).unwrap();
    assert_eq!(settings.as_object().unwrap().len(), 121);
    assert_eq!(settings["newrelic.license"], "01...89");
    assert_eq!(settings["newrelic.daemon.app_connect_timeout"], "5s");
    let env: serde_json::Value = serde_json::from_str(&app.environment).unwrap();
    let keys: Vec<_> = env
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[0].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        keys,
        [
            "OS version",
            "OS Distro Name",
            "OS Distro Version",
            "OS LIBC Version",
            "Plugin List",
            "Dispatcher"
        ]
    );
    assert!(env[5][1].as_str().unwrap().ends_with("+cli"));
    assert!(env[4][1]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p.as_str().unwrap().starts_with("newrelic(")));

    let txn = frames[1].txn();
    assert_eq!(txn.name, "OtherTransaction/php/script.php");
    assert_eq!(txn.uri, "<unknown>");
    assert!(txn.pid > 0);
    let names: BTreeSet<String> = txn.metrics.iter().map(|m| m.name.clone()).collect();
    assert_eq!(names, vector_metric_names("01-cli-minimal"));
    assert!(txn.metrics.iter().all(|m| m.forced && !m.scoped));
    let ev: serde_json::Value = serde_json::from_str(txn.txn_event.as_deref().unwrap()).unwrap();
    assert_eq!(ev[0]["type"], "Transaction");
    assert_eq!(ev[0]["name"], "OtherTransaction/php/script.php");
    assert_eq!(txn.span_events.len(), 1);
    assert_eq!(txn.log_forwarding_labels.as_deref(), Some("[]"));
}

#[test]
fn custom_api_calls() {
    let d = FakeDaemon::start(Mode::Connected);
    let out = run_vector("02-cli-custom", &d, &[]);
    assert_eq!(stdout(&out), "done\n");
    let frames = d.wait_frames(2);
    let txn = frames[1].txn();
    assert_eq!(txn.name, "OtherTransaction/Custom/custom/name");
    let names: BTreeSet<String> = txn.metrics.iter().map(|m| m.name.clone()).collect();
    assert_eq!(names, vector_metric_names("02-cli-custom"));
    let value = txn
        .metrics
        .iter()
        .find(|m| m.name == "Custom/vectors/value")
        .unwrap();
    assert!((value.total - 0.123).abs() < 1e-9 && !value.forced);
    let params = txn
        .metrics
        .iter()
        .find(|m| m.name == "Supportability/api/add_custom_parameter")
        .unwrap();
    assert_eq!(params.count, 4.0);
    assert_eq!(txn.custom_events.len(), 1);
    let ev: serde_json::Value = serde_json::from_str(txn.txn_event.as_deref().unwrap()).unwrap();
    let user: Vec<_> = ev[1].as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        user,
        ["beta", "ratio", "plan", "user_id"],
        "reverse insertion order"
    );
    // root + Custom/slow_work
    assert_eq!(txn.span_events.len(), 2);
    assert!(txn.span_events[1].contains(r#""name":"Custom\/slow_work""#));
}

#[test]
fn uncaught_exception_wins_over_earlier_errors() {
    let d = FakeDaemon::start(Mode::Connected);
    let out = run_vector("03-cli-error/a-uncaught", &d, &[]);
    assert!(stdout(&out).contains("Uncaught RuntimeException: uncaught boom"));
    let frames = d.wait_frames(2);
    let txn = frames[1].txn();
    let names: BTreeSet<String> = txn.metrics.iter().map(|m| m.name.clone()).collect();
    assert_eq!(names, vector_metric_names("03-cli-error/a-uncaught"));
    assert_eq!(txn.errors.len(), 1);
    assert_eq!(txn.errors[0].priority, 100);
    let e: serde_json::Value = serde_json::from_str(&txn.errors[0].data).unwrap();
    assert_eq!(e[3], "RuntimeException");
    let msg = e[2].as_str().unwrap();
    assert!(
        msg.starts_with("Uncaught exception 'RuntimeException' with message 'uncaught boom' in ")
            && msg.ends_with("script.php:3"),
        "{msg}"
    );
    let stack = e[4]["stack_trace"].as_array().unwrap();
    assert_eq!(stack.len(), 1);
    let frame = stack[0].as_str().unwrap();
    assert!(
        frame.starts_with(" in fail called at ") && frame.ends_with("script.php (9)"),
        "{frame}"
    );
    assert_eq!(txn.error_events.len(), 1);
    // fail() lasts microseconds, but the exception left it: its span is
    // kept with the error, as in the vector.
    let spans: Vec<serde_json::Value> = txn
        .span_events
        .iter()
        .map(|s| serde_json::from_str(s).unwrap())
        .collect();
    let fail = spans
        .iter()
        .find(|s| s[0]["name"] == "Custom/fail")
        .unwrap_or_else(|| panic!("no Custom/fail span: {spans:#?}"));
    assert_eq!(fail[2]["error.class"], "RuntimeException");
    assert_eq!(fail[2]["error.message"].as_str(), Some(msg));
}

#[test]
fn exit_is_not_an_exception() {
    // exit() unwinds through the functions as an internal exception; their
    // segments must not get error attributes.
    let d = FakeDaemon::start(Mode::Connected);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("s.php"),
        "<?php\nfunction leave() { echo \"bye\\n\"; exit(0); }\nleave();\n",
    )
    .unwrap();
    let addr = d.address();
    let out = php(&[
        ("newrelic.daemon.address", &addr),
        ("newrelic.daemon.dont_launch", "3"),
        ("newrelic.license", LICENSE),
        ("newrelic.daemon.app_connect_timeout", "5s"),
    ])
    .arg("s.php")
    .current_dir(dir.path())
    .output()
    .unwrap();
    assert_eq!(stdout(&out), "bye\n");
    let txn = d.wait_frames(2)[1].txn();
    assert!(txn.errors.is_empty());
    assert!(
        txn.span_events.iter().all(|s| !s.contains("error.class")),
        "{:?}",
        txn.span_events
    );
}

#[test]
fn api_error_beats_warning() {
    let d = FakeDaemon::start(Mode::Connected);
    run_vector("03-cli-error/b-no-uncaught", &d, &[]);
    let txn = d.wait_frames(2)[1].txn();
    assert_eq!(txn.errors.len(), 1);
    assert_eq!(txn.errors[0].priority, 50);
    let e: serde_json::Value = serde_json::from_str(&txn.errors[0].data).unwrap();
    assert_eq!(e[2], "msg");
    assert_eq!(e[3], "NoticedError");
    let frame = e[4]["stack_trace"][0].as_str().unwrap();
    assert!(
        frame.starts_with(" in newrelic_notice_error called at ")
            && frame.ends_with("script.php (4)"),
        "{frame}"
    );
}

#[test]
fn warning_alone_is_recorded() {
    let d = FakeDaemon::start(Mode::Connected);
    run_vector("03-cli-error/c-warning-only", &d, &[]);
    let txn = d.wait_frames(2)[1].txn();
    assert_eq!(txn.errors.len(), 1);
    assert_eq!(txn.errors[0].priority, 40);
    let e: serde_json::Value = serde_json::from_str(&txn.errors[0].data).unwrap();
    assert_eq!(e[2], "user warning here");
    assert_eq!(e[3], "E_USER_WARNING");
    let frame = e[4]["stack_trace"][0].as_str().unwrap();
    assert!(
        frame.starts_with(" in trigger_error called at ") && frame.ends_with("script.php (3)"),
        "{frame}"
    );
}

#[test]
fn ignored_transaction_sends_nothing() {
    let d = FakeDaemon::start(Mode::Connected);
    run_vector("09-ignore-background/c-ignore", &d, &[]);
    // Everything PHP sent before it exited, however slowly it is read.
    let kinds: Vec<_> = d.wait_idle().iter().map(|f| f.kind()).collect();
    assert_eq!(kinds, ["App"]);
}

#[test]
fn three_transactions_on_one_connection() {
    let d = FakeDaemon::start(Mode::Connected);
    run_vector("10-long-cli/a-three-transactions", &d, &[]);
    let frames = d.wait_frames(4);
    let kinds: Vec<_> = frames.iter().map(|f| f.kind()).collect();
    assert_eq!(kinds, ["App", "Transaction", "Transaction", "Transaction"]);
    assert!(frames.iter().all(|f| f.conn == 0), "one connection");
    let names: Vec<_> = frames[1..].iter().map(|f| f.txn().name).collect();
    assert_eq!(
        names,
        [
            "OtherTransaction/php/script.php",
            "OtherTransaction/Custom/second",
            "OtherTransaction/Custom/third"
        ]
    );
}

#[test]
fn user_functions_above_the_threshold_make_a_trace() {
    let d = FakeDaemon::start(Mode::Connected);
    run_vector(
        "04-cli-trace",
        &d,
        &[("newrelic.transaction_tracer.threshold", "1ms")],
    );
    let txn = d.wait_frames(2)[1].txn();
    let names: BTreeSet<String> = txn.metrics.iter().map(|m| m.name.clone()).collect();
    assert_eq!(names, vector_metric_names("04-cli-trace"));
    let trace = txn.trace.expect("a trace");
    for f in ["Custom\\/a", "Custom\\/b", "Custom\\/c"] {
        assert!(trace.data.contains(f), "{f} in {}", trace.data);
    }
    // root + 2 x (a, b, c), linked by parentId
    assert_eq!(txn.span_events.len(), 7);
}

#[test]
fn dt_accept_then_insert() {
    let d = FakeDaemon::start(Mode::Connected);
    let out = run_vector("08-api-dt/a-accept-then-insert", &d, &[]);
    let text = stdout(&out);
    assert!(text.starts_with("accept: true\n"), "{text}");
    // The inserted headers continue the inbound trace.
    assert!(
        text.contains(r#""traceparent": "00-0af7651916cd43dd8448eb211c80319c-"#),
        "{text}"
    );
    assert!(text.contains(r#""tracestate": "1@nr=0-0-1-2-"#), "{text}");
    assert!(text.contains(r#""newrelic": ""#), "{text}");
    assert!(text.contains(r#""entity.guid": "GUID-1""#), "{text}");
    assert!(
        text.contains(r#""trace_id": "0af7651916cd43dd8448eb211c80319c""#),
        "{text}"
    );
    let txn = d.wait_frames(2)[1].txn();
    let names: BTreeSet<String> = txn.metrics.iter().map(|m| m.name.clone()).collect();
    assert_eq!(names, vector_metric_names("08-api-dt/a-accept-then-insert"));
}

#[test]
fn dt_insert_then_accept_is_refused() {
    let d = FakeDaemon::start(Mode::Connected);
    let out = run_vector("08-api-dt/b-insert-then-accept", &d, &[]);
    let expected = std::fs::read_to_string(
        vectors()
            .unwrap()
            .join("08-api-dt/b-insert-then-accept/stdout.txt"),
    )
    .unwrap();
    let first = |s: &str| {
        s.lines()
            .find(|l| l.starts_with("accept"))
            .map(str::to_owned)
    };
    assert_eq!(first(&stdout(&out)), first(&expected));
    let txn = d.wait_frames(2)[1].txn();
    let names: BTreeSet<String> = txn.metrics.iter().map(|m| m.name.clone()).collect();
    assert_eq!(names, vector_metric_names("08-api-dt/b-insert-then-accept"));
}

#[test]
fn app_settings_equal_new_relics_for_the_same_ini() {
    let d = FakeDaemon::start(Mode::Connected);
    run_vector("01-cli-minimal", &d, &[]);
    let ours: serde_json::Value =
        serde_json::from_str(&d.wait_frames(1)[0].app().settings).unwrap();
    let text = std::fs::read_to_string(vectors().unwrap().join("00-app/App.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let theirs: serde_json::Value =
        serde_json::from_str(v["data"]["settings"].as_str().unwrap()).unwrap();
    let (ours, theirs) = (ours.as_object().unwrap(), theirs.as_object().unwrap());
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>()
    );
    for (k, v) in theirs {
        // Paths differ per run.
        if k == "newrelic.daemon.address" || k == "newrelic.logfile" {
            continue;
        }
        assert_eq!(&ours[k], v, "{k}");
    }
}

#[test]
fn naming_settings_apply_to_cli_transactions_too() {
    // As in New Relic's agent: `webtransaction.name.*` also names
    // background transactions.
    let d = FakeDaemon::start(Mode::Connected);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("job.php"),
        "<?php function f_0() {} function f_1() {} f_0(); f_1(); echo 'ok';",
    )
    .unwrap();
    let addr = d.address();
    php(&[
        ("newrelic.daemon.address", &addr),
        ("newrelic.daemon.dont_launch", "3"),
        ("newrelic.license", LICENSE),
        ("newrelic.daemon.app_connect_timeout", "5s"),
        ("newrelic.webtransaction.name.functions", "f_0,F_1"),
        ("newrelic.webtransaction.name.files", r"jo\w\.php"),
    ])
    .arg("job.php")
    .current_dir(dir.path())
    .output()
    .unwrap();
    // The file names it first (Action); the first named function then
    // overrides that (Function ranks higher), the second does not.
    assert_eq!(
        d.wait_frames(2)[1].txn().name,
        "OtherTransaction/Function/f_0"
    );

    let d = FakeDaemon::start(Mode::Connected);
    let addr = d.address();
    php(&[
        ("newrelic.daemon.address", &addr),
        ("newrelic.daemon.dont_launch", "3"),
        ("newrelic.license", LICENSE),
        ("newrelic.daemon.app_connect_timeout", "5s"),
        ("newrelic.webtransaction.name.files", r"jo\w\.php"),
    ])
    .arg("job.php")
    .current_dir(dir.path())
    .output()
    .unwrap();
    assert_eq!(
        d.wait_frames(2)[1].txn().name,
        "OtherTransaction/Action/job.php"
    );
}

#[test]
fn custom_tracers_make_metrics_and_are_always_kept() {
    let d = FakeDaemon::start(Mode::Connected);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("s.php"),
        r#"<?php
class Worker { public function run($n) { usleep(50); return $n + 1; } }
function quick($n) { usleep(50); return $n * 2; }
function plain($n) { usleep(50); return $n; }
$w = new Worker();
for ($i = 0; $i < 3; $i++) { $w->run(quick(plain($i))); }
echo "done\n";
"#,
    )
    .unwrap();
    let addr = d.address();
    let out = php(&[
        ("newrelic.daemon.address", &addr),
        ("newrelic.daemon.dont_launch", "3"),
        ("newrelic.license", LICENSE),
        ("newrelic.daemon.app_connect_timeout", "5s"),
        ("newrelic.transaction_tracer.detail", "1"),
        ("newrelic.transaction_tracer.custom", "worker::RUN, quick"),
        // No call is slow enough to be kept for its duration alone.
        ("newrelic.special.expensive_node_min", "1s"),
    ])
    .arg("s.php")
    .current_dir(dir.path())
    .output()
    .unwrap();
    assert_eq!(stdout(&out), "done\n");
    let txn = d.wait_frames(2)[1].txn();
    for name in ["Custom/Worker::run", "Custom/quick"] {
        let m = txn
            .metrics
            .iter()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!((m.count, m.scoped), (3.0, true), "{name}");
    }
    assert!(txn.metrics.iter().all(|m| m.name != "Custom/plain"));
    let names: Vec<String> = txn
        .span_events
        .iter()
        .map(|s| serde_json::from_str::<serde_json::Value>(s).unwrap())
        .map(|v| v[0]["name"].as_str().unwrap().to_owned())
        .collect();
    let count = |n: &str| names.iter().filter(|x| *x == n).count();
    // Calls under expensive_node_min: only the custom-traced ones are kept.
    // (Each sleeps, so none has a zero duration.)
    assert_eq!(count("Custom/Worker::run"), 3, "{names:?}");
    assert_eq!(count("Custom/quick"), 3, "{names:?}");
    assert_eq!(count("Custom/plain"), 0, "{names:?}");
}

#[test]
fn notice_error_argument_forms_follow_new_relic() {
    let d = FakeDaemon::start(Mode::Connected);
    let dir = tempfile::tempdir().unwrap();
    // New Relic's test_bad_inputs.php cases return null and record nothing;
    // then one good four-argument call.
    std::fs::write(
        dir.path().join("s.php"),
        r#"<?php
$bad = [
    [fopen('php://memory', 'r')],
    ["", 42],
    ["", []],
    [42, "message", "file"],
    ["", "message", "file", 7],
    [42, [], "file", 7],
    ["", "message", [], 7],
    ["", "message", "file", ""],
    [42, "message", "file", 7, null, null],
];
foreach ($bad as $args) { var_dump(newrelic_notice_error(...$args)); }
function handler() { var_dump(newrelic_notice_error(E_USER_NOTICE, "good", __FILE__, __LINE__)); }
handler();
"#,
    )
    .unwrap();
    let addr = d.address();
    let out = php(&[
        ("newrelic.daemon.address", &addr),
        ("newrelic.daemon.dont_launch", "3"),
        ("newrelic.license", LICENSE),
        ("newrelic.daemon.app_connect_timeout", "5s"),
    ])
    .arg("s.php")
    .current_dir(dir.path())
    .output()
    .unwrap();
    assert_eq!(stdout(&out), format!("{}bool(true)\n", "NULL\n".repeat(9)));
    let txn = d.wait_frames(2)[1].txn();
    assert_eq!(txn.errors.len(), 1);
    let e: serde_json::Value = serde_json::from_str(&txn.errors[0].data).unwrap();
    assert_eq!(
        (e[2].as_str(), e[3].as_str()),
        (Some("good"), Some("NoticedError"))
    );
    let stack: Vec<&str> = e[4]["stack_trace"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(stack.len(), 2, "{stack:?}");
    assert!(stack[0].starts_with(" in newrelic_notice_error called at "));
    assert!(stack[1].starts_with(" in handler called at "));
}

#[test]
fn an_error_handler_frame_has_no_call_site() {
    // set_error_handler('newrelic_notice_error'): PHP calls the handler
    // from trigger_error (internal code), so, as debug_backtrace() shows
    // it, that frame has no file or line: New Relic prints "? (?)".
    let d = FakeDaemon::start(Mode::Connected);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("s.php"),
        r#"<?php
function a() { trigger_error("handled", E_USER_WARNING); }
set_error_handler('newrelic_notice_error', E_USER_WARNING);
a();
echo "done\n";
"#,
    )
    .unwrap();
    let addr = d.address();
    let out = php(&[
        ("newrelic.daemon.address", &addr),
        ("newrelic.daemon.dont_launch", "3"),
        ("newrelic.license", LICENSE),
        ("newrelic.daemon.app_connect_timeout", "5s"),
    ])
    .arg("s.php")
    .current_dir(dir.path())
    .output()
    .unwrap();
    assert_eq!(stdout(&out), "done\n");
    let txn = d.wait_frames(2)[1].txn();
    let e: serde_json::Value = serde_json::from_str(&txn.errors[0].data).unwrap();
    assert_eq!(e[3], "NoticedError");
    let file = dir.path().join("s.php").canonicalize().unwrap();
    let file = file.display();
    assert_eq!(
        e[4]["stack_trace"],
        serde_json::json!([
            " in newrelic_notice_error called at ? (?)",
            format!(" in trigger_error called at {file} (2)"),
            format!(" in a called at {file} (4)"),
        ])
    );
}

#[test]
fn a_cli_process_joins_a_trace_from_its_environment() {
    // New Relic's agent reads HTTP_TRACEPARENT/HTTP_TRACESTATE/HTTP_NEWRELIC
    // from $_SERVER for every transaction; a CLI's $_SERVER is its
    // environment.
    let d = FakeDaemon::start(Mode::Connected);
    let addr = d.address();
    let out = php(&[
        ("newrelic.daemon.address", &addr),
        ("newrelic.daemon.dont_launch", "3"),
        ("newrelic.license", LICENSE),
        ("newrelic.daemon.app_connect_timeout", "5s"),
    ])
    .env(
        "HTTP_TRACEPARENT",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    )
    .args(["-r", "echo 'done';"])
    .output()
    .unwrap();
    assert_eq!(stdout(&out), "done");
    let txn = d.wait_frames(2)[1].txn();
    let ev: serde_json::Value = serde_json::from_str(txn.txn_event.as_deref().unwrap()).unwrap();
    assert_eq!(ev[0]["traceId"], "0af7651916cd43dd8448eb211c80319c");
    assert!(txn
        .metrics
        .iter()
        .any(|m| m.name == "Supportability/TraceContext/Accept/Success"));
}

/// Runs `script` and returns the transaction's error classes.
fn error_classes(script: &str) -> Vec<String> {
    let d = FakeDaemon::start(Mode::Connected);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("s.php"), script).unwrap();
    let addr = d.address();
    let out = php(&[
        ("newrelic.daemon.address", &addr),
        ("newrelic.daemon.dont_launch", "3"),
        ("newrelic.license", LICENSE),
        ("newrelic.daemon.app_connect_timeout", "5s"),
        ("error_reporting", "E_ALL"),
        ("display_errors", "0"),
    ])
    .arg("s.php")
    .current_dir(dir.path())
    .output()
    .unwrap();
    assert_eq!(stdout(&out), "done\n");
    let txn = d.wait_frames(2)[1].txn();
    txn.errors
        .iter()
        .map(|e| {
            let v: serde_json::Value = serde_json::from_str(&e.data).unwrap();
            v[3].as_str().unwrap().to_owned()
        })
        .collect()
}

#[test]
fn errors_a_user_handler_takes_are_not_recorded() {
    // As New Relic's test_error_handler_true.php: the handler handles
    // deprecations (returns true) and declines the rest (returns false).
    const HANDLER: &str = r#"<?php
set_error_handler(function ($no) { return $no === E_USER_DEPRECATED; });
"#;
    let handled =
        format!("{HANDLER}trigger_error('handled', E_USER_DEPRECATED);\necho \"done\\n\";\n");
    assert!(error_classes(&handled).is_empty());
    let declined =
        format!("{HANDLER}trigger_error('declined', E_USER_WARNING);\necho \"done\\n\";\n");
    assert_eq!(error_classes(&declined), ["E_USER_WARNING"]);
    // A handler for other levels only does not hide this one.
    let other = "<?php\nset_error_handler(fn () => true, E_USER_NOTICE);\n\
                 trigger_error('mine', E_USER_WARNING);\necho \"done\\n\";\n";
    assert_eq!(error_classes(other), ["E_USER_WARNING"]);
}

#[test]
fn notices_are_not_recorded() {
    // New Relic's test_E_USER_NOTICE.php and test_E_NOTICE.php8.php.
    let script = "<?php\ntrigger_error('just so you know', E_USER_NOTICE);\necho \"done\\n\";\n";
    assert!(error_classes(script).is_empty());
}

#[test]
fn ignore_exceptions_covers_subclasses_of_uncaught_exceptions_only() {
    // DomainException extends LogicException. As New Relic: the uncaught
    // one is ignored, so is the error on the segment it leaves; a noticed
    // one is still recorded.
    let run = |body: &str| {
        let d = FakeDaemon::start(Mode::Connected);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("s.php"), format!("<?php\n{body}\n")).unwrap();
        let addr = d.address();
        php(&[
            ("newrelic.daemon.address", &addr),
            ("newrelic.daemon.dont_launch", "3"),
            ("newrelic.license", LICENSE),
            ("newrelic.daemon.app_connect_timeout", "5s"),
            (
                "newrelic.error_collector.ignore_exceptions",
                "LogicException",
            ),
            ("display_errors", "0"),
        ])
        .arg("s.php")
        .current_dir(dir.path())
        .output()
        .unwrap();
        d.wait_frames(2)[1].txn()
    };
    let txn = run("function f() { throw new DomainException('x'); }\nf();");
    assert!(txn.errors.is_empty());
    assert!(txn.span_events.iter().all(|s| !s.contains("error.class")));

    let txn = run("newrelic_notice_error(new DomainException('noticed'));");
    assert_eq!(txn.errors.len(), 1);

    let txn = run("function f() { throw new RuntimeException('y'); }\nf();");
    assert_eq!(txn.errors.len(), 1);
    assert!(txn.span_events.iter().any(|s| s.contains("error.class")));
}

#[test]
fn huge_exception_messages_are_bounded_and_the_transaction_is_sent() {
    // 40 exceptions with 100 KB messages, each through 51 frames: every
    // segment an exception leaves carries its message. Whole messages made
    // a ~200 MB frame (and as much agent memory); the daemon could not
    // take it within the 500 ms write deadline and the transaction was lost.
    let d = FakeDaemon::start(Mode::Connected);
    let code = r#"
        function thrower($n, $msg) { if ($n == 0) throw new RuntimeException($msg); thrower($n - 1, $msg); }
        $msg = str_repeat('m', 100000);
        for ($i = 0; $i < 40; $i++) { try { thrower(50, $msg . $i); } catch (Exception $e) {} }
        echo "done\n";
    "#;
    let addr = d.address();
    let out = php(&[
        ("newrelic.daemon.address", &addr),
        ("newrelic.daemon.dont_launch", "3"),
        ("newrelic.license", LICENSE),
        ("newrelic.daemon.app_connect_timeout", "5s"),
    ])
    .args(["-r", code])
    .output()
    .unwrap();
    assert_eq!(stdout(&out), "done\n");
    let frames = d.wait_frames(2);
    assert_eq!(frames.len(), 2);
    assert!(
        frames[1].body.len() < 16 << 20,
        "{} bytes",
        frames[1].body.len()
    );
    let txn = frames[1].txn();
    let longest = txn
        .span_events
        .iter()
        .filter_map(|s| {
            let v: serde_json::Value = serde_json::from_str(s).unwrap();
            v[2]["error.message"].as_str().map(str::len)
        })
        .max()
        .unwrap();
    assert!(longest <= seraph_txn::ERROR_MESSAGE_LIMIT, "{longest}");
}
