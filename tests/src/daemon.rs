//! Running the real `newrelic-daemon` binary for a test.

use crate::agent::{Address, AgentConn};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A daemon started by a test; killed when dropped.
pub struct Daemon {
    child: Option<Child>,
    /// Where it listens.
    pub address: Address,
    /// Its log file.
    pub log: PathBuf,
    /// Its temporary directory (config, log, socket).
    pub dir: tempfile::TempDir,
}

/// How to start a daemon.
pub struct DaemonOptions {
    /// `newrelic.cfg` lines.
    pub cfg: Vec<String>,
    /// Extra command-line arguments.
    pub args: Vec<String>,
    /// Run the worker directly (`-f`) rather than under the watcher.
    pub foreground: bool,
    /// `--loglevel`.
    pub loglevel: &'static str,
    /// Start it with this `RLIMIT_NOFILE` (soft and hard).
    pub nofile: Option<u64>,
    /// A CA certificate (PEM) to trust: written into the daemon's own
    /// directory (so it outlives the test's setup, e.g. for a respawned
    /// worker) and set as `ssl_ca_bundle`.
    pub ca_pem: Option<String>,
    /// Where to listen; default: a fresh abstract socket.
    pub address: Option<Address>,
    /// Run it as this user (`runuser -u`), e.g. `nobody`.
    pub user: Option<String>,
}

impl Default for DaemonOptions {
    fn default() -> Self {
        DaemonOptions {
            cfg: Vec::new(),
            args: Vec::new(),
            foreground: true,
            loglevel: "debug",
            nofile: None,
            ca_pem: None,
            address: None,
            user: None,
        }
    }
}

impl Daemon {
    /// Starts the daemon on a fresh abstract socket and waits until it
    /// accepts connections.
    pub async fn start(options: DaemonOptions) -> Daemon {
        let dir = tempfile::tempdir().expect("temp dir");
        let name = format!(
            "seraph-e2e-{}-{}",
            std::process::id(),
            dir.path().file_name().unwrap().to_string_lossy()
        );
        let address = options.address.clone().unwrap_or(Address::Abstract(name));
        let log = dir.path().join("daemon.log");
        let cfg = dir.path().join("newrelic.cfg");
        let mut lines = options.cfg.clone();
        if let Some(pem) = &options.ca_pem {
            let ca = dir.path().join("ca.pem");
            std::fs::write(&ca, pem).unwrap();
            lines.push(format!("ssl_ca_bundle = {}", ca.display()));
        }
        std::fs::write(&cfg, lines.join("\n") + "\n").unwrap();
        let mut cmd = match (options.nofile, &options.user) {
            // The shell lowers the limit, then execs the daemon in place
            // (same pid).
            (Some(n), None) => {
                let mut c = Command::new("/bin/sh");
                c.arg("-c")
                    .arg(format!("ulimit -n {n} && exec \"$0\" \"$@\""))
                    .arg(crate::binary("newrelic-daemon"));
                c
            }
            (None, None) => Command::new(crate::binary("newrelic-daemon")),
            // runuser execs the daemon as that user (same pid).
            (_, Some(user)) => {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777))
                    .unwrap();
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"])
                    .arg(crate::binary("newrelic-daemon"));
                c
            }
        };
        cmd.arg("-c")
            .arg(&cfg)
            .arg("--address")
            .arg(address.to_flag())
            .arg("--logfile")
            .arg(&log)
            .arg("--loglevel")
            .arg(options.loglevel);
        if options.foreground {
            cmd.arg("-f");
        }
        cmd.args(&options.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        let child = cmd.spawn().expect("spawn newrelic-daemon");
        let mut daemon = Daemon {
            child: Some(child),
            address,
            log,
            dir,
        };
        daemon.wait_ready(Duration::from_secs(20)).await;
        daemon
    }

    async fn wait_ready(&mut self, timeout: Duration) {
        let start = Instant::now();
        loop {
            if AgentConn::connect(&self.address).await.is_ok() {
                return;
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "daemon exited early with {status}; log:\n{}",
                    self.log_text()
                );
            }
            assert!(
                start.elapsed() < timeout,
                "daemon not listening after {timeout:?}; log:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A new agent connection.
    pub async fn agent(&self) -> AgentConn {
        AgentConn::connect(&self.address)
            .await
            .expect("connect to daemon")
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// The log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends `signal` to the daemon.
    pub fn signal(&self, signal: Signal) {
        if let Some(child) = &self.child {
            let pid = Pid::from_raw(i32::try_from(child.id()).expect("pid fits i32"));
            let _ = kill(pid, signal);
        }
    }

    /// Waits (up to `timeout`) for the daemon to exit on its own.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let mut child = self.child.take().expect("daemon still running");
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait().expect("wait for daemon") {
                return status;
            }
            if start.elapsed() > timeout {
                let _ = child.kill();
                panic!("daemon did not exit within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGTERM and waits (up to `timeout`) for the exit status.
    pub fn terminate(&mut self, timeout: Duration) -> ExitStatus {
        let mut child = self.child.take().expect("daemon still running");
        let pid = Pid::from_raw(i32::try_from(child.id()).expect("pid fits i32"));
        let _ = kill(pid, Signal::SIGTERM);
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait().expect("wait for daemon") {
                return status;
            }
            if start.elapsed() > timeout {
                let _ = child.kill();
                panic!("daemon did not exit within {timeout:?} of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The temporary directory's path.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The daemon's resident memory in KiB (`VmRSS`), 0 once it has exited.
    pub fn rss_kib(&self) -> u64 {
        status_field(self.pid(), "VmRSS:")
    }

    /// How many file descriptors the daemon has open.
    pub fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid())).map_or(0, |d| d.count())
    }
}

/// Live children of process `pid` (from `/proc/*/stat`).
pub fn children_of(pid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|child| {
            let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
            // "pid (comm) state ppid ...": comm may hold spaces, so split
            // after its closing parenthesis.
            let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
            let mut fields = after.split_whitespace();
            let state = fields.next().unwrap_or("Z");
            state != "Z" && fields.next().and_then(|p| p.parse().ok()) == Some(pid)
        })
        .collect()
}

/// The resident memory of process `pid` in KiB (0 once it has exited).
pub fn rss_kib_of(pid: u32) -> u64 {
    status_field(pid, "VmRSS:")
}

/// A `kB` field of `/proc/<pid>/status`.
fn status_field(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // A watcher's worker would outlive it (and keep the test's
            // stderr pipe open): kill it too.
            let workers = children_of(child.id());
            let _ = child.kill();
            for pid in workers {
                if let Ok(pid) = i32::try_from(pid) {
                    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                }
            }
            let _ = child.wait();
        }
    }
}
