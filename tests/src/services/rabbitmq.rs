//! RabbitMQ (Debian's `rabbitmq-server`): a node of its own with its own
//! `epmd` on free ports, data and logs in a temporary directory, no
//! plugins, the default `guest` user (allowed from 127.0.0.1).
//!
//! Debian's `/usr/sbin/rabbitmq-server` wrapper switches to the `rabbitmq`
//! user and writes under `/var`; the script behind it is run instead, told
//! (through `NOTIFY_SOCKET`, as under systemd) to `exec` the Erlang VM so
//! the VM is the process this harness started. Erlang would otherwise
//! start a shared `epmd` daemon that outlives the tests; a private one is
//! started first, on its own port.

use super::process::{self, Spawn};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// A running RabbitMQ node.
#[derive(Debug)]
pub struct RabbitMq {
    /// `127.0.0.1`.
    pub host: String,
    /// Its AMQP port.
    pub port: u16,
    /// `guest`.
    pub user: String,
    /// `guest`.
    pub password: String,
}

impl RabbitMq {
    /// `RABBITMQ_HOST`, `RABBITMQ_PORT`, `RABBITMQ_USER`,
    /// `RABBITMQ_PASSWORD`.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("RABBITMQ_HOST".into(), self.host.clone()),
            ("RABBITMQ_PORT".into(), self.port.to_string()),
            ("RABBITMQ_USER".into(), self.user.clone()),
            ("RABBITMQ_PASSWORD".into(), self.password.clone()),
        ]
    }
}

/// The test process's RabbitMQ, started on first use (panics with the
/// reason when it cannot start).
pub fn rabbitmq() -> &'static RabbitMq {
    static SERVER: OnceLock<Result<RabbitMq, String>> = OnceLock::new();
    match SERVER.get_or_init(start) {
        Ok(s) => s,
        Err(e) => panic!("RabbitMQ could not be started: {e}"),
    }
}

fn start() -> Result<RabbitMq, String> {
    let script =
        process::require_binary("/usr/lib/rabbitmq/bin/rabbitmq-server", "rabbitmq-server")?;
    let epmd = process::require_binary("/usr/bin/epmd", "erlang-base")?;
    let dir = process::temp_dir("seraph-rabbitmq-")?;

    let epmd_port = process::free_port()?;
    let epmd_log = dir.join("epmd.log");
    let mut cmd = Command::new(epmd);
    cmd.args(["-port", &epmd_port.to_string(), "-address", "127.0.0.1"]);
    let epmd_pid = process::spawn(Spawn {
        name: "epmd",
        cmd,
        log: epmd_log.clone(),
        stop_signal: libc::SIGTERM,
    })?;
    process::wait_for_port(
        "epmd",
        epmd_pid,
        epmd_port,
        &epmd_log,
        Duration::from_secs(10),
    )?;

    let port = process::free_port()?;
    let dist_port = process::free_port()?;
    let log = dir.join("rabbitmq.log");
    let node = format!("seraph-{}@localhost", std::process::id());
    let path = |name: &str| dir.join(name).display().to_string();
    let mut cmd = Command::new(script);
    cmd.env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
        .env("HOME", &dir)
        .env("LANG", "C.UTF-8")
        .env("ERL_EPMD_PORT", epmd_port.to_string())
        .env("NOTIFY_SOCKET", path("no-systemd"))
        .env("RABBITMQ_CONF_ENV_FILE", "/dev/null")
        .env("RABBITMQ_NODENAME", &node)
        .env("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
        .env("RABBITMQ_NODE_PORT", port.to_string())
        .env("RABBITMQ_DIST_PORT", dist_port.to_string())
        .env("RABBITMQ_MNESIA_BASE", path("mnesia"))
        .env("RABBITMQ_LOG_BASE", path("log"))
        .env("RABBITMQ_CONFIG_FILE", path("rabbitmq"))
        .env("RABBITMQ_ADVANCED_CONFIG_FILE", path("advanced.config"))
        .env("RABBITMQ_ENABLED_PLUGINS_FILE", path("enabled_plugins"))
        .env("RABBITMQ_PID_FILE", path("rabbitmq.pid"))
        .current_dir(&dir);
    let pid = process::spawn(Spawn {
        name: "rabbitmq-server",
        cmd,
        log: log.clone(),
        stop_signal: libc::SIGTERM,
    })?;
    if let Err(e) =
        process::wait_for_port("rabbitmq-server", pid, port, &log, Duration::from_secs(120))
    {
        process::stop(pid);
        process::stop(epmd_pid);
        return Err(e);
    }
    Ok(RabbitMq {
        host: "127.0.0.1".into(),
        port,
        user: "guest".into(),
        password: "guest".into(),
    })
}
