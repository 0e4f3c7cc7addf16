//! Redis (Debian's `redis-server`): no persistence, a free port on
//! 127.0.0.1.

use super::process::{self, Spawn};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// A running Redis server.
#[derive(Debug)]
pub struct Redis {
    /// `127.0.0.1`.
    pub host: String,
    /// Its TCP port.
    pub port: u16,
}

impl Redis {
    /// The variables New Relic's PHP tests read: `REDIS_HOST`, `REDIS_PORT`.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("REDIS_HOST".into(), self.host.clone()),
            ("REDIS_PORT".into(), self.port.to_string()),
        ]
    }
}

/// The test process's Redis, started on first use (panics with the reason
/// when it cannot start).
pub fn redis() -> &'static Redis {
    static SERVER: OnceLock<Result<Redis, String>> = OnceLock::new();
    match SERVER.get_or_init(start) {
        Ok(s) => s,
        Err(e) => panic!("Redis could not be started: {e}"),
    }
}

fn start() -> Result<Redis, String> {
    let server = process::require_binary("/usr/bin/redis-server", "redis-server")?;
    let dir = process::temp_dir("seraph-redis-")?;
    let port = process::free_port()?;
    let log = dir.join("redis.log");
    let mut cmd = Command::new(server);
    cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
        .arg("--dir")
        .arg(&dir);
    let pid = process::spawn(Spawn {
        name: "redis-server",
        cmd,
        log: log.clone(),
        stop_signal: libc::SIGTERM,
    })?;
    process::wait_for_port("redis-server", pid, port, &log, Duration::from_secs(30))?;
    Ok(Redis {
        host: "127.0.0.1".into(),
        port,
    })
}
