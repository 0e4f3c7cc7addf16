//! Merge throughput: how many real agent transactions per second one core
//! folds into a `Harvest`.
//!
//! The frames are the `Transaction` vectors captured from New Relic's PHP
//! agent (17–33 metrics, 1–7 span events, one transaction event each),
//! re-encoded into copies with varied sampling priorities so reservoir
//! sampling behaves as under real traffic once the reservoirs fill. Every
//! `HARVEST_EVERY` merges the harvest is emptied as a harvest tick would.
//!
//! Run with `cargo bench -p seraph-harvest --bench merge`; set
//! `MERGE_BENCH_N` to change the number of merges (default 2 000 000).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use seraph_harvest::{EventKind, Harvest, HarvestLimits};
use seraph_wire::{decode, encode_transaction, Body, TransactionData};

const COPIES_PER_VECTOR: usize = 64;
const HARVEST_EVERY: usize = 500_000;

fn frames(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            frames(&p, out);
        } else if p.to_string_lossy().ends_with("-Transaction.bin") {
            out.push(p);
        }
    }
}

/// A tiny deterministic generator for priorities in [0, 2).
struct Lcg(u64);

impl Lcg {
    fn next_priority(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64 * 2.0
    }
}

/// The captured frame bodies, preamble stripped, exactly as the agent sent
/// them.
fn captured() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors");
    let mut paths = Vec::new();
    frames(&dir, &mut paths);
    assert!(!paths.is_empty(), "no vectors under {}", dir.display());
    paths
        .iter()
        .map(|p| std::fs::read(p).expect("read vector")[8..].to_vec())
        .collect()
}

/// Re-encoded copies of the captured frames with varied priorities and PIDs.
fn bodies(captured: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut rng = Lcg(42);
    let mut out = Vec::new();
    for body in captured {
        let mut scratch = Vec::new();
        let msg = decode(body, &mut scratch).expect("decode vector");
        let Body::Transaction(t) = msg.body else {
            continue;
        };
        let base = TransactionData::from_fb(&t);
        for i in 0..COPIES_PER_VECTOR {
            let mut txn = base.clone();
            txn.sampling_priority = rng.next_priority();
            txn.pid = 1000 + (i as i32 % 8);
            out.push(encode_transaction("RUN-1", &txn));
        }
    }
    // Interleave the scenarios.
    let n = out.len();
    (0..n)
        .map(|i| out[(i * COPIES_PER_VECTOR) % n + (i * COPIES_PER_VECTOR) / n].clone())
        .collect()
}

fn drain(h: &mut Harvest) -> usize {
    let mut kept = h.take_default_data(SystemTime::UNIX_EPOCH).metrics.len();
    for kind in EventKind::ALL {
        kept += h.take_events(kind).len();
    }
    kept
}

fn report(label: &str, n: usize, elapsed: Duration) {
    let per_sec = n as f64 / elapsed.as_secs_f64();
    println!(
        "{label:<46} {n:>9} merges in {:>8.3} s = {:>10.0} transactions/s ({:.0} ns each)",
        elapsed.as_secs_f64(),
        per_sec,
        elapsed.as_nanos() as f64 / n as f64
    );
}

fn main() {
    let n: usize = std::env::var("MERGE_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000_000);
    let captured = captured();
    let bodies = bodies(&captured);
    let avg_len = bodies.iter().map(Vec::len).sum::<usize>() / bodies.len();
    println!(
        "{} distinct frames (avg {avg_len} bytes), harvest emptied every {HARVEST_EVERY} merges",
        bodies.len()
    );

    // Verify (FlatBuffers verifier, as the daemon does per frame) + merge.
    let mut h = Harvest::new(HarvestLimits::default(), SystemTime::UNIX_EPOCH);
    let mut scratch = Vec::new();
    let mut sink = 0usize;
    let started = Instant::now();
    for i in 0..n {
        let body = &bodies[i % bodies.len()];
        let msg = decode(body, &mut scratch).expect("decode");
        if let Body::Transaction(t) = msg.body {
            h.add_transaction(t, body.len());
        }
        if (i + 1) % HARVEST_EVERY == 0 {
            sink += drain(&mut h);
        }
    }
    report("verify + merge", n, started.elapsed());

    // The agent's own frames: most are not a multiple of 8 bytes long, so
    // seraph_wire::decode realigns them into the scratch buffer first.
    let unaligned = captured.iter().filter(|b| b.len() % 8 != 0).count();
    let mut h = Harvest::new(HarvestLimits::default(), SystemTime::UNIX_EPOCH);
    let started = Instant::now();
    for i in 0..n {
        let body = &captured[i % captured.len()];
        let msg = decode(body, &mut scratch).expect("decode");
        if let Body::Transaction(t) = msg.body {
            h.add_transaction(t, body.len());
        }
        if (i + 1) % HARVEST_EVERY == 0 {
            sink += drain(&mut h);
        }
    }
    report(
        &format!(
            "verify + merge, captured ({unaligned}/{} unaligned)",
            captured.len()
        ),
        n,
        started.elapsed(),
    );

    // Merge only: the frames are verified once up front.
    let mut scratches: Vec<Vec<u8>> = vec![Vec::new(); bodies.len()];
    let views: Vec<_> = bodies
        .iter()
        .zip(scratches.iter_mut())
        .filter_map(|(b, s)| match decode(b, s).expect("decode").body {
            Body::Transaction(t) => Some((t, b.len())),
            _ => None,
        })
        .collect();
    let mut h = Harvest::new(HarvestLimits::default(), SystemTime::UNIX_EPOCH);
    let started = Instant::now();
    for i in 0..n {
        let (t, len) = views[i % views.len()];
        h.add_transaction(t, len);
        if (i + 1) % HARVEST_EVERY == 0 {
            sink += drain(&mut h);
        }
    }
    report("merge only", n, started.elapsed());
    sink += drain(&mut h);
    println!("(kept items: {sink})");
}
