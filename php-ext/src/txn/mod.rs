//! A minimal local stand-in for `crates/seraph-txn`, written against the
//! agreed contract (same type and method names) so the engine side can be
//! built and tested before that crate lands. It produces the baseline
//! metrics, the Transaction event, span events, errors, custom events,
//! attributes and custom metrics; traces, slow SQL and distributed tracing
//! are left to the real crate. Switching over is a `use` change in
//! `crate::request`.

mod model;

pub use model::*;
