//! The bridge between runs and the on-disk spool (`seraph-spool`).
//!
//! New Relic's daemon retries a failed harvest post a few times from
//! memory and then drops it; a collector outage longer than that, or a
//! restart during one, loses data. With `spool_dir` set, what would be
//! dropped is written to a bounded on-disk spool instead: payloads whose
//! retry budget ran out, error traces / slow SQL / traces the collector
//! could not take, and everything the final harvest could not deliver. Once
//! the same application is connected again (in this process or after a
//! restart) its records are replayed, oldest first, with the new run id.
//!
//! Spool calls do blocking file I/O (fsync), so they run on tokio's
//! blocking pool; the mutex is only ever held inside those closures.
//! Deflating, inflating and rewriting payloads is CPU-bound and runs there
//! too ([`seraph_collector::cpu_bound`]), so agents are answered meanwhile.

use super::stats::WorkerStats;
use crate::loglimit::{LogLimit, EVERY_MINUTE};
use seraph_collector::Method;
use seraph_config::DaemonConfig;
use seraph_spool::{Record, Spool, SpoolConfig, SpoolError, StoredRecord};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

/// Shared handle to the spool; cheap to clone.
#[derive(Clone)]
pub struct SpoolHandle {
    inner: Arc<Mutex<Spool>>,
    stats: Arc<WorkerStats>,
    /// Pushes started and not finished.
    pending: Arc<AtomicUsize>,
}

/// Most pushes waiting at once. A disk that hangs (a dying drive, a
/// remote file system) would otherwise collect every undeliverable payload
/// of every application in memory, one blocked task each, for as long as
/// it hangs. Past this, payloads are dropped and counted.
pub const MAX_PENDING_PUSHES: usize = 1024;

impl SpoolHandle {
    /// Opens the configured spool. A spool that cannot be opened (locked by
    /// another daemon, unwritable directory) is logged and left out: the
    /// daemon then keeps data in memory only, as New Relic's does.
    pub fn open(config: &DaemonConfig, stats: Arc<WorkerStats>) -> Option<SpoolHandle> {
        let dir = config.spool_dir.as_ref()?;
        let spool_config = SpoolConfig {
            max_bytes: config.spool_max_size,
            // Segments of 1/8 of the spool (1 to 32 MiB): a few segments
            // keep dropping the oldest data fine-grained, and the largest
            // record (one compressed payload) must fit in one.
            max_segment_bytes: (config.spool_max_size / 8).clamp(1 << 20, 32 << 20),
            max_age: Some(config.spool_max_age),
            ..SpoolConfig::default()
        };
        match Spool::open(dir, spool_config) {
            Ok(spool) => {
                let s = spool.stats();
                tracing::info!(
                    dir = %dir.display(),
                    records = s.records,
                    bytes = s.bytes,
                    corrupted = s.corrupted_records,
                    "disk spool opened"
                );
                Some(SpoolHandle {
                    inner: Arc::new(Mutex::new(spool)),
                    stats,
                    pending: Arc::new(AtomicUsize::new(0)),
                })
            }
            Err(e @ SpoolError::Locked { .. }) => {
                tracing::warn!(error = %e, "disk spool in use by another daemon; unsent data stays in memory only");
                None
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot open the disk spool; unsent data stays in memory only");
                None
            }
        }
    }

    fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Spool) -> T + Send + 'static,
    ) -> impl std::future::Future<Output = Option<T>> {
        let inner = Arc::clone(&self.inner);
        async move {
            tokio::task::spawn_blocking(move || {
                let mut spool = inner.lock().unwrap_or_else(|p| p.into_inner());
                f(&mut spool)
            })
            .await
            .ok()
        }
    }

    /// Writes one payload (its uncompressed JSON) for application `app`;
    /// it is stored deflated (event payloads shrink about tenfold).
    pub async fn push(&self, app: &str, method: Method, body: Vec<u8>) {
        if self.pending.fetch_add(1, Ordering::AcqRel) >= MAX_PENDING_PUSHES {
            self.pending.fetch_sub(1, Ordering::AcqRel);
            self.stats.spool_dropped.fetch_add(1, Ordering::Relaxed);
            crate::limited!(SPOOL_TROUBLE, error, method = %method, "disk spool not keeping up (too many writes waiting); payload dropped");
            return;
        }
        self.push_now(app, method, body).await;
        self.pending.fetch_sub(1, Ordering::AcqRel);
    }

    async fn push_now(&self, app: &str, method: Method, body: Vec<u8>) {
        let body = seraph_collector::cpu_bound(move || seraph_collector::deflate(&body)).await;
        let app_owned = app.to_owned();
        let created = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let result = self
            .with(move |spool| {
                spool.push(Record {
                    app: &app_owned,
                    method: method.as_str(),
                    created_unix_s: created,
                    body: &body,
                })
            })
            .await;
        match result {
            Some(Ok(report)) => {
                if report.id.is_some() {
                    self.stats.spool_written.fetch_add(1, Ordering::Relaxed);
                }
                if report.dropped_records > 0 {
                    self.stats
                        .spool_dropped
                        .fetch_add(report.dropped_records, Ordering::Relaxed);
                    crate::limited!(
                        SPOOL_FULL,
                        warn,
                        dropped = report.dropped_records,
                        "disk spool full: oldest records dropped"
                    );
                }
                crate::limited!(SPOOL_KEPT, info, method = %method, "undelivered payload kept in the disk spool");
            }
            Some(Err(e)) => {
                self.stats.spool_dropped.fetch_add(1, Ordering::Relaxed);
                crate::limited!(SPOOL_TROUBLE, error, error = %e, method = %method, "cannot write to the disk spool; payload dropped");
            }
            None => {}
        }
    }

    /// Whether `app` has records waiting. Never waits: while the spool is
    /// busy (an fsync in progress) the answer is "not now".
    pub fn has_pending(&self, app: &str) -> bool {
        self.inner
            .try_lock()
            .map(|s| s.pending(app) > 0)
            .unwrap_or(false)
    }

    /// Takes up to `n` records of `app`, oldest first, their bodies
    /// inflated again. A record that does not inflate is acknowledged
    /// (dropped) and counted.
    pub async fn take(&self, app: &str, n: usize) -> Vec<StoredRecord> {
        let app_owned = app.to_owned();
        match self.with(move |spool| spool.take(&app_owned, n)).await {
            Some(Ok(records)) => {
                let stats = Arc::clone(&self.stats);
                let (out, bad) =
                    seraph_collector::cpu_bound(move || inflate_all(records, &stats)).await;
                if !bad.is_empty() {
                    self.ack(app, bad).await;
                }
                out
            }
            Some(Err(e)) => {
                tracing::error!(error = %e, "cannot read the disk spool");
                Vec::new()
            }
            None => Vec::new(),
        }
    }

    /// Marks records as delivered (or given up on): they are gone.
    pub async fn ack(&self, app: &str, ids: Vec<u64>) {
        let app = app.to_owned();
        if let Some(Err(e)) = self.with(move |spool| spool.ack(&app, &ids)).await {
            tracing::error!(error = %e, "cannot acknowledge spool records");
        }
    }

    /// Puts records back, to be taken again later.
    pub async fn nack(&self, app: &str, ids: Vec<u64>) {
        let app = app.to_owned();
        let _ = self.with(move |spool| spool.nack(&app, &ids)).await;
    }
}

/// The records whose bodies inflate, inflated, and the ids of those that
/// do not (counted as dropped).
fn inflate_all(records: Vec<StoredRecord>, stats: &WorkerStats) -> (Vec<StoredRecord>, Vec<u64>) {
    let mut out = Vec::with_capacity(records.len());
    let mut bad = Vec::new();
    for mut r in records {
        match seraph_collector::inflate(&r.body, MAX_PAYLOAD) {
            Ok(body) => {
                r.body = body;
                out.push(r);
            }
            Err(e) => {
                tracing::warn!(error = %e, "dropping a spooled payload that does not inflate");
                stats.spool_dropped.fetch_add(1, Ordering::Relaxed);
                bad.push(r.id);
            }
        }
    }
    (out, bad)
}

/// Payloads written to the spool (one a minute is enough to see it work).
static SPOOL_KEPT: LogLimit = LogLimit::new(EVERY_MINUTE);
/// Oldest records dropped for room.
static SPOOL_FULL: LogLimit = LogLimit::new(EVERY_MINUTE);
/// Writes that failed.
static SPOOL_TROUBLE: LogLimit = LogLimit::new(EVERY_MINUTE);

/// Largest payload inflated back from the spool.
const MAX_PAYLOAD: usize = 256 << 20;

/// [`with_run_id`] on the blocking pool: parsing and writing a whole
/// payload again is CPU-bound.
pub async fn with_run_id_off_runtime(
    method: Method,
    body: Vec<u8>,
    run_id: Arc<str>,
) -> Option<Vec<u8>> {
    seraph_collector::cpu_bound(move || with_run_id(method, &body, &run_id)).await
}

/// Rewrites the run id of a stored payload for the current run. Payloads
/// that carry one have it as their first array element (§3.6).
pub fn with_run_id(method: Method, body: &[u8], run_id: &str) -> Option<Vec<u8>> {
    let has_run_id = matches!(
        method,
        Method::MetricData
            | Method::AnalyticEventData
            | Method::CustomEventData
            | Method::ErrorEventData
            | Method::SpanEventData
            | Method::ErrorData
            | Method::TransactionSampleData
    );
    if !has_run_id {
        return Some(body.to_vec());
    }
    let mut value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let first = value.as_array_mut()?.first_mut()?;
    *first = serde_json::Value::String(run_id.to_owned());
    serde_json::to_vec(&value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_hung_disk_does_not_collect_payloads_without_bound() {
        let dir = tempfile::tempdir().unwrap();
        let stats = Arc::new(WorkerStats::default());
        let config = DaemonConfig {
            spool_dir: Some(dir.path().join("spool")),
            ..DaemonConfig::default()
        };
        let spool = SpoolHandle::open(&config, Arc::clone(&stats)).unwrap();
        // The disk hangs: every write blocks (here: on the spool's lock).
        let inner = Arc::clone(&spool.inner);
        let (hold_tx, hold_rx) = std::sync::mpsc::channel::<()>();
        let (held_tx, held_rx) = std::sync::mpsc::channel::<()>();
        let holder = std::thread::spawn(move || {
            let _guard = inner.lock().unwrap();
            held_tx.send(()).unwrap();
            let _ = hold_rx.recv();
        });
        held_rx.recv().unwrap();
        let extra = 50;
        let mut tasks = Vec::new();
        for _ in 0..MAX_PENDING_PUSHES + extra {
            let spool = spool.clone();
            tasks.push(tokio::spawn(async move {
                spool.push("app", Method::ErrorData, b"[]".to_vec()).await;
            }));
        }
        // The pushes past the limit return at once, dropped.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while stats.spool_dropped.load(Ordering::Relaxed) < extra as u64 {
            assert!(std::time::Instant::now() < deadline, "overflow not dropped");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(spool.pending.load(Ordering::Acquire), MAX_PENDING_PUSHES);
        // The disk comes back: the waiting ones are written.
        hold_tx.send(()).unwrap();
        holder.join().unwrap();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(
            stats.spool_written.load(Ordering::Relaxed),
            MAX_PENDING_PUSHES as u64
        );
        assert_eq!(stats.spool_dropped.load(Ordering::Relaxed), extra as u64);
        assert_eq!(spool.pending.load(Ordering::Acquire), 0);
    }

    #[test]
    fn run_ids_are_replaced_only_where_they_are() {
        let events = br#"["OLD",{"reservoir_size":10,"events_seen":1},[[{"a":1},{},{}]]]"#;
        let out = with_run_id(Method::AnalyticEventData, events, "NEW").unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"["NEW",{"reservoir_size":10,"events_seen":1},[[{"a":1},{},{}]]]"#
        );
        let sql = br#"[[["t","/",1,"SELECT ?","m",1,1.0,1.0,1.0,"x"]]]"#;
        assert_eq!(
            with_run_id(Method::SqlTraceData, sql, "NEW").unwrap(),
            sql.to_vec()
        );
        assert!(with_run_id(Method::MetricData, b"not json", "NEW").is_none());
    }
}
