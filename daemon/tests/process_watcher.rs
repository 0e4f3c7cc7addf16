//! The watcher: respawning, stopping, and what it passes to its worker.
#![cfg(debug_assertions)] // needs the SERAPH_TEST_WORKER stand-in

#[path = "process_support.rs"]
mod support;

use std::process::{Child, Stdio};

use nix::sys::signal::Signal;
use support::{
    alive, proc_strings, read_pid, signal, wait_dead, wait_for, wait_for_child, Reaper, Sandbox,
};

fn start_watcher(sb: &Sandbox, stand_in: &str) -> Child {
    sb.daemon(Some(stand_in))
        .arg("--watchdog-foreground")
        .arg("--pidfile")
        .arg(sb.pidfile())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn watcher")
}

fn started_workers(sb: &Sandbox) -> usize {
    sb.log_text().matches("worker started").count()
}

#[test]
fn sigkilled_worker_is_respawned_and_sigterm_stops_everything() {
    let sb = Sandbox::new();
    let mut watcher = start_watcher(&sb, "hold");
    let wpid = watcher.id() as i32;
    let mut reaper = Reaper::new(sb.pidfile());
    reaper.also(wpid);

    wait_for("the watcher's pid file", || {
        (read_pid(&sb.pidfile()) == Some(wpid)).then_some(())
    });
    let first = wait_for_child(wpid, None);

    // The worker runs with -no-pidfile plus the watcher's argv, as a worker.
    // (Right after fork the child still shows the watcher's argv: wait for exec.)
    let argv = wait_for("the worker to exec", || {
        let argv = proc_strings(first, "cmdline");
        argv.iter().any(|a| a == "-no-pidfile").then_some(argv)
    });
    assert_eq!(
        argv.get(1).map(String::as_str),
        Some("-no-pidfile"),
        "{argv:?}"
    );
    assert!(
        argv.iter().any(|a| a == "--watchdog-foreground"),
        "{argv:?}"
    );
    let env = proc_strings(first, "environ");
    assert!(
        env.iter().any(|e| e == "NEW_RELIC_DAEMON_ROLE=worker"),
        "{env:?}"
    );

    signal(first, Signal::SIGKILL);
    let second = wait_for_child(wpid, Some(first));
    assert_ne!(first, second);
    assert!(alive(second));
    assert!(alive(wpid));
    assert!(
        sb.log_text()
            .contains("worker received signal SIGKILL - restarting"),
        "{}",
        sb.log_text()
    );

    signal(wpid, Signal::SIGTERM);
    let status = watcher.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    wait_dead(second);
    assert!(!sb.pidfile().exists(), "pid file left behind");
    // The watcher waited for its worker to end before exiting (the worker
    // may have been too young to handle SIGTERM, so either way it ended).
    assert!(
        sb.log_text().contains(" - watcher exiting"),
        "{}",
        sb.log_text()
    );
}

#[test]
fn a_stray_argument_does_not_make_the_worker_take_the_pidfile() {
    let sb = Sandbox::new();
    let mut watcher = sb
        .daemon(Some("exit:1"))
        .arg("--watchdog-foreground")
        .arg("--pidfile")
        .arg(sb.pidfile())
        .arg("stray")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut reaper = Reaper::new(sb.pidfile());
    reaper.also(watcher.id() as i32);
    assert_eq!(watcher.wait().unwrap().code(), Some(0));
    // The worker ran (and exited 1) instead of bowing out at the lock.
    assert!(
        sb.log_text().contains("worker exited with status 1"),
        "{}",
        sb.log_text()
    );
}

#[test]
fn worker_exit_status_one_is_final() {
    let sb = Sandbox::new();
    let mut watcher = start_watcher(&sb, "exit:1");
    let mut reaper = Reaper::new(sb.pidfile());
    reaper.also(watcher.id() as i32);
    assert_eq!(watcher.wait().unwrap().code(), Some(0));
    assert_eq!(started_workers(&sb), 1, "{}", sb.log_text());
    assert!(sb
        .log_text()
        .contains("worker exited with status 1 - NOT restarting"));
}

#[test]
fn worker_exit_status_three_is_respawned_with_growing_delays() {
    let sb = Sandbox::new();
    let mut watcher = start_watcher(&sb, "exit:3");
    let wpid = watcher.id() as i32;
    let mut reaper = Reaper::new(sb.pidfile());
    reaper.also(wpid);

    wait_for("three worker starts", || {
        (started_workers(&sb) >= 3).then_some(())
    });
    let log = sb.log_text();
    assert!(
        log.contains("worker exited with status 3 - restarting"),
        "{log}"
    );
    assert!(log.contains("restarting the worker in 100ms"), "{log}");
    assert!(log.contains("restarting the worker in 200ms"), "{log}");

    signal(wpid, Signal::SIGTERM);
    assert_eq!(watcher.wait().unwrap().code(), Some(0));
}
