//! The agent-facing listen address (`--address`, `--port`, `address`,
//! `port`), with New Relic's rules so that one setting string means the same
//! socket to the agent and to the daemon.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

/// The default when neither `address` nor `port` is set: Linux abstract
/// socket `@newrelic`, which is also the agent's default.
pub const DEFAULT_LISTEN: &str = "@newrelic";

/// Longest accepted socket name in bytes, counting the `@` of an abstract
/// name; `sun_path` is 108 bytes and New Relic keeps two in reserve.
pub const MAX_UNIX_ADDR_LEN: usize = 106;

/// Where the worker listens for agents.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ListenAddr {
    /// Linux abstract Unix socket; the name excludes the leading `@`.
    Abstract(String),
    /// Unix socket file (absolute path).
    Path(PathBuf),
    /// TCP.
    Tcp(SocketAddr),
}

impl Default for ListenAddr {
    fn default() -> Self {
        ListenAddr::Abstract(DEFAULT_LISTEN[1..].to_string())
    }
}

impl fmt::Display for ListenAddr {
    /// The setting string that selects this address (`@newrelic`,
    /// `/tmp/.newrelic.sock`, `127.0.0.1:9000`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenAddr::Abstract(name) => write!(f, "@{name}"),
            ListenAddr::Path(path) => write!(f, "{}", path.display()),
            ListenAddr::Tcp(addr) => write!(f, "{addr}"),
        }
    }
}

/// A parsed address plus a warning when the setting means something the
/// user probably did not intend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedListen {
    /// The address.
    pub addr: ListenAddr,
    /// Set when a host name (not an IP literal) was given.
    pub warning: Option<String>,
}

impl ListenAddr {
    /// Parses a setting string:
    /// * `@name` → abstract socket (≤ 106 bytes including the `@`);
    /// * anything containing `/` → socket file, must be absolute, ≤ 106 bytes;
    /// * `host:port`, `[v6]:port`, `:port` → TCP; an empty host is 127.0.0.1;
    /// * a bare number → TCP on 127.0.0.1.
    ///
    /// Ports must be 1..=65534. A host that is not an IP literal makes New
    /// Relic's daemon listen on all interfaces; that is kept (so existing
    /// configurations behave the same) but reported as a warning.
    pub fn parse(value: &str) -> Result<ParsedListen, String> {
        let ok = |addr| {
            Ok(ParsedListen {
                addr,
                warning: None,
            })
        };
        if let Some(name) = value.strip_prefix('@') {
            if name.is_empty() {
                return Err("an abstract socket needs a name after '@'".to_string());
            }
            if value.len() > MAX_UNIX_ADDR_LEN {
                return Err(format!(
                    "socket name is longer than {MAX_UNIX_ADDR_LEN} bytes"
                ));
            }
            return ok(ListenAddr::Abstract(name.to_string()));
        }
        if value.contains('/') {
            if !Path::new(value).is_absolute() {
                return Err("a socket file must be an absolute path".to_string());
            }
            if value.len() > MAX_UNIX_ADDR_LEN {
                return Err(format!(
                    "socket path is longer than {MAX_UNIX_ADDR_LEN} bytes"
                ));
            }
            return ok(ListenAddr::Path(PathBuf::from(value)));
        }
        let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
        if !value.contains(':') {
            let port = parse_port(value)?;
            return ok(ListenAddr::Tcp(SocketAddr::new(loopback, port)));
        }
        let (host, port) = split_host_port(value)?;
        let port = parse_port(port)?;
        if host.is_empty() {
            return ok(ListenAddr::Tcp(SocketAddr::new(loopback, port)));
        }
        if let Ok(ip) = host.parse::<IpAddr>() {
            return ok(ListenAddr::Tcp(SocketAddr::new(ip, port)));
        }
        Ok(ParsedListen {
            addr: ListenAddr::Tcp(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port)),
            warning: Some(format!(
                "listen address {value:?}: {host:?} is not an IP address, so the daemon \
                 listens on all interfaces (as New Relic's daemon does); use an IP such as \
                 127.0.0.1:{port} to restrict it"
            )),
        })
    }
}

/// Go's `net.SplitHostPort`: `host:port` or `[host]:port`, where an
/// unbracketed host may not contain a colon.
fn split_host_port(value: &str) -> Result<(&str, &str), String> {
    let bad = || format!("expected host:port or [ipv6]:port, got {value:?}");
    if let Some(rest) = value.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(bad)?;
        let port = after.strip_prefix(':').ok_or_else(bad)?;
        if host.contains(['[', ']']) || port.contains([':', '[', ']']) {
            return Err(bad());
        }
        return Ok((host, port));
    }
    let (host, port) = value.rsplit_once(':').ok_or_else(bad)?;
    if host.contains([':', '[', ']']) || port.contains(['[', ']']) {
        return Err(bad());
    }
    Ok((host, port))
}

fn parse_port(text: &str) -> Result<u16, String> {
    // Go's Atoi: one optional sign, then decimal digits.
    let digits = text.strip_prefix('+').unwrap_or(text);
    let valid = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    match digits.parse::<u32>() {
        Ok(port @ 1..=65534) if valid => Ok(port as u16),
        _ => Err(format!(
            "invalid port {text:?}: must be a number from 1 to 65534"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> ListenAddr {
        let parsed = ListenAddr::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(parsed.warning, None, "{s}");
        parsed.addr
    }

    fn tcp(s: &str) -> ListenAddr {
        ListenAddr::Tcp(s.parse().unwrap())
    }

    #[test]
    fn default_is_abstract_newrelic() {
        assert_eq!(
            ListenAddr::default(),
            ListenAddr::Abstract("newrelic".into())
        );
        assert_eq!(ListenAddr::default().to_string(), "@newrelic");
        assert_eq!(addr(DEFAULT_LISTEN), ListenAddr::default());
    }

    #[test]
    fn abstract_names() {
        assert_eq!(
            addr("@seraph-test"),
            ListenAddr::Abstract("seraph-test".into())
        );
        let longest = format!("@{}", "a".repeat(105));
        assert_eq!(addr(&longest), ListenAddr::Abstract("a".repeat(105)));
        assert!(ListenAddr::parse(&format!("@{}", "a".repeat(106))).is_err());
        assert!(ListenAddr::parse("@").is_err());
        // A slash inside an abstract name is just a character.
        assert_eq!(addr("@a/b"), ListenAddr::Abstract("a/b".into()));
    }

    #[test]
    fn socket_paths() {
        assert_eq!(
            addr("/tmp/.newrelic.sock"),
            ListenAddr::Path("/tmp/.newrelic.sock".into())
        );
        assert!(ListenAddr::parse("tmp/x.sock")
            .unwrap_err()
            .contains("absolute"));
        assert!(ListenAddr::parse("./x.sock").is_err());
        let longest = format!("/{}", "a".repeat(105));
        assert!(ListenAddr::parse(&longest).is_ok());
        assert!(ListenAddr::parse(&format!("/{}", "a".repeat(106))).is_err());
    }

    #[test]
    fn bare_ports_are_loopback_tcp() {
        assert_eq!(addr("9000"), tcp("127.0.0.1:9000"));
        assert_eq!(addr("1"), tcp("127.0.0.1:1"));
        assert_eq!(addr("65534"), tcp("127.0.0.1:65534"));
        assert_eq!(addr("+80"), tcp("127.0.0.1:80"));
        for bad in [
            "0", "65535", "70000", "-1", "abc", "", "++80", "9000 ", "0x50",
        ] {
            assert!(ListenAddr::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn host_port_forms() {
        assert_eq!(addr("10.0.0.5:9000"), tcp("10.0.0.5:9000"));
        assert_eq!(addr(":9000"), tcp("127.0.0.1:9000"));
        assert_eq!(addr("[::1]:9000"), tcp("[::1]:9000"));
        assert_eq!(addr("0.0.0.0:9000"), tcp("0.0.0.0:9000"));
        for bad in [
            "::1:9000",
            "[::1]9000",
            "[::1]:",
            "1.2.3.4:0",
            "1.2.3.4:x",
            "a:b:c",
        ] {
            assert!(ListenAddr::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn host_names_listen_everywhere_with_a_warning() {
        let parsed = ListenAddr::parse("localhost:9000").unwrap();
        assert_eq!(parsed.addr, tcp("0.0.0.0:9000"));
        assert!(parsed.warning.unwrap().contains("all interfaces"));
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "@newrelic",
            "/tmp/.newrelic.sock",
            "127.0.0.1:9000",
            "[::1]:9000",
        ] {
            assert_eq!(addr(s).to_string(), s);
        }
    }
}
