//! Trust no one on the socket or in the file system: the real daemon (run
//! as root, and as `nobody` where a foreign owner is needed), real PHP
//! with the extension, the collector stand-in, and another local user
//! (`nobody`, through `runuser`) doing what an attacker would.

use collector_standin::{Standin, StandinConfig};
use seraph_e2e::agent::{app_info, Address, AgentConn};
use seraph_e2e::daemon::{Daemon, DaemonOptions};
use seraph_e2e::{binary, harvest, target_dir};
use seraph_wire::AppStatus;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const LICENSE: &str = "0123456789012345678901234567890123456789";
const WAIT: Duration = Duration::from_secs(20);

fn extension() -> PathBuf {
    let so = target_dir().join("libnewrelic_php.so");
    assert!(
        so.exists(),
        "{} is missing: run `cargo build -p newrelic-php` first",
        so.display()
    );
    so
}

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().mode() & 0o7777
}

/// Runs a command as `nobody`; fails clearly when `runuser` is missing.
fn as_nobody(args: &[&str]) -> Output {
    let out = Command::new("runuser")
        .args(["-u", "nobody", "--"])
        .args(args)
        .output()
        .expect("runuser (util-linux) is needed to act as another user");
    assert!(
        out.status.success(),
        "as nobody: {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A directory every user may write into, without the sticky bit (where
/// the kernel's own protected_symlinks does not help).
fn open_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    chmod(dir.path(), 0o777);
    dir
}

/// The daemon in the foreground with `args`, until it exits (at most 20 s).
fn daemon_exit(args: &[&str]) -> Output {
    let mut child = Command::new(binary("newrelic-daemon"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + WAIT;
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("daemon {args:?} did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn links_planted_at_the_pid_and_log_paths_are_not_followed() {
    let dir = open_dir();
    let secret = dir.path().join("root-only");
    std::fs::write(&secret, "do not touch\n").unwrap();
    chmod(&secret, 0o600);
    let pid_link = dir.path().join("daemon.pid");
    let log_link = dir.path().join("daemon.log");
    for link in [&pid_link, &log_link] {
        as_nobody(&["ln", "-s", secret.to_str().unwrap(), link.to_str().unwrap()]);
        assert_eq!(std::fs::symlink_metadata(link).unwrap().uid(), 65534);
    }
    let sock = format!("@seraph-sec-{}", std::process::id());
    // The pid file: refused, exit 1.
    let log = dir.path().join("real.log");
    let out = daemon_exit(&[
        "-f",
        "--address",
        &sock,
        "--logfile",
        log.to_str().unwrap(),
        "--pidfile",
        pid_link.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("symbolic link"), "{text}");
    // The log: refused, exit 1, said on stderr.
    let out = daemon_exit(&[
        "-f",
        "--address",
        &sock,
        "--logfile",
        log_link.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("symbolic link owned by uid 65534"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), "do not touch\n");
    assert_eq!(mode(&secret), 0o600);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_and_socket_keep_their_modes_under_umask_000() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("daemon.sock");
    let pid = dir.path().join("daemon.pid");
    let log = dir.path().join("daemon.log");
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg("umask 000 && exec \"$0\" \"$@\"")
        .arg(binary("newrelic-daemon"))
        .args(["-f", "--address"])
        .arg(&sock)
        .arg("--pidfile")
        .arg(&pid)
        .arg("--logfile")
        .arg(&log)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while AgentConn::connect(&Address::Path(sock.clone()))
        .await
        .is_err()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "daemon not listening"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let modes = (mode(&pid), mode(&log), mode(&sock));
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(modes, (0o644, 0o640, 0o660), "pid, log, socket");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_socket_is_never_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("daemon.sock");
    let first = Daemon::start(DaemonOptions {
        address: Some(Address::Path(sock.clone())),
        ..Default::default()
    })
    .await;
    let out = daemon_exit(&[
        "-f",
        "--address",
        sock.to_str().unwrap(),
        "--logfile",
        "stderr",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("listens on that socket"), "{stderr}");
    // The first daemon still answers there.
    let mut agent = first.agent().await;
    let reply = agent
        .app_query(&app_info(LICENSE, "still-here", "127.0.0.1:1"), None)
        .await
        .unwrap();
    assert_eq!(reply.status, AppStatus::Unknown);
}

/// A PHP CLI run with the extension; returns the agent's log.
fn php_cli(dir: &Path, address: &str, collector: &str, extra: &[(&str, &str)]) -> String {
    let log = dir.join(format!("agent-{}.log", rand_suffix()));
    let mut cmd = Command::new("php");
    cmd.arg("-n")
        .arg("-d")
        .arg(format!("extension={}", extension().display()));
    let mut ini = vec![
        ("newrelic.license", LICENSE.to_owned()),
        ("newrelic.appname", "cli-app".to_owned()),
        ("newrelic.daemon.address", address.to_owned()),
        ("newrelic.daemon.dont_launch", "3".to_owned()),
        ("newrelic.daemon.collector_host", collector.to_owned()),
        ("newrelic.daemon.app_connect_timeout", "5s".to_owned()),
        ("newrelic.logfile", log.display().to_string()),
        ("newrelic.loglevel", "info".to_owned()),
    ];
    for (k, v) in extra {
        ini.retain(|(name, _)| name != k);
        ini.push((k, v.to_string()));
    }
    for (k, v) in ini {
        cmd.arg("-d").arg(format!("{k}={v}"));
    }
    let out = cmd.args(["-r", "echo 'ok';"]).output().expect("run php");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "ok",
        "PHP itself is unaffected"
    );
    std::fs::read_to_string(&log).unwrap_or_default()
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_license_goes_only_to_a_daemon_of_a_trusted_user() {
    let standin = Standin::start(StandinConfig::fast()).await.unwrap();
    // Another user listens at the agent's address first (an abstract
    // socket has no permissions): here, a real daemon run as nobody.
    let squatter = Daemon::start(DaemonOptions {
        user: Some("nobody".into()),
        ca_pem: standin.ca_pem().map(str::to_owned),
        ..Default::default()
    })
    .await;
    let address = squatter.address.to_flag();
    let dir = tempfile::tempdir().unwrap();
    let log = tokio::task::spawn_blocking({
        let (d, a, c) = (dir.path().to_owned(), address.clone(), standin.host());
        move || php_cli(&d, &a, &c, &[])
    })
    .await
    .unwrap();
    assert!(log.contains("refusing to talk to the daemon"), "{log}");
    assert!(log.contains("uid 65534"), "{log}");
    assert!(
        !squatter.log_text().contains("new application"),
        "no App query (no license) reached it:\n{}",
        squatter.log_text()
    );
    assert!(standin.calls_for("connect").is_empty());
    // Named as the daemon's user, it is trusted.
    let log = tokio::task::spawn_blocking({
        let (d, a, c) = (dir.path().to_owned(), address.clone(), standin.host());
        move || php_cli(&d, &a, &c, &[("newrelic.daemon.user", "nobody")])
    })
    .await
    .unwrap();
    assert!(!log.contains("refusing"), "{log}");
    assert!(squatter.log_text().contains("new application"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_license_keys_are_refused_by_both_halves() {
    let standin = Standin::start(StandinConfig::fast()).await.unwrap();
    let daemon = Daemon::start(DaemonOptions {
        ca_pem: standin.ca_pem().map(str::to_owned),
        ..Default::default()
    })
    .await;
    // The extension never sends it.
    let dir = tempfile::tempdir().unwrap();
    let log = tokio::task::spawn_blocking({
        let (d, a, c) = (
            dir.path().to_owned(),
            daemon.address.to_flag(),
            standin.host(),
        );
        move || php_cli(&d, &a, &c, &[("newrelic.license", "0123456789abcdef")])
    })
    .await
    .unwrap();
    assert!(log.contains("newrelic.license is unusable"), "{log}");
    assert!(log.contains("16 characters"), "{log}");
    assert!(!daemon.log_text().contains("new application"));
    // The daemon refuses one without asking the collector.
    let mut agent = daemon.agent().await;
    let bad = app_info(
        "0123456789012345678901234567890123456789XY",
        "x",
        &standin.host(),
    );
    let reply = agent.app_query(&bad, None).await.unwrap();
    assert_eq!(reply.status, AppStatus::InvalidLicense);
    assert!(daemon.log_text().contains("refusing an App query"));
    assert!(!daemon.log_text().contains(bad.license.as_str()));
    assert!(standin.calls().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_users_idle_connections_cannot_shut_php_out() {
    let standin = Standin::start(StandinConfig::fast()).await.unwrap();
    let dir = open_dir();
    let sock = dir.path().join("daemon.sock");
    let options = |mode: &str| DaemonOptions {
        cfg: vec![
            format!("socket_mode = {mode}"),
            "agent_idle_timeout = 2s".into(),
            "rlimit_files = 0".into(),
        ],
        // 300 descriptors: 150 agent connection slots.
        nofile: Some(300),
        ca_pem: standin.ca_pem().map(str::to_owned),
        address: Some(Address::Path(sock.clone())),
        ..Default::default()
    };
    // With the default mode (0660, root's group) another user cannot even
    // connect.
    let daemon = Daemon::start(options("0660")).await;
    let out = Command::new("runuser")
        .args(["-u", "nobody", "--", "php", "-n", "-r"])
        .arg(format!(
            "echo @stream_socket_client('unix://{}') ? 'connected' : 'refused';",
            sock.display()
        ))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "refused");
    drop(daemon);
    // Opened to every user (0666), it is flooded with 400 idle
    // connections by nobody: every slot is taken.
    let daemon = Daemon::start(options("0666")).await;
    let mut flood = Command::new("runuser")
        .args(["-u", "nobody", "--", "php", "-n", "-r"])
        .arg(format!(
            "$n = 0; $s = []; for ($i = 0; $i < 400; $i++) {{ $c = @stream_socket_client('unix://{}'); if ($c) {{ $s[] = $c; $n++; }} }} \
             fwrite(STDOUT, \"$n\\n\"); fflush(STDOUT); sleep(60);",
            sock.display()
        ))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(flood.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    println!(
        "FIGURE idle flood: nobody opened {} connections",
        line.trim()
    );
    // Once they have been idle for agent_idle_timeout, a PHP process gets
    // a connection (an idle one makes room) and its transaction arrives.
    // Their idle time counts from when the daemon accepted them, which a
    // loaded machine may delay past the 1 s of margin: a PHP process that
    // came too early is turned away, and the next one tries again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut logs = Vec::new();
    'arrived: loop {
        let log = tokio::task::spawn_blocking({
            let (d, a, c) = (
                tempfile::tempdir().unwrap(),
                sock.display().to_string(),
                standin.host(),
            );
            move || php_cli(d.path(), &a, &c, &[])
        })
        .await
        .unwrap();
        logs.push(log);
        let attempt_until = tokio::time::Instant::now() + Duration::from_secs(5);
        while tokio::time::Instant::now() < attempt_until {
            if harvest::transactions(&standin.calls()) >= 1.0 {
                break 'arrived;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the PHP transaction never arrived; agent logs:\n{}\ndaemon log:\n{}",
            logs.join("\n---\n"),
            daemon.log_text()
        );
    }
    assert!(daemon
        .log_text()
        .contains("closing the one idle longest for a new one"));
    let _ = flood.kill();
    let _ = flood.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reopens_the_log_after_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let pid = dir.path().join("daemon.pid");
    let daemon = Daemon::start(DaemonOptions {
        args: vec![
            "--watchdog-foreground".into(),
            "--pidfile".into(),
            pid.display().to_string(),
        ],
        foreground: false,
        loglevel: "info",
        ..Default::default()
    })
    .await;
    // logrotate without copytruncate: move the file away, signal the pid
    // file's process (the watcher, which passes it on).
    let rotated = dir.path().join("rotated.log");
    std::fs::rename(&daemon.log, &rotated).unwrap();
    let watcher: i32 = std::fs::read_to_string(&pid)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(watcher),
        nix::sys::signal::Signal::SIGHUP,
    )
    .unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let fresh = std::fs::read_to_string(&daemon.log).unwrap_or_default();
        if fresh.matches("log file reopened (SIGHUP)").count() == 2 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not reopened by both: {fresh:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(mode(&daemon.log), 0o640);
    assert!(std::fs::read_to_string(&rotated)
        .unwrap()
        .contains("listening for agents"));
    // Still running: SIGHUP no longer terminates it.
    assert!(AgentConn::connect(&daemon.address).await.is_ok());
}
