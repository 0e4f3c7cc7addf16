//! Stage two: layer defaults, the `-c` file and the flags, then type the
//! result. Reading the file is the only syscall in this crate.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cfgfile;
use crate::error::{ConfigError, ConfigWarning, Origin};
use crate::flags::{FlagSetting, Flags};
use crate::listen::ListenAddr;
use crate::settings::{Settings, Sourced};
use crate::{DaemonConfig, IntegrationFormat, LogDestination, Proxy, DEFAULT_APP_TIMEOUT};

/// A resolved configuration and the warnings found on the way (to be
/// logged once the log is open).
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The configuration.
    pub config: DaemonConfig,
    /// Unknown keys, ignored flags, conflicting settings.
    pub warnings: Vec<ConfigWarning>,
}

impl DaemonConfig {
    /// Reads the `-c` file (if any) and resolves it with `flags`.
    pub fn load(flags: &Flags) -> Result<Resolved, ConfigError> {
        match &flags.config_file {
            None => DaemonConfig::resolve(flags, None),
            Some(path) => {
                let bytes = std::fs::read(path).map_err(|source| ConfigError::ReadFile {
                    path: path.clone(),
                    source,
                })?;
                let text = String::from_utf8_lossy(&bytes);
                DaemonConfig::resolve(flags, Some((path, &text)))
            }
        }
    }

    /// Resolves `flags` over an already-read configuration file
    /// (`(path, contents)`): defaults, then the file, then the flags in
    /// command-line order.
    pub fn resolve(flags: &Flags, file: Option<(&Path, &str)>) -> Result<Resolved, ConfigError> {
        let mut settings = Settings::default();
        let mut warnings = Vec::new();

        if let Some((path, text)) = file {
            let entries = cfgfile::parse(text).map_err(|e| ConfigError::Syntax {
                origin: Origin::File {
                    path: path.to_path_buf(),
                    line: e.line,
                },
                message: e.message,
            })?;
            for entry in entries {
                let origin = Origin::File {
                    path: path.to_path_buf(),
                    line: entry.line,
                };
                settings.apply(&entry.key, &entry.value, &origin, &mut warnings)?;
            }
        }

        for setting in &flags.settings {
            match setting {
                FlagSetting::Key { flag, key, value } => {
                    settings.apply(key, value, &Origin::Flag(flag), &mut warnings)?;
                }
                FlagSetting::Define(text) => {
                    let origin = Origin::Flag("--define");
                    let entries = cfgfile::parse(text).map_err(|e| ConfigError::Syntax {
                        origin: origin.clone(),
                        message: format!("{} in {text:?}", e.message),
                    })?;
                    for entry in entries {
                        settings.apply(&entry.key, &entry.value, &origin, &mut warnings)?;
                    }
                }
            }
        }

        if flags.pprof.is_some() {
            warnings.push(ConfigWarning(
                "--pprof is accepted for compatibility and ignored".to_string(),
            ));
        }
        if !flags.ignored.is_empty() {
            warnings.push(ConfigWarning(format!(
                "ignoring arguments after the first non-flag: {:?}",
                flags.ignored
            )));
        }

        let config = finish(settings, flags, &mut warnings)?;
        Ok(Resolved { config, warnings })
    }
}

/// Types every setting.
fn finish(
    s: Settings,
    flags: &Flags,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<DaemonConfig, ConfigError> {
    let listen = listen_addr(s.address, s.port, warnings)?;

    let app_timeout = match s.app_timeout.to_std() {
        None => {
            warnings.push(ConfigWarning(format!(
                "app_timeout {} is negative, using the default of {}s",
                s.app_timeout,
                DEFAULT_APP_TIMEOUT.as_secs()
            )));
            Some(DEFAULT_APP_TIMEOUT)
        }
        Some(d) if d.is_zero() => None,
        Some(d) => Some(d),
    };

    let integration = if flags.integration {
        Some(match flags.integration_format.as_deref() {
            None | Some("") | Some("plain") => IntegrationFormat::Plain,
            Some("seq") => IntegrationFormat::Seq,
            Some(other) => {
                return Err(ConfigError::InvalidValue {
                    origin: Origin::Flag("--integration-format"),
                    key: "integration-format".to_string(),
                    value: other.to_string(),
                    reason: "expected seq or plain".to_string(),
                })
            }
        })
    } else {
        None
    };

    let path = |value: String| (!value.is_empty()).then(|| PathBuf::from(value));
    let logfile = match s.logfile.as_str() {
        "" => LogDestination::Default,
        "stdout" => LogDestination::Stdout,
        "stderr" => LogDestination::Stderr,
        other => LogDestination::File(PathBuf::from(other)),
    };

    Ok(DaemonConfig {
        listen,
        proxy: (!s.proxy.is_empty()).then(|| Proxy::new(s.proxy)),
        pidfile: path(s.pidfile),
        no_pidfile: flags.no_pidfile,
        logfile,
        loglevel: s.loglevel,
        auditlog: path(s.auditlog),
        ca_bundle: path(s.ssl_ca_bundle),
        ca_path: path(s.ssl_ca_path),
        app_timeout,
        wait_for_port: s.wait_for_port.to_std().unwrap_or(Duration::ZERO),
        rlimit_files: s.rlimit_files,
        utilization: s.utilization,
        harvest_cycle: s.harvest_cycle.and_then(|d| d.to_std()),
        max_frame_size: usize::try_from(s.max_frame_size).unwrap_or(usize::MAX),
        app_limit: usize::try_from(s.app_limit).unwrap_or(usize::MAX),
        spool_dir: path(s.spool_dir),
        spool_max_size: s.spool_max_size,
        spool_max_age: s
            .spool_max_age
            .to_std()
            .unwrap_or(Duration::from_secs(86_400)),
        socket_mode: s.socket_mode,
        socket_group: (!s.socket_group.is_empty()).then_some(s.socket_group),
        agent_idle_timeout: s
            .agent_idle_timeout
            .to_std()
            .unwrap_or(Duration::from_secs(30)),
        integration,
        foreground: flags.foreground,
        watchdog_foreground: flags.watchdog_foreground,
        agent: flags.agent,
        config_file: flags.config_file.clone(),
    })
}

/// `address` wins over `port` (with a warning if both are set, wherever
/// each came from, as in New Relic's daemon); neither → `@newrelic`.
fn listen_addr(
    address: Option<Sourced>,
    port: Option<Sourced>,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<ListenAddr, ConfigError> {
    let address = address.filter(|a| !a.value.is_empty());
    let port = port.filter(|p| !p.value.is_empty());
    let (key, chosen) = match (address, port) {
        (None, None) => return Ok(ListenAddr::default()),
        (Some(a), Some(p)) => {
            warnings.push(ConfigWarning(format!(
                "both port ({:?}, {}) and address ({:?}, {}) are set; using address",
                p.value, p.origin, a.value, a.origin
            )));
            ("address", a)
        }
        (Some(a), None) => ("address", a),
        (None, Some(p)) => ("port", p),
    };
    let parsed = ListenAddr::parse(&chosen.value).map_err(|reason| ConfigError::InvalidValue {
        origin: chosen.origin.clone(),
        key: key.to_string(),
        value: chosen.value.clone(),
        reason,
    })?;
    if let Some(w) = parsed.warning {
        warnings.push(ConfigWarning(w));
    }
    Ok(parsed.addr)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::LogLevel;
    use std::io::Write;

    const CFG: &str = "/etc/newrelic/newrelic.cfg";

    fn flags(args: &[&str]) -> Flags {
        Flags::parse_from(std::iter::once("newrelic-daemon").chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    fn resolve(args: &[&str], file: Option<&str>) -> Result<Resolved, ConfigError> {
        DaemonConfig::resolve(&flags(args), file.map(|t| (Path::new(CFG), t)))
    }

    fn config(args: &[&str], file: Option<&str>) -> DaemonConfig {
        resolve(args, file).unwrap_or_else(|e| panic!("{e}")).config
    }

    fn tcp(s: &str) -> ListenAddr {
        ListenAddr::Tcp(s.parse().unwrap())
    }

    #[test]
    fn file_then_flags_flags_win() {
        let file = "loglevel = debug\nport = 9000\nlogfile = /tmp/from-file.log\n";
        let c = config(&["--loglevel", "error"], Some(file));
        assert_eq!(c.loglevel, LogLevel::Error);
        assert_eq!(c.listen, tcp("127.0.0.1:9000"));
        assert_eq!(c.logfile, LogDestination::File("/tmp/from-file.log".into()));
    }

    #[test]
    fn defines_apply_like_file_lines_and_beat_the_file() {
        let c = config(
            &[
                "--define",
                "app_timeout=5m",
                "--define",
                "utilization.detect_aws = off # c",
            ],
            Some("app_timeout = 1m\n"),
        );
        assert_eq!(c.app_timeout, Some(Duration::from_secs(300)));
        assert!(!c.utilization.detect_aws);
        let c = config(&["--define", "proxy='http://a;b'"], None);
        assert_eq!(c.proxy.unwrap().as_str(), "http://a;b");
    }

    #[test]
    fn later_flags_beat_earlier_defines_and_vice_versa() {
        let c = config(
            &["--define", "loglevel=debug", "--loglevel", "warning"],
            None,
        );
        assert_eq!(c.loglevel, LogLevel::Warning);
        let c = config(
            &["--loglevel", "warning", "--define", "loglevel=debug"],
            None,
        );
        assert_eq!(c.loglevel, LogLevel::Debug);
    }

    #[test]
    fn agent_passes_an_empty_app_timeout_which_is_an_error() {
        // New Relic's daemon fails the same way; the agent only passes
        // `--define app_timeout=` when newrelic.daemon.app_timeout is set.
        let e = resolve(&["--define", "app_timeout="], None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("flag --define") && e.contains("app_timeout"),
            "{e}"
        );
    }

    #[test]
    fn listen_defaults_and_precedence() {
        assert_eq!(
            config(&[], None).listen,
            ListenAddr::Abstract("newrelic".into())
        );
        assert_eq!(
            config(&["--port", "9000"], None).listen,
            tcp("127.0.0.1:9000")
        );
        assert_eq!(
            config(&["--port", "/tmp/x.sock"], None).listen,
            ListenAddr::Path("/tmp/x.sock".into())
        );
        assert_eq!(
            config(&["--address", "@abc"], None).listen,
            ListenAddr::Abstract("abc".into())
        );
        let r = resolve(&["--port", "9000", "--address", "127.0.0.1:9001"], None).unwrap();
        assert_eq!(r.config.listen, tcp("127.0.0.1:9001"));
        assert!(r.warnings[0].0.contains("both port"), "{:?}", r.warnings);
        // Address wins even when it came from the file and port from a flag.
        let r = resolve(&["--port", "9000"], Some("address = 127.0.0.1:9002")).unwrap();
        assert_eq!(r.config.listen, tcp("127.0.0.1:9002"));
        assert_eq!(r.warnings.len(), 1);
        // An empty value is "not set".
        assert_eq!(
            config(&["--address", ""], Some("port = 7")).listen,
            tcp("127.0.0.1:7")
        );
    }

    #[test]
    fn bad_listen_addresses_name_their_origin() {
        let e = resolve(&["--port", "70000"], None).unwrap_err().to_string();
        assert!(
            e.starts_with("flag --port: invalid value \"70000\" for port"),
            "{e}"
        );
        let e = resolve(&[], Some("\n\naddress = relative/sock\n"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("/etc/newrelic/newrelic.cfg:3: invalid value"),
            "{e}"
        );
        assert!(e.contains("absolute"), "{e}");
    }

    #[test]
    fn app_timeout_rules() {
        assert_eq!(
            config(&[], None).app_timeout,
            Some(Duration::from_secs(600))
        );
        assert_eq!(
            config(&["--define", "app_timeout=0"], None).app_timeout,
            None
        );
        assert_eq!(
            config(&["--define", "app_timeout=90s"], None).app_timeout,
            Some(Duration::from_secs(90))
        );
        let r = resolve(&["--define", "app_timeout=-1m"], None).unwrap();
        assert_eq!(r.config.app_timeout, Some(Duration::from_secs(600)));
        assert!(r.warnings[0].0.contains("negative"));
    }

    #[test]
    fn wait_for_port_rules() {
        assert_eq!(config(&[], None).wait_for_port, Duration::from_secs(3));
        assert_eq!(
            config(&["--wait-for-port", "0s"], None).wait_for_port,
            Duration::ZERO
        );
        assert_eq!(
            config(&["--wait-for-port", "1500"], None).wait_for_port,
            Duration::from_millis(1500)
        );
        assert_eq!(
            config(&["--wait-for-port", "-1s"], None).wait_for_port,
            Duration::ZERO
        );
        assert_eq!(
            config(&[], Some("wait_for_port = 10s")).wait_for_port,
            Duration::from_secs(10)
        );
        let e = resolve(&["--wait-for-port", "soon"], None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("flag --wait-for-port") && e.contains("\"soon\""),
            "{e}"
        );
    }

    #[test]
    fn paths_and_destinations() {
        let c = config(
            &[
                "--pidfile",
                "/run/nr.pid",
                "--cafile",
                "/ca.pem",
                "--capath",
                "/certs",
                "--auditlog",
                "/a.log",
            ],
            None,
        );
        assert_eq!(c.pidfile, Some("/run/nr.pid".into()));
        assert_eq!(c.ca_bundle, Some("/ca.pem".into()));
        assert_eq!(c.ca_path, Some("/certs".into()));
        assert_eq!(c.auditlog, Some("/a.log".into()));
        let c = config(
            &[],
            Some("ssl_ca_bundle = /x.pem\nssl_ca_path = /y\npidfile =\n"),
        );
        assert_eq!(c.ca_bundle, Some("/x.pem".into()));
        assert_eq!(c.ca_path, Some("/y".into()));
        assert_eq!(c.pidfile, None);
        assert_eq!(
            config(&["--logfile", "stdout"], None).logfile,
            LogDestination::Stdout
        );
        assert_eq!(
            config(&["--logfile", "stderr"], None).logfile,
            LogDestination::Stderr
        );
        assert_eq!(config(&[], None).logfile, LogDestination::Default);
    }

    #[test]
    fn seraph_keys() {
        let c = config(
            &[
                "--define",
                "harvest_cycle=5s",
                "--define",
                "max_frame_size=0x200000",
                "--define",
                "app_limit=3",
            ],
            None,
        );
        assert_eq!(c.harvest_cycle, Some(Duration::from_secs(5)));
        assert_eq!(c.max_frame_size, 2 << 20);
        assert_eq!(c.app_limit, 3);
        let e = resolve(&[], Some("max_frame_size = 64M"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("max_frame_size") && e.contains("64M"), "{e}");
    }

    #[test]
    fn mode_flags_are_carried() {
        let c = config(&["-f", "--agent", "-no-pidfile", "-c", ""], None);
        assert!(c.foreground && c.agent && c.no_pidfile && !c.watchdog_foreground);
        assert_eq!(c.config_file, None);
        assert!(config(&["--watchdog-foreground"], None).watchdog_foreground);
    }

    #[test]
    fn integration_mode() {
        assert_eq!(config(&[], None).integration, None);
        assert_eq!(
            config(&["--integration"], None).integration,
            Some(IntegrationFormat::Plain)
        );
        assert_eq!(
            config(&["--integration", "--integration-format", "seq"], None).integration,
            Some(IntegrationFormat::Seq)
        );
        let e = resolve(&["--integration", "--integration-format", "xml"], None).unwrap_err();
        assert!(e.to_string().contains("--integration-format"));
    }

    #[test]
    fn warnings_for_unknown_keys_pprof_and_stray_arguments() {
        let r = resolve(&["--pprof", "6060", "-f", "stray"], Some("ssl = true\n")).unwrap();
        let w: Vec<_> = r.warnings.iter().map(|w| w.0.as_str()).collect();
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(w[0].contains("newrelic.cfg:1") && w[0].contains("\"ssl\""));
        assert!(w[1].contains("--pprof"));
        assert!(w[2].contains("stray"));
    }

    #[test]
    fn syntax_errors_carry_file_and_line() {
        let e = resolve(&[], Some("port = 1\nbogus line\n")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("/etc/newrelic/newrelic.cfg:2: syntax error"),
            "{e}"
        );
        let e = resolve(&["--define", "novalue"], None).unwrap_err();
        assert!(
            e.to_string().starts_with("flag --define: syntax error"),
            "{e}"
        );
    }

    #[test]
    fn load_reads_the_file_and_reports_missing_ones() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, "loglevel = healthcheck").unwrap();
        let path = file.path().to_str().unwrap().to_string();
        let r = DaemonConfig::load(&flags(&["-c", &path])).unwrap();
        assert_eq!(r.config.loglevel, LogLevel::HealthCheck);
        assert_eq!(r.config.config_file, Some(PathBuf::from(&path)));

        let e = DaemonConfig::load(&flags(&["-c", "/nonexistent/newrelic.cfg"])).unwrap_err();
        assert!(matches!(e, ConfigError::ReadFile { .. }));
        assert!(e.to_string().contains("/nonexistent/newrelic.cfg"));
    }
}
