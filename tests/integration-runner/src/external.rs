//! The HTTP server external-call tests talk to
//! (tests/integration/README.md §4.2), exported to them as `EXTERNAL_HOST`:
//!
//! * `/` answers `Hello world!`;
//! * `/delay?duration=1s` sleeps first;
//! * `/cat?file=F&dt_enabled=…&cat_enabled=…` runs script `F` as a CGI
//!   request with the agent (appname `ignore`) and the caller's request
//!   headers, returns its body and its response headers (minus
//!   Content-Type and X-Powered-By), and records those headers for
//!   EXPECT_RESPONSE_HEADERS.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// A `/cat` request handed to the runner.
#[derive(Debug, Clone, Default)]
pub struct CatRequest {
    /// Script path (`file=`).
    pub file: String,
    /// `dt_enabled=true`.
    pub dt_enabled: bool,
    /// `cat_enabled=true`.
    pub cat_enabled: bool,
    /// The caller's request headers.
    pub headers: Vec<(String, String)>,
}

/// What the callee produced.
#[derive(Debug, Clone, Default)]
pub struct CatResponse {
    /// HTTP status.
    pub status: u16,
    /// Response headers (already without Content-Type and X-Powered-By).
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

/// Runs a `/cat` callee (blocking; called on a blocking thread).
pub type CatHandler = Arc<dyn Fn(CatRequest) -> CatResponse + Send + Sync>;

struct Shared {
    cat: CatHandler,
    recorded: Mutex<Vec<(String, String)>>,
}

/// The running server; stops when dropped.
pub struct ExternalServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl ExternalServer {
    /// Binds 127.0.0.1:`port` (0 = any) and serves; must run inside a
    /// tokio runtime.
    pub async fn start(port: u16, cat: CatHandler) -> std::io::Result<ExternalServer> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            cat,
            recorded: Mutex::new(Vec::new()),
        });
        let task = tokio::spawn(serve(listener, shared.clone()));
        Ok(ExternalServer { addr, shared, task })
    }

    /// `ip:port`, the value of `EXTERNAL_HOST`.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// Takes the response headers `/cat` callees sent since the last call.
    pub fn take_recorded_headers(&self) -> Vec<(String, String)> {
        std::mem::take(
            &mut *self
                .shared
                .recorded
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        )
    }
}

impl Drop for ExternalServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                tracing::warn!(error = %e, "external server accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| handle(req, shared.clone()));
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await
            {
                tracing::debug!(error = %e, "external server connection ended");
            }
        });
    }
}

fn text(status: u16, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r
}

/// Decodes a query string into its parameters (`+` is a space).
pub fn query_params(query: &str) -> HashMap<String, String> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn handle(
    req: Request<Incoming>,
    shared: Arc<Shared>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let params = query_params(req.uri().query().unwrap_or(""));
    let response = match req.uri().path() {
        "/" => text(200, "Hello world!"),
        "/delay" => {
            let d = params
                .get("duration")
                .map(|d| crate::duration::parse(d))
                .unwrap_or(Ok(Duration::ZERO));
            match d {
                Ok(d) => {
                    tokio::time::sleep(d.min(Duration::from_secs(60))).await;
                    text(200, "Hello world!")
                }
                Err(e) => text(400, e),
            }
        }
        "/cat" => {
            let Some(file) = params.get("file").cloned() else {
                return Ok(text(400, "missing file parameter"));
            };
            let headers = req
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        crate::php::canonical_header(k.as_str()),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let cat_req = CatRequest {
                file,
                dt_enabled: params.get("dt_enabled").is_some_and(|v| v == "true"),
                cat_enabled: params.get("cat_enabled").is_some_and(|v| v == "true"),
                headers,
            };
            let handler = shared.cat.clone();
            match tokio::task::spawn_blocking(move || handler(cat_req)).await {
                Ok(resp) => {
                    shared
                        .recorded
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .extend(resp.headers.iter().cloned());
                    let mut r = text(resp.status, resp.body);
                    for (k, v) in &resp.headers {
                        if let (Ok(name), Ok(value)) = (
                            http::HeaderName::from_bytes(k.as_bytes()),
                            http::HeaderValue::from_str(v),
                        ) {
                            r.headers_mut().append(name, value);
                        }
                    }
                    r
                }
                Err(e) => text(500, format!("callee failed: {e}")),
            }
        }
        _ => text(404, "not found"),
    };
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn get(host: &str, path_and_headers: &str) -> String {
        let mut s = tokio::net::TcpStream::connect(host).await.unwrap();
        s.write_all(
            format!("GET {path_and_headers}\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[test]
    fn query_decoding() {
        let p = query_params("file=%2Ftmp%2Fa+b.php&dt_enabled=true&x&bad=%zz%4");
        assert_eq!(p["file"], "/tmp/a b.php");
        assert_eq!(p["dt_enabled"], "true");
        assert_eq!(p["x"], "");
        assert_eq!(p["bad"], "%zz%4");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn routes() {
        let handler: CatHandler = Arc::new(|r: CatRequest| CatResponse {
            status: 200,
            headers: vec![("X-Callee".into(), format!("dt={}", r.dt_enabled))],
            body: format!(
                "file={} traceparent={}",
                r.file,
                r.headers
                    .iter()
                    .find(|(k, _)| k == "Traceparent")
                    .map_or("-", |(_, v)| v.as_str())
            )
            .into_bytes(),
        });
        let server = ExternalServer::start(0, handler).await.unwrap();
        let host = server.host();
        assert!(get(&host, "/ HTTP/1.1").await.ends_with("Hello world!"));
        assert!(get(&host, "/delay?duration=1ms HTTP/1.1")
            .await
            .ends_with("Hello world!"));
        assert!(get(&host, "/nope HTTP/1.1")
            .await
            .starts_with("HTTP/1.1 404"));
        let cat = get(
            &host,
            "/cat?file=/t/x.php&dt_enabled=true HTTP/1.1\r\ntraceparent: 00-abc",
        )
        .await;
        assert!(cat.contains("x-callee: dt=true"), "{cat}");
        assert!(cat.ends_with("file=/t/x.php traceparent=00-abc"), "{cat}");
        assert_eq!(
            server.take_recorded_headers(),
            vec![("X-Callee".to_owned(), "dt=true".to_owned())]
        );
        assert!(server.take_recorded_headers().is_empty());
    }
}
