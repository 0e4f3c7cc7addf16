//! Where the registry's run records go so the next worker can carry the
//! runs on: the watcher (over the handover socket, license included, kept
//! in memory only) and, with `spool_dir` set, `runs.jsonl` in the spool's
//! directory (license removed; mode 0600 in the spool's 0700 directory,
//! replaced atomically). A record is written when an application connects
//! and removed when its run ends.

use super::handover::{Handover, Line};
use super::record::RunRecord;
use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

/// The file in the spool directory.
pub const RUNS_FILE: &str = "runs.jsonl";

enum Entry {
    Record(Box<RunRecord>),
    Forget(String),
}

/// A cheap handle to the journal writer; does nothing when neither sink
/// exists.
#[derive(Clone, Default)]
pub struct Journal {
    tx: Option<mpsc::UnboundedSender<Entry>>,
}

impl Journal {
    /// Starts the writer for whichever sinks exist.
    pub fn start(handover: Option<Handover>, dir: Option<PathBuf>) -> Journal {
        if handover.is_none() && dir.is_none() {
            return Journal::default();
        }
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(write(rx, handover, dir));
        Journal { tx: Some(tx) }
    }

    /// An application connected (or reconnected) with this run.
    pub fn record(&self, record: &RunRecord) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(Entry::Record(Box::new(record.clone())));
        }
    }

    /// The application's run ended.
    pub fn forget(&self, app: &str) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(Entry::Forget(app.to_owned()));
        }
    }
}

async fn write(
    mut rx: mpsc::UnboundedReceiver<Entry>,
    handover: Option<Handover>,
    dir: Option<PathBuf>,
) {
    let mut socket = handover.and_then(|h| {
        let std = h.into_stream();
        std.set_nonblocking(true).ok()?;
        tokio::net::UnixStream::from_std(std).ok()
    });
    let mut kept: HashMap<String, RunRecord> = match &dir {
        Some(dir) => load(dir).into_iter().map(|r| (r.app.clone(), r)).collect(),
        None => HashMap::new(),
    };
    let mut batch = Vec::new();
    while rx.recv_many(&mut batch, 64).await > 0 {
        let mut lines = String::new();
        for entry in batch.drain(..) {
            let line = match entry {
                Entry::Record(r) => {
                    if let Ok(disk) = r.without_license() {
                        kept.insert(disk.app.clone(), disk);
                    }
                    Line::Run(*r)
                }
                Entry::Forget(app) => {
                    kept.remove(&app);
                    Line::Forget(app)
                }
            };
            lines.push_str(&line.encode());
        }
        if let Some(s) = &mut socket {
            if s.write_all(lines.as_bytes()).await.is_err() {
                tracing::debug!("the watcher stopped listening for run records");
                socket = None;
            }
        }
        if let Some(dir) = &dir {
            let dir = dir.clone();
            let records: Vec<RunRecord> = kept.values().cloned().collect();
            let saved = tokio::task::spawn_blocking(move || save(&dir, &records)).await;
            if let Ok(Err(e)) = saved {
                tracing::warn!(error = %e, "cannot save the run records in the spool directory");
            }
        }
    }
}

/// The records saved in `dir` (license-less); unreadable lines are skipped.
pub fn load(dir: &Path) -> Vec<RunRecord> {
    std::fs::read_to_string(dir.join(RUNS_FILE))
        .map(|text| text.lines().filter_map(RunRecord::from_line).collect())
        .unwrap_or_default()
}

/// Replaces `dir/runs.jsonl` with `records`: written to a temporary file
/// (0600, never through an existing file or link), synced, renamed.
fn save(dir: &Path, records: &[RunRecord]) -> std::io::Result<()> {
    let tmp = dir.join(format!("{RUNS_FILE}.tmp"));
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&tmp)?;
    for r in records {
        f.write_all(r.to_line().as_bytes())?;
        f.write_all(b"\n")?;
    }
    f.sync_data()?;
    std::fs::rename(&tmp, dir.join(RUNS_FILE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_records_load_back() {
        let dir = tempfile::tempdir().unwrap();
        let r = RunRecord {
            app: "a".into(),
            app_frame: String::new(),
            run_id: "R".into(),
            collector_host: "h".into(),
            connect_reply: "{}".into(),
            security_policies: "{}".into(),
            connect_timestamp: 1,
            user_agent: None,
        };
        save(dir.path(), std::slice::from_ref(&r)).unwrap();
        save(dir.path(), std::slice::from_ref(&r)).unwrap();
        assert_eq!(load(dir.path()), vec![r]);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(RUNS_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(load(&dir.path().join("missing")).is_empty());
    }
}
