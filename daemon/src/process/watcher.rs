//! The watcher: keeps exactly one worker alive.
//!
//! A worker that exits 0 (clean shutdown) or 1 (configuration problem a
//! restart cannot fix) ends the daemon, as does SIGTERM to the worker;
//! any other exit (≥ 2) or death by another signal gets a new worker. New
//! Relic respawns at once; Seraph waits 100 ms doubling to 30 s between
//! crashes (reset once a worker has lived 60 s) so a crash loop does not
//! spin a CPU or flood the log.
//!
//! The watcher also keeps the worker's runs (`seraph_daemon::worker::
//! handover`): the worker reports each run it connects or ends over a
//! socket pair, and a respawned worker receives them all before it serves
//! agents, so the Transactions agents keep sending with those run ids are
//! not lost. New Relic's respawned worker knows none of them.
//!
//! SIGTERM to the watcher is forwarded to the worker. New Relic's watcher
//! then exits immediately; this one waits (up to [`STOP_GRACE`]) for the
//! worker's final harvest to finish, so that a restart does not start a
//! new worker while the old one still holds the socket.

use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use seraph_config::DaemonConfig;
use seraph_daemon::worker::handover::{Kept, Line, HANDOVER_FD_ENV};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::signal::unix::{signal, SignalKind};

use super::{self_exe, signals, Role, ROLE_ENV};

/// First delay before respawning a crashed worker.
pub const BACKOFF_INITIAL: Duration = Duration::from_millis(100);
/// Longest delay before respawning.
pub const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// A worker that lived this long resets the delay.
pub const BACKOFF_RESET_AFTER: Duration = Duration::from_secs(60);
/// How long SIGTERM waits for the worker's final harvest.
pub const STOP_GRACE: Duration = Duration::from_secs(60);

/// Runs the watcher; returns the exit status.
pub fn run(_config: &DaemonConfig, argv: &[OsString]) -> i32 {
    let runtime = match signals::small_runtime() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("unable to start the watcher: {e}");
            return 1;
        }
    };
    runtime.block_on(supervise(argv))
}

async fn supervise(argv: &[OsString]) -> i32 {
    let term = signal(SignalKind::terminate());
    // The watcher's runtime is single-threaded: this is the thread that
    // held SIGTERM back since before the pid file was taken.
    seraph_daemon::termination::release();
    let mut term = match term {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("unable to handle SIGTERM: {e}");
            return 1;
        }
    };
    let mut hangups = signal(SignalKind::hangup())
        .map_err(|e| tracing::warn!("unable to handle SIGHUP: {e}"))
        .ok();
    let mut backoff = Backoff::default();
    let kept = Arc::new(Mutex::new(Kept::default()));
    let mut keeping: Option<tokio::task::JoinHandle<()>> = None;
    loop {
        // What the previous worker reported before it died is read to the
        // end before its successor gets the records.
        if let Some(previous) = keeping.take() {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(1), previous).await;
        }
        let started = Instant::now();
        let (mut worker, handover) = match spawn_worker(argv) {
            Ok(spawned) => spawned,
            Err(e) => {
                tracing::error!("unable to create worker: {e}");
                return 1;
            }
        };
        let pid = worker.id();
        tracing::info!(pid, "worker started");
        if let Some(socket) = handover {
            keeping = Some(tokio::spawn(keep_runs(socket, Arc::clone(&kept))));
        }

        let status = loop {
            tokio::select! {
                status = worker.wait() => break status,
                _ = term.recv() => {
                    tracing::info!("watcher received SIGTERM - stopping the worker");
                    stop(&mut worker).await;
                    return 0;
                }
                Some(()) = async { match &mut hangups { Some(h) => h.recv().await, None => None } } => {
                    // logrotate signals the pid file's process: reopen our
                    // own log and pass the signal on.
                    super::worker::reopen_log();
                    if let Some(pid) = worker.id().and_then(|p| i32::try_from(p).ok()) {
                        let _ = kill(Pid::from_raw(pid), Signal::SIGHUP);
                    }
                }
            }
        };
        match status {
            Ok(status) if !should_respawn(status) => {
                tracing::info!("{} - NOT restarting", describe(status));
                return 0;
            }
            Ok(status) => tracing::error!("{} - restarting", describe(status)),
            Err(e) => tracing::error!("lost track of the worker: {e} - restarting"),
        }

        let delay = backoff.next_delay(started.elapsed());
        tracing::info!("restarting the worker in {delay:?}");
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = term.recv() => {
                tracing::info!("watcher received SIGTERM - exiting");
                return 0;
            }
        }
    }
}

/// Forwards SIGTERM and waits for the worker, at most [`STOP_GRACE`].
async fn stop(worker: &mut Child) {
    let Some(pid) = worker.id() else {
        return;
    };
    let Ok(raw) = i32::try_from(pid) else {
        return;
    };
    if let Err(e) = kill(Pid::from_raw(raw), Signal::SIGTERM) {
        tracing::warn!(pid, "could not signal the worker: {e}");
        return;
    }
    match tokio::time::timeout(STOP_GRACE, worker.wait()).await {
        Ok(Ok(status)) => tracing::info!("{} - watcher exiting", describe(status)),
        Ok(Err(e)) => tracing::warn!("lost track of the worker: {e}"),
        Err(_) => tracing::warn!(
            pid,
            "worker still running {STOP_GRACE:?} after SIGTERM; watcher exiting anyway"
        ),
    }
}

/// Re-executes this binary as the worker: `-no-pidfile` (the watcher holds
/// it) then the same argv, role in the environment, inherited stdio, and
/// the worker's end of a new handover socket pair. New Relic appends
/// `-no-pidfile` instead, which is lost when argv contains a stray
/// non-flag argument (flag parsing stops there): the worker would then
/// find the pid file locked, exit 0 and stop the whole daemon.
fn spawn_worker(argv: &[OsString]) -> std::io::Result<(Child, Option<tokio::net::UnixStream>)> {
    let exe = self_exe(argv.first().map(OsString::as_os_str))?;
    let mut command = Command::new(exe);
    command
        .arg("-no-pidfile")
        .args(argv.iter().skip(1))
        .env(ROLE_ENV, Role::Worker.as_str())
        .env_remove(HANDOVER_FD_ENV);
    // Without the socket pair the worker still runs; its runs just do not
    // outlive it.
    let pair = std::os::unix::net::UnixStream::pair()
        .and_then(|(ours, theirs)| {
            // Inherited by this one child only: the watcher starts no other
            // process, and our end stays close-on-exec.
            nix::fcntl::fcntl(
                theirs.as_raw_fd(),
                nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
            )?;
            ours.set_nonblocking(true)?;
            Ok((tokio::net::UnixStream::from_std(ours)?, theirs))
        })
        .map_err(|e| tracing::warn!("no run handover to the worker: {e}"))
        .ok();
    if let Some((_, theirs)) = &pair {
        command.env(HANDOVER_FD_ENV, theirs.as_raw_fd().to_string());
    }
    let child = command.spawn()?;
    // Our copy of the worker's end closes here.
    Ok((child, pair.map(|(ours, _)| ours)))
}

/// Hands the runs kept so far to a new worker, then keeps what it reports
/// until it exits.
async fn keep_runs(socket: tokio::net::UnixStream, kept: Arc<Mutex<Kept>>) {
    let (read, mut write) = socket.into_split();
    let initial = kept.lock().map(|k| k.lines()).unwrap_or_default();
    if let Err(e) = write.write_all(initial.as_bytes()).await {
        tracing::debug!("could not hand the runs over to the worker: {e}");
    }
    let mut lines = BufReader::new(read).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(line) = Line::decode(&line) {
            if let Ok(mut k) = kept.lock() {
                k.apply(line);
            }
        }
    }
}

/// New Relic's rule: exit 0 or 1, or death by SIGTERM, is final.
pub fn should_respawn(status: ExitStatus) -> bool {
    match (status.code(), status.signal()) {
        (Some(code), _) => code >= 2,
        (None, Some(sig)) => sig != libc::SIGTERM,
        (None, None) => true,
    }
}

fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("worker exited with status {code}"),
        (None, Some(sig)) => {
            let name = Signal::try_from(sig).map_or_else(|_| sig.to_string(), |s| s.to_string());
            if status.core_dumped() {
                format!("worker received signal {name} (core dumped)")
            } else {
                format!("worker received signal {name}")
            }
        }
        (None, None) => "worker exited with unknown status".to_string(),
    }
}

/// Delay between respawns: doubles per quick crash, resets after a worker
/// that stayed up.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            next: BACKOFF_INITIAL,
        }
    }
}

impl Backoff {
    /// The delay before the next spawn, given how long the last worker ran.
    pub fn next_delay(&mut self, lived: Duration) -> Duration {
        if lived >= BACKOFF_RESET_AFTER {
            self.next = BACKOFF_INITIAL;
        }
        let delay = self.next;
        self.next = (self.next * 2).min(BACKOFF_MAX);
        delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exited(code: i32) -> ExitStatus {
        ExitStatus::from_raw(code << 8)
    }

    fn signaled(sig: i32) -> ExitStatus {
        ExitStatus::from_raw(sig)
    }

    #[test]
    fn respawn_rules() {
        assert!(!should_respawn(exited(0)));
        assert!(!should_respawn(exited(1)));
        assert!(should_respawn(exited(2)));
        assert!(should_respawn(exited(3)));
        assert!(should_respawn(exited(255)));
        assert!(!should_respawn(signaled(libc::SIGTERM)));
        assert!(should_respawn(signaled(libc::SIGKILL)));
        assert!(should_respawn(signaled(libc::SIGSEGV)));
        assert!(should_respawn(signaled(libc::SIGINT)));
    }

    #[test]
    fn descriptions() {
        assert_eq!(describe(exited(3)), "worker exited with status 3");
        assert_eq!(
            describe(signaled(libc::SIGKILL)),
            "worker received signal SIGKILL"
        );
        assert_eq!(
            describe(ExitStatus::from_raw(libc::SIGSEGV | 0x80)),
            "worker received signal SIGSEGV (core dumped)"
        );
    }

    #[test]
    fn backoff_doubles_caps_and_resets() {
        let quick = Duration::from_millis(10);
        let mut b = Backoff::default();
        let delays: Vec<_> = (0..12).map(|_| b.next_delay(quick)).collect();
        assert_eq!(delays[0], Duration::from_millis(100));
        assert_eq!(delays[1], Duration::from_millis(200));
        assert_eq!(delays[2], Duration::from_millis(400));
        assert_eq!(delays[8], Duration::from_millis(25_600));
        assert_eq!(delays[9], BACKOFF_MAX);
        assert_eq!(delays[11], BACKOFF_MAX);
        // A worker that stayed up starts the sequence over.
        assert_eq!(b.next_delay(BACKOFF_RESET_AFTER), BACKOFF_INITIAL);
        assert_eq!(b.next_delay(quick), Duration::from_millis(200));
    }
}
