//! What the application adds itself: custom parameters, custom events,
//! custom metrics and API call counts.

use super::Transaction;
use crate::attrs::{dest, AttrList, AttrValue};
use crate::json;
use crate::recorder::flag;

impl Transaction {
    // --- attributes, events, metrics ---------------------------------------

    /// `newrelic_add_custom_parameter()`. Refused under high security or
    /// when custom parameters are disabled, and for invalid keys/values.
    pub fn add_custom_parameter(&mut self, key: &str, value: AttrValue) -> bool {
        if self.cfg.high_security || !self.cfg.custom_parameters_enabled {
            return false;
        }
        if self.should_create_span_events() {
            let cur = self.rec.current();
            let span_dest = self.cfg.attributes.apply(key, dest::SPAN);
            if span_dest != 0 {
                let added =
                    self.rec
                        .extra_mut(cur)
                        .user_attrs
                        .add(key, value.clone(), span_dest, true);
                if added {
                    self.rec.mark(cur, flag::ATTR);
                }
            }
        }
        self.user_attrs.add(
            key,
            value,
            self.cfg.attributes.apply(key, dest::USER_DEFAULT),
            true,
        )
    }

    /// `newrelic_add_custom_span_parameter()`: a user attribute on the
    /// current segment's span only. As in New Relic's agent neither high
    /// security nor `custom_parameters_enabled` applies here; the span
    /// attribute rules do (`span_events.attributes.enabled = 0` refuses
    /// every key). Refused when the transaction makes no span events.
    pub fn add_custom_span_parameter(&mut self, key: &str, value: AttrValue) -> bool {
        if !self.should_create_span_events() {
            return false;
        }
        let dests = self.cfg.attributes.apply(key, dest::SPAN);
        let cur = self.rec.current();
        let added = self
            .rec
            .extra_mut(cur)
            .user_attrs
            .add(key, value, dests, true);
        if added {
            self.rec.mark(cur, flag::ATTR);
        }
        added
    }

    /// `newrelic_set_user_id()`: the `enduser.id` agent attribute, for
    /// transaction events, traces, errors and spans. The caller checks the
    /// value is a non-empty string of at most 255 bytes.
    pub fn set_user_id(&mut self, id: &str) {
        self.agent_attr(
            "enduser.id",
            AttrValue::Str(id.to_owned()),
            dest::TRACE_ERROR_EVENT | dest::SPAN,
        );
    }

    /// A request parameter (`$_REQUEST[key]`, already turned into text):
    /// the `request.parameters.<key>` agent attribute. With
    /// `newrelic.capture_params` (or `newrelic_capture_params()`,
    /// `legacy_enable`) it goes to traces and errors by default; otherwise
    /// only where an attribute `include` rule sends it. Never under high
    /// security or with a security policies token.
    pub fn add_request_parameter(&mut self, key: &str, value: &str, legacy_enable: bool) {
        if key.is_empty() || self.cfg.high_security || self.cfg.lasp {
            return;
        }
        let defaults = if legacy_enable {
            dest::TXN_TRACE | dest::ERROR
        } else {
            0
        };
        self.agent_attr(
            &format!("request.parameters.{key}"),
            AttrValue::Str(value.to_owned()),
            defaults,
        );
    }

    /// Whether custom events can be recorded at all (settings, security
    /// policies, the connect reply and its event limit).
    pub fn custom_events_allowed(&self) -> bool {
        self.cfg.custom_events_enabled
            && self.connect.collect_custom_events
            && self.connect.event_limits.custom_events > 0
    }

    /// `newrelic_record_custom_event()`. The event type must match
    /// `^[a-zA-Z0-9:_ ]+$` and be at most 255 bytes.
    pub fn record_custom_event(
        &mut self,
        event_type: &str,
        attrs: Vec<(String, AttrValue)>,
        now_unix_us: u64,
    ) -> bool {
        if self.cfg.high_security
            || !self.cfg.custom_events_enabled
            || !self.connect.collect_custom_events
            || self.connect.event_limits.custom_events == 0
        {
            return false;
        }
        let valid_type = !event_type.is_empty()
            && event_type.len() <= crate::attrs::KEY_LIMIT
            && event_type
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b':' || c == b'_' || c == b' ');
        if !valid_type {
            return false;
        }
        if self.custom_events.len() as u64 >= self.connect.event_limits.custom_events {
            return false;
        }
        let mut list = AttrList::default();
        for (k, v) in attrs {
            list.add(&k, v, dest::TXN_EVENT, true);
        }
        let mut out = String::with_capacity(128);
        out.push('[');
        let mut intr = json::Obj::begin(&mut out);
        intr.str("type", event_type)
            .f64("timestamp", now_unix_us as f64 / 1_000_000.0);
        intr.end();
        out.push(',');
        list.write_obj(&mut out, dest::TXN_EVENT);
        out.push_str(",{}]");
        self.custom_events.push(out);
        true
    }

    /// `newrelic_custom_metric()`: `value_ms` milliseconds, sent as
    /// seconds. NaN and infinities are refused.
    pub fn add_custom_metric(&mut self, name: &str, value_ms: f64) -> bool {
        if name.is_empty() || !value_ms.is_finite() {
            return false;
        }
        let us = (1000.0 * value_ms).max(0.0) as u64;
        self.metrics.add(name, false, false, us);
        true
    }

    /// Counts an API call: `Supportability/api/<name>`.
    pub fn count_api(&mut self, name: &str) {
        self.metrics.count(&format!("Supportability/api/{name}"));
    }

    /// Counts a forced, valueless metric, such as
    /// `Supportability/InstrumentedFunction/<fn>`.
    pub fn count_metric(&mut self, name: &str) {
        self.metrics.count(name);
    }

    /// [`Transaction::count_metric`] for a name known at compile time (a
    /// hooked function's metric, counted on every call): cheaper, same
    /// result.
    pub fn count_static_metric(&mut self, name: &'static str) {
        self.metrics.count_static(name);
    }

    /// Adds a metric observation in seconds.
    pub fn add_metric(&mut self, name: &str, value_s: f64, scoped: bool, forced: bool) {
        if name.is_empty() || !value_s.is_finite() {
            return;
        }
        self.metrics.add(
            name,
            scoped,
            forced,
            (value_s * 1_000_000.0).max(0.0) as u64,
        );
    }
}
