//! Helpers shared by the end-to-end tests: finding the workspace's built
//! binaries, running the real `newrelic-daemon`, and talking to it as a PHP
//! agent would (App queries and Transaction frames over its socket), and
//! the real servers (MariaDB, PostgreSQL, Redis, memcached, RabbitMQ)
//! datastore tests talk to (`services`).
//!
//! The binaries are built by `cargo build --workspace --bins` before the
//! tests run (tests/run-all.sh does this); a missing binary is a test
//! failure with a message saying so, never a skip.

pub mod agent;
pub mod apps;
pub mod daemon;
pub mod harvest;
pub mod load;
pub mod monitor;
pub mod services;
pub mod vectors;
pub mod web;

use std::path::PathBuf;

/// The directory holding the workspace's built binaries (`target/<profile>`),
/// found from the running test executable (`target/<profile>/deps/…`).
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current test executable");
    let deps = exe
        .parent()
        .expect("test executable has a parent directory");
    if deps.ends_with("deps") {
        deps.parent().expect("deps has a parent").to_path_buf()
    } else {
        deps.to_path_buf()
    }
}

/// Path of a built workspace binary, panicking with instructions if absent.
pub fn binary(name: &str) -> PathBuf {
    let path = target_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace --bins` first",
        path.display()
    );
    path
}

/// `tests/vectors`: the frames New Relic's agent sent (see its README).
pub fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("vectors")
}
