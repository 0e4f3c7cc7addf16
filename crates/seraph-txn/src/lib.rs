//! The agent-side transaction model.
//!
//! The PHP extension observes a request (function enters and leaves,
//! instrumented calls, API calls, errors) and drives one [`Transaction`];
//! at the end [`Transaction::finish`] turns it into one
//! [`seraph_wire::TransactionData`] with exactly the metrics, events, error
//! traces, transaction trace and span events New Relic's PHP agent 12.9
//! produces for the same script. This crate knows nothing of PHP: no I/O,
//! no clock reads, no global state. Timestamps come in as arguments and
//! randomness through an [`IdSource`], so every output is reproducible
//! under test.
//!
//! Call sequence:
//!
//! ```
//! use seraph_txn::*;
//! use std::sync::Arc;
//!
//! let cfg = Arc::new(TxnConfig::default());
//! let connect = Arc::new(ConnectInfo::from_connect_reply(r#"{"agent_run_id":"RUN-1"}"#).unwrap());
//! let mut sampler = Sampler::new(connect.sampling_target, connect.sampling_target_period);
//! let mut ids = SeededIds::new(42);
//! let now_us = 1_700_000_000_000_000;
//! let sampling = sampler.decide(now_us, ids.next_f64());
//! let mut txn = Transaction::start(
//!     TxnKind::Cli { script: "script.php".into() },
//!     now_us, 0, ClockScale::NANOS, cfg, connect, sampling, &mut ids,
//! );
//! txn.enter(0x1234, 1_000);          // a user function
//! txn.leave(5_000_000);              // 5 ms later: kept (slower than 2 ms)
//! let names = |_k: FuncKey| Some("work".to_string());
//! let data = txn
//!     .finish(6_000_000, now_us + 6_000, ResourceUsage::default(), &names, 4242)
//!     .unwrap();
//! assert_eq!(data.name, "OtherTransaction/php/script.php");
//! let body = seraph_wire::encode_transaction("RUN-1", &data);
//! # let _ = body;
//! ```
//!
//! # The segment recorder
//!
//! With `transaction_tracer.detail = 1` every user function call passes
//! through [`Transaction::enter`]/[`Transaction::leave`], so these are a
//! few nanoseconds each: a push/pop on a preallocated stack of arena
//! indices. Only segments that can matter are kept: like the agent, calls
//! faster than `expensive_node_min` (2 ms) with nothing attached are
//! dropped when they end, and the kept set is bounded (by the trace's 2000
//! segment limit, the span event limit and `max_segments`) with a min-heap
//! on (priority, duration) so a full set drops fast newcomers immediately.
//! Dropped and evicted segments hand their kept children to their parent,
//! keeping the tree consistent. Instrumented segments (datastore, external,
//! custom tracers) carry a priority flag that ranks them above plain calls.

pub mod attr_filter;
mod attrs;
mod config;
mod connect;
mod detached;
pub mod dt;
pub mod explain;
mod finish;
pub mod framework;
mod ids;
pub mod instance;
pub mod json;
mod library;
pub mod logs;
mod message;
mod metrics;
pub mod packages;
mod recorder;
pub mod rules;
pub mod rum;
mod sampler;
pub mod security;
pub mod sql;
pub mod synthetics;
mod txn;

pub use attr_filter::{dest, AttributeFilter};
pub use attrs::AttrValue;
pub use config::{
    ApplicationLoggingConfig, ErrorCollectorConfig, RecordSql, Threshold, TransactionTracerConfig,
    TxnConfig, DEFAULT_SPAN_EVENTS_PER_TXN, MAX_SPAN_EVENTS_PER_TXN, TRACE_SEGMENT_LIMIT,
};
pub use connect::{BrowserConfig, ConnectInfo, ConnectInfoError, EventLimits};
pub use explain::{ExplainPlan, ExplainValue};
pub use framework::{Framework, FrameworkOutcome, FrameworkSetting};
pub use ids::{guid, IdSource, SeededIds};
pub use instance::DatastoreInstance;
pub use logs::{LogLinking, LogRecord};
pub use message::{MessageAction, MessageCall};
pub use metrics::ApdexZone;
pub use sampler::Sampler;
pub use security::SecurityPolicies;
pub use txn::{
    ClockScale, CodeLocation, DatastoreCall, ExternalCall, FuncNames, NameSource, NoticedError,
    ResourceUsage, Transaction, TxnKind, WebRequest, ERROR_MESSAGE_LIMIT, SQL_KEPT_LIMIT,
    SQL_SCAN_LIMIT,
};

/// Monotonic clock ticks; their unit is given by [`ClockScale`].
pub type Ticks = u64;

/// Opaque id of a PHP function (the extension passes a pointer value).
pub type FuncKey = usize;
