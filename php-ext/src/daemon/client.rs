//! The per-process daemon client: one connection reused across requests,
//! the App query with its deadline, the app cache, Transaction writes, and
//! angelic spawning when nobody answers.
//!
//! Nothing here runs before the first request: the connection is opened
//! lazily and tagged with the pid that opened it, so a forked child (a
//! php-fpm worker, `pcntl_fork`) never writes into its parent's socket.

use super::address::DaemonAddress;
use super::appcache::{Action, AppCache, AppKey, Connected, Refusal};
use super::conn::{deadline_after, Conn, ConnError};
use super::spawn::{self, Spawner};
use crate::config::AgentSettings;
use seraph_wire::{AppInfo, AppReplyInfo, Body};
use std::time::{Duration, Instant};

/// Deadline for writing one Transaction (connect included).
pub const TXN_WRITE_TIMEOUT: Duration = Duration::from_millis(500);
/// Poll interval while waiting for a Connected app on the first request.
pub const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// Largest AppReply accepted.
const MAX_REPLY: usize = 32 << 20;
/// Minimum time between two identical warnings.
const WARN_EVERY: Duration = Duration::from_secs(60);
/// Applications one process keeps (New Relic's agent's `NR_APP_LIMIT`, which
/// matches its daemon's). Each keeps its connect reply; a worker that names
/// its transactions' application after its data (one per tenant, via
/// `newrelic_start_transaction` or `ini_set`) would otherwise keep one per
/// name for as long as it lives.
pub const APP_LIMIT: usize = 250;

/// Why a Transaction was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The address setting is unusable.
    #[error("bad daemon address: {0}")]
    Address(#[from] super::address::AddressError),
    /// Socket trouble.
    #[error(transparent)]
    Conn(#[from] ConnError),
}

#[derive(Debug, Default)]
struct RateLimit(Option<Instant>);

impl RateLimit {
    fn allow(&mut self, now: Instant) -> bool {
        if self
            .0
            .is_none_or(|t| now.saturating_duration_since(t) >= WARN_EVERY)
        {
            self.0 = Some(now);
            true
        } else {
            false
        }
    }
}

/// What the caller knows about the process for spawning decisions.
#[derive(Clone, Copy, Debug)]
pub struct ProcessKind {
    /// CLI SAPI.
    pub is_cli: bool,
}

/// The daemon client of this process.
#[derive(Debug, Default)]
pub struct DaemonClient {
    conn: Option<(Conn, u32, String)>,
    apps: Vec<AppCache>,
    queried_once: bool,
    spawner: Spawner,
    warn_connect: RateLimit,
    warn_app: RateLimit,
    warn_limit: RateLimit,
}

impl DaemonClient {
    /// A client with no connection yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Drops a connection inherited across fork or opened for another
    /// address.
    fn check_conn(&mut self, address: &str) {
        let pid = std::process::id();
        if let Some((_, owner, addr)) = &self.conn {
            if *owner != pid || addr != address {
                self.conn = None;
            }
        }
    }

    fn connection(
        &mut self,
        settings: &AgentSettings,
        kind: ProcessKind,
        deadline: Instant,
    ) -> Result<&mut Conn, SendError> {
        let address = settings.daemon.address.as_str();
        self.check_conn(address);
        if self.conn.is_none() {
            let addr = DaemonAddress::parse(address)?;
            match Conn::connect(&addr, deadline) {
                Ok(c) => self.conn = Some((c, std::process::id(), address.to_owned())),
                Err(e) => {
                    let now = Instant::now();
                    if self.warn_connect.allow(now) {
                        tracing::warn!("daemon connect(2) to {address} failed: {e}");
                    }
                    self.maybe_spawn(settings, &addr, kind, now);
                    return Err(e.into());
                }
            }
        }
        match self.conn.as_mut() {
            Some((c, _, _)) => Ok(c),
            None => Err(SendError::Conn(ConnError::Closed)),
        }
    }

    fn maybe_spawn(
        &mut self,
        settings: &AgentSettings,
        addr: &DaemonAddress,
        kind: ProcessKind,
        now: Instant,
    ) {
        let cfg_exists = std::path::Path::new(spawn::SYSTEM_CFG).exists();
        if !spawn::allowed(&settings.daemon, addr, kind.is_cli, cfg_exists)
            || !self.spawner.due(now)
        {
            return;
        }
        let argv = spawn::argv(
            &settings.daemon,
            &settings.daemon.address,
            spawn::default_pidfile(),
        );
        match self.spawner.spawn(
            &argv,
            &spawn::lock_path(&settings.daemon.address),
            crate::log::raw_fd(),
            now,
        ) {
            Ok(()) => tracing::info!("started the daemon: {}", argv.join(" ")),
            Err(e) => tracing::debug!("daemon not started: {e}"),
        }
    }

    fn query(
        &mut self,
        settings: &AgentSettings,
        kind: ProcessKind,
        info: &AppInfo,
        run_id: Option<&str>,
    ) -> Result<AppReplyInfo, SendError> {
        let deadline = deadline_after(settings.appinfo_timeout);
        let frame = seraph_wire::frame::encode(&info.encode(run_id));
        let result = (|| {
            let conn = self.connection(settings, kind, deadline)?;
            conn.write_all(&frame, deadline)?;
            let body = conn.read_frame(deadline, MAX_REPLY)?;
            let mut scratch = Vec::new();
            match seraph_wire::decode(&body, &mut scratch) {
                Ok(m) => match m.body {
                    Body::AppReply(r) => Ok(AppReplyInfo::from_fb(&r)),
                    _ => Err(SendError::Conn(ConnError::BadFrame(
                        "reply is not an AppReply",
                    ))),
                },
                Err(_) => Err(SendError::Conn(ConnError::BadFrame("undecodable reply"))),
            }
        })();
        if result.is_err() {
            // A half-read reply would poison the next exchange.
            self.conn = None;
        }
        result
    }

    /// Returns the connected application for `settings`, querying the
    /// daemon when the cache says so. On the first query of the process,
    /// `newrelic.daemon.app_connect_timeout` lets it poll every 50 ms for a
    /// Connected reply. `None` means: run this request uninstrumented.
    pub fn app(
        &mut self,
        settings: &AgentSettings,
        kind: ProcessKind,
        info: impl FnOnce() -> AppInfo,
    ) -> Option<Connected> {
        let key = AppKey {
            license: settings.license.clone(),
            appname: settings.appname.clone(),
            trace_observer_host: settings.trace_observer_host.clone(),
            trace_observer_port: settings.trace_observer_port,
        };
        let idx = match self.apps.iter().position(|a| *a.key() == key) {
            Some(i) => i,
            None if self.apps.len() >= APP_LIMIT => {
                if self.warn_limit.allow(Instant::now()) {
                    tracing::warn!(
                        "application '{}' not started: this process already uses {APP_LIMIT} applications",
                        settings.appname
                    );
                }
                return None;
            }
            None => {
                self.apps.push(AppCache::new(key));
                self.apps.len() - 1
            }
        };
        // The first query of the process, and the first of an application
        // the process has not asked for before (`newrelic_set_appname`,
        // `newrelic_start_transaction` with another name), wait for it as
        // New Relic's agent does.
        let first_of_app = matches!(self.apps[idx].state(), super::appcache::AppState::Unqueried);
        let poll_until = ((!self.queried_once || first_of_app)
            && !settings.daemon.app_connect_timeout.is_zero())
        .then(|| deadline_after(settings.daemon.app_connect_timeout));
        let mut info = Some(info);
        let mut built: Option<AppInfo> = None;
        loop {
            let now = Instant::now();
            let run_id = match self.apps[idx].action(now) {
                Action::UseCached => return self.apps[idx].connected().cloned(),
                Action::Query { run_id } => run_id,
                Action::Wait => {
                    let polling = poll_until.is_some_and(|u| now < u)
                        && !matches!(self.apps[idx].state(), super::appcache::AppState::Invalid);
                    if !polling {
                        return None;
                    }
                    None
                }
            };
            if built.is_none() {
                built = info.take().map(|f| f());
            }
            let app_info = built.as_ref()?;
            self.queried_once = true;
            let outcome = self.query(settings, kind, app_info, run_id.as_deref());
            let now = Instant::now();
            match outcome {
                Ok(reply) => match self.apps[idx].on_reply(&reply, now) {
                    Ok(c) => {
                        tracing::debug!(
                            "app '{}' connected, run id {}",
                            settings.appname,
                            c.run_id
                        );
                        return Some(c.clone());
                    }
                    Err(Refusal::Invalid(st)) => {
                        tracing::error!(
                            "daemon reports app '{}' as {st:?}; the agent stays off for it in this process",
                            settings.appname
                        );
                        return None;
                    }
                    Err(r) => {
                        if r == Refusal::BadReply {
                            self.conn = None;
                        }
                        if self.warn_app.allow(now) {
                            tracing::info!("app '{}' not connected yet ({r:?})", settings.appname);
                        }
                    }
                },
                Err(e) => {
                    self.apps[idx].on_failure(now);
                    if !matches!(e, SendError::Conn(ConnError::Connect { .. }))
                        && self.warn_app.allow(now)
                    {
                        tracing::warn!("App query failed: {e}");
                    }
                }
            }
            match poll_until {
                Some(u) if now + POLL_INTERVAL < u => std::thread::sleep(POLL_INTERVAL),
                _ => return None,
            }
        }
    }

    /// Writes one Transaction frame (500 ms deadline, connect included).
    pub fn send(
        &mut self,
        settings: &AgentSettings,
        kind: ProcessKind,
        body: &[u8],
    ) -> Result<(), SendError> {
        let deadline = deadline_after(TXN_WRITE_TIMEOUT);
        let frame = seraph_wire::frame::encode(body);
        let r = self
            .connection(settings, kind, deadline)
            .and_then(|c| c.write_all(&frame, deadline).map_err(SendError::from));
        if r.is_err() {
            self.conn = None;
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_keeps_at_most_the_app_limit() {
        let dir = tempfile::tempdir().unwrap();
        let address = dir.path().join("nobody.sock");
        let address = address.to_str().unwrap().to_owned();
        let mut client = DaemonClient::new();
        let kind = ProcessKind { is_cli: true };
        for i in 0..APP_LIMIT + 50 {
            let appname = format!("tenant-{i}");
            let ini = |name: &str| match name {
                "newrelic.daemon.address" => Some(address.clone()),
                "newrelic.daemon.dont_launch" => Some("3".to_owned()),
                "newrelic.license" => Some("0123456789012345678901234567890123456789".to_owned()),
                "newrelic.appname" => Some(appname.clone()),
                _ => None,
            };
            let (settings, _) = AgentSettings::resolve(&ini);
            assert!(client.app(&settings, kind, AppInfo::default).is_none());
        }
        assert_eq!(client.apps.len(), APP_LIMIT);
    }
}
