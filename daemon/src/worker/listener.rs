//! Binding the agent socket and accepting connections.
//!
//! Agents reach the daemon through a Linux abstract socket (`@newrelic`, the
//! default), a Unix socket path, or TCP on loopback. Sockets are created
//! with an explicit listen backlog (the kernel's maximum) because php-fpm can
//! open hundreds of connections within milliseconds of a restart, and
//! accept errors such as EMFILE back off instead of spinning.
//!
//! A socket file gets the configured mode and group before anyone can
//! connect to it: it is bound under a temporary name in the same
//! directory, given its mode and group, then renamed into place. What is
//! already at the path is replaced only if it is a socket nobody listens
//! on (a previous daemon's leftover); a live socket, or anything that is
//! not a socket, makes the daemon refuse to start.

use crate::loglimit::{LogLimit, EVERY_MINUTE};
use nix::sys::socket::{self, AddressFamily, Backlog, SockFlag, SockType, UnixAddr};
use seraph_config::ListenAddr;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;
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

/// Who may connect to a socket file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketAccess {
    /// Permission bits (`socket_mode`).
    pub mode: u32,
    /// Group to give the file (`socket_group`); `None` keeps the daemon's.
    pub gid: Option<u32>,
}

impl Default for SocketAccess {
    fn default() -> Self {
        SocketAccess {
            mode: 0o660,
            gid: None,
        }
    }
}

impl Listener {
    /// Binds `addr`. A stale socket file at a path address is replaced.
    pub fn bind(addr: &ListenAddr, access: SocketAccess) -> Result<Listener, BindError> {
        match addr {
            ListenAddr::Abstract(name) => {
                let unix = UnixAddr::new_abstract(name.as_bytes())
                    .map_err(|e| BindError::new(addr, e.into()))?;
                bind_unix(&unix).map_err(|e| BindError::new(addr, e))
            }
            ListenAddr::Path(path) => {
                clear_path(path).map_err(|e| BindError::new(addr, e))?;
                bind_path(path, access).map_err(|e| BindError::new(addr, e))
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

/// Makes room at a socket path: nothing there, or a socket nobody listens
/// on (removed). A socket some process listens on, or a file of another
/// kind, is an error: New Relic's daemon removes whatever it finds, even
/// another user's live socket.
fn clear_path(path: &Path) -> io::Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !meta.file_type().is_socket() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "something that is not a socket is at that path; not replacing it",
        ));
    }
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!(
                "a process (uid {}) listens on that socket; not replacing it",
                meta.uid()
            ),
        )),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            std::fs::remove_file(path)?;
            tracing::debug!(path = %path.display(), "removed a stale socket file");
            Ok(())
        }
        Err(e) => Err(io::Error::new(
            e.kind(),
            format!("cannot tell whether a process listens on the socket already there: {e}"),
        )),
    }
}

/// Binds a socket file under a temporary name next to `path`, gives it
/// its mode and group, then renames it into place: it is never reachable
/// with looser permissions, whatever the umask.
fn bind_path(path: &Path, access: SocketAccess) -> io::Result<Listener> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.{:08x}", std::process::id(), rand_u32()));
    let unix = UnixAddr::new(tmp.as_path()).map_err(io::Error::from)?;
    let listener = bind_unix(&unix)?;
    let placed = (|| {
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(access.mode))?;
        if let Some(gid) = access.gid {
            std::os::unix::fs::lchown(&tmp, None, Some(gid))?;
        }
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = placed {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(listener)
}

/// A few random bits for a temporary name.
fn rand_u32() -> u32 {
    let mut b = [0u8; 4];
    if getrandom_fill(&mut b).is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        return t;
    }
    u32::from_ne_bytes(b)
}

fn getrandom_fill(buf: &mut [u8]) -> io::Result<()> {
    // SAFETY: `buf` is valid for writes of its length.
    let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    if usize::try_from(n).ok() == Some(buf.len()) {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
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
    async fn a_socket_file_gets_its_mode_and_replaces_only_a_dead_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("daemon.sock");
        let addr = ListenAddr::Path(path.clone());
        // A dead socket (its listener gone) is replaced.
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        let old = nix::sys::stat::umask(nix::sys::stat::Mode::empty());
        let listener = Listener::bind(&addr, SocketAccess::default());
        nix::sys::stat::umask(old);
        let listener = listener.unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o660, "umask 000 does not widen it");
        let mut client = UnixStream::connect(&path).await.unwrap();
        let Stream::Unix(mut server) = listener.accept().await else {
            panic!("expected a unix stream")
        };
        client.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        server.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
        // A live socket is not taken over.
        match Listener::bind(&addr, SocketAccess::default()) {
            Err(BindError::Fatal { source, .. }) => {
                assert!(
                    source.to_string().contains("listens on that socket"),
                    "{source}"
                )
            }
            Err(e) => panic!("expected a fatal error, got {e}"),
            Ok(_) => panic!("a live socket was replaced"),
        }
        assert!(UnixStream::connect(&path).await.is_ok(), "still ours");
        // Nor is a file of another kind; nothing is left behind.
        let file = dir.path().join("file");
        std::fs::write(&file, b"keep").unwrap();
        assert!(Listener::bind(&ListenAddr::Path(file.clone()), SocketAccess::default()).is_err());
        assert_eq!(std::fs::read(&file).unwrap(), b"keep");
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left.len(), 2, "{left:?}");
    }

    #[tokio::test]
    async fn abstract_socket_and_address_in_use() {
        let name = format!("seraph-test-{}", std::process::id());
        let addr = ListenAddr::Abstract(name.clone());
        let _listener = Listener::bind(&addr, SocketAccess::default()).unwrap();
        match Listener::bind(&addr, SocketAccess::default()) {
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
        let listener = Listener::bind(&addr, SocketAccess::default()).unwrap();
        let Listener::Tcp(l) = &listener else {
            panic!("expected tcp")
        };
        let port = l.local_addr().unwrap().port();
        let _client = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        assert!(matches!(listener.accept().await, Stream::Tcp(_)));
    }
}
