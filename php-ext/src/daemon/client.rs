//! The extension's daemon client: `seraph-agent-client`'s, given the
//! request's INI settings and PHP's way of starting a daemon when none
//! answers (angelic mode, `spawn.rs`).

use super::address::DaemonAddress;
use super::spawn::{self, Spawner};
use crate::config::{AgentSettings, DaemonSettings};
use seraph_agent_client::appcache::Connected;
use seraph_agent_client::client::{self as shared, ClientSettings, Launcher, SendError};
use seraph_wire::AppInfo;
use std::time::Instant;

pub use seraph_agent_client::client::{APP_LIMIT, POLL_INTERVAL, TXN_WRITE_TIMEOUT};

/// What the caller knows about the process for spawning decisions.
#[derive(Clone, Copy, Debug)]
pub struct ProcessKind {
    /// CLI SAPI.
    pub is_cli: bool,
}

/// The client settings the INI settings make.
pub fn client_settings(s: &AgentSettings) -> ClientSettings<'_> {
    ClientSettings {
        address: &s.daemon.address,
        daemon_user: &s.daemon.user,
        license: &s.license,
        appname: &s.appname,
        trace_observer_host: &s.trace_observer_host,
        trace_observer_port: s.trace_observer_port,
        app_connect_timeout: s.daemon.app_connect_timeout,
        appinfo_timeout: s.appinfo_timeout,
        license_setting: "newrelic.license",
        daemon_user_setting: "newrelic.daemon.user",
    }
}

/// Angelic mode: starts a daemon when a connect fails, as the settings
/// and `spawn::allowed` permit.
struct SpawnLauncher<'a> {
    spawner: &'a mut Spawner,
    daemon: &'a DaemonSettings,
    kind: ProcessKind,
}

impl Launcher for SpawnLauncher<'_> {
    fn daemon_unreachable(&mut self, addr: &DaemonAddress, now: Instant) {
        let cfg_exists = std::path::Path::new(spawn::SYSTEM_CFG).exists();
        if !spawn::allowed(self.daemon, addr, self.kind.is_cli, cfg_exists)
            || !self.spawner.due(now)
        {
            return;
        }
        let argv = spawn::argv(self.daemon, &self.daemon.address, spawn::default_pidfile());
        match self.spawner.spawn(
            &argv,
            &spawn::lock_path(&self.daemon.address),
            crate::log::raw_fd(),
            now,
        ) {
            Ok(()) => tracing::info!("started the daemon: {}", argv.join(" ")),
            Err(e) => tracing::debug!("daemon not started: {e}"),
        }
    }
}

/// The daemon client of this process.
#[derive(Debug, Default)]
pub struct DaemonClient {
    inner: shared::DaemonClient,
    spawner: Spawner,
}

impl DaemonClient {
    /// A client with no connection yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The connected application for `settings` (see
    /// [`shared::DaemonClient::app`]); `None`: run the request
    /// uninstrumented.
    pub fn app(
        &mut self,
        settings: &AgentSettings,
        kind: ProcessKind,
        info: impl FnOnce() -> AppInfo,
    ) -> Option<Connected> {
        let mut launcher = SpawnLauncher {
            spawner: &mut self.spawner,
            daemon: &settings.daemon,
            kind,
        };
        self.inner
            .app(&client_settings(settings), &mut launcher, info)
    }

    /// Writes one Transaction frame (see [`shared::DaemonClient::send`]).
    pub fn send(
        &mut self,
        settings: &AgentSettings,
        kind: ProcessKind,
        body: &[u8],
    ) -> Result<(), SendError> {
        let mut launcher = SpawnLauncher {
            spawner: &mut self.spawner,
            daemon: &settings.daemon,
            kind,
        };
        self.inner
            .send(&client_settings(settings), &mut launcher, body)
    }

    /// Logs a Transaction that did not go out (once a minute, with the
    /// count of the others).
    pub fn report_not_sent(&mut self, name: &str, e: &SendError) {
        self.inner.report_not_sent(name, e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_licenses_are_never_sent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        listener.set_nonblocking(true).unwrap();
        let address = path.to_str().unwrap().to_owned();
        let ini = |name: &str| match name {
            "newrelic.daemon.address" => Some(address.clone()),
            "newrelic.daemon.dont_launch" => Some("3".to_owned()),
            "newrelic.license" => Some("too-short".to_owned()),
            "newrelic.appname" => Some("a".to_owned()),
            _ => None,
        };
        let (settings, _) = AgentSettings::resolve(&ini);
        let mut client = DaemonClient::new();
        let kind = ProcessKind { is_cli: true };
        assert!(client.app(&settings, kind, AppInfo::default).is_none());
        assert!(listener.accept().is_err(), "nothing connected");
    }
}
