//! Apache with mod_php (prefork): the extension is loaded in the parent,
//! which forks the children that serve requests. Nothing may connect to
//! the daemon before the fork; each child connects on its first request,
//! reuses its connection, and names its transactions from Apache's request.

mod common;
use common::apache::*;
use common::fake_daemon::{FakeDaemon, Mode};
use common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::Duration;

#[test]
fn prefork_children_connect_lazily_and_report_their_requests() {
    let (apache_bin, mod_php) = apache_and_mod_php();
    let d = FakeDaemon::start(Mode::Connected);
    let mut site = Site::new(
        &d,
        "apache",
        "5s",
        "",
        &[
            (
                "index.php",
                "<?php function work() { usleep(3000); } work(); echo getmypid();",
            ),
            (
                "missing.php",
                "<?php http_response_code(404); echo getmypid();",
            ),
        ],
    );
    let conf = site.write_conf(
        &mod_php,
        "prefork",
        "StartServers 2\n\
         MinSpareServers 2\n\
         MaxSpareServers 2\n\
         MaxRequestWorkers 2\n",
    );
    let mut cmd = Command::new(&apache_bin);
    cmd.args(["-D", "FOREGROUND"]);
    let apache = site.start(cmd, &conf, Duration::from_secs(20));
    let port = site.port;
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(d.connections(), 0, "nothing connects before a request");

    let mut child_pids = BTreeSet::new();
    for i in 0..8 {
        let path = if i % 4 == 3 {
            "/missing.php"
        } else {
            "/index.php?i=1"
        };
        let (status, body) = get(port, path);
        let expected = if path == "/missing.php" { "404" } else { "200" };
        assert!(status.contains(expected), "{path}: {status}");
        child_pids.insert(body.trim().parse::<i32>().expect("a pid"));
    }
    let frames = d.wait_frames(8 + child_pids.len());
    let txns: Vec<_> = frames
        .iter()
        .filter(|f| f.kind() == "Transaction")
        .map(|f| (f.conn, f.txn()))
        .collect();
    assert_eq!(txns.len(), 8);
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    for (_, t) in &txns {
        *names.entry(t.name.clone()).or_default() += 1;
    }
    assert_eq!(
        names,
        BTreeMap::from([
            ("WebTransaction/Uri/index.php".to_owned(), 6),
            ("WebTransaction/Uri/missing.php".to_owned(), 2),
        ])
    );
    for (_, t) in &txns {
        let ev: serde_json::Value =
            serde_json::from_str(t.txn_event.as_deref().expect("a transaction event")).unwrap();
        let agent = &ev[2];
        assert_eq!(agent["request.method"], "GET", "{ev}");
        let code = if t.name.ends_with("missing.php") {
            404
        } else {
            200
        };
        assert_eq!(agent["response.statusCode"], code, "{ev}");
        assert!(
            t.uri.ends_with(".php"),
            "query strings are not kept: {}",
            t.uri
        );
    }
    // Every transaction came from a child, never the parent, over one
    // connection per child.
    assert_one_connection_per_worker(
        &frames,
        &txns,
        apache.0.id() as i32,
        &child_pids,
        d.connections(),
    );
    // Stopping Apache stops its children.
    drop(apache);
    assert_all_exit(&child_pids);
}
