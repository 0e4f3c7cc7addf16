//! A blocking-with-deadlines stream to the daemon.
//!
//! The socket is non-blocking; every operation polls with the time left
//! until its deadline, so a daemon that is absent, slow or wedged costs the
//! request at most that deadline. Writes use `MSG_NOSIGNAL`: a daemon that
//! died must not deliver SIGPIPE to the host process.

use crate::address::DaemonAddress;
use seraph_wire::frame::{Preamble, FORMAT_BINARY, PREAMBLE_LEN};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// Why talking to the daemon failed. Every variant closes the connection.
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    /// Nobody listens at the address (or it refused us).
    #[error("cannot connect to the daemon at {addr}: {source}")]
    Connect {
        /// The address tried.
        addr: String,
        /// The OS error.
        source: io::Error,
    },
    /// The deadline passed.
    #[error("daemon did not answer within the deadline")]
    Timeout,
    /// The daemon closed the connection.
    #[error("daemon closed the connection")]
    Closed,
    /// Another socket error.
    #[error("daemon socket error: {0}")]
    Io(#[from] io::Error),
    /// The reply is not a frame we accept.
    #[error("bad reply frame: {0}")]
    BadFrame(&'static str),
}

/// An open connection to the daemon.
#[derive(Debug)]
pub struct Conn {
    fd: OwnedFd,
    /// A Unix socket (whose listener's owner can be asked).
    unix: bool,
}

fn last_err() -> io::Error {
    io::Error::last_os_error()
}

/// The longest wait a setting can ask for. INI time values have no upper
/// bound (`9223372036854775807s` parses), and `Instant + Duration` panics on
/// overflow, which would switch the agent off for the process.
pub const MAX_WAIT: Duration = Duration::from_secs(365 * 86_400);

/// `now + d`, with `d` capped at [`MAX_WAIT`]: never panics.
pub fn deadline_after(d: Duration) -> Instant {
    Instant::now() + d.min(MAX_WAIT)
}

fn remaining_ms(deadline: Instant) -> Option<i32> {
    let now = Instant::now();
    if now >= deadline {
        return None;
    }
    let left = deadline - now;
    // Round up so a sub-millisecond remainder still waits.
    Some(left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32)
}

fn wait(fd: RawFd, events: libc::c_short, deadline: Instant) -> Result<libc::c_short, ConnError> {
    loop {
        let Some(ms) = remaining_ms(deadline) else {
            return Err(ConnError::Timeout);
        };
        let mut p = libc::pollfd {
            fd,
            events,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the duration of the call.
        let n = unsafe { libc::poll(&mut p, 1, ms) };
        if n < 0 {
            let e = last_err();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(ConnError::Io(e));
        }
        if n == 0 {
            continue; // loop re-checks the deadline
        }
        return Ok(p.revents);
    }
}

/// A socket address as the raw bytes `connect(2)` takes.
struct RawAddr {
    storage: libc::sockaddr_storage,
    len: libc::socklen_t,
    family: libc::c_int,
}

fn unix_addr(bytes: &[u8], abstract_ns: bool) -> RawAddr {
    // SAFETY: sockaddr_storage is plain data; zero is a valid value.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let base = std::mem::offset_of!(libc::sockaddr_un, sun_path);
    // SAFETY: sockaddr_storage is large and aligned enough for sockaddr_un.
    let un =
        unsafe { &mut *(&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_un>() };
    un.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let start = usize::from(abstract_ns);
    let n = bytes.len().min(un.sun_path.len() - 1 - start);
    for (i, b) in bytes[..n].iter().enumerate() {
        un.sun_path[start + i] = *b as libc::c_char;
    }
    // Abstract names are exactly `\0name` (no trailing NUL, §1.1); paths
    // include their terminating NUL.
    let len = base + start + n + usize::from(!abstract_ns);
    RawAddr {
        storage,
        len: len as libc::socklen_t,
        family: libc::AF_UNIX,
    }
}

fn inet_addr(sa: std::net::SocketAddr) -> RawAddr {
    // SAFETY: plain data, zero is valid.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    match sa {
        std::net::SocketAddr::V4(v4) => {
            // SAFETY: storage fits a sockaddr_in.
            let sin = unsafe {
                &mut *(&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>()
            };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = v4.port().to_be();
            sin.sin_addr.s_addr = u32::from_ne_bytes(v4.ip().octets());
            RawAddr {
                storage,
                len: std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                family: libc::AF_INET,
            }
        }
        std::net::SocketAddr::V6(v6) => {
            // SAFETY: storage fits a sockaddr_in6.
            let sin6 = unsafe {
                &mut *(&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = v6.port().to_be();
            sin6.sin6_addr.s6_addr = v6.ip().octets();
            sin6.sin6_scope_id = v6.scope_id();
            RawAddr {
                storage,
                len: std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
                family: libc::AF_INET6,
            }
        }
    }
}

impl Conn {
    /// Connects, waiting at most until `deadline`.
    pub fn connect(addr: &DaemonAddress, deadline: Instant) -> Result<Conn, ConnError> {
        let connect_err = |source| ConnError::Connect {
            addr: addr.to_string(),
            source,
        };
        let raw = match addr {
            DaemonAddress::Abstract(name) => unix_addr(name.as_bytes(), true),
            DaemonAddress::Path(p) => unix_addr(p.as_bytes(), false),
            DaemonAddress::Tcp(_) => match addr.resolve_tcp() {
                Some(sa) => inet_addr(sa),
                None => {
                    return Err(connect_err(io::Error::new(
                        io::ErrorKind::NotFound,
                        "cannot resolve",
                    )))
                }
            },
        };
        // SAFETY: plain socket(2) call; the result is checked.
        let fd = unsafe {
            libc::socket(
                raw.family,
                libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            )
        };
        if fd < 0 {
            return Err(connect_err(last_err()));
        }
        // SAFETY: `fd` is a fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        if raw.family != libc::AF_UNIX {
            let one: libc::c_int = 1;
            // SAFETY: valid fd and option buffer.
            unsafe {
                libc::setsockopt(
                    fd.as_raw_fd(),
                    libc::IPPROTO_TCP,
                    libc::TCP_NODELAY,
                    (&one as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
        }
        // SAFETY: `raw.storage` holds a valid address of `raw.len` bytes.
        let rc = unsafe {
            libc::connect(
                fd.as_raw_fd(),
                (&raw.storage as *const libc::sockaddr_storage).cast(),
                raw.len,
            )
        };
        if rc != 0 {
            let e = last_err();
            match e.raw_os_error() {
                Some(libc::EINPROGRESS) | Some(libc::EAGAIN) => {
                    wait(fd.as_raw_fd(), libc::POLLOUT, deadline)?;
                    let mut err: libc::c_int = 0;
                    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
                    // SAFETY: valid fd and output buffer.
                    unsafe {
                        libc::getsockopt(
                            fd.as_raw_fd(),
                            libc::SOL_SOCKET,
                            libc::SO_ERROR,
                            (&mut err as *mut libc::c_int).cast(),
                            &mut len,
                        )
                    };
                    if err != 0 {
                        return Err(connect_err(io::Error::from_raw_os_error(err)));
                    }
                }
                _ => return Err(connect_err(e)),
            }
        }
        Ok(Conn {
            fd,
            unix: raw.family == libc::AF_UNIX,
        })
    }

    /// The user id of the process that created the listening socket this
    /// connection reached (`SO_PEERCRED`); `None` for TCP, where the kernel
    /// cannot say.
    pub fn peer_uid(&self) -> Option<u32> {
        if !self.unix {
            return None;
        }
        // SAFETY: ucred is plain data; zero is a valid value.
        let mut cred: libc::ucred = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
        // SAFETY: valid fd, output buffer of `len` bytes.
        let rc = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_PEERCRED,
                (&mut cred as *mut libc::ucred).cast(),
                &mut len,
            )
        };
        (rc == 0).then_some(cred.uid)
    }

    /// Whether the connection can still be used, checked without waiting:
    /// false once the daemon has closed it (a restart, an idle connection
    /// closed to make room) or sent something nobody asked for. A process
    /// can sit idle for hours between requests; finding out here costs one
    /// `poll` instead of the request's Transaction.
    pub fn is_open(&self) -> bool {
        let mut p = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN | libc::POLLRDHUP,
            revents: 0,
        };
        // SAFETY: one valid pollfd; a zero timeout never blocks.
        let n = unsafe { libc::poll(&mut p, 1, 0) };
        // Nothing to read and no hang-up: open. Anything else (EOF, an
        // error, stray bytes) means the next exchange cannot be trusted.
        n == 0
    }

    /// Writes all of `buf` before `deadline`.
    pub fn write_all(&mut self, mut buf: &[u8], deadline: Instant) -> Result<(), ConnError> {
        while !buf.is_empty() {
            // SAFETY: valid fd and buffer.
            let n = unsafe {
                libc::send(
                    self.fd.as_raw_fd(),
                    buf.as_ptr().cast(),
                    buf.len(),
                    libc::MSG_NOSIGNAL,
                )
            };
            if n >= 0 {
                buf = &buf[n as usize..];
                continue;
            }
            let e = last_err();
            match e.raw_os_error() {
                Some(libc::EAGAIN) | Some(libc::EINTR) => {
                    let rev = wait(self.fd.as_raw_fd(), libc::POLLOUT, deadline)?;
                    if rev & (libc::POLLERR | libc::POLLHUP) != 0 && rev & libc::POLLOUT == 0 {
                        return Err(ConnError::Closed);
                    }
                }
                Some(libc::EPIPE) | Some(libc::ECONNRESET) => return Err(ConnError::Closed),
                _ => return Err(ConnError::Io(e)),
            }
        }
        Ok(())
    }

    fn read_exact(&mut self, mut out: &mut [u8], deadline: Instant) -> Result<(), ConnError> {
        while !out.is_empty() {
            // SAFETY: valid fd and buffer.
            let n =
                unsafe { libc::recv(self.fd.as_raw_fd(), out.as_mut_ptr().cast(), out.len(), 0) };
            if n > 0 {
                out = &mut out[n as usize..];
                continue;
            }
            if n == 0 {
                return Err(ConnError::Closed);
            }
            let e = last_err();
            match e.raw_os_error() {
                Some(libc::EAGAIN) | Some(libc::EINTR) => {
                    wait(self.fd.as_raw_fd(), libc::POLLIN, deadline)?;
                }
                Some(libc::ECONNRESET) => return Err(ConnError::Closed),
                _ => return Err(ConnError::Io(e)),
            }
        }
        Ok(())
    }

    /// Reads one frame's body before `deadline` (preamble checked first:
    /// format must be binary and the length at most `max_body`).
    pub fn read_frame(&mut self, deadline: Instant, max_body: usize) -> Result<Vec<u8>, ConnError> {
        let mut head = [0u8; PREAMBLE_LEN];
        self.read_exact(&mut head, deadline)?;
        let pre = Preamble::parse(head);
        if pre.format != FORMAT_BINARY {
            return Err(ConnError::BadFrame("reply format is not binary"));
        }
        let len = pre.len as usize;
        if len > max_body {
            return Err(ConnError::BadFrame("reply too large"));
        }
        let mut body = vec![0u8; len];
        self.read_exact(&mut body, deadline)?;
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::net::UnixListener;
    use std::time::Duration;

    fn soon(ms: u64) -> Instant {
        Instant::now() + Duration::from_millis(ms)
    }

    #[test]
    fn absurd_settings_make_far_deadlines_not_panics() {
        let far = deadline_after(Duration::from_secs(u64::MAX));
        assert!(far > Instant::now() + Duration::from_secs(300 * 86_400));
        let near = deadline_after(Duration::from_millis(5));
        assert!(near <= Instant::now() + Duration::from_millis(5));
    }

    #[test]
    fn path_socket_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.sock");
        let l = UnixListener::bind(&path).unwrap();
        let addr = DaemonAddress::Path(path.to_str().unwrap().to_owned());
        let mut c = Conn::connect(&addr, soon(1000)).unwrap();
        let (mut s, _) = l.accept().unwrap();
        c.write_all(b"ping", soon(1000)).unwrap();
        let mut got = [0u8; 4];
        s.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"ping");
        s.write_all(&seraph_wire::frame::encode(b"reply-body"))
            .unwrap();
        assert_eq!(c.read_frame(soon(1000), 1024).unwrap(), b"reply-body");
    }

    #[test]
    fn abstract_socket_has_no_trailing_nul() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("seraph-test-{}", std::process::id());
        let sa = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let l = UnixListener::bind_addr(&sa).unwrap();
        let c = Conn::connect(&DaemonAddress::Abstract(name), soon(1000));
        assert!(c.is_ok(), "{c:?}");
        assert!(l.accept().is_ok());
    }

    #[test]
    fn silent_daemon_times_out_on_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.sock");
        let _l = UnixListener::bind(&path).unwrap();
        let mut c = Conn::connect(
            &DaemonAddress::Path(path.to_str().unwrap().into()),
            soon(1000),
        )
        .unwrap();
        assert!(matches!(
            c.read_frame(soon(20), 1024),
            Err(ConnError::Timeout)
        ));
    }

    #[test]
    fn absent_daemon_is_a_connect_error() {
        let r = Conn::connect(
            &DaemonAddress::Path("/nonexistent/seraph.sock".into()),
            soon(100),
        );
        assert!(matches!(r, Err(ConnError::Connect { .. })));
    }

    #[test]
    fn a_connection_the_daemon_closed_is_seen_before_it_is_used() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.sock");
        let l = UnixListener::bind(&path).unwrap();
        let c = Conn::connect(
            &DaemonAddress::Path(path.to_str().unwrap().into()),
            soon(1000),
        )
        .unwrap();
        let (server, _) = l.accept().unwrap();
        assert!(c.is_open());
        assert_eq!(c.peer_uid(), Some(nix_euid()));
        drop(server);
        assert!(!c.is_open());
    }

    fn nix_euid() -> u32 {
        // SAFETY: geteuid cannot fail.
        unsafe { libc::geteuid() }
    }

    #[test]
    fn closed_peer_is_reported_without_sigpipe() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.sock");
        let l = UnixListener::bind(&path).unwrap();
        let mut c = Conn::connect(
            &DaemonAddress::Path(path.to_str().unwrap().into()),
            soon(1000),
        )
        .unwrap();
        drop(l.accept().unwrap());
        drop(l);
        let big = vec![0u8; 1 << 20];
        let r = c.write_all(&big, soon(1000));
        assert!(r.is_err());
        assert!(matches!(
            c.read_frame(soon(100), 16),
            Err(ConnError::Closed)
        ));
    }
}
