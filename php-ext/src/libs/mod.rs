//! Instrumented libraries and frameworks: one module each, declaring its
//! rows of the instrumentation table (`crate::hooks::table`): a `Library`
//! (PDO, curl, Monolog) or, for a framework, a `FrameworkLibrary` whose rows
//! also detect it. Each module keeps what it learns in a per-request state
//! type of its own (`Scope::state`).

pub mod amqplib;
pub mod composer;
pub mod curl;
pub mod curl_multi;
pub mod drupal;
pub mod guzzle;
pub mod http_streams;
pub mod laravel;
pub mod mediawiki;
pub mod memcache;
pub mod memcached;
pub mod monolog;
pub mod mysqli;
pub mod mysqli_explain;
pub mod pcntl;
pub mod pdo;
pub mod pdo_explain;
pub mod pgsql;
pub mod predis;
pub mod redis;
pub mod slim;
pub mod soap;
pub mod sqlite3;
pub mod symfony;
pub mod wordpress;
