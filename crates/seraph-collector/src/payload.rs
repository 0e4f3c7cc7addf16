//! The preconnect and connect payloads (§3.2, §3.3), in the field order of
//! New Relic's Go structs.

use seraph_wire::AppInfo;
use serde_json::{json, Map, Value};

use crate::reply::limits;
use crate::utilization::Utilization;

/// Longest `display_host`, in bytes.
const HOST_BYTE_LIMIT: usize = 255;

/// `[{"security_policies_token": …, "high_security": …}]`, the token
/// omitted when empty.
pub fn preconnect_payload(security_policies_token: &str, high_security: bool) -> Value {
    let mut m = Map::new();
    if !security_policies_token.is_empty() {
        m.insert(
            "security_policies_token".into(),
            json!(security_policies_token),
        );
    }
    m.insert("high_security".into(), json!(high_security));
    Value::Array(vec![Value::Object(m)])
}

/// The agent's limit if `0 <= v < max`, else `max` (a 0 disables the type).
fn agent_limit(v: u64, max: usize) -> usize {
    usize::try_from(v).ok().filter(|&v| v < max).unwrap_or(max)
}

/// `event_harvest_config` as the daemon proposes it: 60 s, daemon maxima,
/// with the agent's custom/span/log limits.
pub fn proposed_event_harvest_config(app: &AppInfo) -> Value {
    json!({
        "report_period_ms": 60_000,
        "harvest_limits": {
            "error_event_data": limits::ERROR,
            "analytic_event_data": limits::ANALYTIC,
            "custom_event_data": agent_limit(app.custom_events_max_samples_stored, limits::CUSTOM),
            "span_event_data": agent_limit(app.span_events_max_samples_stored, limits::SPAN),
            "log_event_data": agent_limit(app.log_events_max_samples_stored, limits::LOG),
        }
    })
}

/// Parses an App JSON field, or `None` (with a warning) when it is not
/// valid JSON.
fn app_json(field: &str, text: &str) -> Option<Value> {
    match serde_json::from_str(text) {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::warn!(field, error = %e, "invalid JSON from the agent; using a default");
            None
        }
    }
}

/// Sorts object keys at every level, as Go's map encoding does.
fn sorted(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(String, Value)> = m.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// Truncates to at most `limit` bytes on a character boundary.
fn truncate_bytes(s: &str, limit: usize) -> &str {
    if s.len() <= limit {
        return s;
    }
    let mut end = limit;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The connect payload for `app`.
///
/// `daemon_hostname` stands in when the agent sent no host; the
/// utilization's `hostname` is forced to the payload's `host`, and the
/// agent's docker id (if any) replaces the detected one.
/// `security_policies` is LASP's result (only with a token).
pub fn connect_payload(
    app: &AppInfo,
    utilization: Option<&Utilization>,
    daemon_pid: u32,
    daemon_hostname: &str,
    security_policies: Option<&Map<String, Value>>,
) -> Value {
    let host = if app.host.is_empty() {
        daemon_hostname
    } else {
        &app.host
    };
    let mut m = Map::new();
    m.insert("pid".into(), json!(daemon_pid));
    m.insert("language".into(), json!(app.agent_language));
    m.insert("agent_version".into(), json!(app.agent_version));
    m.insert("host".into(), json!(host));
    if !app.display_host.is_empty() {
        m.insert(
            "display_host".into(),
            json!(truncate_bytes(&app.display_host, HOST_BYTE_LIMIT)),
        );
    }
    let settings = app_json("settings", &app.settings)
        .filter(Value::is_object)
        .map(sorted)
        .unwrap_or(Value::Null);
    m.insert("settings".into(), settings);
    m.insert(
        "app_name".into(),
        Value::Array(app.app_name.split(';').map(|s| json!(s)).collect()),
    );
    m.insert("high_security".into(), json!(app.high_security));
    let labels = if app.labels.is_empty() {
        None
    } else {
        app_json("labels", &app.labels)
    };
    m.insert("labels".into(), labels.unwrap_or_else(|| json!([])));
    let environment = if app.environment.is_empty() {
        None
    } else {
        app_json("environment", &app.environment)
    };
    m.insert("environment".into(), environment.unwrap_or(Value::Null));
    let metadata = if app.metadata.is_empty() {
        None
    } else {
        app_json("metadata", &app.metadata)
    };
    m.insert("metadata".into(), metadata.unwrap_or_else(|| json!({})));
    m.insert("identifier".into(), json!(app.app_name));
    if let Some(u) = utilization {
        let mut u = u.clone();
        u.hostname = host.to_owned();
        if !app.docker_id.is_empty() {
            u.set_docker_id(&app.docker_id);
        }
        if let Ok(v) = serde_json::to_value(&u) {
            m.insert("utilization".into(), v);
        }
    }
    if let Some(sp) = security_policies {
        m.insert("security_policies".into(), Value::Object(sp.clone()));
    }
    m.insert(
        "event_harvest_config".into(),
        proposed_event_harvest_config(app),
    );
    Value::Array(vec![Value::Object(m)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::utilization::Utilization;

    fn app() -> AppInfo {
        AppInfo {
            license: "x".repeat(40),
            app_name: "shop;all apps".into(),
            agent_language: "php".into(),
            agent_version: "12.9.0.0".into(),
            settings: r#"{"newrelic.z":"1","newrelic.appname":"shop"}"#.into(),
            environment: r#"[["OS version","Linux"]]"#.into(),
            host: "web1".into(),
            metadata: "{}".into(),
            span_events_max_samples_stored: 2000,
            log_events_max_samples_stored: 10_000,
            custom_events_max_samples_stored: 30_000,
            ..Default::default()
        }
    }

    #[test]
    fn field_order_and_values() {
        let util = Utilization {
            metadata_version: 5,
            logical_processors: Some(2),
            total_ram_mib: Some(100),
            hostname: "daemon-host".into(),
            ..Default::default()
        };
        let p = connect_payload(&app(), Some(&util), 4242, "daemon-host", None);
        let text = serde_json::to_string(&p).unwrap();
        assert_eq!(
            text,
            concat!(
                r#"[{"pid":4242,"language":"php","agent_version":"12.9.0.0","host":"web1","#,
                r#""settings":{"newrelic.appname":"shop","newrelic.z":"1"},"app_name":["shop","all apps"],"#,
                r#""high_security":false,"labels":[],"environment":[["OS version","Linux"]],"metadata":{},"#,
                r#""identifier":"shop;all apps","#,
                r#""utilization":{"metadata_version":5,"logical_processors":2,"total_ram_mib":100,"hostname":"web1"},"#,
                r#""event_harvest_config":{"report_period_ms":60000,"harvest_limits":{"error_event_data":100,"#,
                r#""analytic_event_data":10000,"custom_event_data":30000,"span_event_data":2000,"log_event_data":10000}}}]"#
            )
        );
    }

    #[test]
    fn optional_parts() {
        let mut a = app();
        a.host.clear();
        a.display_host = "é".repeat(200);
        a.labels = r#"[{"label_type":"env","label_value":"prod"}]"#.into();
        a.settings = "not json".into();
        a.environment.clear();
        a.metadata.clear();
        a.docker_id = "d".repeat(64);
        a.custom_events_max_samples_stored = 0;
        a.span_events_max_samples_stored = 10_000;
        a.log_events_max_samples_stored = u64::MAX;
        let mut sp = Map::new();
        sp.insert("record_sql".into(), json!({"enabled": false}));
        let p = connect_payload(
            &a,
            Some(&Utilization::default()),
            1,
            "daemon-host",
            Some(&sp),
        );
        let o = &p[0];
        assert_eq!(o["host"], "daemon-host");
        assert_eq!(o["utilization"]["hostname"], "daemon-host");
        assert_eq!(o["utilization"]["vendors"]["docker"]["id"], "d".repeat(64));
        assert_eq!(o["display_host"].as_str().unwrap().len(), 254);
        assert_eq!(o["labels"][0]["label_value"], "prod");
        assert_eq!(o["settings"], Value::Null);
        assert_eq!(o["environment"], Value::Null);
        assert_eq!(o["metadata"], json!({}));
        assert_eq!(
            o["security_policies"],
            json!({"record_sql": {"enabled": false}})
        );
        let hl = &o["event_harvest_config"]["harvest_limits"];
        assert_eq!(hl["custom_event_data"], 0);
        assert_eq!(hl["span_event_data"], 10_000);
        assert_eq!(hl["log_event_data"], 20_000);

        let without = connect_payload(&a, None, 1, "h", None);
        assert!(without[0].get("utilization").is_none());
        assert!(without[0].get("security_policies").is_none());
    }

    #[test]
    fn preconnect_shapes() {
        assert_eq!(
            preconnect_payload("", false).to_string(),
            r#"[{"high_security":false}]"#
        );
        assert_eq!(
            preconnect_payload("tok", true).to_string(),
            r#"[{"security_policies_token":"tok","high_security":true}]"#
        );
    }
}
