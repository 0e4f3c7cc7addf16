//! Talking to the daemon. The client itself (addresses, the socket, the
//! App query cache, Transaction writes) lives in `seraph-agent-client`,
//! shared with the C SDK library; what stays here is PHP's own: the App
//! query built from INI settings, and (angelic mode) spawning a daemon
//! when none answers.

pub use seraph_agent_client::{address, appcache, conn, owner};

pub mod appinfo;
pub mod client;
pub mod spawn;
