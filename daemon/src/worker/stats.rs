//! Counters the worker keeps about itself (self-monitoring), logged as the
//! `daemon status` line every minute and at exit.

use std::sync::atomic::AtomicU64;

/// Process-wide counters, updated with relaxed atomics from any task.
#[derive(Debug, Default)]
pub struct WorkerStats {
    /// Agent connections currently open.
    pub connections_open: AtomicU64,
    /// Agent connections accepted since start.
    pub connections_total: AtomicU64,
    /// Agent connections closed at once because the connection limit
    /// (file descriptors) was reached.
    pub connections_refused: AtomicU64,
    /// App queries answered.
    pub app_queries: AtomicU64,
    /// Transaction frames received.
    pub transactions_received: AtomicU64,
    /// Transactions merged into a harvest.
    pub transactions_merged: AtomicU64,
    /// Transactions dropped because their run is unknown or gone.
    pub transactions_unknown_run: AtomicU64,
    /// Connections closed because of an invalid frame.
    pub bad_frames: AtomicU64,
    /// Infinite-tracing span batches dropped.
    pub span_batches_dropped: AtomicU64,
    /// Payloads written to the disk spool.
    pub spool_written: AtomicU64,
    /// Spooled payloads delivered to the collector.
    pub spool_replayed: AtomicU64,
    /// Spooled payloads dropped (spool full, unwritable, refused on replay).
    pub spool_dropped: AtomicU64,
}
