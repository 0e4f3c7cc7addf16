//! Instrumented libraries: one module each, declaring its rows of the
//! instrumentation table (`crate::hooks::table`). Each module keeps what it
//! learns about its objects in a per-request state type of its own
//! (`Scope::state`).

pub mod amqplib;
pub mod curl;
pub mod curl_multi;
pub mod guzzle;
pub mod http_streams;
pub mod memcache;
pub mod memcached;
pub mod mysqli;
pub mod mysqli_explain;
pub mod pcntl;
pub mod pdo;
pub mod pdo_explain;
pub mod pgsql;
pub mod predis;
pub mod redis;
pub mod soap;
pub mod sqlite3;
