//! Long-running processes: a queue worker that ends and starts a
//! transaction per job, and one transaction with a very large number of
//! user calls. Both must keep the process's memory flat and the segments
//! and spans they send within `transaction_tracer.max_segments_cli` /
//! `max_segments_web` (New Relic's defaults: 100 000 for CLI, 0 =
//! unlimited for web; the trace and span limits of 2 000 bound them too).
//!
//! Memory is compared, not timed: the script reads its own `VmRSS` after a
//! warm-up tenth of the work and at the end. The counts are scaled down
//! from the 1 000 000 transactions and 10 M calls of docs/benchmarks.md so
//! a debug build runs each test in seconds; every call is made worth
//! keeping (`newrelic.special.expensive_node_min=0`), so the kept-segment
//! set is full and churning for the whole run, which is the worst case
//! for both memory and the limits.

mod common;
use common::fake_daemon::{FakeDaemon, Mode};
use common::*;

const LICENSE: &str = "0123456789012345678901234567890123456789";

/// Reads `warm <kB>` and `end <kB>` from the script's output.
fn rss(out: &str, which: &str) -> u64 {
    out.lines()
        .find_map(|l| l.strip_prefix(which))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no '{which}' line in the output: {out}"))
}

/// Trace nodes in a transaction trace's JSON: every node opens with
/// `[start,stop,"` followed by its string-table reference.
fn trace_nodes(data: &str) -> usize {
    data.matches(",\"`").count()
}

/// `Supportability/execute/allocated_segment_count`: 1 + the segments
/// that entered the kept set while the transaction ran (evicted ones
/// included). At least the limit means the set was full, so the limit was
/// what bounded it.
fn allocated_segments(t: &seraph_wire::TransactionData) -> f64 {
    let m = t
        .metrics
        .iter()
        .find(|m| m.name == "Supportability/execute/allocated_segment_count")
        .expect("allocated_segment_count metric");
    // Reported like a time: the count in the total, in seconds.
    (m.total * 1e6).round()
}

fn run(
    daemon: &FakeDaemon,
    script: &str,
    env: &[(&str, String)],
    extra: &[(&str, &str)],
) -> String {
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("script.php"), script).unwrap();
    let mut ini = vec![
        ("newrelic.daemon.address", daemon.address()),
        ("newrelic.daemon.dont_launch", "3".into()),
        ("newrelic.license", LICENSE.into()),
        ("newrelic.appname", "long-running".into()),
        ("newrelic.daemon.app_connect_timeout", "5s".into()),
        ("newrelic.special.expensive_node_min", "0".into()),
        ("newrelic.transaction_tracer.threshold", "0".into()),
    ];
    for (k, v) in extra {
        ini.push((k, (*v).to_owned()));
    }
    let ini_ref: Vec<(&str, &str)> = ini.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = php(&ini_ref)
        .arg("script.php")
        .current_dir(work.path())
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(
        out.status.success(),
        "php failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// The scripts (also run at full scale for docs/benchmarks.md).
const JOBS_PHP: &str = include_str!("long_running/jobs.php");
const CALLS_PHP: &str = include_str!("long_running/calls.php");

/// A queue worker: `newrelic_end_transaction` / `newrelic_start_transaction`
/// around every job, each job making a few dozen kept calls and an
/// attribute.
#[test]
fn a_queue_worker_keeps_memory_flat_and_segments_bounded() {
    const JOBS: usize = 5_000;
    const MAX_SEGMENTS: usize = 16;
    let d = FakeDaemon::start(Mode::Connected);
    let script = JOBS_PHP;
    let out = run(
        &d,
        script,
        &[("JOBS", JOBS.to_string())],
        &[(
            "newrelic.transaction_tracer.max_segments_cli",
            &MAX_SEGMENTS.to_string(),
        )],
    );
    let (warm, end) = (rss(&out, "warm"), rss(&out, "end"));
    // A leak of even 1 KB per job would add 4.5 MB over the jobs after
    // the warm-up; allocator noise is well under the margin.
    assert!(
        end <= warm + 3 * 1024,
        "RSS grew from {warm} kB to {end} kB over {} jobs",
        JOBS - JOBS / 10
    );
    let frames = d.wait_frames(JOBS + 1);
    let txns: Vec<_> = frames
        .iter()
        .filter(|f| f.kind() == "Transaction")
        .map(|f| f.txn())
        .collect();
    // One per job plus the script's own first transaction, ended by the
    // first newrelic_end_transaction().
    assert_eq!(txns.len(), JOBS + 1, "transactions sent");
    let jobs: Vec<_> = txns
        .iter()
        .filter(|t| t.name == "OtherTransaction/Custom/job")
        .collect();
    assert_eq!(jobs.len(), JOBS);
    for t in &jobs {
        // The root plus at most MAX_SEGMENTS - 1 kept segments.
        assert!(
            t.span_events.len() <= MAX_SEGMENTS,
            "{} span events",
            t.span_events.len()
        );
        let trace = t
            .trace
            .as_ref()
            .expect("threshold 0: every job has a trace");
        assert!(trace_nodes(&trace.data) <= MAX_SEGMENTS);
    }
    // The limit was binding: every job filled the kept set (41 calls, all
    // worth keeping; sub-microsecond ones make no span).
    for t in &jobs {
        let allocated = allocated_segments(t);
        assert!(
            allocated >= MAX_SEGMENTS as f64,
            "{allocated} segments kept"
        );
    }
}

/// One CLI transaction with many calls, all worth keeping: the kept set
/// stays at the limit while memory stays flat.
#[test]
fn one_transaction_with_many_calls_keeps_memory_flat_and_segments_bounded() {
    const CALLS: usize = 1_000_000;
    const MAX_SEGMENTS: usize = 500;
    let d = FakeDaemon::start(Mode::Connected);
    let script = CALLS_PHP;
    let out = run(
        &d,
        script,
        &[("CALLS", CALLS.to_string())],
        &[(
            "newrelic.transaction_tracer.max_segments_cli",
            &MAX_SEGMENTS.to_string(),
        )],
    );
    let (warm, end) = (rss(&out, "warm"), rss(&out, "end"));
    // 900 000 calls after the warm-up: a byte per call would show.
    assert!(
        end <= warm + 3 * 1024,
        "RSS grew from {warm} kB to {end} kB over {} calls",
        CALLS - CALLS / 10
    );
    let frames = d.wait_frames(2);
    let t = frames
        .iter()
        .find(|f| f.kind() == "Transaction")
        .expect("the transaction was sent")
        .txn();
    assert!(
        t.span_events.len() <= MAX_SEGMENTS,
        "{} span events",
        t.span_events.len()
    );
    let allocated = allocated_segments(&t);
    assert!(
        allocated >= MAX_SEGMENTS as f64,
        "{allocated} segments kept"
    );
    let trace = t.trace.as_ref().expect("threshold 0: a trace");
    let nodes = trace_nodes(&trace.data);
    assert!((1..=MAX_SEGMENTS).contains(&nodes), "{nodes} trace nodes");
}

/// The web limit applies to web transactions (php-cgi), the CLI one not.
#[test]
fn a_web_transaction_keeps_to_max_segments_web() {
    require("php-cgi", "php8.2-cgi");
    const MAX_SEGMENTS: usize = 100;
    let d = FakeDaemon::start(Mode::Connected);
    let work = tempfile::tempdir().unwrap();
    let script = work.path().join("index.php");
    std::fs::write(
        &script,
        // Each call builds a 64 KB string: well over a microsecond, so
        // every kept segment makes a span.
        "<?php function leaf($i) { return strlen(str_repeat('x', 65536 + $i)); }\n\
         for ($i = 0; $i < 20000; $i++) { leaf($i); }\necho 'ok';\n",
    )
    .unwrap();
    let address = d.address();
    let max_web = MAX_SEGMENTS.to_string();
    let mut ini = daemon_ini(&address);
    ini.extend([
        ("newrelic.appname", "long-running"),
        ("newrelic.special.expensive_node_min", "0"),
        ("newrelic.transaction_tracer.max_segments_web", &max_web),
        ("newrelic.transaction_tracer.max_segments_cli", "5"),
        ("cgi.force_redirect", "0"),
    ]);
    let mut cmd = php_cgi(&ini);
    let out = get_index(&mut cmd, &script).output().unwrap();
    assert!(stdout(&out).ends_with("ok"), "{}", stdout(&out));
    let frames = d.wait_frames(2);
    let t = frames
        .iter()
        .find(|f| f.kind() == "Transaction")
        .expect("the transaction was sent")
        .txn();
    assert!(t.name.starts_with("WebTransaction/"), "{}", t.name);
    // The web limit (not the CLI one of 5): at most the root and the 99
    // slowest calls, and far more than 5.
    let n = t.span_events.len();
    assert!(
        (MAX_SEGMENTS / 2..=MAX_SEGMENTS).contains(&n),
        "{n} span events"
    );
    let allocated = allocated_segments(&t);
    assert!(
        allocated >= MAX_SEGMENTS as f64,
        "{allocated} segments kept"
    );
}
