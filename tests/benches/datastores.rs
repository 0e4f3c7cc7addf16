//! Datastore call overhead (a benchmark, not a test): the cost the
//! extension adds to one `mysqli_query('SELECT 1')` and one Redis `GET`
//! against the real servers of `seraph_e2e::services`.
//!
//! ```sh
//! cargo build --release -p newrelic-php
//! cargo bench -p seraph-e2e --bench datastores [-- RUNS]
//! ```
//!
//! Runs `php-ext/benches/datastores.php` (10 000 calls of each kind per
//! run, `BENCH_CALLS` to change) `RUNS` times (default 11) without and with
//! the release extension, interleaved so drift affects both alike, the
//! extension talking to `php-ext/benches/fake_daemon.py` so transactions
//! really run and are sent. Prints the median µs per call, the ratio and
//! the difference, and the CPU model.
//!
//! `-- instructions` counts instead (valgrind's callgrind, machine load
//! does not matter): each kind of call alone, 1 000 and 3 000 calls, with
//! and without the extension; the extension's instructions per call are
//! the difference of the differences divided by 2 000, so start-up and
//! per-request costs cancel while the transaction's end-of-request work
//! per segment counts.

use seraph_e2e::services;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repository root")
        .to_path_buf()
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown CPU".into())
}

/// Kills the fake daemon when the benchmark ends.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Instructions callgrind counted for one run (`Collected : N`).
fn instructions(env: &[(String, String)], agent: Option<&[String]>, only: &str, calls: u32) -> u64 {
    let script = root().join("php-ext/benches/datastores.php");
    let mut cmd = Command::new("valgrind");
    cmd.args(["--tool=callgrind", "--callgrind-out-file=/dev/null", "php"]);
    if let Some(args) = agent {
        cmd.args(args);
    }
    let out = cmd
        .arg(&script)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("BENCH_ONLY", only)
        .env("BENCH_CALLS", calls.to_string())
        .output()
        .expect("run valgrind (apt-get install valgrind)");
    let err = String::from_utf8_lossy(&out.stderr);
    err.lines()
        .find_map(|l| l.split("Collected :").nth(1))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no instruction count from callgrind: {err}"))
}

fn run_php(env: &[(String, String)], agent: Option<&[String]>) -> (f64, f64) {
    let script = root().join("php-ext/benches/datastores.php");
    let mut cmd = Command::new("php");
    if let Some(args) = agent {
        cmd.args(args);
    }
    let out = cmd
        .arg(&script)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("run php");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "php failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or_else(|| panic!("no '{name}' in the output: {text}"))
    };
    (field("mysqli "), field("redis "))
}

fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(11);
    let count_instructions = std::env::args().any(|a| a == "instructions");
    let so = root().join("target/release/libnewrelic_php.so");
    assert!(
        so.exists(),
        "{} is missing: cargo build --release -p newrelic-php",
        so.display()
    );
    let mut env = services::mariadb().env();
    env.extend(services::redis().env());

    let dir = tempfile::tempdir().expect("temp dir");
    let sock = dir.path().join("daemon.sock");
    let daemon = Daemon(
        Command::new("python3")
            .arg(root().join("php-ext/benches/fake_daemon.py"))
            .arg(&sock)
            .arg(root().join("tests/vectors/00-app/AppReply-from-fake-daemon.bin"))
            .stdout(Stdio::null())
            .spawn()
            .expect("start php-ext/benches/fake_daemon.py"),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !sock.exists() {
        assert!(Instant::now() < deadline, "the fake daemon did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let agent: Vec<String> = [
        format!("extension={}", so.display()),
        format!("newrelic.daemon.address={}", sock.display()),
        "newrelic.daemon.dont_launch=3".into(),
        "newrelic.license=0123456789012345678901234567890123456789".into(),
        "newrelic.appname=bench".into(),
        "newrelic.daemon.app_connect_timeout=5s".into(),
    ]
    .into_iter()
    .flat_map(|s| ["-d".to_owned(), s])
    .collect();

    if count_instructions {
        println!("CPU: {}", cpu_model());
        println!("instructions per call (callgrind):");
        println!(
            "{:<28} {:>10} {:>10} {:>9}",
            "call", "without", "with", "added"
        );
        for (name, only) in [
            ("mysqli_query('SELECT 1')", "mysqli"),
            ("Redis::get", "redis"),
        ] {
            let per_call = |agent: Option<&[String]>| {
                let a = instructions(&env, agent, only, 1000);
                let b = instructions(&env, agent, only, 3000);
                b.saturating_sub(a) as f64 / 2000.0
            };
            let (without, with) = (per_call(None), per_call(Some(&agent)));
            println!(
                "{name:<28} {without:>10.0} {with:>10.0} {:>9.0}",
                with - without
            );
        }
        drop(daemon);
        return;
    }
    let (mut m0, mut r0, mut m1, mut r1) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let (m, r) = run_php(&env, None);
        m0.push(m);
        r0.push(r);
        let (m, r) = run_php(&env, Some(&agent));
        m1.push(m);
        r1.push(r);
    }
    drop(daemon);
    println!("CPU: {}", cpu_model());
    println!("{runs} interleaved runs, median µs per call:");
    println!(
        "{:<28} {:>10} {:>10} {:>7} {:>9}",
        "call", "without", "with", "ratio", "added"
    );
    for (name, without, with) in [
        ("mysqli_query('SELECT 1')", &mut m0, &mut m1),
        ("Redis::get", &mut r0, &mut r1),
    ] {
        let (a, b) = (median(without), median(with));
        println!(
            "{name:<28} {a:>10.2} {b:>10.2} {:>7.3} {:>8.2}",
            b / a,
            b - a
        );
    }
}
