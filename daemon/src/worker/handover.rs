//! The channel between the watcher and its worker through which runs
//! outlive a worker: the worker reports every run it connects or ends, the
//! watcher keeps the latest record per application in its memory, and
//! hands all of them to the next worker it starts (after a crash or a
//! `kill -9`) before that worker serves agents.
//!
//! It is one end of a socket pair the watcher creates per worker, passed
//! as an inherited descriptor named in [`HANDOVER_FD_ENV`]. Each message is
//! one line of JSON ([`Line`]). A worker started without a watcher (`-f`)
//! has none; the disk spool's directory keeps runs across those restarts
//! (see `journal.rs`).

use super::record::RunRecord;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// Names the inherited descriptor of the handover socket.
pub const HANDOVER_FD_ENV: &str = "SERAPH_HANDOVER_FD";

/// One message on the handover socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Line {
    /// A run (new, or replacing the application's previous one).
    Run(RunRecord),
    /// The application's run ended: forget it.
    Forget(String),
    /// From the watcher: every record has been sent.
    End,
}

impl Line {
    /// The line as written (with its newline).
    pub fn encode(&self) -> String {
        let mut s = serde_json::to_string(self).unwrap_or_default();
        s.push('\n');
        s
    }

    /// Parses one line (without its newline).
    pub fn decode(line: &str) -> Option<Line> {
        serde_json::from_str(line.trim_end()).ok()
    }
}

/// What the watcher keeps between workers: the latest record of each
/// application.
#[derive(Debug, Default)]
pub struct Kept(HashMap<String, RunRecord>);

impl Kept {
    /// Applies a line from the worker.
    pub fn apply(&mut self, line: Line) {
        match line {
            Line::Run(record) => {
                self.0.insert(record.app.clone(), record);
            }
            Line::Forget(app) => {
                self.0.remove(&app);
            }
            Line::End => {}
        }
    }

    /// Everything kept, as the lines a new worker reads (ending with
    /// [`Line::End`]).
    pub fn lines(&self) -> String {
        let mut out: String = self
            .0
            .values()
            .map(|r| Line::Run(r.clone()).encode())
            .collect();
        out.push_str(&Line::End.encode());
        out
    }

    /// Number of runs kept.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when none are kept.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The worker's end of the handover socket.
pub struct Handover {
    stream: UnixStream,
}

/// How long a new worker waits for the watcher's records.
const READ_DEADLINE: Duration = Duration::from_secs(5);

impl Handover {
    /// The socket the watcher passed, if any; reads the records it holds
    /// (at most [`READ_DEADLINE`]).
    pub fn from_env() -> Option<(Handover, Vec<RunRecord>)> {
        let fd: i32 = std::env::var(HANDOVER_FD_ENV).ok()?.parse().ok()?;
        if fd < 3 {
            return None;
        }
        // The descriptor must be a socket this process holds: anything
        // else (a stale variable in the environment) is ignored.
        let st = nix::sys::stat::fstat(fd).ok()?;
        if st.st_mode & libc::S_IFMT != libc::S_IFSOCK {
            return None;
        }
        // SAFETY: the watcher created this descriptor for this process
        // alone and nothing else in the process refers to it (checked to
        // be an open socket above); ownership passes to the stream.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        let _ = nix::fcntl::fcntl(
            std::os::fd::AsRawFd::as_raw_fd(&owned),
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        );
        let stream = UnixStream::from(owned);
        let records = read_records(&stream);
        Some((Handover { stream }, records))
    }

    /// For tests: a handover over `stream`.
    pub fn over(stream: UnixStream) -> Handover {
        Handover { stream }
    }

    /// The socket, for the writer task.
    pub fn into_stream(self) -> UnixStream {
        self.stream
    }
}

fn read_records(stream: &UnixStream) -> Vec<RunRecord> {
    let _ = stream.set_read_timeout(Some(READ_DEADLINE));
    let mut records = Vec::new();
    let Ok(clone) = stream.try_clone() else {
        return records;
    };
    for line in BufReader::new(clone).lines() {
        let Ok(line) = line else { break };
        match Line::decode(&line) {
            Some(Line::Run(r)) => records.push(r),
            Some(Line::End) => break,
            _ => {}
        }
    }
    let _ = stream.set_read_timeout(None);
    records
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn record(app: &str, run: &str) -> RunRecord {
        RunRecord {
            app: app.into(),
            app_frame: String::new(),
            run_id: run.into(),
            collector_host: "h".into(),
            connect_reply: "{}".into(),
            security_policies: "{}".into(),
            connect_timestamp: 1,
            user_agent: None,
        }
    }

    #[test]
    fn the_watcher_keeps_the_latest_run_of_each_application() {
        let mut kept = Kept::default();
        kept.apply(Line::Run(record("a", "1")));
        kept.apply(Line::Run(record("b", "2")));
        kept.apply(Line::Run(record("a", "3")));
        kept.apply(Line::Forget("b".into()));
        assert_eq!(kept.len(), 1);
        let (mut watcher, worker) = UnixStream::pair().unwrap();
        watcher.write_all(kept.lines().as_bytes()).unwrap();
        // Written after End: not part of the handover.
        watcher
            .write_all(Line::Run(record("c", "4")).encode().as_bytes())
            .unwrap();
        let got = read_records(&worker);
        assert_eq!(got, vec![record("a", "3")]);
    }
}
