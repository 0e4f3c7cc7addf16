//! Bailouts (fatal errors, the memory limit: PHP's `longjmp`) that strike
//! while the agent is inside one of its own calls into PHP. The agent must
//! record what it can, let PHP unwind, and keep working for the next
//! request of the same process: a bailout that skipped the release of the
//! agent's state used to switch the agent off for the rest of the process
//! (every later request of a php-fpm worker uninstrumented, silently).

mod common;
use common::fake_daemon::{FakeDaemon, Mode, Received};
use common::*;
use std::process::Command;

const LICENSE: &str = "0123456789012345678901234567890123456789";

fn transactions(frames: &[Received]) -> Vec<seraph_wire::TransactionData> {
    frames
        .iter()
        .filter(|f| f.kind() == "Transaction")
        .map(Received::txn)
        .collect()
}

/// `php-cgi -T <n>`: `n` requests of `script` in one process, as one
/// php-fpm worker serves them.
fn cgi_repeat(d: &FakeDaemon, script: &str, n: usize) -> String {
    require("php-cgi", "php-cgi");
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("index.php");
    std::fs::write(&file, script).unwrap();
    let out = Command::new("php-cgi")
        .arg("-n")
        .arg("-d")
        .arg(format!("extension={}", extension_path().display()))
        .args(["-d", &format!("newrelic.daemon.address={}", d.address())])
        .args(["-d", "newrelic.daemon.dont_launch=3"])
        .args(["-d", &format!("newrelic.license={LICENSE}")])
        .args(["-d", "newrelic.daemon.app_connect_timeout=5s"])
        .args(["-T", &n.to_string()])
        .arg(&file)
        .current_dir(work.path())
        .output()
        .unwrap();
    stdout(&out)
}

/// An exception whose message is read through `__get` (the subclass unset
/// the property), which dies with a fatal error. The agent reads the
/// message when the exception is noticed. Only the first request of the
/// process does it (a marker file tells).
const LAZY: &str = r#"<?php
class LazyException extends Exception {
    public function __construct() { parent::__construct('lazy'); unset($this->message); }
    public function __get($n) { trigger_error("fatal while reading $n", E_USER_ERROR); }
}
$marker = __DIR__ . '/first-done';
if (!file_exists($marker)) {
    touch($marker);
    newrelic_notice_error(new LazyException());
    echo "not reached\n";
}
echo "request ok\n";
"#;

#[test]
fn a_fatal_error_inside_notice_error_leaves_the_agent_working() {
    let d = FakeDaemon::start(Mode::Connected);
    let out = cgi_repeat(&d, LAZY, 3);
    assert_eq!(out.matches("request ok").count(), 2, "{out}");
    assert!(!out.contains("not reached"), "{out}");
    assert!(out.contains("fatal while reading message"), "{out}");
    let txns = transactions(&d.wait_frames(4));
    assert_eq!(
        txns.len(),
        3,
        "one transaction per request, the fatal one included"
    );
    assert_eq!(txns[0].errors.len(), 1);
    assert!(
        txns[0].errors[0]
            .data
            .contains("fatal while reading message")
            && txns[0].errors[0].data.contains("E_USER_ERROR"),
        "{}",
        txns[0].errors[0].data
    );
    assert!(txns[1].errors.is_empty() && txns[2].errors.is_empty());
}

/// The same exception thrown and left uncaught: the observer's end handler
/// and the error callback read it outside the agent's borrow (this passed
/// before the fix too); the shim now catches the bailout of the `__get`
/// and the entry point re-raises it after its Rust frames have finished.
#[test]
fn a_fatal_error_reading_a_thrown_exception_leaves_the_agent_working() {
    let script = r#"<?php
class LazyException extends Exception {
    public function __construct() { parent::__construct('lazy'); unset($this->message); }
    public function __get($n) { trigger_error("fatal while reading $n", E_USER_ERROR); }
}
function thrower() { throw new LazyException(); }
$marker = __DIR__ . '/first-done';
if (!file_exists($marker)) {
    touch($marker);
    thrower();
}
echo "request ok\n";
"#;
    let d = FakeDaemon::start(Mode::Connected);
    let out = cgi_repeat(&d, script, 3);
    assert_eq!(out.matches("request ok").count(), 2, "{out}");
    let txns = transactions(&d.wait_frames(4));
    assert_eq!(txns.len(), 3, "{out}");
    assert!(
        txns[0]
            .errors
            .iter()
            .any(|e| e.data.contains("fatal while reading message")),
        "{:?}",
        txns[0].errors
    );
}
