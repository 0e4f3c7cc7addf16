//! Aggregation of agent transactions into per-application harvests, and the
//! collector payloads built from them (protocol.md §3.6, §4).
//!
//! This crate owns everything between a verified `Transaction` frame and an
//! uncompressed collector request body:
//!
//! * [`Harvest`] — one application run's data: the [`MetricTable`] (with
//!   cap and forced-metric rules), the five [`EventReservoir`]s, error
//!   traces, slow SQL, transaction traces, PHP packages, log-forwarding
//!   labels and the PIDs seen. [`Harvest::add_transaction`] merges a
//!   borrowed `seraph_wire::fb::Transaction` without copying anything it
//!   does not keep; `take_*` swaps parts out for sending and `merge_back_*`
//!   re-adds them after a retryable failure.
//! * [`payload`] — byte-exact JSON bodies for every harvest method, numbers
//!   formatted like New Relic's Go daemon.
//! * [`MetricRules`] — the connect reply's `metric_name_rules`.
//! * [`SupportabilityTracker`] — the `Supportability/*` metrics the daemon
//!   adds at harvest time from collector-call outcomes.
//!
//! It is deliberately **pure**: no I/O, no async runtime, no sockets and no
//! clock reads (callers pass `SystemTime` values in). That keeps the
//! daemon's hot path a plain function call the processor task can make under
//! its own scheduling, lets the PHP integration test runner reuse exactly
//! the same aggregation in-process, and makes every rule unit-testable
//! without time or network.
//!
//! Section numbers (§N) in this crate's comments refer to the repository's
//! `docs/protocol.md`.

#![deny(missing_docs)]

pub mod errors;
mod goheap;
pub mod harvest;
pub mod json;
pub mod labels;
pub mod limits;
pub mod metrics;
pub mod packages;
pub mod payload;
pub mod reservoir;
pub mod rules;
pub mod slow_sql;
pub mod supportability;
pub mod traces;

pub use errors::ErrorTraces;
pub use harvest::{DefaultData, Harvest};
pub use labels::LogLabels;
pub use limits::{
    HarvestLimits, FAILED_EVENT_ATTEMPTS_LIMIT, FAILED_METRIC_ATTEMPTS_LIMIT,
    TXN_EVENT_SPLIT_THRESHOLD,
};
pub use metrics::{MetricRef, MetricTable, MetricValues};
pub use packages::{PhpPackage, PhpPackages};
pub use payload::{BlobEncoding, PayloadError};
pub use reservoir::{EventKind, EventReservoir};
pub use rules::{MetricRules, RuleOutcome, RulesError};
pub use slow_sql::{SlowSql, SlowSqlObservation, SlowSqls};
pub use supportability::{CallOutcome, SupportabilityTracker, SystemCertificates};
pub use traces::{Trace, TraceObservation, Traces};
