//! Daemon addresses (§1.1): `@name` (abstract Unix socket, Linux),
//! `/path` (Unix socket), `host:port` / `[v6]:port` (TCP), bare `port`
//! (TCP to 127.0.0.1).

use std::net::{SocketAddr, ToSocketAddrs};

/// Where the daemon listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DaemonAddress {
    /// Abstract Unix socket; the name excludes the leading `@` and has no
    /// trailing NUL on the wire.
    Abstract(String),
    /// Unix socket path (absolute).
    Path(String),
    /// TCP `host:port`, resolved at connect time.
    Tcp(String),
}

/// Why an address string is unusable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AddressError {
    /// Empty setting.
    #[error("empty daemon address")]
    Empty,
    /// A Unix socket path that is relative.
    #[error("daemon socket path '{0}' is not absolute")]
    Relative(String),
    /// Unix socket path longer than `sun_path` allows.
    #[error("daemon socket path '{0}' is too long")]
    TooLong(String),
    /// A port outside 1..=65534.
    #[error("invalid daemon port '{0}'")]
    BadPort(String),
}

/// Longest usable `sun_path` payload (108 minus NUL / abstract marker).
const MAX_PATH: usize = 106;

impl DaemonAddress {
    /// Parses an address setting.
    pub fn parse(s: &str) -> Result<DaemonAddress, AddressError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(AddressError::Empty);
        }
        if let Some(name) = s.strip_prefix('@') {
            if name.len() > MAX_PATH {
                return Err(AddressError::TooLong(s.to_owned()));
            }
            return Ok(DaemonAddress::Abstract(name.to_owned()));
        }
        if s.contains('/') {
            if !s.starts_with('/') {
                return Err(AddressError::Relative(s.to_owned()));
            }
            if s.len() > MAX_PATH {
                return Err(AddressError::TooLong(s.to_owned()));
            }
            return Ok(DaemonAddress::Path(s.to_owned()));
        }
        if s.contains(':') {
            return Ok(DaemonAddress::Tcp(s.to_owned()));
        }
        match s.parse::<u32>() {
            Ok(p) if (1..=65534).contains(&p) => Ok(DaemonAddress::Tcp(format!("127.0.0.1:{p}"))),
            _ => Err(AddressError::BadPort(s.to_owned())),
        }
    }

    /// TCP addresses are never spawned for (§2.4).
    pub fn is_tcp(&self) -> bool {
        matches!(self, DaemonAddress::Tcp(_))
    }

    /// Resolves a TCP address (blocking DNS for host names; literal IPs
    /// resolve without a lookup).
    pub fn resolve_tcp(&self) -> Option<SocketAddr> {
        match self {
            DaemonAddress::Tcp(hp) => hp.to_socket_addrs().ok()?.next(),
            _ => None,
        }
    }
}

impl std::fmt::Display for DaemonAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DaemonAddress::Abstract(n) => write!(f, "@{n}"),
            DaemonAddress::Path(p) => f.write_str(p),
            DaemonAddress::Tcp(hp) => f.write_str(hp),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(
            DaemonAddress::parse("@newrelic"),
            Ok(DaemonAddress::Abstract("newrelic".into()))
        );
        assert_eq!(
            DaemonAddress::parse("/tmp/.newrelic.sock"),
            Ok(DaemonAddress::Path("/tmp/.newrelic.sock".into()))
        );
        assert_eq!(
            DaemonAddress::parse("localhost:9000"),
            Ok(DaemonAddress::Tcp("localhost:9000".into()))
        );
        assert_eq!(
            DaemonAddress::parse("[::1]:9000"),
            Ok(DaemonAddress::Tcp("[::1]:9000".into()))
        );
        assert_eq!(
            DaemonAddress::parse("31339"),
            Ok(DaemonAddress::Tcp("127.0.0.1:31339".into()))
        );
        assert!(DaemonAddress::parse("tmp/x.sock").is_err());
        assert!(DaemonAddress::parse("0").is_err());
        assert!(DaemonAddress::parse("65535").is_err());
        assert!(DaemonAddress::parse("").is_err());
        assert!(DaemonAddress::parse(&format!("/{}", "x".repeat(200))).is_err());
    }

    #[test]
    fn tcp_resolution_of_literals() {
        let a = DaemonAddress::parse("127.0.0.1:5").unwrap();
        assert_eq!(a.resolve_tcp(), Some("127.0.0.1:5".parse().unwrap()));
        assert!(a.is_tcp());
    }
}
