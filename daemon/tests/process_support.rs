//! Helpers shared by the `process_*` tests (included with `#[path]`; as a
//! test target of its own it contains no tests).
//!
//! The tests run the real `newrelic-daemon` binary. The worker is replaced
//! by the debug-build stand-in `SERAPH_TEST_WORKER` (see
//! `daemon/src/process/worker.rs`), so they exercise the process model
//! without depending on the worker's internals.
//!
//! Waiting is done by polling with a generous deadline: the deadline is a
//! liveness guard against hangs, never a timing assertion.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// The daemon under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_newrelic-daemon");

/// How long anything may take before the test is declared hung.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// A scratch directory with the daemon's files.
pub struct Sandbox {
    dir: tempfile::TempDir,
}

impl Default for Sandbox {
    fn default() -> Self {
        Sandbox {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox::default()
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn log(&self) -> PathBuf {
        self.path("daemon.log")
    }

    pub fn pidfile(&self) -> PathBuf {
        self.path("daemon.pid")
    }

    /// The log's contents so far ("" before it exists).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.log()).unwrap_or_default()
    }

    /// A daemon command logging into the sandbox, with no inherited role
    /// and the given worker stand-in (`None` = the real worker).
    pub fn daemon(&self, stand_in: Option<&str>) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.arg("--logfile")
            .arg(self.log())
            .env_remove("NEW_RELIC_DAEMON_ROLE")
            .env_remove("SERAPH_TEST_WORKER")
            .stdin(Stdio::null());
        if let Some(mode) = stand_in {
            cmd.env("SERAPH_TEST_WORKER", mode);
        }
        cmd
    }
}

/// Runs a command to completion with captured output.
pub fn output(cmd: &mut Command) -> Output {
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("run newrelic-daemon")
}

/// Polls `probe` until it yields a value.
pub fn wait_for<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The pid written in a pid file, if it holds one.
pub fn read_pid(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Fields of `/proc/<pid>/stat` after the command name: state, ppid, pgrp.
fn stat(pid: i32) -> Option<(char, i32, i32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &text[text.rfind(')')? + 2..];
    let mut fields = after.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some((state, ppid, pgrp))
}

/// Whether `pid` is a running (not zombie) process.
pub fn alive(pid: i32) -> bool {
    matches!(stat(pid), Some((state, _, _)) if state != 'Z' && state != 'X')
}

/// The process group of `pid`.
pub fn pgrp(pid: i32) -> Option<i32> {
    stat(pid).map(|(_, _, g)| g)
}

/// Live children of `pid`.
pub fn children(pid: i32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&p| matches!(stat(p), Some((s, ppid, _)) if ppid == pid && s != 'Z'))
        .collect()
}

/// The single live child of `pid` other than `not`, once there is one.
pub fn wait_for_child(pid: i32, not: Option<i32>) -> i32 {
    wait_for("a worker process", || {
        children(pid).into_iter().find(|&c| Some(c) != not)
    })
}

/// Waits until `pid` is gone (or a zombie).
pub fn wait_dead(pid: i32) {
    wait_for(&format!("process {pid} to exit"), || {
        (!alive(pid)).then_some(())
    });
}

pub fn signal(pid: i32, sig: Signal) {
    kill(Pid::from_raw(pid), sig).expect("kill");
}

/// NUL-separated `/proc/<pid>/<file>` (cmdline, environ) as strings.
pub fn proc_strings(pid: i32, file: &str) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/{file}"))
        .unwrap_or_default()
        .split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

/// Kills a daemon tree found through its pid file when dropped, so a
/// failing test does not leave processes behind.
pub struct Reaper {
    pidfile: PathBuf,
    extra: Vec<i32>,
}

impl Reaper {
    pub fn new(pidfile: PathBuf) -> Reaper {
        Reaper {
            pidfile,
            extra: Vec::new(),
        }
    }

    pub fn also(&mut self, pid: i32) {
        self.extra.push(pid);
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        let mut pids = self.extra.clone();
        if let Some(pid) = read_pid(&self.pidfile) {
            pids.push(pid);
        }
        for pid in pids {
            for child in children(pid) {
                let _ = kill(Pid::from_raw(child), Signal::SIGKILL);
            }
            if alive(pid) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
    }
}
