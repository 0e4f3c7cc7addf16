//! The daemon's configuration, in two stages (as ripgrep's low/high args):
//!
//! 1. [`Flags::parse_from`]: argv exactly as typed. Go-style flags (`-port`,
//!    `-no-pidfile`, `-c=file`) are normalised and handed to clap. No file
//!    is read and nothing is resolved yet.
//! 2. [`DaemonConfig::load`] / [`DaemonConfig::resolve`]: defaults, then the
//!    `-c` file, then every key-setting flag and `--define` in command-line
//!    order (flags win, as in New Relic's flags → file → flags passes),
//!    turned into typed values. Any bad value is a [`ConfigError`] naming
//!    where it came from, the key and the value; anything merely odd is a
//!    [`ConfigWarning`] returned alongside, because the log does not exist
//!    yet while this runs.
//!
//! Key and value syntax follow New Relic's daemon so an existing
//! `newrelic.cfg` and the PHP agent's spawn argv work unchanged; the
//! deliberate differences are listed in `cfgfile.rs` and `listen.rs`.
//!
//! Section numbers (§N) in this crate's comments refer to the repository's
//! `docs/protocol.md`.

mod cfgfile;
mod error;
mod flags;
mod listen;
mod resolve;
mod settings;
mod values;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

pub use cfgfile::{parse as parse_cfg_text, Entry, SyntaxError};
pub use error::{ConfigError, ConfigWarning, FlagError, Origin};
pub use flags::{normalize, usage, FlagSetting, Flags};
pub use listen::{ListenAddr, ParsedListen, DEFAULT_LISTEN, MAX_UNIX_ADDR_LEN};
pub use resolve::Resolved;
pub use settings::{
    UtilizationConfig, DEFAULT_APP_LIMIT, DEFAULT_RLIMIT_FILES, KNOWN_KEYS, MAX_FRAME_SIZE,
};
pub use values::{parse_bool, parse_duration, parse_int, parse_uint, GoDuration, LogLevel};

/// Default `app_timeout`: apps idle this long are forgotten.
pub const DEFAULT_APP_TIMEOUT: Duration = Duration::from_secs(600);
/// Default `wait_for_port`.
pub const DEFAULT_WAIT_FOR_PORT: Duration = Duration::from_secs(3);

/// The daemon's resolved settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonConfig {
    /// Where the worker listens for agents.
    pub listen: ListenAddr,
    /// Outbound proxy for collector traffic (`--proxy`, `proxy`).
    pub proxy: Option<Proxy>,
    /// Pid file (`--pidfile`, `pidfile`).
    pub pidfile: Option<PathBuf>,
    /// `-no-pidfile`: set by the watcher on its worker's argv.
    pub no_pidfile: bool,
    /// Where the log goes.
    pub logfile: LogDestination,
    /// How much is logged.
    pub loglevel: LogLevel,
    /// Audit log of every collector exchange (`--auditlog`, `auditlog`).
    pub auditlog: Option<PathBuf>,
    /// CA bundle replacing the system roots (`--cafile`, `ssl_ca_bundle`).
    pub ca_bundle: Option<PathBuf>,
    /// Directory of `*.pem` roots replacing the system roots (`--capath`,
    /// `ssl_ca_path`).
    pub ca_path: Option<PathBuf>,
    /// Forget an app after this long without data; `None` = never
    /// (`app_timeout = 0`). A negative value means the default.
    pub app_timeout: Option<Duration>,
    /// How long the progenitor waits for the worker to listen; zero = it
    /// does not wait (negative values count as zero).
    pub wait_for_port: Duration,
    /// Raise `RLIMIT_NOFILE` to at least this; 0 leaves it alone.
    pub rlimit_files: u64,
    /// `utilization.*`.
    pub utilization: UtilizationConfig,
    /// Seraph: one period for default data *and* every event type,
    /// overriding the collector's (tests and small deployments); `None`
    /// follows the collector as New Relic does.
    pub harvest_cycle: Option<Duration>,
    /// Seraph: largest accepted agent frame body in bytes (default and
    /// maximum 32 MiB, the agent's own cap).
    pub max_frame_size: usize,
    /// Seraph: most applications tracked at once (default 250).
    pub app_limit: usize,
    /// Seraph: where unsent harvest data is kept on disk when the
    /// collector stays unreachable (`spool_dir`; `None`, the default, keeps
    /// it in memory only, as New Relic's daemon does).
    pub spool_dir: Option<PathBuf>,
    /// Seraph: most bytes the spool may use (`spool_max_size`, 64 MiB).
    pub spool_max_size: u64,
    /// Seraph: spooled data older than this is dropped (`spool_max_age`, 24 h).
    pub spool_max_age: Duration,
    /// Seraph: permissions of a socket-file `address` (`socket_mode`,
    /// 0660). New Relic's daemon makes it 0777.
    pub socket_mode: u32,
    /// Seraph: group of a socket-file `address` (`socket_group`, a name or
    /// a gid; `None` keeps the daemon's own).
    pub socket_group: Option<String>,
    /// Seraph: when every agent connection slot is taken, a new agent
    /// replaces the connection idle longest if that one has been idle this
    /// long (`agent_idle_timeout`, 30 s).
    pub agent_idle_timeout: Duration,
    /// `--integration`: log payloads as `NR_INTEGRATION_TEST` lines.
    pub integration: Option<IntegrationFormat>,
    /// `-f`: run the worker directly.
    pub foreground: bool,
    /// `--watchdog-foreground`: run the watcher directly.
    pub watchdog_foreground: bool,
    /// `--agent`: started by the PHP agent (banner only).
    pub agent: bool,
    /// `-c`, if given.
    pub config_file: Option<PathBuf>,
}

impl Default for DaemonConfig {
    /// What the daemon runs with when given no flags and no file.
    fn default() -> Self {
        DaemonConfig {
            listen: ListenAddr::default(),
            proxy: None,
            pidfile: None,
            no_pidfile: false,
            logfile: LogDestination::Default,
            loglevel: LogLevel::Info,
            auditlog: None,
            ca_bundle: None,
            ca_path: None,
            app_timeout: Some(DEFAULT_APP_TIMEOUT),
            wait_for_port: DEFAULT_WAIT_FOR_PORT,
            rlimit_files: DEFAULT_RLIMIT_FILES,
            utilization: UtilizationConfig::default(),
            harvest_cycle: None,
            max_frame_size: MAX_FRAME_SIZE as usize,
            app_limit: DEFAULT_APP_LIMIT as usize,
            spool_dir: None,
            spool_max_size: settings::DEFAULT_SPOOL_MAX_SIZE,
            spool_max_age: Duration::from_secs(86_400),
            socket_mode: settings::DEFAULT_SOCKET_MODE,
            socket_group: None,
            agent_idle_timeout: Duration::from_secs(30),
            integration: None,
            foreground: false,
            watchdog_foreground: false,
            agent: false,
            config_file: None,
        }
    }
}

/// A proxy URL. It may carry credentials, so `Debug` never shows it; use
/// [`Proxy::as_str`] where the value is really needed.
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy(String);

impl Proxy {
    /// Wraps a proxy setting.
    pub fn new(value: impl Into<String>) -> Proxy {
        Proxy(value.into())
    }

    /// The proxy setting as configured.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Proxy(**REDACTED**)")
    }
}

/// Where the daemon logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogDestination {
    /// Not configured: the first of `/var/log/newrelic/newrelic-daemon.log`
    /// and `/var/log/newrelic-daemon.log` that can be opened.
    Default,
    /// `stdout`.
    Stdout,
    /// `stderr`.
    Stderr,
    /// A file, opened for append.
    File(PathBuf),
}

impl LogDestination {
    /// The candidate files for [`LogDestination::Default`], in order.
    pub const DEFAULT_PATHS: [&'static str; 2] = [
        "/var/log/newrelic/newrelic-daemon.log",
        "/var/log/newrelic-daemon.log",
    ];
}

/// How `--integration` payload lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntegrationFormat {
    /// `NR_INTEGRATION_TEST '<method>' '<json>'`.
    Plain,
    /// `NR_INTEGRATION_TEST '<method>' '<seq>' '<json>'` (`--integration-format seq`).
    Seq,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_debug_is_redacted() {
        let p = Proxy::new("http://user:secret@proxy:3128");
        assert_eq!(format!("{p:?}"), "Proxy(**REDACTED**)");
        assert_eq!(p.as_str(), "http://user:secret@proxy:3128");
        let cfg = DaemonConfig {
            proxy: Some(p),
            ..DaemonConfig::default()
        };
        assert!(!format!("{cfg:?}").contains("secret"));
    }

    #[test]
    fn default_config_matches_resolving_nothing() {
        let resolved = DaemonConfig::resolve(&Flags::default(), None).unwrap();
        assert_eq!(resolved.config, DaemonConfig::default());
        assert!(resolved.warnings.is_empty());
    }
}
