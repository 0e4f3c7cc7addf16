//! Slow SQL statements (protocol.md §4.5): up to 10 entries keyed by
//! the agent's query id.

/// One slow-SQL observation as the agent reports it, borrowed from the frame,
/// plus the enclosing transaction's name and URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlowSqlObservation<'a> {
    /// Agent-computed id of the (obfuscated) query.
    pub id: u32,
    /// Calls folded into this observation.
    pub count: i32,
    /// Total time, µs.
    pub total_micros: u64,
    /// Fastest call, µs.
    pub min_micros: u64,
    /// Slowest call, µs.
    pub max_micros: u64,
    /// Datastore metric name.
    pub metric: &'a str,
    /// The query text.
    pub query: &'a str,
    /// JSON object of parameters (backtrace, explain plan…).
    pub params: &'a str,
    /// Enclosing transaction's name.
    pub txn_name: &'a str,
    /// Enclosing transaction's URI.
    pub uri: &'a str,
}

/// An aggregated slow SQL entry. The text fields describe the slowest
/// observation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlowSql {
    /// Query id.
    pub id: u32,
    /// Calls observed.
    pub count: i32,
    /// Total time, µs.
    pub total_micros: u64,
    /// Fastest call, µs.
    pub min_micros: u64,
    /// Slowest call, µs.
    pub max_micros: u64,
    /// Datastore metric name.
    pub metric: Box<str>,
    /// Query text.
    pub query: Box<str>,
    /// Parameters JSON.
    pub params: Box<str>,
    /// Transaction name.
    pub txn_name: Box<str>,
    /// Transaction URI.
    pub uri: Box<str>,
}

impl SlowSql {
    fn from_observation(o: &SlowSqlObservation<'_>) -> Self {
        SlowSql {
            id: o.id,
            count: o.count,
            total_micros: o.total_micros,
            min_micros: o.min_micros,
            max_micros: o.max_micros,
            metric: o.metric.into(),
            query: o.query.into(),
            params: o.params.into(),
            txn_name: o.txn_name.into(),
            uri: o.uri.into(),
        }
    }

    fn merge(&mut self, o: &SlowSqlObservation<'_>) {
        // Go's int32/uint64 arithmetic wraps; so does ours, never panics.
        self.count = self.count.wrapping_add(o.count);
        self.total_micros = self.total_micros.wrapping_add(o.total_micros);
        if o.min_micros < self.min_micros {
            self.min_micros = o.min_micros;
        }
        if o.max_micros > self.max_micros {
            self.max_micros = o.max_micros;
            self.query = o.query.into();
            self.metric = o.metric.into();
            self.params = o.params.into();
            self.txn_name = o.txn_name.into();
            self.uri = o.uri.into();
        }
    }
}

/// Slow SQL entries of one harvest. Never retried after a failed post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlowSqls {
    max: usize,
    entries: Vec<SlowSql>,
}

impl SlowSqls {
    /// An empty collection holding at most `max` entries.
    pub fn new(max: usize) -> Self {
        SlowSqls {
            max,
            entries: Vec::new(),
        }
    }

    /// Folds in one observation: an existing id merges (the slower
    /// observation's texts win); a new id is appended while there is room,
    /// else it replaces the entry with the smallest max only if its own max
    /// is larger. Strings are copied only when stored.
    pub fn observe(&mut self, o: &SlowSqlObservation<'_>) {
        if let Some(existing) = self.entries.iter_mut().find(|e| e.id == o.id) {
            existing.merge(o);
            return;
        }
        if self.entries.len() < self.max {
            self.entries.push(SlowSql::from_observation(o));
            return;
        }
        // The first entry with the smallest max.
        let mut fastest: Option<(usize, u64)> = None;
        for (i, e) in self.entries.iter().enumerate() {
            if fastest.is_none_or(|(_, m)| e.max_micros < m) {
                fastest = Some((i, e.max_micros));
            }
        }
        if let Some((i, m)) = fastest {
            if m < o.max_micros {
                self.entries[i] = SlowSql::from_observation(o);
            }
        }
    }

    /// Moves about half of the entries into a new collection, for a payload
    /// the collector refused as too large (413). `None` (and nothing moved)
    /// for fewer than two entries.
    pub fn split_off_half(&mut self) -> Option<SlowSqls> {
        if self.entries.len() < 2 {
            return None;
        }
        Some(SlowSqls {
            max: self.max,
            entries: self.entries.split_off(self.entries.len() / 2),
        })
    }

    /// Entries held, in payload order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &SlowSql> + '_ {
        self.entries.iter()
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no entry is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(id: u32, max: u64, query: &'static str) -> SlowSqlObservation<'static> {
        SlowSqlObservation {
            id,
            count: 1,
            total_micros: max,
            min_micros: max,
            max_micros: max,
            metric: "Datastore/statement/MySQL/t/select",
            query,
            params: "{}",
            txn_name: "WebTransaction/a",
            uri: "/a",
        }
    }

    #[test]
    fn split_off_half_keeps_every_entry_once() {
        let mut s = SlowSqls::new(10);
        for id in 1..=5 {
            s.observe(&obs(id, u64::from(id) * 10, "q"));
        }
        let b = s.split_off_half().unwrap();
        assert_eq!((s.len(), b.len()), (2, 3));
        let ids: Vec<u32> = s.iter().chain(b.iter()).map(|e| e.id).collect();
        assert_eq!(ids, vec![1, 2, 3, 4, 5]);
        let mut one = SlowSqls::new(10);
        one.observe(&obs(1, 1, "q"));
        assert!(one.split_off_half().is_none());
        assert_eq!(one.len(), 1);
    }

    #[test]
    fn same_id_merges_and_slower_texts_win() {
        let mut s = SlowSqls::new(10);
        s.observe(&obs(1, 100, "first"));
        let mut slower = obs(1, 300, "slower");
        slower.txn_name = "WebTransaction/b";
        slower.uri = "/b";
        slower.params = r#"{"backtrace":[]}"#;
        s.observe(&slower);
        s.observe(&obs(1, 50, "faster"));
        let e = s.iter().next().unwrap();
        assert_eq!(
            (e.count, e.total_micros, e.min_micros, e.max_micros),
            (3, 450, 50, 300)
        );
        assert_eq!(&*e.query, "slower");
        assert_eq!(&*e.txn_name, "WebTransaction/b");
        assert_eq!(&*e.uri, "/b");
        assert_eq!(&*e.params, r#"{"backtrace":[]}"#);
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn full_collection_replaces_the_fastest_only_if_slower() {
        let mut s = SlowSqls::new(3);
        s.observe(&obs(1, 100, "a"));
        s.observe(&obs(2, 50, "b"));
        s.observe(&obs(3, 50, "c"));
        s.observe(&obs(4, 50, "equal")); // not larger than 50: dropped
        assert!(s.iter().all(|e| e.id != 4));
        s.observe(&obs(5, 60, "d")); // replaces the first 50 (id 2)
        let ids: Vec<u32> = s.iter().map(|e| e.id).collect();
        assert_eq!(ids, vec![1, 5, 3]);
    }

    #[test]
    fn zero_capacity_keeps_nothing() {
        let mut s = SlowSqls::new(0);
        s.observe(&obs(1, 100, "a"));
        assert!(s.is_empty());
    }

    #[test]
    fn counters_wrap_instead_of_panicking() {
        let mut s = SlowSqls::new(1);
        let mut o = obs(1, 1, "q");
        o.count = i32::MAX;
        o.total_micros = u64::MAX;
        s.observe(&o);
        s.observe(&o);
        let e = s.iter().next().unwrap();
        assert_eq!(e.count, -2);
        assert_eq!(e.total_micros, u64::MAX - 1);
    }
}
