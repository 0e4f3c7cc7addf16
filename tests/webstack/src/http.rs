//! A minimal HTTP/1.1 client for the stack: one request per connection
//! (`Connection: close`), the response read to its end, a chunked body
//! decoded. Enough for test assertions; the load drills use their own
//! client (`seraph_e2e::load`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A response: status, head (status line and headers) and decoded body.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The status line and headers, without the blank line.
    pub head: String,
    /// The body, de-chunked.
    pub body: String,
}

impl Response {
    /// The value of the first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Sends one request to `127.0.0.1:port`. `Host` is `127.0.0.1:<port>`
/// unless `headers` has one. Errors name what failed.
pub fn request(
    port: u16,
    timeout: Duration,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<Response, String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))
        .map_err(|e| format!("connect to nginx on port {port}: {e}"))?;
    s.set_read_timeout(Some(timeout))
        .map_err(|e| format!("set a read timeout: {e}"))?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("Host: 127.0.0.1:{port}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes())
        .map_err(|e| format!("send {method} {path}: {e}"))?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)
        .map_err(|e| format!("read the response to {method} {path}: {e}"))?;
    parse(&raw).ok_or_else(|| {
        format!(
            "no complete response to {method} {path}: {:?}",
            String::from_utf8_lossy(&raw)
        )
    })
}

/// Splits a whole response into status, head and body.
fn parse(raw: &[u8]) -> Option<Response> {
    let at = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..at]).into_owned();
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let rest = &raw[at + 4..];
    let chunked = head.lines().skip(1).any(|l| {
        l.split_once(':').is_some_and(|(k, v)| {
            k.trim().eq_ignore_ascii_case("transfer-encoding")
                && v.to_ascii_lowercase().contains("chunked")
        })
    });
    let body = if chunked {
        dechunk(rest)?
    } else {
        rest.to_vec()
    };
    Some(Response {
        status,
        head,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// Decodes a chunked body; `None` when it is cut short.
fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = rest.windows(2).position(|w| w == b"\r\n")?;
        let size = std::str::from_utf8(&rest[..eol]).ok()?;
        let size = size.split(';').next()?.trim();
        let n = usize::from_str_radix(size, 16).ok()?;
        rest = &rest[eol + 2..];
        if n == 0 {
            return Some(out);
        }
        out.extend_from_slice(rest.get(..n)?);
        rest = rest.get(n..)?.strip_prefix(b"\r\n")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_are_decoded_even_when_chunks_start_with_a_newline() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                    5\r\nhello\r\n2;x=1\r\n\r\n\r\n0\r\n\r\n";
        let r = parse(raw).expect("a response");
        assert_eq!(r.status, 200);
        assert_eq!(r.body, "hello\r\n");
        assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    }

    #[test]
    fn a_cut_chunked_body_is_no_response() {
        assert!(parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel").is_none());
    }

    #[test]
    fn plain_bodies_are_kept_as_sent() {
        let r = parse(b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno").unwrap();
        assert_eq!((r.status, r.body.as_str()), (404, "no"));
    }
}
