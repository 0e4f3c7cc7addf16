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
