//! The library's log (`newrelic_configure_log`): one line per message,
//! `YYYY-MM-DD HH:MM:SS.mmm +0000 (pid tid) level: message`, written with
//! a single `write` so lines from many threads never interleave. Messages
//! come from `tracing`, through the subscriber installed here on first use.

use crate::ffi::{guard, lock, PMutex};
use seraph_agent_client::log_line::format_line;
use std::ffi::c_char;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Once;
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};

/// 0 nothing; 1 error, 2 warning, 3 info, 4 debug (`newrelic_loglevel_t` + 1).
static LEVEL: AtomicU8 = AtomicU8::new(0);
/// Whether the program chose a destination (else `newrelic_init` picks
/// stderr at info).
static CONFIGURED: AtomicBool = AtomicBool::new(false);
static SINK: PMutex<Option<Sink>> = PMutex::new(None);
static INSTALL: Once = Once::new();

enum Sink {
    Stdout,
    Stderr,
    File(File),
}

impl Sink {
    fn write(&mut self, line: &[u8]) {
        let _ = match self {
            Sink::Stdout => std::io::stdout().lock().write_all(line),
            Sink::Stderr => std::io::stderr().lock().write_all(line),
            Sink::File(f) => f.write_all(line),
        };
    }
}

fn level_num(l: &Level) -> u8 {
    match *l {
        Level::ERROR => 1,
        Level::WARN => 2,
        Level::INFO => 3,
        _ => 4,
    }
}

fn level_name(l: &Level) -> &'static str {
    match *l {
        Level::ERROR => "error",
        Level::WARN => "warning",
        Level::INFO => "info",
        _ => "debug",
    }
}

struct LogSubscriber;

impl Subscriber for LogSubscriber {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        // The level can change at any time: ask `enabled` every time.
        Interest::sometimes()
    }
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        level_num(m.level()) <= LEVEL.load(Ordering::Relaxed)
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, e: &Event<'_>) {
        // SAFETY: gettid has no preconditions.
        let ids = format!("{} {}", std::process::id(), unsafe { libc::gettid() });
        let line = format_line(&ids, level_name(e.metadata().level()), e);
        if let Some(sink) = lock(&SINK).as_mut() {
            sink.write(line.as_bytes());
        }
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

fn install() {
    INSTALL.call_once(|| {
        // A program that installed its own `tracing` subscriber keeps it.
        let _ = tracing::subscriber::set_global_default(LogSubscriber);
    });
}

/// Opens `filename` ("stdout", "stderr" or a path, appended to) at `level`
/// (0 error … 3 debug).
pub fn configure(filename: &str, level: u32) -> Result<(), String> {
    if level > 3 {
        return Err(format!("level {level} is not a newrelic_loglevel_t"));
    }
    let sink = match filename {
        "stdout" => Sink::Stdout,
        "stderr" => Sink::Stderr,
        path => Sink::File(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("cannot open log file {path}: {e}"))?,
        ),
    };
    install();
    *lock(&SINK) = Some(sink);
    LEVEL.store(level as u8 + 1, Ordering::Relaxed);
    CONFIGURED.store(true, Ordering::Relaxed);
    Ok(())
}

/// The default when the program configured nothing: stderr at info.
pub fn ensure_default() {
    if !CONFIGURED.load(Ordering::Relaxed) {
        let _ = configure("stderr", 2);
    }
}

/// Whether the program has configured the log.
pub fn configured() -> bool {
    CONFIGURED.load(Ordering::Relaxed)
}

/// `newrelic_configure_log()`.
///
/// # Safety
/// `filename` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn newrelic_configure_log(filename: *const c_char, level: u32) -> bool {
    guard("newrelic_configure_log", false, || {
        // SAFETY: forwarded from the caller.
        let Ok(name) =
            (unsafe { crate::ffi::req_arg("newrelic_configure_log", "filename", filename, 4096) })
        else {
            return false;
        };
        match configure(name, level) {
            Ok(()) => true,
            Err(e) => {
                install();
                if lock(&SINK).is_none() {
                    // Say why somewhere: nothing was configured before.
                    eprintln!("newrelic_configure_log: {e}");
                }
                tracing::error!("newrelic_configure_log: {e}");
                false
            }
        }
    })
}
