//! The known `newrelic.cfg` keys and how each value is read. A flag that
//! has a key (`--port` → `port`, `--cafile` → `ssl_ca_bundle`...) goes
//! through the same function, so flags, the file and `--define` can never
//! disagree about a value's syntax.

use crate::error::{ConfigError, ConfigWarning, Origin};
use crate::values::{parse_bool, parse_duration, parse_int, parse_uint, GoDuration, LogLevel};

/// `app_timeout` when unset or negative: ten minutes.
pub const DEFAULT_APP_TIMEOUT: GoDuration = GoDuration(600 * 1_000_000_000);
/// `wait_for_port` when unset: three seconds.
pub const DEFAULT_WAIT_FOR_PORT: GoDuration = GoDuration(3 * 1_000_000_000);
/// `rlimit_files` when unset.
pub const DEFAULT_RLIMIT_FILES: u64 = 2048;
/// Largest (and default) `max_frame_size`: the agent's own 32 MiB cap.
pub const MAX_FRAME_SIZE: u64 = 32 << 20;
/// `app_limit` when unset: New Relic's 250.
pub const DEFAULT_APP_LIMIT: u64 = 250;
/// `spool_max_size` when unset: 64 MiB.
pub const DEFAULT_SPOOL_MAX_SIZE: u64 = 64 << 20;
/// `spool_max_age` when unset: a day.
pub const DEFAULT_SPOOL_MAX_AGE: GoDuration = GoDuration(24 * 3600 * 1_000_000_000);
/// `socket_mode` when unset: owner and group may connect.
pub const DEFAULT_SOCKET_MODE: u32 = 0o660;
/// `agent_idle_timeout` when unset: 30 seconds.
pub const DEFAULT_AGENT_IDLE_TIMEOUT: GoDuration = GoDuration(30 * 1_000_000_000);

/// Every key [`Settings::apply`] understands (New Relic's, then Seraph's).
pub const KNOWN_KEYS: &[&str] = &[
    "port",
    "address",
    "proxy",
    "pidfile",
    "logfile",
    "loglevel",
    "auditlog",
    "ssl_ca_bundle",
    "ssl_ca_path",
    "app_timeout",
    "wait_for_port",
    "rlimit_files",
    "utilization.detect_aws",
    "utilization.detect_azure",
    "utilization.detect_gcp",
    "utilization.detect_pcf",
    "utilization.detect_docker",
    "utilization.detect_kubernetes",
    "utilization.logical_processors",
    "utilization.total_ram_mib",
    "utilization.billing_hostname",
    "harvest_cycle",
    "max_frame_size",
    "app_limit",
    "spool_dir",
    "spool_max_size",
    "spool_max_age",
    "socket_mode",
    "socket_group",
    "agent_idle_timeout",
];

/// A string setting and where it came from (needed for `address`/`port`,
/// whose errors are only found once both are known).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sourced {
    /// The value as given.
    pub value: String,
    /// Where it came from.
    pub origin: Origin,
}

/// The `utilization.*` keys: which cloud detectors run, and the values
/// reported under `utilization.config`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UtilizationConfig {
    /// `utilization.detect_aws` (default true).
    pub detect_aws: bool,
    /// `utilization.detect_azure` (default true).
    pub detect_azure: bool,
    /// `utilization.detect_gcp` (default true).
    pub detect_gcp: bool,
    /// `utilization.detect_pcf` (default true).
    pub detect_pcf: bool,
    /// `utilization.detect_docker` (default true).
    pub detect_docker: bool,
    /// `utilization.detect_kubernetes`: **false** by default, as in New
    /// Relic's daemon (its template says true; agents pass it explicitly).
    pub detect_kubernetes: bool,
    /// `utilization.logical_processors`; 0 = not configured.
    pub logical_processors: u64,
    /// `utilization.total_ram_mib`; 0 = not configured.
    pub total_ram_mib: u64,
    /// `utilization.billing_hostname`; empty = not configured.
    pub billing_hostname: String,
}

impl Default for UtilizationConfig {
    fn default() -> Self {
        UtilizationConfig {
            detect_aws: true,
            detect_azure: true,
            detect_gcp: true,
            detect_pcf: true,
            detect_docker: true,
            detect_kubernetes: false,
            logical_processors: 0,
            total_ram_mib: 0,
            billing_hostname: String::new(),
        }
    }
}

/// Every key's current value while the layers are applied. Strings stay
/// raw here; `resolve.rs` turns them into the typed `DaemonConfig`.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub port: Option<Sourced>,
    pub address: Option<Sourced>,
    pub proxy: String,
    pub pidfile: String,
    pub logfile: String,
    pub loglevel: LogLevel,
    pub auditlog: String,
    pub ssl_ca_bundle: String,
    pub ssl_ca_path: String,
    pub app_timeout: GoDuration,
    pub wait_for_port: GoDuration,
    pub rlimit_files: u64,
    pub utilization: UtilizationConfig,
    pub harvest_cycle: Option<GoDuration>,
    pub max_frame_size: u64,
    pub app_limit: u64,
    pub spool_dir: String,
    pub spool_max_size: u64,
    pub spool_max_age: GoDuration,
    pub socket_mode: u32,
    pub socket_group: String,
    pub agent_idle_timeout: GoDuration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            port: None,
            address: None,
            proxy: String::new(),
            pidfile: String::new(),
            logfile: String::new(),
            loglevel: LogLevel::Info,
            auditlog: String::new(),
            ssl_ca_bundle: String::new(),
            ssl_ca_path: String::new(),
            app_timeout: DEFAULT_APP_TIMEOUT,
            wait_for_port: DEFAULT_WAIT_FOR_PORT,
            rlimit_files: DEFAULT_RLIMIT_FILES,
            utilization: UtilizationConfig::default(),
            harvest_cycle: None,
            max_frame_size: MAX_FRAME_SIZE,
            app_limit: DEFAULT_APP_LIMIT,
            spool_dir: String::new(),
            spool_max_size: DEFAULT_SPOOL_MAX_SIZE,
            spool_max_age: DEFAULT_SPOOL_MAX_AGE,
            socket_mode: DEFAULT_SOCKET_MODE,
            socket_group: String::new(),
            agent_idle_timeout: DEFAULT_AGENT_IDLE_TIMEOUT,
        }
    }
}

impl Settings {
    /// Applies one `key = value`. Unknown keys are a warning, as in New
    /// Relic's daemon (which ignores them silently). An empty value sets
    /// New Relic's keys to their zero value (an empty duration is an
    /// error) and Seraph's own keys back to their default.
    pub fn apply(
        &mut self,
        key: &str,
        value: &str,
        origin: &Origin,
        warnings: &mut Vec<ConfigWarning>,
    ) -> Result<(), ConfigError> {
        let invalid = |reason: String| ConfigError::InvalidValue {
            origin: origin.clone(),
            key: key.to_string(),
            value: value.to_string(),
            reason,
        };
        let boolean = || {
            if value.is_empty() {
                Ok(false)
            } else {
                parse_bool(value).map_err(invalid)
            }
        };
        // Counts New Relic reads as Go ints; a negative one configures nothing.
        let count = |warnings: &mut Vec<ConfigWarning>| -> Result<u64, ConfigError> {
            if value.is_empty() {
                return Ok(0);
            }
            let n = parse_int(value).map_err(invalid)?;
            u64::try_from(n).or_else(|_| {
                warnings.push(ConfigWarning(format!(
                    "{origin}: {key} = {n} is negative, treated as not set"
                )));
                Ok(0)
            })
        };
        let sourced = || {
            Some(Sourced {
                value: value.to_string(),
                origin: origin.clone(),
            })
        };
        let util = &mut self.utilization;
        match key {
            "port" => self.port = sourced(),
            "address" => self.address = sourced(),
            "proxy" => self.proxy = value.to_string(),
            "pidfile" => self.pidfile = value.to_string(),
            "logfile" => self.logfile = value.to_string(),
            "loglevel" => self.loglevel = LogLevel::parse(value).map_err(invalid)?,
            "auditlog" => self.auditlog = value.to_string(),
            "ssl_ca_bundle" => self.ssl_ca_bundle = value.to_string(),
            "ssl_ca_path" => self.ssl_ca_path = value.to_string(),
            "app_timeout" => self.app_timeout = parse_duration(value).map_err(invalid)?,
            "wait_for_port" => self.wait_for_port = parse_duration(value).map_err(invalid)?,
            "rlimit_files" => {
                self.rlimit_files = if value.is_empty() {
                    0
                } else {
                    parse_uint(value).map_err(invalid)?
                }
            }
            "utilization.detect_aws" => util.detect_aws = boolean()?,
            "utilization.detect_azure" => util.detect_azure = boolean()?,
            "utilization.detect_gcp" => util.detect_gcp = boolean()?,
            "utilization.detect_pcf" => util.detect_pcf = boolean()?,
            "utilization.detect_docker" => util.detect_docker = boolean()?,
            "utilization.detect_kubernetes" => util.detect_kubernetes = boolean()?,
            "utilization.logical_processors" => util.logical_processors = count(warnings)?,
            "utilization.total_ram_mib" => util.total_ram_mib = count(warnings)?,
            "utilization.billing_hostname" => util.billing_hostname = value.to_string(),
            "harvest_cycle" => {
                self.harvest_cycle = if value.is_empty() {
                    None
                } else {
                    let d = parse_duration(value).map_err(invalid)?;
                    if d.0 < 0 {
                        return Err(invalid("must not be negative".to_string()));
                    }
                    // 0 means "use the collector's periods", like unset.
                    (d.0 > 0).then_some(d)
                };
            }
            "max_frame_size" => {
                self.max_frame_size = if value.is_empty() {
                    MAX_FRAME_SIZE
                } else {
                    let n = parse_uint(value).map_err(invalid)?;
                    if n == 0 || n > MAX_FRAME_SIZE {
                        return Err(invalid(format!(
                            "must be from 1 to {MAX_FRAME_SIZE} bytes (it may only be lowered)"
                        )));
                    }
                    n
                };
            }
            "app_limit" => {
                self.app_limit = if value.is_empty() {
                    DEFAULT_APP_LIMIT
                } else {
                    let n = parse_uint(value).map_err(invalid)?;
                    if n == 0 {
                        return Err(invalid("must be at least 1".to_string()));
                    }
                    n
                };
            }
            "spool_dir" => self.spool_dir = value.to_string(),
            "spool_max_size" => {
                self.spool_max_size = if value.is_empty() {
                    DEFAULT_SPOOL_MAX_SIZE
                } else {
                    let n = parse_uint(value).map_err(invalid)?;
                    if !(1 << 20..=32 << 30).contains(&n) {
                        return Err(invalid(
                            "must be from 1048576 (1 MiB) to 34359738368 (32 GiB) bytes"
                                .to_string(),
                        ));
                    }
                    n
                };
            }
            "spool_max_age" => {
                self.spool_max_age = if value.is_empty() {
                    DEFAULT_SPOOL_MAX_AGE
                } else {
                    let d = parse_duration(value).map_err(invalid)?;
                    if d.0 <= 0 {
                        return Err(invalid("must be positive".to_string()));
                    }
                    d
                };
            }
            "socket_mode" => {
                self.socket_mode = if value.is_empty() {
                    DEFAULT_SOCKET_MODE
                } else {
                    // Go integer syntax: a leading 0 means octal (0660).
                    let n = parse_uint(value).map_err(invalid)?;
                    if n > 0o777 || n & 0o600 != 0o600 {
                        return Err(invalid(
                            "must be a permission mode from 0600 to 0777 (the owner needs read and write)"
                                .to_string(),
                        ));
                    }
                    n as u32
                };
            }
            "socket_group" => self.socket_group = value.to_string(),
            "agent_idle_timeout" => {
                self.agent_idle_timeout = if value.is_empty() {
                    DEFAULT_AGENT_IDLE_TIMEOUT
                } else {
                    let d = parse_duration(value).map_err(invalid)?;
                    if d.0 <= 0 {
                        return Err(invalid("must be positive".to_string()));
                    }
                    d
                };
            }
            _ => warnings.push(ConfigWarning(format!(
                "{origin}: ignoring unknown setting {key:?}"
            ))),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn origin() -> Origin {
        Origin::File {
            path: PathBuf::from("/etc/newrelic/newrelic.cfg"),
            line: 7,
        }
    }

    fn apply(s: &mut Settings, key: &str, value: &str) -> Result<Vec<ConfigWarning>, ConfigError> {
        let mut w = Vec::new();
        s.apply(key, value, &origin(), &mut w)?;
        Ok(w)
    }

    fn with(key: &str, value: &str) -> Settings {
        let mut s = Settings::default();
        apply(&mut s, key, value).unwrap_or_else(|e| panic!("{key}={value}: {e}"));
        s
    }

    fn error(key: &str, value: &str) -> String {
        let mut s = Settings::default();
        apply(&mut s, key, value).expect_err(value).to_string()
    }

    #[test]
    fn defaults_match_new_relic() {
        let s = Settings::default();
        assert_eq!(s.app_timeout, GoDuration(600_000_000_000));
        assert_eq!(s.wait_for_port, GoDuration(3_000_000_000));
        assert_eq!(s.rlimit_files, 2048);
        assert_eq!(s.loglevel, LogLevel::Info);
        assert!(s.utilization.detect_aws && s.utilization.detect_docker);
        assert!(!s.utilization.detect_kubernetes);
        assert_eq!(s.max_frame_size, 32 * 1024 * 1024);
        assert_eq!(s.app_limit, 250);
        assert_eq!(s.harvest_cycle, None);
    }

    #[test]
    fn string_keys() {
        assert_eq!(with("proxy", "http://p:3128").proxy, "http://p:3128");
        assert_eq!(with("pidfile", "/run/x.pid").pidfile, "/run/x.pid");
        assert_eq!(with("logfile", "stdout").logfile, "stdout");
        assert_eq!(with("auditlog", "/tmp/a").auditlog, "/tmp/a");
        assert_eq!(with("ssl_ca_bundle", "/b.pem").ssl_ca_bundle, "/b.pem");
        assert_eq!(with("ssl_ca_path", "/certs").ssl_ca_path, "/certs");
        assert_eq!(
            with("utilization.billing_hostname", "h")
                .utilization
                .billing_hostname,
            "h"
        );
        let s = with("port", "9000");
        assert_eq!(s.port.unwrap().value, "9000");
        assert_eq!(with("address", "@x").address.unwrap().origin, origin());
    }

    #[test]
    fn typed_keys() {
        assert_eq!(with("loglevel", "debug").loglevel, LogLevel::Debug);
        assert_eq!(
            with("app_timeout", "5m").app_timeout,
            GoDuration(300_000_000_000)
        );
        assert_eq!(
            with("app_timeout", "-1s").app_timeout,
            GoDuration(-1_000_000_000)
        );
        assert_eq!(
            with("wait_for_port", "250").wait_for_port,
            GoDuration(250_000_000)
        );
        assert_eq!(with("rlimit_files", "0x1000").rlimit_files, 4096);
        assert!(!with("utilization.detect_aws", "off").utilization.detect_aws);
        assert!(
            with("utilization.detect_kubernetes", "yes")
                .utilization
                .detect_kubernetes
        );
        assert_eq!(
            with("utilization.logical_processors", "8")
                .utilization
                .logical_processors,
            8
        );
        assert_eq!(
            with("utilization.total_ram_mib", "010")
                .utilization
                .total_ram_mib,
            8
        );
        assert_eq!(
            with("harvest_cycle", "5s").harvest_cycle,
            Some(GoDuration(5_000_000_000))
        );
        assert_eq!(with("harvest_cycle", "0").harvest_cycle, None);
        assert_eq!(with("max_frame_size", "2097152").max_frame_size, 2 << 20);
        assert_eq!(with("app_limit", "10").app_limit, 10);
        assert_eq!(with("spool_dir", "/var/lib/x").spool_dir, "/var/lib/x");
        assert_eq!(with("socket_mode", "0666").socket_mode, 0o666);
        assert_eq!(with("socket_mode", "0o600").socket_mode, 0o600);
        assert_eq!(with("socket_group", "www-data").socket_group, "www-data");
        assert_eq!(
            with("agent_idle_timeout", "2s").agent_idle_timeout,
            GoDuration(2_000_000_000)
        );
        assert_eq!(with("spool_max_size", "2097152").spool_max_size, 2 << 20);
        assert!(error("spool_max_size", "1000").contains("1 MiB"));
        assert!(error("spool_max_size", "40000000000").contains("32 GiB"));
        assert!(error("spool_max_age", "0").contains("positive"));
        assert_eq!(
            with("spool_max_age", "1h").spool_max_age,
            GoDuration(3600 * 1_000_000_000)
        );
    }

    #[test]
    fn empty_values_are_zero_for_new_relic_keys_and_default_for_seraph_keys() {
        assert!(!with("utilization.detect_gcp", "").utilization.detect_gcp);
        assert_eq!(with("rlimit_files", "").rlimit_files, 0);
        assert_eq!(
            with("utilization.total_ram_mib", "")
                .utilization
                .total_ram_mib,
            0
        );
        assert_eq!(with("loglevel", "").loglevel, LogLevel::Info);
        assert_eq!(with("proxy", "").proxy, "");
        let mut s = with("max_frame_size", "1024");
        apply(&mut s, "max_frame_size", "").unwrap();
        assert_eq!(s.max_frame_size, MAX_FRAME_SIZE);
        apply(&mut s, "app_limit", "").unwrap();
        assert_eq!(s.app_limit, DEFAULT_APP_LIMIT);
        apply(&mut s, "harvest_cycle", "").unwrap();
        assert_eq!(s.harvest_cycle, None);
        assert!(error("app_timeout", "").contains("empty value"));
        assert!(error("wait_for_port", "").contains("wait_for_port"));
    }

    #[test]
    fn bad_values_name_origin_key_and_value() {
        let e = error("rlimit_files", "lots");
        assert!(
            e.starts_with("/etc/newrelic/newrelic.cfg:7: invalid value \"lots\" for rlimit_files"),
            "{e}"
        );
        assert!(error("rlimit_files", "-1").contains("non-negative"));
        assert!(error("utilization.detect_aws", "maybe").contains("utilization.detect_aws"));
        assert!(error("loglevel", "loud").contains("loglevel"));
        assert!(error("app_timeout", "10 minutes").contains("app_timeout"));
        assert!(error("harvest_cycle", "-5s").contains("negative"));
        assert!(error("max_frame_size", "33554433").contains("only be lowered"));
        assert!(error("max_frame_size", "0").contains("max_frame_size"));
        assert!(error("app_limit", "0").contains("at least 1"));
        assert!(error("socket_mode", "0400").contains("owner needs"));
        assert!(error("socket_mode", "01777").contains("0777"));
        assert!(error("agent_idle_timeout", "0").contains("positive"));
        assert!(error("utilization.logical_processors", "many").contains("integer"));
    }

    #[test]
    fn negative_counts_warn_and_configure_nothing() {
        let mut s = Settings::default();
        let w = apply(&mut s, "utilization.logical_processors", "-4").unwrap();
        assert_eq!(s.utilization.logical_processors, 0);
        assert!(w[0].0.contains("negative"), "{w:?}");
    }

    #[test]
    fn every_known_key_is_handled() {
        for key in KNOWN_KEYS {
            let mut s = Settings::default();
            let mut w = Vec::new();
            // Empty values may be refused (durations), but never unknown.
            let _ = s.apply(key, "", &origin(), &mut w);
            assert!(w.is_empty(), "{key}: {w:?}");
        }
    }

    #[test]
    fn unknown_keys_warn_with_their_origin() {
        let mut s = Settings::default();
        let w = apply(&mut s, "collector_host", "x").unwrap();
        assert_eq!(
            w,
            vec![ConfigWarning(
                "/etc/newrelic/newrelic.cfg:7: ignoring unknown setting \"collector_host\"".into()
            )]
        );
        // Keys are case-sensitive, as in New Relic's daemon.
        assert_eq!(apply(&mut s, "Port", "1").unwrap().len(), 1);
        assert!(s.port.is_none());
    }
}
