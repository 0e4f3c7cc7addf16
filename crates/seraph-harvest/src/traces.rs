//! Transaction traces (protocol.md §4.7): three pools, each keeping
//! its slowest traces.

use crate::goheap;

/// A transaction trace as reported, borrowed from the frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TraceObservation<'a> {
    /// Start, ms since the epoch.
    pub timestamp_ms: f64,
    /// Duration, ms.
    pub duration_ms: f64,
    /// Transaction name.
    pub txn_name: &'a str,
    /// Request URI.
    pub uri: &'a str,
    /// The trace JSON.
    pub data: &'a str,
    /// Transaction guid.
    pub guid: &'a str,
    /// The agent asked for this trace to be kept.
    pub force_persist: bool,
    /// Synthetics resource id (`""` when not synthetics).
    pub synthetics_resource_id: &'a str,
}

/// A stored transaction trace.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// Start, ms since the epoch.
    pub timestamp_ms: f64,
    /// Duration, ms.
    pub duration_ms: f64,
    /// Transaction name.
    pub txn_name: Box<str>,
    /// Request URI.
    pub uri: Box<str>,
    /// The trace JSON.
    pub data: Box<str>,
    /// Transaction guid.
    pub guid: Box<str>,
    /// Force-persist flag.
    pub force_persist: bool,
    /// Synthetics resource id, if any.
    pub synthetics_resource_id: Option<Box<str>>,
}

fn faster(a: &Trace, b: &Trace) -> bool {
    a.duration_ms < b.duration_ms
}

/// One pool: a min-heap on duration.
#[derive(Debug, Clone, PartialEq)]
struct Pool {
    max: usize,
    heap: Vec<Trace>,
}

impl Pool {
    fn new(max: usize) -> Self {
        Pool {
            max,
            heap: Vec::new(),
        }
    }

    /// Room left, or at least as slow as the current fastest.
    fn is_keeper(&self, duration_ms: f64) -> bool {
        if self.heap.len() < self.max {
            return true;
        }
        self.heap
            .first()
            .is_some_and(|min| duration_ms >= min.duration_ms)
    }

    fn add(&mut self, t: Trace) {
        if self.heap.len() >= self.max {
            if !self.is_keeper(t.duration_ms) {
                return;
            }
            // Equal durations: the newcomer replaces the older trace.
            goheap::pop(&mut self.heap, faster);
        }
        goheap::push(&mut self.heap, t, faster);
    }
}

/// Transaction traces of one harvest: synthetics, force-persist and regular
/// pools. Never retried after a failed post.
#[derive(Debug, Clone, PartialEq)]
pub struct Traces {
    synthetics: Pool,
    force_persist: Pool,
    regular: Pool,
}

impl Traces {
    /// Empty pools of the given sizes.
    pub fn new(regular: usize, force_persist: usize, synthetics: usize) -> Self {
        Traces {
            synthetics: Pool::new(synthetics),
            force_persist: Pool::new(force_persist),
            regular: Pool::new(regular),
        }
    }

    fn pool_mut(&mut self, t: &TraceObservation<'_>) -> &mut Pool {
        if !t.synthetics_resource_id.is_empty() {
            &mut self.synthetics
        } else if t.force_persist {
            &mut self.force_persist
        } else {
            &mut self.regular
        }
    }

    /// Offers a trace to its pool; its strings are copied only if kept.
    /// Returns whether it was kept.
    pub fn observe(&mut self, t: &TraceObservation<'_>) -> bool {
        let pool = self.pool_mut(t);
        if !pool.is_keeper(t.duration_ms) {
            return false;
        }
        pool.add(Trace {
            timestamp_ms: t.timestamp_ms,
            duration_ms: t.duration_ms,
            txn_name: t.txn_name.into(),
            uri: t.uri.into(),
            data: t.data.into(),
            guid: t.guid.into(),
            force_persist: t.force_persist,
            synthetics_resource_id: (!t.synthetics_resource_id.is_empty())
                .then(|| t.synthetics_resource_id.into()),
        });
        true
    }

    /// All traces in payload order: synthetics, then force-persist, then
    /// regular (each pool in heap storage order).
    pub fn iter(&self) -> impl Iterator<Item = &Trace> + '_ {
        self.synthetics
            .heap
            .iter()
            .chain(self.force_persist.heap.iter())
            .chain(self.regular.heap.iter())
    }

    /// Traces held.
    pub fn len(&self) -> usize {
        self.synthetics.heap.len() + self.force_persist.heap.len() + self.regular.heap.len()
    }

    /// True when no trace is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(duration_ms: f64, guid: &'static str) -> TraceObservation<'static> {
        TraceObservation {
            timestamp_ms: 1.0,
            duration_ms,
            txn_name: "WebTransaction/a",
            uri: "/a",
            data: "[]",
            guid,
            force_persist: false,
            synthetics_resource_id: "",
        }
    }

    fn guids(t: &Traces) -> Vec<&str> {
        t.iter().map(|t| &*t.guid).collect()
    }

    #[test]
    fn regular_pool_keeps_the_slowest_and_equal_newcomer_wins() {
        let mut t = Traces::new(1, 10, 20);
        assert!(t.observe(&obs(100.0, "a")));
        assert!(!t.observe(&obs(50.0, "faster")));
        assert_eq!(guids(&t), vec!["a"]);
        assert!(t.observe(&obs(100.0, "equal")));
        assert_eq!(guids(&t), vec!["equal"]);
        assert!(t.observe(&obs(200.0, "slower")));
        assert_eq!(guids(&t), vec!["slower"]);
    }

    #[test]
    fn pools_are_chosen_and_ordered() {
        let mut t = Traces::new(1, 10, 20);
        t.observe(&obs(10.0, "regular"));
        let mut fp = obs(1.0, "forced");
        fp.force_persist = true;
        t.observe(&fp);
        let mut syn = obs(1.0, "synthetic");
        syn.synthetics_resource_id = "res-1";
        syn.force_persist = true; // synthetics wins over force-persist
        t.observe(&syn);
        assert_eq!(guids(&t), vec!["synthetic", "forced", "regular"]);
        let s = t.iter().next().unwrap();
        assert_eq!(s.synthetics_resource_id.as_deref(), Some("res-1"));
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn force_persist_pool_holds_ten() {
        let mut t = Traces::new(1, 10, 20);
        for i in 0..15 {
            let mut o = obs(f64::from(i), "fp");
            o.force_persist = true;
            t.observe(&o);
        }
        assert_eq!(t.len(), 10);
        let mut d: Vec<f64> = t.iter().map(|t| t.duration_ms).collect();
        d.sort_by(f64::total_cmp);
        assert_eq!(d, (5..15).map(f64::from).collect::<Vec<_>>());
    }

    #[test]
    fn zero_sized_pool_keeps_nothing() {
        let mut t = Traces::new(0, 0, 0);
        assert!(!t.observe(&obs(1.0, "a")));
        assert!(t.is_empty());
    }
}
