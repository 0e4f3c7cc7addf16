//! The agent's side of the daemon protocol, shared by every agent that
//! reports through `newrelic-daemon` (the PHP extension, the C SDK
//! library in `agent-ffi/`):
//!
//! * [`address`]: the address forms (`@name`, `/path`, `host:port`, port);
//! * [`conn`]: a non-blocking socket whose every operation has a deadline;
//! * [`owner`]: who may own the socket the license key is sent to;
//! * [`appcache`]: the per-process App query cache and its backoffs;
//! * [`client`]: one connection per process, the App query, Transaction
//!   writes, stall backoff and rate-limited warnings;
//! * [`host`]: facts about the host the App query carries;
//! * [`log_line`]: the agent log's line format.
//!
//! Nothing here knows the language being monitored: settings come in as
//! a plain [`client::ClientSettings`], and starting a daemon when none
//! answers is left to the caller's [`client::Launcher`].

pub mod address;
pub mod appcache;
pub mod client;
pub mod conn;
pub mod host;
pub mod log_line;
pub mod owner;

/// Serialises `v` with `/` escaped as `\/`, as New Relic's agents write
/// every JSON string. A `/` can only occur inside JSON strings, so a plain
/// replacement is exact.
pub fn to_string_slashes(v: &serde_json::Value) -> String {
    v.to_string().replace('/', "\\/")
}

#[cfg(test)]
mod tests {
    #[test]
    fn slashes_are_escaped() {
        let v = serde_json::json!({"a/b": "c/d"});
        assert_eq!(super::to_string_slashes(&v), r#"{"a\/b":"c\/d"}"#);
    }
}
