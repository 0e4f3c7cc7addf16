//! What the collector told the daemon at connect, as the agent uses it:
//! run id, apdex, the `collect_*` switches, DT account ids, sampling target,
//! naming rules and event limits.

use crate::rules::{Rules, SegmentTerms};
use serde_json::Value;
use std::collections::HashMap;

/// Why a connect reply could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConnectInfoError {
    /// The text is not JSON.
    #[error("connect reply is not JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The JSON is not an object.
    #[error("connect reply is not a JSON object")]
    NotAnObject,
    /// There is no usable `agent_run_id`.
    #[error("connect reply has no agent_run_id")]
    MissingRunId,
}

/// Per-harvest event limits from `event_harvest_config.harvest_limits`. A
/// limit of 0 switches the event type off for the transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventLimits {
    /// `analytic_event_data`.
    pub analytic_events: u64,
    /// `custom_event_data`.
    pub custom_events: u64,
    /// `error_event_data`.
    pub error_events: u64,
    /// `span_event_data`.
    pub span_events: u64,
    /// `log_event_data`.
    pub log_events: u64,
}

impl Default for EventLimits {
    fn default() -> Self {
        EventLimits {
            analytic_events: 10_000,
            custom_events: 30_000,
            error_events: 100,
            span_events: 2000,
            log_events: 10_000,
        }
    }
}

/// The parts of the connect reply a transaction needs.
#[derive(Clone, Debug)]
pub struct ConnectInfo {
    /// `agent_run_id`.
    pub agent_run_id: String,
    /// `apdex_t`, seconds.
    pub apdex_t: f64,
    /// `collect_traces` (default false, like the agent).
    pub collect_traces: bool,
    /// `collect_errors` (default false).
    pub collect_errors: bool,
    /// `collect_analytics_events` (default true).
    pub collect_analytics_events: bool,
    /// `collect_custom_events` (default true).
    pub collect_custom_events: bool,
    /// `collect_error_events` (default true).
    pub collect_error_events: bool,
    /// `collect_span_events` (default true).
    pub collect_span_events: bool,
    /// `account_id`.
    pub account_id: Option<String>,
    /// `primary_application_id`.
    pub primary_application_id: Option<String>,
    /// `trusted_account_key`.
    pub trusted_account_key: Option<String>,
    /// `entity_guid`.
    pub entity_guid: Option<String>,
    /// `sampling_target` (transactions sampled per period).
    pub sampling_target: u64,
    /// `sampling_target_period_in_seconds`.
    pub sampling_target_period: u64,
    /// `url_rules`.
    pub url_rules: Rules,
    /// `transaction_name_rules`.
    pub transaction_name_rules: Rules,
    /// `transaction_segment_terms`.
    pub transaction_segment_terms: SegmentTerms,
    /// `web_transactions_apdex`: key transactions with their own apdex_t.
    pub key_transactions: HashMap<String, f64>,
    /// Event limits.
    pub event_limits: EventLimits,
    /// Browser monitoring fields (`js_agent_loader`, `browser_key`, …).
    pub browser: BrowserConfig,
    /// `encoding_key`: the key of obfuscated headers (synthetics).
    pub encoding_key: Option<String>,
    /// `trusted_account_ids`: accounts whose synthetics headers are
    /// honoured.
    pub trusted_account_ids: Vec<i64>,
}

/// What the connect reply says about browser monitoring (RUM).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BrowserConfig {
    /// `js_agent_loader`: the header script; empty means no RUM.
    pub js_agent_loader: String,
    /// `browser_key`: the footer's `licenseKey`.
    pub browser_key: Option<String>,
    /// `application_id`: the footer's `applicationID`.
    pub application_id: Option<String>,
    /// `beacon`: the footer's `beacon`.
    pub beacon: Option<String>,
    /// `error_beacon`: the footer's `errorBeacon`.
    pub error_beacon: Option<String>,
    /// `js_agent_file`: the footer's `agent`.
    pub js_agent_file: Option<String>,
}

impl Default for ConnectInfo {
    fn default() -> Self {
        ConnectInfo {
            agent_run_id: String::new(),
            apdex_t: 0.5,
            collect_traces: false,
            collect_errors: false,
            collect_analytics_events: true,
            collect_custom_events: true,
            collect_error_events: true,
            collect_span_events: true,
            account_id: None,
            primary_application_id: None,
            trusted_account_key: None,
            entity_guid: None,
            sampling_target: 10,
            sampling_target_period: 60,
            url_rules: Rules::default(),
            transaction_name_rules: Rules::default(),
            transaction_segment_terms: SegmentTerms::default(),
            key_transactions: HashMap::new(),
            event_limits: EventLimits::default(),
            browser: BrowserConfig::default(),
            encoding_key: None,
            trusted_account_ids: Vec::new(),
        }
    }
}

/// A string or number field as a string (ids arrive both ways).
fn id_field(v: &Value, k: &str) -> Option<String> {
    match v.get(k)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The agent's lenient boolean reading: true/false, numbers, and the usual
/// strings.
fn bool_field(v: &Value, k: &str, default: bool) -> bool {
    opt_bool_field(v, k).unwrap_or(default)
}

/// [`bool_field`] without a default: `None` when the key is absent or
/// its value is not a boolean in any of the accepted spellings.
pub(crate) fn opt_bool_field(v: &Value, k: &str) -> Option<bool> {
    match v.get(k)? {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => Some(n.as_f64().is_some_and(|n| n != 0.0)),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "1" | "on" | "yes" => Some(true),
            "false" | "0" | "off" | "no" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn u64_field(v: &Value, k: &str) -> Option<u64> {
    match v.get(k)? {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

impl ConnectInfo {
    /// Parses the connect reply JSON the daemon hands over in `AppReply`.
    /// A `{"return_value": {...}}` wrapper, as the collector sends it, is
    /// accepted too.
    pub fn from_connect_reply(raw_json: &str) -> Result<Self, ConnectInfoError> {
        let mut v: Value = serde_json::from_str(raw_json)?;
        if let Some(inner) = v.get_mut("return_value") {
            v = inner.take();
        }
        if !v.is_object() {
            return Err(ConnectInfoError::NotAnObject);
        }
        let agent_run_id = id_field(&v, "agent_run_id").ok_or(ConnectInfoError::MissingRunId)?;
        let d = ConnectInfo::default();
        let apdex_t = v
            .get("apdex_t")
            .and_then(Value::as_f64)
            .filter(|a| a.is_finite() && *a >= 0.0)
            .unwrap_or(d.apdex_t);
        let key_transactions = match v.get("web_transactions_apdex") {
            Some(Value::Object(m)) => m
                .iter()
                .filter_map(|(k, a)| a.as_f64().filter(|a| *a >= 0.0).map(|a| (k.clone(), a)))
                .collect(),
            _ => HashMap::new(),
        };
        let limits = v
            .get("event_harvest_config")
            .and_then(|c| c.get("harvest_limits"));
        let limit = |k: &str, dflt: u64| limits.and_then(|l| u64_field(l, k)).unwrap_or(dflt);
        let event_limits = EventLimits {
            analytic_events: limit("analytic_event_data", d.event_limits.analytic_events),
            custom_events: limit("custom_event_data", d.event_limits.custom_events),
            error_events: limit("error_event_data", d.event_limits.error_events),
            span_events: limit("span_event_data", d.event_limits.span_events),
            log_events: limit("log_event_data", d.event_limits.log_events),
        };
        Ok(ConnectInfo {
            agent_run_id,
            apdex_t,
            collect_traces: bool_field(&v, "collect_traces", false),
            collect_errors: bool_field(&v, "collect_errors", false),
            collect_analytics_events: bool_field(&v, "collect_analytics_events", true),
            collect_custom_events: bool_field(&v, "collect_custom_events", true),
            collect_error_events: bool_field(&v, "collect_error_events", true),
            collect_span_events: bool_field(&v, "collect_span_events", true),
            account_id: id_field(&v, "account_id"),
            primary_application_id: id_field(&v, "primary_application_id"),
            trusted_account_key: id_field(&v, "trusted_account_key"),
            entity_guid: id_field(&v, "entity_guid"),
            sampling_target: u64_field(&v, "sampling_target").unwrap_or(d.sampling_target),
            sampling_target_period: u64_field(&v, "sampling_target_period_in_seconds")
                .filter(|p| *p > 0)
                .unwrap_or(d.sampling_target_period),
            url_rules: Rules::from_json(v.get("url_rules")),
            transaction_name_rules: Rules::from_json(v.get("transaction_name_rules")),
            transaction_segment_terms: SegmentTerms::from_json(v.get("transaction_segment_terms")),
            key_transactions,
            event_limits,
            browser: BrowserConfig {
                js_agent_loader: id_field(&v, "js_agent_loader").unwrap_or_default(),
                browser_key: id_field(&v, "browser_key"),
                application_id: id_field(&v, "application_id"),
                beacon: id_field(&v, "beacon"),
                error_beacon: id_field(&v, "error_beacon"),
                js_agent_file: id_field(&v, "js_agent_file"),
            },
            encoding_key: id_field(&v, "encoding_key"),
            trusted_account_ids: match v.get("trusted_account_ids") {
                Some(Value::Array(a)) => a.iter().filter_map(Value::as_i64).collect(),
                _ => Vec::new(),
            },
        })
    }

    /// apdex_t in microseconds.
    pub(crate) fn apdex_us(&self) -> u64 {
        (self.apdex_t * 1_000_000.0) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VECTOR_REPLY: &str = r#"{"agent_run_id":"RUN-1","entity_guid":"GUID-1","account_id":"1","primary_application_id":"2","trusted_account_key":"1","collect_traces":true,"collect_errors":true,"collect_analytics_events":true,"collect_custom_events":true,"collect_error_events":true,"collect_span_events":true,"apdex_t":0.5,"sampling_target":10,"event_harvest_config":{"report_period_ms":60000,"harvest_limits":{"analytic_event_data":10000,"custom_event_data":30000,"error_event_data":100,"span_event_data":2000,"log_event_data":10000}}}"#;

    #[test]
    fn parses_the_reply_the_vectors_used() {
        let c = ConnectInfo::from_connect_reply(VECTOR_REPLY).unwrap();
        assert_eq!(c.agent_run_id, "RUN-1");
        assert_eq!(c.account_id.as_deref(), Some("1"));
        assert_eq!(c.primary_application_id.as_deref(), Some("2"));
        assert_eq!(c.trusted_account_key.as_deref(), Some("1"));
        assert_eq!(c.entity_guid.as_deref(), Some("GUID-1"));
        assert!(c.collect_traces && c.collect_errors && c.collect_span_events);
        assert_eq!(c.apdex_us(), 500_000);
        assert_eq!(c.sampling_target, 10);
        assert_eq!(c.sampling_target_period, 60);
        assert_eq!(c.event_limits.error_events, 100);
    }

    #[test]
    fn defaults_wrappers_numbers_and_errors() {
        let c = ConnectInfo::from_connect_reply(
            r#"{"return_value":{"agent_run_id":1234,"account_id":77,"collect_span_events":"false","web_transactions_apdex":{"WebTransaction/Uri/a":0.1},"event_harvest_config":{"harvest_limits":{"span_event_data":0}}}}"#,
        )
        .unwrap();
        assert_eq!(c.agent_run_id, "1234");
        assert_eq!(c.account_id.as_deref(), Some("77"));
        assert!(!c.collect_span_events && !c.collect_traces && c.collect_analytics_events);
        assert_eq!(c.key_transactions.get("WebTransaction/Uri/a"), Some(&0.1));
        assert_eq!(c.event_limits.span_events, 0);
        assert!(matches!(
            ConnectInfo::from_connect_reply("nope"),
            Err(ConnectInfoError::Json(_))
        ));
        assert!(matches!(
            ConnectInfo::from_connect_reply("[1]"),
            Err(ConnectInfoError::NotAnObject)
        ));
        assert!(matches!(
            ConnectInfo::from_connect_reply("{}"),
            Err(ConnectInfoError::MissingRunId)
        ));
    }
}
