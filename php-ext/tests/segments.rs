//! The observer's segment bookkeeping end to end: many fast calls are
//! counted but dropped, a slow call deep inside fast code is kept together
//! with the ancestors that contain it, and the kept tree, the trace and the
//! span events agree.

mod common;
use common::fake_daemon::{FakeDaemon, Mode};
use common::*;
use std::collections::HashMap;

const LICENSE: &str = "0123456789012345678901234567890123456789";

/// `fib(n)` makes `2 * F(n + 1) - 1` calls.
const SCRIPT: &str = r#"<?php
function fib($n) { return $n < 2 ? $n : fib($n - 1) + fib($n - 2); }
function slow() { usleep(30000); }
function w3() { fib(5); slow(); fib(5); }
function w2() { fib(5); w3(); }
function w1() { w2(); fib(10); }
fib(12);
w1();
fib(12);
echo "done\n";
"#;

/// fib(12) twice (465 each), fib(5) three times (15 each), fib(10) (177),
/// w1, w2, w3, slow.
const USER_CALLS: u64 = 2 * 465 + 3 * 15 + 177 + 4;

/// `demote`: let the observer demote functions whose calls are all short
/// (the default); without, every call is observed and counted.
fn run(d: &FakeDaemon, demote: bool) -> seraph_wire::TransactionData {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("s.php"), SCRIPT).unwrap();
    let addr = d.address();
    let out = php(&[
        ("newrelic.daemon.address", &addr),
        ("newrelic.daemon.dont_launch", "3"),
        ("newrelic.license", LICENSE),
        ("newrelic.daemon.app_connect_timeout", "5s"),
        ("newrelic.transaction_tracer.threshold", "1ms"),
        ("newrelic.transaction_tracer.detail", "1"),
    ])
    .env("SERAPH_DEMOTE", if demote { "1000" } else { "0" })
    .arg("s.php")
    .current_dir(dir.path())
    .output()
    .unwrap();
    assert_eq!(stdout(&out), "done\n");
    let frames = d.wait_frames(2);
    assert_eq!(frames.len(), 2);
    frames[1].txn()
}

fn metric_total(txn: &seraph_wire::TransactionData, name: &str) -> f64 {
    txn.metrics
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("{name} missing"))
        .total
}

#[test]
fn a_slow_call_under_fast_code_is_kept_with_its_ancestors() {
    // Without demotion every user call is counted (the value is sent in
    // microseconds).
    let d = FakeDaemon::start(Mode::Connected);
    let txn = run(&d, false);
    let calls = metric_total(&txn, "Supportability/execute/user/call_count") * 1e6;
    assert_eq!(calls.round() as u64, USER_CALLS);

    // With it (the default), fib is demoted during the first fib(12):
    // only the calls observed before count, and the rest is the same.
    let d = FakeDaemon::start(Mode::Connected);
    let txn = run(&d, true);
    let calls = metric_total(&txn, "Supportability/execute/user/call_count") * 1e6;
    assert!(calls.round() as u64 <= USER_CALLS / 2, "{calls}");

    // Spans: name -> (guid, parentId).
    let mut spans: HashMap<String, Vec<(String, Option<String>)>> = HashMap::new();
    let mut root = None;
    for e in &txn.span_events {
        let v: serde_json::Value = serde_json::from_str(e).unwrap();
        let a = &v[0];
        let name = a["name"].as_str().unwrap().to_owned();
        let guid = a["guid"].as_str().unwrap().to_owned();
        let parent = a["parentId"].as_str().map(str::to_owned);
        if a["nr.entryPoint"] == serde_json::Value::Bool(true) {
            root = Some(guid.clone());
        }
        spans.entry(name).or_default().push((guid, parent));
    }
    let root = root.expect("a root span");
    let one = |n: &str| {
        let v = spans
            .get(n)
            .unwrap_or_else(|| panic!("no span {n}: {spans:?}"));
        assert_eq!(v.len(), 1, "{n}");
        v[0].clone()
    };
    // The chain root <- w1 <- w2 <- w3 <- slow, each at least 30 ms.
    let w1 = one("Custom/w1");
    let w2 = one("Custom/w2");
    let w3 = one("Custom/w3");
    let slow = one("Custom/slow");
    assert_eq!(w1.1.as_deref(), Some(root.as_str()));
    assert_eq!(w2.1.as_deref(), Some(w1.0.as_str()));
    assert_eq!(w3.1.as_deref(), Some(w2.0.as_str()));
    assert_eq!(slow.1.as_deref(), Some(w3.0.as_str()));
    // The 1 152 fib calls take microseconds each and are dropped. (A
    // descheduled process could make one chain of them slow, so this
    // allows a few rather than none.)
    let fibs = spans.get("Custom/fib").map_or(0, Vec::len);
    assert!(fibs < 40, "{fibs} fib spans kept");

    // The trace has the same chain.
    let trace = txn.trace.as_ref().expect("a trace");
    for f in ["Custom\\/w1", "Custom\\/w2", "Custom\\/w3", "Custom\\/slow"] {
        assert!(trace.data.contains(f), "{f} in {}", trace.data);
    }
    // Kept segments: the root and the spans other than the root.
    let allocated = metric_total(&txn, "Supportability/execute/allocated_segment_count") * 1e6;
    assert_eq!(allocated.round() as usize, txn.span_events.len());
}

/// Span names (the root excluded) of a run of `script` with `ini`.
fn span_names(d: &FakeDaemon, script: &str, ini: &[(&str, &str)]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("s.php"), script).unwrap();
    let addr = d.address();
    let mut all = vec![
        ("newrelic.daemon.address", addr.as_str()),
        ("newrelic.daemon.dont_launch", "3"),
        ("newrelic.license", LICENSE),
        ("newrelic.daemon.app_connect_timeout", "5s"),
    ];
    all.extend_from_slice(ini);
    let out = php(&all)
        .arg("s.php")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        stdout(&out),
        "done\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let frames = d.wait_frames(2);
    let txn = frames[1].txn();
    txn.span_events
        .iter()
        .map(|e| serde_json::from_str::<serde_json::Value>(e).unwrap())
        .filter(|v| v[0]["nr.entryPoint"] != serde_json::Value::Bool(true))
        .map(|v| v[0]["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn expensive_node_min_decides_which_calls_are_kept() {
    // 20 calls of at least 0.2 ms each: below the 2 ms default.
    const TINY: &str = r#"<?php
function tiny() { usleep(200); }
for ($i = 0; $i < 20; $i++) { tiny(); }
echo "done\n";
"#;
    let d = FakeDaemon::start(Mode::Connected);
    let all = span_names(&d, TINY, &[("newrelic.special.expensive_node_min", "0")]);
    assert_eq!(all, vec!["Custom/tiny".to_owned(); 20]);

    let d = FakeDaemon::start(Mode::Connected);
    let none = span_names(&d, TINY, &[("newrelic.special.expensive_node_min", "1s")]);
    assert!(none.is_empty(), "{none:?}");
}

#[test]
fn first_class_callables_keep_their_function_names() {
    // A first-class callable shares the run-time cache, and so the
    // observer handlers, of the function it is made from. Each closure is
    // freed before the next is made, so the memory of one is reused by
    // the next: a segment keyed by the closure's own `zend_function` took
    // the name of the closure that reused it (and valgrind saw the read of
    // freed memory).
    const FCC: &str = r#"<?php
function first() { usleep(100); }
function second() { usleep(100); }
class K { function m() { usleep(100); } function n() { usleep(100); } }
class L { function m() { usleep(100); } }
$k = new K; $l = new L;
first(); second(); $k->m(); $k->n(); $l->m();
$f = first(...); $f(); unset($f);
$g = second(...);
$h = $k->m(...); $h(); unset($h);
$i = Closure::fromCallable([$k, 'n']);
$j = $l->m(...); $j(); unset($j);
echo "done\n";
"#;
    let d = FakeDaemon::start(Mode::Connected);
    let mut names = span_names(&d, FCC, &[("newrelic.special.expensive_node_min", "0")]);
    names.sort();
    assert_eq!(
        names,
        [
            "Custom/K::m",
            "Custom/K::m",
            "Custom/K::n",
            "Custom/L::m",
            "Custom/L::m",
            "Custom/first",
            "Custom/first",
            "Custom/second",
        ]
    );
}

/// Span events (the root included) of a run: name -> (parent name,
/// timestamp ms, duration ms).
fn span_tree(
    d: &FakeDaemon,
    script: &str,
    ini: &[(&str, &str)],
) -> HashMap<String, (String, f64, f64)> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("s.php"), script).unwrap();
    let addr = d.address();
    let mut all = vec![
        ("newrelic.daemon.address", addr.as_str()),
        ("newrelic.daemon.dont_launch", "3"),
        ("newrelic.license", LICENSE),
        ("newrelic.daemon.app_connect_timeout", "5s"),
    ];
    all.extend_from_slice(ini);
    let out = php(&all)
        .arg("s.php")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        stdout(&out),
        "done\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let frames = d.wait_frames(2);
    let spans: Vec<serde_json::Value> = frames[1]
        .txn()
        .span_events
        .iter()
        .map(|e| serde_json::from_str::<serde_json::Value>(e).unwrap()[0].clone())
        .collect();
    let by_guid: HashMap<String, String> = spans
        .iter()
        .map(|s| {
            (
                s["guid"].as_str().unwrap().to_owned(),
                s["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    spans
        .iter()
        .map(|s| {
            let parent = s["parentId"]
                .as_str()
                .and_then(|p| by_guid.get(p))
                .cloned()
                .unwrap_or_default();
            (
                s["name"].as_str().unwrap().to_owned(),
                (
                    parent,
                    s["timestamp"].as_f64().unwrap(),
                    s["duration"].as_f64().unwrap() * 1000.0,
                ),
            )
        })
        .collect()
}

#[test]
fn fibers_keep_their_calls_apart() {
    // outer_main() starts a fiber that suspends; outer_main returns; 20 ms
    // later resume_it() resumes the fiber, which finishes. With one shared
    // stack, outer_main's end popped fiber_fn's frame and resume_it's
    // popped outer_main's: outer_main lasted until the very end and
    // resume_it became its child.
    const FIBERS: &str = r#"<?php
function fiber_fn() { usleep(2000); Fiber::suspend(); usleep(2000); }
function outer_main($f) { usleep(5000); $f->start(); }
function resume_it($f) { $f->resume(); }
$f = new Fiber('fiber_fn');
outer_main($f);
usleep(20000);
resume_it($f);
echo "done\n";
"#;
    let d = FakeDaemon::start(Mode::Connected);
    let tree = span_tree(&d, FIBERS, &[]);
    let root = "OtherTransaction/php/s.php".to_owned();
    let (outer_parent, outer_ts, outer_ms) = tree["Custom/outer_main"].clone();
    let (resume_parent, resume_ts, _) = tree["Custom/resume_it"].clone();
    let (fiber_parent, _, fiber_ms) = tree["Custom/fiber_fn"].clone();
    assert_eq!(outer_parent, root, "{tree:?}");
    assert_eq!(resume_parent, root, "{tree:?}");
    // The fiber's function ends under the call that resumed it, and spans
    // the time it was suspended.
    assert_eq!(fiber_parent, "Custom/resume_it", "{tree:?}");
    assert!(fiber_ms >= 20.0, "{tree:?}");
    // outer_main ended before resume_it began (timestamps are whole ms).
    assert!(outer_ts + outer_ms <= resume_ts + 1.0, "{tree:?}");
}
