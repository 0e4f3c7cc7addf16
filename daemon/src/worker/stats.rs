//! Counters the worker keeps about itself (self-monitoring): logged as the
//! `daemon status` line every minute and at exit, and reported with every
//! application's metrics as `Supportability/Seraph/Daemon/*`, so a sick
//! daemon shows up where its applications' data does.

use seraph_harvest::MetricTable;
use std::sync::atomic::{AtomicU64, Ordering};

/// Process-wide counters, updated with relaxed atomics from any task.
#[derive(Debug, Default)]
pub struct WorkerStats {
    /// Agent connections currently open.
    pub connections_open: AtomicU64,
    /// Agent connections accepted since start.
    pub connections_total: AtomicU64,
    /// Agent connections closed at once because the connection limit
    /// (file descriptors) was reached.
    pub connections_refused: AtomicU64,
    /// Idle agent connections closed to make room for a new one.
    pub connections_evicted: AtomicU64,
    /// App queries answered.
    pub app_queries: AtomicU64,
    /// Transaction frames received.
    pub transactions_received: AtomicU64,
    /// Transactions merged into a harvest.
    pub transactions_merged: AtomicU64,
    /// Transactions dropped because their run is unknown or gone.
    pub transactions_unknown_run: AtomicU64,
    /// Connections closed because of an invalid frame.
    pub bad_frames: AtomicU64,
    /// Infinite-tracing span batches dropped.
    pub span_batches_dropped: AtomicU64,
    /// Payloads written to the disk spool.
    pub spool_written: AtomicU64,
    /// Spooled payloads delivered to the collector.
    pub spool_replayed: AtomicU64,
    /// Spooled payloads dropped (spool full, unwritable, refused on replay).
    pub spool_dropped: AtomicU64,
}

/// The trouble counters as one application's metrics last reported them:
/// each cycle reports what happened since.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reported([u64; TROUBLE.len()]);

/// Picks one counter out of the stats.
type Counter = fn(&WorkerStats) -> &AtomicU64;

/// Counters reported as counts (only when something happened), by metric
/// name.
const TROUBLE: [(&str, Counter); 8] = [
    ("Supportability/Seraph/Daemon/Connections/Refused", |s| {
        &s.connections_refused
    }),
    ("Supportability/Seraph/Daemon/Connections/Evicted", |s| {
        &s.connections_evicted
    }),
    ("Supportability/Seraph/Daemon/Frames/Invalid", |s| {
        &s.bad_frames
    }),
    (
        "Supportability/Seraph/Daemon/Transactions/UnknownRun",
        |s| &s.transactions_unknown_run,
    ),
    (
        "Supportability/Seraph/Daemon/InfiniteTracing/BatchesDropped",
        |s| &s.span_batches_dropped,
    ),
    ("Supportability/Seraph/Daemon/Spool/Written", |s| {
        &s.spool_written
    }),
    ("Supportability/Seraph/Daemon/Spool/Replayed", |s| {
        &s.spool_replayed
    }),
    ("Supportability/Seraph/Daemon/Spool/Dropped", |s| {
        &s.spool_dropped
    }),
];

impl WorkerStats {
    /// Adds the daemon's own health to one application's metrics cycle:
    /// its resident memory (MiB) and open agent connections as values, and
    /// the trouble counters that moved since `last` as counts. The figures
    /// are the whole process's: every application of the daemon reports
    /// the same ones.
    pub fn append_metrics(&self, table: &mut MetricTable, last: &mut Reported) {
        if let Some(rss) = resident_bytes() {
            table.add_value(
                "Supportability/Seraph/Daemon/Memory/RSS",
                "",
                rss as f64 / (1024.0 * 1024.0),
                true,
            );
        }
        let open = self.connections_open.load(Ordering::Relaxed);
        table.add_value(
            "Supportability/Seraph/Daemon/Connections/Open",
            "",
            open as f64,
            true,
        );
        for (i, (name, counter)) in TROUBLE.iter().enumerate() {
            let now = counter(self).load(Ordering::Relaxed);
            let delta = now.saturating_sub(last.0[i]);
            last.0[i] = now;
            if delta > 0 {
                table.add_count(name, "", delta as f64, true);
            }
        }
    }
}

/// The process's resident set size, from `/proc/self/status` (`VmRSS`).
pub fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_vm_rss(&status)
}

fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    #[test]
    fn vm_rss_is_read_in_bytes() {
        let status =
            "Name:\tnewrelic-daemon\nVmHWM:\t  9000 kB\nVmRSS:\t    8192 kB\nThreads:\t3\n";
        assert_eq!(parse_vm_rss(status), Some(8192 * 1024));
        assert_eq!(parse_vm_rss("Name: x\n"), None);
        assert!(resident_bytes().is_some_and(|b| b > 0));
    }

    #[test]
    fn trouble_is_reported_once_per_cycle_and_only_when_it_happened() {
        let stats = WorkerStats::default();
        let mut last = Reported::default();
        let names = |t: &MetricTable| -> Vec<String> {
            let mut n: Vec<String> = t.iter().map(|m| m.name.to_owned()).collect();
            n.sort();
            n
        };

        let mut quiet = MetricTable::new(100, SystemTime::now());
        stats.connections_open.store(3, Ordering::Relaxed);
        stats.append_metrics(&mut quiet, &mut last);
        assert_eq!(
            names(&quiet),
            [
                "Supportability/Seraph/Daemon/Connections/Open",
                "Supportability/Seraph/Daemon/Memory/RSS"
            ]
        );
        let open = quiet
            .get("Supportability/Seraph/Daemon/Connections/Open", "")
            .unwrap();
        assert_eq!(open.values.as_array()[1], 3.0);

        stats.bad_frames.store(2, Ordering::Relaxed);
        stats.spool_dropped.store(5, Ordering::Relaxed);
        let mut troubled = MetricTable::new(100, SystemTime::now());
        stats.append_metrics(&mut troubled, &mut last);
        let count = |t: &MetricTable, n: &str| t.get(n, "").map(|m| m.values.as_array()[0]);
        assert_eq!(
            count(&troubled, "Supportability/Seraph/Daemon/Frames/Invalid"),
            Some(2.0)
        );
        assert_eq!(
            count(&troubled, "Supportability/Seraph/Daemon/Spool/Dropped"),
            Some(5.0)
        );

        // Nothing new since: only the values again.
        stats.bad_frames.store(2, Ordering::Relaxed);
        let mut again = MetricTable::new(100, SystemTime::now());
        stats.append_metrics(&mut again, &mut last);
        assert_eq!(names(&again), names(&quiet));
    }
}
