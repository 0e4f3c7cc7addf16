//! Capacity of every store in a harvest (protocol.md §4.2).

/// Consecutive failed `metric_data` posts a metric table survives; it is
/// discarded on the next failure (§4.6).
pub const FAILED_METRIC_ATTEMPTS_LIMIT: u32 = 5;

/// Consecutive failed posts an event reservoir survives; it is discarded on
/// the next failure (§4.6).
pub const FAILED_EVENT_ATTEMPTS_LIMIT: u32 = 10;

/// With distributed tracing on, a transaction-event reservoir holding at
/// least this many events is posted as two halves (§4.1).
pub const TXN_EVENT_SPLIT_THRESHOLD: usize = 10_000 / 2;

/// How many items each part of a harvest may hold.
///
/// `Default` gives the daemon maxima; the daemon lowers the five event
/// limits to what the connect reply grants (`min(collector, max)`), and the
/// integration runner uses 50 for transaction and custom events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HarvestLimits {
    /// Transaction (analytic) events; 0 disables them.
    pub analytic_events: usize,
    /// Custom events.
    pub custom_events: usize,
    /// TransactionError events.
    pub error_events: usize,
    /// Span events.
    pub span_events: usize,
    /// Log events.
    pub log_events: usize,
    /// Unique (name, scope) metrics; forced metrics may exceed it.
    pub metrics: usize,
    /// Error traces.
    pub error_traces: usize,
    /// Slow SQL entries.
    pub slow_sqls: usize,
    /// Regular transaction traces (the slowest are kept).
    pub regular_traces: usize,
    /// Traces the agent flagged force-persist.
    pub force_persist_traces: usize,
    /// Traces of synthetics transactions.
    pub synthetics_traces: usize,
}

impl HarvestLimits {
    /// Maximum analytic events.
    pub const MAX_ANALYTIC_EVENTS: usize = 10_000;
    /// Maximum custom events.
    pub const MAX_CUSTOM_EVENTS: usize = 100_000;
    /// Maximum error events.
    pub const MAX_ERROR_EVENTS: usize = 100;
    /// Maximum span events.
    pub const MAX_SPAN_EVENTS: usize = 10_000;
    /// Maximum log events.
    pub const MAX_LOG_EVENTS: usize = 20_000;
}

impl Default for HarvestLimits {
    fn default() -> Self {
        HarvestLimits {
            analytic_events: Self::MAX_ANALYTIC_EVENTS,
            custom_events: Self::MAX_CUSTOM_EVENTS,
            error_events: Self::MAX_ERROR_EVENTS,
            span_events: Self::MAX_SPAN_EVENTS,
            log_events: Self::MAX_LOG_EVENTS,
            metrics: 2000,
            error_traces: 20,
            slow_sqls: 10,
            regular_traces: 1,
            force_persist_traces: 10,
            synthetics_traces: 20,
        }
    }
}
