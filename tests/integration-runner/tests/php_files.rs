//! Runs the built `integration-runner` over `tests/integration/` with the
//! built extension, once acting as the daemon and once through the real
//! `newrelic-daemon`, and requires every test to pass (or fail as its XFAIL
//! declares); the LASP suites of `tests/lasp/` likewise, each with its
//! account policies. Nothing is built here: `cargo build -p newrelic-php -p
//! seraph-daemon` must have run (tests/run-all.sh builds every binary).

use std::path::{Path, PathBuf};
use std::process::Command;

/// `target/<profile>`, found from this test executable
/// (`target/<profile>/deps/php_files-…`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current test executable");
    let dir = exe
        .parent()
        .expect("test executable has a parent directory");
    if dir.ends_with("deps") {
        dir.parent().expect("deps has a parent").to_path_buf()
    } else {
        dir.to_path_buf()
    }
}

fn built(name: &str, how: &str) -> PathBuf {
    let path = target_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: run `{how}` first",
        path.display()
    );
    path
}

fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ directory")
        .to_path_buf()
}

fn run_all(extra: &[&str]) {
    run_dir(extra, "integration");
}

fn run_dir(extra: &[&str], dir: &str) {
    let agent = built("libnewrelic_php.so", "cargo build -p newrelic-php");
    let out_dir = tempfile::tempdir().expect("temp dir");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_integration-runner"));
    // The datastore tests' servers, started once for both runs.
    cmd.envs(seraph_e2e::services::php_env())
        .current_dir(tests_dir())
        .arg("--agent")
        .arg(&agent)
        .args(["--retry", "1"])
        .arg("--output-dir")
        .arg(out_dir.path())
        .args(extra)
        .arg(dir);
    let out = cmd.output().expect("run integration-runner");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let agent_log =
        std::fs::read_to_string(out_dir.path().join("php_agent.log")).unwrap_or_default();
    assert_eq!(
        out.status.code(),
        Some(0),
        "integration-runner {extra:?} {dir} failed:\n{stdout}\nstderr:\n{stderr}\nagent log (tail):\n{}",
        agent_log
            .lines()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n")
    );
    let last = stdout.lines().last().unwrap_or_default();
    assert!(
        last.contains(" passed, 0 failed, ") && !last.starts_with("0 passed"),
        "unexpected totals: {last}\n{stdout}"
    );
}

/// One thread: EXPECT_RESPONSE_HEADERS are checked only then.
#[test]
fn php_files_pass_with_the_runner_as_daemon() {
    run_all(&["--threads", "1"]);
}

#[test]
fn php_files_pass_through_the_real_daemon() {
    let daemon = built("newrelic-daemon", "cargo build -p seraph-daemon");
    run_all(&[
        "--threads",
        "2",
        "--daemon",
        daemon.to_str().expect("UTF-8 path"),
    ]);
}

/// The LASP suites, each with its account's policies, in both modes.
fn run_lasp(extra: &[&str]) {
    for suite in ["most-secure", "least-secure"] {
        let dir = format!("lasp/{suite}");
        let policies = format!("{dir}/policies.json");
        let mut args = extra.to_vec();
        args.extend(["--security-policies", policies.as_str()]);
        run_dir(&args, &dir);
    }
}

#[test]
fn lasp_suites_pass_with_the_runner_as_daemon() {
    run_lasp(&["--threads", "1"]);
}

#[test]
fn lasp_suites_pass_through_the_real_daemon() {
    let daemon = built("newrelic-daemon", "cargo build -p seraph-daemon");
    run_lasp(&[
        "--threads",
        "2",
        "--daemon",
        daemon.to_str().expect("UTF-8 path"),
    ]);
}
