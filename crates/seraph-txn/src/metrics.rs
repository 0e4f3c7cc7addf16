//! The transaction's metric table. Like the agent it accumulates integer
//! microseconds and converts to seconds only when the frame is built, so
//! values (and their float rounding) come out exactly as the agent's do.

use rustc_hash::FxHashMap;
use seraph_wire::MetricData;

/// The accumulated values of one metric.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Acc {
    pub count: u64,
    pub total: u64,
    pub exclusive: u64,
    pub min: u64,
    pub max: u64,
    pub sumsq: u128,
    /// Apdex metrics reuse the fields: count/total/exclusive are the
    /// satisfying/tolerating/failing counts, min = max = apdex_t.
    pub apdex: bool,
}

#[derive(Clone, Debug)]
struct Entry {
    name: String,
    scoped: bool,
    forced: bool,
    acc: Acc,
}

/// Apdex zones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApdexZone {
    /// Satisfying: at most apdex_t.
    Satisfying,
    /// Tolerating: at most 4 × apdex_t.
    Tolerating,
    /// Failing: slower, or the transaction had an error.
    Failing,
}

impl ApdexZone {
    /// The zone of a duration (both in microseconds).
    pub fn of(duration_us: u64, apdex_us: u64) -> Self {
        if duration_us <= apdex_us {
            ApdexZone::Satisfying
        } else if duration_us <= apdex_us.saturating_mul(4) {
            ApdexZone::Tolerating
        } else {
            ApdexZone::Failing
        }
    }

    /// `S`, `T` or `F` (the `nr.apdexPerfZone` value).
    pub fn label(self) -> &'static str {
        match self {
            ApdexZone::Satisfying => "S",
            ApdexZone::Tolerating => "T",
            ApdexZone::Failing => "F",
        }
    }
}

/// Metrics per table (scoped, unscoped) before new unforced ones are
/// dropped: New Relic's agent's `NR_METRIC_DEFAULT_LIMIT`. A transaction
/// that runs for days (a CLI worker) and names metrics after data (custom
/// metrics, datastore tables) would otherwise grow without bound.
pub const METRIC_LIMIT: usize = 2000;

/// Counts the unforced metrics refused because their table was full.
pub const METRICS_DROPPED: &str = "Supportability/MetricsDropped";

/// Metrics keyed by (name, scoped), in first-insertion order. Scoped and
/// unscoped metrics are two tables of at most [`METRIC_LIMIT`] each, as in
/// New Relic's agent: once a table is full, a new unforced metric is
/// dropped and counted in [`METRICS_DROPPED`]; forced ones are always
/// added.
#[derive(Clone, Debug, Default)]
pub(crate) struct MetricTable {
    entries: Vec<Entry>,
    /// Entry positions by name, per table ([unscoped, scoped]). Looked up
    /// by `&str` (no allocation) with a fast non-cryptographic hash: every
    /// datastore and external call adds three or four metrics, so this is
    /// on the hot path (the names are the agent's, not an attacker's keys).
    index: [FxHashMap<String, usize>; 2],
    /// Entries per table: [unscoped, scoped].
    sizes: [usize; 2],
    /// Entries counted by [`MetricTable::count_static`], by the address of
    /// their `'static` name (and its length): a hooked function's metric is counted on every
    /// call (WordPress's `apply_filters`, about 18 000 times a page), and
    /// comparing one address among a handful is far cheaper than hashing
    /// the name.
    statics: Vec<((usize, usize), usize)>,
}

impl MetricTable {
    fn slot(&mut self, name: &str, scoped: bool, forced: bool, apdex: bool) -> Option<&mut Acc> {
        let i = self.position(name, scoped, forced, apdex)?;
        Some(&mut self.entries[i].acc)
    }

    /// The entry of (`name`, `scoped`), added if new and the table has
    /// room (or `forced`).
    fn position(&mut self, name: &str, scoped: bool, forced: bool, apdex: bool) -> Option<usize> {
        if let Some(&i) = self.index[usize::from(scoped)].get(name) {
            return Some(i);
        }
        if !forced && self.sizes[usize::from(scoped)] >= METRIC_LIMIT {
            if let Some(d) = self.slot(METRICS_DROPPED, scoped, true, false) {
                d.count += 1;
            }
            return None;
        }
        self.entries.push(Entry {
            name: name.to_owned(),
            scoped,
            forced,
            acc: Acc {
                apdex,
                ..Acc::default()
            },
        });
        self.sizes[usize::from(scoped)] += 1;
        let i = self.entries.len() - 1;
        self.index[usize::from(scoped)].insert(name.to_owned(), i);
        Some(i)
    }

    /// Adds one observation of `total_us` with `exclusive_us` exclusive.
    pub fn add_ex(
        &mut self,
        name: &str,
        scoped: bool,
        forced: bool,
        total_us: u64,
        exclusive_us: u64,
    ) {
        let Some(a) = self.slot(name, scoped, forced, false) else {
            return;
        };
        if a.count == 0 || total_us < a.min {
            a.min = total_us;
        }
        if total_us > a.max {
            a.max = total_us;
        }
        a.count += 1;
        a.total = a.total.saturating_add(total_us);
        a.exclusive = a.exclusive.saturating_add(exclusive_us);
        a.sumsq = a
            .sumsq
            .saturating_add(u128::from(total_us) * u128::from(total_us));
    }

    /// Adds one observation whose exclusive time equals its total.
    pub fn add(&mut self, name: &str, scoped: bool, forced: bool, value_us: u64) {
        self.add_ex(name, scoped, forced, value_us, value_us);
    }

    /// Counts one call with no time (`Supportability/*` and friends).
    pub fn count(&mut self, name: &str) {
        self.add_ex(name, false, true, 0, 0);
    }

    /// [`MetricTable::count`] for a name known at compile time, found by
    /// its address after the first call.
    pub fn count_static(&mut self, name: &'static str) {
        // Address and length: two literals may share a start.
        let key = (name.as_ptr() as usize, name.len());
        let i = match self.statics.iter().find(|(k, _)| *k == key) {
            Some(&(_, i)) => i,
            None => {
                let Some(i) = self.position(name, false, true, false) else {
                    return;
                };
                self.statics.push((key, i));
                i
            }
        };
        let a = &mut self.entries[i].acc;
        a.min = 0;
        a.count += 1;
    }

    /// Adds an apdex observation.
    pub fn add_apdex(&mut self, name: &str, forced: bool, zone: ApdexZone, apdex_us: u64) {
        let Some(a) = self.slot(name, false, forced, true) else {
            return;
        };
        match zone {
            ApdexZone::Satisfying => a.count += 1,
            ApdexZone::Tolerating => a.total += 1,
            ApdexZone::Failing => a.exclusive += 1,
        }
        a.min = apdex_us;
        a.max = apdex_us;
    }

    /// The accumulated values of a metric.
    pub fn get(&self, name: &str, scoped: bool) -> Option<&Acc> {
        self.index[usize::from(scoped)]
            .get(name)
            .map(|&i| &self.entries[i].acc)
    }

    /// Whether an unscoped metric exists.
    #[cfg(test)]
    pub fn contains(&self, name: &str) -> bool {
        self.get(name, false).is_some()
    }

    /// Copies an unscoped metric under a new name (rollups such as
    /// `Datastore/allOther`), keeping its forced flag.
    pub fn duplicate(&mut self, from: &str, to: &str) {
        let Some(&i) = self.index[0].get(from) else {
            return;
        };
        let src = self.entries[i].clone();
        let Some(dst) = self.slot(to, false, src.forced, src.acc.apdex) else {
            return;
        };
        if dst.count == 0 && dst.total == 0 {
            *dst = src.acc;
            return;
        }
        dst.min = if dst.count == 0 {
            src.acc.min
        } else {
            dst.min.min(src.acc.min)
        };
        dst.max = dst.max.max(src.acc.max);
        dst.count += src.acc.count;
        dst.total += src.acc.total;
        dst.exclusive += src.acc.exclusive;
        dst.sumsq += src.acc.sumsq;
    }

    /// Converts to the wire representation (seconds).
    pub fn to_wire(&self) -> Vec<MetricData> {
        self.entries
            .iter()
            .map(|e| {
                let a = &e.acc;
                let s = |us: u64| us as f64 / 1_000_000.0;
                if a.apdex {
                    MetricData {
                        name: e.name.clone(),
                        count: a.count as f64,
                        total: a.total as f64,
                        exclusive: a.exclusive as f64,
                        min: s(a.min),
                        max: s(a.max),
                        sum_squares: 0.0,
                        scoped: e.scoped,
                        forced: e.forced,
                    }
                } else {
                    MetricData {
                        name: e.name.clone(),
                        count: a.count as f64,
                        total: s(a.total),
                        exclusive: s(a.exclusive),
                        min: s(a.min),
                        max: s(a.max),
                        sum_squares: a.sumsq as f64 / 1_000_000_000_000.0,
                        scoped: e.scoped,
                        forced: e.forced,
                    }
                }
            })
            .collect()
    }

    /// Number of metrics.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accumulates_like_the_agent() {
        let mut t = MetricTable::default();
        t.add("m", false, false, 10_000_000);
        t.add("m", false, false, 9_000_000);
        t.add("m", false, false, 11_000_000);
        let w = &t.to_wire()[0];
        assert_eq!(
            (w.count, w.total, w.exclusive, w.min, w.max, w.sum_squares),
            (3.0, 30.0, 30.0, 9.0, 11.0, 302.0)
        );
        t.add("one", false, true, 305);
        let w = &t.to_wire()[1];
        assert_eq!(
            (w.total, w.sum_squares, w.forced),
            (0.000305, 9.3025e-08, true)
        );
    }

    #[test]
    fn static_counts_match_plain_counts() {
        const NAME: &str = "Supportability/InstrumentedFunction/apply_filters";
        let mut a = MetricTable::default();
        let mut b = MetricTable::default();
        for _ in 0..3 {
            a.count(NAME);
            b.count_static(NAME);
        }
        b.count(NAME);
        a.count(NAME);
        assert_eq!(a.get(NAME, false), b.get(NAME, false));
        assert_eq!(b.get(NAME, false).map(|x| x.count), Some(4));
        assert_eq!(b.len(), 1);
    }

    #[test]
    fn apdex_reuses_fields() {
        let mut t = MetricTable::default();
        t.add_apdex("Apdex", true, ApdexZone::Satisfying, 500_000);
        t.add_apdex("Apdex", true, ApdexZone::Failing, 500_000);
        let w = &t.to_wire()[0];
        assert_eq!(
            (w.count, w.total, w.exclusive, w.min, w.max, w.sum_squares),
            (1.0, 0.0, 1.0, 0.5, 0.5, 0.0)
        );
        assert_eq!(ApdexZone::of(500_000, 500_000), ApdexZone::Satisfying);
        assert_eq!(ApdexZone::of(500_001, 500_000), ApdexZone::Tolerating);
        assert_eq!(ApdexZone::of(2_000_000, 500_000), ApdexZone::Tolerating);
        assert_eq!(ApdexZone::of(2_000_001, 500_000), ApdexZone::Failing);
        assert_eq!(ApdexZone::Failing.label(), "F");
    }

    #[test]
    fn a_full_table_drops_new_unforced_metrics_and_counts_them() {
        let mut t = MetricTable::default();
        for i in 0..METRIC_LIMIT + 500 {
            t.add(&format!("Custom/job/{i}"), false, false, 1);
        }
        assert_eq!(
            t.len(),
            METRIC_LIMIT + 1,
            "the limit plus the dropped counter"
        );
        assert_eq!(t.get(METRICS_DROPPED, false).unwrap().count, 500);
        // Existing metrics keep accumulating; forced ones are still added.
        t.add("Custom/job/0", false, false, 1);
        assert_eq!(t.get("Custom/job/0", false).unwrap().count, 2);
        t.add("OtherTransaction/all", false, true, 1);
        assert!(t.contains("OtherTransaction/all"));
        // The scoped table has room of its own.
        t.add("Custom/job/0", true, false, 1);
        assert!(t.get("Custom/job/0", true).is_some());
        let w = t.to_wire();
        let dropped = w.iter().find(|m| m.name == METRICS_DROPPED).unwrap();
        assert!(dropped.forced && !dropped.scoped);
    }

    #[test]
    fn scoped_and_unscoped_are_separate_and_duplicate_copies() {
        let mut t = MetricTable::default();
        t.add("x", true, false, 5);
        t.add("x", false, true, 7);
        assert_eq!(t.len(), 2);
        t.duplicate("x", "y");
        assert_eq!(t.get("y", false).unwrap().total, 7);
        t.duplicate("missing", "z");
        assert!(!t.contains("z"));
        t.count("c");
        t.count("c");
        assert_eq!(t.get("c", false).unwrap().count, 2);
    }
}
