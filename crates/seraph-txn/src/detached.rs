//! Segments recorded after the fact: calls whose start and end the
//! extension sees in different hooks, with other calls in between (a
//! `curl_multi` handle started by one `curl_multi_exec` and found finished
//! by a later one, a Guzzle request sent by one method and completed by
//! another).
//!
//! Each is opened at its recorded start as a child of the current segment
//! and closed at once, so the recorder's stack discipline holds while the
//! trace shows the calls overlapping as they did. A call that sends trace
//! headers before it is recorded reserves its span id first, so the
//! headers name the span the call becomes.

use crate::recorder::flag;
use crate::txn::{ExternalCall, Transaction};
use crate::{IdSource, Ticks};

impl Transaction {
    /// A span id for a call recorded later (`None` when span events are off
    /// for this transaction): the id its trace headers carry and its span
    /// gets.
    pub fn reserve_span_id(&mut self) -> Option<String> {
        self.should_create_span_events()
            .then(|| crate::ids::guid(&mut self.rng))
    }

    /// The innermost open segment takes a span id reserved earlier with
    /// [`Transaction::reserve_span_id`] (a segment recorded after the fact
    /// whose trace payload named it while it ran).
    pub fn use_reserved_span_id(&mut self, span_id: String) {
        if !self.should_create_span_events() {
            return;
        }
        let cur = self.rec.current();
        self.rec.mark(cur, flag::DT);
        self.rec.extra_mut(cur).span_id = Some(span_id);
    }

    /// Outbound trace headers naming a reserved span id as the caller
    /// (empty with distributed tracing off).
    pub fn create_dt_headers_for(
        &mut self,
        span_id: Option<&str>,
        now_unix_us: u64,
        ids: &mut impl IdSource,
    ) -> Vec<(String, String)> {
        if !self.cfg.distributed_tracing_enabled {
            return Vec::new();
        }
        self.dt_headers_for_span(span_id.map(str::to_owned), now_unix_us, ids)
    }

    /// Records an external call that ran from `start` to `end`, as a child
    /// of the current segment, with its reserved span id.
    pub fn record_external(
        &mut self,
        start: Ticks,
        end: Ticks,
        ext: ExternalCall,
        span_id: Option<String>,
    ) {
        self.enter_internal(start);
        self.leave_external_as(end.max(start), ext, span_id);
    }

    /// Records a named segment from `start` to `end` (no metric: New
    /// Relic's `curl_multi_exec` grouping segment) whose children `f`
    /// records.
    pub fn record_group(
        &mut self,
        start: Ticks,
        end: Ticks,
        name: &str,
        f: impl FnOnce(&mut Transaction),
    ) {
        self.enter_internal(start);
        f(self);
        let Some(i) = self.rec.pop(end.max(start)) else {
            return;
        };
        self.rec.extra_mut(i).name = Some(name.to_owned());
        self.rec.mark(i, flag::INSTRUMENTED);
        self.rec.settle(i);
    }
}
