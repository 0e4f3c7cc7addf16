//! The metric table of one harvest period (protocol.md §4.4).
//!
//! Keyed by (name, scope), scope `""` meaning unscoped. Names live in
//! `Box<str>` keys of per-scope maps and are looked up by `&str`, so merging a
//! metric that already exists never allocates — the common case, since a busy
//! application reports the same few hundred names over and over.

use std::collections::HashMap;
use std::time::SystemTime;

use crate::limits::FAILED_METRIC_ATTEMPTS_LIMIT;

/// The six numbers of a metric, in the collector's order. For `Apdex*`
/// metrics they mean satisfied, tolerating, frustrating, apdex_t, apdex_t, 0.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MetricValues {
    /// Call count (Apdex: satisfied).
    pub count: f64,
    /// Total time, seconds (Apdex: tolerating).
    pub total: f64,
    /// Exclusive time, seconds (Apdex: frustrating).
    pub exclusive: f64,
    /// Minimum, seconds.
    pub min: f64,
    /// Maximum, seconds.
    pub max: f64,
    /// Sum of squares.
    pub sum_squares: f64,
}

impl MetricValues {
    /// A "count" metric: only the count is set.
    pub fn count(count: f64) -> Self {
        MetricValues {
            count,
            ..Default::default()
        }
    }

    /// A "value" metric: one call of `v` (count 1, total = min = max = v,
    /// sum of squares v²; exclusive stays 0).
    pub fn value(v: f64) -> Self {
        MetricValues {
            count: 1.0,
            total: v,
            exclusive: 0.0,
            min: v,
            max: v,
            sum_squares: v * v,
        }
    }

    /// Folds `other` in: sums add, min/max widen. An entry's min starts at
    /// its first observation, there is no special case for zero.
    pub fn aggregate(&mut self, other: &MetricValues) {
        self.count += other.count;
        self.total += other.total;
        self.exclusive += other.exclusive;
        if other.min < self.min {
            self.min = other.min;
        }
        if other.max > self.max {
            self.max = other.max;
        }
        self.sum_squares += other.sum_squares;
    }

    /// The values in payload order.
    pub fn as_array(&self) -> [f64; 6] {
        [
            self.count,
            self.total,
            self.exclusive,
            self.min,
            self.max,
            self.sum_squares,
        ]
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Entry {
    values: MetricValues,
    forced: bool,
}

/// One metric as stored: its key, values and whether it is forced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricRef<'a> {
    /// Metric name.
    pub name: &'a str,
    /// Scope (a transaction name), `""` when unscoped.
    pub scope: &'a str,
    /// Accumulated values.
    pub values: &'a MetricValues,
    /// Forced metrics are kept even when the table is full.
    pub forced: bool,
}

/// Metrics aggregated over one harvest period.
///
/// The table holds at most `max` unique (name, scope) pairs of *unforced*
/// metrics: once `len() >= max`, a new unforced pair is dropped (and counted
/// in [`MetricTable::dropped`]) while a new forced one is still inserted.
/// Existing entries always merge.
#[derive(Debug, Clone)]
pub struct MetricTable {
    period_start: SystemTime,
    max: usize,
    len: usize,
    dropped: u64,
    failed_harvests: u32,
    unscoped: HashMap<Box<str>, Entry>,
    /// scope → name → entry.
    scoped: HashMap<Box<str>, HashMap<Box<str>, Entry>>,
}

impl MetricTable {
    /// An empty table whose period starts at `period_start`.
    pub fn new(max: usize, period_start: SystemTime) -> Self {
        MetricTable {
            period_start,
            max,
            len: 0,
            dropped: 0,
            failed_harvests: 0,
            unscoped: HashMap::new(),
            scoped: HashMap::new(),
        }
    }

    /// When this table's period began: its creation, or the start of an
    /// older table merged back into it after a failed post.
    pub fn period_start(&self) -> SystemTime {
        self.period_start
    }

    /// Unique (name, scope) pairs held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no metric is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The unique-metric limit.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Unforced metrics refused because the table was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Consecutive failed posts this table's data has been through (feeds
    /// `Supportability/Agent/Collector/metric_data/Attempts`).
    pub fn failed_harvests(&self) -> u32 {
        self.failed_harvests
    }

    /// Merges one observation into (name, scope); `scope` `""` is unscoped.
    pub fn add(&mut self, name: &str, scope: &str, values: &MetricValues, forced: bool) {
        let cap = Cap {
            max: self.max,
            len: &mut self.len,
            dropped: &mut self.dropped,
        };
        if scope.is_empty() {
            cap.merge_borrowed(&mut self.unscoped, name, values, forced);
            return;
        }
        if let Some(names) = self.scoped.get_mut(scope) {
            cap.merge_borrowed(names, name, values, forced);
            return;
        }
        let mut names = HashMap::new();
        if cap.merge_borrowed(&mut names, name, values, forced) {
            self.scoped.insert(scope.into(), names);
        }
    }

    /// Adds a "count" metric (only the count set).
    pub fn add_count(&mut self, name: &str, scope: &str, count: f64, forced: bool) {
        self.add(name, scope, &MetricValues::count(count), forced);
    }

    /// Adds a "value" metric (one call of `value`).
    pub fn add_value(&mut self, name: &str, scope: &str, value: f64, forced: bool) {
        self.add(name, scope, &MetricValues::value(value), forced);
    }

    /// Like [`MetricTable::add`] but reuses the owned key strings when the
    /// metric is new.
    fn add_owned(&mut self, name: Box<str>, scope: &str, entry: Entry) {
        let cap = Cap {
            max: self.max,
            len: &mut self.len,
            dropped: &mut self.dropped,
        };
        if scope.is_empty() {
            cap.merge_owned(&mut self.unscoped, name, entry);
            return;
        }
        if let Some(names) = self.scoped.get_mut(scope) {
            cap.merge_owned(names, name, entry);
            return;
        }
        let mut names = HashMap::new();
        if cap.merge_owned(&mut names, name, entry) {
            self.scoped.insert(scope.into(), names);
        }
    }

    /// Merges every metric of `other` into this table (cap rules apply).
    pub fn merge_table(&mut self, other: MetricTable) {
        for (name, entry) in other.unscoped {
            self.add_owned(name, "", entry);
        }
        for (scope, names) in other.scoped {
            for (name, entry) in names {
                self.add_owned(name, &scope, entry);
            }
        }
    }

    /// Merges back a table whose post failed with a retryable status
    /// (§4.6). Returns false (and drops `failed`) when it has now failed
    /// more than [`FAILED_METRIC_ATTEMPTS_LIMIT`] times in a row. The
    /// period start becomes the earlier of the two, and this table inherits
    /// the failure count.
    pub fn merge_failed(&mut self, failed: MetricTable) -> bool {
        let fails = failed.failed_harvests.saturating_add(1);
        if fails > FAILED_METRIC_ATTEMPTS_LIMIT {
            tracing::debug!(fails, "discarding metrics after repeated failed harvests");
            return false;
        }
        if failed.period_start < self.period_start {
            self.period_start = failed.period_start;
        }
        self.failed_harvests = fails;
        self.merge_table(failed);
        true
    }

    /// Merges back a table whose post failed retryably, whatever its
    /// failure count (Seraph keeps metrics through an outage of any length:
    /// a table is bounded by its limit, so holding it costs nothing more).
    /// Like [`MetricTable::merge_failed`] otherwise.
    pub fn merge_retained(&mut self, failed: MetricTable) {
        if failed.period_start < self.period_start {
            self.period_start = failed.period_start;
        }
        self.failed_harvests = failed.failed_harvests.saturating_add(1);
        self.merge_table(failed);
    }

    /// Moves about half of the entries into a new table, for a payload the
    /// collector refused as too large (413). Both keep the period, limit
    /// and failure count; the dropped count stays here. `None` (and nothing
    /// moved) for a table of fewer than two entries.
    pub fn split_off_half(&mut self) -> Option<MetricTable> {
        if self.len < 2 {
            return None;
        }
        let mut other = MetricTable {
            period_start: self.period_start,
            max: self.max,
            len: 0,
            dropped: 0,
            failed_harvests: self.failed_harvests,
            unscoped: HashMap::new(),
            scoped: HashMap::new(),
        };
        let target = self.len / 2;
        let names: Vec<Box<str>> = self.unscoped.keys().take(target).cloned().collect();
        for name in names {
            if let Some(entry) = self.unscoped.remove(&name) {
                other.unscoped.insert(name, entry);
                other.len += 1;
            }
        }
        let scopes: Vec<Box<str>> = self.scoped.keys().cloned().collect();
        for scope in scopes {
            if other.len >= target {
                break;
            }
            let Some(names) = self.scoped.get_mut(&scope) else {
                continue;
            };
            let keys: Vec<Box<str>> = names.keys().take(target - other.len).cloned().collect();
            for name in keys {
                if let Some(entry) = names.remove(&name) {
                    other
                        .scoped
                        .entry(scope.clone())
                        .or_default()
                        .insert(name, entry);
                    other.len += 1;
                }
            }
            if names.is_empty() {
                self.scoped.remove(&scope);
            }
        }
        self.len -= other.len;
        Some(other)
    }

    /// Looks up (name, scope).
    pub fn get(&self, name: &str, scope: &str) -> Option<MetricRef<'_>> {
        let map = if scope.is_empty() {
            &self.unscoped
        } else {
            self.scoped.get(scope)?
        };
        let (name, e) = map.get_key_value(name)?;
        Some(MetricRef {
            name,
            scope: if scope.is_empty() {
                ""
            } else {
                self.scoped.get_key_value(scope).map_or("", |(k, _)| k)
            },
            values: &e.values,
            forced: e.forced,
        })
    }

    /// Every metric, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = MetricRef<'_>> + '_ {
        let unscoped = self.unscoped.iter().map(|(name, e)| MetricRef {
            name,
            scope: "",
            values: &e.values,
            forced: e.forced,
        });
        let scoped = self.scoped.iter().flat_map(|(scope, names)| {
            names.iter().map(move |(name, e)| MetricRef {
                name,
                scope,
                values: &e.values,
                forced: e.forced,
            })
        });
        unscoped.chain(scoped)
    }
}

/// The table's size bookkeeping, borrowed apart from its maps so one map
/// can be updated while the counters change.
struct Cap<'a> {
    max: usize,
    len: &'a mut usize,
    dropped: &'a mut u64,
}

impl Cap<'_> {
    /// Merges into `names`; returns whether a new entry was inserted.
    fn merge_borrowed(
        self,
        names: &mut HashMap<Box<str>, Entry>,
        name: &str,
        values: &MetricValues,
        forced: bool,
    ) -> bool {
        if let Some(e) = names.get_mut(name) {
            e.values.aggregate(values);
            return false;
        }
        if *self.len >= self.max && !forced {
            *self.dropped += 1;
            return false;
        }
        names.insert(
            name.into(),
            Entry {
                values: *values,
                forced,
            },
        );
        *self.len += 1;
        true
    }

    /// [`Cap::merge_borrowed`] with an owned key, moved in when new.
    fn merge_owned(
        self,
        names: &mut HashMap<Box<str>, Entry>,
        name: Box<str>,
        entry: Entry,
    ) -> bool {
        if let Some(e) = names.get_mut(&*name) {
            e.values.aggregate(&entry.values);
            return false;
        }
        if *self.len >= self.max && !entry.forced {
            *self.dropped += 1;
            return false;
        }
        names.insert(name, entry);
        *self.len += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn t0() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_000)
    }

    fn v(count: f64, total: f64, excl: f64, min: f64, max: f64, sq: f64) -> MetricValues {
        MetricValues {
            count,
            total,
            exclusive: excl,
            min,
            max,
            sum_squares: sq,
        }
    }

    #[test]
    fn split_off_half_keeps_every_metric_once() {
        let mut t = MetricTable::new(10, t0());
        t.add_value("a", "", 1.0, false);
        t.add_value("b", "", 2.0, true);
        t.add_value("a", "s1", 3.0, false);
        t.add_value("c", "s1", 4.0, false);
        t.add_value("a", "s2", 5.0, false);
        t.add_count("d", "", 1.0, false);
        let mut small = MetricTable::new(1, t0());
        small.add_count("only", "", 1.0, false);
        small.add_count("x", "", 1.0, false);
        assert_eq!(small.dropped(), 1);
        assert!(
            small.split_off_half().is_none(),
            "one entry cannot be split"
        );
        assert_eq!(small.len(), 1);

        let mut a = t.clone();
        let b = a.split_off_half().unwrap();
        assert_eq!((a.len(), b.len()), (3, 3));
        assert_eq!(b.period_start(), t0());
        assert_eq!(b.max(), 10);
        let key = |m: MetricRef<'_>| {
            (
                m.scope.to_owned(),
                m.name.to_owned(),
                m.values.total,
                m.forced,
            )
        };
        let mut all: Vec<_> = a.iter().chain(b.iter()).map(key).collect();
        all.sort_by(|x, y| x.partial_cmp(y).unwrap());
        let mut want: Vec<_> = t.iter().map(key).collect();
        want.sort_by(|x, y| x.partial_cmp(y).unwrap());
        assert_eq!(all, want);
        // Each half looks entries up by scope as usual.
        let found = a.get("a", "s2").or_else(|| b.get("a", "s2")).unwrap();
        assert_eq!(found.values.total, 5.0);
        // Scoped entries alone split too.
        let mut scoped = MetricTable::new(10, t0());
        for n in ["p", "q", "r", "s"] {
            scoped.add_count(n, "scope", 1.0, false);
        }
        let other = scoped.split_off_half().unwrap();
        assert_eq!((scoped.len(), other.len()), (2, 2));
        assert_eq!(scoped.iter().count() + other.iter().count(), 4);
    }

    #[test]
    fn merge_math() {
        let mut t = MetricTable::new(10, t0());
        t.add("a", "", &v(1.0, 2.0, 1.5, 2.0, 2.0, 4.0), false);
        t.add("a", "", &v(2.0, 3.0, 0.5, 0.5, 2.5, 5.0), true);
        let m = t.get("a", "").unwrap();
        assert_eq!(*m.values, v(3.0, 5.0, 2.0, 0.5, 2.5, 9.0));
        assert!(!m.forced, "the first insert's forced flag is kept");
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn min_has_no_zero_special_case() {
        let mut t = MetricTable::new(10, t0());
        t.add_count("c", "", 1.0, false); // min = max = 0
        t.add_value("c", "", 5.0, false);
        let m = t.get("c", "").unwrap();
        assert_eq!(*m.values, v(2.0, 5.0, 0.0, 0.0, 5.0, 25.0));
    }

    #[test]
    fn scoped_and_unscoped_are_distinct() {
        let mut t = MetricTable::new(10, t0());
        t.add_value("Custom/a", "", 1.0, false);
        t.add_value("Custom/a", "WebTransaction/x", 2.0, false);
        t.add_value("Custom/a", "WebTransaction/y", 3.0, false);
        assert_eq!(t.len(), 3);
        assert_eq!(t.get("Custom/a", "").unwrap().values.total, 1.0);
        let y = t.get("Custom/a", "WebTransaction/y").unwrap();
        assert_eq!((y.scope, y.values.total), ("WebTransaction/y", 3.0));
        assert!(t.get("Custom/a", "WebTransaction/z").is_none());
        let mut all: Vec<_> = t.iter().map(|m| (m.scope, m.name)).collect();
        all.sort();
        assert_eq!(
            all,
            vec![
                ("", "Custom/a"),
                ("WebTransaction/x", "Custom/a"),
                ("WebTransaction/y", "Custom/a")
            ]
        );
    }

    #[test]
    fn cap_drops_new_unforced_and_counts_them() {
        let mut t = MetricTable::new(2, t0());
        t.add_count("a", "", 1.0, false);
        t.add_count("b", "", 1.0, false);
        t.add_count("c", "", 1.0, false); // dropped
        t.add_count("d", "s", 1.0, false); // dropped (new scope too)
        t.add_count("a", "", 1.0, false); // existing: merged
        assert_eq!(t.len(), 2);
        assert_eq!(t.dropped(), 2);
        assert_eq!(t.get("a", "").unwrap().values.count, 2.0);
        assert!(t.get("c", "").is_none());
        assert!(
            t.iter().all(|m| m.scope.is_empty()),
            "no empty scope map left"
        );
    }

    #[test]
    fn forced_beats_cap_and_counts_toward_it() {
        let mut t = MetricTable::new(2, t0());
        t.add_count("f1", "", 1.0, true);
        t.add_count("f2", "", 1.0, true);
        t.add_count("f3", "scope", 1.0, true); // forced: inserted past the cap
        assert_eq!(t.len(), 3);
        t.add_count("u", "", 1.0, false); // forced ones filled the table
        assert_eq!(t.dropped(), 1);
        assert!(t.get("f3", "scope").unwrap().forced);
    }

    #[test]
    fn merge_table_applies_cap_and_merges() {
        let mut a = MetricTable::new(2, t0());
        a.add_value("x", "", 1.0, false);
        let mut b = MetricTable::new(10, t0());
        b.add_value("x", "", 3.0, false);
        b.add_value("y", "", 1.0, false);
        b.add_value("z", "s", 1.0, false);
        a.merge_table(b);
        assert_eq!(a.get("x", "").unwrap().values.count, 2.0);
        assert_eq!(a.get("x", "").unwrap().values.max, 3.0);
        // Unscoped entries merge first: y fills the table, z is dropped.
        assert!(a.get("y", "").is_some());
        assert!(a.get("z", "s").is_none());
        assert_eq!((a.len(), a.dropped()), (2, 1));

        let mut forced = MetricTable::new(10, t0());
        forced.add_value("f", "s", 1.0, true);
        a.merge_table(forced);
        assert!(
            a.get("f", "s").unwrap().forced,
            "forced metrics pass a full table"
        );
        assert_eq!((a.len(), a.dropped()), (3, 1));
    }

    #[test]
    fn merge_failed_keeps_earliest_start_and_counts_failures() {
        let later = t0() + Duration::from_secs(60);
        let mut current = MetricTable::new(10, later);
        current.add_count("a", "", 1.0, false);
        let mut failed = MetricTable::new(10, t0());
        failed.add_count("a", "", 2.0, false);
        assert!(current.merge_failed(failed));
        assert_eq!(current.period_start(), t0());
        assert_eq!(current.failed_harvests(), 1);
        assert_eq!(current.get("a", "").unwrap().values.count, 3.0);
    }

    #[test]
    fn retained_metrics_survive_any_number_of_failures() {
        let mut table = MetricTable::new(10, t0());
        table.add_count("a", "", 1.0, false);
        for attempt in 1..=50u32 {
            let start = t0() + Duration::from_secs(u64::from(attempt) * 5);
            let mut next = MetricTable::new(10, start);
            next.add_count("a", "", 1.0, false);
            next.merge_retained(table);
            assert_eq!(next.failed_harvests(), attempt);
            table = next;
        }
        assert_eq!(table.get("a", "").unwrap().values.count, 51.0);
        assert_eq!(table.period_start(), t0(), "the earliest start is kept");
    }

    #[test]
    fn metrics_survive_five_failures_and_drop_on_the_sixth() {
        let mut table = MetricTable::new(10, t0());
        table.add_count("a", "", 1.0, false);
        for attempt in 1..=5 {
            let mut next = MetricTable::new(10, t0());
            assert!(next.merge_failed(table), "failure {attempt} is merged back");
            assert_eq!(next.failed_harvests(), attempt);
            table = next;
        }
        let mut next = MetricTable::new(10, t0());
        assert!(!next.merge_failed(table), "the sixth failure discards");
        assert!(next.is_empty());
        assert_eq!(next.failed_harvests(), 0);
    }
}
