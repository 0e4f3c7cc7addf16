//! Shared helpers for the PHP-level tests: locate the built extension, run
//! `php`/`php-cgi` with it, and a fake daemon that records frames.
#![allow(dead_code)]

pub mod apache;
pub mod fake_daemon;
pub mod web;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `target/<profile>/libnewrelic_php.so`, derived from the test binary's
/// own path (`target/<profile>/deps/<test>`). Build it first with
/// `cargo build -p newrelic-php`.
pub fn extension_path() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let so = profile_dir.join("libnewrelic_php.so");
    assert!(
        so.exists(),
        "{} is missing: run `cargo build -p newrelic-php` first",
        so.display()
    );
    so
}

/// `tests/vectors`: the frames New Relic's agent sent for each scenario.
pub fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors")
}

/// Whether a binary is on PATH.
pub fn have(bin: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {bin}"))
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Fails the test (never skips it) when a tool it needs is missing.
pub fn require(bin: &str, package: &str) {
    assert!(
        have(bin),
        "`{bin}` is not installed, so this test cannot run. Install {package} \
         (tests/setup-host.sh does). A skipped check would hide a defect, so \
         this test fails instead."
    );
}

/// The CLI's `MAJOR.MINOR` (the php-fpm and php-cgi binaries must match
/// the PHP the extension was built for).
pub fn php_version() -> String {
    let out = Command::new("php")
        .args([
            "-n",
            "-r",
            "echo PHP_MAJOR_VERSION, '.', PHP_MINOR_VERSION;",
        ])
        .output()
        .expect("run php");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The CLI's full `PHP_VERSION` (e.g. `8.4.27`), asked once.
pub fn php_full_version() -> &'static str {
    static V: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    V.get_or_init(|| {
        let out = Command::new("php")
            .args(["-n", "-r", "echo PHP_VERSION;"])
            .output()
            .expect("run php");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    })
}

/// Metric names from a captured vector as this PHP sends them. The vectors
/// were captured on PHP 8.2.36, so their `Supportability/PHP/Version/<v>`
/// is replaced by the running version (tests also run on PHP 8.4, see
/// tests/php-versions/matrix.sh).
pub fn for_this_php(names: impl IntoIterator<Item = String>) -> BTreeSet<String> {
    const PREFIX: &str = "Supportability/PHP/Version/";
    names
        .into_iter()
        .map(|n| {
            if n.starts_with(PREFIX) {
                format!("{PREFIX}{}", php_full_version())
            } else {
                n
            }
        })
        .collect()
}

/// The php-fpm binary for the CLI's PHP version (see
/// `seraph_webstack::php_fpm`); fails the test when there is none.
pub fn php_fpm() -> PathBuf {
    seraph_webstack::php_fpm().unwrap_or_else(|e| panic!("{e}"))
}

/// The INI settings that point the extension at the fake daemon at
/// `address` (never launching one) with the test license; callers add
/// their own.
pub fn daemon_ini(address: &str) -> Vec<(&'static str, &str)> {
    vec![
        ("newrelic.daemon.address", address),
        ("newrelic.daemon.dont_launch", "3"),
        (
            "newrelic.license",
            "0123456789012345678901234567890123456789",
        ),
        ("newrelic.daemon.app_connect_timeout", "5s"),
    ]
}

/// How long an app query waits for the fake daemon's reply in every test
/// that does not set it: the agent's default (100 ms) is missed by a fake
/// daemon thread on a loaded two-core CI machine, and a missed reply means
/// another query and, after a backoff, an uninstrumented request.
pub const APPINFO_TIMEOUT: &str = "5s";

/// A `php -n -d extension=<so>` command with the given INI settings (and
/// [`APPINFO_TIMEOUT`] unless they set it).
pub fn php(ini: &[(&str, &str)]) -> Command {
    php_binary("php", ini)
}

/// The same for `php-cgi` (web requests: set `REQUEST_*`/`SCRIPT_*` in its
/// environment).
pub fn php_cgi(ini: &[(&str, &str)]) -> Command {
    php_binary("php-cgi", ini)
}

/// Sets the CGI variables of a `GET /index.php` served by `script` on a
/// php-cgi command (with `cgi.force_redirect=0` in its settings).
pub fn get_index<'c>(cmd: &'c mut Command, script: &Path) -> &'c mut Command {
    cmd.env("REQUEST_METHOD", "GET")
        .env("REQUEST_URI", "/index.php")
        .env("SCRIPT_NAME", "/index.php")
        .env("SCRIPT_FILENAME", script)
        .env("HTTP_HOST", "localhost")
}

/// `cmd` (its program, arguments, environment and directory) under
/// valgrind's memcheck, which exits with 99 on any error or definite leak.
/// PHP's allocator is off so that memcheck sees every allocation, and the
/// extension stays mapped at exit so its process-lifetime state counts as
/// reachable and its symbols stay readable.
pub fn memcheck(cmd: &Command) -> Command {
    let mut c = Command::new("valgrind");
    c.args([
        "-q",
        "--error-exitcode=99",
        "--leak-check=full",
        "--errors-for-leak-kinds=definite",
    ])
    .env("USE_ZEND_ALLOC", "0")
    .env("ZEND_DONT_UNLOAD_MODULES", "1")
    .arg(cmd.get_program())
    .args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        c.current_dir(dir);
    }
    c
}

/// `<bin> -n -d extension=<so>` with the given INI settings.
fn php_binary(bin: &str, ini: &[(&str, &str)]) -> Command {
    let mut c = Command::new(bin);
    c.arg("-n")
        .arg("-d")
        .arg(format!("extension={}", extension_path().display()))
        .arg("-d")
        .arg(format!(
            "newrelic.special.appinfo_timeout={APPINFO_TIMEOUT}"
        ));
    // The caller's settings come after, so they win (a test of the app
    // deadline sets its own).
    for (k, v) in ini {
        c.arg("-d").arg(format!("{k}={v}"));
    }
    c
}

/// Runs a command, returning its output and how long it took.
pub fn run_timed(cmd: &mut Command) -> (Output, Duration) {
    let start = Instant::now();
    let out = cmd.output().expect("spawn php");
    (out, start.elapsed())
}

/// stdout as a String.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Whether a process exists.
pub fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid, 0) == 0 }
}

/// For a pre-forking server (php-fpm, Apache prefork): every Transaction
/// came from one of its `workers`, never the `parent`, and each worker used
/// one daemon connection (of the `connections` the daemon accepted) and
/// sent one App query on it.
pub fn assert_one_connection_per_worker(
    frames: &[fake_daemon::Received],
    txns: &[(usize, seraph_wire::TransactionData)],
    parent: i32,
    workers: &BTreeSet<i32>,
    connections: usize,
) {
    let mut conns_by_pid: std::collections::BTreeMap<i32, BTreeSet<usize>> =
        std::collections::BTreeMap::new();
    for (conn, t) in txns {
        assert_ne!(t.pid, parent, "a transaction from the parent process");
        assert!(workers.contains(&t.pid), "pid {} is no worker", t.pid);
        conns_by_pid.entry(t.pid).or_default().insert(*conn);
    }
    assert!(
        conns_by_pid.values().all(|c| c.len() == 1),
        "{conns_by_pid:?}"
    );
    assert_eq!(connections, conns_by_pid.len());
    let apps = frames.iter().filter(|f| f.kind() == "App").count();
    assert_eq!(apps, conns_by_pid.len(), "one App query per worker");
}

/// Waits (at most 10 s) for every process in `pids` to be gone; fails
/// naming those still running.
pub fn assert_all_exit(pids: &BTreeSet<i32>) {
    let until = Instant::now() + Duration::from_secs(10);
    while pids.iter().any(|&p| alive(p)) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    let left: Vec<_> = pids.iter().filter(|&&p| alive(p)).collect();
    assert!(left.is_empty(), "workers still running: {left:?}");
}

/// A pre-forking server (php-fpm, Apache) stopped with SIGTERM when
/// dropped, however the test ends: its parent then stops its workers and
/// exits. (SIGKILL, which `Child::kill` sends, leaves the workers running,
/// re-parented to init.) Killed after 10 s if it has not exited.
pub struct Server(pub std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        // SAFETY: a signal to the child we spawned.
        unsafe { libc::kill(self.0.id() as libc::pid_t, libc::SIGTERM) };
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
