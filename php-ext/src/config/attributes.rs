//! The attribute rules from the `newrelic.*attributes*` settings, as New
//! Relic's agent builds them:
//!
//! * a destination is off when its `*.attributes.enabled` setting is off;
//!   a setting the user did not give falls back to the legacy
//!   `*.capture_attributes` switch it replaced (both share the default);
//!   `newrelic.attributes.enabled = 0` turns every destination off;
//! * each `*.attributes.include` / `exclude` list adds rules for its
//!   destination, `newrelic.attributes.include` / `exclude` for all;
//! * `newrelic.ignored_params` excludes `request.parameters.<name>`
//!   everywhere.

use super::{parse_bool, RawIni};
use seraph_txn::{dest, AttributeFilter};

/// Per destination: the `*.attributes` prefix, the legacy switch and the
/// destination bit.
const DESTINATIONS: [(&str, Option<&str>, u8); 5] = [
    (
        "newrelic.transaction_tracer.attributes",
        Some("newrelic.transaction_tracer.capture_attributes"),
        dest::TXN_TRACE,
    ),
    (
        "newrelic.error_collector.attributes",
        Some("newrelic.error_collector.capture_attributes"),
        dest::ERROR,
    ),
    (
        "newrelic.transaction_events.attributes",
        Some("newrelic.analytics_events.capture_attributes"),
        dest::TXN_EVENT,
    ),
    ("newrelic.span_events.attributes", None, dest::SPAN),
    (
        "newrelic.browser_monitoring.attributes",
        Some("newrelic.browser_monitoring.capture_attributes"),
        dest::BROWSER,
    ),
];

fn value(raw: &dyn RawIni, name: &str) -> String {
    raw.get(name)
        .unwrap_or_else(|| super::default_of(name).to_owned())
        .trim()
        .to_owned()
}

fn flag(raw: &dyn RawIni, name: &str) -> bool {
    parse_bool(&value(raw, name))
        .or_else(|| parse_bool(super::default_of(name)))
        .unwrap_or(false)
}

/// Builds the rules from the raw settings.
pub fn attribute_filter(raw: &dyn RawIni) -> AttributeFilter {
    let mut f = AttributeFilter::new();
    for (prefix, legacy, d) in DESTINATIONS {
        let enabled = format!("{prefix}.enabled");
        let on = match legacy {
            Some(old) if !raw.is_set(&enabled) => flag(raw, old),
            _ => flag(raw, &enabled),
        };
        if !on {
            f.disable(d);
        }
    }
    if !flag(raw, "newrelic.attributes.enabled") {
        f.disable(dest::ALL);
    }
    for (prefix, _, d) in DESTINATIONS {
        f.add_rules(&value(raw, &format!("{prefix}.include")), d, 0);
        f.add_rules(&value(raw, &format!("{prefix}.exclude")), 0, d);
    }
    f.add_rules(&value(raw, "newrelic.attributes.include"), dest::ALL, 0);
    f.add_rules(&value(raw, "newrelic.attributes.exclude"), 0, dest::ALL);
    for p in value(raw, "newrelic.ignored_params")
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        f.add_rule(&format!("request.parameters.{p}"), 0, dest::ALL);
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &'static [(&'static str, &'static str)]) -> AttributeFilter {
        let raw = move |n: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| (*v).to_owned())
        };
        attribute_filter(&raw)
    }

    #[test]
    fn defaults_leave_browser_off_only() {
        let f = with(&[]);
        assert_eq!(f.disabled(), dest::BROWSER);
        assert_eq!(f.apply("k", dest::ALL), dest::ALL & !dest::BROWSER);
    }

    #[test]
    fn new_settings_win_over_legacy_ones_only_when_given() {
        let f = with(&[("newrelic.transaction_tracer.capture_attributes", "0")]);
        assert_eq!(f.disabled(), dest::BROWSER | dest::TXN_TRACE);
        let f = with(&[
            ("newrelic.transaction_tracer.capture_attributes", "0"),
            ("newrelic.transaction_tracer.attributes.enabled", "1"),
        ]);
        assert_eq!(f.disabled(), dest::BROWSER);
        let f = with(&[("newrelic.browser_monitoring.capture_attributes", "1")]);
        assert_eq!(f.disabled(), 0);
        let f = with(&[("newrelic.attributes.enabled", "off")]);
        assert_eq!(f.disabled(), dest::ALL);
    }

    #[test]
    fn include_exclude_and_ignored_params() {
        let f = with(&[
            ("newrelic.attributes.exclude", "secret*"),
            (
                "newrelic.transaction_events.attributes.include",
                "secret.ok",
            ),
            ("newrelic.ignored_params", "password, token"),
            ("newrelic.error_collector.attributes.exclude", "request.uri"),
        ]);
        let all = dest::ALL & !dest::BROWSER;
        assert_eq!(f.apply("secret.key", all), 0);
        assert_eq!(f.apply("secret.ok", all), dest::TXN_EVENT);
        assert_eq!(f.apply("request.parameters.password", all), 0);
        assert_eq!(
            f.apply("request.parameters.q", dest::TXN_TRACE),
            dest::TXN_TRACE
        );
        assert_eq!(f.apply("request.uri", all), all & !dest::ERROR);
    }
}
