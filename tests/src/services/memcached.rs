//! Memcached (Debian's `memcached`): TCP only, a free port on 127.0.0.1.

use super::process::{self, Spawn};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// A running memcached.
#[derive(Debug)]
pub struct Memcached {
    /// `127.0.0.1`.
    pub host: String,
    /// Its TCP port.
    pub port: u16,
}

impl Memcached {
    /// The variables New Relic's PHP tests read: `MEMCACHE_HOST`,
    /// `MEMCACHE_PORT`.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("MEMCACHE_HOST".into(), self.host.clone()),
            ("MEMCACHE_PORT".into(), self.port.to_string()),
        ]
    }
}

/// The test process's memcached, started on first use (panics with the
/// reason when it cannot start).
pub fn memcached() -> &'static Memcached {
    static SERVER: OnceLock<Result<Memcached, String>> = OnceLock::new();
    match SERVER.get_or_init(start) {
        Ok(s) => s,
        Err(e) => panic!("memcached could not be started: {e}"),
    }
}

fn start() -> Result<Memcached, String> {
    let server = process::require_binary("/usr/bin/memcached", "memcached")?;
    let dir = process::temp_dir("seraph-memcached-")?;
    let port = process::free_port()?;
    let log = dir.join("memcached.log");
    let mut cmd = Command::new(server);
    cmd.args([
        "-p",
        &port.to_string(),
        "-l",
        "127.0.0.1",
        "-U",
        "0",
        "-m",
        "32",
    ]);
    if nix::unistd::geteuid().is_root() {
        // memcached refuses root without an explicit user.
        cmd.args(["-u", "root"]);
    }
    let pid = process::spawn(Spawn {
        name: "memcached",
        cmd,
        log: log.clone(),
        stop_signal: libc::SIGTERM,
    })?;
    process::wait_for_port("memcached", pid, port, &log, Duration::from_secs(30))?;
    Ok(Memcached {
        host: "127.0.0.1".into(),
        port,
    })
}
