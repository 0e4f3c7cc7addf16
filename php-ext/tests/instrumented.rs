//! Instrumented internal functions: PDO (SQLite) and curl.

mod common;
use common::fake_daemon::{FakeDaemon, Mode};
use common::*;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

const LICENSE: &str = "0123456789012345678901234567890123456789";

fn spans(txn: &seraph_wire::TransactionData) -> Vec<serde_json::Value> {
    txn.span_events
        .iter()
        .map(|s| serde_json::from_str::<serde_json::Value>(s).unwrap())
        .collect()
}

#[test]
fn pdo_sqlite_calls_are_datastore_segments() {
    let d = FakeDaemon::start(Mode::Connected);
    let work = tempfile::tempdir().unwrap();
    std::fs::copy(
        vectors_dir().join("05-pdo-sqlite/script.php"),
        work.path().join("script.php"),
    )
    .unwrap();
    let addr = d.address();
    let out = php(&[
        ("newrelic.daemon.address", &addr),
        ("newrelic.daemon.dont_launch", "3"),
        ("newrelic.license", LICENSE),
        ("newrelic.daemon.app_connect_timeout", "5s"),
        ("extension", "pdo"),
        ("extension", "pdo_sqlite"),
        ("newrelic.transaction_tracer.threshold", "1ms"),
        ("newrelic.transaction_tracer.slow_sql", "1"),
        ("newrelic.transaction_tracer.explain_threshold", "1ms"),
    ])
    .arg("script.php")
    .current_dir(work.path())
    .output()
    .unwrap();
    let text = stdout(&out);
    assert!(text.contains("count=200000\nmatching=2\n"), "{text}");
    let frames = d.wait_frames(2);
    let txn = frames[1].txn();
    let spans = spans(&txn);
    let datastore: Vec<_> = spans
        .iter()
        .filter(|s| s[0]["category"] == "datastore")
        .collect();
    // exec, 2 x execute(insert), execute(select), 2 x query: as vector 05.
    assert_eq!(datastore.len(), 6, "{spans:#?}");
    assert!(datastore
        .iter()
        .all(|s| s[0]["name"].as_str().unwrap().contains("SQLite")));
}

#[test]
fn curl_exec_is_an_external_segment_with_trace_headers() {
    let d = FakeDaemon::start(Mode::Connected);
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen2 = seen.clone();
    std::thread::spawn(move || {
        if let Ok((s, _)) = server.accept() {
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut line = String::new();
            while r.read_line(&mut line).is_ok() && line != "\r\n" && !line.is_empty() {
                seen2.lock().unwrap().push(line.trim_end().to_owned());
                line.clear();
            }
            let mut s = s;
            let _ =
                s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        }
    });
    // As vector 06: the call is made from a short user function.
    let script = format!(
        r#"function fetch($url) {{
    $ch = curl_init($url);
    curl_setopt($ch, CURLOPT_RETURNTRANSFER, true);
    curl_setopt($ch, CURLOPT_HTTPHEADER, ["X-Mine: 1"]);
    echo curl_exec($ch), "\n";
    echo curl_getinfo($ch, CURLINFO_HTTP_CODE), "\n";
}}
fetch("http://127.0.0.1:{port}/echo?x=1");"#
    );
    let addr = d.address();
    let out = php(&[
        ("newrelic.daemon.address", &addr),
        ("newrelic.daemon.dont_launch", "3"),
        ("newrelic.license", LICENSE),
        ("newrelic.daemon.app_connect_timeout", "5s"),
        ("extension", "curl"),
        // fetch() must not be kept for its duration on a loaded machine:
        // only the trace headers could keep it (the bug this checks).
        ("newrelic.special.expensive_node_min", "10s"),
    ])
    .args(["-r", &script])
    .output()
    .unwrap();
    assert_eq!(stdout(&out), "ok\n200\n");
    let headers = seen.lock().unwrap().clone();
    assert!(headers.iter().any(|h| h == "X-Mine: 1"), "{headers:?}");
    let tp = headers
        .iter()
        .find_map(|h| h.strip_prefix("traceparent: "))
        .unwrap_or_else(|| panic!("no traceparent in {headers:?}"));
    let frames = d.wait_frames(2);
    let txn = frames[1].txn();
    let ev: serde_json::Value = serde_json::from_str(txn.txn_event.as_deref().unwrap()).unwrap();
    let trace_id = ev[0]["traceId"].as_str().unwrap();
    assert!(
        tp.starts_with("00-") && tp.contains(trace_id),
        "{tp} vs {trace_id}"
    );
    let spans = spans(&txn);
    let http: Vec<_> = spans
        .iter()
        .filter(|s| s[0]["category"] == "http")
        .collect();
    assert_eq!(http.len(), 1, "{spans:#?}");
    // The headers carry the external span's id, and fetch() (below
    // expensive_node_min) is not kept: the external span hangs off the root.
    let guid = http[0][0]["guid"].as_str().unwrap();
    assert!(tp.contains(guid), "{tp} vs {guid}");
    let root = spans
        .iter()
        .find(|s| s[0]["nr.entryPoint"] == serde_json::Value::Bool(true))
        .unwrap();
    assert_eq!(http[0][0]["parentId"], root[0]["guid"]);
    assert!(
        spans.iter().all(|s| s[0]["name"] != "Custom/fetch"),
        "{spans:#?}"
    );
}

#[test]
fn ddl_guards_do_not_become_table_names() {
    // The demo once showed `Datastore/statement/SQLite/IF/drop`.
    let d = FakeDaemon::start(Mode::Connected);
    let work = tempfile::tempdir().unwrap();
    std::fs::write(
        work.path().join("ddl.php"),
        r#"<?php
$db = new PDO('sqlite::memory:');
$db->exec('DROP TABLE IF EXISTS products');
$db->exec('CREATE TABLE IF NOT EXISTS "products" (id INTEGER PRIMARY KEY, name TEXT)');
$db->exec("INSERT OR REPLACE INTO products (id, name) VALUES (1, 'tea')");
echo $db->query('SELECT name FROM main.products')->fetchColumn(), "\n";
"#,
    )
    .unwrap();
    let addr = d.address();
    let out = php(&[
        ("newrelic.daemon.address", &addr),
        ("newrelic.daemon.dont_launch", "3"),
        ("newrelic.license", LICENSE),
        ("newrelic.daemon.app_connect_timeout", "5s"),
        ("extension", "pdo"),
        ("extension", "pdo_sqlite"),
    ])
    .arg("ddl.php")
    .current_dir(work.path())
    .output()
    .unwrap();
    assert_eq!(stdout(&out), "tea\n");
    let txn = d.wait_frames(2)[1].txn();
    let statements: std::collections::BTreeSet<_> = txn
        .metrics
        .iter()
        .filter(|m| m.name.starts_with("Datastore/statement/"))
        .map(|m| m.name.as_str())
        .collect();
    assert_eq!(
        statements.into_iter().collect::<Vec<_>>(),
        [
            "Datastore/statement/SQLite/products/create",
            "Datastore/statement/SQLite/products/drop",
            "Datastore/statement/SQLite/products/insert",
            "Datastore/statement/SQLite/products/select",
        ]
    );
}

/// An HTTP server that answers 200 to every request and records each
/// request line with its headers.
fn recording_server() -> (u16, Arc<Mutex<Vec<Vec<String>>>>) {
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::<Vec<String>>::new()));
    let seen2 = seen.clone();
    std::thread::spawn(move || {
        for s in server.incoming() {
            let Ok(s) = s else { return };
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut lines = Vec::new();
            let mut line = String::new();
            while r.read_line(&mut line).is_ok() && line != "\r\n" && !line.is_empty() {
                lines.push(line.trim_end().to_owned());
                line.clear();
            }
            seen2.lock().unwrap().push(lines);
            let mut s = s;
            let _ =
                s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        }
    });
    (port, seen)
}

#[test]
fn trace_headers_never_bring_back_headers_the_handle_no_longer_has() {
    // The trace headers are merged into CURLOPT_HTTPHEADER with the
    // handle's own headers, as the agent remembers them. It remembered
    // them across curl_reset, and a handle made by curl_copy_handle (whose
    // object number was a freed handle's) got that handle's headers: an
    // Authorization header went with later requests, to other URLs, and
    // the copy lost its own X-User.
    let d = FakeDaemon::start(Mode::Connected);
    let (port, seen) = recording_server();
    let script = format!(
        r#"$base = "http://127.0.0.1:{port}";
$ch = curl_init("$base/first");
curl_setopt($ch, CURLOPT_HTTPHEADER, ['Authorization: Bearer secret-for-first']);
curl_setopt($ch, CURLOPT_RETURNTRANSFER, true);
curl_exec($ch);
curl_reset($ch);
curl_setopt($ch, CURLOPT_URL, "$base/after-reset");
curl_setopt($ch, CURLOPT_RETURNTRANSFER, true);
curl_exec($ch);
unset($ch);
$ch3 = curl_init("$base/own");
curl_setopt($ch3, CURLOPT_HTTPHEADER, ['X-User: alice']);
curl_setopt($ch3, CURLOPT_RETURNTRANSFER, true);
curl_exec($ch3);
$ch4 = curl_copy_handle($ch3);
curl_setopt($ch4, CURLOPT_URL, "$base/copy");
curl_exec($ch4);
try {{ curl_setopt($ch4, CURLOPT_HTTPHEADER, 'not an array'); }} catch (TypeError $e) {{}}
curl_setopt($ch4, CURLOPT_URL, "$base/after-failed-setopt");
curl_exec($ch4);
echo "done\n";"#
    );
    let addr = d.address();
    let out = php(&[
        ("newrelic.daemon.address", &addr),
        ("newrelic.daemon.dont_launch", "3"),
        ("newrelic.license", LICENSE),
        ("newrelic.daemon.app_connect_timeout", "5s"),
        ("extension", "curl"),
    ])
    .args(["-r", &script])
    .output()
    .unwrap();
    assert_eq!(
        stdout(&out),
        "done\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let requests = seen.lock().unwrap().clone();
    let headers = |path: &str| -> Vec<String> {
        requests
            .iter()
            .find(|r| r[0].contains(&format!(" /{path} ")))
            .unwrap_or_else(|| panic!("no request to /{path}: {requests:?}"))
            .iter()
            .skip(1)
            .filter(|h| {
                !h.starts_with("traceparent")
                    && !h.starts_with("tracestate")
                    && !h.starts_with("newrelic")
            })
            .filter(|h| h.starts_with("Authorization") || h.starts_with("X-User"))
            .cloned()
            .collect()
    };
    assert_eq!(headers("first"), ["Authorization: Bearer secret-for-first"]);
    assert!(headers("after-reset").is_empty(), "{requests:?}");
    assert_eq!(headers("own"), ["X-User: alice"]);
    assert_eq!(headers("copy"), ["X-User: alice"]);
    assert_eq!(headers("after-failed-setopt"), ["X-User: alice"]);
    // Every request still carries the trace headers.
    assert!(requests
        .iter()
        .all(|r| r.iter().any(|h| h.starts_with("traceparent: 00-"))));
}
