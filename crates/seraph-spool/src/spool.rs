//! The spool itself: recovery on open, push, take/ack/nack, expiry and reclaim.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::config::{SpoolConfig, WhenFull};
use crate::error::SpoolError;
use crate::fs::{Filesystem, SpoolFile, StdFs};
use crate::ledger;
use crate::record::{self, Check, EncodeError, RecordRef, SEGMENT_HEADER_LEN, SEGMENT_MAGIC};

const LOCK_FILE: &str = "LOCK";
const LEDGER_FILE: &str = "acks";
const LEDGER_TMP: &str = "acks.tmp";
const SEGMENT_SUFFIX: &str = ".seg";
const HEADER: u64 = SEGMENT_HEADER_LEN as u64;

/// A payload to store, borrowed from the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// Opaque application id chosen by the caller; must not be a secret (it is stored in clear).
    pub app: &'a str,
    /// Collector method the payload is for (`metric_data`, `analytic_event_data`, ...).
    pub method: &'a str,
    /// When the payload was made, in Unix seconds; drives `max_age`.
    pub created_unix_s: u64,
    /// The payload bytes, stored as given.
    pub body: &'a [u8],
}

/// A record handed out by [`Spool::take`]; give its `id` back to [`Spool::ack`] or [`Spool::nack`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    /// Spool-wide id, increasing in push order.
    pub id: u64,
    /// The collector method given at push.
    pub method: String,
    /// The creation time given at push.
    pub created_unix_s: u64,
    /// The payload bytes.
    pub body: Vec<u8>,
}

/// What a [`Spool::push`] stored and what it cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PushReport {
    /// The new record's id, or `None` if [`WhenFull::DropNewest`] refused it.
    pub id: Option<u64>,
    /// Records lost to make room (or the refused record itself).
    pub dropped_records: u64,
    /// Body bytes of those records.
    pub dropped_bytes: u64,
}

/// A snapshot of the spool's size and of what it lost since it was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SpoolStats {
    /// Live records: pending plus in flight.
    pub records: u64,
    /// Records taken and neither acknowledged nor returned yet.
    pub in_flight: u64,
    /// Bytes of all segment files.
    pub bytes: u64,
    /// Segment files.
    pub segments: u64,
    /// Records lost to the full-spool policy.
    pub dropped_records: u64,
    /// Body bytes of those records.
    pub dropped_bytes: u64,
    /// Records discarded for being older than `max_age`.
    pub expired_records: u64,
    /// Damaged records or regions skipped (segments and ledger, on open or on read).
    pub corrupted_records: u64,
    /// Bytes truncated from segment tails on open (torn writes).
    pub torn_bytes: u64,
}

/// Where a live record is, and what is needed without reading it.
#[derive(Debug, Clone, Copy)]
struct Entry {
    segment: u64,
    offset: u64,
    len: u32,
    created_unix_s: u64,
    body_len: u32,
}

#[derive(Debug, Default)]
struct AppQueue {
    /// Waiting to be taken, oldest (lowest id) first.
    pending: BTreeMap<u64, Entry>,
    /// Taken, waiting for ack or nack.
    in_flight: BTreeMap<u64, Entry>,
}

impl AppQueue {
    fn is_empty(&self) -> bool {
        self.pending.is_empty() && self.in_flight.is_empty()
    }
}

#[derive(Debug)]
struct Segment<H> {
    file: H,
    len: u64,
    /// Records in this file still pending or in flight; the file is deleted when this hits 0.
    live: u64,
    /// Id range of every record ever written here (live or not), for ledger pruning and drops.
    first_id: u64,
    last_id: u64,
}

#[derive(Debug, Default, Clone, Copy)]
struct Counters {
    dropped_records: u64,
    dropped_bytes: u64,
    expired_records: u64,
    corrupted_records: u64,
    torn_bytes: u64,
}

/// A bounded, crash-safe store of unsent payloads in one directory. See the crate docs for the
/// format and guarantees.
pub struct Spool<F: Filesystem = StdFs> {
    fs: F,
    dir: PathBuf,
    config: SpoolConfig,
    _lock: F::Lock,
    segments: BTreeMap<u64, Segment<F::File>>,
    /// The segment new records are appended to.
    active: Option<u64>,
    apps: BTreeMap<String, AppQueue>,
    /// Open for appends unless the last ledger write failed.
    ledger: Option<F::File>,
    ledger_len: u64,
    /// The on-disk ledger may be damaged; rewrite it whole before the next append.
    ledger_dirty: bool,
    /// Acknowledged ids inside the range of a segment that still exists: the ledger's content.
    acked: BTreeSet<u64>,
    next_id: u64,
    next_segment: u64,
    total_bytes: u64,
    counters: Counters,
    scratch: Vec<u8>,
}

impl<F: Filesystem> std::fmt::Debug for Spool<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spool")
            .field("dir", &self.dir)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Spool<StdFs> {
    /// Opens (creating if needed) the spool in `dir`, recovering whatever a previous owner left.
    ///
    /// Fails with [`SpoolError::Locked`] while another `Spool` has the directory open.
    pub fn open(dir: impl AsRef<Path>, config: SpoolConfig) -> Result<Self, SpoolError> {
        let spool = Self::open_with(StdFs, dir, config)?;
        warn_if_shared(&spool.dir);
        Ok(spool)
    }
}

/// The directory we create is 0700, but an existing one keeps its mode; say so if others can
/// look in (the files themselves are 0600).
fn warn_if_shared(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(dir) {
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(dir = %dir.display(), mode = format!("{:o}", mode & 0o777), "spool directory is accessible to other users");
        }
    }
}

fn segment_name(no: u64) -> String {
    format!("{no:020}{SEGMENT_SUFFIX}")
}

fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SEGMENT_SUFFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl<F: Filesystem> Spool<F> {
    /// [`Spool::open`] over another [`Filesystem`] (tests use this to inject failures).
    pub fn open_with(
        fs: F,
        dir: impl AsRef<Path>,
        config: SpoolConfig,
    ) -> Result<Self, SpoolError> {
        config.validate()?;
        let dir = dir.as_ref().to_path_buf();
        fs.create_dir_all(&dir)
            .map_err(SpoolError::io("create directory", &dir))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = match fs
            .try_lock(&lock_path)
            .map_err(SpoolError::io("lock", &lock_path))?
        {
            Some(lock) => lock,
            None => {
                let holder = fs
                    .read(&lock_path)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .and_then(|s| s.trim().parse().ok());
                return Err(SpoolError::Locked { dir, holder });
            }
        };
        let mut spool = Spool {
            fs,
            dir,
            config,
            _lock: lock,
            segments: BTreeMap::new(),
            active: None,
            apps: BTreeMap::new(),
            ledger: None,
            ledger_len: 0,
            ledger_dirty: true,
            acked: BTreeSet::new(),
            next_id: 1,
            next_segment: 1,
            total_bytes: 0,
            counters: Counters::default(),
            scratch: Vec::new(),
        };
        spool.recover()?;
        Ok(spool)
    }

    /// Rebuilds the in-memory index from the ledger and the segments, repairing as it goes.
    fn recover(&mut self) -> Result<(), SpoolError> {
        let names = self
            .fs
            .list(&self.dir)
            .map_err(SpoolError::io("list directory", &self.dir))?;
        let mut numbers: Vec<u64> = names.iter().filter_map(|n| parse_segment_name(n)).collect();
        numbers.sort_unstable();
        if names.iter().any(|n| n == LEDGER_TMP) {
            // A rewrite that never reached its rename; the old ledger is still authoritative.
            let _ = self.fs.remove(&self.dir.join(LEDGER_TMP));
        }

        let ledger_path = self.dir.join(LEDGER_FILE);
        let ledger_ids: BTreeSet<u64> = match self.fs.read(&ledger_path) {
            Ok(data) => {
                let d = ledger::decode(&data);
                if d.corrupt > 0 {
                    tracing::warn!(
                        entries = d.corrupt,
                        "spool ledger has damaged entries; their records will be sent again"
                    );
                }
                self.counters.corrupted_records += d.corrupt;
                d.ids.into_iter().collect()
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => BTreeSet::new(),
            Err(e) => return Err(SpoolError::io("read ledger", &ledger_path)(e)),
        };

        // Id ranges of segment files that exist after recovery, tracked or not: their
        // acknowledgements must stay in the ledger.
        let mut kept_ranges: Vec<(u64, u64)> = Vec::new();
        let mut last_id = 0u64;
        for &no in &numbers {
            let path = self.dir.join(segment_name(no));
            let data = self
                .fs
                .read(&path)
                .map_err(SpoolError::io("read segment", &path))?;
            if data.len() < SEGMENT_HEADER_LEN {
                // Created but its header never made it: nothing was ever stored in it.
                self.counters.torn_bytes += data.len() as u64;
                if let Err(e) = self.fs.remove(&path) {
                    tracing::warn!(path = %path.display(), error = %e, "cannot remove empty spool segment");
                }
                continue;
            }
            if data[..SEGMENT_HEADER_LEN] != SEGMENT_MAGIC {
                tracing::warn!(path = %path.display(), "spool segment has a damaged header; scanning it for records anyway");
                self.counters.corrupted_records += 1;
            }
            let scan = record::scan(&data, SEGMENT_HEADER_LEN);
            if scan.corrupt > 0 {
                tracing::warn!(path = %path.display(), regions = scan.corrupt, "skipped damaged spool records");
            }
            self.counters.corrupted_records += scan.corrupt;
            let mut seg_range: Option<(u64, u64)> = None;
            let mut live = 0u64;
            for found in &scan.records {
                let id = found.rec.id;
                if id <= last_id {
                    // Valid CRC but out of order: not something this code writes. Skip it
                    // rather than let two records share an id.
                    self.counters.corrupted_records += 1;
                    continue;
                }
                last_id = id;
                seg_range = Some((seg_range.map_or(id, |r| r.0), id));
                if ledger_ids.contains(&id) {
                    continue;
                }
                live += 1;
                self.apps
                    .entry(found.rec.app.to_owned())
                    .or_default()
                    .pending
                    .insert(
                        id,
                        Entry {
                            segment: no,
                            offset: found.offset as u64,
                            len: found.len as u32,
                            created_unix_s: found.rec.created_unix_s,
                            body_len: found.rec.body.len() as u32,
                        },
                    );
            }
            let Some((first_id, seg_last)) = seg_range.filter(|_| live > 0) else {
                // Nothing live: reclaim the file now (invariant 4).
                match self.fs.remove(&path) {
                    Ok(()) => {}
                    Err(e) => {
                        tracing::warn!(path = %path.display(), error = %e, "cannot remove spent spool segment");
                        kept_ranges.extend(seg_range);
                    }
                }
                continue;
            };
            let tail = (data.len() - scan.valid_end) as u64;
            let mut file = self
                .fs
                .open(&path, false)
                .map_err(SpoolError::io("open segment", &path))?;
            if tail > 0 {
                tracing::warn!(path = %path.display(), bytes = tail, "truncating torn tail of spool segment");
                file.set_len(scan.valid_end as u64)
                    .and_then(|()| file.sync_data())
                    .map_err(SpoolError::io("truncate segment", &path))?;
                self.counters.torn_bytes += tail;
            }
            kept_ranges.push((first_id, seg_last));
            self.total_bytes += scan.valid_end as u64;
            self.segments.insert(
                no,
                Segment {
                    file,
                    len: scan.valid_end as u64,
                    live,
                    first_id,
                    last_id: seg_last,
                },
            );
        }
        let _ = self.fs.sync_dir(&self.dir);

        let max_ledger_id = ledger_ids.last().copied().unwrap_or(0);
        self.next_id = last_id.max(max_ledger_id).saturating_add(1);
        self.next_segment = numbers.last().map_or(1, |n| n + 1);
        self.active = self
            .segments
            .iter()
            .next_back()
            .filter(|(_, s)| s.len < self.config.max_segment_bytes)
            .map(|(&no, _)| no);
        self.acked = ledger_ids
            .into_iter()
            .filter(|id| kept_ranges.iter().any(|&(a, b)| (a..=b).contains(id)))
            .collect();
        self.rewrite_ledger()?;

        // The limit may have shrunk since the files were written.
        if self.config.when_full == WhenFull::DropOldest {
            while self.total_bytes > self.config.max_bytes {
                let Some(&oldest) = self.segments.keys().next() else {
                    break;
                };
                let (n, b) = self.drop_segment(oldest);
                self.counters.dropped_records += n;
                self.counters.dropped_bytes += b;
            }
        }
        tracing::debug!(dir = %self.dir.display(), stats = ?self.stats(), "spool opened");
        Ok(())
    }

    /// The spool directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stores a record durably (it is fsynced before this returns).
    ///
    /// When the spool is full the [`WhenFull`] policy decides what is lost; the report says how
    /// much. On an I/O error nothing is stored as far as this spool instance is concerned (a
    /// record that did reach the disk may still come back after a reopen: at least once).
    pub fn push(&mut self, rec: Record<'_>) -> Result<PushReport, SpoolError> {
        let id = self.next_id;
        self.scratch.clear();
        record::encode(
            &mut self.scratch,
            &RecordRef {
                id,
                created_unix_s: rec.created_unix_s,
                app: rec.app,
                method: rec.method,
                body: rec.body,
            },
        )
        .map_err(|e| match e {
            EncodeError::Invalid(why) => SpoolError::InvalidRecord(why),
            EncodeError::TooLarge(size) => SpoolError::RecordTooLarge {
                size,
                limit: self.config.max_segment_bytes - HEADER,
            },
        })?;
        let len = self.scratch.len() as u64;
        if len > self.config.max_segment_bytes - HEADER {
            return Err(SpoolError::RecordTooLarge {
                size: len,
                limit: self.config.max_segment_bytes - HEADER,
            });
        }

        let mut report = PushReport::default();
        loop {
            let extra = len
                + if self.needs_new_segment(len) {
                    HEADER
                } else {
                    0
                };
            if self.total_bytes + extra <= self.config.max_bytes {
                break;
            }
            match self.config.when_full {
                WhenFull::DropNewest => {
                    let body = rec.body.len() as u64;
                    self.counters.dropped_records += 1;
                    self.counters.dropped_bytes += body;
                    tracing::debug!(
                        app = rec.app,
                        method = rec.method,
                        bytes = body,
                        "spool full; record refused"
                    );
                    return Ok(PushReport {
                        id: None,
                        dropped_records: report.dropped_records + 1,
                        dropped_bytes: report.dropped_bytes + body,
                    });
                }
                WhenFull::DropOldest => {
                    // Config validation guarantees an empty spool fits any accepted record.
                    let Some(&oldest) = self.segments.keys().next() else {
                        break;
                    };
                    let (n, b) = self.drop_segment(oldest);
                    report.dropped_records += n;
                    report.dropped_bytes += b;
                    self.counters.dropped_records += n;
                    self.counters.dropped_bytes += b;
                }
            }
        }
        if report.dropped_records > 0 {
            tracing::debug!(
                records = report.dropped_records,
                bytes = report.dropped_bytes,
                "spool full; oldest records dropped"
            );
        }

        let no = match self.active {
            Some(no) if !self.needs_new_segment(len) => no,
            _ => self.start_segment(id)?,
        };
        // The id is spent even if the write fails: its bytes may have reached the disk.
        self.next_id += 1;
        let path = || self.dir.join(segment_name(no));
        let Some(seg) = self.segments.get_mut(&no) else {
            let e = io::Error::other("active segment is not tracked");
            return Err(SpoolError::io("append record", path())(e));
        };
        let offset = seg.len;
        let written = seg
            .file
            .append(&self.scratch)
            .and_then(|()| seg.file.sync_data());
        if let Err(e) = written {
            let undone = seg
                .file
                .set_len(offset)
                .and_then(|()| seg.file.sync_data())
                .is_ok();
            if !undone {
                // The tail is unknown now: stop appending here. Reopen will trim or skip it.
                let actual = seg.file.len().unwrap_or(offset + len).max(offset);
                self.total_bytes += actual - offset;
                seg.len = actual;
                seg.last_id = id;
                self.active = None;
            }
            if seg.live == 0 {
                self.remove_segment(no);
            }
            return Err(SpoolError::io(
                "append record",
                self.dir.join(segment_name(no)),
            )(e));
        }
        seg.len += len;
        seg.live += 1;
        seg.last_id = id;
        self.total_bytes += len;
        self.apps
            .entry(rec.app.to_owned())
            .or_default()
            .pending
            .insert(
                id,
                Entry {
                    segment: no,
                    offset,
                    len: len as u32,
                    created_unix_s: rec.created_unix_s,
                    body_len: rec.body.len() as u32,
                },
            );
        report.id = Some(id);
        Ok(report)
    }

    fn needs_new_segment(&self, len: u64) -> bool {
        match self.active.and_then(|no| self.segments.get(&no)) {
            Some(seg) => seg.len + len > self.config.max_segment_bytes,
            None => true,
        }
    }

    /// Creates the next segment file, header written and durable, and makes it the active one.
    fn start_segment(&mut self, first_id: u64) -> Result<u64, SpoolError> {
        let no = self.next_segment;
        self.next_segment += 1;
        let path = self.dir.join(segment_name(no));
        let made = self.fs.open(&path, true).and_then(|mut f| {
            f.set_len(0)?;
            f.append(&SEGMENT_MAGIC)?;
            f.sync_data()?;
            self.fs.sync_dir(&self.dir)?;
            Ok(f)
        });
        let file = match made {
            Ok(f) => f,
            Err(e) => {
                let _ = self.fs.remove(&path);
                return Err(SpoolError::io("create segment", path)(e));
            }
        };
        self.segments.insert(
            no,
            Segment {
                file,
                len: HEADER,
                live: 0,
                first_id,
                last_id: first_id,
            },
        );
        self.total_bytes += HEADER;
        self.active = Some(no);
        Ok(no)
    }

    /// Applications with records waiting to be taken, in name order.
    pub fn apps(&self) -> Vec<String> {
        self.apps
            .iter()
            .filter(|(_, q)| !q.pending.is_empty())
            .map(|(app, _)| app.clone())
            .collect()
    }

    /// Records of `app` waiting to be taken (not counting those in flight). Records past
    /// `max_age` are counted until a take or [`Spool::expire`] discards them.
    pub fn pending(&self, app: &str) -> usize {
        self.apps.get(app).map_or(0, |q| q.pending.len())
    }

    /// Hands out up to `max_records` of `app`'s oldest pending records, after discarding any
    /// past `max_age`. They stay stored, in flight, until [`Spool::ack`] or [`Spool::nack`]
    /// (or until the spool is reopened, when they are pending again).
    pub fn take(&mut self, app: &str, max_records: usize) -> Result<Vec<StoredRecord>, SpoolError> {
        self.take_at(app, max_records, unix_now())
    }

    /// [`Spool::take`] with the current time given, in Unix seconds.
    pub fn take_at(
        &mut self,
        app: &str,
        max_records: usize,
        now_unix_s: u64,
    ) -> Result<Vec<StoredRecord>, SpoolError> {
        if max_records == 0 {
            return Ok(Vec::new());
        }
        self.expire_app(app, now_unix_s)?;
        let mut out = Vec::new();
        let mut unreadable = Vec::new();
        let mut failure = None;
        if let Some(q) = self.apps.get_mut(app) {
            while out.len() < max_records {
                let Some((id, entry)) = q.pending.pop_first() else {
                    break;
                };
                match read_record(&self.segments, id, &entry) {
                    Ok(Some(rec)) => {
                        q.in_flight.insert(id, entry);
                        out.push(rec);
                    }
                    Ok(None) => unreadable.push(entry),
                    Err(e) => {
                        q.pending.insert(id, entry);
                        failure = Some((e, entry.segment));
                        break;
                    }
                }
            }
            if failure.is_some() {
                // Give back what this call took so nothing is stranded in flight.
                for rec in &out {
                    if let Some(entry) = q.in_flight.remove(&rec.id) {
                        q.pending.insert(rec.id, entry);
                    }
                }
            }
        }
        if !unreadable.is_empty() {
            tracing::warn!(
                app,
                records = unreadable.len(),
                "spool records failed their CRC on read; skipped"
            );
            self.counters.corrupted_records += unreadable.len() as u64;
            // Not written to the ledger: a reopen finds them damaged again.
            for entry in unreadable {
                self.release(entry.segment);
            }
        }
        self.tidy(app);
        if let Some((e, segment)) = failure {
            return Err(SpoolError::io(
                "read record",
                self.dir.join(segment_name(segment)),
            )(e));
        }
        Ok(out)
    }

    /// Marks records of `app` as delivered: they are never handed out again, even after a
    /// reopen. Ids not in flight for `app` are ignored. Returns how many were acknowledged.
    ///
    /// On error nothing is acknowledged (the records stay in flight; retry or nack).
    pub fn ack(&mut self, app: &str, ids: &[u64]) -> Result<usize, SpoolError> {
        let Some(q) = self.apps.get(app) else {
            return Ok(0);
        };
        let found: BTreeSet<u64> = ids
            .iter()
            .copied()
            .filter(|id| q.in_flight.contains_key(id))
            .collect();
        let found: Vec<u64> = found.into_iter().collect();
        self.persist_acks(&found)?;
        let mut segments = Vec::with_capacity(found.len());
        if let Some(q) = self.apps.get_mut(app) {
            for id in &found {
                if let Some(entry) = q.in_flight.remove(id) {
                    segments.push(entry.segment);
                }
            }
        }
        for seg in segments {
            self.release(seg);
        }
        self.tidy(app);
        Ok(found.len())
    }

    /// Returns in-flight records of `app` to pending, to be taken again in id order. Ids not in
    /// flight for `app` are ignored. Returns how many were returned.
    pub fn nack(&mut self, app: &str, ids: &[u64]) -> usize {
        let Some(q) = self.apps.get_mut(app) else {
            return 0;
        };
        let mut n = 0;
        for id in ids {
            if let Some(entry) = q.in_flight.remove(id) {
                q.pending.insert(*id, entry);
                n += 1;
            }
        }
        n
    }

    /// Discards every pending record past `max_age` now. Returns how many.
    pub fn expire(&mut self) -> Result<u64, SpoolError> {
        self.expire_at(unix_now())
    }

    /// [`Spool::expire`] with the current time given, in Unix seconds.
    pub fn expire_at(&mut self, now_unix_s: u64) -> Result<u64, SpoolError> {
        let apps: Vec<String> = self.apps.keys().cloned().collect();
        let mut n = 0;
        for app in apps {
            n += self.expire_app(&app, now_unix_s)?;
        }
        Ok(n)
    }

    fn expire_app(&mut self, app: &str, now_unix_s: u64) -> Result<u64, SpoolError> {
        let Some(max_age) = self.config.max_age else {
            return Ok(0);
        };
        let Some(q) = self.apps.get(app) else {
            return Ok(0);
        };
        let cutoff = now_unix_s.saturating_sub(max_age.as_secs());
        let ids: Vec<u64> = q
            .pending
            .iter()
            .filter(|(_, e)| e.created_unix_s < cutoff)
            .map(|(&id, _)| id)
            .collect();
        if ids.is_empty() {
            return Ok(0);
        }
        // Persisted like an ack so the records do not come back (and get counted) after reopen.
        self.persist_acks(&ids)?;
        let mut segments = Vec::with_capacity(ids.len());
        if let Some(q) = self.apps.get_mut(app) {
            for id in &ids {
                if let Some(entry) = q.pending.remove(id) {
                    segments.push(entry.segment);
                }
            }
        }
        for seg in segments {
            self.release(seg);
        }
        self.tidy(app);
        tracing::debug!(app, records = ids.len(), "expired spool records discarded");
        self.counters.expired_records += ids.len() as u64;
        Ok(ids.len() as u64)
    }

    /// Size and loss counters.
    pub fn stats(&self) -> SpoolStats {
        let (mut records, mut in_flight) = (0, 0);
        for q in self.apps.values() {
            records += (q.pending.len() + q.in_flight.len()) as u64;
            in_flight += q.in_flight.len() as u64;
        }
        SpoolStats {
            records,
            in_flight,
            bytes: self.total_bytes,
            segments: self.segments.len() as u64,
            dropped_records: self.counters.dropped_records,
            dropped_bytes: self.counters.dropped_bytes,
            expired_records: self.counters.expired_records,
            corrupted_records: self.counters.corrupted_records,
            torn_bytes: self.counters.torn_bytes,
        }
    }

    fn tidy(&mut self, app: &str) {
        if self.apps.get(app).is_some_and(AppQueue::is_empty) {
            self.apps.remove(app);
        }
    }

    /// One record of `segment` is no longer live; reclaim the file if it was the last.
    fn release(&mut self, segment: u64) {
        let Some(seg) = self.segments.get_mut(&segment) else {
            return;
        };
        seg.live = seg.live.saturating_sub(1);
        if seg.live == 0 {
            self.remove_segment(segment);
        }
    }

    /// Drops every live record of a segment (full-spool policy), then removes it. Returns the
    /// records and body bytes lost.
    fn drop_segment(&mut self, no: u64) -> (u64, u64) {
        let Some(seg) = self.segments.get(&no) else {
            return (0, 0);
        };
        let range = seg.first_id..=seg.last_id;
        let (mut n, mut bytes) = (0u64, 0u64);
        for q in self.apps.values_mut() {
            for map in [&mut q.pending, &mut q.in_flight] {
                let ids: Vec<u64> = map.range(range.clone()).map(|(&id, _)| id).collect();
                for id in ids {
                    if let Some(e) = map.remove(&id) {
                        n += 1;
                        bytes += u64::from(e.body_len);
                    }
                }
            }
        }
        self.apps.retain(|_, q| !q.is_empty());
        self.remove_segment(no);
        (n, bytes)
    }

    /// Deletes a segment file that holds nothing live any more, then drops its ids from the
    /// ledger. The order matters: see "Read position" in the crate docs.
    fn remove_segment(&mut self, no: u64) {
        let Some(seg) = self.segments.remove(&no) else {
            return;
        };
        self.total_bytes -= seg.len;
        if self.active == Some(no) {
            self.active = None;
        }
        drop(seg.file);
        let path = self.dir.join(segment_name(no));
        let removed = self
            .fs
            .remove(&path)
            .and_then(|()| self.fs.sync_dir(&self.dir));
        if let Err(e) = removed {
            // Keep its acknowledgements so a reopen does not resurrect its records.
            tracing::warn!(path = %path.display(), error = %e, "cannot remove spool segment");
            return;
        }
        let stale: Vec<u64> = self
            .acked
            .range(seg.first_id..=seg.last_id)
            .copied()
            .collect();
        if stale.is_empty() {
            return;
        }
        for id in stale {
            self.acked.remove(&id);
        }
        if let Err(e) = self.rewrite_ledger() {
            // Stale entries are harmless; the next write retries the rewrite.
            tracing::warn!(error = %e, "cannot compact spool ledger");
        }
    }

    /// Appends acknowledgements to the ledger durably, or rewrites it whole if the last write
    /// failed. On error nothing is recorded as acknowledged.
    fn persist_acks(&mut self, ids: &[u64]) -> Result<(), SpoolError> {
        if ids.is_empty() {
            return Ok(());
        }
        if !self.ledger_dirty {
            if let Some(file) = self.ledger.as_mut() {
                let mut buf = Vec::with_capacity(ids.len() * ledger::ENTRY_LEN);
                ledger::encode_entries(&mut buf, ids.iter().copied());
                match file.append(&buf).and_then(|()| file.sync_data()) {
                    Ok(()) => {
                        self.ledger_len += buf.len() as u64;
                        self.acked.extend(ids.iter().copied());
                        return Ok(());
                    }
                    Err(e) => {
                        // Whatever reached the disk, the next write replaces the whole file.
                        let _ = file.set_len(self.ledger_len);
                        self.ledger_dirty = true;
                        return Err(SpoolError::io("append ledger", self.dir.join(LEDGER_FILE))(
                            e,
                        ));
                    }
                }
            }
        }
        self.acked.extend(ids.iter().copied());
        if let Err(e) = self.rewrite_ledger() {
            for id in ids {
                self.acked.remove(id);
            }
            return Err(e);
        }
        Ok(())
    }

    /// Atomically replaces the ledger with the current `acked` set.
    fn rewrite_ledger(&mut self) -> Result<(), SpoolError> {
        self.ledger_dirty = true;
        self.ledger = None;
        let tmp = self.dir.join(LEDGER_TMP);
        let path = self.dir.join(LEDGER_FILE);
        let mut buf =
            Vec::with_capacity(ledger::LEDGER_MAGIC.len() + self.acked.len() * ledger::ENTRY_LEN);
        buf.extend_from_slice(&ledger::LEDGER_MAGIC);
        ledger::encode_entries(&mut buf, self.acked.iter().copied());
        let written = self.fs.open(&tmp, true).and_then(|mut f| {
            f.set_len(0)?;
            f.append(&buf)?;
            f.sync_data()
        });
        written.map_err(SpoolError::io("write ledger", &tmp))?;
        self.fs
            .rename(&tmp, &path)
            .and_then(|()| self.fs.sync_dir(&self.dir))
            .map_err(SpoolError::io("replace ledger", &path))?;
        let file = self
            .fs
            .open(&path, false)
            .map_err(SpoolError::io("open ledger", &path))?;
        self.ledger = Some(file);
        self.ledger_len = buf.len() as u64;
        self.ledger_dirty = false;
        Ok(())
    }
}

/// Reads a record back and checks it again; `Ok(None)` if it is damaged.
fn read_record<H: SpoolFile>(
    segments: &BTreeMap<u64, Segment<H>>,
    id: u64,
    entry: &Entry,
) -> io::Result<Option<StoredRecord>> {
    let Some(seg) = segments.get(&entry.segment) else {
        return Ok(None);
    };
    let mut buf = vec![0u8; entry.len as usize];
    seg.file.read_exact_at(&mut buf, entry.offset)?;
    Ok(match record::check(&buf) {
        Check::Valid(r, n) if n == buf.len() && r.id == id => Some(StoredRecord {
            id,
            method: r.method.to_owned(),
            created_unix_s: r.created_unix_s,
            body: r.body.to_vec(),
        }),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_round_trip() {
        assert_eq!(segment_name(42), "00000000000000000042.seg");
        assert_eq!(parse_segment_name(&segment_name(42)), Some(42));
        assert_eq!(parse_segment_name(&segment_name(u64::MAX)), Some(u64::MAX));
        assert_eq!(parse_segment_name("42.seg"), None);
        assert_eq!(parse_segment_name("0000000000000000004x.seg"), None);
        assert_eq!(parse_segment_name("00000000000000000042.seg.tmp"), None);
        assert_eq!(parse_segment_name("acks"), None);
    }
}
