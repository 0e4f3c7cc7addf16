//! Argument fuzzing of every `newrelic_*` function (`tests/fuzz/api_fuzz.php`:
//! odd types, null, huge strings, invalid UTF-8, recursive arrays, objects
//! whose conversion throws, callbacks that throw or end the transaction),
//! from the CLI and as a web request through php-cgi, plainly and under
//! valgrind memcheck. The process must finish its script, valgrind must
//! report nothing, and every frame the daemon gets must decode.

mod common;
use common::fake_daemon::{FakeDaemon, Mode};
use common::*;
use std::path::PathBuf;
use std::process::{Command, Output};

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz/api_fuzz.php")
}

/// The agent's settings: connected to `d`, app `fuzz`, patient enough for
/// valgrind.
fn settings(d: &FakeDaemon) -> Vec<String> {
    [
        format!("newrelic.daemon.address={}", d.address()),
        "newrelic.daemon.dont_launch=3".into(),
        "newrelic.license=0123456789012345678901234567890123456789".into(),
        "newrelic.appname=fuzz".into(),
        "newrelic.daemon.app_connect_timeout=5s".into(),
        "newrelic.special.appinfo_timeout=5s".into(),
        "newrelic.code_level_metrics.enabled=1".into(),
        "newrelic.browser_monitoring.attributes.enabled=1".into(),
    ]
    .into_iter()
    .collect()
}

/// `php` (CLI) or `php-cgi` (a GET request) running the fuzz script,
/// under valgrind when asked.
fn command(d: &FakeDaemon, web: bool, valgrind: bool) -> Command {
    let mut c = if web { php_cgi(&[]) } else { php(&[]) };
    for s in settings(d) {
        c.arg("-d").arg(s);
    }
    let mode = if valgrind { "quick" } else { "full" };
    if web {
        c.env("REQUEST_METHOD", "GET")
            .env("SCRIPT_FILENAME", script())
            .env("SCRIPT_NAME", "/api_fuzz.php")
            .env("REQUEST_URI", format!("/api_fuzz.php?mode={mode}"))
            .env("QUERY_STRING", format!("mode={mode}"))
            .env("REDIRECT_STATUS", "200")
            .env("HTTP_HOST", "fuzz.test");
    } else {
        c.arg(script()).arg(mode);
    }
    if valgrind {
        memcheck(&c)
    } else {
        c
    }
}

fn check(out: &Output, d: &FakeDaemon, what: &str) {
    let text = stdout(out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(
        out.status.code(),
        Some(99),
        "{what}: valgrind reported errors:\n{err}"
    );
    assert!(
        text.contains("fuzz done: 32 functions"),
        "{what}: the script did not finish (status {:?}):\n{}\n{err}",
        out.status,
        text.chars()
            .rev()
            .take(2000)
            .collect::<String>()
            .chars()
            .rev()
            .collect::<String>()
    );
    assert!(
        out.status.success(),
        "{what}: status {:?}\n{err}",
        out.status
    );
    // The daemon reads on its own threads: PHP has exited, so once its
    // connections are read to their end nothing more comes.
    let frames = d.wait_idle();
    assert!(
        frames.iter().all(|f| f.kind() != "invalid"),
        "{what}: a frame did not decode"
    );
    let txns = frames.iter().filter(|f| f.kind() == "Transaction").count();
    // Calls that end the transaction (end_transaction, set_appname, …)
    // send it; the script starts the next.
    assert!(
        txns > 10,
        "{what}: only {txns} transactions reached the daemon"
    );
}

fn run(web: bool, valgrind: bool) {
    if valgrind {
        require("valgrind", "valgrind");
    }
    if web {
        require("php-cgi", "php-cgi (Debian: php8.2-cgi)");
    }
    let d = FakeDaemon::start(Mode::Browser);
    let out = command(&d, web, valgrind).output().expect("run php");
    let what = format!(
        "{}{}",
        if web { "php-cgi" } else { "php" },
        if valgrind { " under valgrind" } else { "" }
    );
    check(&out, &d, &what);
}

#[test]
fn every_function_survives_odd_arguments_cli() {
    run(false, false);
}

#[test]
fn every_function_survives_odd_arguments_web() {
    run(true, false);
}

#[test]
fn every_function_survives_odd_arguments_cli_under_valgrind() {
    run(false, true);
}

#[test]
fn every_function_survives_odd_arguments_web_under_valgrind() {
    run(true, true);
}
