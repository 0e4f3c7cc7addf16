//! The Seraph PHP extension (module `newrelic`), a drop-in for New Relic's
//! PHP agent: it records each request as a transaction and sends it to the
//! daemon (`newrelic-daemon`, ours or New Relic's) over a Unix socket.
//!
//! Layout:
//! * [`zend`]: the engine boundary (generated bindings, C shim, guards).
//! * [`lifecycle`]: MINIT/RINIT/RSHUTDOWN/MSHUTDOWN/MINFO, with the rule for
//!   each phase written above its hook.
//! * [`config`]: the `newrelic.*` INI table and typed settings.
//! * [`log`]: the agent log.
//!
//! Section numbers (§N) in comments refer to the repository's
//! `docs/protocol.md`.

pub mod api;
pub mod browser;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod hooks;
pub mod json;
pub mod libs;
pub mod lifecycle;
pub mod log;
pub mod naming;
pub mod params;
pub mod request;
pub mod zend;

/// The extension's own version.
pub const SERAPH_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The New Relic PHP agent version Seraph reports on the wire
/// (`App.agent_version`, `Supportability/PHP/AgentVersion/*`). New Relic's
/// collector gates support and features on the agent version it sees, so we
/// report the release whose protocol we implement.
pub const AGENT_VERSION: &str = "12.9.0.0";

/// PHP's entry point: returns the module description.
#[no_mangle]
pub extern "C" fn get_module() -> *mut zend::ffi::zend_module_entry {
    // A null entry makes PHP refuse to load the module with a message,
    // which is what a panic here should amount to.
    zend::guard::guard("get_module", std::ptr::null_mut(), lifecycle::module_entry)
}
