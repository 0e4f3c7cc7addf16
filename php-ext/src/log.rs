//! The agent log (`newrelic.logfile`, `newrelic.loglevel`).
//!
//! The extension logs through `tracing`; [`AgentLog`] is the process's
//! subscriber and writes one line per event in New Relic's agent format,
//! `YYYY-MM-DD HH:MM:SS.mmm +0000 (pid) level: message`, with a single
//! `write` on an `O_APPEND` file so lines from many php-fpm workers never
//! interleave. The file is opened lazily (never in MINIT) and reopened when
//! the setting changes. Nothing here prints the license: callers pass
//! [`crate::config::redact_license`] output.

use seraph_agent_client::log_line::format_line;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// 0 = off, 1 error, 2 warning, 3 info, 4 debug (verbose), 5 trace (verbosedebug).
static MAX_LEVEL: AtomicU8 = AtomicU8::new(3);

struct Sink {
    path: String,
    file: Option<File>,
}

static SINK: Mutex<Sink> = Mutex::new(Sink {
    path: String::new(),
    file: None,
});

/// Maps New Relic's level names to our numeric filter.
pub fn level_from_name(name: &str) -> u8 {
    match name.trim().to_ascii_lowercase().as_str() {
        "error" => 1,
        "warning" | "warn" => 2,
        "verbose" | "debug" => 4,
        "verbosedebug" | "trace" => 5,
        _ => 3,
    }
}

fn level_num(l: &Level) -> u8 {
    match *l {
        Level::ERROR => 1,
        Level::WARN => 2,
        Level::INFO => 3,
        Level::DEBUG => 4,
        Level::TRACE => 5,
    }
}

fn level_name(l: &Level) -> &'static str {
    match *l {
        Level::ERROR => "error",
        Level::WARN => "warning",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "verbosedebug",
    }
}

/// Points the log at `path` with `level`; an empty path disables it.
/// Cheap when nothing changed.
pub fn configure(path: &str, level: &str) {
    MAX_LEVEL.store(
        if path.is_empty() {
            0
        } else {
            level_from_name(level)
        },
        Ordering::Relaxed,
    );
    let Ok(mut sink) = SINK.lock() else { return };
    if sink.path != path {
        sink.path = path.to_owned();
        sink.file = None;
    }
}

/// Installs [`AgentLog`] as the process's subscriber (once).
pub fn install() {
    let _ = tracing::subscriber::set_global_default(AgentLog);
}

/// A raw file descriptor for the log (for a spawned daemon's stdout and
/// stderr), opening it if needed.
pub fn raw_fd() -> Option<std::os::fd::RawFd> {
    use std::os::fd::AsRawFd;
    let mut sink = SINK.lock().ok()?;
    open_if_needed(&mut sink);
    sink.file.as_ref().map(AsRawFd::as_raw_fd)
}

fn open_if_needed(sink: &mut Sink) {
    if sink.file.is_none() && !sink.path.is_empty() {
        sink.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&sink.path)
            .ok();
    }
}

/// The `tracing` subscriber that writes the agent log.
pub struct AgentLog;

impl Subscriber for AgentLog {
    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        level_num(meta.level()) <= MAX_LEVEL.load(Ordering::Relaxed)
    }

    fn new_span(&self, _span: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _span: &Id, _values: &Record<'_>) {}

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let ids = std::process::id().to_string();
        let line = format_line(&ids, level_name(event.metadata().level()), event);
        let Ok(mut sink) = SINK.lock() else { return };
        open_if_needed(&mut sink);
        if let Some(f) = sink.file.as_mut() {
            let _ = f.write_all(line.as_bytes());
        }
    }

    fn enter(&self, _span: &Id) {}

    fn exit(&self, _span: &Id) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels() {
        assert_eq!(level_from_name("verbosedebug"), 5);
        assert_eq!(level_from_name("warning"), 2);
        assert_eq!(level_from_name("bogus"), 3);
    }

    #[test]
    fn writes_lines_to_the_configured_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.log");
        install();
        configure(path.to_str().unwrap(), "info");
        tracing::info!("hello {}", 42);
        tracing::debug!("not at info");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(") info: hello 42\n"), "{text}");
        assert!(!text.contains("not at info"));
        configure("", "info");
    }
}
