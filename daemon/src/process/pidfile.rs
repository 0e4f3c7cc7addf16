//! The pid file: written for init scripts, and locked for the daemon's
//! lifetime so that many agents racing to spawn a daemon end up with one.
//!
//! The lock is a POSIX record lock (`fcntl(F_SETLK)`), not `flock(2)`: on
//! Linux the two do not see each other, and New Relic's daemon uses the
//! former, so a Seraph daemon and a New Relic daemon sharing a pid file
//! still exclude each other.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg};

/// The pid file's mode: anyone may read it, only the daemon write it.
const PIDFILE_MODE: u32 = 0o644;

/// How many times to retry when the file was replaced between `open` and
/// the lock (another daemon exiting and removing it, a third creating it).
const MAX_ATTEMPTS: usize = 10;

/// Why the pid file could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum PidfileError {
    /// Another process holds the lock: a daemon is already running.
    #[error("pid file lock held by another process")]
    Locked,
    /// Opening, locking, truncating or writing failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The pid file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The path kept naming a different file than the one locked.
    #[error("{}: the file kept changing while it was being locked", path.display())]
    Unstable {
        /// The pid file.
        path: PathBuf,
    },
}

/// A locked pid file holding this process's pid. Dropping it removes the
/// file and releases the lock.
#[derive(Debug)]
pub struct Pidfile {
    path: PathBuf,
    /// Held only for its lock, which lives as long as the descriptor.
    _file: File,
}

impl Pidfile {
    /// Opens (creating it 0644 whatever the umask; never through a
    /// symbolic link, never anything but a regular file), locks, verifies
    /// and writes `"<pid>\n"` into `path`.
    pub fn acquire(path: &Path) -> Result<Pidfile, PidfileError> {
        let io_err = |source| PidfileError::Io {
            path: path.to_path_buf(),
            source,
        };
        for _ in 0..MAX_ATTEMPTS {
            let file = seraph_daemon::files::open_regular(path, PIDFILE_MODE).map_err(io_err)?;
            lock(&file).map_err(|e| match e {
                Errno::EAGAIN | Errno::EACCES => PidfileError::Locked,
                other => io_err(other.into()),
            })?;
            // The file may have been unlinked (and maybe re-created) between
            // our open and our lock; a lock on an orphan inode protects
            // nothing, so start over.
            let on_disk = match std::fs::metadata(path) {
                Ok(m) => m,
                Err(_) => continue,
            };
            let ours = file.metadata().map_err(io_err)?;
            if on_disk.dev() != ours.dev() || on_disk.ino() != ours.ino() {
                continue;
            }
            file.set_len(0).map_err(io_err)?;
            file.write_all_at(format!("{}\n", std::process::id()).as_bytes(), 0)
                .map_err(io_err)?;
            return Ok(Pidfile {
                path: path.to_path_buf(),
                _file: file,
            });
        }
        Err(PidfileError::Unstable {
            path: path.to_path_buf(),
        })
    }

    /// The pid file's path.
    #[cfg(test)]
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Pidfile {
    fn drop(&mut self) {
        // Unlink while still holding the lock, so nobody can lock the old
        // inode after we let go of it; the lock goes with the fd.
        if let Err(e) = std::fs::remove_file(&self.path) {
            tracing::debug!(pidfile = %self.path.display(), "could not remove pid file: {e}");
        }
    }
}

/// A non-blocking exclusive lock on the whole file.
fn lock(file: &File) -> Result<(), Errno> {
    let request = libc::flock {
        l_type: libc::F_WRLCK as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    };
    fcntl(file.as_raw_fd(), FcntlArg::F_SETLK(&request)).map(drop)
}

// A lock held by another process is exercised end to end in
// `daemon/tests/process_pidfile.rs` (record locks never conflict within one
// process, so it cannot be shown here).
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_pid_and_removes_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("daemon.pid");
        std::fs::write(&path, "stale contents that are longer\n").unwrap();
        let pidfile = Pidfile::acquire(&path).unwrap();
        assert_eq!(pidfile.path(), path);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, format!("{}\n", std::process::id()));
        drop(pidfile);
        assert!(!path.exists());
    }

    #[test]
    fn missing_directory_is_an_io_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = Pidfile::acquire(&dir.path().join("nope/daemon.pid")).unwrap_err();
        assert!(matches!(err, PidfileError::Io { .. }), "{err:?}");
        assert!(err.to_string().contains("nope/daemon.pid"));
    }
}
