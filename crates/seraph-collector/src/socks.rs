//! The SOCKS5 handshake (RFC 1928, with RFC 1929 user/password), for
//! `proxy = socks5://…` as New Relic's daemon accepts it. Host names are
//! sent to the proxy unresolved, as Go's SOCKS dialer does, so `socks5://`
//! and `socks5h://` behave the same.

use std::io;
use std::net::IpAddr;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

const VERSION: u8 = 0x05;
const NO_AUTH: u8 = 0x00;
const USER_PASS: u8 = 0x02;
const NO_ACCEPTABLE: u8 = 0xff;
const CMD_CONNECT: u8 = 0x01;
const ATYP_V4: u8 = 0x01;
const ATYP_DOMAIN: u8 = 0x03;
const ATYP_V6: u8 = 0x04;

fn refused(what: impl Into<String>) -> io::Error {
    io::Error::other(format!("SOCKS5 proxy {}", what.into()))
}

/// What a SOCKS5 reply code means (RFC 1928 §6).
fn reply_meaning(code: u8) -> &'static str {
    match code {
        0x01 => "general failure",
        0x02 => "connection not allowed by ruleset",
        0x03 => "network unreachable",
        0x04 => "host unreachable",
        0x05 => "connection refused",
        0x06 => "TTL expired",
        0x07 => "command not supported",
        0x08 => "address type not supported",
        _ => "unknown error",
    }
}

/// Asks the SOCKS5 proxy on `io` for a connection to `host:port`, logging
/// in with `credentials` when given, and returns once the proxy has
/// connected (the stream then carries the collector's bytes).
pub(crate) async fn connect<S>(
    io: &mut S,
    host: &str,
    port: u16,
    credentials: Option<(&str, &str)>,
) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // The request is checked before anything is sent.
    let mut request = vec![VERSION, CMD_CONNECT, 0x00];
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => {
            request.push(ATYP_V4);
            request.extend_from_slice(&ip.octets());
        }
        Ok(IpAddr::V6(ip)) => {
            request.push(ATYP_V6);
            request.extend_from_slice(&ip.octets());
        }
        Err(_) => {
            let len = u8::try_from(host.len())
                .map_err(|_| refused("cannot be given a host name over 255 bytes"))?;
            request.push(ATYP_DOMAIN);
            request.push(len);
            request.extend_from_slice(host.as_bytes());
        }
    }
    request.extend_from_slice(&port.to_be_bytes());
    let login = match credentials {
        Some((user, pass)) => {
            let u = u8::try_from(user.len())
                .map_err(|_| refused("user names are limited to 255 bytes"))?;
            let p = u8::try_from(pass.len())
                .map_err(|_| refused("passwords are limited to 255 bytes"))?;
            let mut l = vec![0x01, u];
            l.extend_from_slice(user.as_bytes());
            l.push(p);
            l.extend_from_slice(pass.as_bytes());
            Some(l)
        }
        None => None,
    };

    // Method negotiation.
    let greeting: &[u8] = if login.is_some() {
        &[VERSION, 2, NO_AUTH, USER_PASS]
    } else {
        &[VERSION, 1, NO_AUTH]
    };
    io.write_all(greeting).await?;
    io.flush().await?;
    let mut choice = [0u8; 2];
    io.read_exact(&mut choice).await?;
    if choice[0] != VERSION {
        return Err(refused(format!(
            "answered with version {} (not a SOCKS5 proxy?)",
            choice[0]
        )));
    }
    match (choice[1], &login) {
        (NO_AUTH, _) => {}
        (USER_PASS, Some(login)) => {
            io.write_all(login).await?;
            io.flush().await?;
            let mut status = [0u8; 2];
            io.read_exact(&mut status).await?;
            if status[1] != 0x00 {
                return Err(refused("refused the user name and password"));
            }
        }
        (USER_PASS, None) | (NO_ACCEPTABLE, None) => {
            return Err(refused("requires a user name and password"));
        }
        (NO_ACCEPTABLE, Some(_)) => {
            return Err(refused("accepts no authentication method we offer"));
        }
        (other, _) => {
            return Err(refused(format!(
                "chose an authentication method we did not offer ({other})"
            )));
        }
    }

    // The CONNECT request and its reply, read to its exact end: what
    // follows belongs to the collector's TLS session.
    io.write_all(&request).await?;
    io.flush().await?;
    let mut head = [0u8; 4];
    io.read_exact(&mut head).await?;
    if head[0] != VERSION {
        return Err(refused(format!(
            "answered CONNECT with version {}",
            head[0]
        )));
    }
    if head[1] != 0x00 {
        return Err(refused(format!(
            "could not connect to {host}:{port}: {} ({})",
            reply_meaning(head[1]),
            head[1]
        )));
    }
    let bound = match head[3] {
        ATYP_V4 => 4,
        ATYP_V6 => 16,
        ATYP_DOMAIN => {
            let mut len = [0u8; 1];
            io.read_exact(&mut len).await?;
            usize::from(len[0])
        }
        other => return Err(refused(format!("answered with address type {other}"))),
    };
    let mut rest = vec![0u8; bound + 2];
    io.read_exact(&mut rest).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::duplex;

    /// One exchange of a scripted proxy: read this many bytes, answer these.
    type Step = (usize, Vec<u8>);

    /// Plays a proxy through `steps` and returns everything the client
    /// sent.
    async fn proxy(mut server: tokio::io::DuplexStream, steps: Vec<Step>) -> Vec<u8> {
        let mut seen = Vec::new();
        for (read, reply) in steps {
            let mut buf = vec![0u8; read];
            server.read_exact(&mut buf).await.unwrap();
            seen.extend_from_slice(&buf);
            server.write_all(&reply).await.unwrap();
        }
        seen
    }

    #[tokio::test]
    async fn no_auth_connect_by_host_name() {
        let (mut client, server) = duplex(1024);
        let host = "collector.newrelic.com";
        let request_len = 4 + 1 + host.len() + 2;
        let srv = tokio::spawn(proxy(
            server,
            vec![
                (3, vec![5, 0]),
                (request_len, vec![5, 0, 0, 1, 10, 0, 0, 1, 0x1f, 0x90]),
            ],
        ));
        connect(&mut client, host, 443, None).await.unwrap();
        let mut want = vec![5, 1, 0, 5, 1, 0, 3, host.len() as u8];
        want.extend_from_slice(host.as_bytes());
        want.extend_from_slice(&443u16.to_be_bytes());
        assert_eq!(srv.await.unwrap(), want);
    }

    #[tokio::test]
    async fn user_and_password_then_an_ipv6_target() {
        let (mut client, server) = duplex(1024);
        let srv = tokio::spawn(proxy(
            server,
            vec![
                (4, vec![5, 2]),
                (1 + 1 + 4 + 1 + 2, vec![1, 0]),
                // A bound address given as a name: read to its end.
                (4 + 16 + 2, vec![5, 0, 0, 3, 3, b'a', b'b', b'c', 0, 80]),
            ],
        ));
        connect(&mut client, "::1", 8443, Some(("user", "pw")))
            .await
            .unwrap();
        let seen = srv.await.unwrap();
        assert_eq!(&seen[..4], &[5, 2, 0, 2]);
        assert_eq!(&seen[4..13], &[1, 4, b'u', b's', b'e', b'r', 2, b'p', b'w']);
        assert_eq!(&seen[13..17], &[5, 1, 0, 4]);
        assert_eq!(
            &seen[17..33],
            &"::1".parse::<std::net::Ipv6Addr>().unwrap().octets()
        );
        assert_eq!(&seen[33..], &8443u16.to_be_bytes());
    }

    #[tokio::test]
    async fn refusals_say_why() {
        type Login<'a> = Option<(&'a str, &'a str)>;
        let cases: Vec<(Login, Vec<Step>, &str)> = vec![
            (
                None,
                vec![(3, vec![5, 0xff])],
                "requires a user name and password",
            ),
            (
                Some(("u", "bad")),
                vec![(4, vec![5, 2]), (1 + 1 + 1 + 1 + 3, vec![1, 1])],
                "refused the user name and password",
            ),
            (
                None,
                vec![
                    (3, vec![5, 0]),
                    (4 + 4 + 2, vec![5, 5, 0, 1, 0, 0, 0, 0, 0, 0]),
                ],
                "connection refused (5)",
            ),
            (None, vec![(3, vec![4, 0])], "not a SOCKS5 proxy"),
        ];
        for (creds, steps, want) in cases {
            let (mut client, server) = duplex(1024);
            tokio::spawn(proxy(server, steps));
            let err = connect(&mut client, "10.1.2.3", 443, creds)
                .await
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{err} lacks {want:?}");
        }
        let (mut client, _server) = duplex(1024);
        let long = "h".repeat(256);
        let err = connect(&mut client, &long, 443, None).await.unwrap_err();
        assert!(err.to_string().contains("255"), "{err}");
    }
}
