//! Demotion end to end (PHP 8.2+): a function whose calls are all short
//! stops being observed, and what New Relic's agent would show stays: the
//! slow functions around it, their nesting and durations, exceptions, and
//! a demoted function that becomes slow once it is revisited. Slowness
//! comes from usleep; nothing here asserts a duration bound.

mod common;
use common::fake_daemon::{FakeDaemon, Mode};
use common::*;
use serde_json::Value;

/// Where every run here starts: a fake daemon and a directory holding
/// the script.
struct Stage {
    daemon: FakeDaemon,
    dir: tempfile::TempDir,
    address: String,
}

impl Stage {
    /// Writes `contents` to `file` in a new directory; starts a daemon.
    fn new(file: &str, contents: &str) -> Self {
        let daemon = FakeDaemon::start(Mode::Connected);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(file), contents).unwrap();
        let address = daemon.address();
        Self {
            daemon,
            dir,
            address,
        }
    }

    fn path(&self, file: &str) -> std::path::PathBuf {
        self.dir.path().join(file)
    }

    /// Settings under which every user function is traced, so that only
    /// demotion keeps a short one out. A call is short below 10 ms here
    /// (2 ms by default): a tiny call preempted on a loaded machine must
    /// not pass for a slow one, and the slow calls sleep 20 ms or more.
    fn traced_ini(&self) -> Vec<(&'static str, &str)> {
        let mut ini = daemon_ini(&self.address);
        ini.extend([
            ("newrelic.appname", "demotion"),
            ("newrelic.transaction_tracer.detail", "1"),
            ("newrelic.transaction_tracer.threshold", "1ms"),
            ("newrelic.special.expensive_node_min", "10ms"),
        ]);
        ini
    }

    /// The `n` transactions the daemon receives (after the app query), in
    /// order.
    fn transactions(&self, n: usize) -> Vec<seraph_wire::TransactionData> {
        self.daemon
            .wait_frames(1 + n)
            .iter()
            .filter(|f| f.kind() == "Transaction")
            .map(|f| f.txn())
            .collect()
    }
}

/// Runs `script` (which prints "done") with `env`; returns the
/// transactions the daemon received, in order.
fn run(script: &str, env: &[(&str, &str)], txns: usize) -> Vec<seraph_wire::TransactionData> {
    let stage = Stage::new("s.php", script);
    let mut cmd = php(&stage.traced_ini());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .arg("s.php")
        .current_dir(stage.dir.path())
        .output()
        .unwrap();
    assert_eq!(
        stdout(&out),
        "done\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stage.transactions(txns)
}

/// Whether this PHP can remove observer handlers (8.2+).
fn demotes() -> bool {
    php_version().as_str() >= "8.2"
}

fn spans(txn: &seraph_wire::TransactionData) -> Vec<Value> {
    txn.span_events
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect()
}

/// The one span named `name`.
fn span<'a>(spans: &'a [Value], name: &str) -> &'a Value {
    let v: Vec<&Value> = spans.iter().filter(|s| s[0]["name"] == name).collect();
    assert_eq!(v.len(), 1, "{name}: {spans:#?}");
    v[0]
}

/// Its parent's guid.
fn parent(s: &Value) -> &str {
    s[0]["parentId"].as_str().unwrap_or("")
}

fn guid(s: &Value) -> &str {
    s[0]["guid"].as_str().unwrap()
}

fn user_calls(txn: &seraph_wire::TransactionData) -> u64 {
    txn.metrics
        .iter()
        .find(|m| m.name == "Supportability/execute/user/call_count")
        .map_or(0, |m| (m.total * 1e6).round() as u64)
}

#[test]
fn a_hot_short_function_is_demoted_and_its_slow_caller_kept() {
    const SCRIPT: &str = r#"<?php
function tiny($i) { return $i + 1; }
function slow() { for ($i = 0; $i < 1000; $i++) { tiny($i); } usleep(30000); }
slow();
echo "done\n";
"#;
    let txn = &run(SCRIPT, &[], 1)[0];
    let spans = spans(txn);
    let slow = span(&spans, "Custom/slow");
    let root = spans
        .iter()
        .find(|s| s[0]["nr.entryPoint"] == Value::Bool(true))
        .expect("root span");
    assert_eq!(parent(slow), guid(root));
    assert!(txn
        .trace
        .as_ref()
        .expect("a trace")
        .data
        .contains("Custom\\/slow"));
    assert!(spans.iter().all(|s| s[0]["name"] != "Custom/tiny"));
    let calls = user_calls(txn);
    if demotes() {
        // tiny() stopped being observed after its first short calls.
        assert!(calls < 1001, "{calls} calls observed");
    } else {
        assert_eq!(calls, 1001);
    }
}

#[test]
fn recursion_demoted_mid_flight_keeps_the_parents_right() {
    // fib is demoted inside fib(15) with about 15 of its calls still
    // open: their ends are never seen. The segments around must keep their
    // names, nesting and durations.
    const SCRIPT: &str = r#"<?php
function fib($n) { return $n < 2 ? $n : fib($n - 1) + fib($n - 2); }
function inner() { usleep(20000); }
function outer() { fib(15); inner(); fib(10); return 1; }
function top() { outer(); usleep(20000); inner(); }
top();
echo "done\n";
"#;
    let txn = &run(SCRIPT, &[], 1)[0];
    let spans = spans(txn);
    let top = span(&spans, "Custom/top");
    let outer = span(&spans, "Custom/outer");
    let inners: Vec<&Value> = spans
        .iter()
        .filter(|s| s[0]["name"] == "Custom/inner")
        .collect();
    assert_eq!(inners.len(), 2, "{spans:#?}");
    assert_eq!(parent(outer), guid(top));
    let mut parents: Vec<&str> = inners.iter().map(|s| parent(s)).collect();
    parents.sort_unstable();
    let mut want = vec![guid(outer), guid(top)];
    want.sort_unstable();
    assert_eq!(parents, want);
    for s in &spans {
        let d = s[0]["duration"].as_f64().expect("duration");
        assert!(d >= 0.0, "{s}");
    }
    // A parent lasts at least as long as its child.
    let dur = |s: &Value| s[0]["duration"].as_f64().unwrap();
    assert!(dur(top) >= dur(outer));
    let inner_of_outer = inners.iter().find(|s| parent(s) == guid(outer)).unwrap();
    assert!(dur(outer) >= dur(inner_of_outer));
    // No fib call lasted long enough to be kept, and none took another
    // call's place.
    assert!(
        spans.iter().all(|s| s[0]["name"] != "Custom/fib"),
        "{spans:#?}"
    );
}

#[test]
fn an_exception_after_demotion_is_recorded_on_its_caller() {
    const SCRIPT: &str = r#"<?php
function fib($n) { return $n < 2 ? $n : fib($n - 1) + fib($n - 2); }
function fails() { fib(12); throw new RuntimeException("boom"); }
function catches() { try { fails(); } catch (RuntimeException $e) { usleep(20000); } }
catches();
echo "done\n";
"#;
    let txn = &run(SCRIPT, &[], 1)[0];
    let spans = spans(txn);
    let fails = span(&spans, "Custom/fails");
    let catches = span(&spans, "Custom/catches");
    assert_eq!(fails[2]["error.class"], "RuntimeException", "{fails}");
    assert_eq!(parent(fails), guid(catches));
    assert!(catches[2].get("error.class").is_none(), "{catches}");
}

#[test]
fn a_demoted_function_that_became_slow_is_traced_after_the_revisit() {
    if !demotes() {
        return;
    }
    // SERAPH_DEMOTE=1: demoted functions are revisited after one
    // transaction (the default is 1000, or 60 s). The script's second
    // transaction starts in the same PHP request: the handlers removed in
    // the first are added back.
    const SCRIPT: &str = r#"<?php
function f($slow) { if ($slow) { usleep(30000); } return 1; }
for ($i = 0; $i < 300; $i++) { f(false); }
newrelic_end_transaction();
newrelic_start_transaction("demotion");
f(true);
for ($i = 0; $i < 10; $i++) { f(false); }
echo "done\n";
"#;
    let txns = run(SCRIPT, &[("SERAPH_DEMOTE", "1")], 2);
    assert_eq!(txns.len(), 2);
    assert!(user_calls(&txns[0]) < 300, "{}", user_calls(&txns[0]));
    let second = spans(&txns[1]);
    span(&second, "Custom/f");
    assert_eq!(user_calls(&txns[1]), 11);
}

#[test]
fn without_a_revisit_a_demoted_function_stays_unobserved() {
    if !demotes() {
        return;
    }
    // The same script with the default revisit: the slow call in the
    // second transaction is not seen (the documented cost of demotion).
    const SCRIPT: &str = r#"<?php
function f($slow) { if ($slow) { usleep(30000); } return 1; }
for ($i = 0; $i < 300; $i++) { f(false); }
newrelic_end_transaction();
newrelic_start_transaction("demotion");
f(true);
echo "done\n";
"#;
    let txns = run(SCRIPT, &[], 2);
    assert_eq!(txns.len(), 2);
    assert!(spans(&txns[1]).iter().all(|s| s[0]["name"] != "Custom/f"));
    assert_eq!(user_calls(&txns[1]), 0);
}

#[test]
fn memcheck_clean_when_recursion_is_demoted_mid_flight() {
    require("valgrind", "valgrind");
    if !demotes() {
        return;
    }
    // Valgrind slows every call (and a code path's first run most), so
    // expensive_node_min is raised to keep calls "short". The short calls
    // are leaves (rec(0)), made while three rec frames are open. After the
    // demotion, the API attaches to the current segment (the orphans are
    // skipped) and an exception leaves a caller.
    const SCRIPT: &str = r#"<?php
function rec($d) {
    if ($d == 0) { return 1; }
    $s = 0;
    for ($i = 0; $i < 50; $i++) { $s += rec(0); }
    return $s + rec($d - 1);
}
function after() { newrelic_add_custom_span_parameter('k', 'v'); throw new LogicException('x'); }
function outer() { rec(3); try { after(); } catch (LogicException $e) {} return 1; }
outer();
echo "done\n";
"#;
    let stage = Stage::new("s.php", SCRIPT);
    let mut ini = daemon_ini(&stage.address);
    ini.push(("newrelic.special.appinfo_timeout", "5s"));
    ini.push(("newrelic.special.expensive_node_min", "1s"));
    let out = memcheck(&php(&ini))
        .arg("s.php")
        .current_dir(stage.dir.path())
        .output()
        .unwrap();
    assert_ne!(
        out.status.code(),
        Some(99),
        "valgrind reported errors:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout(&out), "done\n");
    let txn = stage.transactions(1).pop().expect("a transaction");
    // 3 * 50 + 4 calls of rec, outer and after: rec was demoted.
    assert!(user_calls(&txn) < 156, "{}", user_calls(&txn));
    let spans = spans(&txn);
    let after = span(&spans, "Custom/after");
    assert_eq!(after[2]["error.class"], "LogicException", "{after}");
    assert_eq!(after[1]["k"], "v", "{after}");
    // outer() is short under a 1 s threshold and dropped, so after()
    // hangs from the root, not from an orphaned rec() call.
    let root = spans
        .iter()
        .find(|s| s[0]["nr.entryPoint"] == Value::Bool(true))
        .expect("root span");
    assert_eq!(parent(after), guid(root));
    assert!(
        spans.iter().all(|s| s[0]["name"] != "Custom/rec"),
        "{spans:#?}"
    );
}

#[test]
fn a_function_with_a_slow_call_stays_observed_for_the_request() {
    // The first call is slow: the function is ruled out of demotion (and
    // its end handler stops counting); its later slow call is traced.
    const SCRIPT: &str = r#"<?php
function mixed($slow) { if ($slow) { usleep(20000); } return 1; }
mixed(true);
for ($i = 0; $i < 300; $i++) { mixed(false); }
mixed(true);
echo "done\n";
"#;
    let txn = &run(SCRIPT, &[], 1)[0];
    let n = spans(txn)
        .iter()
        .filter(|s| s[0]["name"] == "Custom/mixed")
        .count();
    assert_eq!(n, 2);
    assert_eq!(user_calls(txn), 302);
}

/// Runs `script` `requests` times in one php-cgi process (`-T`), so that
/// what demotion learns is kept between requests; each request can read
/// its number (1, 2, …) from `request_number()`. Returns the
/// transactions, in order.
fn run_cgi(
    script: &str,
    env: &[(&str, &str)],
    requests: usize,
) -> Vec<seraph_wire::TransactionData> {
    require("php-cgi", "php8.2-cgi");
    let prelude = "<?php\nfunction request_number() { static $n = 0; \
                   if ($n == 0) { $n = (int) @file_get_contents(__DIR__ . '/n') + 1; \
                   file_put_contents(__DIR__ . '/n', (string) $n); } return $n; }\n";
    let body = script.trim_start_matches("<?php");
    let stage = Stage::new("index.php", &format!("{prelude}{body}"));
    let path = stage.path("index.php");
    let mut ini = stage.traced_ini();
    ini.push(("cgi.force_redirect", "0"));
    let mut cmd = php_cgi(&ini);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = get_index(&mut cmd, &path)
        .arg("-T")
        .arg(requests.to_string())
        .current_dir(stage.dir.path())
        .output()
        .unwrap();
    assert_eq!(
        stdout(&out).matches("done").count(),
        requests,
        "{}{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    stage.transactions(requests)
}

#[test]
fn short_calls_add_up_over_requests() {
    if !demotes() {
        return;
    }
    // small() makes 50 short calls per request: never 128 in one, so only
    // the process-wide count demotes it, during the third request (calls
    // 101 to 128 are observed, the rest not). slow() stays observed and
    // traced in every request.
    const SCRIPT: &str = r#"<?php
request_number();
function small($i) { return $i + 1; }
function slow() { for ($i = 0; $i < 50; $i++) { small($i); } usleep(30000); }
slow();
echo "done\n";
"#;
    let txns = run_cgi(SCRIPT, &[], 4);
    assert_eq!(txns.len(), 4);
    // Observed user calls: request_number(), slow() and small().
    let calls: Vec<u64> = txns.iter().map(user_calls).collect();
    assert_eq!(calls, [52, 52, 30, 2], "observed user calls");
    for txn in &txns {
        let spans = spans(txn);
        let slow = span(&spans, "Custom/slow");
        let root = spans
            .iter()
            .find(|s| s[0]["nr.entryPoint"] == Value::Bool(true))
            .expect("root span");
        assert_eq!(parent(slow), guid(root));
    }
}

#[test]
fn a_slow_call_restarts_the_count() {
    if !demotes() {
        return;
    }
    // mixed() is short in the first request and slow once, at the end, of
    // the second: its count starts again from zero, so it is still
    // observed in the third and fourth, although its short calls then
    // exceed 128 in total, and demoted in the fifth.
    const SCRIPT: &str = r#"<?php
function mixed($slow) { if ($slow) { usleep(20000); } return 1; }
for ($i = 0; $i < 50; $i++) { mixed(false); }
if (request_number() == 2) { mixed(true); }
echo "done\n";
"#;
    let txns = run_cgi(SCRIPT, &[], 5);
    // Observed user calls: request_number() and mixed().
    let calls: Vec<u64> = txns.iter().map(user_calls).collect();
    assert_eq!(calls, [51, 52, 51, 51, 29], "observed user calls");
    span(&spans(&txns[1]), "Custom/mixed");
}

#[test]
fn a_function_demoted_in_an_earlier_request_is_seen_after_the_revisit() {
    if !demotes() {
        return;
    }
    // SERAPH_DEMOTE=2: revisited two transactions after its demotion.
    // f() is demoted in the first request, not observed in the second,
    // observed again in the third, where its first call is slow: traced,
    // and not demoted in that request.
    const SCRIPT: &str = r#"<?php
function f($slow) { if ($slow) { usleep(30000); } return 1; }
if (request_number() == 3) { f(true); }
for ($i = 0; $i < 200; $i++) { f(false); }
echo "done\n";
"#;
    let txns = run_cgi(SCRIPT, &[("SERAPH_DEMOTE", "2")], 3);
    // Observed user calls: request_number() and f().
    let calls: Vec<u64> = txns.iter().map(user_calls).collect();
    assert_eq!(calls, [129, 1, 202], "observed user calls");
    span(&spans(&txns[2]), "Custom/f");
    assert!(spans(&txns[1]).iter().all(|s| s[0]["name"] != "Custom/f"));
}
