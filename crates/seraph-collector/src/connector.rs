//! The connection factory behind the pooled hyper client: TCP (dial
//! deadline), an optional CONNECT tunnel through a proxy, then a verified
//! TLS handshake (its own deadline) with the collector.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::proxy::{connect_tunnel, ProxyScheme, ProxySettings};
use crate::socks;

/// The stream under the collector's TLS session: straight TCP, or TCP with
/// a TLS session to an `https://` proxy.
pub(crate) enum Transport {
    Tcp(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Tcp(s) => Pin::new(s).poll_flush(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// A TLS connection to the collector, as hyper sees it.
pub(crate) struct Conn(TokioIo<TlsStream<Transport>>);

impl hyper::rt::Read for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}

impl Connection for Conn {
    fn connected(&self) -> Connected {
        // Through a CONNECT tunnel requests are still origin-form, so this
        // is never a "proxied" connection in hyper's sense.
        Connected::new()
    }
}

struct Inner {
    tls: TlsConnector,
    proxy: ProxySettings,
    dial_timeout: Duration,
    tls_timeout: Duration,
}

/// Cheap to clone; hyper clones it per connection attempt.
#[derive(Clone)]
pub(crate) struct Connector(Arc<Inner>);

impl Connector {
    pub(crate) fn new(
        tls: Arc<rustls::ClientConfig>,
        proxy: ProxySettings,
        dial_timeout: Duration,
        tls_timeout: Duration,
    ) -> Self {
        Connector(Arc::new(Inner {
            tls: TlsConnector::from(tls),
            proxy,
            dial_timeout,
            tls_timeout,
        }))
    }
}

impl tower_service::Service<Uri> for Connector {
    type Response = Conn;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Conn>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let inner = self.0.clone();
        Box::pin(async move { inner.connect(uri).await })
    }
}

impl Inner {
    async fn connect(&self, uri: Uri) -> io::Result<Conn> {
        if uri.scheme_str() != Some("https") {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the collector is only reached over https",
            ));
        }
        let host = uri
            .host()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "URL without a host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri.port_u16().unwrap_or(443);
        let transport = match self.proxy.route(&host, port) {
            None => Transport::Tcp(self.dial(&host, port).await?),
            Some(proxy) => {
                let tcp = self.dial(&proxy.host, proxy.port).await.map_err(|e| {
                    io::Error::new(e.kind(), format!("proxy {}: {e}", proxy.redacted))
                })?;
                let mut t = match proxy.scheme {
                    ProxyScheme::Http | ProxyScheme::Socks5 => Transport::Tcp(tcp),
                    ProxyScheme::Https => {
                        Transport::Tls(Box::new(self.handshake(&proxy.host, tcp).await?))
                    }
                };
                let setup = async {
                    match proxy.scheme {
                        ProxyScheme::Socks5 => {
                            let creds = proxy
                                .credentials
                                .as_ref()
                                .map(|(u, p)| (u.as_str(), p.as_str()));
                            socks::connect(&mut t, &host, port, creds).await
                        }
                        ProxyScheme::Http | ProxyScheme::Https => {
                            connect_tunnel(&mut t, &host, port, proxy.authorization.as_deref())
                                .await
                        }
                    }
                };
                tokio::time::timeout(self.dial_timeout, setup)
                    .await
                    .map_err(|_| {
                        io::Error::new(io::ErrorKind::TimedOut, "proxy handshake timed out")
                    })??;
                t
            }
        };
        Ok(Conn(TokioIo::new(self.handshake(&host, transport).await?)))
    }

    /// Resolves and connects, trying each address in turn, all within the
    /// dial deadline.
    async fn dial(&self, host: &str, port: u16) -> io::Result<TcpStream> {
        let attempt = async {
            let mut last = None;
            for addr in tokio::net::lookup_host((host, port)).await? {
                match TcpStream::connect(addr).await {
                    Ok(s) => {
                        s.set_nodelay(true)?;
                        return Ok(s);
                    }
                    Err(e) => last = Some(e),
                }
            }
            Err(last.unwrap_or_else(|| {
                io::Error::new(io::ErrorKind::NotFound, format!("no address for {host}"))
            }))
        };
        tokio::time::timeout(self.dial_timeout, attempt)
            .await
            .map_err(|_| {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("connecting to {host}:{port} timed out"),
                )
            })?
    }

    async fn handshake<S>(&self, host: &str, io: S) -> io::Result<TlsStream<S>>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let name = ServerName::try_from(host.to_owned())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        tokio::time::timeout(self.tls_timeout, self.tls.connect(name, io))
            .await
            .map_err(|_| {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("TLS handshake with {host} timed out"),
                )
            })?
    }
}
