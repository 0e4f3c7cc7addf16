//! Priority-sampled event reservoirs (protocol.md §4.3, §4.6).
//!
//! Events stay the agent's JSON text (`Box<str>`), never parsed: they are
//! copied in when kept and copied out verbatim into payloads. Until the
//! reservoir fills, events keep arrival order (the integration tests compare
//! span events in that order); when it fills, it becomes a min-heap on
//! priority and a newcomer replaces the minimum unless its priority is
//! strictly lower.

use crate::goheap;
use crate::limits::{FAILED_EVENT_ATTEMPTS_LIMIT, TXN_EVENT_SPLIT_THRESHOLD};

/// The five event types, each with its own reservoir and collector method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventKind {
    /// Transaction events (`analytic_event_data`).
    Transaction,
    /// Custom events (`custom_event_data`).
    Custom,
    /// TransactionError events (`error_event_data`).
    Error,
    /// Span events (`span_event_data`).
    Span,
    /// Log events (`log_event_data`).
    Log,
}

impl EventKind {
    /// All kinds, in a fixed order.
    pub const ALL: [EventKind; 5] = [
        EventKind::Transaction,
        EventKind::Custom,
        EventKind::Error,
        EventKind::Span,
        EventKind::Log,
    ];

    /// The collector method that carries this kind.
    pub fn method(self) -> &'static str {
        match self {
            EventKind::Transaction => "analytic_event_data",
            EventKind::Custom => "custom_event_data",
            EventKind::Error => "error_event_data",
            EventKind::Span => "span_event_data",
            EventKind::Log => "log_event_data",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// One stored event: its sampling priority and JSON text.
#[derive(Debug, Clone, PartialEq)]
struct Event {
    priority: f64,
    data: Box<str>,
}

fn lower(a: &Event, b: &Event) -> bool {
    a.priority < b.priority
}

/// A bounded, priority-sampled collection of pre-built event JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct EventReservoir {
    capacity: usize,
    seen: u64,
    events: Vec<Event>,
    failed_harvests: u32,
}

impl EventReservoir {
    /// An empty reservoir; capacity 0 disables the event type (events are
    /// still counted as seen).
    pub fn new(capacity: usize) -> Self {
        EventReservoir {
            capacity,
            seen: 0,
            events: Vec::new(),
            failed_harvests: 0,
        }
    }

    /// The reservoir size reported to the collector.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Events observed (kept or not) since this reservoir was created,
    /// including those of merged-back failed posts.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// Events held.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// True when no event is held.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Consecutive failed posts inherited by this reservoir (feeds
    /// `Supportability/Agent/Collector/<method>/Attempts`).
    pub fn failed_harvests(&self) -> u32 {
        self.failed_harvests
    }

    /// The held events' JSON, in payload order.
    pub fn events(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.events.iter().map(|e| &*e.data)
    }

    /// The held events with their priorities, in payload order.
    pub fn events_with_priority(&self) -> impl ExactSizeIterator<Item = (f64, &str)> + '_ {
        self.events.iter().map(|e| (e.priority, &*e.data))
    }

    /// Whether an event of `priority` would be stored now. Counts nothing.
    fn accepts(&self, priority: f64) -> bool {
        if self.events.len() < self.capacity {
            return true;
        }
        // Full (or disabled): replace the minimum unless strictly lower.
        match self.events.first() {
            // NaN compares false, so it is accepted, as in Go.
            Some(min) => priority.partial_cmp(&min.priority) != Some(std::cmp::Ordering::Less),
            None => false,
        }
    }

    /// Observes one event, copying `data` only if it is kept.
    pub fn add(&mut self, priority: f64, data: &str) {
        self.seen += 1;
        if self.accepts(priority) {
            self.store(Event {
                priority,
                data: data.into(),
            });
        }
    }

    /// Observes one already-owned event.
    pub fn add_owned(&mut self, priority: f64, data: Box<str>) {
        self.seen += 1;
        if self.accepts(priority) {
            self.store(Event { priority, data });
        }
    }

    /// Stores an event `accepts` approved.
    fn store(&mut self, e: Event) {
        if self.events.len() < self.capacity {
            self.events.push(e);
            if self.events.len() == self.capacity {
                // The heap is only built when the reservoir fills, so small
                // batches keep arrival order.
                goheap::init(&mut self.events, lower);
            }
            return;
        }
        goheap::pop(&mut self.events, lower);
        goheap::push(&mut self.events, e, lower);
    }

    /// Re-adds the events of a failed post (§4.6): they go through normal
    /// sampling, `seen` becomes the sum of both, and this reservoir inherits
    /// the failure count. Returns false (dropping `failed`) once the data has
    /// failed more than [`FAILED_EVENT_ATTEMPTS_LIMIT`] times in a row.
    pub fn merge_back(&mut self, failed: EventReservoir) -> bool {
        let fails = failed.failed_harvests.saturating_add(1);
        if fails > FAILED_EVENT_ATTEMPTS_LIMIT {
            tracing::debug!(fails, "discarding events after repeated failed harvests");
            return false;
        }
        self.failed_harvests = fails;
        self.merge(failed);
        true
    }

    /// Re-adds the events of a failed post whatever its failure count:
    /// they are sampled again with the events that came since, so an
    /// outage of any length costs only sampling, never the whole reservoir.
    pub fn merge_retained(&mut self, failed: EventReservoir) {
        self.failed_harvests = failed.failed_harvests.saturating_add(1);
        self.merge(failed);
    }

    /// Merges `other` in through sampling; `seen` becomes the sum.
    pub fn merge(&mut self, other: EventReservoir) {
        let all_seen = self.seen + other.seen;
        for e in other.events {
            self.add_owned(e.priority, e.data);
        }
        self.seen = all_seen;
    }

    /// Moves about half of the events into a new reservoir, for a payload
    /// the collector refused as too large (413). The seen count and the
    /// capacity are shared out in proportion, so the two posts together
    /// report what the one would have; both keep the failure count. `None`
    /// (and nothing moved) for fewer than two events.
    pub fn split_off_half(&mut self) -> Option<EventReservoir> {
        let n = self.events.len();
        if n < 2 {
            return None;
        }
        let moved = self.events.split_off(n / 2);
        let kept = self.events.len();
        let share = |total: u64| -> u64 {
            u64::try_from(u128::from(total) * kept as u128 / n as u128).unwrap_or(total)
        };
        let seen_kept = share(self.seen).max(kept as u64);
        let seen_moved = self.seen.saturating_sub(seen_kept).max(moved.len() as u64);
        let cap_kept = (self.capacity * kept / n).max(kept);
        let cap_moved = self.capacity.saturating_sub(cap_kept).max(moved.len());
        self.seen = seen_kept;
        self.capacity = cap_kept;
        let mut other = EventReservoir {
            capacity: cap_moved,
            seen: seen_moved,
            events: moved,
            failed_harvests: self.failed_harvests,
        };
        // A full reservoir must be a heap (its minimum first).
        for r in [&mut *self, &mut other] {
            if r.events.len() == r.capacity {
                goheap::init(&mut r.events, lower);
            }
        }
        Some(other)
    }

    /// Splits a transaction-event reservoir for posting (§4.1): with
    /// distributed tracing on and at least
    /// [`TXN_EVENT_SPLIT_THRESHOLD`] events, returns two halves whose
    /// capacity and seen count equal their length (and which keep the
    /// failure count, so each half can be merged back on its own);
    /// otherwise returns the reservoir unchanged.
    pub fn split_for_post(self, distributed_tracing: bool) -> Vec<EventReservoir> {
        if !distributed_tracing || self.events.len() < TXN_EVENT_SPLIT_THRESHOLD {
            return vec![self];
        }
        let mut first = self.events;
        let second = first.split_off(first.len() / 2);
        let half = |events: Vec<Event>| EventReservoir {
            capacity: events.len(),
            seen: events.len() as u64,
            events,
            failed_harvests: self.failed_harvests,
        };
        vec![half(first), half(second)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn datas(r: &EventReservoir) -> Vec<&str> {
        r.events().collect()
    }

    #[test]
    fn split_off_half_shares_events_seen_and_capacity() {
        let mut r = EventReservoir::new(10);
        for i in 0..25 {
            r.add(f64::from(i), &format!("e{i}"));
        }
        let mut a = r.clone();
        let b = a.split_off_half().unwrap();
        assert_eq!((a.len(), b.len()), (5, 5));
        assert_eq!(a.seen() + b.seen(), 25);
        assert_eq!(a.capacity() + b.capacity(), 10);
        let mut all: Vec<_> = a.events().chain(b.events()).collect();
        let mut want: Vec<_> = r.events().collect();
        all.sort_unstable();
        want.sort_unstable();
        assert_eq!(all, want);
        // A full half is a proper heap: a low newcomer is refused.
        let min = a
            .events_with_priority()
            .map(|(p, _)| p)
            .fold(f64::MAX, f64::min);
        a.add(min - 1.0, "low");
        assert!(a.events().all(|e| e != "low"));

        let mut one = EventReservoir::new(10);
        one.add(1.0, "x");
        let before = one.clone();
        assert!(one.split_off_half().is_none());
        assert_eq!(one, before);
    }

    #[test]
    fn keeps_arrival_order_until_full() {
        let mut r = EventReservoir::new(5);
        for (p, d) in [(0.9, "a"), (0.1, "b"), (0.5, "c")] {
            r.add(p, d);
        }
        assert_eq!(datas(&r), vec!["a", "b", "c"]);
        assert_eq!((r.seen(), r.len(), r.capacity()), (3, 3, 5));
    }

    #[test]
    fn disabled_reservoir_counts_but_keeps_nothing() {
        let mut r = EventReservoir::new(0);
        r.add(2.0, "x");
        r.add(0.0, "y");
        assert!(r.is_empty());
        assert_eq!(r.seen(), 2);
    }

    #[test]
    fn full_reservoir_evicts_the_minimum() {
        let mut r = EventReservoir::new(3);
        r.add(0.5, "a");
        r.add(0.2, "b");
        r.add(0.8, "c"); // fills: heap [b a c]
        assert_eq!(datas(&r), vec!["b", "a", "c"]);
        r.add(0.1, "low"); // below the minimum: discarded
        assert_eq!(datas(&r), vec!["b", "a", "c"]);
        r.add(0.6, "d"); // evicts b (0.2)
        let mut kept: Vec<_> = r.events_with_priority().collect();
        kept.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert_eq!(kept, vec![(0.5, "a"), (0.6, "d"), (0.8, "c")]);
        assert_eq!(r.seen(), 5);
    }

    #[test]
    fn equal_priority_newcomer_replaces_the_minimum() {
        let mut r = EventReservoir::new(2);
        r.add(0.5, "old1");
        r.add(0.7, "old2");
        r.add(0.5, "new");
        let mut kept: Vec<_> = r.events().collect();
        kept.sort();
        assert_eq!(kept, vec!["new", "old2"]);
    }

    #[test]
    fn keeps_the_highest_priorities() {
        let mut r = EventReservoir::new(10);
        // A deterministic shuffle of 0..100.
        for i in 0..100u32 {
            let p = f64::from((i * 37) % 100);
            r.add(p, &format!("e{p}"));
        }
        let mut kept: Vec<f64> = r.events_with_priority().map(|(p, _)| p).collect();
        kept.sort_by(f64::total_cmp);
        assert_eq!(kept, (90..100).map(f64::from).collect::<Vec<_>>());
        assert_eq!(r.seen(), 100);
    }

    #[test]
    fn retained_events_are_resampled_however_often_they_failed() {
        let mut r = EventReservoir::new(3);
        for p in 0..3 {
            r.add(f64::from(p), "{}");
        }
        for attempt in 1..=20u32 {
            let mut next = EventReservoir::new(3);
            next.add(100.0 + f64::from(attempt), "{}");
            next.merge_retained(r);
            assert_eq!(next.failed_harvests(), attempt);
            assert_eq!(next.len(), 3, "bounded by the reservoir size");
            r = next;
        }
        assert_eq!(r.seen(), 23, "every event is counted as seen");
    }

    #[test]
    fn merge_back_resamples_and_sums_seen() {
        let mut failed = EventReservoir::new(2);
        failed.add(0.9, "f1");
        failed.add(0.1, "f2");
        failed.add(0.2, "f3"); // seen 3, holds f1 (0.9), f3 (0.2)
        let mut current = EventReservoir::new(2);
        current.add(0.5, "c1");
        assert!(current.merge_back(failed));
        let mut kept: Vec<_> = current.events().collect();
        kept.sort();
        assert_eq!(kept, vec!["c1", "f1"]);
        assert_eq!(current.seen(), 4);
        assert_eq!(current.failed_harvests(), 1);
    }

    #[test]
    fn events_survive_ten_failures_and_drop_on_the_eleventh() {
        let mut r = EventReservoir::new(5);
        r.add(0.5, "e");
        for attempt in 1..=10 {
            let mut next = EventReservoir::new(5);
            assert!(next.merge_back(r), "failure {attempt} is merged back");
            assert_eq!(next.failed_harvests(), attempt);
            // Newer events inherit the counter.
            next.add(0.1, "newer");
            r = next;
        }
        let mut next = EventReservoir::new(5);
        assert!(!next.merge_back(r));
        assert!(next.is_empty());
        assert_eq!(next.seen(), 0);
    }

    #[test]
    fn split_only_large_reservoirs_with_dt() {
        let mut r = EventReservoir::new(10_000);
        for i in 0..5001 {
            r.add(0.5, &i.to_string());
        }
        let parts = r.clone().split_for_post(false);
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0], r);

        let parts = r.split_for_post(true);
        assert_eq!(parts.len(), 2);
        assert_eq!(
            (parts[0].len(), parts[0].capacity(), parts[0].seen()),
            (2500, 2500, 2500)
        );
        assert_eq!(
            (parts[1].len(), parts[1].capacity(), parts[1].seen()),
            (2501, 2501, 2501)
        );
        assert_eq!(parts[0].events().next(), Some("0"));
        assert_eq!(parts[1].events().next(), Some("2500"));

        let mut small = EventReservoir::new(10);
        small.add(0.5, "x");
        assert_eq!(small.split_for_post(true).len(), 1);
    }
}
