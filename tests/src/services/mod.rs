//! Real servers for tests, from Debian's packages: MariaDB, PostgreSQL,
//! Redis, memcached and RabbitMQ.
//!
//! Each is started at most once per test binary, on first use, in a
//! temporary directory of its own, on free ports of 127.0.0.1; it is
//! stopped and its directory removed when the test binary exits, and it
//! is killed by the kernel if the test binary dies (see `process`). A
//! missing package or a server that does not come up makes the calling
//! test panic with the reason, never skip.
//!
//! ```no_run
//! let db = seraph_e2e::services::mariadb();
//! db.sql("CREATE DATABASE wordpress").unwrap();
//! let php_env = db.env(); // MYSQL_HOST, MYSQL_PORT, …
//! # let _ = php_env;
//! ```
//!
//! Servers that need root run as root (MariaDB and memcached as root when
//! the tests are root); PostgreSQL refuses root and runs as the `postgres`
//! user then. The API: one function per server returning a `&'static`
//! description (address, credentials, `env()` with the variable names New
//! Relic's PHP tests read), plus [`php_env`] for all of them at once.

mod mariadb;
mod memcached;
mod postgres;
pub mod process;
mod rabbitmq;
mod redis;

pub use mariadb::{mariadb, MariaDb};
pub use memcached::{memcached, Memcached};
pub use postgres::{postgres, Postgres};
pub use rabbitmq::{rabbitmq, RabbitMq};
pub use redis::{redis, Redis};

/// Environment variables for PHP, `(name, value)`.
pub type Env = Vec<(String, String)>;

/// A server's name and how to start it and get its variables.
type Starter = (&'static str, fn() -> Env);

/// Starts every server (in parallel; each at most once per process) and
/// returns the environment variables PHP tests use to reach them. Panics
/// naming every server that could not start.
pub fn php_env() -> Env {
    let starters: [Starter; 5] = [
        ("MariaDB", || mariadb().env()),
        ("PostgreSQL", || postgres().env()),
        ("Redis", || redis().env()),
        ("memcached", || memcached().env()),
        ("RabbitMQ", || rabbitmq().env()),
    ];
    let results: Vec<(&str, std::thread::Result<Env>)> = std::thread::scope(|s| {
        let handles: Vec<_> = starters
            .iter()
            .map(|(name, f)| (*name, s.spawn(f)))
            .collect();
        handles
            .into_iter()
            .map(|(name, h)| (name, h.join()))
            .collect()
    });
    let mut env = Vec::new();
    let mut failed = Vec::new();
    for (name, r) in results {
        match r {
            Ok(vars) => env.extend(vars),
            Err(panic) => {
                let why = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| format!("{name} failed"));
                failed.push(why);
            }
        }
    }
    assert!(
        failed.is_empty(),
        "servers failed to start:\n{}",
        failed.join("\n\n")
    );
    env
}
