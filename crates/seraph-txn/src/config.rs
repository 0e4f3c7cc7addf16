//! Typed agent configuration, as read from the `newrelic.*` INI settings.
//! [`TxnConfig::default`] holds New Relic's own defaults (the values the
//! captured `App` frame's `settings` show for an untouched php.ini).
//!
//! Parsing INI strings is the extension's job; this crate only consumes the
//! typed values.

use crate::attr_filter::AttributeFilter;

/// `newrelic.transaction_tracer.threshold`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Threshold {
    /// `apdex_f`: four times the application's apdex_t.
    ApdexF,
    /// A fixed duration, in nanoseconds.
    Duration(u64),
}

/// `newrelic.transaction_tracer.record_sql`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordSql {
    /// Record no SQL text.
    Off,
    /// Record queries as they were sent (high security downgrades this).
    Raw,
    /// Record queries with literals replaced by `?`.
    Obfuscated,
}

/// `newrelic.transaction_tracer.*`.
#[derive(Clone, Debug, PartialEq)]
pub struct TransactionTracerConfig {
    /// `enabled`.
    pub enabled: bool,
    /// `threshold`.
    pub threshold: Threshold,
    /// `detail`: 1 records every user function, 0 only instrumented ones.
    /// The extension decides what to `enter`; this value is informational.
    pub detail: u8,
    /// `max_segments_cli` (0 = unlimited).
    pub max_segments_cli: usize,
    /// `max_segments_web` (0 = unlimited).
    pub max_segments_web: usize,
    /// `record_sql`.
    pub record_sql: RecordSql,
    /// `slow_sql`.
    pub slow_sql: bool,
    /// `explain_threshold` in nanoseconds: slow-SQL candidates.
    pub explain_threshold_ns: u64,
    /// `explain_enabled`: slow MySQL queries get an explain plan.
    pub explain_enabled: bool,
    /// `stack_trace_threshold` in nanoseconds: datastore calls slower than
    /// this carry a backtrace.
    pub stack_trace_threshold_ns: u64,
}

impl Default for TransactionTracerConfig {
    fn default() -> Self {
        TransactionTracerConfig {
            enabled: true,
            threshold: Threshold::ApdexF,
            detail: 1,
            max_segments_cli: 100_000,
            max_segments_web: 0,
            record_sql: RecordSql::Obfuscated,
            slow_sql: true,
            explain_threshold_ns: 500_000_000,
            explain_enabled: true,
            stack_trace_threshold_ns: 500_000_000,
        }
    }
}

/// `newrelic.error_collector.*` (and `newrelic.allow_raw_exception_messages`).
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorCollectorConfig {
    /// `enabled`.
    pub enabled: bool,
    /// `record_database_errors` (applied by the extension's datastore hooks).
    pub record_database_errors: bool,
    /// `ignore_errors`: a PHP `E_*` bit mask; see
    /// [`crate::Transaction::ignores_php_error`].
    pub ignore_errors: i64,
    /// `ignore_exceptions`: exception class names never recorded.
    pub ignore_exceptions: Vec<String>,
    /// `capture_events`: TransactionError events.
    pub capture_events: bool,
    /// `newrelic.allow_raw_exception_messages`.
    pub allow_raw_exception_messages: bool,
}

impl Default for ErrorCollectorConfig {
    fn default() -> Self {
        ErrorCollectorConfig {
            enabled: true,
            record_database_errors: true,
            ignore_errors: 0,
            ignore_exceptions: Vec::new(),
            capture_events: true,
            allow_raw_exception_messages: true,
        }
    }
}

/// `newrelic.application_logging.*`: the four `Supportability/Logging/*`
/// metrics every transaction carries, and the rules for log records
/// (`logs.rs`).
#[derive(Clone, Debug, PartialEq)]
pub struct ApplicationLoggingConfig {
    /// `enabled`.
    pub enabled: bool,
    /// `forwarding.enabled`.
    pub forwarding_enabled: bool,
    /// `forwarding.labels.enabled`.
    pub labels_enabled: bool,
    /// `metrics.enabled`.
    pub metrics_enabled: bool,
    /// `local_decorating.enabled`.
    pub local_decorating_enabled: bool,
    /// `forwarding.max_samples_stored`.
    pub forwarding_max_samples_stored: u32,
    /// `forwarding.log_level` as a severity rank (`EMERGENCY` 0 …
    /// `DEBUG` 7): records less severe are not forwarded.
    pub forwarding_log_level: u8,
    /// `forwarding.context_data.enabled`.
    pub context_data_enabled: bool,
    /// `forwarding.context_data.include` patterns.
    pub context_data_include: Vec<String>,
    /// `forwarding.context_data.exclude` patterns.
    pub context_data_exclude: Vec<String>,
    /// `newrelic.labels` less `forwarding.labels.exclude`, sent with log
    /// events when `labels_enabled` (see `logs::forwarding_labels`).
    pub forwarding_labels: Vec<(String, String)>,
}

impl Default for ApplicationLoggingConfig {
    fn default() -> Self {
        ApplicationLoggingConfig {
            enabled: true,
            forwarding_enabled: true,
            labels_enabled: false,
            metrics_enabled: true,
            local_decorating_enabled: false,
            forwarding_max_samples_stored: 10_000,
            forwarding_log_level: 4,
            context_data_enabled: false,
            context_data_include: Vec::new(),
            context_data_exclude: Vec::new(),
            forwarding_labels: Vec::new(),
        }
    }
}

/// Everything the transaction model needs from `newrelic.*` INI settings.
#[derive(Clone, Debug, PartialEq)]
pub struct TxnConfig {
    /// `newrelic.appname` (first name when several are given).
    pub appname: String,
    /// `newrelic.analytics_events.enabled` / `transaction_events.enabled`.
    pub analytics_events_enabled: bool,
    /// `newrelic.custom_insights_events.enabled`.
    pub custom_events_enabled: bool,
    /// `newrelic.span_events_enabled`.
    pub span_events_enabled: bool,
    /// `newrelic.span_events.max_samples_stored`: span events kept per
    /// transaction (1..=10000, anything else means the default 2000).
    pub span_events_max_samples_stored: usize,
    /// `newrelic.distributed_tracing_enabled`.
    pub distributed_tracing_enabled: bool,
    /// `newrelic.distributed_tracing_exclude_newrelic_header`.
    pub dt_exclude_newrelic_header: bool,
    /// `newrelic.transaction_tracer.*`.
    pub transaction_tracer: TransactionTracerConfig,
    /// `newrelic.error_collector.*`.
    pub error_collector: ErrorCollectorConfig,
    /// `newrelic.custom_parameters_enabled`.
    pub custom_parameters_enabled: bool,
    /// `newrelic.high_security`.
    pub high_security: bool,
    /// `newrelic.security_policies_token` is set (LASP): request
    /// parameters are never captured.
    pub lasp: bool,
    /// `newrelic.capture_params`: request parameters go to traces and
    /// errors by default (attribute rules can still move them).
    pub capture_params: bool,
    /// `newrelic.browser_monitoring.auto_instrument`.
    pub autorum_enabled: bool,
    /// `newrelic.synthetics.enabled`.
    pub synthetics_enabled: bool,
    /// `newrelic.code_level_metrics.enabled`: `code.*` attributes on
    /// spans.
    pub code_level_metrics_enabled: bool,
    /// `newrelic.application_logging.*`.
    pub application_logging: ApplicationLoggingConfig,
    /// `newrelic.datastore_tracer.instance_reporting.enabled`.
    pub instance_reporting_enabled: bool,
    /// `newrelic.datastore_tracer.database_name_reporting.enabled`.
    pub database_name_reporting_enabled: bool,
    /// `newrelic.message_tracer.segment_parameters.enabled`: message spans
    /// carry their destination, system and server.
    pub message_segment_parameters_enabled: bool,
    /// Attribute destination rules (by default everything but browser
    /// monitoring, whose attributes New Relic leaves off by default).
    pub attributes: AttributeFilter,
    /// `newrelic.special.expensive_node_min` in nanoseconds: user function
    /// segments faster than this are not kept (default 2 ms).
    pub expensive_node_min_ns: u64,
    /// How deep the segment stack may grow before calls are only counted.
    pub max_stack_depth: usize,
    /// The PHP version, for `Supportability/PHP/Version/<v>`.
    pub php_version: String,
    /// The agent version, for `Supportability/PHP/AgentVersion/<v>`.
    pub agent_version: String,
    /// The PHP agent's own end-of-transaction metrics: process CPU and
    /// memory, executed call counts, `Supportability/PHP/*` and the
    /// logging settings. Off for the C SDK library, whose transactions
    /// report none of them.
    pub runtime_metrics: bool,
}

impl Default for TxnConfig {
    fn default() -> Self {
        TxnConfig {
            appname: "PHP Application".into(),
            analytics_events_enabled: true,
            custom_events_enabled: true,
            span_events_enabled: true,
            span_events_max_samples_stored: DEFAULT_SPAN_EVENTS_PER_TXN,
            distributed_tracing_enabled: true,
            dt_exclude_newrelic_header: false,
            transaction_tracer: TransactionTracerConfig::default(),
            error_collector: ErrorCollectorConfig::default(),
            custom_parameters_enabled: true,
            high_security: false,
            lasp: false,
            capture_params: false,
            autorum_enabled: true,
            synthetics_enabled: true,
            code_level_metrics_enabled: false,
            application_logging: ApplicationLoggingConfig::default(),
            instance_reporting_enabled: true,
            database_name_reporting_enabled: true,
            message_segment_parameters_enabled: true,
            attributes: {
                // browser_monitoring.attributes.enabled is off by default.
                let mut f = AttributeFilter::new();
                f.disable(crate::attr_filter::dest::BROWSER);
                f
            },
            expensive_node_min_ns: 2_000_000,
            max_stack_depth: 4096,
            php_version: "unknown".into(),
            agent_version: env!("CARGO_PKG_VERSION").into(),
            runtime_metrics: true,
        }
    }
}

/// Span events kept per transaction unless configured otherwise.
pub const DEFAULT_SPAN_EVENTS_PER_TXN: usize = 2000;
/// The agent's upper bound for `span_events.max_samples_stored`.
pub const MAX_SPAN_EVENTS_PER_TXN: usize = 10_000;
/// Segments a transaction trace holds at most (the slowest ones).
pub const TRACE_SEGMENT_LIMIT: usize = 2000;

impl TxnConfig {
    /// The effective span event limit per transaction.
    pub fn span_limit(&self) -> usize {
        match self.span_events_max_samples_stored {
            n @ 1..=MAX_SPAN_EVENTS_PER_TXN => n,
            _ => DEFAULT_SPAN_EVENTS_PER_TXN,
        }
    }

    /// The SQL recording level after high security is applied.
    pub fn sql_recording(&self) -> RecordSql {
        match self.transaction_tracer.record_sql {
            RecordSql::Raw if self.high_security => RecordSql::Obfuscated,
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_new_relic() {
        let c = TxnConfig::default();
        assert_eq!(c.transaction_tracer.threshold, Threshold::ApdexF);
        assert_eq!(c.transaction_tracer.record_sql, RecordSql::Obfuscated);
        assert_eq!(c.transaction_tracer.explain_threshold_ns, 500_000_000);
        assert_eq!(c.expensive_node_min_ns, 2_000_000);
        assert!(c.distributed_tracing_enabled && c.span_events_enabled);
        assert_eq!(c.span_limit(), 2000);
    }

    #[test]
    fn span_limit_and_sql_level_are_clamped() {
        let mut c = TxnConfig {
            span_events_max_samples_stored: 50_000,
            ..TxnConfig::default()
        };
        assert_eq!(c.span_limit(), 2000);
        c.span_events_max_samples_stored = 10;
        assert_eq!(c.span_limit(), 10);
        c.transaction_tracer.record_sql = RecordSql::Raw;
        c.high_security = true;
        assert_eq!(c.sql_recording(), RecordSql::Obfuscated);
    }
}
