//! The daemon's process model (New Relic's, so the PHP agent and init
//! scripts can drive either daemon):
//!
//! * **progenitor** (`newrelic-daemon` with no role): moves into its own
//!   process group, re-executes itself as the watcher with stdio on
//!   `/dev/null` and cwd `/`, waits up to `--wait-for-port` for the worker's
//!   "listening" signal (SIGUSR1 to the group), then exits;
//! * **watcher** (`NEW_RELIC_DAEMON_ROLE=watcher`, or
//!   `--watchdog-foreground`): holds the pid file and keeps one worker
//!   running, respawning it with a backoff when it crashes;
//! * **worker** (`NEW_RELIC_DAEMON_ROLE=worker`, or `-f`): the real work,
//!   in `seraph_daemon::worker`.
//!
//! Every role re-executes the same binary with the same argv, so the
//! configuration is parsed (and validated) identically in each.

pub mod banner;
pub mod pidfile;
pub mod progenitor;
pub mod signals;
pub mod watcher;
pub mod worker;

use std::ffi::{OsStr, OsString};
use std::io;
use std::path::{Path, PathBuf};

use seraph_config::DaemonConfig;

use pidfile::{Pidfile, PidfileError};

/// The environment variable that tells a re-executed daemon its role.
pub const ROLE_ENV: &str = "NEW_RELIC_DAEMON_ROLE";

/// Which part of the process tree this process is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Started by a user or the agent; spawns the watcher and exits.
    Progenitor,
    /// Supervises the worker.
    Watcher,
    /// Does the work.
    Worker,
}

impl Role {
    /// The role from the environment; without one, `-f` means worker and
    /// `--watchdog-foreground` watcher (the environment wins, so the watcher
    /// started by `--watchdog-foreground` still spawns a worker).
    pub fn select(env_role: Option<&OsStr>, config: &DaemonConfig) -> Role {
        let env = env_role
            .and_then(OsStr::to_str)
            .map(str::to_ascii_lowercase);
        match env.as_deref() {
            Some("watcher") => Role::Watcher,
            Some("worker") => Role::Worker,
            _ if config.foreground => Role::Worker,
            _ if config.watchdog_foreground => Role::Watcher,
            _ => Role::Progenitor,
        }
    }

    /// The role's name for logs and the environment.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Progenitor => "progenitor",
            Role::Watcher => "watcher",
            Role::Worker => "worker",
        }
    }
}

/// Runs `role` to completion and returns the exit status. The pid file (if
/// this role takes it) is released and removed before this returns.
pub fn run(role: Role, config: DaemonConfig, argv: &[OsString]) -> i32 {
    if role != Role::Progenitor {
        // Released once the role's SIGTERM handler is installed.
        seraph_daemon::termination::hold();
    }
    let _pidfile = match take_pidfile(role, &config) {
        Ok(pidfile) => pidfile,
        Err(PidfileError::Locked) => {
            // Another daemon owns the pid file: this is how a second daemon
            // (e.g. one more agent racing to spawn) bows out.
            tracing::debug!("pid file is locked by another daemon; exiting");
            return 0;
        }
        Err(e) => {
            tracing::error!("could not create pid file: {e}");
            return 1;
        }
    };
    match role {
        Role::Progenitor => progenitor::run(&config, argv),
        Role::Watcher => watcher::run(&config, argv),
        Role::Worker => worker::run(config),
    }
}

/// The watcher owns the pid file; so does a worker run with `-f`. A worker
/// spawned by a watcher is told `-no-pidfile`.
fn take_pidfile(role: Role, config: &DaemonConfig) -> Result<Option<Pidfile>, PidfileError> {
    let Some(path) = &config.pidfile else {
        return Ok(None);
    };
    if config.no_pidfile || role == Role::Progenitor {
        return Ok(None);
    }
    let pidfile = Pidfile::acquire(path)?;
    tracing::debug!(pidfile = %path.display(), "pid file locked");
    Ok(Some(pidfile))
}

/// `--utilization`: gathers utilization with every detector on (whatever
/// the configuration says, as New Relic's daemon does), prints it as
/// indented JSON and exits 0.
pub fn print_utilization() -> i32 {
    use seraph_collector::utilization::{all_detectors, gather};

    let runtime = match signals::small_runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("newrelic-daemon: error gathering utilization: {e}");
            return 1;
        }
    };
    let utilization = runtime.block_on(gather(&all_detectors()));
    match serde_json::to_string_pretty(&utilization) {
        Ok(json) => {
            println!("{json}");
            0
        }
        Err(e) => {
            eprintln!("newrelic-daemon: error gathering utilization: {e}");
            1
        }
    }
}

/// The absolute path to re-execute. New Relic's daemon uses argv[0]
/// (made absolute) rather than `/proc/self/exe`, so that after a package
/// upgrade a respawned worker runs the new binary instead of failing on a
/// deleted one; the same here, falling back to `current_exe`.
pub fn self_exe(argv0: Option<&OsStr>) -> io::Result<PathBuf> {
    if let Some(arg0) = argv0.filter(|a| !a.is_empty()) {
        let path = Path::new(arg0);
        if arg0.as_encoded_bytes().contains(&b'/') {
            return if path.is_absolute() {
                Ok(path.to_path_buf())
            } else {
                Ok(std::env::current_dir()?.join(path))
            };
        }
        if let Some(found) = search_path(path) {
            return Ok(found);
        }
    }
    std::env::current_exe()
}

fn search_path(name: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path_var = std::env::var_os("PATH")?;
    std::env::split_paths(&path_var)
        .map(|dir| dir.join(name))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
        .and_then(|found| {
            if found.is_absolute() {
                Some(found)
            } else {
                std::env::current_dir().ok().map(|cwd| cwd.join(found))
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(foreground: bool, watchdog: bool) -> DaemonConfig {
        DaemonConfig {
            foreground,
            watchdog_foreground: watchdog,
            ..DaemonConfig::default()
        }
    }

    #[test]
    fn role_selection() {
        let none = None;
        assert_eq!(Role::select(none, &cfg(false, false)), Role::Progenitor);
        assert_eq!(Role::select(none, &cfg(true, false)), Role::Worker);
        assert_eq!(Role::select(none, &cfg(false, true)), Role::Watcher);
        assert_eq!(Role::select(none, &cfg(true, true)), Role::Worker);
        let watcher = Some(OsStr::new("Watcher"));
        assert_eq!(Role::select(watcher, &cfg(false, true)), Role::Watcher);
        assert_eq!(Role::select(watcher, &cfg(true, false)), Role::Watcher);
        let worker = Some(OsStr::new("worker"));
        assert_eq!(Role::select(worker, &cfg(false, true)), Role::Worker);
        let other = Some(OsStr::new("boss"));
        assert_eq!(Role::select(other, &cfg(false, false)), Role::Progenitor);
    }

    #[test]
    fn pidfile_only_for_watcher_and_foreground_worker() {
        let dir = tempfile::tempdir().unwrap();
        let config = DaemonConfig {
            pidfile: Some(dir.path().join("d.pid")),
            ..DaemonConfig::default()
        };
        assert!(take_pidfile(Role::Progenitor, &config).unwrap().is_none());
        let held = take_pidfile(Role::Watcher, &config).unwrap();
        assert!(held.is_some());
        drop(held);
        let no = DaemonConfig {
            no_pidfile: true,
            ..config.clone()
        };
        assert!(take_pidfile(Role::Worker, &no).unwrap().is_none());
        assert!(take_pidfile(Role::Worker, &config).unwrap().is_some());
        assert!(take_pidfile(Role::Worker, &DaemonConfig::default())
            .unwrap()
            .is_none());
    }

    #[test]
    fn self_exe_resolution() {
        let abs = self_exe(Some(OsStr::new("/usr/bin/newrelic-daemon"))).unwrap();
        assert_eq!(abs, PathBuf::from("/usr/bin/newrelic-daemon"));
        let rel = self_exe(Some(OsStr::new("bin/newrelic-daemon"))).unwrap();
        assert_eq!(
            rel,
            std::env::current_dir().unwrap().join("bin/newrelic-daemon")
        );
        // `sh` is on PATH everywhere this runs.
        let sh = self_exe(Some(OsStr::new("sh"))).unwrap();
        assert!(sh.is_absolute() && sh.ends_with("sh"), "{}", sh.display());
        let fallback = self_exe(None).unwrap();
        assert_eq!(fallback, std::env::current_exe().unwrap());
    }
}
