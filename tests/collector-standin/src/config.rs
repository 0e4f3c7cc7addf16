//! Stand-in settings: where to listen, TLS, and everything the connect
//! reply says.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde_json::{json, Map, Value};

/// How the stand-in speaks.
#[derive(Debug, Clone)]
pub enum TlsMode {
    /// HTTPS with a CA and certificate (for `127.0.0.1`, `localhost`, `::1`)
    /// generated at start.
    Generate,
    /// HTTPS with given PEMs.
    Pem {
        /// Server certificate chain.
        cert_pem: String,
        /// Server private key.
        key_pem: String,
        /// The CA to hand out through [`crate::Standin::ca_pem`], if known.
        ca_pem: Option<String>,
    },
    /// Plain HTTP (for tools and demos that cannot do TLS).
    Plain,
}

/// Everything configurable about the stand-in. `Default` behaves like a
/// production collector with 60 s harvests; [`StandinConfig::fast`] makes
/// harvests come every second.
#[derive(Debug, Clone)]
pub struct StandinConfig {
    /// Listen address (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// TLS or not.
    pub tls: TlsMode,
    /// `redirect_host` in the preconnect reply; default: our own
    /// `127.0.0.1:<port>`.
    pub redirect_host: Option<String>,
    /// Preconnect's `security_policies` (default `{}`).
    pub security_policies: Value,
    /// Connect reply `data_report_period`, seconds.
    pub data_report_period: u64,
    /// Connect reply `event_harvest_config.report_period_ms`.
    pub report_period_ms: u64,
    /// Connect reply `event_harvest_config.harvest_limits`.
    pub harvest_limits: Map<String, Value>,
    /// Connect reply `span_event_harvest_config` (`None` leaves it out).
    pub span_event_harvest_config: Option<Value>,
    /// Connect reply `request_headers_map`.
    pub request_headers_map: Map<String, Value>,
    /// Connect reply `sampling_target`.
    pub sampling_target: u64,
    /// Connect reply `sampling_target_period_in_seconds`.
    pub sampling_target_period_in_seconds: u64,
    /// Connect reply `apdex_t`.
    pub apdex_t: f64,
    /// Merged over the generated connect reply last: a key replaces the
    /// generated one, a `null` value removes it.
    pub connect_overrides: Map<String, Value>,
    /// Licenses answered 401 on every call.
    pub licenses_401: Vec<String>,
    /// Licenses answered 410 on every call.
    pub licenses_410: Vec<String>,
    /// A JSON file rewritten with every recorded call after each call.
    pub state_file: Option<PathBuf>,
}

impl Default for StandinConfig {
    fn default() -> Self {
        let harvest_limits = json!({
            "analytic_event_data": 10000,
            "custom_event_data": 30000,
            "error_event_data": 100,
            "log_event_data": 10000
        });
        StandinConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls: TlsMode::Generate,
            redirect_host: None,
            security_policies: json!({}),
            data_report_period: 60,
            report_period_ms: 60_000,
            harvest_limits: harvest_limits.as_object().cloned().unwrap_or_default(),
            span_event_harvest_config: Some(
                json!({"report_period_ms": 60000, "harvest_limit": 2000}),
            ),
            request_headers_map: json!({"X-NR-Run-Token": "standin-run-token"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            sampling_target: 10,
            sampling_target_period_in_seconds: 60,
            apdex_t: 0.5,
            connect_overrides: Map::new(),
            licenses_401: Vec::new(),
            licenses_410: Vec::new(),
            state_file: None,
        }
    }
}

impl StandinConfig {
    /// Harvests every second: `data_report_period` 1 and every event
    /// period (spans included) 1000 ms.
    pub fn fast() -> Self {
        StandinConfig {
            data_report_period: 1,
            report_period_ms: 1000,
            span_event_harvest_config: Some(
                json!({"report_period_ms": 1000, "harvest_limit": 2000}),
            ),
            ..Default::default()
        }
    }

    /// The connect reply for run `run` (its `agent_run_id` is `run_id`).
    pub(crate) fn connect_reply(&self, run: u64, run_id: &str) -> Value {
        let mut r = Map::new();
        let mut put = |k: &str, v: Value| {
            r.insert(k.to_owned(), v);
        };
        put("agent_run_id", json!(run_id));
        put("account_id", json!("1"));
        put("trusted_account_key", json!("1"));
        put("trusted_account_ids", json!([1]));
        put("primary_application_id", json!(run.to_string()));
        put("application_id", json!(run.to_string()));
        put(
            "entity_guid",
            json!(format!("MXxBUE18QVBQTElDQVRJT058{run}")),
        );
        put("cross_process_id", json!(format!("1#{run}")));
        put(
            "encoding_key",
            json!("d67afc830dab717fd163bfcb0b8b88423e9a1a3b"),
        );
        put("apdex_t", json!(self.apdex_t));
        put("collect_traces", json!(true));
        put("collect_errors", json!(true));
        put("collect_analytics_events", json!(true));
        put("collect_custom_events", json!(true));
        put("collect_error_events", json!(true));
        put("collect_span_events", json!(true));
        put("data_report_period", json!(self.data_report_period));
        put("sampling_target", json!(self.sampling_target));
        put(
            "sampling_target_period_in_seconds",
            json!(self.sampling_target_period_in_seconds),
        );
        put("max_payload_size_in_bytes", json!(1_000_000));
        put(
            "event_harvest_config",
            json!({"report_period_ms": self.report_period_ms, "harvest_limits": self.harvest_limits}),
        );
        if let Some(s) = &self.span_event_harvest_config {
            put("span_event_harvest_config", s.clone());
        }
        put(
            "request_headers_map",
            Value::Object(self.request_headers_map.clone()),
        );
        put("url_rules", json!([]));
        put("metric_name_rules", json!([]));
        put("transaction_name_rules", json!([]));
        put("transaction_segment_terms", json!([]));
        put("browser_key", json!("standin"));
        put("beacon", json!("bam.nr-data.net"));
        put("error_beacon", json!("bam.nr-data.net"));
        put("js_agent_loader", json!(""));
        put("product_level", json!(40));
        put(
            "messages",
            json!([{"message": format!("Reporting to the collector stand-in as application {run}"), "level": "INFO"}]),
        );
        for (k, v) in &self.connect_overrides {
            if v.is_null() {
                r.remove(k);
            } else {
                r.insert(k.clone(), v.clone());
            }
        }
        Value::Object(r)
    }
}
