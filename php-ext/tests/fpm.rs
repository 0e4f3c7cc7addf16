//! php-fpm: nothing connects to the daemon before the master forks; each
//! worker connects lazily on its first request and reuses its connection.

mod common;
use common::fake_daemon::{FakeDaemon, Mode};
use common::*;
use std::collections::{BTreeSet, HashSet};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn record(ty: u8, id: u16, content: &[u8]) -> Vec<u8> {
    let mut r = vec![
        1,
        ty,
        (id >> 8) as u8,
        id as u8,
        (content.len() >> 8) as u8,
        content.len() as u8,
        0,
        0,
    ];
    r.extend_from_slice(content);
    r
}

fn nv(out: &mut Vec<u8>, k: &str, v: &str) {
    for len in [k.len(), v.len()] {
        assert!(len < 128);
        out.push(len as u8);
    }
    out.extend_from_slice(k.as_bytes());
    out.extend_from_slice(v.as_bytes());
}

/// One FastCGI GET; returns stdout of the response.
fn fcgi_get(sock: &Path, script: &Path, uri: &str) -> String {
    let mut s = UnixStream::connect(sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = record(1, 1, &[0, 1, 0, 0, 0, 0, 0, 0]);
    let mut params = Vec::new();
    for (k, v) in [
        ("REQUEST_METHOD", "GET"),
        ("REQUEST_URI", uri),
        ("SCRIPT_NAME", "/index.php"),
        ("SCRIPT_FILENAME", script.to_str().unwrap()),
        // Web servers send it (nginx's fastcgi_params); without it the
        // name would be the script's full path, as with New Relic's agent.
        ("DOCUMENT_ROOT", script.parent().unwrap().to_str().unwrap()),
        ("SERVER_PROTOCOL", "HTTP/1.1"),
        ("HTTP_HOST", "fpm.test"),
    ] {
        nv(&mut params, k, v);
    }
    req.extend(record(4, 1, &params));
    req.extend(record(4, 1, &[]));
    req.extend(record(5, 1, &[]));
    s.write_all(&req).unwrap();
    let mut out = Vec::new();
    loop {
        let mut h = [0u8; 8];
        if s.read_exact(&mut h).is_err() {
            break;
        }
        let len = usize::from(h[4]) << 8 | usize::from(h[5]);
        let mut body = vec![0u8; len + usize::from(h[6])];
        s.read_exact(&mut body).unwrap();
        match h[1] {
            6 => out.extend_from_slice(&body[..len]),
            3 => break,
            _ => {}
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn workers_connect_lazily_after_fork() {
    let fpm_bin = php_fpm();
    let d = FakeDaemon::start(Mode::Connected);
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("fpm.sock");
    let script = dir.path().join("index.php");
    std::fs::write(&script, "<?php echo getmypid();").unwrap();
    let conf = dir.path().join("fpm.conf");
    std::fs::write(
        &conf,
        format!(
            "[global]\nerror_log = {}\ndaemonize = no\n[www]\nuser = root\ngroup = root\nlisten = {}\npm = static\npm.max_children = 2\n",
            dir.path().join("fpm.log").display(),
            sock.display()
        ),
    )
    .unwrap();
    let fpm = Server(
        Command::new(&fpm_bin)
            .args(["-n", "-R", "-F", "-y"])
            .arg(&conf)
            .arg("-d")
            .arg(format!("extension={}", extension_path().display()))
            .args(["-d", &format!("newrelic.daemon.address={}", d.address())])
            .args(["-d", "newrelic.daemon.dont_launch=3"])
            .args([
                "-d",
                "newrelic.license=0123456789012345678901234567890123456789",
            ])
            .args(["-d", "newrelic.appname=fpm"])
            .args(["-d", "newrelic.daemon.app_connect_timeout=5s"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let until = Instant::now() + Duration::from_secs(10);
    while !sock.exists() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(sock.exists(), "php-fpm did not start");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(d.connections(), 0, "nothing connects before a request");

    let mut worker_pids = BTreeSet::new();
    for i in 0..8 {
        let body = fcgi_get(&sock, &script, &format!("/r/{i}"));
        let pid: i32 = body
            .rsplit("\r\n\r\n")
            .next()
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        worker_pids.insert(pid);
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
        fpm.0.id() as i32,
        &worker_pids,
        d.connections(),
    );
    // Stopping php-fpm stops its workers too (no orphans left behind).
    drop(fpm);
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
    let out = php(&[
        ("newrelic.daemon.address", &addr),
        ("newrelic.daemon.dont_launch", "3"),
        (
            "newrelic.license",
            "0123456789012345678901234567890123456789",
        ),
        ("newrelic.appname", "parent"),
        ("newrelic.daemon.app_connect_timeout", "5s"),
    ])
    .args(["-r", code])
    .output()
    .unwrap();
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
