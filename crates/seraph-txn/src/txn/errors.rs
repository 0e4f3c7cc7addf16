//! Errors: what `newrelic_notice_error`, PHP errors and uncaught exceptions
//! record on the transaction and on segments.

use super::{NoticedError, Transaction, TxnError};
use crate::attrs::{dest, AttrValue};
use crate::json;
use crate::recorder::flag;

/// Bytes of an error message kept (New Relic's limit on an event
/// attribute value such as `error.message`). Every segment an exception
/// leaves carries its message: 40 exceptions with 100 KB messages through
/// 50 frames grew a process by 197 MB and made a frame the daemon could not
/// take in 500 ms (the transaction was lost).
pub const ERROR_MESSAGE_LIMIT: usize = 4095;

pub(crate) const HIGH_SECURITY_MESSAGE: &str = "Message removed by New Relic high_security setting";
pub(crate) const RAW_MESSAGE_DISALLOWED: &str = "Message removed by New Relic security settings";
impl Transaction {
    // --- errors ----------------------------------------------------------------

    /// Whether `newrelic.error_collector.ignore_errors` masks this PHP error
    /// level (for the extension's error hook).
    pub fn ignores_php_error(&self, level: i64) -> bool {
        self.cfg.error_collector.ignore_errors & level != 0
    }

    fn error_message(&self, message: &str) -> String {
        if self.cfg.high_security {
            HIGH_SECURITY_MESSAGE.to_owned()
        } else if !self.cfg.error_collector.allow_raw_exception_messages {
            RAW_MESSAGE_DISALLOWED.to_owned()
        } else {
            crate::attrs::truncate_utf8(message, ERROR_MESSAGE_LIMIT).to_owned()
        }
    }

    /// Whether `error_collector.ignore_exceptions` covers an exception,
    /// given the names its class is an instance of (its class, parents and
    /// interfaces, as `instanceof` sees them; case-insensitive).
    pub fn ignores_exception<S: AsRef<str>>(&self, classes: &[S]) -> bool {
        self.cfg.error_collector.ignore_exceptions.iter().any(|c| {
            classes
                .iter()
                .any(|k| c.trim_start_matches('\\').eq_ignore_ascii_case(k.as_ref()))
        })
    }

    fn error_collection_on(&self) -> bool {
        self.cfg.error_collector.enabled && self.connect.collect_errors
    }

    /// Whether an error of this priority would be recorded now, so a caller
    /// can skip building its stack trace.
    pub fn would_record_error(&self, priority: i32) -> bool {
        self.error_collection_on() && self.error.as_ref().is_none_or(|e| priority >= e.priority)
    }

    /// Records an error on the transaction (the highest priority wins; an
    /// equal priority replaces) and on the innermost segment. Returns
    /// whether it was recorded. `error_collector.ignore_exceptions` is not
    /// applied here: New Relic applies it to uncaught exceptions only (not to
    /// PHP errors or `newrelic_notice_error`), so the caller asks
    /// [`Transaction::ignores_exception`] first where it applies.
    pub fn notice_error(&mut self, err: NoticedError) -> bool {
        if !self.error_collection_on() || err.message.is_empty() || err.class.is_empty() {
            return false;
        }
        if self
            .error
            .as_ref()
            .is_some_and(|e| err.priority < e.priority)
        {
            return false;
        }
        let message = self.error_message(&err.message);
        let mut span_id = None;
        if self.should_create_span_events() {
            let cur = self.rec.current();
            span_id = self.ensure_span_id(cur, flag::LOG);
            self.rec.mark(cur, flag::ATTR);
            self.rec.extra_mut(cur).error = Some((err.class.clone(), message.clone()));
        }
        self.error = Some(TxnError {
            priority: err.priority,
            message,
            class: err.class,
            stack_json: json::string_array(&err.stack_trace),
            span_id,
            when_us: err.now_unix_us,
        });
        true
    }

    /// An exception is leaving the innermost function: its span gets the
    /// error attributes (and the segment is kept however short it is, as
    /// New Relic keeps every segment carrying an error). The caller skips
    /// exceptions [`Transaction::ignores_exception`] names. Call before
    /// `leave`.
    pub fn set_current_segment_error(&mut self, class: &str, message: &str) {
        if !self.error_collection_on() || class.is_empty() || !self.should_create_span_events() {
            return;
        }
        let message = self.error_message(message);
        let cur = self.rec.current();
        self.rec.mark(cur, flag::ATTR);
        self.rec.extra_mut(cur).error = Some((class.to_owned(), message));
    }

    /// The error group name the user's error group callback returned: the
    /// `error.group.name` agent attribute of the error trace and event (at
    /// most 255 bytes; empty names are ignored).
    pub fn set_error_group_name(&mut self, name: &str) {
        if name.is_empty() {
            return;
        }
        let name = crate::attrs::truncate_utf8(name, crate::attrs::VALUE_LIMIT).to_owned();
        self.agent_attr("error.group.name", AttrValue::Str(name), dest::ERROR);
    }

    /// Whether an error of `priority` would be recorded now: error
    /// collection on and no higher-priority error kept
    /// (`newrelic_notice_error` checks this before reading its arguments).
    pub fn error_worthy(&self, priority: i32) -> bool {
        self.error_collection_on() && self.error.as_ref().is_none_or(|e| priority >= e.priority)
    }
}
