//! Application logs: log records a logging library (Monolog) hands the
//! agent become `Logging/lines` metrics and, when forwarding is on, log
//! events linked to the transaction's trace.
//!
//! The rules are New Relic's: metrics count every record (when
//! `application_logging.metrics.enabled`); forwarding keeps records at or
//! above `forwarding.log_level` (an unknown level always passes) with a
//! non-empty message cut to 32 768 bytes; context data becomes
//! `context.<key>` attributes when `forwarding.context_data.enabled`,
//! filtered by its include and exclude lists; high security turns
//! forwarding off. A transaction keeps at most
//! `forwarding.max_samples_stored` events: the newest (by timestamp, then
//! arrival) win, and every record filtered out or pushed out counts in
//! `Logging/Forwarding/Dropped`. The reservoir is a min-heap of that size,
//! so a process that logs a million lines holds no more than that many.

use crate::attrs::{dest, AttrList, AttrValue};
use crate::{json, Transaction};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Bytes of a log message kept.
pub const MESSAGE_LIMIT: usize = 32_768;

/// One record from the application's logger.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LogRecord {
    /// Level name as the library spells it (`WARNING`); empty is `UNKNOWN`.
    pub level: String,
    /// The message.
    pub message: String,
    /// Milliseconds since the epoch.
    pub timestamp_ms: u64,
    /// Context data with string keys (scalars only; the caller skips the
    /// rest, as New Relic does).
    pub context: Vec<(String, AttrValue)>,
}

/// What identifies the application and host in a log event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogLinking {
    /// The connected application's entity guid.
    pub entity_guid: String,
    /// The primary application name.
    pub entity_name: String,
    /// The host name.
    pub hostname: String,
}

/// New Relic's severity order: `EMERGENCY` 0 … `DEBUG` 7; `None` for a
/// level it does not know (which always passes the filter).
pub fn level_rank(level: &str) -> Option<u8> {
    const LEVELS: [&str; 8] = [
        "EMERGENCY",
        "ALERT",
        "CRITICAL",
        "ERROR",
        "WARNING",
        "NOTICE",
        "INFO",
        "DEBUG",
    ];
    LEVELS
        .iter()
        .position(|l| l.eq_ignore_ascii_case(level.trim()))
        .map(|i| i as u8)
}

/// The labels log events carry (`newrelic.labels`, `type:value;…`, both
/// sides trimmed, empty ones skipped) less those whose type
/// `forwarding.labels.exclude` names (comma-separated, whole names,
/// case-insensitive).
pub fn forwarding_labels(labels: &str, exclude: &str) -> Vec<(String, String)> {
    let excluded: Vec<&str> = exclude
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    labels
        .split(';')
        .filter_map(|pair| {
            let (t, v) = pair.split_once(':')?;
            let (t, v) = (t.trim(), v.trim());
            (!t.is_empty() && !v.is_empty()).then(|| (t.to_owned(), v.to_owned()))
        })
        .filter(|(t, _)| !excluded.iter().any(|e| e.eq_ignore_ascii_case(t)))
        .collect()
}

/// Whether a context key passes the include/exclude lists: with an
/// include list only included keys pass; an exclude pattern removes a key
/// unless a more specific include pattern names it. A pattern ending in
/// `*` matches keys that start with the rest.
pub fn context_key_allowed(key: &str, include: &[String], exclude: &[String]) -> bool {
    fn best(key: &str, patterns: &[String]) -> Option<usize> {
        patterns
            .iter()
            .filter(|p| match p.strip_suffix('*') {
                Some(prefix) => key.starts_with(prefix),
                None => key == p.as_str(),
            })
            .map(|p| {
                if p.ends_with('*') {
                    p.len() - 1
                } else {
                    p.len() + 1
                }
            })
            .max()
    }
    let inc = best(key, include);
    if !include.is_empty() && inc.is_none() {
        return false;
    }
    match (best(key, exclude), inc) {
        (Some(e), Some(i)) => i > e,
        (Some(_), None) => false,
        _ => true,
    }
}

/// The log events a transaction keeps (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct LogEvents {
    heap: BinaryHeap<Reverse<(u64, u64, String)>>,
    seq: u64,
}

impl LogEvents {
    /// Offers an event; returns whether one (this or an older one) was
    /// dropped.
    fn offer(&mut self, cap: usize, timestamp_ms: u64, json: String) -> bool {
        self.seq += 1;
        let item = Reverse((timestamp_ms, self.seq, json));
        if self.heap.len() < cap {
            self.heap.push(item);
            return false;
        }
        if cap == 0 {
            return true;
        }
        if let Some(mut oldest) = self.heap.peek_mut() {
            if item < *oldest {
                *oldest = item;
            }
        }
        true
    }

    /// The kept events, oldest first.
    pub(crate) fn take(&mut self) -> Vec<String> {
        let mut v: Vec<_> = std::mem::take(&mut self.heap)
            .into_iter()
            .map(|Reverse(e)| e)
            .collect();
        v.sort_unstable_by_key(|e| (e.0, e.1));
        v.into_iter().map(|e| e.2).collect()
    }

    /// How many are kept.
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}

impl Transaction {
    /// Whether log forwarding is on for this transaction.
    pub fn log_forwarding_enabled(&self) -> bool {
        let lg = &self.cfg.application_logging;
        lg.enabled && lg.forwarding_enabled && !self.cfg.high_security
    }

    /// Whether log metrics are on.
    pub fn log_metrics_enabled(&self) -> bool {
        let lg = &self.cfg.application_logging;
        lg.enabled && lg.metrics_enabled
    }

    /// Whether forwarding wants context data (the caller can skip reading
    /// it otherwise).
    pub fn log_context_enabled(&self) -> bool {
        self.log_forwarding_enabled() && self.cfg.application_logging.context_data_enabled
    }

    /// Records one log record: metrics, and a log event if forwarding
    /// keeps it.
    pub fn record_log(&mut self, rec: LogRecord, link: &LogLinking) {
        let level = if rec.level.trim().is_empty() {
            "UNKNOWN"
        } else {
            rec.level.as_str()
        };
        if self.log_forwarding_enabled() && !rec.message.is_empty() {
            let max = self.cfg.application_logging.forwarding_log_level;
            let passes = level_rank(level).is_none_or(|r| r <= max);
            let dropped = if passes {
                let json = self.log_event_json(&rec, level, link);
                let cap = self.cfg.application_logging.forwarding_max_samples_stored as usize;
                self.lib.logs.offer(cap, rec.timestamp_ms, json)
            } else {
                true
            };
            if dropped {
                self.metrics.count("Logging/Forwarding/Dropped");
            }
        }
        if self.log_metrics_enabled() {
            self.metrics.count("Logging/lines");
            self.metrics.count(&format!("Logging/lines/{level}"));
        }
    }

    fn log_event_json(&mut self, rec: &LogRecord, level: &str, link: &LogLinking) -> String {
        let trace_id = if self.cfg.distributed_tracing_enabled {
            self.dt.trace_id.clone()
        } else {
            String::new()
        };
        let span_id = self.current_span_id();
        let message = crate::attrs::truncate_utf8(&rec.message, MESSAGE_LIMIT);
        let mut out = String::with_capacity(192 + message.len());
        let mut o = json::Obj::begin(&mut out);
        o.str("message", message).str("level", level);
        for (k, v) in [
            ("trace.id", trace_id.as_str()),
            ("span.id", span_id.as_str()),
            ("entity.guid", link.entity_guid.as_str()),
            ("entity.name", link.entity_name.as_str()),
            ("hostname", link.hostname.as_str()),
        ] {
            if !v.is_empty() {
                o.str(k, v);
            }
        }
        o.u64("timestamp", rec.timestamp_ms);
        if self.log_context_enabled() && !rec.context.is_empty() {
            let lg = &self.cfg.application_logging;
            let mut attrs = AttrList::default();
            for (k, v) in &rec.context {
                if context_key_allowed(k, &lg.context_data_include, &lg.context_data_exclude) {
                    attrs.add(&format!("context.{k}"), v.clone(), dest::TXN_EVENT, true);
                }
            }
            if attrs.is_present() {
                attrs.write_obj(o.key("attributes"), dest::TXN_EVENT);
            }
        }
        o.end();
        out
    }

    /// The frame's `log_forwarding_labels`: the labels to send with log
    /// events when forwarding and labels are on, else `[]`.
    pub(crate) fn log_labels_json(&self) -> String {
        let lg = &self.cfg.application_logging;
        let on = self.log_forwarding_enabled()
            && lg.labels_enabled
            && lg.forwarding_max_samples_stored > 0;
        let mut out = String::from("[");
        if on {
            for (i, (t, v)) in lg.forwarding_labels.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let mut o = json::Obj::begin(&mut out);
                o.str("label_type", t).str("label_value", v);
                o.end();
            }
        }
        out.push(']');
        out
    }

    /// Log events kept so far (for tests and the extension's memory
    /// checks).
    pub fn log_events_kept(&self) -> usize {
        self.lib.logs.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_rank_by_severity_and_unknown_ones_pass() {
        assert_eq!(level_rank("EMERGENCY"), Some(0));
        assert_eq!(level_rank("warning"), Some(4));
        assert_eq!(level_rank("DEBUG"), Some(7));
        assert_eq!(level_rank("TRACE"), None);
    }

    #[test]
    fn context_filter_follows_the_include_and_exclude_rules() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        // No lists: everything.
        assert!(context_key_allowed("D", &[], &[]));
        // include A, B; exclude C: only A and B.
        let (i, e) = (s(&["A", "B"]), s(&["C"]));
        assert!(context_key_allowed("A", &i, &e));
        assert!(!context_key_allowed("C", &i, &e));
        assert!(!context_key_allowed("D", &i, &e));
        // exclude wins over an equally or less specific include.
        assert!(!context_key_allowed(
            "user.id",
            &s(&["user.*"]),
            &s(&["user.id"])
        ));
        assert!(context_key_allowed(
            "user.id",
            &s(&["user.id"]),
            &s(&["user.*"])
        ));
        assert!(!context_key_allowed("A", &s(&["A"]), &s(&["A"])));
        assert!(!context_key_allowed("secret", &[], &s(&["sec*"])));
    }

    #[test]
    fn labels_are_parsed_and_excluded_by_whole_type() {
        let l = forwarding_labels(
            "label1:value1; label2 : value2;label1A:value1A;bad;:x;y:",
            " LABEL1 ,label2",
        );
        assert_eq!(l, [("label1A".to_owned(), "value1A".to_owned())]);
        assert!(forwarding_labels("", "").is_empty());
    }

    #[test]
    fn the_reservoir_keeps_the_newest_and_says_what_it_dropped() {
        let mut l = LogEvents::default();
        assert!(!l.offer(2, 10, "a".into()));
        assert!(!l.offer(2, 30, "c".into()));
        assert!(l.offer(2, 20, "b".into()));
        assert!(l.offer(2, 5, "old".into()));
        assert_eq!(l.len(), 2);
        assert_eq!(l.take(), ["b", "c"]);
        assert!(l.offer(0, 1, "x".into()));
        assert_eq!(l.len(), 0);
    }

    #[test]
    fn equal_timestamps_keep_the_later_record() {
        let mut l = LogEvents::default();
        for m in ["1", "2", "3"] {
            l.offer(2, 7, m.into());
        }
        assert_eq!(l.take(), ["2", "3"]);
    }
}
