//! Failing writes, truncations and removals injected through the `Filesystem` seam: the spool
//! must report the error, stay usable, and reopen (on the real filesystem) to a consistent state.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use seraph_spool::{
    Filesystem, Record, Spool, SpoolConfig, SpoolError, SpoolFile, StdFile, StdFs, StdLock,
    WhenFull,
};

/// Which files a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Segment,
    Ledger,
}

fn kind(path: &Path) -> Option<Kind> {
    let name = path.file_name()?.to_str()?;
    if name.ends_with(".seg") {
        Some(Kind::Segment)
    } else if name.starts_with("acks") {
        Some(Kind::Ledger)
    } else {
        None
    }
}

#[derive(Debug, Default)]
struct Plan {
    /// The next append to a file of this kind writes only this many bytes, then fails.
    short_write: Option<(Kind, usize)>,
    /// `set_len` on files of this kind fails.
    fail_set_len: Option<Kind>,
    /// Removing files of this kind fails.
    fail_remove: Option<Kind>,
}

#[derive(Debug, Clone, Default)]
struct FaultyFs(Arc<Mutex<Plan>>);

impl FaultyFs {
    fn plan(&self) -> MutexGuard<'_, Plan> {
        self.0.lock().unwrap()
    }
}

fn enospc() -> io::Error {
    io::Error::from_raw_os_error(28)
}

struct FaultyFile {
    inner: StdFile,
    kind: Option<Kind>,
    plan: FaultyFs,
}

impl Filesystem for FaultyFs {
    type File = FaultyFile;
    type Lock = StdLock;

    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        StdFs.create_dir_all(dir)
    }
    fn try_lock(&self, path: &Path) -> io::Result<Option<StdLock>> {
        StdFs.try_lock(path)
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        StdFs.list(dir)
    }
    fn open(&self, path: &Path, create: bool) -> io::Result<FaultyFile> {
        Ok(FaultyFile {
            inner: StdFs.open(path, create)?,
            kind: kind(path),
            plan: self.clone(),
        })
    }
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        StdFs.read(path)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        if kind(path).is_some() && self.plan().fail_remove == kind(path) {
            return Err(io::Error::from(io::ErrorKind::PermissionDenied));
        }
        StdFs.remove(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        StdFs.rename(from, to)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        StdFs.sync_dir(dir)
    }
}

impl SpoolFile for FaultyFile {
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.inner.read_exact_at(buf, offset)
    }
    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        let short = {
            let mut plan = self.plan.plan();
            match plan.short_write {
                Some((k, n)) if Some(k) == self.kind => {
                    plan.short_write = None;
                    Some(n)
                }
                _ => None,
            }
        };
        match short {
            Some(n) => {
                self.inner.append(&data[..n.min(data.len())])?;
                Err(enospc())
            }
            None => self.inner.append(data),
        }
    }
    fn set_len(&mut self, len: u64) -> io::Result<()> {
        if self.kind.is_some() && self.plan.plan().fail_set_len == self.kind {
            return Err(enospc());
        }
        self.inner.set_len(len)
    }
    fn sync_data(&mut self) -> io::Result<()> {
        self.inner.sync_data()
    }
}

fn config() -> SpoolConfig {
    SpoolConfig {
        max_bytes: 1 << 20,
        max_segment_bytes: 64 << 10,
        when_full: WhenFull::DropOldest,
        max_age: None,
    }
}

fn rec(body: &[u8]) -> Record<'_> {
    Record {
        app: "a",
        method: "metric_data",
        created_unix_s: 1,
        body,
    }
}

fn push<F: Filesystem>(spool: &mut Spool<F>, body: &str) -> Result<u64, SpoolError> {
    Ok(spool.push(rec(body.as_bytes()))?.id.expect("stored"))
}

fn drain<F: Filesystem>(spool: &mut Spool<F>) -> Vec<String> {
    let recs = spool.take("a", usize::MAX).unwrap();
    let ids: Vec<u64> = recs.iter().map(|r| r.id).collect();
    spool.nack("a", &ids);
    recs.into_iter()
        .map(|r| String::from_utf8(r.body).unwrap())
        .collect()
}

fn seg_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| kind(p) == Some(Kind::Segment))
        .collect();
    v.sort();
    v
}

#[test]
fn short_write_is_rolled_back() {
    let dir = tempfile::tempdir().unwrap();
    let fs = FaultyFs::default();
    let mut spool = Spool::open_with(fs.clone(), dir.path(), config()).unwrap();
    push(&mut spool, "one").unwrap();
    push(&mut spool, "two").unwrap();
    let before = spool.stats();
    fs.plan().short_write = Some((Kind::Segment, 10));
    let err = push(&mut spool, "lost").unwrap_err();
    assert!(
        matches!(
            err,
            SpoolError::Io {
                op: "append record",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(spool.stats(), before, "a failed push changes nothing");
    push(&mut spool, "three").unwrap();
    assert_eq!(drain(&mut spool), ["one", "two", "three"]);
    drop(spool);

    let mut spool = Spool::open(dir.path(), config()).unwrap();
    let stats = spool.stats();
    assert_eq!((stats.torn_bytes, stats.corrupted_records), (0, 0));
    assert_eq!(drain(&mut spool), ["one", "two", "three"]);
}

#[test]
fn unrecoverable_short_write_seals_the_segment() {
    let dir = tempfile::tempdir().unwrap();
    let fs = FaultyFs::default();
    let mut spool = Spool::open_with(fs.clone(), dir.path(), config()).unwrap();
    push(&mut spool, "one").unwrap();
    {
        let mut plan = fs.plan();
        plan.short_write = Some((Kind::Segment, 20));
        plan.fail_set_len = Some(Kind::Segment);
    }
    push(&mut spool, "lost").unwrap_err();
    fs.plan().fail_set_len = None;
    push(&mut spool, "two").unwrap();
    assert_eq!(
        spool.stats().segments,
        2,
        "the damaged segment takes no more appends"
    );
    assert_eq!(drain(&mut spool), ["one", "two"]);
    drop(spool);

    let mut spool = Spool::open(dir.path(), config()).unwrap();
    assert_eq!(
        spool.stats().torn_bytes,
        20,
        "the partial record is trimmed on open"
    );
    assert_eq!(drain(&mut spool), ["one", "two"]);
}

#[test]
fn failed_segment_creation_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let fs = FaultyFs::default();
    let mut spool = Spool::open_with(fs.clone(), dir.path(), config()).unwrap();
    fs.plan().short_write = Some((Kind::Segment, 3));
    let err = push(&mut spool, "lost").unwrap_err();
    assert!(
        matches!(
            err,
            SpoolError::Io {
                op: "create segment",
                ..
            }
        ),
        "{err}"
    );
    assert!(seg_files(dir.path()).is_empty());
    assert_eq!(spool.stats().bytes, 0);
    push(&mut spool, "one").unwrap();
    assert_eq!(drain(&mut spool), ["one"]);
}

#[test]
fn failed_ledger_write_keeps_records_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let fs = FaultyFs::default();
    let mut spool = Spool::open_with(fs.clone(), dir.path(), config()).unwrap();
    for body in ["one", "two", "three"] {
        push(&mut spool, body).unwrap();
    }
    let recs = spool.take("a", 2).unwrap();
    let ids: Vec<u64> = recs.iter().map(|r| r.id).collect();
    fs.plan().short_write = Some((Kind::Ledger, 5));
    let err = spool.ack("a", &ids).unwrap_err();
    assert!(matches!(err, SpoolError::Io { .. }), "{err}");
    assert_eq!(spool.stats().in_flight, 2, "nothing acknowledged");
    // The retry rewrites the ledger whole, replacing the partial entry.
    assert_eq!(spool.ack("a", &ids).unwrap(), 2);
    drop(spool);

    let mut spool = Spool::open(dir.path(), config()).unwrap();
    assert_eq!(spool.stats().corrupted_records, 0);
    assert_eq!(drain(&mut spool), ["three"]);
}

#[test]
fn failed_removal_does_not_resurrect_records() {
    let dir = tempfile::tempdir().unwrap();
    let fs = FaultyFs::default();
    let mut spool = Spool::open_with(fs.clone(), dir.path(), config()).unwrap();
    push(&mut spool, "one").unwrap();
    fs.plan().fail_remove = Some(Kind::Segment);
    let recs = spool.take("a", 1).unwrap();
    assert_eq!(spool.ack("a", &[recs[0].id]).unwrap(), 1);
    assert_eq!(seg_files(dir.path()).len(), 1, "removal failed");
    drop(spool);

    // Still failing: the file stays, its acknowledgement keeps it from coming back.
    let mut spool = Spool::open_with(fs.clone(), dir.path(), config()).unwrap();
    assert_eq!(spool.stats().records, 0);
    assert!(drain(&mut spool).is_empty());
    drop(spool);

    let spool = Spool::open(dir.path(), config()).unwrap();
    assert_eq!(spool.stats().records, 0);
    assert!(
        seg_files(dir.path()).is_empty(),
        "removed once removal works"
    );
}
