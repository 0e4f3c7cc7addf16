//! Micro-benchmark of the segment recorder's hot path: `enter_frame`/`leave_frame`
//! pairs shaped like a recursive `fib`, as `transaction_tracer.detail=1`
//! produces for `fib(30)`. Run with `cargo bench -p seraph-txn`.
//!
//! The fake clock advances 40 ns per call, so nearly every call is far
//! below the 2 ms keep threshold and is dropped on `leave`, which is the
//! common case; a second run makes every call slow enough to compete for
//! the bounded kept set.

use seraph_txn::{
    ClockScale, ConnectInfo, ResourceUsage, SeededIds, Transaction, TxnConfig, TxnKind,
};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

struct Clock(u64, u64);

/// `frame` stands for the PHP frame's address, as the extension passes it
/// (`enter_frame`/`leave_frame` match a call's end to its start by it).
fn fib(txn: &mut Transaction, clock: &mut Clock, n: u32, frame: usize) -> u64 {
    txn.enter_frame(0xfeed, frame, clock.0);
    clock.0 += clock.1;
    let r = if n < 2 {
        u64::from(n)
    } else {
        fib(txn, clock, n - 1, frame + 96) + fib(txn, clock, n - 2, frame + 96)
    };
    clock.0 += clock.1;
    black_box(txn.leave_frame(frame, clock.0));
    r
}

fn fib_plain(clock: &mut Clock, n: u32) -> u64 {
    clock.0 = black_box(clock.0 + clock.1);
    let r = if n < 2 {
        u64::from(n)
    } else {
        fib_plain(clock, n - 1) + fib_plain(clock, n - 2)
    };
    clock.0 = black_box(clock.0 + clock.1);
    r
}

fn calls(n: u32) -> u64 {
    // Calls made by fib(n): 2*fib(n+1) - 1.
    let (mut a, mut b) = (0u64, 1u64);
    for _ in 0..=n {
        (a, b) = (b, a + b);
    }
    2 * a - 1
}

fn run(label: &str, tick_ns: u64) {
    const N: u32 = 25;
    const TARGET: u64 = 10_000_000;
    let per_round = calls(N);
    let rounds = TARGET.div_ceil(per_round);
    let cfg = Arc::new(TxnConfig::default());
    let connect = Arc::new(ConnectInfo::default());
    let mut ids = SeededIds::new(1);

    // Baseline: the same recursion without the recorder.
    let mut clock = Clock(0, tick_ns);
    let t0 = Instant::now();
    let mut sum = 0;
    for _ in 0..rounds {
        sum += fib_plain(&mut clock, N);
    }
    let base = t0.elapsed();
    black_box(sum);

    let mut txn = Transaction::start(
        TxnKind::Cli {
            script: "bench.php".into(),
        },
        1_700_000_000_000_000,
        0,
        ClockScale::NANOS,
        cfg,
        connect,
        (true, 1.5),
        &mut ids,
    );
    let mut clock = Clock(1, tick_ns);
    let t0 = Instant::now();
    let mut sum = 0;
    for _ in 0..rounds {
        sum += fib(&mut txn, &mut clock, N, 0x1000);
    }
    let rec = t0.elapsed();
    black_box(sum);
    let t1 = Instant::now();
    let names = |_k: usize| Some("fib".to_owned());
    let data = txn
        .finish(
            clock.0 + 1,
            1_700_000_000_000_000 + clock.0 / 1000,
            ResourceUsage::default(),
            &names,
            1,
        )
        .expect("not ignored");
    let fin = t1.elapsed();
    let pairs = rounds * per_round;
    println!(
        "{label}: {pairs} enter/leave pairs: {:.2} ns/pair with the recorder, {:.2} ns/call baseline, \
         overhead {:.2} ns/pair; finish {:.2} ms, {} span events",
        rec.as_nanos() as f64 / pairs as f64,
        base.as_nanos() as f64 / pairs as f64,
        (rec.as_nanos() as f64 - base.as_nanos() as f64) / pairs as f64,
        fin.as_secs_f64() * 1000.0,
        data.span_events.len()
    );
}

fn main() {
    run("fast calls (dropped)", 40);
    run("slow calls (heap churn)", 2_500_000);
}
