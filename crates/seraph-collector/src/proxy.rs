//! Outbound proxies (§5): an `http://` or `https://` proxy reached with
//! HTTP CONNECT, or a `socks5://` one (see `socks.rs`), configured
//! explicitly or taken from `HTTPS_PROXY` / `NO_PROXY` the way Go's
//! `ProxyFromEnvironment` reads them.

use std::net::IpAddr;

use base64::Engine;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::error::ClientError;

/// How the client talks to the proxy itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ProxyScheme {
    /// Plain TCP to the proxy.
    Http,
    /// TLS to the proxy (verified with the same roots), then CONNECT.
    Https,
    /// Plain TCP to a SOCKS5 proxy (`socks5://` or `socks5h://`).
    Socks5,
}

/// A parsed proxy URL.
#[derive(Clone, Debug)]
pub(crate) struct Proxy {
    pub(crate) scheme: ProxyScheme,
    /// Host name or IP, without brackets.
    pub(crate) host: String,
    pub(crate) port: u16,
    /// `Basic …` from the URL's userinfo.
    pub(crate) authorization: Option<String>,
    /// The URL's user and password, decoded (SOCKS5 login).
    pub(crate) credentials: Option<(String, String)>,
    /// For logs: the URL with any credentials replaced by `***`.
    pub(crate) redacted: String,
}

/// Parses a proxy setting. A value without `://` means `http://` (what
/// libcurl and New Relic's daemon do).
pub(crate) fn parse_proxy(raw: &str) -> Result<Proxy, ClientError> {
    let raw = raw.trim();
    let with_scheme;
    let url = if raw.contains("://") {
        raw
    } else {
        with_scheme = format!("http://{raw}");
        &with_scheme
    };
    let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
    let scheme_lc = scheme.to_ascii_lowercase();
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let redacted_prefix = if userinfo.is_some() { "***@" } else { "" };
    let redacted = format!("{scheme_lc}://{redacted_prefix}{hostport}");
    let bad = |reason: &str| ClientError::BadProxy {
        proxy: redacted.clone(),
        reason: reason.to_owned(),
    };
    let scheme = match scheme_lc.as_str() {
        "http" => ProxyScheme::Http,
        "https" => ProxyScheme::Https,
        "socks5" | "socks5h" => ProxyScheme::Socks5,
        "" => return Err(bad("missing scheme")),
        _ => return Err(ClientError::UnsupportedProxyScheme(scheme_lc)),
    };
    let (host, port) = split_host_port(hostport).ok_or_else(|| bad("bad host or port"))?;
    if host.is_empty() {
        return Err(bad("missing host"));
    }
    let port = match port {
        Some(p) => p,
        None => match scheme {
            ProxyScheme::Http => 80,
            ProxyScheme::Https => 443,
            ProxyScheme::Socks5 => 1080,
        },
    };
    let credentials = userinfo.map(|u| {
        let (user, pass) = u.split_once(':').unwrap_or((u, ""));
        (percent_decode(user), percent_decode(pass))
    });
    let authorization = credentials.as_ref().map(|(user, pass)| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
        )
    });
    Ok(Proxy {
        scheme,
        host,
        port,
        authorization,
        credentials,
        redacted,
    })
}

/// Splits `host[:port]` / `[v6][:port]`. `None` when a port is present but
/// not a number in 1..=65535.
fn split_host_port(s: &str) -> Option<(String, Option<u16>)> {
    let parse_port = |p: &str| -> Option<u16> {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        p.parse::<u16>().ok().filter(|&p| p != 0)
    };
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return match after {
            "" => Some((host.to_owned(), None)),
            _ => Some((host.to_owned(), Some(parse_port(after.strip_prefix(':')?)?))),
        };
    }
    match s.rsplit_once(':') {
        // A bare IPv6 address has several colons and no port.
        Some((h, _)) if h.contains(':') => Some((s.to_owned(), None)),
        Some((h, p)) => Some((h.to_owned(), Some(parse_port(p)?))),
        None => Some((s.to_owned(), None)),
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One `NO_PROXY` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
enum NoProxyEntry {
    /// `10.0.0.0/8`
    Cidr(IpAddr, u8),
    /// `10.1.2.3` or `10.1.2.3:443`
    Ip(IpAddr, Option<u16>),
    /// `example.com` (the domain and its subdomains, `match_host`) or
    /// `.example.com` (subdomains only); stored with a leading dot.
    Domain {
        suffix: String,
        match_host: bool,
        port: Option<u16>,
    },
}

/// A parsed `NO_PROXY` list, with Go's semantics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct NoProxy {
    all: bool,
    entries: Vec<NoProxyEntry>,
}

impl NoProxy {
    pub(crate) fn parse(list: &str) -> Self {
        let mut np = NoProxy::default();
        for item in list.split(',') {
            let item = item.trim().to_ascii_lowercase();
            if item.is_empty() {
                continue;
            }
            if item == "*" {
                np.all = true;
                continue;
            }
            if let Some((ip, bits)) = item.split_once('/') {
                if let (Ok(ip), Ok(bits)) = (ip.parse::<IpAddr>(), bits.parse::<u8>()) {
                    let max = if ip.is_ipv4() { 32 } else { 128 };
                    if bits <= max {
                        np.entries.push(NoProxyEntry::Cidr(ip, bits));
                    }
                }
                continue;
            }
            let (host, port) = split_host_port(&item).unwrap_or((item.clone(), None));
            if let Ok(ip) = host.parse::<IpAddr>() {
                np.entries.push(NoProxyEntry::Ip(ip, port));
                continue;
            }
            let host = host.strip_prefix('*').unwrap_or(&host);
            let (suffix, match_host) = match host.strip_prefix('.') {
                Some(_) => (host.to_owned(), false),
                None => (format!(".{host}"), true),
            };
            if suffix.len() > 1 {
                np.entries.push(NoProxyEntry::Domain {
                    suffix,
                    match_host,
                    port,
                });
            }
        }
        np
    }

    /// True when `host:port` must be reached directly.
    pub(crate) fn excludes(&self, host: &str, port: u16) -> bool {
        if self.all {
            return true;
        }
        let host = host.to_ascii_lowercase();
        let port_ok = |p: &Option<u16>| p.is_none_or(|p| p == port);
        if let Ok(ip) = host.parse::<IpAddr>() {
            return self.entries.iter().any(|e| match e {
                NoProxyEntry::Cidr(net, bits) => cidr_contains(*net, *bits, ip),
                NoProxyEntry::Ip(x, p) => *x == ip && port_ok(p),
                NoProxyEntry::Domain { .. } => false,
            });
        }
        self.entries.iter().any(|e| match e {
            NoProxyEntry::Domain {
                suffix,
                match_host,
                port: p,
            } => {
                (host.ends_with(suffix.as_str()) || (*match_host && host == suffix[1..]))
                    && port_ok(p)
            }
            _ => false,
        })
    }
}

fn cidr_contains(net: IpAddr, bits: u8, ip: IpAddr) -> bool {
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

/// The proxy decision for the client's lifetime.
#[derive(Clone, Debug, Default)]
pub(crate) struct ProxySettings {
    proxy: Option<Proxy>,
    /// Only for a proxy taken from the environment.
    no_proxy: Option<NoProxy>,
}

impl ProxySettings {
    /// A configured proxy applies to every host. Without one, `HTTPS_PROXY`
    /// (or `https_proxy`) applies except to `NO_PROXY` (`no_proxy`) hosts,
    /// `localhost` and loopback addresses.
    pub(crate) fn resolve(
        configured: Option<&str>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ClientError> {
        if let Some(p) = configured.filter(|p| !p.trim().is_empty()) {
            return Ok(ProxySettings {
                proxy: Some(parse_proxy(p)?),
                no_proxy: None,
            });
        }
        let any = |names: [&str; 2]| {
            names
                .into_iter()
                .find_map(|n| env(n).filter(|v| !v.is_empty()))
        };
        let Some(p) = any(["HTTPS_PROXY", "https_proxy"]) else {
            return Ok(ProxySettings::default());
        };
        Ok(ProxySettings {
            proxy: Some(parse_proxy(&p)?),
            no_proxy: Some(NoProxy::parse(
                &any(["NO_PROXY", "no_proxy"]).unwrap_or_default(),
            )),
        })
    }

    /// The proxy to use for `host:port`, if any.
    pub(crate) fn route(&self, host: &str, port: u16) -> Option<&Proxy> {
        let proxy = self.proxy.as_ref()?;
        if let Some(np) = &self.no_proxy {
            let loopback = host.eq_ignore_ascii_case("localhost")
                || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
            if loopback || np.excludes(host, port) {
                return None;
            }
        }
        Some(proxy)
    }

    /// The proxy for logs, credentials redacted.
    pub(crate) fn describe(&self) -> Option<&str> {
        self.proxy.as_ref().map(|p| p.redacted.as_str())
    }
}

/// Largest CONNECT response header we accept.
const MAX_CONNECT_RESPONSE: usize = 8 * 1024;

/// Asks the proxy on `io` for a tunnel to `host:port` and waits for its
/// 200.
pub(crate) async fn connect_tunnel<S>(
    io: &mut S,
    host: &str,
    port: u16,
    authorization: Option<&str>,
) -> std::io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let target = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let mut req = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
    if let Some(auth) = authorization {
        req.push_str("Proxy-Authorization: ");
        req.push_str(auth);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    io.write_all(req.as_bytes()).await?;
    io.flush().await?;

    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 512];
    let header_end = loop {
        let n = io.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "proxy closed the connection during CONNECT",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
        if buf.len() > MAX_CONNECT_RESPONSE {
            return Err(std::io::Error::other("proxy CONNECT response too large"));
        }
    };
    if header_end != buf.len() {
        // The proxy cannot speak for the server before we sent a byte of TLS.
        return Err(std::io::Error::other(
            "proxy sent data after its CONNECT response",
        ));
    }
    let head = String::from_utf8_lossy(&buf[..header_end]);
    let status_line = head.lines().next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    let code = parts.next().unwrap_or_default();
    let reason = parts.next().unwrap_or_default().trim();
    if !version.starts_with("HTTP/1.") {
        return Err(std::io::Error::other(format!(
            "proxy answered CONNECT with a malformed status line {status_line:?}"
        )));
    }
    if code != "200" {
        let hint = if code == "407" {
            " (proxy authentication required or refused)"
        } else {
            ""
        };
        return Err(std::io::Error::other(format!(
            "proxy refused CONNECT: {code} {reason}{hint}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn parses_proxy_urls() {
        let p = parse_proxy("proxy.local:3128").unwrap();
        assert_eq!(p.scheme, ProxyScheme::Http);
        assert_eq!((p.host.as_str(), p.port), ("proxy.local", 3128));
        assert_eq!(p.authorization, None);
        assert_eq!(p.redacted, "http://proxy.local:3128");

        let p = parse_proxy("https://us%40r:p%3Ass@[::1]/ignored").unwrap();
        assert_eq!(p.scheme, ProxyScheme::Https);
        assert_eq!((p.host.as_str(), p.port), ("::1", 443));
        // base64("us@r:p:ss")
        assert_eq!(p.authorization.as_deref(), Some("Basic dXNAcjpwOnNz"));
        assert_eq!(p.redacted, "https://***@[::1]");

        let p = parse_proxy("HTTP://user@10.0.0.1").unwrap();
        assert_eq!(p.port, 80);
        assert_eq!(p.authorization.as_deref(), Some("Basic dXNlcjo="));

        let p = parse_proxy("socks5://us%40r:pw@127.0.0.1").unwrap();
        assert_eq!(p.scheme, ProxyScheme::Socks5);
        assert_eq!((p.host.as_str(), p.port), ("127.0.0.1", 1080));
        assert_eq!(p.credentials, Some(("us@r".into(), "pw".into())));
        assert_eq!(p.redacted, "socks5://***@127.0.0.1");
        assert_eq!(
            parse_proxy("SOCKS5H://proxy:9050").unwrap().scheme,
            ProxyScheme::Socks5
        );
        assert!(matches!(
            parse_proxy("socks4://127.0.0.1:1080"),
            Err(ClientError::UnsupportedProxyScheme(s)) if s == "socks4"
        ));
        for bad in [
            "http://",
            "http://host:notaport",
            "http://host:0",
            "http://h:70000",
            "://x",
        ] {
            assert!(parse_proxy(bad).is_err(), "{bad}");
        }
        // The password never shows in the error.
        let err = parse_proxy("http://u:secret@host:bad")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("secret"), "{err}");
    }

    #[test]
    fn no_proxy_matching() {
        let np = NoProxy::parse(
            " example.com, .internal ,10.0.0.0/8, 192.168.1.1:8443,*.wild.org,[::1]:99 ",
        );
        assert!(np.excludes("example.com", 443));
        assert!(np.excludes("api.Example.com", 443));
        assert!(!np.excludes("notexample.com", 443));
        assert!(np.excludes("a.internal", 443));
        assert!(!np.excludes("internal", 443));
        assert!(np.excludes("10.200.3.4", 443));
        assert!(!np.excludes("11.0.0.1", 443));
        assert!(np.excludes("192.168.1.1", 8443));
        assert!(!np.excludes("192.168.1.1", 443));
        assert!(np.excludes("x.wild.org", 443));
        assert!(!np.excludes("wild.org", 443));
        assert!(np.excludes("::1", 99));
        assert!(NoProxy::parse("*").excludes("anything", 1));
        assert!(!NoProxy::parse("").excludes("anything", 1));
        let v6 = NoProxy::parse("fd00::/8");
        assert!(v6.excludes("fd12::1", 443));
        assert!(!v6.excludes("fe80::1", 443));
    }

    #[test]
    fn resolution_prefers_configured_then_env() {
        let env: HashMap<&str, &str> = [
            ("https_proxy", "http://envproxy:3128"),
            ("NO_PROXY", "nr-data.net"),
        ]
        .into_iter()
        .collect();
        let get = |k: &str| env.get(k).map(|v| v.to_string());

        let s = ProxySettings::resolve(None, get).unwrap();
        assert_eq!(
            s.route("collector.newrelic.com", 443).unwrap().host,
            "envproxy"
        );
        assert!(s.route("collector.eu01.nr-data.net", 443).is_none());
        assert!(s.route("localhost", 443).is_none());
        assert!(s.route("127.0.0.1", 443).is_none());
        assert!(s.route("::1", 443).is_none());

        let s = ProxySettings::resolve(Some("cfgproxy:8080"), get).unwrap();
        assert_eq!(s.route("127.0.0.1", 443).unwrap().host, "cfgproxy");
        assert_eq!(
            s.route("collector.eu01.nr-data.net", 443).unwrap().port,
            8080
        );
        assert_eq!(s.describe(), Some("http://cfgproxy:8080"));

        let none = ProxySettings::resolve(None, |_| None).unwrap();
        assert!(none.route("collector.newrelic.com", 443).is_none());
        assert!(
            ProxySettings::resolve(None, |k| (k == "HTTPS_PROXY").then(|| "ftp://x".into()))
                .is_err()
        );
    }

    #[tokio::test]
    async fn connect_handshake() {
        let (mut client, mut server) = tokio::io::duplex(4096);
        let srv = tokio::spawn(async move {
            let mut buf = vec![0u8; 1024];
            let n = server.read(&mut buf).await.unwrap();
            server
                .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                .await
                .unwrap();
            String::from_utf8(buf[..n].to_vec()).unwrap()
        });
        connect_tunnel(
            &mut client,
            "collector.newrelic.com",
            443,
            Some("Basic eDp5"),
        )
        .await
        .unwrap();
        assert_eq!(
            srv.await.unwrap(),
            "CONNECT collector.newrelic.com:443 HTTP/1.1\r\nHost: collector.newrelic.com:443\r\n\
             Proxy-Authorization: Basic eDp5\r\n\r\n"
        );

        let (mut client, mut server) = tokio::io::duplex(4096);
        tokio::spawn(async move {
            let mut buf = vec![0u8; 1024];
            let _ = server.read(&mut buf).await;
            let _ = server
                .write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\nX: y\r\n\r\n")
                .await;
        });
        let err = connect_tunnel(&mut client, "::1", 443, None)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("407"), "{err}");
    }
}
