//! The progenitor: detaching, waiting for readiness, its exit statuses.
#![cfg(debug_assertions)] // needs the SERAPH_TEST_WORKER stand-in

#[path = "process_support.rs"]
mod support;

use std::fs::OpenOptions;
use std::os::fd::AsRawFd;

use nix::fcntl::{fcntl, FcntlArg};
use nix::sys::signal::Signal;
use support::{
    alive, children, output, pgrp, read_pid, signal, wait_dead, wait_for, Reaper, Sandbox,
};

/// Waits for the watcher's pid in the pid file.
fn watcher_pid(sb: &Sandbox) -> i32 {
    wait_for("the watcher's pid file", || read_pid(&sb.pidfile()))
}

/// Stops a detached daemon through its watcher and checks it is all gone.
fn stop(sb: &Sandbox, watcher: i32) {
    let workers = children(watcher);
    signal(watcher, Signal::SIGTERM);
    wait_dead(watcher);
    for worker in workers {
        wait_dead(worker);
    }
    wait_for("the pid file to be removed", || {
        (!sb.pidfile().exists()).then_some(())
    });
}

#[test]
fn exits_zero_once_the_worker_is_ready_and_leaves_a_detached_daemon() {
    let sb = Sandbox::new();
    let _reaper = Reaper::new(sb.pidfile());
    let out = output(
        sb.daemon(Some("hold"))
            .arg("--pidfile")
            .arg(sb.pidfile())
            .args(["--wait-for-port", "30s"]),
    );
    assert_eq!(out.status.code(), Some(0), "{}", sb.log_text());
    assert!(out.stdout.is_empty() && out.stderr.is_empty());

    let watcher = watcher_pid(&sb);
    assert!(alive(watcher));
    let worker = wait_for("the worker", || children(watcher).first().copied());
    // Detached into its own process group (the progenitor's), away from ours.
    let ours = pgrp(std::process::id() as i32).unwrap();
    assert_ne!(pgrp(watcher), Some(ours));
    assert_eq!(pgrp(worker), pgrp(watcher));
    // cwd / and stdio on /dev/null.
    assert_eq!(
        std::fs::read_link(format!("/proc/{watcher}/cwd")).unwrap(),
        std::path::Path::new("/")
    );
    for fd in 0..3 {
        let target = std::fs::read_link(format!("/proc/{watcher}/fd/{fd}")).unwrap();
        assert_eq!(target, std::path::Path::new("/dev/null"), "fd {fd}");
    }
    // The ready signal went to the whole group; watcher and worker survive it.
    assert!(alive(worker));
    assert!(
        sb.log_text().contains("role=progenitor"),
        "{}",
        sb.log_text()
    );

    stop(&sb, watcher);
}

#[test]
fn exits_two_when_the_worker_never_gets_ready() {
    let sb = Sandbox::new();
    let _reaper = Reaper::new(sb.pidfile());
    let out = output(
        sb.daemon(Some("hold-unready"))
            .arg("--pidfile")
            .arg(sb.pidfile())
            .args(["--wait-for-port", "300ms"]),
    );
    assert_eq!(out.status.code(), Some(2), "{}", sb.log_text());
    assert!(
        sb.log_text()
            .contains("did not receive notice after 300ms that the worker was ready"),
        "{}",
        sb.log_text()
    );
    // The daemon keeps starting regardless.
    let watcher = watcher_pid(&sb);
    assert!(alive(watcher));
    stop(&sb, watcher);
}

#[test]
fn does_not_wait_with_wait_for_port_zero() {
    let sb = Sandbox::new();
    let _reaper = Reaper::new(sb.pidfile());
    let out = output(
        sb.daemon(Some("hold-unready"))
            .arg("--pidfile")
            .arg(sb.pidfile())
            .args(["--wait-for-port", "0s"]),
    );
    assert_eq!(out.status.code(), Some(0));
    let watcher = watcher_pid(&sb);
    stop(&sb, watcher);
}

#[test]
fn stops_waiting_when_another_daemon_holds_the_pidfile() {
    let sb = Sandbox::new();
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(sb.pidfile())
        .unwrap();
    let request = libc::flock {
        l_type: libc::F_WRLCK as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    };
    fcntl(file.as_raw_fd(), FcntlArg::F_SETLK(&request)).expect("lock");

    // With a one-minute wait, only the early exit of the watcher can end this.
    let out = output(
        sb.daemon(Some("exit:3"))
            .arg("--pidfile")
            .arg(sb.pidfile())
            .args(["--wait-for-port", "60s"]),
    );
    assert_eq!(out.status.code(), Some(0), "{}", sb.log_text());
    assert!(
        sb.log_text()
            .contains("another daemon may already be running"),
        "{}",
        sb.log_text()
    );
    assert!(
        !sb.log_text().contains("worker started"),
        "{}",
        sb.log_text()
    );
}
