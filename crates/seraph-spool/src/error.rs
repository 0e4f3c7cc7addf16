//! The crate's error type.

use std::io;
use std::path::PathBuf;

/// Why a spool operation failed. Data-loss events that are policy (full spool, expiry, corrupt
/// records) are not errors: they are reported in [`crate::PushReport`] and [`crate::SpoolStats`].
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// Another process (or another `Spool` in this one) holds the directory's lock.
    #[error("spool directory {} is locked by another owner{}", dir.display(), holder.map(|p| format!(" (pid {p})")).unwrap_or_default())]
    Locked {
        /// The spool directory.
        dir: PathBuf,
        /// The pid the holder wrote into `LOCK`, if it could be read.
        holder: Option<u32>,
    },
    /// The configuration cannot work.
    #[error("invalid spool configuration: {0}")]
    Config(&'static str),
    /// The record cannot fit in one segment (records are never split).
    #[error("record of {size} bytes exceeds the segment limit of {limit} bytes")]
    RecordTooLarge {
        /// Encoded record size, headers included.
        size: u64,
        /// The largest record a segment can take.
        limit: u64,
    },
    /// The record's fields cannot be stored (empty or over-long app id or method).
    #[error("invalid record: {0}")]
    InvalidRecord(&'static str),
    /// A file operation failed. The spool stays usable; the operation had no effect unless its
    /// documentation says otherwise.
    #[error("spool I/O error ({op}) on {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

impl SpoolError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| SpoolError::Io { op, path, source }
    }
}
