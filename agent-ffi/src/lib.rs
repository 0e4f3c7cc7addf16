//! Seraph's agent core behind a C ABI: a drop-in for New Relic's C SDK 1.3.
//!
//! The library is built as `libnewrelic.so` and `libnewrelic.a` with the
//! header `include/libnewrelic.h`; a program written against New Relic's
//! `libnewrelic.h` compiles and links against it unchanged and reports the
//! same data through the same `newrelic-daemon` as Seraph's PHP extension.
//! Nothing of the agent's logic is copied here: transactions are
//! `seraph-txn`'s, frames `seraph-wire`'s and the daemon client
//! `seraph-agent-client`'s. This crate only adapts the C SDK's API:
//!
//! * `ffi`: reading C arguments (NULL, UTF-8, lengths) and the guard that
//!   keeps panics from crossing the C ABI;
//! * `log`: `newrelic_configure_log`;
//! * `config`: the C structs and `newrelic_create_app_config`;
//! * `global`: `newrelic_init` and the process's one daemon client;
//! * `app`: applications and their connected runs;
//! * `txn`: transactions, naming, timing, attributes, metrics, sending;
//! * `error`: noticed errors and their stacks;
//! * `segment` and `replay`: the segment tree the C API builds (any
//!   parent, any timing) and its replay into the transaction at the end;
//! * `event`: custom events; `dt`: distributed tracing payloads.
//!
//! See docs/agent-ffi.md.

mod app;
pub mod config;
mod dt;
mod error;
mod event;
mod ffi;
mod global;
mod log;
mod replay;
mod segment;
mod txn;

/// The C SDK version this library stands in for.
pub const SDK_VERSION: &str = "1.3.0";

/// `newrelic_version()`: the C SDK version this library implements.
#[no_mangle]
pub extern "C" fn newrelic_version() -> *const libc::c_char {
    c"1.3.0".as_ptr()
}
