//! The cost of a transaction through the C library (a benchmark, not a
//! test), against the real daemon and the collector stand-in.
//!
//! ```sh
//! cargo build --release --workspace
//! cargo bench -p seraph-agent-ffi --bench transactions [-- RUNS]
//! ```
//!
//! `benches/c/bench.c` (built with `cc -O2` against the installed release
//! library) times 2000 transactions per thread, on 1 and on 8 threads, in
//! three kinds: `ignored` (start, ignore, end: the bookkeeping alone),
//! `empty` (start, end: one small frame sent) and `full` (two attributes, a
//! datastore, an external and a custom segment, a custom event). Each
//! configuration runs RUNS times (default 5), interleaved; the medians of
//! wall and CPU µs per transaction are printed with each kind's ratio to
//! `ignored` measured in the same run, and the CPU model.

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::Command;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn cpu_model() -> String {
    let out = Command::new("lscpu")
        .output()
        .map(|o| o.stdout)
        .unwrap_or_default();
    String::from_utf8_lossy(&out)
        .lines()
        .find_map(|l| l.strip_prefix("Model name:").map(|m| m.trim().to_owned()))
        .unwrap_or_else(|| "unknown CPU".into())
}

fn main() {
    let runs: usize = std::env::args()
        .filter_map(|a| a.parse().ok())
        .next()
        .unwrap_or(5);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let env = rt.block_on(common::Env::start());
    let bin = env.path("bench");
    common::cc(&["benches/c/bench.c"], &bin, common::Link::Shared, &["-O2"]);
    let app = common::app_name("bench");
    let kinds = ["ignored", "empty", "full"];
    println!(
        "CPU: {}; {runs} runs of 2000 transactions per thread",
        cpu_model()
    );
    println!(
        "{:>8} {:>8} {:>12} {:>12} {:>10}",
        "threads", "kind", "wall µs/txn", "CPU µs/txn", "CPU ratio"
    );
    for threads in ["1", "8"] {
        let mut results: Vec<(Vec<f64>, Vec<f64>)> = vec![(Vec::new(), Vec::new()); kinds.len()];
        for _ in 0..runs {
            for (k, kind) in kinds.iter().enumerate() {
                let mut c = env.command(&bin, &app);
                c.env_remove("NEW_RELIC_LOG").args([*kind, threads, "2000"]);
                let out = env.run_ok(&mut c, &app);
                let text = String::from_utf8_lossy(&out.stdout);
                let mut f = text.split_whitespace().map(|x| x.parse::<f64>().unwrap());
                results[k].0.push(f.next().unwrap());
                results[k].1.push(f.next().unwrap());
            }
        }
        let base_cpu = median(&mut results[0].1.clone());
        for (k, kind) in kinds.iter().enumerate() {
            let wall = median(&mut results[k].0);
            let cpu = median(&mut results[k].1);
            println!(
                "{threads:>8} {kind:>8} {wall:>12.2} {cpu:>12.2} {:>10.2}",
                cpu / base_cpu
            );
        }
    }
}
