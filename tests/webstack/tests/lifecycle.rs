//! Nothing outlives a stack: dropping it stops nginx, php-fpm and their
//! workers and removes its directory; a stack kept in a `static` (never
//! dropped) is stopped when the test binary exits; one whose binary is
//! killed with `SIGKILL` goes with it, and the next stack removes its
//! directory.
//!
//! The last two need a test binary that ends, so this file has its own
//! `main` (`harness = false`): run with `SERAPH_WEBSTACK_CHILD=<mode>` it
//! is that child, started by the checks below. Needs the extension built
//! (`cargo build -p newrelic-php`), nginx and php-fpm.

use seraph_webstack::{Options, WebStack};
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const CHILD: &str = "SERAPH_WEBSTACK_CHILD";

/// `target/<profile>/libnewrelic_php.so`, next to this test's `deps/`.
fn extension() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let profile = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target/<profile>");
    profile.join("libnewrelic_php.so")
}

fn start() -> WebStack {
    Options::new("lifecycle", extension())
        .script("pid.php", "<?php echo getmypid();")
        .start()
        .unwrap_or_else(|e| panic!("start: {e}"))
}

/// The pids of `pid`'s children (from `/proc/*/stat`).
fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(child) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        // Fields after the command (which may hold spaces) in parentheses.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(pid) {
            out.push(child);
        }
    }
    out
}

/// Both masters and all their workers.
fn all_pids(web: &WebStack) -> Vec<u32> {
    let mut pids = vec![web.nginx_pid(), web.fpm_pid()];
    pids.extend(children_of(web.nginx_pid()));
    pids.extend(children_of(web.fpm_pid()));
    pids
}

fn alive(pid: u32) -> bool {
    // A zombie has exited; only its parent's wait is missing.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !s.rsplit_once(')')
                .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

/// Waits (at most 15 s: the stop grace and then some) for `pids` to be
/// gone; fails naming those still running.
fn assert_gone(pids: &[u32], what: &str) {
    let until = Instant::now() + Duration::from_secs(15);
    while pids.iter().any(|&p| alive(p)) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    let left: Vec<_> = pids.iter().filter(|&&p| alive(p)).collect();
    assert!(left.is_empty(), "{what}: still running: {left:?}");
}

fn dropping_stops_everything_and_removes_the_directory() {
    let web = start();
    let (status, body) = web.get("/pid.php");
    assert_eq!(status, 200, "{body}\n{}", web.logs());
    let worker: u32 = body.trim().parse().expect("a worker's pid");
    let pids = all_pids(&web);
    assert!(pids.contains(&worker), "{worker} not in {pids:?}");
    assert_eq!(
        pids.len(),
        5,
        "2 masters, 1 nginx worker, 2 php-fpm workers: {pids:?}"
    );
    let dir = web.dir().to_path_buf();
    drop(web);
    assert_gone(&pids, "after drop");
    assert!(!dir.exists(), "{} is left", dir.display());
}

/// Runs this binary as a child in `mode`; returns it once it has written
/// its stack's pids and directory to `report`.
fn spawn_child(mode: &str, report: &std::path::Path) -> std::process::Child {
    let child = Command::new(std::env::current_exe().expect("current_exe"))
        .env(CHILD, mode)
        .env("SERAPH_WEBSTACK_REPORT", report)
        .spawn()
        .expect("run the child");
    let until = Instant::now() + Duration::from_secs(60);
    while !report.exists() {
        assert!(Instant::now() < until, "the child never started its stack");
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

/// (pids, directory) from a child's report.
fn read_report(report: &std::path::Path) -> (Vec<u32>, PathBuf) {
    let text = std::fs::read_to_string(report).expect("report");
    let (pids, dir) = text.split_once('\n').expect("pids, then the directory");
    let pids = pids
        .split_whitespace()
        .map(|p| p.parse().expect("a pid"))
        .collect();
    (pids, PathBuf::from(dir.trim()))
}

fn a_static_stack_is_stopped_at_exit() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let report = tmp.path().join("report");
    let mut child = spawn_child("static", &report);
    let status = child.wait().expect("wait for the child");
    assert!(status.success(), "child: {status}");
    let (pids, dir) = read_report(&report);
    assert_eq!(pids.len(), 5, "{pids:?}");
    assert_gone(&pids, "after the child's exit");
    assert!(!dir.exists(), "{} is left", dir.display());
}

fn a_killed_binary_leaves_no_server() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let report = tmp.path().join("report");
    let mut child = spawn_child("kill", &report);
    let (pids, dir) = read_report(&report);
    assert_eq!(pids.len(), 5, "{pids:?}");
    child.kill().expect("SIGKILL the child");
    let _ = child.wait();
    // The masters get SIGTERM when the binary dies (parent-death signal)
    // and stop their workers.
    let gone = std::panic::catch_unwind(|| assert_gone(&pids, "after SIGKILL"));
    for p in pids.iter().filter(|&&p| alive(p)) {
        // SAFETY: a signal to a process this test's child started (the
        // check failed; nothing may be left on the machine).
        unsafe { libc::kill(*p as libc::pid_t, libc::SIGKILL) };
    }
    if let Err(e) = gone {
        std::panic::resume_unwind(e);
    }
    // The child never ran its exit handler: the next stack removes its
    // directory.
    assert!(dir.exists(), "{}", dir.display());
    drop(start());
    assert!(!dir.exists(), "{} is left", dir.display());
}

/// The child: a stack in a `static`, its pids reported, then an ordinary
/// exit (`static`) or waiting to be killed (`kill`).
fn child(mode: &str) {
    static WEB: OnceLock<WebStack> = OnceLock::new();
    let web = WEB.get_or_init(start);
    let report = PathBuf::from(std::env::var_os("SERAPH_WEBSTACK_REPORT").expect("report path"));
    let pids: Vec<String> = all_pids(web).iter().map(u32::to_string).collect();
    let tmp = report.with_extension("tmp");
    std::fs::write(
        &tmp,
        format!("{}\n{}\n", pids.join(" "), web.dir().display()),
    )
    .expect("write the report");
    std::fs::rename(&tmp, &report).expect("publish the report");
    if mode == "kill" {
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    }
}

fn main() {
    if let Some(mode) = std::env::var_os(CHILD) {
        child(&mode.to_string_lossy());
        return;
    }
    // Every stack's start sweeps the temporary directory for directories
    // of processes that are gone. A stack started by another test binary
    // or checkout on this machine would sweep the killed child's directory
    // before a_killed_binary_leaves_no_server checks that it is still
    // there: these checks (and their children, which inherit TMPDIR) use
    // a temporary directory of their own, open to the servers' user.
    let private = tempfile::tempdir().expect("a private temporary directory");
    std::fs::set_permissions(
        private.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod the private temporary directory");
    // Set while this process has a single thread, before any check runs.
    std::env::set_var("TMPDIR", private.path());
    let checks: [(&str, fn()); 3] = [
        (
            "dropping_stops_everything_and_removes_the_directory",
            dropping_stops_everything_and_removes_the_directory,
        ),
        (
            "a_static_stack_is_stopped_at_exit",
            a_static_stack_is_stopped_at_exit,
        ),
        (
            "a_killed_binary_leaves_no_server",
            a_killed_binary_leaves_no_server,
        ),
    ];
    for (name, check) in checks {
        check();
        println!("test {name} ... ok");
    }
}
