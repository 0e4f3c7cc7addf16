//! The per-process daemon client: one connection reused across
//! transactions, the App query with its deadline, the app cache,
//! Transaction writes, and a hook ([`Launcher`]) for starting a daemon
//! when nobody answers.
//!
//! Nothing here runs before the first transaction: the connection is
//! opened lazily and tagged with the pid that opened it, so a forked child
//! (a php-fpm worker, `pcntl_fork`, a forking C server) never writes into
//! its parent's socket.
//!
//! Faults cost the host program little and are logged sparingly:
//! - a connection the daemon closed (a restart, an idle connection closed
//!   to make room) is noticed before it is used, and replaced;
//! - on every new connection the App query is asked again with the cached
//!   run id before anything else goes out, so a restarted daemon learns the
//!   runs its agents use at once instead of after the 20 s refresh;
//! - a daemon that does not answer within a deadline (stalled, or its
//!   socket buffer full) is left alone for a backoff period (1 s doubling
//!   to 8 s): requests meanwhile send nothing and wait for nothing, so a
//!   stall costs each process at most one deadline per period. Only an
//!   answered App query ends the backoff: a write into a socket buffer
//!   proves nothing;
//! - a daemon that answered this process and is suddenly not listening
//!   (restarting, its worker respawning) is waited for once, within the
//!   request's deadline, so a quick restart loses nothing; a refresh of a
//!   connected application does not wait (nor use the wait up), so it
//!   falls to the Transaction write and its 500 ms;
//! - a refresh of a connected application that fails (the daemon is
//!   restarting or stalled) keeps the application's run: requests stay
//!   instrumented, and the refresh is tried again on the next request;
//! - the socket's owner is checked before the license goes out (see
//!   `owner.rs`), and a malformed license is never sent;
//! - repeated warnings come once a minute with the count of those held
//!   back.

use crate::address::DaemonAddress;
use crate::appcache::{Action, AppCache, AppKey, AppState, Connected, Refusal};
use crate::conn::{deadline_after, Conn, ConnError};
use crate::owner::Trusted;
use seraph_wire::{AppInfo, AppReplyInfo, Body};
use std::time::{Duration, Instant};

/// Deadline for writing one Transaction (connect included).
pub const TXN_WRITE_TIMEOUT: Duration = Duration::from_millis(500);
/// Poll interval while waiting for a Connected app on the first request.
pub const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// Largest AppReply accepted.
const MAX_REPLY: usize = 32 << 20;
/// Minimum time between two warnings of one kind.
const WARN_EVERY: Duration = Duration::from_secs(60);
/// Applications one process keeps (New Relic's agent's `NR_APP_LIMIT`, which
/// matches its daemon's). Each keeps its connect reply; a worker that names
/// its transactions' application after its data (one per tenant, via
/// `newrelic_start_transaction` or `ini_set`) would otherwise keep one per
/// name for as long as it lives.
pub const APP_LIMIT: usize = 250;
/// First pause after the daemon missed a deadline.
pub const STALL_BACKOFF_FIRST: Duration = Duration::from_secs(1);
/// Longest pause (how late a recovered daemon hears from this process at
/// worst).
pub const STALL_BACKOFF_MAX: Duration = Duration::from_secs(8);
/// How often a daemon that just went away is looked for within a deadline.
const RESTART_POLL: Duration = Duration::from_millis(20);

/// Why a Transaction (or a query) did not go out.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The address setting is unusable.
    #[error("bad daemon address: {0}")]
    Address(#[from] crate::address::AddressError),
    /// Socket trouble.
    #[error(transparent)]
    Conn(#[from] ConnError),
    /// The daemon missed a deadline recently; it is left alone for now.
    #[error("the daemon missed a deadline; not waiting for it for {0:?}")]
    Backoff(Duration),
    /// Another user owns the daemon's socket.
    #[error("the daemon socket at {addr} belongs to uid {uid}, not to root, this process's user or {setting}")]
    Untrusted {
        /// The address.
        addr: String,
        /// Its owner.
        uid: u32,
        /// The setting that names the daemon's user.
        setting: &'static str,
    },
}

/// One warning a minute, counting the ones held back.
#[derive(Debug, Default)]
struct RateLimit {
    last: Option<Instant>,
    suppressed: u64,
}

impl RateLimit {
    /// `Some(held back since the last one)` when a warning may be logged.
    fn allow(&mut self, now: Instant) -> Option<u64> {
        if self
            .last
            .is_none_or(|t| now.saturating_duration_since(t) >= WARN_EVERY)
        {
            self.last = Some(now);
            Some(std::mem::take(&mut self.suppressed))
        } else {
            self.suppressed += 1;
            None
        }
    }
}

/// ` (N more since the last such message)` when some were held back.
fn held_back(n: u64) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(" ({n} more since the last such message)")
    }
}

/// A pause after a missed deadline.
#[derive(Debug, Default)]
struct Backoff {
    until: Option<Instant>,
    next: Option<Duration>,
}

impl Backoff {
    /// Time left, if the daemon is being left alone now.
    fn remaining(&self, now: Instant) -> Option<Duration> {
        self.until
            .filter(|&u| u > now)
            .map(|u| u.saturating_duration_since(now))
    }

    /// The daemon missed a deadline: pause, twice as long as last time.
    fn fail(&mut self, now: Instant) -> Duration {
        let d = self.next.unwrap_or(STALL_BACKOFF_FIRST);
        self.until = Some(now + d);
        self.next = Some((d * 2).min(STALL_BACKOFF_MAX));
        d
    }

    /// The daemon answered.
    fn reset(&mut self) {
        *self = Backoff::default();
    }
}

/// What the client needs to know about one application and the daemon,
/// borrowed from the caller's own settings for the duration of a call.
#[derive(Clone, Copy, Debug)]
pub struct ClientSettings<'a> {
    /// Where the daemon listens (see [`DaemonAddress::parse`]).
    pub address: &'a str,
    /// The user the daemon may run as besides root and this process's
    /// (a name or a uid; empty for none): see `owner.rs`.
    pub daemon_user: &'a str,
    /// License key.
    pub license: &'a str,
    /// Application name (`a;b;c` for several).
    pub appname: &'a str,
    /// Infinite tracing host (empty for none).
    pub trace_observer_host: &'a str,
    /// Infinite tracing port.
    pub trace_observer_port: u16,
    /// How long the first query of an application may poll for a
    /// Connected reply (zero: ask once).
    pub app_connect_timeout: Duration,
    /// Deadline of one App query.
    pub appinfo_timeout: Duration,
    /// How log messages name the license setting (`newrelic.license`).
    pub license_setting: &'static str,
    /// How log messages name the daemon user setting
    /// (`newrelic.daemon.user`).
    pub daemon_user_setting: &'static str,
}

/// What to do when the daemon cannot be reached: the PHP agent may start
/// one (angelic mode); other agents do nothing.
pub trait Launcher {
    /// A connect to `addr` failed at `now`.
    fn daemon_unreachable(&mut self, addr: &DaemonAddress, now: Instant);
}

/// A [`Launcher`] that never starts a daemon.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoLauncher;

impl Launcher for NoLauncher {
    fn daemon_unreachable(&mut self, _addr: &DaemonAddress, _now: Instant) {}
}

/// The open connection and what is known about it.
#[derive(Debug)]
struct Link {
    conn: Conn,
    pid: u32,
    address: String,
    /// No App query has been answered on it yet.
    fresh: bool,
}

/// The daemon client of this process.
#[derive(Debug, Default)]
pub struct DaemonClient {
    link: Option<Link>,
    apps: Vec<AppCache>,
    queried_once: bool,
    backoff: Backoff,
    /// The daemon answered on the current (or last) connection: if it is
    /// suddenly not listening, wait for it once (see `connect`).
    wait_for_restart: bool,
    warn_connect: RateLimit,
    warn_app: RateLimit,
    warn_limit: RateLimit,
    warn_send: RateLimit,
    warn_stall: RateLimit,
    warn_owner: RateLimit,
    warn_license: RateLimit,
}

impl DaemonClient {
    /// A client with no connection yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Drops a connection inherited across fork, opened for another
    /// address, or closed by the daemon.
    fn check_link(&mut self, address: &str) {
        let pid = std::process::id();
        if let Some(link) = &self.link {
            if link.pid != pid || link.address != address || !link.conn.is_open() {
                self.link = None;
            }
        }
    }

    /// The daemon missed a deadline (or the exchange broke): drop the
    /// connection, and for a timeout leave the daemon alone for a while.
    fn failed(&mut self, e: &SendError) {
        self.link = None;
        if matches!(e, SendError::Conn(ConnError::Timeout)) {
            let now = Instant::now();
            let pause = self.backoff.fail(now);
            if let Some(n) = self.warn_stall.allow(now) {
                tracing::warn!(
                    "the daemon did not answer in time; nothing is sent to it for {pause:?}{}",
                    held_back(n)
                );
            }
        }
    }

    /// The connection to use, opened if needed; the flag says it is new.
    /// `may_wait`: a daemon that just went away may be waited for (see
    /// `connect`).
    fn connection(
        &mut self,
        settings: &ClientSettings<'_>,
        launcher: &mut dyn Launcher,
        deadline: Instant,
        may_wait: bool,
    ) -> Result<(&mut Conn, bool), SendError> {
        let address = settings.address;
        self.check_link(address);
        if self.link.is_none() {
            let now = Instant::now();
            if let Some(left) = self.backoff.remaining(now) {
                return Err(SendError::Backoff(left));
            }
            let addr = DaemonAddress::parse(address)?;
            let conn = match self.connect(&addr, deadline, may_wait) {
                Ok(c) => c,
                Err(e) => {
                    if let Some(n) = self.warn_connect.allow(now) {
                        tracing::warn!(
                            "daemon connect(2) to {address} failed: {e}{}",
                            held_back(n)
                        );
                    }
                    launcher.daemon_unreachable(&addr, now);
                    let e = SendError::from(e);
                    self.failed(&e);
                    return Err(e);
                }
            };
            if let Some(uid) = conn.peer_uid() {
                let trusted = Trusted::new(settings.daemon_user);
                if !trusted.allows(uid) {
                    let setting = settings.daemon_user_setting;
                    let e = SendError::Untrusted {
                        addr: address.to_owned(),
                        uid,
                        setting,
                    };
                    if let Some(n) = self.warn_owner.allow(now) {
                        let unresolved = trusted
                            .unresolved()
                            .map(|u| format!(" ({setting} '{u}' names no user)"))
                            .unwrap_or_default();
                        tracing::error!(
                            "refusing to talk to the daemon: {e}{unresolved}; nothing is sent to it{}",
                            held_back(n)
                        );
                    }
                    return Err(e);
                }
            }
            self.link = Some(Link {
                conn,
                pid: std::process::id(),
                address: address.to_owned(),
                fresh: true,
            });
        }
        match self.link.as_mut() {
            Some(link) => Ok((&mut link.conn, link.fresh)),
            None => Err(SendError::Conn(ConnError::Closed)),
        }
    }

    /// Connects. When a daemon that answered this process is suddenly not
    /// listening (it is being restarted, or its worker respawned), waits
    /// for it within `deadline`, once: the request's Transaction then
    /// survives a restart of a few hundred milliseconds. A daemon that
    /// stays away costs each process this wait only once, until a new
    /// connection has been answered again. Without `may_wait` (a refresh
    /// of a connected application, which keeps its run when it fails) it
    /// neither waits nor uses the wait up: the request's Transaction write,
    /// which has 500 ms, waits instead, while a refresh has only the App
    /// query's 100 ms.
    fn connect(
        &mut self,
        addr: &DaemonAddress,
        deadline: Instant,
        may_wait: bool,
    ) -> Result<Conn, ConnError> {
        let first = Conn::connect(addr, deadline);
        let gone = matches!(
            &first,
            Err(ConnError::Connect { source, .. })
                if matches!(source.raw_os_error(), Some(libc::ECONNREFUSED | libc::ENOENT))
        );
        if !gone || !may_wait || !std::mem::take(&mut self.wait_for_restart) {
            return first;
        }
        let mut last = first;
        while Instant::now() + RESTART_POLL < deadline {
            std::thread::sleep(RESTART_POLL);
            last = Conn::connect(addr, deadline);
            if last.is_ok() {
                break;
            }
        }
        last
    }

    /// One App query and its reply, before `deadline`; `may_wait` as for
    /// `connect`.
    fn query(
        &mut self,
        settings: &ClientSettings<'_>,
        launcher: &mut dyn Launcher,
        info: &AppInfo,
        run_id: Option<&str>,
        deadline: Instant,
        may_wait: bool,
    ) -> Result<AppReplyInfo, SendError> {
        let frame = seraph_wire::frame::encode(&info.encode(run_id));
        let result = (|| {
            let (conn, _) = self.connection(settings, launcher, deadline, may_wait)?;
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
        match &result {
            Ok(_) => {
                self.backoff.reset();
                self.wait_for_restart = true;
                if let Some(link) = &mut self.link {
                    link.fresh = false;
                }
            }
            // A half-read reply would poison the next exchange.
            Err(e) => self.failed(e),
        }
        result
    }

    fn app_key(settings: &ClientSettings<'_>) -> AppKey {
        AppKey {
            license: settings.license.to_owned(),
            appname: settings.appname.to_owned(),
            trace_observer_host: settings.trace_observer_host.to_owned(),
            trace_observer_port: settings.trace_observer_port,
        }
    }

    /// Returns the connected application for `settings`, querying the
    /// daemon when the cache says so. On the first query of the process,
    /// `app_connect_timeout` lets it poll every 50 ms for a Connected
    /// reply. `None` means: run this transaction uninstrumented.
    pub fn app(
        &mut self,
        settings: &ClientSettings<'_>,
        launcher: &mut dyn Launcher,
        info: impl FnOnce() -> AppInfo,
    ) -> Option<Connected> {
        if let Err(e) = seraph_wire::check_license(settings.license) {
            if let Some(n) = self.warn_license.allow(Instant::now()) {
                tracing::error!(
                    "{} is unusable ({e}); application '{}' is not reported{}",
                    settings.license_setting,
                    settings.appname,
                    held_back(n)
                );
            }
            return None;
        }
        let key = Self::app_key(settings);
        let idx = match self.apps.iter().position(|a| *a.key() == key) {
            Some(i) => i,
            None if self.apps.len() >= APP_LIMIT => {
                if let Some(n) = self.warn_limit.allow(Instant::now()) {
                    tracing::warn!(
                        "application '{}' not started: this process already uses {APP_LIMIT} applications{}",
                        settings.appname,
                        held_back(n)
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
        let first_of_app = matches!(self.apps[idx].state(), AppState::Unqueried);
        let poll_until = ((!self.queried_once || first_of_app)
            && !settings.app_connect_timeout.is_zero())
        .then(|| deadline_after(settings.app_connect_timeout));
        let mut info = Some(info);
        loop {
            let now = Instant::now();
            let run_id = match self.apps[idx].action(now) {
                Action::UseCached => return self.apps[idx].connected().cloned(),
                // A stalled daemon is left alone: the cached run (if any)
                // keeps the request instrumented meanwhile.
                Action::Query { .. } if self.backoff.remaining(now).is_some() => {
                    return self.apps[idx].connected().cloned();
                }
                Action::Query { run_id } => run_id,
                Action::Wait => {
                    let polling = poll_until.is_some_and(|u| now < u)
                        && !matches!(self.apps[idx].state(), AppState::Invalid);
                    if !polling {
                        return None;
                    }
                    None
                }
            };
            if self.apps[idx].info().is_none() {
                let built = info.take()?();
                self.apps[idx].remember(built);
            }
            let app_info = self.apps[idx].info()?.clone();
            self.queried_once = true;
            let deadline = deadline_after(settings.appinfo_timeout);
            let refresh = self.apps[idx].connected().is_some();
            let outcome = self.query(
                settings,
                launcher,
                &app_info,
                run_id.as_deref(),
                deadline,
                !refresh,
            );
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
                            self.link = None;
                        }
                        if let Some(n) = self.warn_app.allow(now) {
                            tracing::info!(
                                "app '{}' not connected yet ({r:?}){}",
                                settings.appname,
                                held_back(n)
                            );
                        }
                    }
                },
                Err(e) => {
                    self.apps[idx].on_failure(now);
                    // A refresh that failed leaves a connected app usable.
                    if let Some(c) = self.apps[idx].connected() {
                        return Some(c.clone());
                    }
                    let quiet = matches!(
                        e,
                        SendError::Conn(ConnError::Connect { .. })
                            | SendError::Backoff(_)
                            | SendError::Untrusted { .. }
                    );
                    if !quiet {
                        if let Some(n) = self.warn_app.allow(now) {
                            tracing::warn!("App query failed: {e}{}", held_back(n));
                        }
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
    /// On a new connection the application's App query goes first, with
    /// the run id the Transaction carries: a daemon that has just started
    /// takes that run on before the Transaction arrives.
    pub fn send(
        &mut self,
        settings: &ClientSettings<'_>,
        launcher: &mut dyn Launcher,
        body: &[u8],
    ) -> Result<(), SendError> {
        let deadline = deadline_after(TXN_WRITE_TIMEOUT);
        if let Some(left) = self.backoff.remaining(Instant::now()) {
            return Err(SendError::Backoff(left));
        }
        let (_, fresh) = self.connection(settings, launcher, deadline, true)?;
        if fresh {
            self.requery(settings, launcher, deadline)?;
        }
        let frame = seraph_wire::frame::encode(body);
        let r = match self.link.as_mut() {
            Some(link) => link
                .conn
                .write_all(&frame, deadline)
                .map_err(SendError::from),
            None => Err(SendError::Conn(ConnError::Closed)),
        };
        if let Err(e) = &r {
            self.failed(e);
        }
        r
    }

    /// The App query of `settings`' application with its cached run id, on
    /// a connection that has not answered one yet.
    fn requery(
        &mut self,
        settings: &ClientSettings<'_>,
        launcher: &mut dyn Launcher,
        deadline: Instant,
    ) -> Result<(), SendError> {
        let key = Self::app_key(settings);
        let Some(idx) = self.apps.iter().position(|a| *a.key() == key) else {
            return Ok(());
        };
        let (Some(info), Some(run_id)) = (
            self.apps[idx].info().cloned(),
            self.apps[idx].connected().map(|c| c.run_id.clone()),
        ) else {
            return Ok(());
        };
        let deadline = deadline.min(deadline_after(settings.appinfo_timeout));
        let reply = self.query(settings, launcher, &info, Some(&run_id), deadline, true)?;
        let now = Instant::now();
        if let Err(r) = self.apps[idx].on_reply(&reply, now) {
            tracing::debug!("App query on a new connection: {r:?}");
        }
        Ok(())
    }

    /// Logs a Transaction that did not go out (once a minute, with the
    /// count of the others).
    pub fn report_not_sent(&mut self, name: &str, e: &SendError) {
        if let Some(n) = self.warn_send.allow(Instant::now()) {
            tracing::warn!("transaction '{name}' not sent: {e}{}", held_back(n));
        } else {
            tracing::debug!("transaction '{name}' not sent: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings<'a>(address: &'a str, license: &'a str, appname: &'a str) -> ClientSettings<'a> {
        ClientSettings {
            address,
            daemon_user: "",
            license,
            appname,
            trace_observer_host: "",
            trace_observer_port: 443,
            app_connect_timeout: Duration::ZERO,
            appinfo_timeout: Duration::from_millis(200),
            license_setting: "license",
            daemon_user_setting: "daemon user",
        }
    }

    #[test]
    fn a_process_keeps_at_most_the_app_limit() {
        let dir = tempfile::tempdir().unwrap();
        let address = dir.path().join("nobody.sock");
        let address = address.to_str().unwrap().to_owned();
        let mut client = DaemonClient::new();
        for i in 0..APP_LIMIT + 50 {
            let appname = format!("tenant-{i}");
            let s = settings(
                &address,
                "0123456789012345678901234567890123456789",
                &appname,
            );
            assert!(client.app(&s, &mut NoLauncher, AppInfo::default).is_none());
        }
        assert_eq!(client.apps.len(), APP_LIMIT);
    }

    #[test]
    fn warnings_come_once_a_minute_with_the_count_held_back() {
        let t0 = Instant::now();
        let mut r = RateLimit::default();
        assert_eq!(r.allow(t0), Some(0));
        for s in 1..=59 {
            assert_eq!(r.allow(t0 + Duration::from_secs(s)), None);
        }
        assert_eq!(r.allow(t0 + WARN_EVERY), Some(59));
        assert_eq!(held_back(0), "");
        assert_eq!(held_back(3), " (3 more since the last such message)");
    }

    #[test]
    fn a_stall_backoff_doubles_to_its_cap_and_ends_on_an_answer() {
        let t0 = Instant::now();
        let mut b = Backoff::default();
        assert!(b.remaining(t0).is_none());
        let pauses: Vec<Duration> = (0..6).map(|_| b.fail(t0)).collect();
        assert_eq!(pauses, [1, 2, 4, 8, 8, 8].map(Duration::from_secs).to_vec());
        assert!(b.remaining(t0 + Duration::from_secs(7)).is_some());
        assert!(b.remaining(t0 + Duration::from_secs(8)).is_none());
        b.reset();
        assert_eq!(b.fail(t0), STALL_BACKOFF_FIRST);
    }

    #[test]
    fn malformed_licenses_are_never_sent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        listener.set_nonblocking(true).unwrap();
        let address = path.to_str().unwrap().to_owned();
        let s = settings(&address, "too-short", "a");
        let mut client = DaemonClient::new();
        assert!(client.app(&s, &mut NoLauncher, AppInfo::default).is_none());
        assert!(listener.accept().is_err(), "nothing connected");
    }
}
