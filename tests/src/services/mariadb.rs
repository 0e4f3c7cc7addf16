//! MariaDB (Debian's `mariadb-server`): a fresh data directory, listening
//! on a free port on 127.0.0.1 and on a socket, with a password user.

use super::process::{self, Spawn};
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// A running MariaDB server.
#[derive(Debug)]
pub struct MariaDb {
    /// `127.0.0.1`.
    pub host: String,
    /// Its TCP port.
    pub port: u16,
    /// Its Unix socket.
    pub socket: PathBuf,
    /// A user with every privilege, reachable over TCP and the socket.
    pub user: String,
    /// That user's password.
    pub password: String,
    /// An empty database created for the tests.
    pub database: String,
}

impl MariaDb {
    /// Runs SQL as the server's root user over its socket (the `mariadb`
    /// client); returns what it printed (tab-separated, no headers).
    pub fn sql(&self, sql: &str) -> Result<String, String> {
        let client = process::require_binary("/usr/bin/mariadb", "mariadb-client")?;
        process::run(
            "mariadb",
            Command::new(client)
                .arg("--no-defaults")
                .arg(format!("--socket={}", self.socket.display()))
                .args(["--user=root", "--batch", "--skip-column-names", "-e", sql]),
        )
    }

    /// The variables New Relic's PHP tests read (`include/config.php`):
    /// `MYSQL_HOST`, `MYSQL_PORT`, `MYSQL_USER`, `MYSQL_PASSWD`, `MYSQL_DB`,
    /// and `MYSQL_SOCKET` empty (connect over TCP). The socket path is in
    /// `SERAPH_MYSQL_SOCKET` for tests that connect through it.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("MYSQL_HOST", self.host.clone()),
            ("MYSQL_PORT", self.port.to_string()),
            ("MYSQL_USER", self.user.clone()),
            ("MYSQL_PASSWD", self.password.clone()),
            ("MYSQL_DB", self.database.clone()),
            ("MYSQL_SOCKET", String::new()),
            ("SERAPH_MYSQL_SOCKET", self.socket.display().to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }
}

/// The test process's MariaDB, started on first use (panics with the
/// reason when it cannot start, such as the package not being installed).
pub fn mariadb() -> &'static MariaDb {
    static SERVER: OnceLock<Result<MariaDb, String>> = OnceLock::new();
    match SERVER.get_or_init(start) {
        Ok(s) => s,
        Err(e) => panic!("MariaDB could not be started: {e}"),
    }
}

fn start() -> Result<MariaDb, String> {
    let server = process::require_binary("/usr/sbin/mariadbd", "mariadb-server")?;
    let install = process::require_binary("/usr/bin/mariadb-install-db", "mariadb-server")?;
    let dir = process::temp_dir("seraph-mariadb-")?;
    let data = dir.join("data");
    let socket = dir.join("mysqld.sock");
    let root = nix::unistd::geteuid().is_root();
    let mut init = Command::new(install);
    init.arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .args(["--auth-root-authentication-method=normal", "--skip-test-db"]);
    if root {
        init.arg("--user=root");
    }
    process::run("mariadb-install-db", &mut init)?;

    let port = process::free_port()?;
    let log = dir.join("mariadbd.log");
    let mut cmd = Command::new(server);
    cmd.arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .arg(format!("--socket={}", socket.display()))
        .arg(format!("--port={port}"))
        .arg(format!("--pid-file={}", dir.join("mariadbd.pid").display()))
        .args([
            "--bind-address=127.0.0.1",
            "--skip-log-bin",
            "--innodb-buffer-pool-size=32M",
            "--skip-name-resolve",
        ]);
    if root {
        cmd.arg("--user=root");
    }
    let pid = process::spawn(Spawn {
        name: "mariadbd",
        cmd,
        log: log.clone(),
        stop_signal: libc::SIGTERM,
    })?;
    process::wait_for_port("mariadbd", pid, port, &log, Duration::from_secs(60))?;

    let db = MariaDb {
        host: "127.0.0.1".into(),
        port,
        socket,
        user: "seraph".into(),
        password: "seraph".into(),
        database: "seraph".into(),
    };
    db.sql(
        "CREATE USER 'seraph'@'%' IDENTIFIED BY 'seraph';\
         CREATE USER 'seraph'@'localhost' IDENTIFIED BY 'seraph';\
         GRANT ALL ON *.* TO 'seraph'@'%' WITH GRANT OPTION;\
         GRANT ALL ON *.* TO 'seraph'@'localhost' WITH GRANT OPTION;\
         CREATE DATABASE seraph;",
    )?;
    Ok(db)
}
