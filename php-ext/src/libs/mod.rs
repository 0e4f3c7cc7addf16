//! Instrumented libraries and frameworks: one module each, declaring its
//! rows of the instrumentation table (`crate::hooks::table`): a `Library`
//! (PDO, curl, Monolog) or, for a framework, a `FrameworkLibrary` whose rows
//! also detect it. Each module keeps what it learns in a per-request state
//! type of its own (`Scope::state`).

pub mod composer;
pub mod curl;
pub mod drupal;
pub mod laravel;
pub mod mediawiki;
pub mod monolog;
pub mod pcntl;
pub mod pdo;
pub mod slim;
pub mod symfony;
pub mod wordpress;
