//! The pid file lock: a second daemon bows out with exit 0.
#![cfg(debug_assertions)] // needs the SERAPH_TEST_WORKER stand-in

#[path = "process_support.rs"]
mod support;

use std::fs::OpenOptions;
use std::os::fd::AsRawFd;
use std::process::Stdio;

use nix::fcntl::{fcntl, FcntlArg};
use nix::sys::signal::Signal;
use support::{output, read_pid, signal, wait_for, Sandbox};

/// Holds a POSIX write lock on `path` (as another daemon would) for as
/// long as the returned file lives.
fn hold_lock(path: &std::path::Path, contents: &str) -> std::fs::File {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .unwrap();
    std::io::Write::write_all(&mut &file, contents.as_bytes()).unwrap();
    let request = libc::flock {
        l_type: libc::F_WRLCK as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    };
    fcntl(file.as_raw_fd(), FcntlArg::F_SETLK(&request)).expect("lock");
    file
}

#[test]
fn locked_pidfile_makes_a_foreground_worker_exit_zero_silently() {
    let sb = Sandbox::new();
    let _lock = hold_lock(&sb.pidfile(), "424242\n");
    // Past the lock, the stand-in would exit 3.
    let out = output(
        sb.daemon(Some("exit:3"))
            .arg("-f")
            .arg("--pidfile")
            .arg(sb.pidfile()),
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(sb.pidfile()).unwrap(), "424242\n");
    assert!(!sb.log_text().contains("Error"), "{}", sb.log_text());
}

#[test]
fn locked_pidfile_makes_a_watcher_exit_zero_without_spawning() {
    let sb = Sandbox::new();
    let _lock = hold_lock(&sb.pidfile(), "424242\n");
    let out = output(
        sb.daemon(Some("exit:3"))
            .arg("--watchdog-foreground")
            .arg("--pidfile")
            .arg(sb.pidfile()),
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(
        !sb.log_text().contains("worker started"),
        "{}",
        sb.log_text()
    );
    assert_eq!(std::fs::read_to_string(sb.pidfile()).unwrap(), "424242\n");
}

#[test]
fn a_running_daemon_keeps_a_second_one_out_and_removes_its_pidfile() {
    let sb = Sandbox::new();
    let mut first = sb
        .daemon(Some("hold"))
        .arg("-f")
        .arg("--pidfile")
        .arg(sb.pidfile())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = first.id() as i32;
    wait_for("the pid file", || {
        (read_pid(&sb.pidfile()) == Some(pid)).then_some(())
    });

    let second = output(
        sb.daemon(Some("exit:3"))
            .arg("-f")
            .arg("--pidfile")
            .arg(sb.pidfile()),
    );
    assert_eq!(second.status.code(), Some(0));
    assert_eq!(read_pid(&sb.pidfile()), Some(pid));

    signal(pid, Signal::SIGTERM);
    assert_eq!(first.wait().unwrap().code(), Some(0));
    assert!(!sb.pidfile().exists(), "pid file left behind");
}

/// SIGTERM the moment the pid file holds the daemon's pid, before its
/// handler can be in place: the stop is held back, not fatal, so the
/// daemon still exits 0 and removes its pid file (without the hold, about
/// half of these stops left the file behind).
fn stop_at_once(role_flag: &str, worker: &str) {
    for round in 0..20 {
        let sb = Sandbox::new();
        let mut daemon = sb
            .daemon(Some(worker))
            .arg(role_flag)
            .arg("--pidfile")
            .arg(sb.pidfile())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let pid = daemon.id() as i32;
        wait_for("the pid file", || {
            (read_pid(&sb.pidfile()) == Some(pid)).then_some(())
        });
        signal(pid, Signal::SIGTERM);
        let status = daemon.wait().unwrap();
        assert_eq!(status.code(), Some(0), "round {round}: {status:?}");
        assert!(
            !sb.pidfile().exists(),
            "round {round}: pid file left behind\n{}",
            sb.log_text()
        );
    }
}

#[test]
fn a_stop_right_after_start_still_removes_the_watchers_pid_file() {
    stop_at_once("--watchdog-foreground", "hold-unready");
}

#[test]
fn a_stop_right_after_start_still_removes_the_foreground_workers_pid_file() {
    stop_at_once("-f", "hold-unready");
}
