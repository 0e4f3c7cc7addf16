//! The collector methods (the `method=` query parameter) the daemon calls.

use std::fmt;
use std::str::FromStr;

/// A collector method of protocol 17.
///
/// `shutdown`, `get_agent_commands` and `agent_settings` are deliberately
/// absent: New Relic's daemon never sends them (§3.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    /// Finds the collector host for the account and its security policies.
    Preconnect,
    /// Starts a run; the reply carries the run id and settings.
    Connect,
    /// Metric timeslices.
    MetricData,
    /// Transaction events.
    AnalyticEventData,
    /// Custom events.
    CustomEventData,
    /// Error events.
    ErrorEventData,
    /// Span events.
    SpanEventData,
    /// Log events.
    LogEventData,
    /// Error traces.
    ErrorData,
    /// Transaction traces.
    TransactionSampleData,
    /// Slow SQL traces.
    SqlTraceData,
    /// PHP packages.
    UpdateLoadedModules,
}

impl Method {
    /// Every method, in a fixed order.
    pub const ALL: [Method; 12] = [
        Method::Preconnect,
        Method::Connect,
        Method::MetricData,
        Method::AnalyticEventData,
        Method::CustomEventData,
        Method::ErrorEventData,
        Method::SpanEventData,
        Method::LogEventData,
        Method::ErrorData,
        Method::TransactionSampleData,
        Method::SqlTraceData,
        Method::UpdateLoadedModules,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Preconnect => "preconnect",
            Method::Connect => "connect",
            Method::MetricData => "metric_data",
            Method::AnalyticEventData => "analytic_event_data",
            Method::CustomEventData => "custom_event_data",
            Method::ErrorEventData => "error_event_data",
            Method::SpanEventData => "span_event_data",
            Method::LogEventData => "log_event_data",
            Method::ErrorData => "error_data",
            Method::TransactionSampleData => "transaction_sample_data",
            Method::SqlTraceData => "sql_trace_data",
            Method::UpdateLoadedModules => "update_loaded_modules",
        }
    }

    /// Harvest calls carry the run id and the `request_headers_map`
    /// headers; preconnect and connect carry neither.
    pub fn is_harvest(self) -> bool {
        !matches!(self, Method::Preconnect | Method::Connect)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The string named no known method.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown collector method {0:?}")]
pub struct UnknownMethod(pub String);

impl FromStr for Method {
    type Err = UnknownMethod;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Method::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| UnknownMethod(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for m in Method::ALL {
            assert_eq!(m.as_str().parse::<Method>(), Ok(m));
        }
        assert!("shutdown".parse::<Method>().is_err());
        assert!(!Method::Connect.is_harvest());
        assert!(Method::SqlTraceData.is_harvest());
    }
}
