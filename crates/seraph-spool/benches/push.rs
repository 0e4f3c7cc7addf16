//! Throughput of the spool with harvest-sized records: `cargo bench -p seraph-spool`.
//!
//! Every push and every ack is fsynced, so these numbers are mostly the disk's sync latency.
//! Set SPOOL_BENCH_DIR to measure on another filesystem than the temp dir's.

use std::time::{Duration, Instant};

use seraph_spool::{Record, Spool, SpoolConfig};

const RECORD: usize = 100 * 1024;
const COUNT: usize = 300;

fn main() {
    let base = std::env::var_os("SPOOL_BENCH_DIR");
    let dir = match &base {
        Some(b) => tempfile::tempdir_in(b),
        None => tempfile::tempdir(),
    }
    .expect("temp dir");
    let cfg = SpoolConfig {
        max_bytes: 256 << 20,
        ..SpoolConfig::default()
    };
    // Payload-like bytes (compressible JSON would not change the spool's cost).
    let body: Vec<u8> = (0..RECORD).map(|i| (i * 7 % 251) as u8).collect();

    let mut spool = Spool::open(dir.path(), cfg.clone()).expect("open");
    let start = Instant::now();
    for i in 0..COUNT {
        let app = ["app-a", "app-b", "app-c"][i % 3];
        spool
            .push(Record {
                app,
                method: "analytic_event_data",
                created_unix_s: 1_700_000_000,
                body: &body,
            })
            .expect("push");
    }
    report("push (fsync each)", COUNT, start.elapsed());
    drop(spool);

    let start = Instant::now();
    let mut spool = Spool::open(dir.path(), cfg).expect("reopen");
    report("open + recover", COUNT, start.elapsed());
    assert_eq!(spool.stats().records, COUNT as u64);

    let start = Instant::now();
    let mut n = 0;
    for app in ["app-a", "app-b", "app-c"] {
        loop {
            let recs = spool.take_at(app, 10, 1_700_000_000).expect("take");
            if recs.is_empty() {
                break;
            }
            let ids: Vec<u64> = recs.iter().map(|r| r.id).collect();
            n += spool.ack(app, &ids).expect("ack");
        }
    }
    report("take 10 + ack 10 (fsync per ack)", n, start.elapsed());
    assert_eq!(spool.stats().segments, 0);
}

fn report(what: &str, records: usize, took: Duration) {
    let secs = took.as_secs_f64();
    println!(
        "{what:34} {records} x {} KiB in {:>7.1} ms: {:>8.0} records/s, {:>6.1} MiB/s",
        RECORD / 1024,
        secs * 1e3,
        records as f64 / secs,
        (records * RECORD) as f64 / secs / (1 << 20) as f64,
    );
}
