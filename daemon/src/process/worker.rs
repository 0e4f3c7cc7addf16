//! The worker role's process-level setup around `seraph_daemon::worker::run`:
//! the file-descriptor limit and the "listening" signal to the progenitor.
//!
//! Test hook (debug builds only): `SERAPH_TEST_WORKER` replaces the real
//! worker so the process tests in `daemon/tests/process_*.rs` do not depend
//! on the worker's internals:
//! * `hold`: signal ready, then wait for SIGTERM (or SIGINT with `-f`), exit 0;
//! * `hold-unready`: the same without signalling ready;
//! * `exit:<code>`: signal ready, exit with `<code>` at once.

use nix::sys::resource::{getrlimit, setrlimit, Resource};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use seraph_config::DaemonConfig;

/// Runs the worker role; returns the exit status.
pub fn run(config: DaemonConfig) -> i32 {
    raise_file_limit(config.rlimit_files);

    // Without -f or --watchdog-foreground a progenitor is waiting for us.
    let has_progenitor = !(config.foreground || config.watchdog_foreground);
    let on_ready: Box<dyn FnOnce() + Send> = Box::new(move || {
        if has_progenitor {
            // Pid 0: our whole process group (progenitor, watcher, us); all
            // of them handle or ignore SIGUSR1.
            if let Err(e) = kill(Pid::from_raw(0), Signal::SIGUSR1) {
                tracing::debug!("could not tell the progenitor that the worker is ready: {e}");
            }
        }
    });

    #[cfg(debug_assertions)]
    let on_ready = match test_hook::run(config.foreground, on_ready) {
        test_hook::Outcome::Exit(code) => return code,
        test_hook::Outcome::NotSet(on_ready) => on_ready,
    };

    let foreground = config.foreground;
    let hooks = seraph_daemon::worker::WorkerHooks {
        on_ready,
        on_hangup: Box::new(reopen_log),
    };
    seraph_daemon::worker::run(config, foreground, hooks).code()
}

/// SIGHUP: the log file was rotated; write to a fresh one at its path.
pub fn reopen_log() {
    match crate::logging::reopen() {
        Ok(true) => tracing::info!("log file reopened (SIGHUP)"),
        Ok(false) => {}
        Err(e) => tracing::error!("cannot reopen the log file: {e}; still writing to the old one"),
    }
}

/// Raises the soft `RLIMIT_NOFILE` to at least `wanted`, and the hard limit
/// too if needed and permitted; failures are warnings (the daemon still
/// works, it just serves fewer agents at once). 0 leaves the limits alone.
pub fn raise_file_limit(wanted: u64) {
    if wanted == 0 {
        return;
    }
    let (soft, hard) = match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok(limits) => limits,
        Err(e) => {
            tracing::warn!(
                "unable to increase the file limit: the current value could not be read ({e}); \
                 if an init script starts the daemon, add \"ulimit -n {wanted}\" to it"
            );
            return;
        }
    };
    if wanted <= soft {
        return;
    }
    if wanted > hard {
        match setrlimit(Resource::RLIMIT_NOFILE, wanted, wanted) {
            Ok(()) => {
                tracing::info!("increased file limit to {wanted}");
                return;
            }
            Err(e) => tracing::warn!(
                "unable to increase the file hard limit from {hard} to {wanted} ({e}; raising it \
                 needs privileges); raising the soft limit as far as allowed"
            ),
        }
    }
    let new_soft = wanted.min(hard);
    match setrlimit(Resource::RLIMIT_NOFILE, new_soft, hard) {
        Ok(()) => tracing::info!("increased file limit to {new_soft}"),
        Err(e) => tracing::warn!("unable to increase the file limit: {e}"),
    }
}

#[cfg(debug_assertions)]
mod test_hook {
    use tokio::signal::unix::{signal, SignalKind};

    /// The environment variable naming the stand-in behaviour.
    pub const VAR: &str = "SERAPH_TEST_WORKER";

    /// What the hook did.
    pub enum Outcome {
        /// The stand-in ran; exit with this status.
        Exit(i32),
        /// Not set: run the real worker with this callback.
        NotSet(Box<dyn FnOnce() + Send>),
    }

    /// Runs the stand-in if the variable is set.
    pub fn run(foreground: bool, on_ready: Box<dyn FnOnce() + Send>) -> Outcome {
        let Ok(mode) = std::env::var(VAR) else {
            return Outcome::NotSet(on_ready);
        };
        tracing::info!("{VAR}={mode}: running the test stand-in instead of the worker");
        Outcome::Exit(match mode.as_str() {
            "hold" => {
                on_ready();
                hold(foreground)
            }
            "hold-unready" => hold(foreground),
            other => match other.strip_prefix("exit:").and_then(|c| c.parse().ok()) {
                Some(code) => {
                    on_ready();
                    code
                }
                None => {
                    tracing::error!("unknown {VAR} value {other:?}");
                    1
                }
            },
        })
    }

    fn hold(foreground: bool) -> i32 {
        let runtime = match super::super::signals::small_runtime() {
            Ok(rt) => rt,
            Err(e) => {
                tracing::error!("test stand-in: {e}");
                return 1;
            }
        };
        runtime.block_on(async {
            let handlers = (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            );
            seraph_daemon::termination::release();
            let (Ok(mut term), Ok(mut int)) = handlers else {
                return 1;
            };
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv(), if foreground => {}
            }
            tracing::info!("test stand-in received a stop signal - exiting");
            0
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_limit_is_raised_up_to_the_hard_limit() {
        let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
        // Asking for what we have changes nothing.
        raise_file_limit(soft);
        assert_eq!(getrlimit(Resource::RLIMIT_NOFILE).unwrap(), (soft, hard));
        raise_file_limit(0);
        assert_eq!(getrlimit(Resource::RLIMIT_NOFILE).unwrap(), (soft, hard));
        // Asking for more ends with soft = min(wanted, hard) unless the hard
        // limit could be raised too (root).
        if soft < hard {
            let wanted = soft + 1;
            raise_file_limit(wanted);
            let (new_soft, new_hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
            assert_eq!(new_soft, wanted);
            assert_eq!(new_hard, hard);
        }
    }
}
