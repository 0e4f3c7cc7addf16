//! The seam between the spool and the operating system.
//!
//! The spool touches files only through [`Filesystem`] and [`SpoolFile`], so a test can wrap
//! [`StdFs`] and make a chosen write fail half-way, then check the spool recovers.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

/// Directory-level operations the spool needs.
pub trait Filesystem: Send + 'static {
    /// An open file.
    type File: SpoolFile;
    /// Holds the directory lock until dropped.
    type Lock: Send + 'static;

    /// Creates `dir` and its parents, new directories with mode 0700.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// Takes an exclusive, non-blocking lock on `path` (creating it) and records this process
    /// in it; `Ok(None)` if someone else holds it.
    fn try_lock(&self, path: &Path) -> io::Result<Option<Self::Lock>>;
    /// Names of the entries in `dir`.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// Opens `path` for reading and appending; with `create`, creates it (mode 0600) if missing.
    fn open(&self, path: &Path, create: bool) -> io::Result<Self::File>;
    /// Reads a whole file.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// Deletes a file.
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Atomically replaces `to` with `from`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Makes creations, removals and renames in `dir` durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
}

/// File operations the spool needs. Writes always go to the end.
pub trait SpoolFile: Send + 'static {
    /// Current size.
    fn len(&self) -> io::Result<u64>;
    /// Whether the file is empty.
    fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }
    /// Fills `buf` from `offset`.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
    /// Appends all of `data` (it may be partly written when this fails).
    fn append(&mut self, data: &[u8]) -> io::Result<()>;
    /// Truncates (or extends) to `len`.
    fn set_len(&mut self, len: u64) -> io::Result<()>;
    /// Makes written data durable.
    fn sync_data(&mut self) -> io::Result<()>;
}

/// The real filesystem.
#[derive(Debug, Clone, Copy, Default)]
pub struct StdFs;

/// A file of [`StdFs`], opened in append mode.
#[derive(Debug)]
pub struct StdFile(File);

/// The `flock` of [`StdFs`]; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct StdLock(#[allow(dead_code)] Flock<File>);

impl Filesystem for StdFs {
    type File = StdFile;
    type Lock = StdLock;

    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        DirBuilder::new().recursive(true).mode(0o700).create(dir)
    }

    fn try_lock(&self, path: &Path) -> io::Result<Option<StdLock>> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => {
                // The pid is only a diagnostic for the `Locked` error; failing to write it does
                // not weaken the lock.
                let mut f: &File = &lock;
                let _ = f
                    .set_len(0)
                    .and_then(|()| f.write_all(format!("{}\n", std::process::id()).as_bytes()));
                Ok(Some(StdLock(lock)))
            }
            Err((_, Errno::EWOULDBLOCK)) => Ok(None),
            Err((_, e)) => Err(io::Error::from(e)),
        }
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        std::fs::read_dir(dir)?
            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect()
    }

    fn open(&self, path: &Path, create: bool) -> io::Result<StdFile> {
        OpenOptions::new()
            .read(true)
            .append(true)
            .create(create)
            .mode(0o600)
            .open(path)
            .map(StdFile)
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }
}

impl SpoolFile for StdFile {
    fn len(&self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        FileExt::read_exact_at(&self.0, buf, offset)
    }

    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        self.0.write_all(data)
    }

    fn set_len(&mut self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }

    fn sync_data(&mut self) -> io::Result<()> {
        self.0.sync_data()
    }
}
