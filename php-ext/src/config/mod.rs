//! INI settings: the raw table registered with PHP ([`INI_DEFS`]) and the
//! typed [`AgentSettings`] resolved from it.
//!
//! Two stages, as ripgrep does with its flags: the engine hands us raw
//! strings (whatever the user typed), [`AgentSettings::resolve`] validates
//! them with no syscalls and no PHP, and a bad value becomes a warning plus
//! the default, never an error that stops the request.

mod attributes;
mod frameworks;
mod ini_table;
mod parse;

pub use attributes::attribute_filter;
pub use frameworks::{FrameworkSettings, WordPressHooks};
pub use ini_table::INI_DEFS;
pub use parse::{parse_bool, parse_duration};

use std::time::Duration;

/// Who may change a setting (PHP's `PHP_INI_*` modes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Modifiable {
    /// php.ini, per-directory and `ini_set`.
    All,
    /// php.ini only.
    System,
}

/// How a setting's value is written into the App query's `settings` JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportAs {
    /// As the INI string (`"no value"` when empty).
    Str,
    /// As a JSON boolean (New Relic's agent does this for two settings).
    Bool,
}

/// One registered INI setting.
#[derive(Clone, Copy, Debug)]
pub struct IniDef {
    /// Full name, `newrelic.` prefix included.
    pub name: &'static str,
    /// Default value, as New Relic's agent registers it.
    pub default: &'static str,
    /// Who may change it.
    pub modifiable: Modifiable,
    /// Whether it appears in the App query's `settings` JSON.
    pub reported: bool,
    /// How it appears there.
    pub report_as: ReportAs,
}

/// `newrelic.transaction_tracer.record_sql`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RecordSql {
    /// No SQL in traces or slow SQL.
    Off,
    /// SQL as written (refused under high security).
    Raw,
    /// Literals replaced by `?`.
    #[default]
    Obfuscated,
}

/// `newrelic.transaction_tracer.threshold`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TraceThreshold {
    /// Four times the application's apdex_t (`apdex_f`).
    #[default]
    ApdexF,
    /// A fixed duration.
    Fixed(Duration),
}

/// `newrelic.daemon.dont_launch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DontLaunch {
    /// 0: the agent may start the daemon from any SAPI.
    #[default]
    Never,
    /// 1: not from the CLI.
    NotCli,
    /// 2: only from the CLI.
    NotWeb,
    /// 3: never start the daemon.
    Always,
}

/// Settings of the daemon, as the agent passes them on when it spawns one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DaemonSettings {
    /// The address string (`newrelic.daemon.address`, else `.port`).
    pub address: String,
    /// Path of the daemon binary.
    pub location: String,
    /// When the agent must not spawn a daemon.
    pub dont_launch: DontLaunch,
    /// How long the first request polls for a Connected app.
    pub app_connect_timeout: Duration,
    /// `--wait-for-port` value (as given, e.g. `2s`), empty = `0s`.
    pub start_timeout: String,
    /// `--logfile`.
    pub logfile: String,
    /// `--loglevel`.
    pub loglevel: String,
    /// `--pidfile`; empty = first writable default directory.
    pub pidfile: String,
    /// `--auditlog`.
    pub auditlog: String,
    /// `--cafile`.
    pub ssl_ca_bundle: String,
    /// `--capath`.
    pub ssl_ca_path: String,
    /// `--proxy`.
    pub proxy: String,
    /// Sent per app as `App.redirect_collector`.
    pub collector_host: String,
    /// `--define app_timeout=`.
    pub app_timeout: String,
    /// The six `utilization.detect_*` switches, in argv order: aws, azure,
    /// gcp, pcf, docker, kubernetes.
    pub detect: [bool; 6],
    /// `--integration`.
    pub integration: bool,
    /// `newrelic.daemon.user` (Seraph's own): the user the daemon runs as,
    /// trusted with the license besides root and this process's user.
    pub user: String,
}

/// The agent's typed settings for one request.
#[derive(Clone, Debug, PartialEq)]
pub struct AgentSettings {
    /// `newrelic.enabled`.
    pub enabled: bool,
    /// `newrelic.license`.
    pub license: String,
    /// `newrelic.appname` (`;`-separated).
    pub appname: String,
    /// Agent log path; empty = no log.
    pub logfile: String,
    /// Agent log level.
    pub loglevel: String,
    /// Daemon connection and spawning.
    pub daemon: DaemonSettings,
    /// Deadline for the App query (write and reply together).
    pub appinfo_timeout: Duration,
    /// `newrelic.special.expensive_node_min`: user-function segments
    /// shorter than this are dropped (default 2 ms, `0` keeps all).
    pub expensive_node_min: Duration,
    /// `newrelic.high_security`.
    pub high_security: bool,
    /// `newrelic.labels`, raw (`k:v;k2:v2`).
    pub labels: String,
    /// `newrelic.process_host.display_name`.
    pub display_host: String,
    /// `newrelic.security_policies_token`.
    pub security_policies_token: String,
    /// Transaction tracer on.
    pub tt_enabled: bool,
    /// Trace threshold.
    pub tt_threshold: TraceThreshold,
    /// 1: every user function is a segment; 0: only instrumented and custom ones.
    pub tt_detail: u8,
    /// Slow SQL collection.
    pub tt_slow_sql: bool,
    /// How SQL is recorded.
    pub tt_record_sql: RecordSql,
    /// Slow SQL threshold.
    pub tt_explain_threshold: Duration,
    /// Slow MySQL queries get an explain plan.
    pub tt_explain_enabled: bool,
    /// Datastore calls slower than this get a backtrace.
    pub tt_stack_trace_threshold: Duration,
    /// Segment limit for CLI transactions (0 = unlimited).
    pub tt_max_segments_cli: u64,
    /// Segment limit for web transactions (0 = unlimited).
    pub tt_max_segments_web: u64,
    /// Extra functions to trace even with detail 0 (lower-cased).
    pub tt_custom: Vec<String>,
    /// Internal functions become segments too.
    pub tt_internal_functions: bool,
    /// Error collection on.
    pub errors_enabled: bool,
    /// Bit mask of PHP error levels never recorded.
    pub errors_ignore_errors: i64,
    /// Exception classes never recorded.
    pub errors_ignore_exceptions: Vec<String>,
    /// `newrelic_notice_error` beats PHP errors.
    pub errors_prioritize_api: bool,
    /// Failed database queries are recorded as errors.
    pub errors_record_database: bool,
    /// Datastore calls report their server (`datastore_tracer.instance_reporting.enabled`).
    pub instance_reporting: bool,
    /// ... and their database name (`datastore_tracer.database_name_reporting.enabled`).
    pub database_name_reporting: bool,
    /// Message spans carry destination, system and server
    /// (`message_tracer.segment_parameters.enabled`).
    pub message_segment_parameters: bool,
    /// Error events.
    pub error_events_enabled: bool,
    /// Transaction events (`analytics_events.enabled` and `transaction_events.enabled`).
    pub txn_events_enabled: bool,
    /// Custom events.
    pub custom_events_enabled: bool,
    /// Custom events limit reported to the daemon.
    pub custom_events_max: u64,
    /// Span events.
    pub span_events_enabled: bool,
    /// Span events limit reported to the daemon.
    pub span_events_max: u64,
    /// Distributed tracing.
    pub dt_enabled: bool,
    /// Leave out the `newrelic` header on outbound requests.
    pub dt_exclude_newrelic_header: bool,
    /// Regular expressions (comma-separated, as given) for files that
    /// name transactions; see [`crate::naming::FileNamer`].
    pub name_files: String,
    /// Functions that name transactions (lower-case).
    pub name_functions: Vec<String>,
    /// Cut the initial name after its first `.php`.
    pub name_remove_trailing_path: bool,
    /// Custom attributes allowed.
    pub custom_parameters_enabled: bool,
    /// Exception messages kept.
    pub allow_raw_exception_messages: bool,
    /// Application logging master switch.
    pub logging_enabled: bool,
    /// Log forwarding.
    pub logging_forwarding: bool,
    /// Log metrics.
    pub logging_metrics: bool,
    /// Local log decoration.
    pub logging_local_decorating: bool,
    /// Log forwarding labels.
    pub logging_labels: bool,
    /// Log events limit reported to the daemon.
    pub log_events_max: u64,
    /// Infinite tracing observer host.
    pub trace_observer_host: String,
    /// Infinite tracing observer port.
    pub trace_observer_port: u16,
    /// Infinite tracing queue size.
    pub span_queue_size: u64,
    /// Attribute include/exclude rules and disabled destinations.
    pub attributes: seraph_txn::AttributeFilter,
    /// `newrelic.capture_params`: request parameters to traces and errors.
    pub capture_params: bool,
    /// `newrelic.browser_monitoring.auto_instrument`.
    pub autorum: bool,
    /// `newrelic.synthetics.enabled`.
    pub synthetics_enabled: bool,
    /// `newrelic.code_level_metrics.enabled`.
    pub code_level_metrics: bool,
    /// Framework, log-forwarding and package settings.
    pub frameworks: FrameworkSettings,
}

/// A setting whose value could not be used; the default applies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadValue {
    /// INI name.
    pub name: &'static str,
    /// What the user wrote.
    pub value: String,
}

impl std::fmt::Display for BadValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "invalid value '{}' for {}: using the default",
            self.value, self.name
        )
    }
}

/// Reads raw values for [`AgentSettings::resolve`].
pub trait RawIni {
    /// The current value of `name`, or `None` if unknown.
    fn get(&self, name: &str) -> Option<String>;

    /// Whether the user gave `name` a value (php.ini, `-d`, per
    /// directory, `ini_set`), rather than it keeping its default.
    fn is_set(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

impl<F: Fn(&str) -> Option<String>> RawIni for F {
    fn get(&self, name: &str) -> Option<String> {
        self(name)
    }
}

/// The default of a registered setting.
pub fn default_of(name: &str) -> &'static str {
    INI_DEFS
        .binary_search_by(|d| d.name.cmp(name))
        .map(|i| INI_DEFS[i].default)
        .unwrap_or("")
}

struct Reader<'a> {
    raw: &'a dyn RawIni,
    bad: Vec<BadValue>,
}

impl Reader<'_> {
    fn s(&self, name: &'static str) -> String {
        self.raw
            .get(name)
            .unwrap_or_else(|| default_of(name).to_owned())
            .trim()
            .to_owned()
    }

    fn typed<T: Default>(&mut self, name: &'static str, parse: impl Fn(&str) -> Option<T>) -> T {
        let v = self.s(name);
        if let Some(t) = parse(&v) {
            return t;
        }
        self.bad.push(BadValue { name, value: v });
        // The table's defaults all parse (a unit test checks it).
        parse(default_of(name)).unwrap_or_default()
    }

    fn bool(&mut self, name: &'static str) -> bool {
        self.typed(name, parse_bool)
    }

    fn dur(&mut self, name: &'static str) -> Duration {
        self.typed(name, parse_duration)
    }

    fn uint(&mut self, name: &'static str) -> u64 {
        self.typed(name, |s| s.parse::<u64>().ok())
    }

    fn list(&self, name: &'static str) -> Vec<String> {
        self.s(name)
            .split(',')
            .map(|x| x.trim().to_ascii_lowercase())
            .filter(|x| !x.is_empty())
            .collect()
    }
}

impl AgentSettings {
    /// Validates raw INI values. Every bad value is returned alongside the
    /// settings (with its default applied) so the caller can log it.
    pub fn resolve(raw: &dyn RawIni) -> (AgentSettings, Vec<BadValue>) {
        let mut r = Reader {
            raw,
            bad: Vec::new(),
        };
        let address = {
            let a = r.s("newrelic.daemon.address");
            if a.is_empty() {
                let p = r.s("newrelic.daemon.port");
                if p.is_empty() {
                    "@newrelic".to_owned()
                } else {
                    p
                }
            } else {
                a
            }
        };
        let dont_launch = r.typed("newrelic.daemon.dont_launch", |s| {
            let n: i64 = s.parse().ok()?;
            Some(match n.clamp(0, 3) {
                0 => DontLaunch::Never,
                1 => DontLaunch::NotCli,
                2 => DontLaunch::NotWeb,
                _ => DontLaunch::Always,
            })
        });
        let detect = [
            r.bool("newrelic.daemon.utilization.detect_aws"),
            r.bool("newrelic.daemon.utilization.detect_azure"),
            r.bool("newrelic.daemon.utilization.detect_gcp"),
            r.bool("newrelic.daemon.utilization.detect_pcf"),
            r.bool("newrelic.daemon.utilization.detect_docker"),
            r.bool("newrelic.daemon.utilization.detect_kubernetes"),
        ];
        let daemon = DaemonSettings {
            address,
            location: r.s("newrelic.daemon.location"),
            dont_launch,
            app_connect_timeout: r.dur("newrelic.daemon.app_connect_timeout"),
            start_timeout: r.s("newrelic.daemon.start_timeout"),
            logfile: r.s("newrelic.daemon.logfile"),
            loglevel: r.s("newrelic.daemon.loglevel"),
            pidfile: r.s("newrelic.daemon.pidfile"),
            auditlog: r.s("newrelic.daemon.auditlog"),
            ssl_ca_bundle: r.s("newrelic.daemon.ssl_ca_bundle"),
            ssl_ca_path: r.s("newrelic.daemon.ssl_ca_path"),
            proxy: r.s("newrelic.daemon.proxy"),
            collector_host: r.s("newrelic.daemon.collector_host"),
            app_timeout: r.s("newrelic.daemon.app_timeout"),
            detect,
            integration: {
                let v = r.s("newrelic.special.integration");
                !v.is_empty() && parse_bool(&v).unwrap_or(false)
            },
            user: r.s("newrelic.daemon.user"),
        };
        let appinfo_timeout = {
            let v = r.s("newrelic.special.appinfo_timeout");
            if v.is_empty() {
                Duration::from_millis(100)
            } else {
                match parse_duration(&v) {
                    Some(d) if !d.is_zero() => d,
                    _ => {
                        r.bad.push(BadValue {
                            name: "newrelic.special.appinfo_timeout",
                            value: v,
                        });
                        Duration::from_millis(100)
                    }
                }
            }
        };
        // Empty means New Relic's 2 ms; any time value (bare numbers are
        // milliseconds) replaces it, `0` included.
        let expensive_node_min = r.typed("newrelic.special.expensive_node_min", |s| {
            if s.is_empty() {
                Some(Duration::from_millis(2))
            } else {
                parse_duration(s)
            }
        });
        let tt_threshold = r.typed("newrelic.transaction_tracer.threshold", |s| {
            if s.eq_ignore_ascii_case("apdex_f") || s.is_empty() {
                Some(TraceThreshold::ApdexF)
            } else {
                parse_duration(s).map(TraceThreshold::Fixed)
            }
        });
        let tt_record_sql = r.typed("newrelic.transaction_tracer.record_sql", |s| {
            match s.to_ascii_lowercase().as_str() {
                "off" => Some(RecordSql::Off),
                "raw" => Some(RecordSql::Raw),
                "obfuscated" => Some(RecordSql::Obfuscated),
                _ => None,
            }
        });
        let tt_detail = r.typed("newrelic.transaction_tracer.detail", |s| {
            let n: i64 = s.parse().ok()?;
            Some(u8::from(n > 0))
        });
        let errors_ignore_errors = r.typed("newrelic.error_collector.ignore_errors", |s| {
            if s.is_empty() {
                Some(0)
            } else {
                s.parse::<i64>().ok()
            }
        });
        let high_security = r.bool("newrelic.high_security");
        let mut record_sql = tt_record_sql;
        if high_security && record_sql == RecordSql::Raw {
            record_sql = RecordSql::Obfuscated;
        }
        let settings = AgentSettings {
            enabled: r.bool("newrelic.enabled"),
            license: r.s("newrelic.license"),
            appname: {
                let a = r.s("newrelic.appname");
                if a.is_empty() {
                    "PHP Application".to_owned()
                } else {
                    a
                }
            },
            logfile: r.s("newrelic.logfile"),
            loglevel: r.s("newrelic.loglevel"),
            daemon,
            appinfo_timeout,
            expensive_node_min,
            high_security,
            labels: r.s("newrelic.labels"),
            display_host: r.s("newrelic.process_host.display_name"),
            security_policies_token: r.s("newrelic.security_policies_token"),
            tt_enabled: r.bool("newrelic.transaction_tracer.enabled"),
            tt_threshold,
            tt_detail,
            tt_slow_sql: r.bool("newrelic.transaction_tracer.slow_sql"),
            tt_record_sql: record_sql,
            tt_explain_threshold: r.dur("newrelic.transaction_tracer.explain_threshold"),
            tt_explain_enabled: r.bool("newrelic.transaction_tracer.explain_enabled"),
            tt_stack_trace_threshold: r.dur("newrelic.transaction_tracer.stack_trace_threshold"),
            tt_max_segments_cli: r.uint("newrelic.transaction_tracer.max_segments_cli"),
            tt_max_segments_web: r.uint("newrelic.transaction_tracer.max_segments_web"),
            tt_custom: r.list("newrelic.transaction_tracer.custom"),
            tt_internal_functions: r.bool("newrelic.transaction_tracer.internal_functions_enabled"),
            errors_enabled: r.bool("newrelic.error_collector.enabled"),
            errors_ignore_errors,
            errors_ignore_exceptions: r.list("newrelic.error_collector.ignore_exceptions"),
            errors_prioritize_api: r.bool("newrelic.error_collector.prioritize_api_errors"),
            errors_record_database: r.bool("newrelic.error_collector.record_database_errors"),
            instance_reporting: r.bool("newrelic.datastore_tracer.instance_reporting.enabled"),
            database_name_reporting: r
                .bool("newrelic.datastore_tracer.database_name_reporting.enabled"),
            message_segment_parameters: r
                .bool("newrelic.message_tracer.segment_parameters.enabled"),
            error_events_enabled: r.bool("newrelic.error_collector.capture_events"),
            txn_events_enabled: r.bool("newrelic.analytics_events.enabled")
                && r.bool("newrelic.transaction_events.enabled"),
            custom_events_enabled: r.bool("newrelic.custom_insights_events.enabled")
                && !high_security,
            custom_events_max: r.uint("newrelic.custom_events.max_samples_stored"),
            span_events_enabled: r.bool("newrelic.span_events_enabled"),
            span_events_max: r.uint("newrelic.span_events.max_samples_stored"),
            dt_enabled: r.bool("newrelic.distributed_tracing_enabled"),
            dt_exclude_newrelic_header: r
                .bool("newrelic.distributed_tracing_exclude_newrelic_header"),
            name_files: r.s("newrelic.webtransaction.name.files").trim().to_owned(),
            name_functions: r.list("newrelic.webtransaction.name.functions"),
            name_remove_trailing_path: r.bool("newrelic.webtransaction.name.remove_trailing_path"),
            custom_parameters_enabled: r.bool("newrelic.custom_parameters_enabled")
                && !high_security,
            allow_raw_exception_messages: r.bool("newrelic.allow_raw_exception_messages")
                && !high_security,
            logging_enabled: r.bool("newrelic.application_logging.enabled"),
            logging_forwarding: r.bool("newrelic.application_logging.forwarding.enabled"),
            logging_metrics: r.bool("newrelic.application_logging.metrics.enabled"),
            logging_local_decorating: r
                .bool("newrelic.application_logging.local_decorating.enabled"),
            logging_labels: r.bool("newrelic.application_logging.forwarding.labels.enabled"),
            log_events_max: r.uint("newrelic.application_logging.forwarding.max_samples_stored"),
            trace_observer_host: r.s("newrelic.infinite_tracing.trace_observer.host"),
            trace_observer_port: r.typed("newrelic.infinite_tracing.trace_observer.port", |s| {
                s.parse::<u16>().ok()
            }),
            span_queue_size: r.uint("newrelic.infinite_tracing.span_events.queue_size"),
            attributes: attribute_filter(raw),
            capture_params: r.bool("newrelic.capture_params"),
            autorum: r.bool("newrelic.browser_monitoring.auto_instrument"),
            synthetics_enabled: r.bool("newrelic.synthetics.enabled"),
            code_level_metrics: r.bool("newrelic.code_level_metrics.enabled"),
            frameworks: FrameworkSettings::resolve(&mut r),
        };
        (settings, r.bad)
    }

    /// The license as logs may show it: first two and last two characters.
    pub fn license_redacted(&self) -> String {
        redact_license(&self.license)
    }
}

/// `0123…89` → `01...89`; short keys are hidden entirely.
pub fn redact_license(license: &str) -> String {
    let chars: Vec<char> = license.chars().collect();
    if chars.len() < 5 {
        return if chars.is_empty() {
            String::new()
        } else {
            "...".to_owned()
        };
    }
    let head: String = chars[..2].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{head}...{tail}")
}

/// The App query's `settings` JSON: every reported setting, sorted by
/// name, empty values as `"no value"`, the license redacted.
pub fn settings_json(raw: &dyn RawIni) -> String {
    let mut map = serde_json::Map::new();
    for def in INI_DEFS.iter().filter(|d| d.reported) {
        let v = raw.get(def.name).unwrap_or_else(|| def.default.to_owned());
        let value = match def.report_as {
            ReportAs::Bool => serde_json::Value::Bool(parse_bool(&v).unwrap_or(false)),
            ReportAs::Str if def.name == "newrelic.license" => redact_license(&v).into(),
            ReportAs::Str if v.is_empty() => "no value".into(),
            ReportAs::Str => v.into(),
        };
        map.insert(def.name.to_owned(), value);
    }
    crate::json::to_string_slashes(&serde_json::Value::Object(map))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn table_is_sorted_unique_and_defaults_parse() {
        for w in INI_DEFS.windows(2) {
            assert!(w[0].name < w[1].name, "{} before {}", w[0].name, w[1].name);
        }
        assert_eq!(INI_DEFS.iter().filter(|d| d.reported).count(), 121);
        let (_, bad) = AgentSettings::resolve(&none);
        assert!(bad.is_empty(), "defaults must parse: {bad:?}");
    }

    #[test]
    fn defaults_match_new_relic() {
        let (s, _) = AgentSettings::resolve(&none);
        assert!(s.enabled);
        assert_eq!(s.appname, "PHP Application");
        assert_eq!(s.daemon.address, "@newrelic");
        assert_eq!(s.daemon.dont_launch, DontLaunch::Never);
        assert_eq!(s.daemon.location, "/usr/bin/newrelic-daemon");
        assert_eq!(s.appinfo_timeout, Duration::from_millis(100));
        assert_eq!(s.expensive_node_min, Duration::from_millis(2));
        assert_eq!(s.tt_threshold, TraceThreshold::ApdexF);
        assert_eq!(s.tt_detail, 1);
        assert_eq!(s.tt_record_sql, RecordSql::Obfuscated);
        assert_eq!(s.tt_explain_threshold, Duration::from_millis(500));
        assert_eq!(s.tt_max_segments_cli, 100_000);
        assert_eq!(s.custom_events_max, 30_000);
        assert!(s.dt_enabled && s.span_events_enabled && s.txn_events_enabled);
    }

    #[test]
    fn bad_values_warn_and_fall_back() {
        let raw = |n: &str| match n {
            "newrelic.enabled" => Some("perhaps".to_owned()),
            "newrelic.transaction_tracer.explain_threshold" => Some("soon".to_owned()),
            "newrelic.daemon.app_connect_timeout" => Some("1".to_owned()),
            "newrelic.daemon.dont_launch" => Some("9".to_owned()),
            "newrelic.daemon.port" => Some("/tmp/x.sock".to_owned()),
            _ => None,
        };
        let (s, bad) = AgentSettings::resolve(&raw);
        assert!(s.enabled);
        assert_eq!(s.tt_explain_threshold, Duration::from_millis(500));
        // Time values without a unit are milliseconds.
        assert_eq!(s.daemon.app_connect_timeout, Duration::from_millis(1));
        assert_eq!(s.daemon.dont_launch, DontLaunch::Always, "clamped to 0..3");
        assert_eq!(s.daemon.address, "/tmp/x.sock");
        let mut names: Vec<_> = bad.iter().map(|b| b.name).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "newrelic.enabled",
                "newrelic.transaction_tracer.explain_threshold"
            ]
        );
    }

    #[test]
    fn expensive_node_min_is_a_time_value() {
        let with = |v: &'static str| {
            let raw =
                move |n: &str| (n == "newrelic.special.expensive_node_min").then(|| v.to_owned());
            AgentSettings::resolve(&raw)
        };
        assert_eq!(with("5").0.expensive_node_min, Duration::from_millis(5));
        assert_eq!(
            with("250us").0.expensive_node_min,
            Duration::from_micros(250)
        );
        assert_eq!(with("1s").0.expensive_node_min, Duration::from_secs(1));
        assert_eq!(with("0").0.expensive_node_min, Duration::ZERO);
        let (s, bad) = with("soon");
        assert_eq!(s.expensive_node_min, Duration::from_millis(2));
        assert_eq!(bad[0].name, "newrelic.special.expensive_node_min");
    }

    #[test]
    fn high_security_overrides() {
        let raw = |n: &str| match n {
            "newrelic.high_security" => Some("1".to_owned()),
            "newrelic.transaction_tracer.record_sql" => Some("raw".to_owned()),
            _ => None,
        };
        let (s, _) = AgentSettings::resolve(&raw);
        assert_eq!(s.tt_record_sql, RecordSql::Obfuscated);
        assert!(!s.custom_parameters_enabled && !s.custom_events_enabled);
    }

    #[test]
    fn license_is_redacted() {
        assert_eq!(
            redact_license("0123456789012345678901234567890123456789"),
            "01...89"
        );
        assert_eq!(redact_license(""), "");
        assert_eq!(redact_license("abc"), "...");
    }

    #[test]
    fn settings_json_matches_the_vector_shape() {
        let raw = |n: &str| match n {
            "newrelic.license" => Some("0123456789012345678901234567890123456789".to_owned()),
            "newrelic.appname" => Some("vectors".to_owned()),
            "newrelic.daemon.address" => Some("/tmp/s.sock".to_owned()),
            _ => None,
        };
        let json = settings_json(&raw);
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        let o = v.as_object().unwrap();
        assert_eq!(o.len(), 121);
        assert_eq!(o["newrelic.license"], "01...89");
        assert_eq!(o["newrelic.distributed_tracing_enabled"], true);
        assert_eq!(o["newrelic.browser_monitoring.debug"], false);
        assert_eq!(o["newrelic.labels"], "no value");
        assert_eq!(o["newrelic.transaction_tracer.threshold"], "apdex_f");
        assert!(json.contains(r#""newrelic.daemon.address":"\/tmp\/s.sock""#));
        assert!(!o.contains_key("newrelic.daemon.pidfile"));
    }
}
