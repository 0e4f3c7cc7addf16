//! Binding the agent socket and accepting connections.
//!
//! Agents reach the daemon through a Linux abstract socket (`@newrelic`, the
//! default), a Unix socket path, or TCP on loopback. Sockets are created
//! with an explicit listen backlog (the kernel's maximum) because php-fpm can
//! open hundreds of connections within milliseconds of a restart, and
//! accept errors such as EMFILE back off instead of spinning.

use crate::loglimit::{LogLimit, EVERY_MINUTE};
use nix::sys::socket::{self, AddressFamily, Backlog, SockFlag, SockType, UnixAddr};
use seraph_config::ListenAddr;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;
use tokio::net::{TcpListener, TcpSocket, TcpStream, UnixListener, UnixStream};

/// Why the listener could not be bound. `Fatal` errors (address in use,
/// bad path) make the worker exit 1 so the watcher does not respawn it
/// forever; others are worth a restart.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    /// Another process owns the address, or the address itself is invalid.
    #[error("cannot listen on {addr}: {source}")]
    Fatal {
        /// The address as configured.
        addr: String,
        /// The OS error.
        source: io::Error,
    },
    /// A condition that may clear up by itself.
    #[error("cannot listen on {addr} (will retry): {source}")]
    Temporary {
        /// The address as configured.
        addr: String,
        /// The OS error.
        source: io::Error,
    },
}

impl BindError {
    fn new(addr: &ListenAddr, source: io::Error) -> Self {
        let addr = describe(addr);
        match source.raw_os_error() {
            Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM | libc::EINTR) => {
                BindError::Temporary { addr, source }
            }
            _ => BindError::Fatal { addr, source },
        }
    }
}

/// A bound listener of any supported kind.
pub enum Listener {
    /// Abstract or path-based Unix socket.
    Unix(UnixListener),
    /// TCP socket.
    Tcp(TcpListener),
}

/// An accepted agent connection.
pub enum Stream {
    /// From a Unix socket.
    Unix(UnixStream),
    /// From TCP.
    Tcp(TcpStream),
}

impl Listener {
    /// Binds `addr`. A stale socket file at a path address is replaced.
    pub fn bind(addr: &ListenAddr) -> Result<Listener, BindError> {
        match addr {
            ListenAddr::Abstract(name) => {
                let unix = UnixAddr::new_abstract(name.as_bytes())
                    .map_err(|e| BindError::new(addr, e.into()))?;
                bind_unix(&unix).map_err(|e| BindError::new(addr, e))
            }
            ListenAddr::Path(path) => {
                match std::fs::remove_file(path) {
                    Ok(()) => tracing::debug!(path = %path.display(), "removed stale socket file"),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(BindError::new(addr, e)),
                }
                let unix =
                    UnixAddr::new(path.as_path()).map_err(|e| BindError::new(addr, e.into()))?;
                let listener = bind_unix(&unix).map_err(|e| BindError::new(addr, e))?;
                // Any PHP user must be able to connect, as with New Relic's
                // daemon (which binds under umask 0).
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o777))
                    .map_err(|e| BindError::new(addr, e))?;
                Ok(listener)
            }
            ListenAddr::Tcp(sock_addr) => {
                let socket = if sock_addr.is_ipv4() {
                    TcpSocket::new_v4()
                } else {
                    TcpSocket::new_v6()
                }
                .map_err(|e| BindError::new(addr, e))?;
                socket
                    .set_reuseaddr(true)
                    .map_err(|e| BindError::new(addr, e))?;
                socket
                    .set_nodelay(true)
                    .map_err(|e| BindError::new(addr, e))?;
                socket
                    .bind(*sock_addr)
                    .map_err(|e| BindError::new(addr, e))?;
                let listener = socket
                    .listen(backlog_len())
                    .map_err(|e| BindError::new(addr, e))?;
                Ok(Listener::Tcp(listener))
            }
        }
    }

    /// Accepts the next connection, backing off on resource exhaustion
    /// (EMFILE and friends) rather than spinning: 5 ms doubling to 1 s.
    pub async fn accept(&self) -> Stream {
        let mut backoff = Duration::from_millis(5);
        loop {
            let res = match self {
                Listener::Unix(l) => l.accept().await.map(|(s, _)| Stream::Unix(s)),
                Listener::Tcp(l) => l.accept().await.map(|(s, _)| {
                    let _ = s.set_nodelay(true);
                    Stream::Tcp(s)
                }),
            };
            match res {
                Ok(stream) => return stream,
                Err(e) => {
                    crate::limited!(ACCEPT_FAILED, warn, error = %e, retry_in = ?backoff, "accept failed");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
            }
        }
    }
}

/// Failed accepts (EMFILE comes in bursts).
static ACCEPT_FAILED: LogLimit = LogLimit::new(EVERY_MINUTE);

/// The address as a user would write it, for messages.
pub fn describe(addr: &ListenAddr) -> String {
    match addr {
        ListenAddr::Abstract(name) => format!("@{name}"),
        ListenAddr::Path(path) => path.display().to_string(),
        ListenAddr::Tcp(sock) => sock.to_string(),
    }
}

fn backlog_len() -> u32 {
    u32::try_from(libc::SOMAXCONN).unwrap_or(128)
}

fn bind_unix(addr: &UnixAddr) -> io::Result<Listener> {
    let fd: OwnedFd = socket::socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        None,
    )?;
    socket::bind(std::os::fd::AsRawFd::as_raw_fd(&fd), addr)?;
    socket::listen(&fd, Backlog::MAXCONN)?;
    let std_listener = std::os::unix::net::UnixListener::from(fd);
    Ok(Listener::Unix(UnixListener::from_std(std_listener)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn path_socket_replaces_stale_file_and_is_world_writable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("daemon.sock");
        std::fs::write(&path, b"stale").unwrap();
        let addr = ListenAddr::Path(path.clone());
        let listener = Listener::bind(&addr).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o777);
        let mut client = UnixStream::connect(&path).await.unwrap();
        let Stream::Unix(mut server) = listener.accept().await else {
            panic!("expected a unix stream")
        };
        client.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        server.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
    }

    #[tokio::test]
    async fn abstract_socket_and_address_in_use() {
        let name = format!("seraph-test-{}", std::process::id());
        let addr = ListenAddr::Abstract(name.clone());
        let _listener = Listener::bind(&addr).unwrap();
        match Listener::bind(&addr) {
            Err(BindError::Fatal { .. }) => {}
            Err(e) => panic!("expected a fatal error, got {e}"),
            Ok(_) => panic!("second bind of the same abstract name succeeded"),
        }
        // The agent connects without a trailing NUL in the name.
        let unix = UnixAddr::new_abstract(name.as_bytes()).unwrap();
        let fd = socket::socket(
            AddressFamily::Unix,
            SockType::Stream,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .unwrap();
        socket::connect(std::os::fd::AsRawFd::as_raw_fd(&fd), &unix).unwrap();
    }

    #[tokio::test]
    async fn tcp_on_loopback() {
        let addr = ListenAddr::Tcp("127.0.0.1:0".parse().unwrap());
        let listener = Listener::bind(&addr).unwrap();
        let Listener::Tcp(l) = &listener else {
            panic!("expected tcp")
        };
        let port = l.local_addr().unwrap().port();
        let _client = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        assert!(matches!(listener.accept().await, Stream::Tcp(_)));
    }
}
