//! Errors building a client. Each one means the daemon cannot talk to the
//! collector as configured, so it exits 1 with this message.

use std::path::PathBuf;

/// Why [`crate::CollectorClient::new`] failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// `ssl_ca_bundle` could not be read.
    #[error("cannot read CA bundle {}: {source}", path.display())]
    CaBundleRead {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// `ssl_ca_bundle` holds no usable certificate.
    #[error("CA bundle {} holds no usable PEM certificate", path.display())]
    CaBundleEmpty {
        /// The file.
        path: PathBuf,
    },
    /// `ssl_ca_path` (or a `*.pem` file in it) could not be read.
    #[error("cannot read CA path {}: {source}", path.display())]
    CaPathRead {
        /// The directory or file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// `ssl_ca_path` holds no usable `*.pem` certificate.
    #[error("CA path {} holds no usable *.pem certificate", path.display())]
    CaPathEmpty {
        /// The directory.
        path: PathBuf,
    },
    /// The proxy setting is not a usable URL. The value is shown with any
    /// password removed.
    #[error("invalid proxy {proxy}: {reason}")]
    BadProxy {
        /// The proxy, credentials redacted.
        proxy: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The proxy scheme is one we cannot speak (socks4, ftp, ...).
    #[error(
        "unsupported proxy scheme {0:?}: http:// and https:// (CONNECT) and socks5:// proxies are supported"
    )]
    UnsupportedProxyScheme(String),
    /// The audit log could not be opened for appending.
    #[error("cannot open audit log {}: {source}", path.display())]
    AuditLog {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Tls(rustls::Error),
}
