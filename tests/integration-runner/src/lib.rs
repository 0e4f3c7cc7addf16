//! `integration-runner`: runs PHP test files written in New Relic's
//! integration-test format (`/*EXPECT_METRICS ...*/` and friends) against
//! a PHP agent — Seraph's extension or New Relic's own.
//!
//! By default the runner *is* the daemon: it answers the agent's App query
//! itself and aggregates every transaction with `seraph_harvest::Harvest`,
//! exactly as the daemon does, then compares the payloads the daemon would
//! post with the test's expectations. With `--daemon` the real
//! `newrelic-daemon` sits in between (talking to an in-process collector
//! stand-in) and the payloads come from its integration-mode log, so the
//! same files test both halves.
//!
//! Modules, in the order a test flows through them: [`discover`] and
//! [`testfile`] (finding and parsing files), [`php`] and [`process`]
//! (running PHP), [`fake_daemon`] / [`real_daemon`] (receiving
//! transactions), [`payloads`], [`scrub`], [`envsub`], [`metrics`],
//! [`fuzzy`], [`packages`] and [`compare`] (checking), [`report`].
//!
//! The test-file format and the runner's behaviour are described in the
//! repository's `tests/integration/README.md`; a section number (§N) in
//! this crate's comments refers to that file.

pub mod compare;
pub mod discover;
pub mod duration;
pub mod envsub;
pub mod external;
pub mod fake_daemon;
pub mod fuzzy;
pub mod metrics;
pub mod packages;
pub mod payloads;
pub mod php;
pub mod process;
pub mod real_daemon;
pub mod report;
pub mod runner;
pub mod scrub;
pub mod testfile;
pub mod valgrind;
