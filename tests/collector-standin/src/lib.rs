//! A stand-in for New Relic's collector (protocol 17), for end-to-end tests
//! and the README demo.
//!
//! It answers like the real collector (preconnect redirects to itself,
//! connect hands out a fresh run id and a realistic reply, every other
//! method gets `{"return_value":null}`), records every call with its payload
//! decoded, and misbehaves on request ([`Fault`]). TLS is real: it makes a
//! CA at start, and clients trust that CA and nothing else.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use collector_standin::{Fault, Standin, StandinConfig};
//! let standin = Standin::start(StandinConfig::fast()).await?;
//! standin.write_ca(std::path::Path::new("/tmp/ca.pem"))?;
//! standin.inject(Fault::status(503).for_method("metric_data").with_retry_after("5"));
//! // ... point the daemon at standin.host() ...
//! let metrics = standin
//!     .wait_for("metric_data", 1, std::time::Duration::from_secs(10))
//!     .await?;
//! assert_eq!(metrics[0].response_status, 503);
//! # Ok(()) }
//! ```

mod config;
mod fault;
pub mod pki;
mod record;
mod server;
mod summary;

pub use config::{StandinConfig, TlsMode};
pub use fault::{Fault, FaultAction};
pub use record::{decode_blob, RecordedCall};
pub use server::{Standin, WaitTimeout};
pub use summary::render as render_summary;

/// Why the stand-in could not start.
#[derive(Debug, thiserror::Error)]
pub enum StandinError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// The error.
        source: std::io::Error,
    },
    /// Generating or loading certificates failed.
    #[error("certificates: {0}")]
    Certificate(String),
    /// Another I/O error.
    #[error("I/O: {0}")]
    Io(std::io::Error),
}
