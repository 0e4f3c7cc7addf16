//! The `newrelic_*` PHP functions, with New Relic's semantics: names,
//! argument parsing (PHP's own `zend_parse_parameters`), return values,
//! warnings, and the `Supportability/api/<name>` metric each counts, one
//! file per area:
//!
//! * `attributes`: custom parameters, span parameters, user attributes,
//!   `enduser.id`, custom events and metrics;
//! * `control`: naming, ignoring, background jobs, ending early, request
//!   parameters, sampling;
//! * `lifecycle`: starting and ending transactions, switching application;
//! * `dt`: distributed-tracing headers and payloads, trace and linking
//!   metadata;
//! * `browser`: the RUM header and footer, `newrelic_disable_autorum`;
//! * `errors`: `newrelic_notice_error`, the error group callback;
//! * `tracers`: custom tracers and datastore segments.
//!
//! Rules every handler follows: arguments are parsed (which may run user
//! code) before the agent state is borrowed; warnings are raised after it
//! is released; the metric is counted when a transaction exists, at the
//! point New Relic's agent counts it.

mod args;
mod attributes;
mod browser;
mod control;
mod dt;
mod errors;
mod lifecycle;
mod parse;
mod table;
mod tracers;

pub use dt::register_classes;
pub use errors::{call_error_group_callback, error_group_callback_set, release_request_state};
pub use table::FUNCTIONS;

use crate::request::{Agent, AGENT};
use seraph_txn::Transaction;

/// Defines an `extern "C"` handler running `$body` under the panic guard,
/// with `$args` and `$ret` bound, then re-raising a bailout a PHP call
/// inside caught.
macro_rules! php_fn {
    ($name:ident, $args:ident, $ret:ident, $body:block) => {
        pub(super) unsafe extern "C" fn $name(
            ex: *mut crate::zend::ffi::zend_execute_data,
            rv: *mut crate::zend::ffi::zval,
        ) {
            {
                // SAFETY: PHP passes this call's frame and return slot.
                let $args = unsafe { super::args::Args::new(ex) };
                let $ret = super::args::Ret(rv);
                crate::zend::guard::guard(stringify!($name), (), || $body);
            }
            // After everything above is dropped: a bailout the shim caught
            // (user code in a conversion, a callback, an error handler).
            crate::zend::reraise_pending_bailout();
        }
    };
}
pub(crate) use php_fn;

/// Runs `f` on the agent (after the fork check); `None` before the first
/// request or while the state is borrowed (re-entry from user code).
fn agent<R>(f: impl FnOnce(&mut Agent) -> R) -> Option<R> {
    AGENT
        .with(|a| {
            let a = a.as_mut()?;
            a.check_fork();
            Some(f(a))
        })
        .flatten()
}

/// Counts `Supportability/api/<name>` when a transaction exists, recording
/// or not (New Relic's `nr_php_api_add_supportability_metric`).
fn count(name: &str) {
    let _ = agent(|a| {
        if let Some(t) = a.txn.as_mut() {
            t.count_api(name);
        }
    });
}

/// Whether a transaction is open and recording (not ignored, not ended
/// by `newrelic_end_of_transaction`).
fn recording() -> bool {
    agent(|a| a.txn.as_ref().is_some_and(Transaction::is_recording)).unwrap_or(false)
}

/// Runs `f` on the recording transaction and the agent around it.
fn with_recording<R>(f: impl FnOnce(&mut Agent) -> R) -> Option<R> {
    agent(|a| {
        if a.txn.as_ref().is_some_and(Transaction::is_recording) {
            Some(f(a))
        } else {
            None
        }
    })
    .flatten()
}

/// Raises an `E_WARNING` as the current function (`func(): msg`) and logs
/// it. Never while the agent state is borrowed: a user error handler runs.
fn warn(msg: &str) {
    tracing::warn!("{msg}");
    // SAFETY: a buffer of known length; the shim runs PHP's error
    // machinery under zend_try.
    unsafe { crate::zend::ffi::seraph_warning(msg.as_ptr().cast(), msg.len()) };
}

/// Raises an `E_DEPRECATED` and logs it (as `warn`).
fn deprecated(msg: &str) {
    tracing::warn!("{msg}");
    // SAFETY: as in `warn`.
    unsafe { crate::zend::ffi::seraph_deprecated(msg.as_ptr().cast(), msg.len()) };
}

/// Raises an `E_WARNING` without the function prefix (PHP's
/// `zend_error`), as New Relic's datastore parameter checks do.
fn warn_plain(msg: &str) {
    tracing::warn!("{msg}");
    // SAFETY: as in `warn`.
    unsafe { crate::zend::ffi::seraph_plain_warning(msg.as_ptr().cast(), msg.len()) };
}

/// Bytes as (lossy) UTF-8.
fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
