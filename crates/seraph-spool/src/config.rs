//! Typed spool configuration.

use std::time::Duration;

use crate::error::SpoolError;
use crate::record::{MAX_RECORD_OVERHEAD, SEGMENT_HEADER_LEN};

/// What gives way when a push would take the spool past `max_bytes`.
///
/// A named choice rather than a flag because each loses different data, and the caller should
/// say which it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WhenFull {
    /// Delete the oldest segments (with every record still in them) until the new record fits.
    /// The default: for an APM recent data is usually worth more than old data.
    #[default]
    DropOldest,
    /// Keep what is stored and refuse the new record.
    DropNewest,
}

/// Limits and policies of one spool directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolConfig {
    /// Upper bound on the bytes of all segment files together (the small ledger is not counted).
    pub max_bytes: u64,
    /// Upper bound on one segment file; also the largest record the spool accepts (less its
    /// headers). Smaller segments reclaim space sooner and make `DropOldest` drop less at a time.
    pub max_segment_bytes: u64,
    /// Policy when full.
    pub when_full: WhenFull,
    /// Records older than this (by their `created_unix_s`) are discarded when met; `None` keeps
    /// them until they are sent or pushed out.
    pub max_age: Option<Duration>,
}

impl Default for SpoolConfig {
    /// 64 MiB in 4 MiB segments, oldest dropped first, kept for 24 hours. A collector payload is
    /// at most about 1 MB (`max_payload_size_in_bytes`), so a segment holds a few of the largest.
    fn default() -> Self {
        Self {
            max_bytes: 64 << 20,
            max_segment_bytes: 4 << 20,
            when_full: WhenFull::DropOldest,
            max_age: Some(Duration::from_secs(24 * 3600)),
        }
    }
}

impl SpoolConfig {
    /// Rejects limits under which the spool could not hold even a small record, or could not
    /// make room for one by dropping old segments.
    pub(crate) fn validate(&self) -> Result<(), SpoolError> {
        let smallest_useful = SEGMENT_HEADER_LEN as u64 + MAX_RECORD_OVERHEAD as u64 + 1;
        if self.max_segment_bytes < smallest_useful {
            return Err(SpoolError::Config(
                "max_segment_bytes is too small to hold a record",
            ));
        }
        if self.max_segment_bytes > u64::from(u32::MAX) {
            return Err(SpoolError::Config("max_segment_bytes must be below 4 GiB"));
        }
        if self.max_bytes < self.max_segment_bytes {
            return Err(SpoolError::Config(
                "max_bytes must be at least max_segment_bytes",
            ));
        }
        if self.max_bytes / self.max_segment_bytes > MAX_SEGMENTS {
            // Each segment keeps a file descriptor open.
            return Err(SpoolError::Config(
                "max_bytes / max_segment_bytes must be at most 1024 segments",
            ));
        }
        Ok(())
    }
}

/// Bound on segment files, so open descriptors stay few.
const MAX_SEGMENTS: u64 = 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid() {
        SpoolConfig::default().validate().unwrap();
    }

    #[test]
    fn rejects_segment_larger_than_spool() {
        let cfg = SpoolConfig {
            max_bytes: 1000,
            max_segment_bytes: 2000,
            ..SpoolConfig::default()
        };
        assert!(matches!(cfg.validate(), Err(SpoolError::Config(_))));
    }

    #[test]
    fn rejects_tiny_segment() {
        let cfg = SpoolConfig {
            max_bytes: 1000,
            max_segment_bytes: 10,
            ..SpoolConfig::default()
        };
        assert!(matches!(cfg.validate(), Err(SpoolError::Config(_))));
    }
}
