//! Datastore instances: which server a datastore call went to, named as New
//! Relic's agent names it (`Datastore/instance/<product>/<host>/<port>`,
//! the span's `peer.hostname`, `peer.address`, `db.instance`).
//!
//! The rules, per driver, follow New Relic's PHP agent:
//!
//! * a host that means "this machine" (`localhost`, `127.0.0.1`, `::1`,
//!   `0.0.0.0`, …) is reported as the machine's host name; an empty host is
//!   `unknown`, and so are an empty port and an empty database name;
//! * mysqli: no host means `mysqli.default_host`, else `localhost`; the
//!   port is the given one, else `mysqli.default_port`; the host
//!   `localhost` (any case) means the socket: the given one, else
//!   `mysqli.default_socket`. A `p:` (persistent) prefix is not part of the
//!   host;
//! * PDO MySQL: `host` (default `localhost`), `port` (default 3306),
//!   `unix_socket` (default `pdo_mysql.default_socket`) and `dbname` from
//!   the DSN; `localhost` means the socket;
//! * PostgreSQL (pgsql and PDO pgsql): libpq's connection string, with
//!   libpq's defaults (`PGHOSTADDR`/`PGHOST`, `PGPORT`, `PGDATABASE`/
//!   `PGUSER`); a host starting with `/` is a socket directory;
//! * Redis: a host starting with `/` is a socket (host `localhost`); the
//!   database is the one `select` chose, `0` until then;
//! * memcached: port 0 means the "host" is a socket path.
//!
//! Pure: the machine's host name, INI defaults and environment come in as
//! arguments.

/// A datastore server and database, normalized for reporting.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DatastoreInstance {
    /// Host name (this machine's name for a local address), or `unknown`.
    pub host: String,
    /// Port, socket path or id, or `unknown`.
    pub port_path_or_id: String,
    /// Database name, or `unknown`.
    pub database_name: String,
}

/// Whether a host names this machine.
pub fn is_localhost(host: &str) -> bool {
    matches!(
        host,
        "localhost"
            | "127.0.0.1"
            | "0.0.0.0"
            | "0:0:0:0:0:0:0:1"
            | "::1"
            | "0:0:0:0:0:0:0:0"
            | "::"
    )
}

fn or_unknown(s: Option<&str>) -> String {
    match s {
        Some(s) if !s.is_empty() => s.to_owned(),
        _ => "unknown".to_owned(),
    }
}

impl DatastoreInstance {
    /// An instance from raw parts; `system_host` is this machine's name.
    pub fn new(
        host: Option<&str>,
        port_path_or_id: Option<&str>,
        database_name: Option<&str>,
        system_host: &str,
    ) -> DatastoreInstance {
        let host = match host {
            Some(h) if is_localhost(h) => system_host.to_owned(),
            h => or_unknown(h),
        };
        DatastoreInstance {
            host,
            port_path_or_id: or_unknown(port_path_or_id),
            database_name: or_unknown(database_name),
        }
    }

    /// Changes the database (mysqli `select_db`, Redis `select`).
    pub fn set_database(&mut self, database_name: Option<&str>) {
        self.database_name = or_unknown(database_name);
    }
}

/// The mysqli INI defaults (`mysqli.default_host`, `default_port`,
/// `default_socket`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MysqliDefaults {
    /// `mysqli.default_host`.
    pub host: String,
    /// `mysqli.default_port`.
    pub port: String,
    /// `mysqli.default_socket`.
    pub socket: String,
}

/// The host of a mysqli connection without its `p:` (persistent) prefix.
pub fn strip_persistent(host: &str) -> &str {
    host.strip_prefix("p:").unwrap_or(host)
}

/// A mysqli connection (`mysqli_connect`, `new mysqli`, `real_connect`).
pub fn mysqli(
    host: Option<&str>,
    port: i64,
    socket: Option<&str>,
    database: Option<&str>,
    defaults: &MysqliDefaults,
    system_host: &str,
) -> DatastoreInstance {
    let host = match host.map(strip_persistent) {
        Some(h) if !h.is_empty() => h.to_owned(),
        _ if !defaults.host.is_empty() => defaults.host.clone(),
        _ => "localhost".to_owned(),
    };
    let port_path_or_id = if host.eq_ignore_ascii_case("localhost") {
        match socket {
            Some(s) if !s.is_empty() => s.to_owned(),
            _ => defaults.socket.clone(),
        }
    } else if port == 0 {
        defaults.port.clone()
    } else {
        port.to_string()
    };
    DatastoreInstance::new(Some(&host), Some(&port_path_or_id), database, system_host)
}

/// `key=value;…` pairs of a PDO DSN body (after `driver:`).
fn dsn_pairs(body: &str) -> impl Iterator<Item = (&str, &str)> {
    body.split(';').filter_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        Some((k.trim(), v.trim()))
    })
}

/// A PDO MySQL connection, from the DSN body (after `mysql:`).
pub fn pdo_mysql(dsn_body: &str, default_socket: &str, system_host: &str) -> DatastoreInstance {
    let (mut host, mut port, mut socket, mut db) = ("localhost", "3306", default_socket, "");
    for (k, v) in dsn_pairs(dsn_body) {
        match k {
            "host" => host = v,
            "port" => port = v,
            "unix_socket" => socket = v,
            "dbname" => db = v,
            _ => {}
        }
    }
    let port_path_or_id = if host == "localhost" {
        if socket.is_empty() {
            "default"
        } else {
            socket
        }
    } else {
        port
    };
    DatastoreInstance::new(Some(host), Some(port_path_or_id), Some(db), system_host)
}

/// libpq's environment defaults (`PGHOSTADDR`, `PGHOST`, `PGPORT`,
/// `PGDATABASE`, `PGUSER`), as the extension read them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PgEnv {
    /// `PGHOSTADDR`.
    pub hostaddr: Option<String>,
    /// `PGHOST`.
    pub host: Option<String>,
    /// `PGPORT`.
    pub port: Option<String>,
    /// `PGDATABASE`.
    pub database: Option<String>,
    /// `PGUSER`.
    pub user: Option<String>,
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.is_empty())
}

/// The `key = value` pairs of a libpq connection string (values may be
/// quoted with `'`, backslash escapes a character). `None` when it does
/// not parse (libpq would refuse it too).
fn conninfo_pairs(s: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut it = s.chars().peekable();
    loop {
        while it.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            it.next();
        }
        if it.peek().is_none() {
            return Some(out);
        }
        let mut name = String::new();
        while let Some(&c) = it.peek() {
            if c == '=' || c.is_ascii_whitespace() {
                break;
            }
            name.push(c);
            it.next();
        }
        while it.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            it.next();
        }
        if it.next() != Some('=') {
            return None;
        }
        while it.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            it.next();
        }
        let mut value = String::new();
        if it.peek() == Some(&'\'') {
            it.next();
            loop {
                match it.next() {
                    None => return None,
                    Some('\\') => {
                        if let Some(c) = it.next() {
                            value.push(c);
                        }
                    }
                    Some('\'') => break,
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(c) = it.next() {
                match c {
                    c if c.is_ascii_whitespace() => break,
                    '\\' => {
                        if let Some(c) = it.next() {
                            value.push(c);
                        }
                    }
                    c => value.push(c),
                }
            }
        }
        out.push((name, value));
    }
}

/// A PostgreSQL connection from its libpq connection string (`pg_connect`;
/// PDO pgsql passes the DSN body with `;` read as blanks).
pub fn postgres(conn_info: Option<&str>, env: &PgEnv, system_host: &str) -> DatastoreInstance {
    let (mut host, mut port, mut db): (Option<String>, Option<String>, Option<String>) =
        (None, None, None);
    // A string libpq would refuse leaves what was read before the error,
    // as New Relic's parser does.
    let pairs = conn_info.map(|s| match conninfo_pairs(s) {
        Some(p) => p,
        None => conninfo_pairs_prefix(s),
    });
    for (k, v) in pairs.unwrap_or_default() {
        match k.as_str() {
            "host" if host.is_none() => host = Some(v),
            "hostaddr" => host = Some(v),
            "port" => port = Some(v),
            "dbname" => db = Some(v),
            "user" if db.is_none() => db = Some(v),
            _ => {}
        }
    }
    let (host, port) = match host.filter(|h| !h.is_empty()) {
        None => {
            let h = non_empty(&env.hostaddr)
                .or(non_empty(&env.host))
                .unwrap_or("localhost")
                .to_owned();
            let port = if h.eq_ignore_ascii_case("localhost") && port.is_none() {
                Some("/tmp".to_owned())
            } else {
                port
            };
            (h, port)
        }
        Some(h) if h.starts_with('/') => ("localhost".to_owned(), Some(h)),
        Some(h) => (h, port),
    };
    let port = port
        .filter(|p| !p.is_empty())
        .or_else(|| non_empty(&env.port).map(str::to_owned))
        .unwrap_or_else(|| "5432".to_owned());
    let db = db.filter(|d| !d.is_empty()).or_else(|| {
        non_empty(&env.database)
            .or(non_empty(&env.user))
            .map(str::to_owned)
    });
    DatastoreInstance::new(Some(&host), Some(&port), db.as_deref(), system_host)
}

/// The pairs before the first malformed one.
fn conninfo_pairs_prefix(s: &str) -> Vec<(String, String)> {
    let mut end = s.len();
    while end > 0 {
        end = s[..end]
            .rfind(|c: char| c.is_ascii_whitespace())
            .unwrap_or(0);
        if let Some(p) = conninfo_pairs(&s[..end]) {
            return p;
        }
    }
    Vec::new()
}

/// A PDO pgsql connection: PDO hands libpq the DSN body with `;` as blanks;
/// without a database name the user name is the database.
pub fn pdo_pgsql(
    dsn_body: &str,
    username: Option<&str>,
    env: &PgEnv,
    system_host: &str,
) -> DatastoreInstance {
    let conn_info = dsn_body.replace(';', " ");
    let mut inst = postgres(Some(&conn_info), env, system_host);
    if inst.database_name == "unknown" {
        if let Some(u) = username.filter(|u| !u.is_empty()) {
            inst.database_name = u.to_owned();
        }
    }
    inst
}

/// The database a Redis connection starts on.
pub const REDIS_DEFAULT_DATABASE: &str = "0";

/// A phpredis connection (`connect`, `pconnect`, `open`, `popen`).
pub fn redis(host_or_socket: &str, port: i64, system_host: &str) -> DatastoreInstance {
    if host_or_socket.starts_with('/') {
        DatastoreInstance::new(
            Some("localhost"),
            Some(host_or_socket),
            Some(REDIS_DEFAULT_DATABASE),
            system_host,
        )
    } else {
        DatastoreInstance::new(
            Some(host_or_socket),
            Some(&port.to_string()),
            Some(REDIS_DEFAULT_DATABASE),
            system_host,
        )
    }
}

/// A memcached server (`Memcached::addServer`); port 0 means a socket.
pub fn memcached(host: &str, port: i64, system_host: &str) -> DatastoreInstance {
    if port == 0 {
        DatastoreInstance::new(Some("localhost"), Some(host), None, system_host)
    } else {
        DatastoreInstance::new(Some(host), Some(&port.to_string()), None, system_host)
    }
}

/// What New Relic reports for calls whose server it does not track (Redis
/// Cluster): `unknown` everywhere.
pub fn unknown() -> DatastoreInstance {
    DatastoreInstance::new(None, None, None, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: &str = "box";

    fn mysqli_defaults() -> MysqliDefaults {
        MysqliDefaults {
            host: String::new(),
            port: "3306".into(),
            socket: "/var/run/mysqld/mysqld.sock".into(),
        }
    }

    fn inst(h: &str, p: &str, d: &str) -> DatastoreInstance {
        DatastoreInstance {
            host: h.into(),
            port_path_or_id: p.into(),
            database_name: d.into(),
        }
    }

    #[test]
    fn local_hosts_become_the_machine_name_and_blanks_unknown() {
        for h in ["localhost", "127.0.0.1", "::1", "0.0.0.0", "::"] {
            assert_eq!(
                DatastoreInstance::new(Some(h), Some("1"), Some("d"), ME).host,
                ME
            );
        }
        assert_eq!(
            DatastoreInstance::new(Some(""), None, Some(""), ME),
            inst("unknown", "unknown", "unknown")
        );
        assert_eq!(
            DatastoreInstance::new(Some("db.example"), Some("5"), None, ME).host,
            "db.example"
        );
    }

    #[test]
    fn mysqli_uses_the_socket_for_localhost_and_the_port_otherwise() {
        let d = mysqli_defaults();
        assert_eq!(
            mysqli(Some("127.0.0.1"), 3307, None, Some("app"), &d, ME),
            inst(ME, "3307", "app")
        );
        assert_eq!(
            mysqli(Some("db"), 0, None, None, &d, ME),
            inst("db", "3306", "unknown")
        );
        assert_eq!(
            mysqli(Some("localhost"), 3307, None, Some("x"), &d, ME),
            inst(ME, "/var/run/mysqld/mysqld.sock", "x")
        );
        // The socket rule ignores case, the host-name rule does not.
        assert_eq!(
            mysqli(Some("p:LocalHost"), 0, Some("/s"), None, &d, ME),
            inst("LocalHost", "/s", "unknown")
        );
        assert_eq!(
            mysqli(None, 0, None, None, &d, ME).port_path_or_id,
            d.socket
        );
        let with_default_host = MysqliDefaults {
            host: "dbhost".into(),
            ..mysqli_defaults()
        };
        assert_eq!(
            mysqli(Some(""), 0, None, None, &with_default_host, ME).host,
            "dbhost"
        );
    }

    #[test]
    fn pdo_mysql_reads_the_dsn() {
        assert_eq!(
            pdo_mysql("host=127.0.0.1;port=3307;dbname=app", "/sock", ME),
            inst(ME, "3307", "app")
        );
        assert_eq!(
            pdo_mysql("dbname=app", "/sock", ME),
            inst(ME, "/sock", "app")
        );
        assert_eq!(
            pdo_mysql("host=db;dbname=app", "/sock", ME),
            inst("db", "3306", "app")
        );
        assert_eq!(
            pdo_mysql("host=localhost;unix_socket=/x", "", ME),
            inst(ME, "/x", "unknown")
        );
        assert_eq!(pdo_mysql("", "", ME), inst(ME, "default", "unknown"));
    }

    #[test]
    fn postgres_reads_libpq_strings_with_defaults() {
        let env = PgEnv::default();
        assert_eq!(
            postgres(Some("host=127.0.0.1 port=5433 user=u dbname=d"), &env, ME),
            inst(ME, "5433", "d")
        );
        assert_eq!(
            postgres(Some("host=db user=u"), &env, ME),
            inst("db", "5432", "u")
        );
        assert_eq!(
            postgres(Some("host=/run/pg"), &env, ME),
            inst(ME, "/run/pg", "unknown")
        );
        assert_eq!(
            postgres(Some("dbname = 'my db'"), &env, ME),
            inst(ME, "/tmp", "my db")
        );
        assert_eq!(postgres(None, &env, ME), inst(ME, "/tmp", "unknown"));
        let env = PgEnv {
            host: Some("pghost".into()),
            port: Some("6000".into()),
            user: Some("me".into()),
            ..PgEnv::default()
        };
        assert_eq!(postgres(Some(""), &env, ME), inst("pghost", "6000", "me"));
        // Malformed after the first pair: what was read before counts.
        assert_eq!(
            postgres(Some("host=db junk"), &PgEnv::default(), ME).host,
            "db"
        );
    }

    #[test]
    fn pdo_pgsql_uses_the_user_as_database() {
        assert_eq!(
            pdo_pgsql("host=db;port=5433", Some("alice"), &PgEnv::default(), ME),
            inst("db", "5433", "alice")
        );
        assert_eq!(
            pdo_pgsql("host=db;dbname=app", Some("alice"), &PgEnv::default(), ME),
            inst("db", "5432", "app")
        );
    }

    #[test]
    fn redis_and_memcached() {
        assert_eq!(redis("127.0.0.1", 6380, ME), inst(ME, "6380", "0"));
        assert_eq!(
            redis("/tmp/redis.sock", 0, ME),
            inst(ME, "/tmp/redis.sock", "0")
        );
        assert_eq!(
            memcached("cache", 11211, ME),
            inst("cache", "11211", "unknown")
        );
        assert_eq!(
            memcached("/tmp/mc.sock", 0, ME),
            inst(ME, "/tmp/mc.sock", "unknown")
        );
        assert_eq!(unknown(), inst("unknown", "unknown", "unknown"));
    }
}
