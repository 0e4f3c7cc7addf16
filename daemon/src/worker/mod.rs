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

/// What the process around the worker wants to hear about.
pub struct WorkerHooks {
    /// Called once the listener is bound, so the progenitor can stop
    /// waiting (`--wait-for-port`).
    pub on_ready: Box<dyn FnOnce() + Send>,
    /// Called on SIGHUP: open the log file again (logrotate).
    pub on_hangup: Box<dyn Fn() + Send + Sync>,
}

/// Runs the worker until SIGTERM (or SIGINT when `foreground`), then
/// harvests every application one last time.
pub fn run(config: DaemonConfig, foreground: bool, hooks: WorkerHooks) -> WorkerExit {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("seraph-worker")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return WorkerExit::Restart;
        }
    };
    let exit = runtime.block_on(serve(Arc::new(config), foreground, hooks));
    // Send tasks still waiting on the collector after the final harvest's
    // deadline are abandoned rather than holding up the exit.
    runtime.shutdown_timeout(Duration::from_secs(1));
    exit
}

async fn serve(config: Arc<DaemonConfig>, foreground: bool, hooks: WorkerHooks) -> WorkerExit {
    // First: a stop request during start-up then ends the worker in order.
    let stop = shutdown_signal(foreground);
    tokio::pin!(stop);
    let mut hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .map_err(|e| tracing::warn!(error = %e, "cannot handle SIGHUP"))
        .ok();
    let WorkerHooks {
        on_ready,
        on_hangup,
    } = hooks;
    let client_config = ClientConfig {
        ca_bundle: config.ca_bundle.clone(),
        ca_path: config.ca_path.clone(),
        proxy: config.proxy.as_ref().map(|p| p.as_str().to_owned()),
        audit_log: config.auditlog.clone(),
        ..ClientConfig::default()
    };
    let client = match CollectorClient::new(client_config) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot set up the collector client");
            return WorkerExit::Fatal;
        }
    };
    let certificates = if config.ca_bundle.is_some() || config.ca_path.is_some() {
        SystemCertificates::NotReported
    } else {
        SystemCertificates::Available
    };

    let access = match socket_access(&config) {
        Ok(a) => a,
        Err(e) => {
            tracing::error!("{e}");
            return WorkerExit::Fatal;
        }
    };
    let listener = match Listener::bind(&config.listen, access) {
        Ok(l) => l,
        Err(e @ BindError::Fatal { .. }) => {
            tracing::error!(error = %e, "cannot listen for agents");
            return WorkerExit::Fatal;
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for agents");
            return WorkerExit::Restart;
        }
    };
    tracing::info!(address = %listener::describe(&config.listen), "listening for agents");

    let (util_tx, util_rx) = watch::channel(None);
    let util_config = config.utilization.clone();
    tokio::spawn(async move {
        let util = seraph_collector::utilization::gather(&util_config).await;
        let _ = util_tx.send(Some(Arc::new(util)));
    });

    let stats = Arc::new(WorkerStats::default());
    let spool = spool::SpoolHandle::open(&config, Arc::clone(&stats));
    let (handover, restored) = restored_runs(&config, spool.is_some());
    let journal = Journal::start(handover, spool.as_ref().and(config.spool_dir.clone()));
    let health = Arc::new(CollectorHealth::default());
    let runs = Runs::default();
    let upstream = Arc::new(CollectorUpstream {
        client,
        config: Arc::clone(&config),
        utilization: util_rx,
        hostname: hostname(),
        stats: Arc::clone(&stats),
        certificates,
        spool,
        health: Arc::clone(&health),
    });
    let registry = registry::spawn(
        RegistryConfig {
            app_limit: config.app_limit,
            app_timeout: config.app_timeout,
            ..RegistryConfig::default()
        },
        RegistryParts {
            runs: runs.clone(),
            upstream,
            health,
            journal,
            restored,
        },
    );
    let ctx = Arc::new(ConnectionContext {
        registry: registry.clone(),
        runs,
        max_frame: config.max_frame_size,
        stats: Arc::clone(&stats),
    });
    on_ready();

    let max_connections = agent_connection_limit(current_file_limit());
    tracing::debug!(max_connections, "agent connection limit");
    let connection_slots = ConnectionSlots::new(max_connections, config.agent_idle_timeout);

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    // Each connection task holds a clone; recv() returns None once all of
    // them have finished (their transactions are then in the run queues).
    let (conn_alive_tx, mut conn_alive_rx) = mpsc::channel::<()>(1);
    let status_every = Duration::from_secs(60);
    let mut status =
        tokio::time::interval_at(tokio::time::Instant::now() + status_every, status_every);
    // After SIGTERM: the flush, running while agents are still served.
    let mut flushing: Option<std::pin::Pin<Box<dyn std::future::Future<Output = usize> + Send>>> =
        None;
    loop {
        tokio::select! {
            stream = listener.accept() => {
                // Past the limit the connection idle longest makes room
                // if it has been idle long enough; otherwise the new one is
                // closed at once: the agent retries later, and the
                // descriptors the daemon needs for the collector and the
                // spool stay free.
                let slot = match connection_slots.admit() {
                    Admission::Free(slot) => slot,
                    Admission::Evicted(slot) => {
                        stats.connections_evicted.fetch_add(1, Ordering::Relaxed);
                        crate::limited!(
                            EVICTED,
                            info,
                            limit = max_connections,
                            "all agent connections in use: closing the one idle longest for a new one"
                        );
                        slot
                    }
                    Admission::Refused => {
                        drop(stream);
                        stats.connections_refused.fetch_add(1, Ordering::Relaxed);
                        crate::limited!(
                            REFUSED,
                            warn,
                            limit = max_connections,
                            "too many agent connections and none idle for agent_idle_timeout: closing new ones (raise rlimit_files)"
                        );
                        continue;
                    }
                };
                let ctx = Arc::clone(&ctx);
                let shutdown = shutdown_rx.clone();
                let alive = conn_alive_tx.clone();
                tokio::spawn(async move {
                    match stream {
                        Stream::Unix(s) => connection::serve(s, ctx, shutdown, &slot).await,
                        Stream::Tcp(s) => connection::serve(s, ctx, shutdown, &slot).await,
                    }
                    drop(alive);
                    drop(slot);
                });
            }
            _ = status.tick() => log_status(&stats),
            Some(()) = async { match &mut hangups { Some(h) => h.recv().await, None => None } } => {
                on_hangup();
            }
            signal = &mut stop, if flushing.is_none() => {
                tracing::info!(signal, "shutting down: final harvest of every application (agents are served meanwhile)");
                let registry = registry.clone();
                flushing = Some(Box::pin(async move { registry.flush(FLUSH_DEADLINE).await }));
            }
            runs = async { match &mut flushing { Some(f) => f.await, None => std::future::pending().await } } => {
                tracing::info!(runs, "final harvest written; closing agent connections for what came meanwhile");
                break;
            }
        }
    }
    drop(listener);
    let _ = shutdown_tx.send(true);
    drop(conn_alive_tx);
    if tokio::time::timeout(Duration::from_secs(5), conn_alive_rx.recv())
        .await
        .is_err()
    {
        tracing::warn!("some agent connections did not finish draining");
    }
    let harvested = registry.shutdown(FINAL_DEADLINE).await;
    tracing::info!(runs = harvested, "final harvest done; exiting");
    log_status(&stats);
    WorkerExit::Clean
}

/// The runs the previous worker had: from the watcher (license included)
/// and, with a working spool, from its directory (without the license);
/// the watcher's record wins for an application in both.
fn restored_runs(
    config: &DaemonConfig,
    spool_open: bool,
) -> (Option<handover::Handover>, Vec<record::RunRecord>) {
    let (handover, mut records) = match handover::Handover::from_env() {
        Some((h, records)) => (Some(h), records),
        None => (None, Vec::new()),
    };
    if spool_open {
        if let Some(dir) = &config.spool_dir {
            for r in journal::load(dir) {
                if !records.iter().any(|k| k.app == r.app) {
                    records.push(r);
                }
            }
        }
    }
    if !records.is_empty() {
        tracing::info!(runs = records.len(), "runs of the previous worker found");
    }
    (handover, records)
}

/// `socket_mode` and `socket_group`, the group resolved.
fn socket_access(config: &DaemonConfig) -> Result<SocketAccess, String> {
    let gid = match config.socket_group.as_deref() {
        None => None,
        Some(g) => Some(match g.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => nix::unistd::Group::from_name(g)
                .ok()
                .flatten()
                .map(|grp| grp.gid.as_raw())
                .ok_or_else(|| format!("socket_group {g:?} names no group"))?,
        }),
    };
    Ok(SocketAccess {
        mode: config.socket_mode,
        gid,
    })
}

/// How long the shutdown's flush (everything the runs hold, harvested the
/// final way while agents are still served) may take in all.
const FLUSH_DEADLINE: Duration = Duration::from_secs(25);

/// How long the final harvest (what came during the flush, after agent
/// connections are closed) may take in all. With [`FLUSH_DEADLINE`], the 5 s
/// connection drain and the runtime's 1 s this stays within the watcher's
/// 60 s (`STOP_GRACE`).
const FINAL_DEADLINE: Duration = Duration::from_secs(25);

/// File descriptors kept back from agent connections for the daemon's own
/// use: up to 100 collector requests at once plus pooled connections, the
/// spool's segment files, the logs, the listener and the runtime.
const RESERVED_FILES: u64 = 256;

/// How many agent connections may be open at once under a soft
/// `RLIMIT_NOFILE` of `nofile`: everything but [`RESERVED_FILES`] (half of
/// the limit when it is small). Without such a cap idle agents can take
/// every descriptor, and then no harvest reaches the collector and no
/// spool file opens.
pub fn agent_connection_limit(nofile: u64) -> usize {
    let reserve = RESERVED_FILES.min(nofile / 2);
    usize::try_from(nofile.saturating_sub(reserve))
        .unwrap_or(usize::MAX)
        .clamp(1, Semaphore::MAX_PERMITS)
}

/// The soft `RLIMIT_NOFILE` (after the worker raised it).
fn current_file_limit() -> u64 {
    match nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE) {
        Ok((soft, _)) if soft != nix::sys::resource::RLIM_INFINITY => soft,
        Ok(_) => 1 << 20,
        Err(_) => 1024,
    }
}

/// Agent connections refused at the connection limit.
static REFUSED: LogLimit = LogLimit::new(EVERY_MINUTE);
/// Idle agent connections closed to make room.
static EVICTED: LogLimit = LogLimit::new(EVERY_MINUTE);

/// Installs the stop handlers at once (and lets the stop signals held back
/// since start-up through, see [`crate::termination`]); the future
/// resolves on SIGTERM, or SIGINT when running in the foreground. Called
/// on the thread that runs `block_on`.
fn shutdown_signal(foreground: bool) -> impl std::future::Future<Output = &'static str> {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    let mut int = if foreground {
        signal(SignalKind::interrupt()).ok()
    } else {
        None
    };
    crate::termination::release();
    async move {
        let mut term = match term {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "cannot handle SIGTERM");
                return std::future::pending().await;
            }
        };
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            Some(()) = async { match &mut int { Some(s) => s.recv().await, None => None } } => "SIGINT",
        }
    }
}

fn log_status(stats: &WorkerStats) {
    let get = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
    tracing::info!(
        connections_open = get(&stats.connections_open),
        connections_total = get(&stats.connections_total),
        connections_refused = get(&stats.connections_refused),
        connections_evicted = get(&stats.connections_evicted),
        app_queries = get(&stats.app_queries),
        transactions_received = get(&stats.transactions_received),
        transactions_merged = get(&stats.transactions_merged),
        transactions_unknown_run = get(&stats.transactions_unknown_run),
        bad_frames = get(&stats.bad_frames),
        span_batches_dropped = get(&stats.span_batches_dropped),
        spool_written = get(&stats.spool_written),
        spool_replayed = get(&stats.spool_replayed),
        spool_dropped = get(&stats.spool_dropped),
        "daemon status"
    );
}

fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".to_owned())
}

pub mod connection;
pub mod handover;
pub mod health;
pub mod journal;
pub mod listener;
pub mod record;
pub mod registry;
pub mod run;
pub mod runs;
pub mod slots;
pub mod spool;
pub mod stats;
pub mod upstream;

use crate::loglimit::{LogLimit, EVERY_MINUTE};
use connection::ConnectionContext;
use health::CollectorHealth;
use journal::Journal;
use listener::{BindError, Listener, SocketAccess, Stream};
use registry::{RegistryConfig, RegistryParts};
use runs::Runs;
use seraph_collector::{ClientConfig, CollectorClient};
use seraph_harvest::SystemCertificates;
use slots::{Admission, ConnectionSlots};
use stats::WorkerStats;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch, Semaphore};
use upstream::CollectorUpstream;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_connections_leave_descriptors_for_the_daemon() {
        assert_eq!(agent_connection_limit(2048), 2048 - 256);
        assert_eq!(agent_connection_limit(20_000), 20_000 - 256);
        // A small limit is shared half and half.
        assert_eq!(agent_connection_limit(256), 128);
        assert_eq!(agent_connection_limit(1), 1);
        assert_eq!(agent_connection_limit(0), 1);
    }
}
