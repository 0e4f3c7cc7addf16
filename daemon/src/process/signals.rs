//! Signal dispositions shared by every role.
//!
//! The worker announces "listening" with SIGUSR1 to its whole process group
//! (progenitor, watcher and itself), and SIGUSR1's default action is to
//! terminate. Go ignores it by default; here every role sets it to
//! `SIG_IGN` first thing in `main`, and because an ignored disposition
//! survives `exec`, a child started by an ignoring parent is protected from
//! its first instruction. Only the progenitor replaces it with a real
//! handler (tokio's), to be told that the worker is ready.
//!
//! SIGPIPE is ignored (writes to a closed agent socket must be errors, not
//! deaths). SIGHUP is ignored from the start too, then handled by the
//! watcher and the worker: it reopens the log file (logrotate). New
//! Relic's daemon dies on SIGHUP.

use nix::sys::signal::{signal, SigHandler, Signal};

/// Ignores SIGUSR1, SIGPIPE and SIGHUP for this process (and, through
/// `exec`, for the children it spawns) until a role installs its handlers.
pub fn ignore_ready_and_pipe_signals() {
    for sig in [Signal::SIGUSR1, Signal::SIGPIPE, Signal::SIGHUP] {
        // SAFETY: installing SIG_IGN runs no code in signal context, so
        // none of `signal`'s handler-safety requirements apply; this is
        // called from `main` before any thread or runtime exists.
        if let Err(e) = unsafe { signal(sig, SigHandler::SigIgn) } {
            // Nothing is logged yet; stderr is all there is.
            eprintln!("newrelic-daemon: cannot ignore {sig}: {e}");
        }
    }
}

/// A single-threaded tokio runtime for the progenitor and watcher, which
/// only wait on signals, timers and one child.
pub fn small_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}
