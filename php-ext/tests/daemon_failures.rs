//! The request finishes normally, with unchanged output, whatever the
//! daemon does: absent, accepting but silent, refusing the app, or dying
//! mid-run. Bounds below are liveness checks (a hang would blow through
//! them by minutes), not performance measurements.

mod common;
use common::fake_daemon::{FakeDaemon, Mode};
use common::*;
use seraph_wire::AppStatus;
use std::time::Duration;

const LICENSE: &str = "0123456789012345678901234567890123456789";
const SCRIPT: &str = r#"echo "out\n";"#;
/// The agent's own app-reply deadline, for the tests of a silent daemon
/// (the harness raises it for every other test).
const DEFAULT_APPINFO: (&str, &str) = ("newrelic.special.appinfo_timeout", "100ms");

fn ini<'a>(address: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut v = vec![
        ("newrelic.daemon.address", address),
        ("newrelic.daemon.dont_launch", "3"),
        ("newrelic.license", LICENSE),
        ("newrelic.appname", "failures"),
    ];
    v.extend_from_slice(extra);
    v
}

#[test]
fn absent_daemon_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("nobody.sock");
    let (out, took) = run_timed(php(&ini(sock.to_str().unwrap(), &[])).args(["-r", SCRIPT]));
    assert!(out.status.success());
    assert_eq!(stdout(&out), "out\n");
    assert!(out.stderr.is_empty());
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[test]
fn silent_daemon_costs_at_most_the_app_deadline() {
    let d = FakeDaemon::start(Mode::Silent);
    let (out, took) = run_timed(php(&ini(&d.address(), &[DEFAULT_APPINFO])).args(["-r", SCRIPT]));
    assert_eq!(stdout(&out), "out\n");
    // One App query was sent, never answered: no Transaction follows.
    let kinds: Vec<_> = d.wait_frames(1).iter().map(|f| f.kind()).collect();
    assert_eq!(kinds, ["App"]);
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[test]
fn silent_daemon_with_connect_timeout_polls_then_gives_up() {
    let d = FakeDaemon::start(Mode::Silent);
    let (out, took) = run_timed(
        php(&ini(
            &d.address(),
            &[
                ("newrelic.daemon.app_connect_timeout", "300ms"),
                DEFAULT_APPINFO,
            ],
        ))
        .args(["-r", SCRIPT]),
    );
    assert_eq!(stdout(&out), "out\n");
    assert!(took < Duration::from_secs(5), "{took:?}");
    // A daemon that misses the deadline is not asked again during the
    // backoff that follows (1 s, longer than app_connect_timeout): one
    // query, one connection.
    let frames = d.wait_frames(1);
    assert_eq!(frames.len(), 1, "polled: {}", frames.len());
    assert!(frames.iter().all(|f| f.kind() == "App"));
    assert_eq!(d.connections(), 1);
}

#[test]
fn unknown_app_runs_uninstrumented() {
    let d = FakeDaemon::start(Mode::Status(AppStatus::Unknown));
    let out = php(&ini(&d.address(), &[]))
        .args(["-r", SCRIPT])
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "out\n");
    let kinds: Vec<_> = d.wait_frames(1).iter().map(|f| f.kind()).collect();
    assert_eq!(kinds, ["App"]);
}

#[test]
fn invalid_license_is_never_requeried() {
    let d = FakeDaemon::start(Mode::Status(AppStatus::InvalidLicense));
    let code = r#"
        for ($i = 0; $i < 3; $i++) {
            newrelic_end_transaction();
            var_dump(newrelic_start_transaction("failures"));
        }
    "#;
    let out = php(&ini(
        &d.address(),
        &[("newrelic.daemon.app_connect_timeout", "1s")],
    ))
    .args(["-r", code])
    .output()
    .unwrap();
    assert_eq!(stdout(&out), "bool(false)\nbool(false)\nbool(false)\n");
    assert_eq!(d.wait_idle().len(), 1, "one App query, then never again");
}

#[test]
fn daemon_dying_mid_run() {
    let d = FakeDaemon::start(Mode::DieAfterFirstReply);
    let code = r#"
        echo "start\n";
        newrelic_end_transaction();
        usleep(100000);
        newrelic_start_transaction("failures");
        echo "end\n";
    "#;
    let (out, took) = run_timed(php(&ini(&d.address(), &[])).args(["-r", code]));
    assert!(out.status.success());
    assert_eq!(stdout(&out), "start\nend\n");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(d.frames()[0].kind(), "App");
}

#[test]
fn exit_and_fatal_errors_still_send_the_transaction() {
    let d = FakeDaemon::start(Mode::Connected);
    for code in [
        "function f() { g(); } function g() { echo \"bye\\n\"; exit(3); } f();",
        "function f() { g(); } function g() { undefined_function(); } f();",
    ] {
        let out = php(&ini(
            &d.address(),
            &[("newrelic.daemon.app_connect_timeout", "5s")],
        ))
        .args(["-r", code])
        .output()
        .unwrap();
        assert_ne!(out.status.code(), Some(0));
    }
    let frames = d.wait_frames(4);
    let txns: Vec<_> = frames
        .iter()
        .filter(|f| f.kind() == "Transaction")
        .map(|f| f.txn())
        .collect();
    assert_eq!(txns.len(), 2, "a transaction per run despite the bailout");
    // The fatal error is recorded.
    assert_eq!(txns[1].errors.len(), 1);
    assert!(txns[1].errors[0].data.contains("undefined_function"));
}

#[test]
fn angelic_mode_spawns_the_configured_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("argv");
    let fake = dir.path().join("fake-newrelic-daemon");
    // Written aside, then renamed: the test polls for the file and must
    // never read it between its creation and the write of its line.
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\necho \"$@\" > {m}.tmp && mv {m}.tmp {m}\n",
            m = marker.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let sock = dir.path().join("absent.sock");
    let sock = sock.to_str().unwrap();
    let location = fake.to_str().unwrap();
    let logfile = dir.path().join("agent.log");
    // In the test's own directory: tests run in parallel, and a path
    // shared with another test or another checkout must not matter.
    let pidfile = dir.path().join("daemon.pid");
    let pidfile = pidfile.to_str().unwrap();
    let out = php(&[
        ("newrelic.daemon.address", sock),
        ("newrelic.daemon.dont_launch", "0"),
        ("newrelic.daemon.location", location),
        ("newrelic.daemon.pidfile", pidfile),
        ("newrelic.logfile", logfile.to_str().unwrap()),
        ("newrelic.license", LICENSE),
    ])
    .args(["-r", SCRIPT])
    .output()
    .unwrap();
    assert_eq!(stdout(&out), "out\n");
    // The spawned daemon is a grandchild, re-parented to init: it may
    // run well after PHP exited on a loaded machine.
    let until = std::time::Instant::now() + Duration::from_secs(30);
    while !marker.exists() && std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    let argv = std::fs::read_to_string(&marker).expect("the daemon was started");
    assert!(
        argv.starts_with(&format!(
            "--agent --pidfile {pidfile} --port {sock} --wait-for-port 0s"
        )),
        "{argv}"
    );
    assert!(
        argv.contains("--define utilization.detect_kubernetes=true"),
        "{argv}"
    );
    // The agent logs the spawn before PHP exits: the log, unlike the
    // marker, says at once whether a daemon was started.
    let log = std::fs::read_to_string(&logfile).unwrap();
    assert!(log.contains("started the daemon"), "{log}");

    // dont_launch=1 (not from the CLI): nothing is started.
    std::fs::remove_file(&marker).unwrap();
    std::fs::remove_file(&logfile).unwrap();
    php(&[
        ("newrelic.daemon.address", sock),
        ("newrelic.daemon.dont_launch", "1"),
        ("newrelic.daemon.location", location),
        ("newrelic.logfile", logfile.to_str().unwrap()),
        ("newrelic.license", LICENSE),
    ])
    .args(["-r", SCRIPT])
    .output()
    .unwrap();
    // The agent found no daemon (where it would start one) and started none.
    let log = std::fs::read_to_string(&logfile).unwrap();
    assert!(log.contains("daemon connect(2)"), "{log}");
    assert!(!log.contains("started the daemon"), "{log}");
    // Belt and braces: a daemon started anyway, and quickly, would show.
    std::thread::sleep(Duration::from_millis(300));
    assert!(!marker.exists());
}

#[test]
fn absurd_time_settings_do_not_switch_the_agent_off() {
    // Both parse (seconds, no upper bound); adding them to the clock used
    // to overflow `Instant`, a panic in RINIT that disabled the agent for
    // the process before it ever asked for the app.
    let d = FakeDaemon::start(Mode::Connected);
    let huge = "9223372036854775807s";
    let (out, took) = run_timed(
        php(&ini(
            &d.address(),
            &[
                ("newrelic.special.appinfo_timeout", huge),
                ("newrelic.daemon.app_connect_timeout", huge),
            ],
        ))
        .args(["-r", SCRIPT]),
    );
    assert_eq!(stdout(&out), "out\n");
    assert!(took < Duration::from_secs(5), "{took:?}");
    let kinds: Vec<_> = d.wait_frames(2).iter().map(|f| f.kind()).collect();
    assert_eq!(kinds, ["App", "Transaction"]);
}

#[test]
fn a_spawned_daemon_starts_with_default_signal_handling() {
    // A CLI worker that blocks SIGTERM and ignores SIGINT, then (mid-script)
    // starts a transaction while no daemon runs: the daemon it starts used
    // to inherit both (a blocked mask and ignored signals survive exec), so
    // `kill` could not stop it gracefully.
    require("python3", "python3");
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("signals");
    let fake = dir.path().join("fake-newrelic-daemon");
    std::fs::write(
        &fake,
        format!(
            "#!/usr/bin/env python3\n\
             open({:?}, 'w').write(''.join(l for l in open('/proc/self/status') \
             if l.startswith(('SigBlk', 'SigIgn'))))\n",
            marker.to_str().unwrap()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let sock = dir.path().join("absent.sock");
    let script = format!(
        "pcntl_sigprocmask(SIG_BLOCK, [SIGTERM, SIGUSR1]);\n\
         pcntl_signal(SIGINT, SIG_IGN);\n\
         newrelic_start_transaction('spawned', '{LICENSE}');\n\
         echo \"out\\n\";"
    );
    // No license in php.ini: RINIT starts nothing (and spawns nothing);
    // the API call does, after the script changed its signal state.
    let out = php(&[
        ("newrelic.daemon.address", sock.to_str().unwrap()),
        ("newrelic.daemon.dont_launch", "0"),
        ("newrelic.daemon.location", fake.to_str().unwrap()),
        (
            "newrelic.daemon.pidfile",
            dir.path().join("pid").to_str().unwrap(),
        ),
    ])
    .args(["-r", &script])
    .output()
    .unwrap();
    assert_eq!(
        stdout(&out),
        "out\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // python3 starting on a loaded machine: a generous deadline, left as
    // soon as both lines are there.
    let until = std::time::Instant::now() + Duration::from_secs(30);
    let mut status = String::new();
    while std::time::Instant::now() < until {
        status = std::fs::read_to_string(&marker).unwrap_or_default();
        if status.lines().count() == 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mask = |name: &str| {
        let line = status
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("the daemon was not started: {status:?}"));
        u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
    };
    let bit = |sig: i32| 1u64 << (sig - 1);
    assert_eq!(mask("SigBlk"), 0, "no signal blocked: {status}");
    assert_eq!(
        mask("SigIgn") & (bit(libc::SIGINT) | bit(libc::SIGTERM)),
        0,
        "SIGINT and SIGTERM not ignored: {status}"
    );
}
