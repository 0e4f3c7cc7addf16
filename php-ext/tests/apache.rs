//! Apache with mod_php (prefork): the extension is loaded in the parent,
//! which forks the children that serve requests. Nothing may connect to
//! the daemon before the fork; each child connects on its first request,
//! reuses its connection, and names its transactions from Apache's request.

mod common;
use common::apache::*;
use common::fake_daemon::{FakeDaemon, Mode};
use common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn prefork_children_connect_lazily_and_report_their_requests() {
    let (apache_bin, mod_php) = apache_and_mod_php();
    let d = FakeDaemon::start(Mode::Connected);
    // The children run as www-data (Apache refuses to serve as root): they
    // must reach the fake daemon's socket, read the extension, the scripts
    // and the ini, and write the agent log, whatever the umask and wherever
    // the repository is checked out. Permissions are set explicitly.
    let socket = PathBuf::from(d.address());
    make_readable(socket.parent().unwrap(), 0o755);
    make_readable(&socket, 0o777);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let ext = root.join("newrelic.so");
    std::fs::copy(extension_path(), &ext).unwrap();
    let www = root.join("www");
    std::fs::create_dir(&www).unwrap();
    std::fs::write(
        www.join("index.php"),
        "<?php function work() { usleep(3000); } work(); echo getmypid();",
    )
    .unwrap();
    std::fs::write(
        www.join("missing.php"),
        "<?php http_response_code(404); echo getmypid();",
    )
    .unwrap();
    let logs = root.join("logs");
    std::fs::create_dir(&logs).unwrap();
    let ini_dir = root.join("ini");
    std::fs::create_dir(&ini_dir).unwrap();
    std::fs::write(
        ini_dir.join("php.ini"),
        format!(
            "extension={ext}\n\
             newrelic.license=0123456789012345678901234567890123456789\n\
             newrelic.appname=apache\n\
             newrelic.daemon.address={addr}\n\
             newrelic.daemon.dont_launch=3\n\
             newrelic.daemon.app_connect_timeout=5s\n\
             newrelic.logfile={log}\n\
             newrelic.loglevel=info\n",
            ext = ext.display(),
            addr = d.address(),
            log = logs.join("agent.log").display(),
        ),
    )
    .unwrap();
    for entry in [root, &www, &ini_dir] {
        make_readable(entry, 0o755);
    }
    make_readable(&logs, 0o777);
    make_readable(&ext, 0o755);
    for file in [
        www.join("index.php"),
        www.join("missing.php"),
        ini_dir.join("php.ini"),
    ] {
        make_readable(&file, 0o644);
    }
    let port = free_port();
    let conf = root.join("httpd.conf");
    std::fs::write(
        &conf,
        format!(
            "ServerRoot {root}\n\
             PidFile {root}/httpd.pid\n\
             ErrorLog {root}/error.log\n\
             LoadModule mpm_prefork_module /usr/lib/apache2/modules/mod_mpm_prefork.so\n\
             LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so\n\
             LoadModule php_module {mod_php}\n\
             PHPINIDir {ini}\n\
             Listen 127.0.0.1:{port}\n\
             ServerName localhost\n\
             User www-data\n\
             Group www-data\n\
             StartServers 2\n\
             MinSpareServers 2\n\
             MaxSpareServers 2\n\
             MaxRequestWorkers 2\n\
             DocumentRoot {www}\n\
             <FilesMatch \"\\.php$\">\n  SetHandler application/x-httpd-php\n</FilesMatch>\n\
             <Directory {www}>\n  Require all granted\n</Directory>\n",
            root = root.display(),
            mod_php = mod_php.display(),
            ini = ini_dir.display(),
            www = www.display(),
        ),
    )
    .unwrap();
    let apache = Server(
        Command::new(&apache_bin)
            // Its own process group: on SIGTERM Apache signals its whole
            // group, which would otherwise include this test process.
            .process_group(0)
            .arg("-f")
            .arg(&conf)
            .args(["-D", "FOREGROUND"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_listening(port, &root.join("error.log"), Duration::from_secs(20));
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
