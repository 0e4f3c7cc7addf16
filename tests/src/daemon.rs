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
}

impl Default for DaemonOptions {
    fn default() -> Self {
        DaemonOptions {
            cfg: Vec::new(),
            args: Vec::new(),
            foreground: true,
            loglevel: "debug",
            nofile: None,
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
        let address = Address::Abstract(name);
        let log = dir.path().join("daemon.log");
        let cfg = dir.path().join("newrelic.cfg");
        std::fs::write(&cfg, options.cfg.join("\n") + "\n").unwrap();
        let mut cmd = match options.nofile {
            // The shell lowers the limit, then execs the daemon in place
            // (same pid).
            Some(n) => {
                let mut c = Command::new("/bin/sh");
                c.arg("-c")
                    .arg(format!("ulimit -n {n} && exec \"$0\" \"$@\""))
                    .arg(crate::binary("newrelic-daemon"));
                c
            }
            None => Command::new(crate::binary("newrelic-daemon")),
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
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
