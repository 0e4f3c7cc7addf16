//! Stage one: the command line exactly as typed, validated, no syscalls.
//!
//! New Relic's daemon parses flags with Go's `flag` package, where `-name`
//! and `--name` are the same flag, values come as `-name=value` or
//! `-name value`, booleans only as `-name` or `-name=bool`, and parsing
//! stops at the first argument that is not a flag. systemd units and the
//! agent's spawn argv rely on that (`-no-pidfile`, `-c file`), so argv is
//! first rewritten into clap's canonical `--name=value` form
//! ([`normalize`]); clap then does the typing, repetition (last one wins)
//! and help text.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{ArgAction, CommandFactory, FromArgMatches, Parser};

use crate::error::FlagError;
use crate::values::parse_bool;

/// The daemon's flags as clap sees them after [`normalize`].
#[derive(Debug, Parser)]
#[command(
    name = "newrelic-daemon",
    about = "Seraph: a New Relic-compatible PHP agent daemon",
    disable_help_flag = true,
    disable_version_flag = true,
    args_override_self = true,
    after_help = "Flags may be written with one or two dashes (-port or --port), values as \
                  -flag=value or -flag value. Command-line values override the configuration file."
)]
struct Cli {
    /// Configuration file (newrelic.cfg syntax).
    #[arg(short = 'c', value_name = "FILE", allow_hyphen_values = true)]
    config: Option<String>,
    /// Listen on a TCP port (127.0.0.1), host:port, socket path or @abstract name.
    #[arg(long, value_name = "PORT")]
    port: Option<String>,
    /// Listen address; wins over --port.
    #[arg(long, value_name = "ADDR")]
    address: Option<String>,
    /// Outbound proxy for collector traffic.
    #[arg(long, value_name = "URL")]
    proxy: Option<String>,
    /// Pid file, locked for the daemon's lifetime.
    #[arg(long, value_name = "FILE")]
    pidfile: Option<String>,
    /// Do not take the pid file (the watcher passes this to its worker).
    #[arg(long = "no-pidfile", action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "false", value_parser = go_bool,
          value_name = "BOOL", hide_default_value = true, hide_possible_values = true)]
    no_pidfile: bool,
    /// Log file, or stdout/stderr.
    #[arg(long, value_name = "FILE")]
    logfile: Option<String>,
    /// error, warning, info, healthcheck or debug.
    #[arg(long, value_name = "LEVEL")]
    loglevel: Option<String>,
    /// Record every collector request and response in this file.
    #[arg(long, value_name = "FILE")]
    auditlog: Option<String>,
    /// CA bundle replacing the system roots.
    #[arg(long, value_name = "FILE")]
    cafile: Option<String>,
    /// Directory of *.pem CA certificates replacing the system roots.
    #[arg(long, value_name = "DIR")]
    capath: Option<String>,
    /// How long to wait for the worker to listen before returning (0 = don't wait).
    #[arg(long = "wait-for-port", value_name = "DURATION")]
    wait_for_port: Option<String>,
    /// Run the worker in the foreground (no watcher).
    #[arg(short = 'f', long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "false", value_parser = go_bool,
          value_name = "BOOL", hide_default_value = true, hide_possible_values = true)]
    foreground: bool,
    /// Run the watcher in the foreground.
    #[arg(long = "watchdog-foreground", action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", default_value = "false",
          value_parser = go_bool, value_name = "BOOL", hide_default_value = true,
          hide_possible_values = true)]
    watchdog_foreground: bool,
    /// Started by the PHP agent (only changes the startup banner).
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "false", value_parser = go_bool,
          value_name = "BOOL", hide_default_value = true, hide_possible_values = true)]
    agent: bool,
    /// A configuration line (key=value); repeatable, overrides the file.
    #[arg(long, value_name = "KEY=VALUE", action = ArgAction::Append)]
    define: Vec<String>,
    /// Log every harvest payload as NR_INTEGRATION_TEST lines.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "false", value_parser = go_bool,
          value_name = "BOOL", hide_default_value = true, hide_possible_values = true)]
    integration: bool,
    /// Integration log format (seq adds a sequence number).
    #[arg(long = "integration-format", value_name = "FORMAT")]
    integration_format: Option<String>,
    /// Accepted for compatibility and ignored (Go profiling port).
    #[arg(long, value_name = "PORT")]
    pprof: Option<String>,
    /// Print the utilization JSON and exit.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "false", value_parser = go_bool,
          value_name = "BOOL", hide_default_value = true, hide_possible_values = true)]
    utilization: bool,
    /// Print the version and exit.
    #[arg(short = 'v', long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "false", value_parser = go_bool,
          value_name = "BOOL", hide_default_value = true, hide_possible_values = true)]
    version: bool,
    /// Print this help and exit.
    #[arg(short = 'h', long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "false", value_parser = go_bool,
          value_name = "BOOL", hide_default_value = true, hide_possible_values = true)]
    help: bool,
    /// Arguments after the first non-flag (ignored, as Go's flag package does).
    #[arg(last = true, hide = true)]
    ignored: Vec<String>,
}

fn go_bool(s: &str) -> Result<bool, String> {
    parse_bool(s)
}

/// How a Go-style flag name is written for clap.
#[derive(Clone, Copy)]
enum Spec {
    /// Takes a value; the canonical spelling.
    Value(&'static str),
    /// Boolean; the canonical spelling.
    Bool(&'static str),
}

fn spec(name: &str) -> Option<Spec> {
    use Spec::{Bool, Value};
    Some(match name {
        "c" => Value("-c"),
        "port" => Value("--port"),
        "address" => Value("--address"),
        "proxy" => Value("--proxy"),
        "pidfile" => Value("--pidfile"),
        "logfile" => Value("--logfile"),
        "loglevel" => Value("--loglevel"),
        "auditlog" => Value("--auditlog"),
        "cafile" => Value("--cafile"),
        "capath" => Value("--capath"),
        "wait-for-port" => Value("--wait-for-port"),
        "define" => Value("--define"),
        "integration-format" => Value("--integration-format"),
        "pprof" => Value("--pprof"),
        "no-pidfile" => Bool("--no-pidfile"),
        "f" | "foreground" => Bool("--foreground"),
        "watchdog-foreground" => Bool("--watchdog-foreground"),
        "agent" => Bool("--agent"),
        "integration" => Bool("--integration"),
        "utilization" => Bool("--utilization"),
        "v" | "version" => Bool("--version"),
        "h" | "help" => Bool("--help"),
        _ => return None,
    })
}

/// The pre-5.0 single-letter flags New Relic still accepts with a
/// deprecation notice. Seraph refuses them and names the replacement.
fn legacy(name: &str) -> Option<&'static str> {
    Some(match name {
        "p" => "use --pidfile",
        "d" => "use --loglevel",
        "l" => "use --logfile",
        "P" => "use --port",
        "x" => "use --proxy",
        "a" => "use --auditlog",
        "A" => "use --agent",
        "b" => "use --cafile",
        "S" => "use --capath",
        "s" | "n" | "H" => "the setting no longer exists",
        _ => return None,
    })
}

/// Rewrites Go-style arguments (without the program name) into clap's
/// canonical form: `--name=value` for long flags, `-c` `value`, `--name`
/// or `--name=bool` for booleans, and `--` before everything from the
/// first non-flag on.
pub fn normalize(args: &[String]) -> Result<Vec<String>, FlagError> {
    let mut out = Vec::with_capacity(args.len() + 1);
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            break;
        }
        if arg.len() < 2 || !arg.starts_with('-') {
            i -= 1;
            break;
        }
        let body = arg.strip_prefix("--").unwrap_or(&arg[1..]);
        let (name, inline) = match body.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (body, None),
        };
        if name.is_empty() || name.starts_with('-') {
            return Err(FlagError::Invalid(format!("bad flag syntax: {arg}")));
        }
        if let Some(hint) = legacy(name) {
            return Err(FlagError::Legacy {
                flag: arg.clone(),
                hint,
            });
        }
        match spec(name) {
            None => return Err(FlagError::Invalid(format!("unknown flag: {arg}"))),
            Some(Spec::Bool(canonical)) => match inline {
                None => out.push(canonical.to_string()),
                Some(v) => out.push(format!("{canonical}={v}")),
            },
            Some(Spec::Value(canonical)) => {
                let value = match inline {
                    Some(v) => v.to_string(),
                    None => {
                        let Some(next) = args.get(i) else {
                            return Err(FlagError::Invalid(format!("flag needs a value: {arg}")));
                        };
                        i += 1;
                        next.clone()
                    }
                };
                if canonical.starts_with("--") {
                    out.push(format!("{canonical}={value}"));
                } else {
                    out.push(canonical.to_string());
                    out.push(value);
                }
            }
        }
    }
    if i < args.len() {
        out.push("--".to_string());
        out.extend(args[i..].iter().cloned());
    }
    Ok(out)
}

/// A flag that sets a configuration key, in command-line order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlagSetting {
    /// A flag with a configuration key (`--port` → `port`).
    Key {
        /// The flag's canonical name (`--port`).
        flag: &'static str,
        /// The key it sets.
        key: &'static str,
        /// The value as typed.
        value: String,
    },
    /// A `--define` value: configuration text applied like file lines.
    Define(String),
}

/// Stage one's result: what the user typed, with no file read yet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flags {
    /// `-c` (empty means none, as in New Relic's daemon).
    pub config_file: Option<PathBuf>,
    /// Key-setting flags and `--define`s, in command-line order; later ones
    /// win, and all of them win over the file.
    pub settings: Vec<FlagSetting>,
    /// `-no-pidfile`.
    pub no_pidfile: bool,
    /// `-f`/`--foreground`.
    pub foreground: bool,
    /// `--watchdog-foreground`.
    pub watchdog_foreground: bool,
    /// `--agent`.
    pub agent: bool,
    /// `--integration`.
    pub integration: bool,
    /// `--integration-format`.
    pub integration_format: Option<String>,
    /// `--pprof` (ignored).
    pub pprof: Option<String>,
    /// `--utilization`.
    pub utilization: bool,
    /// `-v`/`--version`.
    pub version: bool,
    /// `-h`/`--help`.
    pub help: bool,
    /// Arguments from the first non-flag on (ignored).
    pub ignored: Vec<String>,
}

/// Flags that set a key, with clap's argument id.
const KEYED: &[(&str, &str, &str)] = &[
    ("port", "--port", "port"),
    ("address", "--address", "address"),
    ("proxy", "--proxy", "proxy"),
    ("pidfile", "--pidfile", "pidfile"),
    ("logfile", "--logfile", "logfile"),
    ("loglevel", "--loglevel", "loglevel"),
    ("auditlog", "--auditlog", "auditlog"),
    ("cafile", "--cafile", "ssl_ca_bundle"),
    ("capath", "--capath", "ssl_ca_path"),
    ("wait_for_port", "--wait-for-port", "wait_for_port"),
];

impl Flags {
    /// Parses a full argv (program name first).
    pub fn parse_from<I, T>(argv: I) -> Result<Flags, FlagError>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString>,
    {
        let mut args = Vec::new();
        for arg in argv.into_iter().skip(1) {
            let arg = arg.into();
            match arg.into_string() {
                Ok(s) => args.push(s),
                Err(raw) => {
                    return Err(FlagError::Invalid(format!(
                        "argument is not valid UTF-8: {}",
                        raw.to_string_lossy()
                    )))
                }
            }
        }
        let canonical = normalize(&args)?;
        let matches = Cli::command()
            .no_binary_name(true)
            .try_get_matches_from(&canonical)
            .map_err(clap_message)?;
        let cli = Cli::from_arg_matches(&matches).map_err(clap_message)?;

        let mut ordered: Vec<(usize, FlagSetting)> = Vec::new();
        for &(id, flag, key) in KEYED {
            if let (Some(idx), Some(value)) = (matches.index_of(id), matches.get_one::<String>(id))
            {
                ordered.push((
                    idx,
                    FlagSetting::Key {
                        flag,
                        key,
                        value: value.clone(),
                    },
                ));
            }
        }
        if let Some(indices) = matches.indices_of("define") {
            for (idx, value) in indices.zip(cli.define.iter()) {
                ordered.push((idx, FlagSetting::Define(value.clone())));
            }
        }
        ordered.sort_by_key(|(idx, _)| *idx);

        Ok(Flags {
            config_file: cli.config.filter(|c| !c.is_empty()).map(PathBuf::from),
            settings: ordered.into_iter().map(|(_, s)| s).collect(),
            no_pidfile: cli.no_pidfile,
            foreground: cli.foreground,
            watchdog_foreground: cli.watchdog_foreground,
            agent: cli.agent,
            integration: cli.integration,
            integration_format: cli.integration_format,
            pprof: cli.pprof,
            utilization: cli.utilization,
            version: cli.version,
            help: cli.help,
            ignored: cli.ignored,
        })
    }
}

/// clap's error without its `error:` prefix and usage footer (the daemon
/// prints its own usage).
fn clap_message(err: clap::Error) -> FlagError {
    let rendered = err.render().to_string();
    let first = rendered.lines().next().unwrap_or("invalid arguments");
    FlagError::Invalid(first.trim_start_matches("error: ").to_string())
}

/// The help text (`-h`), generated from the flag definitions.
pub fn usage() -> String {
    Cli::command().render_help().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Flags, FlagError> {
        Flags::parse_from(std::iter::once("newrelic-daemon").chain(args.iter().copied()))
    }

    fn ok(args: &[&str]) -> Flags {
        parse(args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    fn key(flag: &'static str, key: &'static str, value: &str) -> FlagSetting {
        FlagSetting::Key {
            flag,
            key,
            value: value.into(),
        }
    }

    fn strs(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn normalize_single_and_double_dash() {
        let n = normalize(&strs(&[
            "-port",
            "9000",
            "--address=@x",
            "-no-pidfile",
            "-c",
            "-weird",
        ]))
        .unwrap();
        assert_eq!(
            n,
            strs(&[
                "--port=9000",
                "--address=@x",
                "--no-pidfile",
                "-c",
                "-weird"
            ])
        );
        let n = normalize(&strs(&["-f=false", "--v", "-h"])).unwrap();
        assert_eq!(n, strs(&["--foreground=false", "--version", "--help"]));
    }

    #[test]
    fn normalize_stops_at_the_first_non_flag() {
        let n = normalize(&strs(&["-f", "extra", "--port", "1"])).unwrap();
        assert_eq!(n, strs(&["--foreground", "--", "extra", "--port", "1"]));
        let n = normalize(&strs(&["-f", "--", "--port", "1"])).unwrap();
        assert_eq!(n, strs(&["--foreground", "--", "--port", "1"]));
        let n = normalize(&strs(&["-", "-f"])).unwrap();
        assert_eq!(n, strs(&["--", "-", "-f"]));
    }

    #[test]
    fn every_flag_of_the_reference_is_accepted() {
        let f = ok(&[
            "-c",
            "/etc/newrelic/newrelic.cfg",
            "--port",
            "9000",
            "--address",
            "@a",
            "--proxy",
            "http://p",
            "--pidfile",
            "/run/nr.pid",
            "-no-pidfile",
            "--logfile",
            "stdout",
            "--loglevel",
            "debug",
            "--auditlog",
            "/tmp/audit",
            "--cafile",
            "/ca.pem",
            "--capath",
            "/certs",
            "--wait-for-port",
            "0s",
            "-f",
            "--watchdog-foreground",
            "--agent",
            "--define",
            "app_timeout=5m",
            "--define",
            "utilization.detect_aws=false",
            "--integration",
            "--integration-format",
            "seq",
            "--pprof",
            "6060",
            "--utilization",
            "-v",
        ]);
        assert_eq!(
            f.config_file,
            Some(PathBuf::from("/etc/newrelic/newrelic.cfg"))
        );
        assert!(f.no_pidfile && f.foreground && f.watchdog_foreground && f.agent);
        assert!(f.integration && f.utilization && f.version && !f.help);
        assert_eq!(f.integration_format.as_deref(), Some("seq"));
        assert_eq!(f.pprof.as_deref(), Some("6060"));
        assert_eq!(
            f.settings,
            vec![
                key("--port", "port", "9000"),
                key("--address", "address", "@a"),
                key("--proxy", "proxy", "http://p"),
                key("--pidfile", "pidfile", "/run/nr.pid"),
                key("--logfile", "logfile", "stdout"),
                key("--loglevel", "loglevel", "debug"),
                key("--auditlog", "auditlog", "/tmp/audit"),
                key("--cafile", "ssl_ca_bundle", "/ca.pem"),
                key("--capath", "ssl_ca_path", "/certs"),
                key("--wait-for-port", "wait_for_port", "0s"),
                FlagSetting::Define("app_timeout=5m".into()),
                FlagSetting::Define("utilization.detect_aws=false".into()),
            ]
        );
    }

    #[test]
    fn agent_spawn_argv_parses_unchanged() {
        // The shape of argv New Relic's agent execs (§2.4).
        let f = ok(&[
            "--agent",
            "--pidfile",
            "/var/run/newrelic-daemon.pid",
            "--logfile",
            "/var/log/newrelic/newrelic-daemon.log",
            "--loglevel",
            "info",
            "--port",
            "@newrelic",
            "--wait-for-port",
            "0s",
            "--define",
            "app_timeout=",
            "--define",
            "utilization.detect_aws=true",
            "--define",
            "utilization.detect_kubernetes=true",
        ]);
        assert!(f.agent);
        assert_eq!(f.settings.len(), 8);
        // And the watcher's worker argv: same plus -no-pidfile.
        let f = ok(&["--agent", "--port", "@newrelic", "-no-pidfile"]);
        assert!(f.no_pidfile);
    }

    #[test]
    fn systemd_style_argv_parses() {
        let f = ok(&["-f", "-c", "/etc/newrelic/newrelic.cfg"]);
        assert!(f.foreground);
        assert_eq!(
            f.config_file,
            Some(PathBuf::from("/etc/newrelic/newrelic.cfg"))
        );
        let f = ok(&["-c=/x.cfg", "-foreground=true"]);
        assert!(f.foreground);
        assert_eq!(f.config_file, Some(PathBuf::from("/x.cfg")));
    }

    #[test]
    fn empty_config_path_means_none() {
        assert_eq!(ok(&["-c", ""]).config_file, None);
        assert_eq!(ok(&[]).config_file, None);
    }

    #[test]
    fn repeated_flags_last_wins_and_order_is_kept() {
        let f = ok(&["--port", "1", "--define", "port=2", "--port=3"]);
        assert_eq!(
            f.settings,
            vec![
                FlagSetting::Define("port=2".into()),
                key("--port", "port", "3")
            ]
        );
        let f = ok(&["-f", "-f=false"]);
        assert!(!f.foreground);
    }

    #[test]
    fn values_may_start_with_a_dash() {
        let f = ok(&["--proxy", "-x", "-c", "--port"]);
        assert_eq!(f.settings, vec![key("--proxy", "proxy", "-x")]);
        assert_eq!(f.config_file, Some(PathBuf::from("--port")));
    }

    #[test]
    fn values_may_contain_equals_signs() {
        let f = ok(&["--define=loglevel=net=debug"]);
        assert_eq!(
            f.settings,
            vec![FlagSetting::Define("loglevel=net=debug".into())]
        );
    }

    #[test]
    fn trailing_arguments_are_kept_aside() {
        let f = ok(&["-f", "stray", "--port", "1"]);
        assert!(f.foreground);
        assert!(f.settings.is_empty());
        assert_eq!(f.ignored, strs(&["stray", "--port", "1"]));
    }

    #[test]
    fn bad_flags_are_errors() {
        let msg = |args: &[&str]| parse(args).unwrap_err().to_string();
        assert!(msg(&["--bogus"]).contains("unknown flag: --bogus"));
        assert!(msg(&["-port"]).contains("needs a value"));
        assert!(msg(&["---port=1"]).contains("bad flag syntax"));
        assert!(msg(&["-=1"]).contains("bad flag syntax"));
        assert!(
            msg(&["-f=maybe"]).contains("maybe"),
            "{}",
            msg(&["-f=maybe"])
        );
    }

    #[test]
    fn legacy_flags_name_their_replacement() {
        let e = parse(&["-p", "/run/x.pid"]).unwrap_err();
        assert_eq!(
            e,
            FlagError::Legacy {
                flag: "-p".into(),
                hint: "use --pidfile"
            }
        );
        assert!(e.to_string().contains("-p"));
        assert!(parse(&["-d", "debug"])
            .unwrap_err()
            .to_string()
            .contains("--loglevel"));
        assert!(parse(&["-H", "x"])
            .unwrap_err()
            .to_string()
            .contains("no longer"));
    }

    #[test]
    fn help_and_version() {
        assert!(ok(&["-h"]).help);
        assert!(ok(&["-help"]).help);
        assert!(ok(&["--help"]).help);
        assert!(ok(&["-v"]).version);
        assert!(ok(&["-version"]).version);
        let u = usage();
        for flag in [
            "-c <FILE>",
            "--port",
            "--wait-for-port",
            "--define",
            "--foreground",
        ] {
            assert!(u.contains(flag), "{flag} missing from usage:\n{u}");
        }
    }
}
