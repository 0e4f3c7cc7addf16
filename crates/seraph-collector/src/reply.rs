//! Preconnect and connect replies (§3.2, §3.4): the fields the daemon acts
//! on, with New Relic's defaults and limits applied, plus the connect reply
//! kept verbatim for agents.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value};

/// Daemon-side maxima for each event type (§4.2).
pub mod limits {
    /// Transaction events.
    pub const ANALYTIC: usize = 10_000;
    /// Custom events.
    pub const CUSTOM: usize = 100_000;
    /// Error events.
    pub const ERROR: usize = 100;
    /// Span events.
    pub const SPAN: usize = 10_000;
    /// Log events.
    pub const LOG: usize = 20_000;
}

/// Period used when the collector names none (or 0).
pub const DEFAULT_REPORT_PERIOD: Duration = Duration::from_secs(60);

/// Why a reply could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    /// Not JSON.
    #[error("reply is not JSON: {0}")]
    Json(String),
    /// JSON, but not an object.
    #[error("reply is not a JSON object")]
    NotObject,
    /// The connect reply has no `agent_run_id` string.
    #[error("missing agent run id")]
    MissingRunId,
    /// A field has the wrong type or an impossible value.
    #[error("field {field}: {reason}")]
    Field {
        /// Dotted field path.
        field: String,
        /// What is wrong.
        reason: String,
    },
}

fn field_err(field: &str, reason: impl Into<String>) -> ReplyError {
    ReplyError::Field {
        field: field.to_owned(),
        reason: reason.into(),
    }
}

fn parse_object(raw: &str) -> Result<Map<String, Value>, ReplyError> {
    match serde_json::from_str::<Value>(raw) {
        Ok(Value::Object(m)) => Ok(m),
        // `null` unmarshals to an empty struct in Go.
        Ok(Value::Null) => Ok(Map::new()),
        Ok(_) => Err(ReplyError::NotObject),
        Err(e) => Err(ReplyError::Json(e.to_string())),
    }
}

/// A field that can be absent, `null`, or an integer. Go distinguishes
/// absent from `null` in a few places, so we do too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IntField {
    Absent,
    Null,
    Value(i64),
}

fn int_field(obj: &Map<String, Value>, key: &str, path: &str) -> Result<IntField, ReplyError> {
    match obj.get(key) {
        None => Ok(IntField::Absent),
        Some(Value::Null) => Ok(IntField::Null),
        Some(Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                Ok(IntField::Value(i))
            } else if n.as_u64().is_some() {
                Ok(IntField::Value(i64::MAX))
            } else {
                Err(field_err(path, format!("{n} is not an integer")))
            }
        }
        Some(other) => Err(field_err(path, format!("{other} is not an integer"))),
    }
}

fn opt_int(obj: &Map<String, Value>, key: &str) -> Result<Option<i64>, ReplyError> {
    Ok(match int_field(obj, key, key)? {
        IntField::Value(v) => Some(v),
        IntField::Absent | IntField::Null => None,
    })
}

/// A security policy as preconnect reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
pub struct SecurityPolicy {
    /// Whether the account enables the feature.
    #[serde(default)]
    pub enabled: bool,
    /// Whether the agent must support the policy to connect.
    #[serde(default)]
    pub required: bool,
}

/// What preconnect answers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PreconnectReply {
    /// The collector host for every later call of this run.
    pub redirect_host: String,
    /// The account's security policies (sorted by name).
    pub security_policies: BTreeMap<String, SecurityPolicy>,
}

impl PreconnectReply {
    /// Parses preconnect's `return_value`.
    pub fn parse(raw: &str) -> Result<Self, ReplyError> {
        let obj = parse_object(raw)?;
        let redirect_host = match obj.get("redirect_host") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                return Err(field_err(
                    "redirect_host",
                    format!("{other} is not a string"),
                ))
            }
        };
        let security_policies = match obj.get("security_policies") {
            None | Some(Value::Null) => BTreeMap::new(),
            Some(v) => serde_json::from_value(v.clone())
                .map_err(|e| field_err("security_policies", e.to_string()))?,
        };
        Ok(PreconnectReply {
            redirect_host,
            security_policies,
        })
    }

    /// `{name: enabled}` for the AppReply's `security_policies` (`{}` when
    /// there are none), keys sorted as Go's map encoding sorts them.
    pub fn enabled_policies_json(&self) -> String {
        let m: BTreeMap<&str, bool> = self
            .security_policies
            .iter()
            .map(|(k, v)| (k.as_str(), v.enabled))
            .collect();
        serde_json::to_string(&m).unwrap_or_else(|_| "{}".to_owned())
    }
}

/// One event type's limit and harvest period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventLimit {
    /// Reservoir size; 0 disables the type.
    pub limit: usize,
    /// How often the type is harvested (never zero).
    pub report_period: Duration,
}

/// Event limits and periods from `event_harvest_config` and
/// `span_event_harvest_config`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventHarvestConfig {
    /// `report_period_ms` (never zero; 60 s when not given).
    pub report_period: Duration,
    /// New Relic's "harvest-all" mode (§4.1): every event type's period
    /// equals the report period, and that is 60 s. One 60 s ticker then
    /// sends everything.
    pub harvest_all: bool,
    /// `analytic_event_data`.
    pub analytic: EventLimit,
    /// `custom_event_data`.
    pub custom: EventLimit,
    /// `error_event_data`.
    pub error: EventLimit,
    /// `span_event_data`.
    pub span: EventLimit,
    /// `log_event_data` (after [`ConnectReply::apply_agent_log_limit`]).
    pub log: EventLimit,
}

/// Unresolved (Go-shaped) limit: a zero period means "not given".
#[derive(Clone, Copy)]
struct RawLimit {
    limit: usize,
    period: Duration,
}

fn event_limit(
    obj: &Map<String, Value>,
    key: &str,
    path: &str,
    collector_period: Duration,
    max: usize,
) -> Result<RawLimit, ReplyError> {
    match int_field(obj, key, path)? {
        IntField::Absent | IntField::Null => Ok(RawLimit {
            limit: max,
            period: DEFAULT_REPORT_PERIOD,
        }),
        IntField::Value(v) if v < 0 => Err(field_err(path, format!("negative limit {v}"))),
        IntField::Value(v) => Ok(RawLimit {
            limit: usize::try_from(v).unwrap_or(usize::MAX).min(max),
            period: collector_period,
        }),
    }
}

fn report_period(obj: &Map<String, Value>, path: &str) -> Result<Duration, ReplyError> {
    match int_field(obj, "report_period_ms", path)? {
        IntField::Absent | IntField::Null => Ok(DEFAULT_REPORT_PERIOD),
        IntField::Value(v) if v < 0 => Err(field_err(path, format!("negative period {v}"))),
        IntField::Value(0) => {
            tracing::warn!("collector sent a report period of 0 ms; using 60 s");
            Ok(DEFAULT_REPORT_PERIOD)
        }
        IntField::Value(v) => Ok(Duration::from_millis(v as u64)),
    }
}

fn sub_object<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<Option<&'a Map<String, Value>>>, ReplyError> {
    // None: absent. Some(None): null. Some(Some(map)): an object.
    match obj.get(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::Object(m)) => Ok(Some(Some(m))),
        Some(other) => Err(field_err(key, format!("{other} is not an object"))),
    }
}

impl EventHarvestConfig {
    fn parse(reply: &Map<String, Value>) -> Result<Self, ReplyError> {
        let empty = Map::new();
        let zero = RawLimit {
            limit: 0,
            period: Duration::ZERO,
        };
        // The whole object absent: every event type off (New Relic's daemon
        // leaves its Go zero value). `null` behaves like `{}`.
        // harvest_limits.span_event_data is not read: spans come only from
        // span_event_harvest_config, and New Relic's daemon overwrites the
        // span entry even when that object is absent (leaving 0, spans off).
        let (period, analytic, custom, error, log) =
            match sub_object(reply, "event_harvest_config")? {
                None => (Duration::ZERO, zero, zero, zero, zero),
                Some(ehc) => {
                    let ehc = ehc.unwrap_or(&empty);
                    let p = "event_harvest_config.report_period_ms";
                    let period = report_period(ehc, p)?;
                    let hl = match sub_object(ehc, "harvest_limits")? {
                        Some(Some(m)) => m,
                        _ => &empty,
                    };
                    let lim = |key: &str, max| {
                        event_limit(
                            hl,
                            key,
                            &format!("event_harvest_config.harvest_limits.{key}"),
                            period,
                            max,
                        )
                    };
                    (
                        period,
                        lim("analytic_event_data", limits::ANALYTIC)?,
                        lim("custom_event_data", limits::CUSTOM)?,
                        lim("error_event_data", limits::ERROR)?,
                        lim("log_event_data", limits::LOG)?,
                    )
                }
            };
        let span = match sub_object(reply, "span_event_harvest_config")? {
            None => zero,
            Some(sehc) => {
                let sehc = sehc.unwrap_or(&empty);
                let period = report_period(sehc, "span_event_harvest_config.report_period_ms")?;
                match int_field(
                    sehc,
                    "harvest_limit",
                    "span_event_harvest_config.harvest_limit",
                )? {
                    // Absent: Go's default pointer (the maximum) at the given period.
                    IntField::Absent => RawLimit {
                        limit: limits::SPAN,
                        period,
                    },
                    _ => event_limit(
                        sehc,
                        "harvest_limit",
                        "span_event_harvest_config.harvest_limit",
                        period,
                        limits::SPAN,
                    )?,
                }
            }
        };
        let all = [analytic, custom, error, span, log];
        let harvest_all = period == DEFAULT_REPORT_PERIOD && all.iter().all(|l| l.period == period);
        let resolve = |l: RawLimit| EventLimit {
            limit: l.limit,
            report_period: if l.period.is_zero() {
                DEFAULT_REPORT_PERIOD
            } else {
                l.period
            },
        };
        Ok(EventHarvestConfig {
            report_period: if period.is_zero() {
                DEFAULT_REPORT_PERIOD
            } else {
                period
            },
            harvest_all,
            analytic: resolve(analytic),
            custom: resolve(custom),
            error: resolve(error),
            span: resolve(span),
            log: resolve(log),
        })
    }
}

/// A `messages` entry of the connect reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectorMessage {
    /// `error`, `warn`, `info`, `debug`/`verbose`.
    pub level: String,
    /// The text.
    pub message: String,
}

/// The connect reply, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectReply {
    /// The `return_value` object exactly as received: agents get it byte
    /// for byte in the AppReply.
    pub raw: String,
    /// The run id.
    pub agent_run_id: String,
    /// `metric_name_rules`, unparsed (`Null` when absent); the harvest
    /// applies them.
    pub metric_name_rules: Value,
    /// `sampling_target` (0 or absent → 10).
    pub sampling_target: u16,
    /// `sampling_target_period_in_seconds` (0 or absent → 60 s); the
    /// AppReply's `harvest_frequency`.
    pub sampling_target_period: Duration,
    /// `data_report_period` (0 or absent → 60 s). New Relic's daemon ignores
    /// it and harvests default data every 60 s; we honour it.
    pub data_report_period: Duration,
    /// Event limits and periods.
    pub event_harvest: EventHarvestConfig,
    /// `request_headers_map`, sorted by name.
    pub request_headers_map: Vec<(String, String)>,
    /// `max_payload_size_in_bytes` (absent or ≤ 0 → 1 000 000).
    pub max_payload_size_in_bytes: usize,
    /// `messages`, to be logged.
    pub messages: Vec<CollectorMessage>,
}

impl ConnectReply {
    /// Parses connect's `return_value` (§3.4).
    pub fn parse(raw: &str) -> Result<Self, ReplyError> {
        let obj = parse_object(raw)?;
        let agent_run_id = match obj.get("agent_run_id") {
            Some(Value::String(s)) => s.clone(),
            None | Some(Value::Null) => return Err(ReplyError::MissingRunId),
            Some(other) => {
                return Err(field_err(
                    "agent_run_id",
                    format!("{other} is not a string"),
                ))
            }
        };
        let secs_or_default = |key: &str, default: u64| -> Result<Duration, ReplyError> {
            Ok(match opt_int(&obj, key)? {
                Some(v) if v > 0 => Duration::from_secs(v.min(i64::from(u32::MAX)) as u64),
                _ => Duration::from_secs(default),
            })
        };
        let sampling_target = match opt_int(&obj, "sampling_target")? {
            Some(v) if v > 0 => u16::try_from(v).unwrap_or(u16::MAX),
            _ => 10,
        };
        let sampling_target_period = secs_or_default("sampling_target_period_in_seconds", 60)?;
        let data_report_period = secs_or_default("data_report_period", 60)?;
        let request_headers_map = match obj.get("request_headers_map") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Object(m)) => {
                let mut headers = Vec::with_capacity(m.len());
                for (k, v) in m {
                    let Some(v) = v.as_str() else {
                        return Err(field_err(
                            "request_headers_map",
                            format!("value of {k} is not a string"),
                        ));
                    };
                    headers.push((k.clone(), v.to_owned()));
                }
                headers.sort();
                headers
            }
            Some(other) => {
                return Err(field_err(
                    "request_headers_map",
                    format!("{other} is not an object"),
                ))
            }
        };
        let max_payload_size_in_bytes = match opt_int(&obj, "max_payload_size_in_bytes")? {
            Some(v) if v > 0 => usize::try_from(v).unwrap_or(usize::MAX),
            _ => crate::endpoint::DEFAULT_MAX_PAYLOAD_SIZE,
        };
        let messages = obj
            .get("messages")
            .and_then(Value::as_array)
            .map(|msgs| {
                msgs.iter()
                    .filter_map(|m| {
                        Some(CollectorMessage {
                            level: m.get("level")?.as_str().unwrap_or_default().to_owned(),
                            message: m.get("message")?.as_str()?.to_owned(),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(ConnectReply {
            raw: raw.to_owned(),
            agent_run_id,
            metric_name_rules: obj.get("metric_name_rules").cloned().unwrap_or(Value::Null),
            sampling_target,
            sampling_target_period,
            data_report_period,
            event_harvest: EventHarvestConfig::parse(&obj)?,
            request_headers_map,
            max_payload_size_in_bytes,
            messages,
        })
    }

    /// The AppReply's `harvest_frequency` (seconds, saturating).
    pub fn harvest_frequency(&self) -> u16 {
        u16::try_from(self.sampling_target_period.as_secs()).unwrap_or(u16::MAX)
    }

    /// New Relic's extra log-limit rule: the agent's
    /// `log_events_max_samples_stored` is per minute, so it is scaled to the
    /// collector's log period, and the smaller limit wins.
    pub fn apply_agent_log_limit(&mut self, agent_log_limit: u64) {
        let log = &mut self.event_harvest.log;
        let scaled = (agent_log_limit as f64 * log.report_period.as_secs_f64()
            / DEFAULT_REPORT_PERIOD.as_secs_f64()) as usize;
        log.limit = log.limit.min(scaled);
    }

    /// Logs the collector's `messages` at their levels.
    pub fn log_messages(&self) {
        for m in &self.messages {
            match m.level.to_ascii_lowercase().as_str() {
                "error" => tracing::error!("{}", m.message),
                "warn" => tracing::warn!("{}", m.message),
                "info" => tracing::info!("{}", m.message),
                "debug" | "verbose" => tracing::debug!("{}", m.message),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<ConnectReply, ReplyError> {
        ConnectReply::parse(&v.to_string())
    }

    #[test]
    fn minimal_reply_defaults() {
        let r = ConnectReply::parse(r#"{"agent_run_id":"RUN-1"}"#).unwrap();
        assert_eq!(r.raw, r#"{"agent_run_id":"RUN-1"}"#);
        assert_eq!(r.agent_run_id, "RUN-1");
        assert_eq!(r.sampling_target, 10);
        assert_eq!(r.harvest_frequency(), 60);
        assert_eq!(r.data_report_period, Duration::from_secs(60));
        assert_eq!(r.max_payload_size_in_bytes, 1_000_000);
        assert_eq!(r.metric_name_rules, Value::Null);
        // No event_harvest_config at all: every event type off.
        let e = r.event_harvest;
        for l in [e.analytic, e.custom, e.error, e.span, e.log] {
            assert_eq!(l.limit, 0);
            assert_eq!(l.report_period, DEFAULT_REPORT_PERIOD);
        }
        assert!(!e.harvest_all);
    }

    #[test]
    fn raw_is_kept_verbatim() {
        let raw = "{ \"agent_run_id\" : \"x\",\n \"apdex_t\": 0.50 }";
        assert_eq!(ConnectReply::parse(raw).unwrap().raw, raw);
    }

    #[test]
    fn run_id_is_required_and_a_string() {
        assert_eq!(parse(json!({})), Err(ReplyError::MissingRunId));
        assert_eq!(
            parse(json!({"agent_run_id": null})),
            Err(ReplyError::MissingRunId)
        );
        assert!(matches!(
            parse(json!({"agent_run_id": 5})),
            Err(ReplyError::Field { .. })
        ));
        assert_eq!(ConnectReply::parse("[1]"), Err(ReplyError::NotObject));
        assert!(matches!(ConnectReply::parse("{"), Err(ReplyError::Json(_))));
    }

    #[test]
    fn event_harvest_limits_and_periods() {
        let r = parse(json!({
            "agent_run_id": "1",
            "sampling_target": 20, "sampling_target_period_in_seconds": 30,
            "data_report_period": 5,
            "event_harvest_config": {"report_period_ms": 5000, "harvest_limits": {
                "analytic_event_data": 833, "custom_event_data": 500000,
                "error_event_data": 8, "log_event_data": 833}},
            "span_event_harvest_config": {"report_period_ms": 60000, "harvest_limit": 20000},
            "max_payload_size_in_bytes": 5000,
            "request_headers_map": {"X-NR-Run-Token": "tok", "A": "b"},
            "metric_name_rules": [{"match_expression": "x"}],
            "messages": [{"message": "hello", "level": "INFO"}, {"nope": 1}]
        }))
        .unwrap();
        assert_eq!(r.sampling_target, 20);
        assert_eq!(r.harvest_frequency(), 30);
        assert_eq!(r.data_report_period, Duration::from_secs(5));
        let e = r.event_harvest;
        let five = Duration::from_secs(5);
        assert_eq!(e.report_period, five);
        assert_eq!(
            e.analytic,
            EventLimit {
                limit: 833,
                report_period: five
            }
        );
        assert_eq!(
            e.custom,
            EventLimit {
                limit: 100_000,
                report_period: five
            }
        );
        assert_eq!(
            e.error,
            EventLimit {
                limit: 8,
                report_period: five
            }
        );
        // Absent from harvest_limits: daemon maximum at 60 s... but spans
        // come from span_event_harvest_config, capped at 10 000.
        assert_eq!(
            e.span,
            EventLimit {
                limit: 10_000,
                report_period: DEFAULT_REPORT_PERIOD
            }
        );
        assert_eq!(e.log.limit, 833);
        assert!(!e.harvest_all);
        assert_eq!(r.max_payload_size_in_bytes, 5000);
        assert_eq!(
            r.request_headers_map,
            vec![
                ("A".into(), "b".into()),
                ("X-NR-Run-Token".into(), "tok".into())
            ]
        );
        assert_eq!(r.metric_name_rules, json!([{"match_expression": "x"}]));
        assert_eq!(
            r.messages,
            vec![CollectorMessage {
                level: "INFO".into(),
                message: "hello".into()
            }]
        );
    }

    #[test]
    fn absent_types_get_maximum_at_default_period() {
        let r = parse(json!({"agent_run_id": "1",
            "event_harvest_config": {"report_period_ms": 60000, "harvest_limits": {"error_event_data": 50}},
            "span_event_harvest_config": {"report_period_ms": 60000, "harvest_limit": 2000}}))
        .unwrap();
        let e = r.event_harvest;
        assert_eq!(e.analytic.limit, limits::ANALYTIC);
        assert_eq!(e.custom.limit, limits::CUSTOM);
        assert_eq!(e.log.limit, limits::LOG);
        assert_eq!(e.error.limit, 50);
        assert_eq!(e.span.limit, 2000);
        assert!(e.harvest_all);

        // No span config: spans off, and no harvest-all.
        let r = parse(json!({"agent_run_id": "1", "event_harvest_config": {}})).unwrap();
        assert_eq!(r.event_harvest.span.limit, 0);
        assert_eq!(r.event_harvest.analytic.limit, limits::ANALYTIC);
        assert!(!r.event_harvest.harvest_all);

        // `null` objects act like `{}`; a span config without a limit gets the maximum.
        let r = parse(json!({"agent_run_id": "1", "event_harvest_config": null,
            "span_event_harvest_config": {"report_period_ms": 0}}))
        .unwrap();
        assert_eq!(r.event_harvest.error.limit, limits::ERROR);
        assert_eq!(r.event_harvest.span.limit, limits::SPAN);
        assert!(r.event_harvest.harvest_all);
    }

    #[test]
    fn negative_and_mistyped_values_are_errors() {
        for bad in [
            json!({"agent_run_id": "1", "event_harvest_config": {"harvest_limits": {"custom_event_data": -1}}}),
            json!({"agent_run_id": "1", "span_event_harvest_config": {"harvest_limit": -5}}),
            json!({"agent_run_id": "1", "event_harvest_config": {"report_period_ms": -1}}),
            json!({"agent_run_id": "1", "event_harvest_config": {"report_period_ms": "5"}}),
            json!({"agent_run_id": "1", "event_harvest_config": 7}),
            json!({"agent_run_id": "1", "sampling_target": 1.5}),
            json!({"agent_run_id": "1", "request_headers_map": {"a": 1}}),
        ] {
            assert!(
                matches!(parse(bad.clone()), Err(ReplyError::Field { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn log_limit_extra_rule() {
        let mut r = parse(json!({"agent_run_id": "1",
            "event_harvest_config": {"report_period_ms": 5000, "harvest_limits": {"log_event_data": 833}}}))
        .unwrap();
        // Agent 10 000/min over a 5 s period → 833; collector 833 → 833.
        r.apply_agent_log_limit(10_000);
        assert_eq!(r.event_harvest.log.limit, 833);
        r.apply_agent_log_limit(1200);
        assert_eq!(r.event_harvest.log.limit, 100);
        r.apply_agent_log_limit(0);
        assert_eq!(r.event_harvest.log.limit, 0);
    }

    #[test]
    fn preconnect_reply() {
        let p = PreconnectReply::parse(
            r#"{"redirect_host":"collector-001.newrelic.com","security_policies":{
                "record_sql":{"enabled":false,"required":true},
                "custom_events":{"enabled":true,"required":false}}}"#,
        )
        .unwrap();
        assert_eq!(p.redirect_host, "collector-001.newrelic.com");
        assert_eq!(
            p.security_policies["record_sql"],
            SecurityPolicy {
                enabled: false,
                required: true
            }
        );
        assert_eq!(
            p.enabled_policies_json(),
            r#"{"custom_events":true,"record_sql":false}"#
        );
        let empty = PreconnectReply::parse("null").unwrap();
        assert_eq!(empty.enabled_policies_json(), "{}");
        assert!(PreconnectReply::parse(r#"{"redirect_host":1}"#).is_err());
    }
}
