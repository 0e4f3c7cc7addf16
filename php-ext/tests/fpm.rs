//! php-fpm (behind nginx, `seraph_webstack`): nothing connects to the
//! daemon before the master forks; each worker connects lazily on its
//! first request and reuses its connection.

mod common;
use common::fake_daemon::{FakeDaemon, Mode};
use common::*;
use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

#[test]
fn workers_connect_lazily_after_fork() {
    let d = FakeDaemon::start(Mode::Connected);
    // Two static workers behind nginx.
    let web = web::options(&d, &[("index.php", "<?php echo getmypid();")])
        .workers(2)
        .start()
        .unwrap_or_else(|e| panic!("start nginx and php-fpm: {e}"));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(d.connections(), 0, "nothing connects before a request");

    let mut worker_pids = BTreeSet::new();
    for i in 0..8 {
        let (head, body) = web::get(&web, &format!("/index.php?r={i}"));
        assert!(head.starts_with("HTTP/1.1 200"), "{head}\n{}", web.logs());
        worker_pids.insert(body.trim().parse::<i32>().expect("a pid"));
    }
    let frames = d.wait_frames(8 + worker_pids.len());
    let txns: Vec<_> = frames
        .iter()
        .filter(|f| f.kind() == "Transaction")
        .map(|f| (f.conn, f.txn()))
        .collect();
    assert_eq!(
        txns.len(),
        8,
        "frames: {:?}",
        frames.iter().map(|f| f.kind()).collect::<Vec<_>>()
    );
    assert!(txns
        .iter()
        .all(|(_, t)| t.name == "WebTransaction/Uri/index.php"));
    // Every transaction came from a worker, never the master, over one
    // connection per worker, reused across its requests.
    assert_one_connection_per_worker(
        &frames,
        &txns,
        web.fpm_pid() as i32,
        &worker_pids,
        d.connections(),
    );
    // Stopping php-fpm stops its workers too (no orphans left behind).
    drop(web);
    assert_all_exit(&worker_pids);
}

#[test]
fn pcntl_fork_children_send_only_their_own_transactions() {
    // The parent's transaction is open when it forks. A child inherits a
    // copy: sending it would repeat the parent's guid, trace id and span
    // ids and count the work before the fork twice, so only the parent
    // sends it. A child that starts its own transaction sends that, on its
    // own connection, with ids of its own (children used to draw the same
    // ids from the same generator state).
    let d = FakeDaemon::start(Mode::Connected);
    let code = r#"
        function work() { usleep(3000); }
        work();
        for ($i = 0; $i < 3; $i++) {
            $pid = pcntl_fork();
            if ($pid === 0) {
                work();
                if ($i > 0) {
                    var_dump(newrelic_start_transaction("child"));
                    work();
                }
                exit(0);
            }
            pcntl_waitpid($pid, $status);
        }
        work();
        echo "parent done
";
    "#;
    let addr = d.address();
    let mut ini = daemon_ini(&addr);
    ini.push(("newrelic.appname", "parent"));
    let out = php(&ini).args(["-r", code]).output().unwrap();
    assert_eq!(stdout(&out), "bool(true)\nbool(true)\nparent done\n");
    let frames = d.wait_frames(6);
    let txns: Vec<_> = frames
        .iter()
        .filter(|f| f.kind() == "Transaction")
        .map(|f| {
            let t = f.txn();
            let ev: serde_json::Value =
                serde_json::from_str(t.txn_event.as_deref().unwrap()).unwrap();
            let guid = ev[0]["guid"].as_str().unwrap().to_owned();
            let trace = ev[0]["traceId"].as_str().unwrap().to_owned();
            (f.conn, t.pid, t.name.clone(), guid, trace, t)
        })
        .collect();
    assert_eq!(
        txns.len(),
        3,
        "the parent's and the two children's own: {:?}",
        txns.iter().map(|t| (&t.2, t.1)).collect::<Vec<_>>()
    );
    let pids: HashSet<_> = txns.iter().map(|t| t.1).collect();
    let conns: HashSet<_> = txns.iter().map(|t| t.0).collect();
    let guids: HashSet<_> = txns.iter().map(|t| t.3.clone()).collect();
    let traces: HashSet<_> = txns.iter().map(|t| t.4.clone()).collect();
    assert_eq!(pids.len(), 3, "three processes");
    assert_eq!(conns.len(), 3, "nobody writes into another's socket");
    assert_eq!(guids.len(), 3, "distinct transaction guids");
    assert_eq!(traces.len(), 3, "distinct trace ids");
    let spans: Vec<String> = txns
        .iter()
        .flat_map(|t| t.5.span_events.iter())
        .map(|e| {
            let v: serde_json::Value = serde_json::from_str(e).unwrap();
            v[0]["guid"].as_str().unwrap().to_owned()
        })
        .collect();
    let unique: HashSet<_> = spans.iter().collect();
    assert_eq!(unique.len(), spans.len(), "span ids are never shared");
    // The parent's transaction has its own work, before and after the
    // forks (root + 2 spans), and none of the children's; each child's
    // has its own (root + 1).
    let mut counts: Vec<usize> = txns.iter().map(|t| t.5.span_events.len()).collect();
    counts.sort_unstable();
    assert_eq!(counts, [2, 2, 3]);
}
