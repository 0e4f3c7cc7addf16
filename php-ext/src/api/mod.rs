//! The `newrelic_*` PHP functions, with New Relic's semantics. Every call
//! counts in `Supportability/api/<name>`, even when it has no effect (as
//! New Relic's agent does).

mod args;
mod functions;

pub use functions::FUNCTIONS;
