//! The progenitor: what an init script or the PHP agent starts. It detaches
//! the daemon from its caller and, if asked, waits until the worker listens
//! so that the agent's first requests find a socket.
//!
//! Exit status: 0 once the worker said it is listening (or immediately with
//! `--wait-for-port 0`); 2 if the wait timed out (the daemon keeps
//! starting); 1 if the watcher could not be spawned. Unlike New Relic's,
//! the progenitor also stops waiting when the watcher exits early: 0 if it
//! exited cleanly (typically another daemon holds the pid file, or the
//! worker hit a configuration error already logged), 1 otherwise.

use std::ffi::OsString;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::unistd::{setpgid, Pid};
use seraph_config::DaemonConfig;
use tokio::process::{Child, Command};
use tokio::signal::unix::{signal, SignalKind};

use super::{self_exe, signals, Role, ROLE_ENV};

/// Runs the progenitor; returns the exit status.
pub fn run(config: &DaemonConfig, argv: &[OsString]) -> i32 {
    let runtime = match signals::small_runtime() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("unable to start the progenitor: {e}");
            return 1;
        }
    };
    runtime.block_on(progenitor(config.wait_for_port, argv))
}

async fn progenitor(wait: Duration, argv: &[OsString]) -> i32 {
    // Listen before the watcher exists, or a fast worker's signal is lost.
    let mut ready = if wait.is_zero() {
        None
    } else {
        match signal(SignalKind::user_defined1()) {
            Ok(stream) => Some(stream),
            Err(e) => {
                tracing::warn!("cannot wait for the worker (SIGUSR1 handler): {e}");
                None
            }
        }
    };

    // The worker signals its process group; make that group ours, not the
    // caller's (a PHP process would die of SIGUSR1).
    if let Err(e) = setpgid(Pid::from_raw(0), Pid::from_raw(0)) {
        tracing::warn!("error isolating process group: {e}");
    }

    let mut watcher = match spawn_watcher(argv) {
        Ok(child) => child,
        Err(e) => {
            tracing::error!("unable to create watcher process: {e}");
            return 1;
        }
    };
    tracing::debug!(pid = watcher.id(), "watcher started");

    let Some(ready) = ready.as_mut() else {
        return 0;
    };
    tokio::select! {
        biased;
        _ = ready.recv() => {
            tracing::debug!("worker is ready to receive connections; progenitor exiting");
            0
        }
        status = watcher.wait() => {
            // A ready signal may have raced the exit; it wins if it is there.
            if tokio::time::timeout(Duration::from_millis(50), ready.recv()).await.is_ok() {
                tracing::debug!("worker is ready to receive connections; progenitor exiting");
                return 0;
            }
            early_exit(status)
        }
        _ = tokio::time::sleep(wait) => {
            tracing::error!(
                "did not receive notice after {wait:?} that the worker was ready"
            );
            2
        }
    }
}

fn early_exit(status: std::io::Result<ExitStatus>) -> i32 {
    match status {
        Ok(s) if s.success() => {
            tracing::info!(
                "watcher exited before the worker was ready (another daemon may already be running)"
            );
            0
        }
        Ok(s) => {
            tracing::error!("watcher exited before the worker was ready: {s}");
            1
        }
        Err(e) => {
            tracing::error!("lost track of the watcher: {e}");
            1
        }
    }
}

/// Re-executes this binary as the watcher: same argv, role in the
/// environment, cwd `/` (so the daemon does not pin a mount), stdio on
/// `/dev/null` (so it does not hold the caller's terminal or pipes).
fn spawn_watcher(argv: &[OsString]) -> std::io::Result<Child> {
    let exe = self_exe(argv.first().map(OsString::as_os_str))?;
    Command::new(exe)
        .args(argv.iter().skip(1))
        .env(ROLE_ENV, Role::Watcher.as_str())
        .env("PWD", "/")
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
}
