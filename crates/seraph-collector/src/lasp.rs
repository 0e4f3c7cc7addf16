//! Language-agent security policies (§3.5), as pure functions: checked only
//! when the App carries a `security_policies_token`.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::reply::SecurityPolicy;

/// A policy as the agent reports it in `supported_security_policies`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
pub struct AgentPolicy {
    /// The agent's local setting.
    #[serde(default)]
    pub enabled: bool,
    /// Whether the agent implements the policy.
    #[serde(default)]
    pub supported: bool,
}

/// Parses the App's `supported_security_policies` JSON; anything unusable
/// yields an empty map (which LASP then refuses).
pub fn parse_agent_policies(json: &str) -> BTreeMap<String, AgentPolicy> {
    serde_json::from_str(json).unwrap_or_default()
}

/// Why the policies do not agree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LaspError {
    /// One side sent no policies at all.
    #[error("empty policy map from the {0}")]
    Empty(&'static str),
    /// The account requires a policy the agent does not support.
    #[error("the account requires security policy {0:?}, which the agent does not support")]
    RequiredNotSupported(String),
    /// The agent knows a policy preconnect did not mention.
    #[error("preconnect did not send security policy {0:?}, which the agent expects")]
    MissingFromPreconnect(String),
}

/// Checks the agent's policies against preconnect's and returns the
/// connect payload's `security_policies`: for every policy the agent
/// supports, `{"enabled": agent && account}` (the stricter setting wins).
pub fn check(
    agent: &BTreeMap<String, AgentPolicy>,
    preconnect: &BTreeMap<String, SecurityPolicy>,
) -> Result<Map<String, Value>, LaspError> {
    if agent.is_empty() {
        return Err(LaspError::Empty("agent"));
    }
    if preconnect.is_empty() {
        return Err(LaspError::Empty("preconnect reply"));
    }
    for (name, policy) in preconnect {
        if policy.required && !agent.get(name).is_some_and(|a| a.supported) {
            return Err(LaspError::RequiredNotSupported(name.clone()));
        }
    }
    if let Some(name) = agent.keys().find(|k| !preconnect.contains_key(*k)) {
        return Err(LaspError::MissingFromPreconnect(name.clone()));
    }
    Ok(agent
        .iter()
        .filter(|(_, a)| a.supported)
        .map(|(name, a)| {
            let enabled = a.enabled && preconnect.get(name).is_some_and(|p| p.enabled);
            (name.clone(), json!({ "enabled": enabled }))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent() -> BTreeMap<String, AgentPolicy> {
        parse_agent_policies(
            r#"{"record_sql":{"enabled":true,"supported":true},
                "allow_raw_exception_messages":{"enabled":true,"supported":true},
                "custom_events":{"enabled":false,"supported":true},
                "custom_parameters":{"enabled":true,"supported":false}}"#,
        )
    }

    fn server(required: &[&str]) -> BTreeMap<String, SecurityPolicy> {
        [
            "record_sql",
            "allow_raw_exception_messages",
            "custom_events",
            "custom_parameters",
        ]
        .into_iter()
        .map(|n| {
            (
                n.to_owned(),
                SecurityPolicy {
                    enabled: n != "record_sql",
                    required: required.contains(&n),
                },
            )
        })
        .collect()
    }

    #[test]
    fn stricter_setting_wins() {
        let out = check(&agent(), &server(&["record_sql"])).unwrap();
        assert_eq!(
            Value::Object(out),
            json!({
                "allow_raw_exception_messages": {"enabled": true},
                "custom_events": {"enabled": false},
                "record_sql": {"enabled": false},
            })
        );
    }

    #[test]
    fn refusals() {
        assert_eq!(
            check(&BTreeMap::new(), &server(&[])),
            Err(LaspError::Empty("agent"))
        );
        assert_eq!(
            check(&agent(), &BTreeMap::new()),
            Err(LaspError::Empty("preconnect reply"))
        );
        assert_eq!(
            check(&agent(), &server(&["custom_parameters"])),
            Err(LaspError::RequiredNotSupported("custom_parameters".into()))
        );
        let mut s = server(&[]);
        s.insert(
            "job_arguments".into(),
            SecurityPolicy {
                enabled: true,
                required: true,
            },
        );
        assert_eq!(
            check(&agent(), &s),
            Err(LaspError::RequiredNotSupported("job_arguments".into()))
        );
        let mut s = server(&[]);
        s.remove("custom_events");
        assert_eq!(
            check(&agent(), &s),
            Err(LaspError::MissingFromPreconnect("custom_events".into()))
        );
        assert!(parse_agent_policies("not json").is_empty());
    }
}
