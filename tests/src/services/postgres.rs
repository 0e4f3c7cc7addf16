//! PostgreSQL 15 (Debian's `postgresql-15`): `initdb` into a fresh
//! directory, trust authentication, a free port on 127.0.0.1. PostgreSQL
//! refuses to run as root, so as root it runs as the `postgres` user (or
//! `nobody`).

use super::process::{self, Spawn};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

const BIN: &str = "/usr/lib/postgresql/15/bin";

/// A running PostgreSQL server.
#[derive(Debug)]
pub struct Postgres {
    /// `127.0.0.1`.
    pub host: String,
    /// Its TCP port.
    pub port: u16,
    /// The directory of its Unix socket.
    pub socket_dir: PathBuf,
    /// The superuser, `postgres` (any password is accepted).
    pub user: String,
    /// A password for clients that insist on one (not checked).
    pub password: String,
    /// The database, `postgres`.
    pub database: String,
}

impl Postgres {
    /// Runs SQL with `psql` as the superuser; returns its unaligned output.
    pub fn sql(&self, sql: &str) -> Result<String, String> {
        process::run(
            "psql",
            Command::new(format!("{BIN}/psql"))
                .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
                .args(["-h", &self.host, "-p", &self.port.to_string()])
                .args(["-U", &self.user, "-d", &self.database, "-c", sql]),
        )
    }

    /// The variables New Relic's PHP tests read: `PG_HOST`, `PG_PORT`,
    /// `PG_USER`, `PG_PW`.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("PG_HOST", self.host.clone()),
            ("PG_PORT", self.port.to_string()),
            ("PG_USER", self.user.clone()),
            ("PG_PW", self.password.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }
}

/// The test process's PostgreSQL, started on first use (panics with the
/// reason when it cannot start).
pub fn postgres() -> &'static Postgres {
    static SERVER: OnceLock<Result<Postgres, String>> = OnceLock::new();
    match SERVER.get_or_init(start) {
        Ok(s) => s,
        Err(e) => panic!("PostgreSQL could not be started: {e}"),
    }
}

fn start() -> Result<Postgres, String> {
    let initdb = process::require_binary(&format!("{BIN}/initdb"), "postgresql-15")?;
    let server = process::require_binary(&format!("{BIN}/postgres"), "postgresql-15")?;
    let owner = process::unprivileged_user("postgres")?;
    let dir = process::temp_dir("seraph-postgres-")?;
    let home = dir.join("pg");
    std::fs::create_dir(&home).map_err(|e| format!("mkdir {}: {e}", home.display()))?;
    process::chown(&home, owner)?;
    let data = home.join("data");

    let mut init = Command::new(initdb);
    init.arg("-D")
        .arg(&data)
        .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
        .current_dir(&home);
    if let Some((uid, gid)) = owner {
        init.uid(uid).gid(gid);
    }
    process::run("initdb", &mut init)?;

    let port = process::free_port()?;
    let log = dir.join("postgres.log");
    let mut cmd = Command::new(server);
    cmd.arg("-D")
        .arg(&data)
        .arg("-k")
        .arg(&home)
        .args(["-p", &port.to_string(), "-h", "127.0.0.1"])
        .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
        .args(["-c", "full_page_writes=off", "-c", "logging_collector=off"])
        .current_dir(&home);
    if let Some((uid, gid)) = owner {
        cmd.uid(uid).gid(gid);
    }
    let pid = process::spawn(Spawn {
        name: "postgres",
        cmd,
        log: log.clone(),
        // Fast shutdown: disconnect clients, stop at once.
        stop_signal: libc::SIGINT,
    })?;
    process::wait_for_port("postgres", pid, port, &log, Duration::from_secs(60))?;
    let pg = Postgres {
        host: "127.0.0.1".into(),
        port,
        socket_dir: home,
        user: "postgres".into(),
        password: "root".into(),
        database: "postgres".into(),
    };
    // The port accepts connections a moment before the server takes
    // queries ("the database system is starting up"): wait for one.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        match pg.sql("SELECT 1") {
            Ok(_) => return Ok(pg),
            Err(e) if std::time::Instant::now() > deadline => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}
