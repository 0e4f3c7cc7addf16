//! valgrind memcheck over a basic instrumented script: no invalid reads or
//! writes, no uninitialised use, no definite leaks. `ZEND_DONT_UNLOAD_MODULES`
//! keeps the extension mapped at exit, so its process-lifetime state (the
//! module entry, INI table, agent state) counts as reachable, as it is.

mod common;
use common::fake_daemon::{FakeDaemon, Mode};
use common::*;

/// `php` with the extension reporting to `d`, plus `ini`, under memcheck.
fn memcheck_php(d: &FakeDaemon, ini: &[(&str, &str)]) -> std::process::Command {
    let address = d.address();
    let mut all = daemon_ini(&address);
    // Valgrind is slow enough to miss the default 100 ms App reply
    // deadline on a busy machine, which makes the agent ask again.
    all.push(("newrelic.special.appinfo_timeout", "5s"));
    all.extend_from_slice(ini);
    memcheck(&php(&all))
}

#[test]
fn memcheck_clean_on_a_basic_script() {
    require("valgrind", "valgrind");
    let d = FakeDaemon::start(Mode::Connected);
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("v.php");
    std::fs::write(
        &script,
        r#"<?php
function a($n) { return $n <= 1 ? 1 : a($n - 1) + 1; }
a(50);
$f = function ($x) { return $x * 2; };
$f(3);
newrelic_add_custom_parameter('k', 'v');
newrelic_record_custom_event('E', ['a' => 1, 'b' => 'x']);
newrelic_custom_metric('Custom/x', 1.5);
trigger_error('w', E_USER_WARNING);
newrelic_notice_error(new LogicException('noticed'));
try { throw new RuntimeException('caught'); } catch (Exception $e) {}
function thrower() { throw new DomainException('left'); }
function traced($n) { return $n + 1; }
try { thrower(); } catch (Exception $e) {}
traced(1);
set_error_handler('newrelic_notice_error', E_USER_WARNING);
trigger_error('handled', E_USER_WARNING);
restore_error_handler();
newrelic_notice_error(E_USER_WARNING, 'four', __FILE__, __LINE__);
// First-class callables share their function's observer handlers; the
// segment must not keep a pointer into the freed closure.
function fcc() { usleep(2500); }
fcc();
$c = fcc(...); $c(); unset($c);
$d = (new ArrayObject([]))->count(...); $d(); unset($d);
// Fibers: one suspended and resumed, one left suspended (destroyed at the
// end of the script, which unwinds it).
function in_fiber() { fcc(); Fiber::suspend(1); fcc(); }
$f1 = new Fiber('in_fiber'); $f1->start(); fcc(); $f1->resume();
$f2 = new Fiber('in_fiber'); $f2->start();
echo "ok\n";
throw new RuntimeException('uncaught');
"#,
    )
    .unwrap();
    let out = memcheck_php(&d, &[("newrelic.transaction_tracer.custom", "traced")])
        .arg(&script)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(
        out.status.code(),
        Some(99),
        "valgrind reported errors:\n{err}\n{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("ok\n"));
    let kinds: Vec<_> = d.wait_frames(2).iter().map(|f| f.kind()).collect();
    assert_eq!(kinds, ["App", "Transaction"]);
}

#[test]
fn memcheck_clean_with_pdo_and_distributed_tracing() {
    require("valgrind", "valgrind");
    let d = FakeDaemon::start(Mode::Connected);
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("v.php");
    std::fs::write(
        &script,
        r#"<?php
$db = new PDO('sqlite::memory:');
$db->exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
$st = $db->prepare('INSERT INTO t (v) VALUES (?)');
$st->execute(['a']);
$st->execute(['b']);
var_dump($db->query('SELECT count(*) FROM t')->fetchColumn());
newrelic_accept_distributed_trace_headers(['traceparent' => '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01']);
$h = [];
newrelic_insert_distributed_trace_headers($h);
var_dump(count($h) > 0);
newrelic_get_trace_metadata();
newrelic_get_linking_metadata();
"#,
    )
    .unwrap();
    let out = memcheck_php(&d, &[("extension", "pdo"), ("extension", "pdo_sqlite")])
        .arg(&script)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(
        out.status.code(),
        Some(99),
        "valgrind reported errors:\n{err}"
    );
    assert!(stdout(&out).contains("bool(true)"), "{}", stdout(&out));
    let kinds: Vec<_> = d.wait_frames(2).iter().map(|f| f.kind()).collect();
    assert_eq!(kinds, ["App", "Transaction"]);
}
