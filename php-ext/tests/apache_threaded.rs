//! Apache with mpm_event and a thread-safe (ZTS) mod_php: one process
//! serves several requests at once, one per thread. Each request must
//! become its own complete transaction: its own name, attributes,
//! function metrics and errors, none of another request's, every one
//! sent; each thread keeps its own daemon connection.
//!
//! Needs a ZTS mod_php, which Debian does not ship: the version matrix
//! (tests/php-versions/matrix.sh) builds one and runs this test with
//! `--ignored`, once plainly and once with `SERAPH_HELGRIND=1`, which runs
//! Apache (one process, `-X`) under valgrind's helgrind and fails on any
//! data race or lock-order report with a frame in the extension.

mod common;
use common::apache::*;
use common::fake_daemon::{FakeDaemon, Mode};
use common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// The page: names the transaction after the request id, adds it as an
/// attribute, calls one of four custom-traced functions `id % 3 + 1`
/// times (each sleeps, so requests overlap), raises a warning for every
/// fifth id, and answers `pid id start end`.
const PAGE: &str = r#"<?php
function w0($ms) { usleep($ms * 1000); }
function w1($ms) { usleep($ms * 1000); }
function w2($ms) { usleep($ms * 1000); }
function w3($ms) { usleep($ms * 1000); }
$id = (int)$_GET['id'];
$start = microtime(true);
newrelic_name_transaction("req-$id");
newrelic_add_custom_parameter('req', $id);
$f = 'w' . ($id % 4);
for ($i = 0; $i <= $id % 3; $i++) {
    $f(40);
}
if ($id % 5 == 4) {
    trigger_error("warn-$id", E_USER_WARNING);
}
echo getmypid(), ' ', $id, ' ', $start, ' ', microtime(true);
"#;

/// What one answered request says.
#[derive(Debug)]
struct Answer {
    pid: i32,
    start: f64,
    end: f64,
}

fn parse_answer(id: u32, body: &str) -> Answer {
    let f: Vec<&str> = body.split_whitespace().collect();
    assert!(
        f.len() == 4 && f[1] == id.to_string(),
        "request {id}: {body}"
    );
    Answer {
        pid: f[0].parse().unwrap(),
        start: f[2].parse().unwrap(),
        end: f[3].parse().unwrap(),
    }
}

/// The most requests of one process that were running at the same time.
fn max_overlap(answers: &[&Answer]) -> usize {
    let mut edges: Vec<(f64, i32)> = Vec::new();
    for a in answers {
        edges.push((a.start, 1));
        edges.push((a.end, -1));
    }
    edges.sort_by(|x, y| x.partial_cmp(y).unwrap());
    let (mut now, mut max) = (0i32, 0i32);
    for (_, d) in edges {
        now += d;
        max = max.max(now);
    }
    max as usize
}

/// Helgrind's error reports (the log's chunks between dashed lines, less
/// the banner and the announcements of threads and locks that precede a
/// report), and those of them with a frame in the extension.
fn helgrind_reports_in_extension(log: &str) -> (usize, Vec<String>) {
    let lines: Vec<&str> = log
        .lines()
        .map(|l| match l.strip_prefix("==") {
            Some(rest) => rest.split_once("== ").map_or("", |(_, text)| text),
            None => l,
        })
        .collect();
    let mut chunks: Vec<String> = vec![String::new()];
    for l in lines {
        if l.starts_with("---") {
            chunks.push(String::new());
        } else if let Some(c) = chunks.last_mut() {
            c.push_str(l);
            c.push('\n');
        }
    }
    let reports: Vec<String> = chunks
        .into_iter()
        .filter(|c| {
            let first = c.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            c.contains(" at 0x")
                && !first.trim_start().starts_with("Lock at ")
                && !c.contains("was created")
                && !c.contains("is the program's root thread")
        })
        .collect();
    let total = reports.len();
    let ours = reports
        .into_iter()
        .filter(|c| {
            c.contains("newrelic.so") || c.contains("newrelic_php") || c.contains("seraph_")
        })
        .collect();
    (total, ours)
}

#[test]
#[ignore = "needs a ZTS mod_php (SERAPH_TEST_MOD_PHP); run by tests/php-versions/matrix.sh"]
fn concurrent_requests_on_threads_are_separate_complete_transactions() {
    assert!(
        std::env::var_os("SERAPH_TEST_MOD_PHP").is_some(),
        "SERAPH_TEST_MOD_PHP must name a ZTS mod_php (libphp.so): Debian ships none; \
         tests/php-versions/matrix.sh builds one"
    );
    let zts = std::process::Command::new("php")
        .args(["-n", "-r", "echo PHP_ZTS;"])
        .output()
        .expect("run php");
    assert_eq!(
        String::from_utf8_lossy(&zts.stdout),
        "1",
        "the `php` on PATH must be the ZTS build the extension was built for"
    );
    let helgrind = std::env::var_os("SERAPH_HELGRIND").is_some();
    if helgrind {
        require("valgrind", "valgrind");
    }
    let (apache_bin, mod_php) = apache_and_mod_php();
    let d = FakeDaemon::start(Mode::Connected);
    let mut site = Site::new(
        &d,
        "threaded",
        "30s",
        "newrelic.transaction_tracer.custom=w0,w1,w2,w3\n\
         display_errors=0\n",
        &[("index.php", PAGE)],
    );

    // One child process with eight threads: every request lands in it.
    let threads = 8;
    let conf = site.write_conf(
        &mod_php,
        "event",
        &format!(
            "ServerLimit 1\n\
             StartServers 1\n\
             ThreadLimit {threads}\n\
             ThreadsPerChild {threads}\n\
             MinSpareThreads 1\n\
             MaxSpareThreads {threads}\n\
             MaxRequestWorkers {threads}\n\
             Timeout 300\n"
        ),
    );
    let helgrind_log = site.root.join("helgrind.log");
    let cmd = if helgrind {
        let mut c = Command::new("valgrind");
        c.arg("--tool=helgrind")
            .arg(format!("--log-file={}", helgrind_log.display()))
            .arg(&apache_bin)
            .arg("-X");
        // Symbols of the extension stay readable at exit.
        c.env("ZEND_DONT_UNLOAD_MODULES", "1");
        c
    } else {
        let mut c = Command::new(&apache_bin);
        c.args(["-D", "FOREGROUND"]);
        c
    };
    let startup = if helgrind { 300 } else { 20 };
    let apache = site.start(cmd, &conf, Duration::from_secs(startup));
    let port = site.port;

    // Client threads fire at once; each sends its requests one after the
    // other.
    let (clients, per_client) = if helgrind { (4u32, 2u32) } else { (8, 3) };
    let total = clients * per_client;
    let workers: Vec<_> = (0..clients)
        .map(|c| {
            std::thread::spawn(move || {
                (0..per_client)
                    .map(|k| {
                        let id = c * per_client + k;
                        let (status, body) = get(port, &format!("/index.php?id={id}"));
                        assert!(status.contains("200"), "request {id}: {status} {body}");
                        (id, parse_answer(id, &body))
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let answers: BTreeMap<u32, Answer> = workers
        .into_iter()
        .flat_map(|w| w.join().expect("client thread"))
        .collect();
    assert_eq!(answers.len(), total as usize);

    let pids: BTreeSet<i32> = answers.values().map(|a| a.pid).collect();
    let frames = d.wait_frames(total as usize + 1);
    drop(apache);
    let txns: Vec<_> = frames
        .iter()
        .filter(|f| f.kind() == "Transaction")
        .map(|f| (f.conn, f.txn()))
        .collect();
    assert_eq!(txns.len(), total as usize, "one transaction per request");

    // Several requests of one process ran at the same time.
    assert_eq!(pids.len(), 1, "one Apache process served every request");
    let pid = *pids.iter().next().unwrap();
    let in_pid: Vec<&Answer> = answers.values().filter(|a| a.pid == pid).collect();
    let overlap = max_overlap(&in_pid);
    assert!(overlap >= 2, "requests did not overlap: {answers:?}");

    // Each transaction is one request's, complete, and nobody else's.
    let mut seen = BTreeSet::new();
    for (_, t) in &txns {
        let id: u32 = t
            .name
            .strip_prefix("WebTransaction/Custom/req-")
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("unexpected transaction name {}", t.name));
        assert!(seen.insert(id), "request {id} reported twice");
        assert_eq!(t.pid, pid);
        let event: serde_json::Value =
            serde_json::from_str(t.txn_event.as_deref().expect("a transaction event")).unwrap();
        assert_eq!(event[1], serde_json::json!({ "req": id }), "{event}");
        assert_eq!(event[2]["response.statusCode"], 200, "{event}");
        let custom: BTreeMap<&str, f64> = t
            .metrics
            .iter()
            .filter(|m| m.name.starts_with("Custom/w") && m.scoped)
            .map(|m| (m.name.as_str(), m.count))
            .collect();
        let f = format!("Custom/w{}", id % 4);
        assert_eq!(
            custom,
            BTreeMap::from([(f.as_str(), f64::from(id % 3 + 1))]),
            "request {id}: {:?}",
            t.metrics
                .iter()
                .map(|m| (&m.name, m.scoped, m.count))
                .collect::<Vec<_>>()
        );
        let calls = f64::from(id % 3 + 1);
        let duration = event[0]["duration"].as_f64().unwrap_or(0.0);
        assert!(
            duration >= 0.040 * calls,
            "request {id}: {duration}s is less than its sleeps"
        );
        let errors: Vec<&str> = t.errors.iter().map(|e| e.data.as_str()).collect();
        if id % 5 == 4 {
            assert_eq!(errors.len(), 1, "request {id}: {errors:?}");
            assert!(errors[0].contains(&format!("warn-{id}")), "{errors:?}");
        } else {
            assert!(errors.is_empty(), "request {id}: {errors:?}");
        }
    }
    assert_eq!(seen.len(), total as usize);

    // One daemon connection per thread that served requests: each carries
    // one App query, and the transactions on it never overlapped in time
    // (a thread serves one request at a time).
    let mut by_conn: BTreeMap<usize, Vec<&Answer>> = BTreeMap::new();
    for (conn, t) in &txns {
        let id: u32 = t.name.rsplit('-').next().unwrap().parse().unwrap();
        by_conn.entry(*conn).or_default().push(&answers[&id]);
    }
    for (conn, list) in &by_conn {
        assert_eq!(
            max_overlap(list),
            1,
            "connection {conn} served overlapping requests"
        );
    }
    let apps = frames.iter().filter(|f| f.kind() == "App").count();
    assert_eq!(apps, d.connections(), "one App query per connection");
    // At most one connection per thread carried transactions (a thread
    // may have reconnected after a deadline under helgrind: its earlier
    // connection then carried none).
    assert!(
        by_conn.len() >= 2 && by_conn.len() <= threads,
        "{} daemon connections carried transactions, for {threads} threads",
        by_conn.len()
    );

    let mut summary = format!(
        "threaded: {total} requests in 1 process, up to {overlap} at once, \
         {} daemon connections (one per serving thread), every transaction separate and complete",
        by_conn.len()
    );
    if helgrind {
        let log = std::fs::read_to_string(&helgrind_log).unwrap_or_default();
        assert!(
            log.contains("Helgrind"),
            "no helgrind output in {}",
            helgrind_log.display()
        );
        let (all, ours) = helgrind_reports_in_extension(&log);
        keep_log(&helgrind_log);
        assert!(
            ours.is_empty(),
            "helgrind: {} of {all} reports have a frame in the extension:\n{}",
            ours.len(),
            ours.join("\n\n")
        );
        summary.push_str(&format!(
            "; helgrind: {all} reports in Apache/PHP, none in the extension"
        ));
    }
    println!("{summary}");
}

/// Copies helgrind's log next to the test binary for inspection.
fn keep_log(log: &Path) {
    if let Some(dir) = extension_path().parent() {
        let _ = std::fs::copy(log, dir.join("apache_threaded-helgrind.log"));
    }
}
