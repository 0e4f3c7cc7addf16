//! The worker: listens for agents, aggregates their transactions per
//! application and harvests to the collector. Everything here runs inside
//! one tokio runtime that the worker builds itself.

use seraph_config::DaemonConfig;

/// How the worker ended, which decides what the watcher does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerExit {
    /// Orderly shutdown (SIGTERM): exit status 0, the watcher stops too.
    Clean,
    /// A configuration problem that a restart cannot fix (address in use,
    /// unreadable CA bundle, audit log not writable): exit status 1.
    Fatal,
    /// Something transient went wrong: exit status 3, the watcher respawns.
    Restart,
}

impl WorkerExit {
    /// The process exit status for this outcome.
    pub fn code(self) -> i32 {
        match self {
            WorkerExit::Clean => 0,
            WorkerExit::Fatal => 1,
            WorkerExit::Restart => 3,
        }
    }
}

/// Runs the worker until SIGTERM (or SIGINT when `foreground`), then
/// harvests every application one last time.
///
/// `on_ready` is called once the listener is bound, so the progenitor can
/// stop waiting (`--wait-for-port`).
pub fn run(
    config: DaemonConfig,
    foreground: bool,
    on_ready: Box<dyn FnOnce() + Send>,
) -> WorkerExit {
    let _ = (config, foreground);
    on_ready();
    tracing::error!("worker not implemented yet");
    WorkerExit::Fatal
}

pub mod connection;
// pub mod listener; (needs seraph_config::ListenAddr)
pub mod registry;
pub mod runs;
pub mod stats;
