//! Which App queries belong to the same application.

use seraph_wire::AppInfo;
use sha2::{Digest, Sha256};

/// Identity of an application (protocol.md §1.7): two queries
/// with equal keys share one application, its connect and its harvest.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AppKey {
    license: String,
    app_name: String,
    redirect_collector: String,
    high_security: bool,
    agent_language: String,
    policies_hash: String,
    host: String,
    trace_observer_host: String,
    trace_observer_port: u16,
}

impl AppKey {
    /// The key of an App query.
    pub fn of(info: &AppInfo) -> AppKey {
        AppKey {
            license: info.license.clone(),
            app_name: info.app_name.clone(),
            redirect_collector: info.redirect_collector.clone(),
            high_security: info.high_security,
            agent_language: info.agent_language.clone(),
            policies_hash: supported_policies_hash(&info.supported_security_policies),
            host: info.host.clone(),
            trace_observer_host: info.trace_observer_host.clone(),
            trace_observer_port: info.trace_observer_port,
        }
    }

    /// The application name, for logs.
    pub fn app_name(&self) -> &str {
        &self.app_name
    }

    /// A stable opaque id of this application for the disk spool: SHA-256
    /// over every key field, so the license key never reaches the disk.
    pub fn spool_id(&self) -> String {
        let mut h = Sha256::new();
        for field in [
            self.license.as_str(),
            &self.app_name,
            &self.redirect_collector,
            if self.high_security { "1" } else { "0" },
            &self.agent_language,
            &self.policies_hash,
            &self.host,
            &self.trace_observer_host,
            &self.trace_observer_port.to_string(),
        ] {
            h.update(field.as_bytes());
            h.update([0]);
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// SHA-256 (hex) of the sorted names of the policies the agent supports.
fn supported_policies_hash(json: &str) -> String {
    let mut names: Vec<String> = serde_json::from_str::<serde_json::Value>(json)
        .ok()
        .and_then(|v| v.as_object().cloned())
        .map(|obj| {
            obj.into_iter()
                .filter(|(_, p)| {
                    p.get("supported").and_then(serde_json::Value::as_bool) == Some(true)
                })
                .map(|(name, _)| name)
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let digest = Sha256::digest(names.concat().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(name: &str) -> AppInfo {
        AppInfo {
            license: "0123456789012345678901234567890123456789".into(),
            app_name: name.into(),
            agent_language: "php".into(),
            supported_security_policies:
                r#"{"record_sql":{"enabled":true,"supported":true},"custom_events":{"enabled":true,"supported":false}}"#
                    .into(),
            ..Default::default()
        }
    }

    #[test]
    fn app_key_hashes_only_supported_policies_in_sorted_order() {
        let a = app("x");
        let mut b = app("x");
        b.supported_security_policies =
            r#"{"custom_events":{"enabled":false,"supported":false},"record_sql":{"enabled":false,"supported":true}}"#
                .into();
        assert_eq!(AppKey::of(&a), AppKey::of(&b));
        b.supported_security_policies = "{}".into();
        assert_ne!(AppKey::of(&a), AppKey::of(&b));
        let mut c = app("x");
        c.settings = "{\"other\":1}".into();
        assert_eq!(
            AppKey::of(&a),
            AppKey::of(&c),
            "settings are not part of the key"
        );
    }
}
