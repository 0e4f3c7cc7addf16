//! The `newrelic-daemon` internals, as a library so that integration tests
//! and benchmarks can drive the worker in-process. The binary
//! (`src/main.rs`) only parses the command line and picks a process role.
//!
//! Section numbers (§N) in comments refer to the repository's
//! `docs/protocol.md`; sections of `docs/daemon.md` are cited with its name.

pub mod files;
#[macro_use]
pub mod loglimit;
pub mod termination;
pub mod worker;
