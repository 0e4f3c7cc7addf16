//! Collector protocol 17 client: what the daemon uses to talk to New
//! Relic's collector (or anything wire-compatible with it).
//!
//! The crate holds no application state. The daemon builds one
//! [`CollectorClient`] at start-up (a bad CA bundle, proxy or audit log is a
//! [`ClientError`] and the daemon exits 1) and calls it per application:
//! [`CollectorClient::connect_application`] for preconnect + connect, then
//! [`CollectorClient::invoke`] with an [`Endpoint`] for every harvest call.
//!
//! Every call ends in one [`Outcome`], so the daemon matches on *meaning*
//! (disconnect, restart, merge the data back, discard it) and never on HTTP
//! status numbers; [`CallStats`] carries the numbers its supportability
//! metrics need.
//!
//! Design decisions:
//! * TLS is always verified. The only choice is the trust roots: the
//!   system's, or a configured bundle/directory that replaces them.
//! * hyper 1 with a hand-made connector (TCP, optional CONNECT tunnel,
//!   rustls) instead of a higher-level HTTP crate, so every deadline of
//!   §3.1 is ours to set and proxies behave as in New Relic's daemon.
//! * The license key is wrapped in [`LicenseKey`], whose `Debug`/`Display`
//!   obfuscate it: only the request URL sees the real key.
//! * Retry policies ([`Backoff`], [`HarvestBackoff`]) are plain state
//!   machines; callers own the clock.
//!
//! Section numbers (§N) in this crate's comments refer to the repository's
//! `docs/protocol.md`.

mod audit;
mod backoff;
mod client;
mod compress;
mod connector;
mod cpu;
mod endpoint;
mod error;
mod lasp;
mod license;
mod method;
mod outcome;
mod payload;
mod proxy;
mod reply;
mod socks;
mod time;
mod tls;
pub mod utilization;

pub use backoff::{honour_retry_after, Backoff, HarvestBackoff, STABLE_AFTER};
pub use client::{
    user_agent, ClientConfig, CollectorClient, ConnectAttempt, ConnectRequest, Connected, Timeouts,
};
pub use compress::{decode_blob, deflate, encode_blob, expand_blobs, inflate};
pub use cpu::cpu_bound;
pub use endpoint::{Endpoint, DEFAULT_MAX_PAYLOAD_SIZE, PROTOCOL_VERSION};
pub use error::ClientError;
pub use lasp::{check as check_security_policies, parse_agent_policies, AgentPolicy, LaspError};
pub use license::{obfuscate, preconnect_host, LicenseKey};
pub use method::{Method, UnknownMethod};
pub use outcome::{
    classify_status, parse_response_body, status_message, CallStats, DiscardReason, Outcome,
    Response, ReturnValue,
};
pub use payload::{connect_payload, preconnect_payload, proposed_event_harvest_config};
pub use reply::{
    limits, CollectorMessage, ConnectReply, EventHarvestConfig, EventLimit, PreconnectReply,
    ReplyError, SecurityPolicy, DEFAULT_REPORT_PERIOD,
};
pub use time::{http_date, log_timestamp, parse_http_date, parse_retry_after};
pub use tls::RootsSource;
pub use utilization::{gather as gather_utilization, Utilization, UtilizationConfig};
