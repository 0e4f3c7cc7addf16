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
