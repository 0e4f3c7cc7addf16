//! Angelic mode (§2.4): start a daemon when none answers.
//!
//! Never when `/etc/newrelic/newrelic.cfg` exists (a system daemon is
//! configured), never for a `host:port` address, and as
//! `newrelic.daemon.dont_launch` allows. At most one attempt at a time:
//! per process an attempt is made at most once a minute, and across
//! processes a non-blocking `flock` on a lock file lets only one php-fpm
//! worker spawn while the others carry on. The daemon is started with a
//! double fork and `setsid`, so it is re-parented to init and never
//! becomes a zombie of the PHP process; its stdout/stderr go to the agent
//! log.

use super::address::DaemonAddress;
use crate::config::{DaemonSettings, DontLaunch};
use std::ffi::CString;
use std::time::{Duration, Instant};

/// The system daemon's config file; its presence means "daemonic mode".
pub const SYSTEM_CFG: &str = "/etc/newrelic/newrelic.cfg";

/// Minimum time between two spawn attempts of one process.
pub const RETRY: Duration = Duration::from_secs(60);

/// Whether this process may spawn a daemon at all.
pub fn allowed(
    d: &DaemonSettings,
    addr: &DaemonAddress,
    is_cli: bool,
    system_cfg_exists: bool,
) -> bool {
    if system_cfg_exists || addr.is_tcp() {
        return false;
    }
    match d.dont_launch {
        DontLaunch::Never => true,
        DontLaunch::NotCli => !is_cli,
        DontLaunch::NotWeb => is_cli,
        DontLaunch::Always => false,
    }
}

/// The first writable default pid file location, if any.
pub fn default_pidfile() -> Option<String> {
    ["/var/run/", "/var/pid/", "/var/log/newrelic/", "/var/log/"]
        .iter()
        .find(|dir| {
            let c = CString::new(**dir).unwrap_or_default();
            // SAFETY: valid C string.
            unsafe { libc::access(c.as_ptr(), libc::W_OK) == 0 }
        })
        .map(|dir| format!("{dir}newrelic-daemon.pid"))
}

/// The daemon's argv, as New Relic's agent builds it.
pub fn argv(d: &DaemonSettings, address: &str, pidfile: Option<String>) -> Vec<String> {
    let mut a = vec![d.location.clone(), "--agent".to_owned()];
    let mut opt = |flag: &str, v: &str| {
        if !v.is_empty() {
            a.push(flag.to_owned());
            a.push(v.to_owned());
        }
    };
    let pidfile = if d.pidfile.is_empty() {
        pidfile.unwrap_or_default()
    } else {
        d.pidfile.clone()
    };
    opt("--pidfile", &pidfile);
    opt("--logfile", &d.logfile);
    opt("--loglevel", &d.loglevel);
    opt("--auditlog", &d.auditlog);
    a.push("--port".to_owned());
    a.push(address.to_owned());
    let mut opt = |flag: &str, v: &str| {
        if !v.is_empty() {
            a.push(flag.to_owned());
            a.push(v.to_owned());
        }
    };
    opt("--cafile", &d.ssl_ca_bundle);
    opt("--capath", &d.ssl_ca_path);
    opt("--proxy", &d.proxy);
    a.push("--wait-for-port".to_owned());
    a.push(if d.start_timeout.is_empty() {
        "0s".to_owned()
    } else {
        d.start_timeout.clone()
    });
    if !d.app_timeout.is_empty() {
        a.push("--define".to_owned());
        a.push(format!("app_timeout={}", d.app_timeout));
    }
    for (name, on) in ["aws", "azure", "gcp", "pcf", "docker", "kubernetes"]
        .iter()
        .zip(d.detect)
    {
        a.push("--define".to_owned());
        a.push(format!("utilization.detect_{name}={on}"));
    }
    if d.integration {
        a.push("--integration".to_owned());
    }
    a
}

/// Why no daemon was started.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// Another process holds the spawn lock.
    #[error("another process is starting the daemon")]
    Busy,
    /// The argv contains a NUL byte.
    #[error("daemon argument contains a NUL byte")]
    BadArg,
    /// fork failed.
    #[error("fork failed: {0}")]
    Fork(std::io::Error),
}

/// Spawn throttle of one agent (per process; per thread in ZTS PHP).
#[derive(Debug, Default)]
pub struct Spawner {
    last: Option<Instant>,
}

impl Spawner {
    /// Whether an attempt is due at `now`.
    pub fn due(&self, now: Instant) -> bool {
        self.last
            .is_none_or(|t| now.saturating_duration_since(t) >= RETRY)
    }

    /// Starts the daemon (if due and the lock is free). Returns the pid of
    /// the short-lived intermediate child on success.
    pub fn spawn(
        &mut self,
        argv: &[String],
        lock_path: &str,
        log_fd: Option<i32>,
        now: Instant,
    ) -> Result<(), SpawnError> {
        self.last = Some(now);
        let lock = Lock::try_acquire(lock_path).ok_or(SpawnError::Busy)?;
        let cargs: Vec<CString> = argv
            .iter()
            .map(|a| CString::new(a.as_str()))
            .collect::<Result<_, _>>()
            .map_err(|_| SpawnError::BadArg)?;
        let mut ptrs: Vec<*const libc::c_char> = cargs.iter().map(|c| c.as_ptr()).collect();
        ptrs.push(std::ptr::null());
        let devnull = c"/dev/null";
        // Everything the child needs is prepared above: between fork and
        // exec it only makes async-signal-safe calls.
        // SAFETY: the child only calls async-signal-safe functions and then
        // execs or _exits, which is what POSIX allows after a fork in a
        // multi-threaded process too (ZTS PHP; each thread's agent has its
        // own throttle, and the lock file keeps spawns apart as between
        // processes).
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(SpawnError::Fork(std::io::Error::last_os_error()));
        }
        if pid == 0 {
            // SAFETY: async-signal-safe calls only, ending in exec/_exit.
            unsafe {
                libc::setsid();
                let pid2 = libc::fork();
                if pid2 != 0 {
                    libc::_exit(0);
                }
                // A blocked mask and ignored signals survive exec: a CLI
                // worker that blocks SIGTERM (pcntl_sigprocmask) or ignores
                // SIGINT would start a daemon that `kill` cannot stop
                // gracefully. The daemon starts with PHP's signal state
                // undone.
                let mut none: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut none);
                libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
                let mut dfl: libc::sigaction = std::mem::zeroed();
                dfl.sa_sigaction = libc::SIG_DFL;
                for sig in 1..65 {
                    libc::sigaction(sig, &dfl, std::ptr::null_mut());
                }
                let null = libc::open(devnull.as_ptr(), libc::O_RDWR);
                if null >= 0 {
                    libc::dup2(null, 0);
                }
                let out = log_fd.unwrap_or(null);
                if out >= 0 {
                    libc::dup2(out, 1);
                    libc::dup2(out, 2);
                }
                libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
                libc::execv(ptrs[0], ptrs.as_ptr());
                libc::_exit(127);
            }
        }
        let mut status = 0;
        // SAFETY: reaps the intermediate child, which exits at once.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        drop(lock);
        Ok(())
    }
}

/// A held, non-blocking `flock`.
struct Lock(std::fs::File);

impl Lock {
    fn try_acquire(path: &str) -> Option<Lock> {
        use std::os::fd::AsRawFd;
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .ok()?;
        // SAFETY: valid fd.
        let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        (rc == 0).then_some(Lock(f))
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        use std::os::fd::AsRawFd;
        // SAFETY: valid fd.
        unsafe { libc::flock(self.0.as_raw_fd(), libc::LOCK_UN) };
    }
}

/// The lock file for spawning a daemon at `address`.
pub fn lock_path(address: &str) -> String {
    let h = address.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    format!("/tmp/.seraph-daemon-spawn-{h:016x}.lock")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AgentSettings;

    fn daemon() -> DaemonSettings {
        AgentSettings::resolve(&|_: &str| None).0.daemon
    }

    #[test]
    fn launch_rules() {
        let mut d = daemon();
        let sock = DaemonAddress::Abstract("newrelic".into());
        let tcp = DaemonAddress::Tcp("127.0.0.1:9".into());
        assert!(allowed(&d, &sock, true, false));
        assert!(!allowed(&d, &sock, true, true), "system cfg present");
        assert!(!allowed(&d, &tcp, true, false), "never for host:port");
        d.dont_launch = DontLaunch::NotCli;
        assert!(!allowed(&d, &sock, true, false) && allowed(&d, &sock, false, false));
        d.dont_launch = DontLaunch::NotWeb;
        assert!(allowed(&d, &sock, true, false) && !allowed(&d, &sock, false, false));
        d.dont_launch = DontLaunch::Always;
        assert!(!allowed(&d, &sock, true, false) && !allowed(&d, &sock, false, false));
    }

    #[test]
    fn argv_matches_new_relic() {
        let mut d = daemon();
        d.logfile = "/tmp/d.log".into();
        d.app_timeout = "5m".into();
        let a = argv(&d, "@newrelic", Some("/var/run/newrelic-daemon.pid".into()));
        assert_eq!(
            a.join(" "),
            "/usr/bin/newrelic-daemon --agent --pidfile /var/run/newrelic-daemon.pid \
             --logfile /tmp/d.log --port @newrelic --wait-for-port 0s --define app_timeout=5m \
             --define utilization.detect_aws=true --define utilization.detect_azure=true \
             --define utilization.detect_gcp=true --define utilization.detect_pcf=true \
             --define utilization.detect_docker=true --define utilization.detect_kubernetes=true"
        );
    }

    #[test]
    fn spawns_detached_and_throttles() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("ran");
        let script = dir.path().join("fake-daemon.sh");
        std::fs::write(
            &script,
            // Written aside, then renamed: the test polls for the file and
            // must never read it between its creation and its write.
            format!(
                "#!/bin/sh\necho \"$@\" > {m}.tmp && mv {m}.tmp {m}\n",
                m = marker.display()
            ),
        )
        .unwrap();
        std::os::unix::fs::PermissionsExt::set_mode(
            &mut std::fs::metadata(&script).unwrap().permissions(),
            0o755,
        );
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let lock = dir.path().join("spawn.lock");
        let mut s = Spawner::default();
        let now = Instant::now();
        assert!(s.due(now));
        let args = vec![script.to_str().unwrap().to_owned(), "--agent".to_owned()];
        s.spawn(&args, lock.to_str().unwrap(), None, now).unwrap();
        assert!(!s.due(now + Duration::from_secs(1)));
        assert!(s.due(now + RETRY));
        // A detached grandchild: it may run late on a loaded machine.
        let until = Instant::now() + Duration::from_secs(30);
        while !marker.exists() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(std::fs::read_to_string(&marker).unwrap().trim(), "--agent");
    }

    #[test]
    fn the_lock_admits_one_spawner() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("l");
        let held = Lock::try_acquire(p.to_str().unwrap()).unwrap();
        let mut s = Spawner::default();
        let r = s.spawn(
            &["/bin/true".to_owned()],
            p.to_str().unwrap(),
            None,
            Instant::now(),
        );
        assert!(matches!(r, Err(SpawnError::Busy)));
        drop(held);
        assert!(lock_path("@newrelic").starts_with("/tmp/.seraph-daemon-spawn-"));
    }
}
