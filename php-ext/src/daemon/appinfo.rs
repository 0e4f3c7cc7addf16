//! The App query's fields, built from the INI settings as New Relic's
//! agent builds them (`vectors/00-app/App.json`). The host facts come
//! from `seraph-agent-client`.

use crate::config::{AgentSettings, RecordSql};
use seraph_wire::AppInfo;
use serde_json::{json, Value};

pub use seraph_agent_client::host::{docker_id_from, hostname, labels_json, HostFacts};

/// The supported security policies and whether local settings enable them.
pub fn security_policies_json(s: &AgentSettings) -> String {
    let p = |enabled: bool| json!({"enabled": enabled, "supported": true});
    let mut map = serde_json::Map::new();
    map.insert("record_sql".into(), p(s.tt_record_sql != RecordSql::Off));
    map.insert(
        "allow_raw_exception_messages".into(),
        p(s.allow_raw_exception_messages),
    );
    map.insert("custom_events".into(), p(s.custom_events_enabled));
    map.insert("custom_parameters".into(), p(s.custom_parameters_enabled));
    Value::Object(map).to_string()
}

/// Builds the App query.
pub fn build(s: &AgentSettings, settings_json: String, facts: &HostFacts) -> AppInfo {
    AppInfo {
        license: s.license.clone(),
        app_name: s.appname.clone(),
        agent_language: "php".to_owned(),
        agent_version: crate::AGENT_VERSION.to_owned(),
        high_security: s.high_security,
        redirect_collector: s.daemon.collector_host.clone(),
        environment: facts.environment_json(),
        settings: settings_json,
        labels: labels_json(&s.labels),
        display_host: s.display_host.clone(),
        security_policy_token: s.security_policies_token.clone(),
        supported_security_policies: security_policies_json(s),
        host: facts.hostname.clone(),
        trace_observer_host: s.trace_observer_host.clone(),
        trace_observer_port: s.trace_observer_port,
        span_queue_size: s.span_queue_size,
        span_events_max_samples_stored: s.span_events_max,
        metadata: facts.metadata.clone(),
        log_events_max_samples_stored: s.log_events_max,
        custom_events_max_samples_stored: s.custom_events_max,
        docker_id: facts.docker_id.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_match_the_vector() {
        let (s, _) = AgentSettings::resolve(&|_: &str| None);
        assert_eq!(
            security_policies_json(&s),
            r#"{"record_sql":{"enabled":true,"supported":true},"allow_raw_exception_messages":{"enabled":true,"supported":true},"custom_events":{"enabled":true,"supported":true},"custom_parameters":{"enabled":true,"supported":true}}"#
        );
    }
}
