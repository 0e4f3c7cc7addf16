//! `newrelic_init` and the process's one daemon client, shared by every
//! application and thread (each use holds its lock for one exchange with
//! the daemon, which its deadlines bound).

use crate::ffi::{guard, lock, PMutex};
use seraph_agent_client::address::DaemonAddress;
use seraph_agent_client::appcache::Connected;
use seraph_agent_client::client::{ClientSettings, DaemonClient, NoLauncher};
use seraph_agent_client::conn::{deadline_after, Conn};
use seraph_wire::AppInfo;
use std::ffi::c_char;
use std::time::Duration;

/// The daemon's address when `newrelic_init` is given none (the daemon's
/// own default).
pub const DEFAULT_SOCKET: &str = "/tmp/.newrelic.sock";
/// `newrelic_init`'s wait for the daemon when given 0.
const DEFAULT_INIT_WAIT: Duration = Duration::from_millis(10);
/// Deadline of one App query (New Relic's agents' default).
pub const APPINFO_TIMEOUT: Duration = Duration::from_millis(100);

struct Global {
    address: String,
    /// `NEW_RELIC_DAEMON_USER`: the user the daemon may run as besides
    /// root and this process's (the extension's `newrelic.daemon.user`).
    daemon_user: String,
    client: DaemonClient,
}

/// The environment variable naming the daemon's user.
const DAEMON_USER_ENV: &str = "NEW_RELIC_DAEMON_USER";

static GLOBAL: PMutex<Option<Global>> = PMutex::new(None);

/// Who the client talks to and about which application.
pub struct AppIdentity<'a> {
    pub license: &'a str,
    pub appname: &'a str,
}

fn settings_of<'a>(
    address: &'a str,
    daemon_user: &'a str,
    id: &AppIdentity<'a>,
    connect_wait: Duration,
) -> ClientSettings<'a> {
    ClientSettings {
        address,
        daemon_user,
        license: id.license,
        appname: id.appname,
        trace_observer_host: "",
        trace_observer_port: 0,
        app_connect_timeout: connect_wait,
        appinfo_timeout: APPINFO_TIMEOUT,
        license_setting: "license_key",
        daemon_user_setting: DAEMON_USER_ENV,
    }
}

/// Sets the address after checking that a daemon answers there within
/// `wait`. Refused once initialised.
fn init(socket: Option<&str>, wait: Duration) -> Result<(), String> {
    let mut g = lock(&GLOBAL);
    if g.is_some() {
        return Err("newrelic_init() cannot be invoked more than once".into());
    }
    if !crate::log::configured() {
        crate::log::ensure_default();
    }
    let address = socket.unwrap_or(DEFAULT_SOCKET);
    let addr = DaemonAddress::parse(address).map_err(|e| format!("bad daemon address: {e}"))?;
    Conn::connect(&addr, deadline_after(wait)).map_err(|e| {
        format!(
            "failed to connect to the daemon at {address} within {} ms: {e}",
            wait.as_millis()
        )
    })?;
    *g = Some(Global {
        address: address.to_owned(),
        daemon_user: std::env::var(DAEMON_USER_ENV).unwrap_or_default(),
        client: DaemonClient::new(),
    });
    tracing::info!("newrelic initialized; daemon at {address}");
    Ok(())
}

/// Initialises with the defaults unless already done.
pub fn ensure_init() -> bool {
    if lock(&GLOBAL).is_some() {
        return true;
    }
    match init(None, DEFAULT_INIT_WAIT) {
        Ok(()) => true,
        // Another thread may have won the race.
        Err(_) if lock(&GLOBAL).is_some() => true,
        Err(e) => {
            tracing::error!("error initialising libnewrelic: {e}");
            false
        }
    }
}

/// The application's run: cached, or asked of the daemon (polling up to
/// `connect_wait` on its first query). `None` when it is not connected.
pub fn app(
    id: &AppIdentity<'_>,
    connect_wait: Duration,
    info: impl FnOnce() -> AppInfo,
) -> Option<Connected> {
    let mut g = lock(&GLOBAL);
    let g = g.as_mut()?;
    let Global {
        address,
        daemon_user,
        client,
    } = g;
    let s = settings_of(address, daemon_user, id, connect_wait);
    client.app(&s, &mut NoLauncher, info)
}

/// Writes one Transaction frame (500 ms deadline); logs a failure.
pub fn send(id: &AppIdentity<'_>, name: &str, body: &[u8]) -> bool {
    let mut g = lock(&GLOBAL);
    let Some(g) = g.as_mut() else {
        return false;
    };
    let Global {
        address,
        daemon_user,
        client,
    } = g;
    let s = settings_of(address, daemon_user, id, Duration::ZERO);
    match client.send(&s, &mut NoLauncher, body) {
        Ok(()) => true,
        Err(e) => {
            client.report_not_sent(name, &e);
            false
        }
    }
}

/// `newrelic_init()`.
///
/// # Safety
/// `daemon_socket` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn newrelic_init(daemon_socket: *const c_char, time_limit_ms: i32) -> bool {
    const API: &str = "newrelic_init";
    guard(API, false, || {
        // SAFETY: forwarded from the caller.
        let Ok(socket) = (unsafe { crate::ffi::arg(API, "daemon_socket", daemon_socket, 1024) })
        else {
            return false;
        };
        let wait = if time_limit_ms > 0 {
            Duration::from_millis(time_limit_ms as u64)
        } else {
            DEFAULT_INIT_WAIT
        };
        match init(socket, wait) {
            Ok(()) => true,
            Err(e) => {
                tracing::error!("{API}: {e}");
                false
            }
        }
    })
}
