//! Language agent security policies (LASP): what an account's policies,
//! as the daemon hands them over in the App reply (`{"record_sql": false,
//! …}`), change in a transaction's configuration.
//!
//! Only the four policies New Relic's PHP agent declares support for are
//! read; a policy that is absent (or not a boolean) changes nothing, as in
//! New Relic's agent. A policy can only make the configuration more
//! restrictive, never less: `record_sql: true` keeps `off` off and turns
//! `raw` into `obfuscated`.

use crate::config::{RecordSql, TxnConfig};
use crate::connect::opt_bool_field;
use serde_json::Value;

/// The policies the PHP agent supports, in the order it reports them.
pub const SUPPORTED_POLICIES: [&str; 4] = [
    "record_sql",
    "allow_raw_exception_messages",
    "custom_events",
    "custom_parameters",
];

/// The account's policies, as far as the PHP agent uses them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SecurityPolicies {
    /// `record_sql`: false turns SQL recording off, true caps it at
    /// obfuscated.
    pub record_sql: Option<bool>,
    /// `allow_raw_exception_messages`: false replaces error messages.
    pub allow_raw_exception_messages: Option<bool>,
    /// `custom_events`: false drops `newrelic_record_custom_event`.
    pub custom_events: Option<bool>,
    /// `custom_parameters`: false drops `newrelic_add_custom_parameter`.
    pub custom_parameters: Option<bool>,
}

impl SecurityPolicies {
    /// Reads the App reply's `security_policies` JSON. Anything that is not
    /// a JSON object means no policy (the daemon sends `{}` or nothing
    /// without a token).
    pub fn from_json(json: &str) -> SecurityPolicies {
        let v: Value = match serde_json::from_str(json) {
            Ok(v @ Value::Object(_)) => v,
            _ => return SecurityPolicies::default(),
        };
        SecurityPolicies {
            record_sql: opt_bool_field(&v, "record_sql"),
            allow_raw_exception_messages: opt_bool_field(&v, "allow_raw_exception_messages"),
            custom_events: opt_bool_field(&v, "custom_events"),
            custom_parameters: opt_bool_field(&v, "custom_parameters"),
        }
    }

    /// Whether any policy is present.
    pub fn is_empty(&self) -> bool {
        *self == SecurityPolicies::default()
    }

    /// Applies the policies to a transaction's configuration.
    pub fn apply(&self, cfg: &mut TxnConfig) {
        match self.record_sql {
            Some(false) => cfg.transaction_tracer.record_sql = RecordSql::Off,
            Some(true) if cfg.transaction_tracer.record_sql == RecordSql::Raw => {
                cfg.transaction_tracer.record_sql = RecordSql::Obfuscated;
            }
            _ => {}
        }
        if self.allow_raw_exception_messages == Some(false) {
            cfg.error_collector.allow_raw_exception_messages = false;
        }
        if self.custom_events == Some(false) {
            cfg.custom_events_enabled = false;
        }
        if self.custom_parameters == Some(false) {
            cfg.custom_parameters_enabled = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_or_malformed_policies_change_nothing() {
        for json in ["", "null", "[]", "{}", r#"{"record_sql":"maybe"}"#, "{"] {
            let p = SecurityPolicies::from_json(json);
            assert!(p.is_empty(), "{json}");
            let mut cfg = TxnConfig::default();
            p.apply(&mut cfg);
            assert_eq!(cfg, TxnConfig::default(), "{json}");
        }
    }

    #[test]
    fn each_disabled_policy_switches_its_setting_off() {
        let p = SecurityPolicies::from_json(
            r#"{"record_sql":false,"allow_raw_exception_messages":false,"custom_events":false,"custom_parameters":false,"attributes_include":false}"#,
        );
        let mut cfg = TxnConfig::default();
        p.apply(&mut cfg);
        assert_eq!(cfg.transaction_tracer.record_sql, RecordSql::Off);
        assert!(!cfg.error_collector.allow_raw_exception_messages);
        assert!(!cfg.custom_events_enabled);
        assert!(!cfg.custom_parameters_enabled);
    }

    #[test]
    fn enabled_policies_only_cap_raw_sql() {
        let p = SecurityPolicies::from_json(
            r#"{"record_sql":true,"allow_raw_exception_messages":true,"custom_events":1,"custom_parameters":"true"}"#,
        );
        let mut cfg = TxnConfig::default();
        cfg.transaction_tracer.record_sql = RecordSql::Raw;
        cfg.custom_events_enabled = false;
        p.apply(&mut cfg);
        assert_eq!(cfg.transaction_tracer.record_sql, RecordSql::Obfuscated);
        assert!(!cfg.custom_events_enabled, "a policy never re-enables");
        assert!(cfg.custom_parameters_enabled);
        let mut off = TxnConfig::default();
        off.transaction_tracer.record_sql = RecordSql::Off;
        p.apply(&mut off);
        assert_eq!(off.transaction_tracer.record_sql, RecordSql::Off);
    }
}
