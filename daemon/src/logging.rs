//! The daemon log, in New Relic's line format so existing log tooling and
//! support habits keep working:
//!
//! ```text
//! 2026/11/23 12:28:08.123456 (4242) Info: daemon listening on @newrelic
//! ```
//!
//! Timestamps are **UTC** (New Relic's Go daemon uses local time): UTC needs
//! no time-zone database or libc call and never jumps at DST changes.
//!
//! New Relic's levels map onto `tracing` as follows: `error` → ERROR,
//! `warning` → WARN, `info` → INFO, `debug` (`verbose`, `verbosedebug`) →
//! everything down to TRACE. `healthcheck` is Info plus events whose target
//! starts with `healthcheck` (at any level); those print as `HealthCheck`.
//! `always` shows errors only (nothing in Seraph logs at an "always" level).
//!
//! Every role (progenitor, watcher, worker) opens the same file for append
//! and each line is written with a single `write`, so lines from the
//! processes interleave but never tear.
//!
//! The file is created 0640 whatever the umask and never opened through a
//! symbolic link another user made (`seraph_daemon::files`). [`reopen`]
//! opens the path again (SIGHUP in the watcher and the worker), so
//! logrotate can move the file away without `copytruncate`.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock, RwLock, RwLockReadGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use seraph_config::{DaemonConfig, LogDestination, LogLevel};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// Why the log could not be set up (the daemon prints this on stderr and
/// exits 1).
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The configured file could not be opened.
    #[error("unable to open log file {}: {source}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// No log file configured and none of the standard locations usable.
    #[error(
        "unable to find a suitable log file location, please check that {} exists and is writable",
        Path::new(LogDestination::DEFAULT_PATHS[0]).parent().unwrap_or(Path::new("/")).display()
    )]
    NoDefault,
    /// A global subscriber was already installed (a bug).
    #[error("unable to install the logger: {0}")]
    Install(String),
}

/// Mode of a log file the daemon creates: run ids (capabilities) appear
/// in it, so other users may not read it.
const LOG_MODE: u32 = 0o640;

/// The open log file, for [`reopen`].
static LOG_FILE: OnceLock<Arc<LogFile>> = OnceLock::new();

/// Opens the configured destination and installs the global subscriber.
pub fn init(config: &DaemonConfig) -> Result<(), LogError> {
    use tracing_subscriber::util::SubscriberInitExt;
    let sink = Sink::open(&config.logfile)?;
    if let Sink::File(f) = &sink {
        let _ = LOG_FILE.set(Arc::clone(f));
    }
    // `try_init` also routes `log` records (rustls uses `log`) here.
    tracing_subscriber::registry()
        .with(layer(sink, config.loglevel))
        .try_init()
        .map_err(|e| LogError::Install(e.to_string()))
}

/// The formatting and filtering layer over any writer (tests pass a buffer).
fn layer<S, W>(writer: W, level: LogLevel) -> impl Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .event_format(NrFormat {
            pid: std::process::id(),
        })
        .with_writer(writer)
        .with_filter(tracing_subscriber::filter::filter_fn(move |meta| {
            enabled(meta, level)
        }))
}

/// Whether an event passes the configured New Relic level.
fn enabled(meta: &Metadata<'_>, level: LogLevel) -> bool {
    if is_healthcheck(meta) {
        return level >= LogLevel::HealthCheck;
    }
    let threshold = match level {
        LogLevel::Always | LogLevel::Error => Level::ERROR,
        LogLevel::Warning => Level::WARN,
        LogLevel::Info | LogLevel::HealthCheck => Level::INFO,
        LogLevel::Debug => Level::TRACE,
    };
    // tracing orders levels by verbosity: ERROR < WARN < ... < TRACE.
    *meta.level() <= threshold
}

fn is_healthcheck(meta: &Metadata<'_>) -> bool {
    meta.target().starts_with("healthcheck")
}

/// The level word New Relic prints.
fn level_name(meta: &Metadata<'_>) -> &'static str {
    if is_healthcheck(meta) {
        return "HealthCheck";
    }
    match *meta.level() {
        Level::ERROR => "Error",
        Level::WARN => "Warning",
        Level::INFO => "Info",
        _ => "Debug",
    }
}

/// `YYYY/MM/DD HH:MM:SS.micro (pid) Level: message key=value...`
struct NrFormat {
    pid: u32,
}

impl<S, N> FormatEvent<S, N> for NrFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        write!(
            writer,
            "{} ({}) {}: ",
            timestamp(SystemTime::now()),
            self.pid,
            level_name(event.metadata())
        )?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// Formats `t` as `YYYY/MM/DD HH:MM:SS.micro` in UTC.
fn timestamp(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{year:04}/{month:02}/{day:02} {:02}:{:02}:{:02}.{:06}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        since.subsec_micros()
    )
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian
/// calendar (Howard Hinnant's era-based algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March-based
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Opens the log file's path again (after logrotate moved it away) and
/// writes there from now on. `Ok(false)` when the log is not a file.
pub fn reopen() -> io::Result<bool> {
    match LOG_FILE.get() {
        Some(f) => f.reopen().map(|()| true),
        None => Ok(false),
    }
}

/// A log file that can be swapped for a fresh one at the same path.
struct LogFile {
    path: PathBuf,
    file: RwLock<File>,
}

impl LogFile {
    fn open(path: &Path) -> io::Result<LogFile> {
        Ok(LogFile {
            path: path.to_path_buf(),
            file: RwLock::new(open_append(path)?),
        })
    }

    fn reopen(&self) -> io::Result<()> {
        let fresh = open_append(&self.path)?;
        *self.file.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        Ok(())
    }
}

/// Where log lines go.
enum Sink {
    Stdout,
    Stderr,
    File(Arc<LogFile>),
}

impl Sink {
    /// Opens a destination: files append-only, created 0640 whatever the
    /// umask (New Relic's: 0666 less umask); the default tries the
    /// standard paths in order.
    fn open(dest: &LogDestination) -> Result<Sink, LogError> {
        match dest {
            LogDestination::Stdout => Ok(Sink::Stdout),
            LogDestination::Stderr => Ok(Sink::Stderr),
            LogDestination::File(path) => LogFile::open(path)
                .map(|f| Sink::File(Arc::new(f)))
                .map_err(|source| LogError::Open {
                    path: path.clone(),
                    source,
                }),
            LogDestination::Default => LogDestination::DEFAULT_PATHS
                .iter()
                .find_map(|p| LogFile::open(Path::new(p)).ok())
                .map(|f| Sink::File(Arc::new(f)))
                .ok_or(LogError::NoDefault),
        }
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    seraph_daemon::files::open_append(path, LOG_MODE)
}

/// The per-event writer handed out by [`Sink`].
enum SinkWriter<'a> {
    Stdout(io::Stdout),
    Stderr(io::Stderr),
    File(RwLockReadGuard<'a, File>),
}

impl Write for SinkWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            SinkWriter::Stdout(w) => w.write(buf),
            SinkWriter::Stderr(w) => w.write(buf),
            SinkWriter::File(w) => (&**w).write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            SinkWriter::Stdout(w) => w.write_all(buf),
            SinkWriter::Stderr(w) => w.write_all(buf),
            SinkWriter::File(w) => (&**w).write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            SinkWriter::Stdout(w) => w.flush(),
            SinkWriter::Stderr(w) => w.flush(),
            SinkWriter::File(w) => (&**w).flush(),
        }
    }
}

impl<'a> MakeWriter<'a> for Sink {
    type Writer = SinkWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        match self {
            Sink::Stdout => SinkWriter::Stdout(io::stdout()),
            Sink::Stderr => SinkWriter::Stderr(io::stderr()),
            Sink::File(f) => SinkWriter::File(f.file.read().unwrap_or_else(|p| p.into_inner())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    /// A `MakeWriter` collecting everything into a shared buffer.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'a self) -> Buffer {
            self.clone()
        }
    }

    fn capture(level: LogLevel, emit: impl FnOnce()) -> Vec<String> {
        let buf = Buffer::default();
        let subscriber = tracing_subscriber::registry().with(layer(buf.clone(), level));
        tracing::subscriber::with_default(subscriber, emit);
        let bytes = buf.0.lock().unwrap().clone();
        String::from_utf8(bytes)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn lines_have_new_relics_shape() {
        let lines = capture(LogLevel::Info, || {
            tracing::info!(port = 9000, "daemon listening");
        });
        assert_eq!(lines.len(), 1);
        let line = &lines[0];
        // "YYYY/MM/DD HH:MM:SS.micro (pid) Info: msg"
        let (date, rest) = line.split_once(' ').unwrap();
        let (time, rest) = rest.split_once(' ').unwrap();
        assert_eq!(date.len(), 10, "{line}");
        assert_eq!(&date[4..5], "/");
        assert_eq!(&date[7..8], "/");
        assert_eq!(time.len(), 15, "{line}");
        assert_eq!(&time[8..9], ".");
        let pid = format!("({})", std::process::id());
        assert_eq!(rest, format!("{pid} Info: daemon listening port=9000"));
    }

    #[test]
    fn level_words() {
        let lines = capture(LogLevel::Debug, || {
            tracing::error!("e");
            tracing::warn!("w");
            tracing::info!("i");
            tracing::debug!("d");
            tracing::trace!("t");
            tracing::info!(target: "healthcheck", "h");
        });
        let words: Vec<&str> = lines
            .iter()
            .map(|l| l.split(") ").nth(1).unwrap())
            .collect();
        assert_eq!(
            words,
            vec![
                "Error: e",
                "Warning: w",
                "Info: i",
                "Debug: d",
                "Debug: t",
                "HealthCheck: h"
            ]
        );
    }

    fn emit_all() {
        tracing::error!("error");
        tracing::warn!("warning");
        tracing::info!("info");
        tracing::info!(target: "healthcheck", "health");
        tracing::debug!("debug");
        tracing::trace!("trace");
    }

    fn messages(level: LogLevel) -> Vec<String> {
        capture(level, emit_all)
            .iter()
            .map(|l| l.rsplit(": ").next().unwrap().to_string())
            .collect()
    }

    #[test]
    fn filtering_follows_new_relic_levels() {
        assert_eq!(messages(LogLevel::Always), vec!["error"]);
        assert_eq!(messages(LogLevel::Error), vec!["error"]);
        assert_eq!(messages(LogLevel::Warning), vec!["error", "warning"]);
        assert_eq!(messages(LogLevel::Info), vec!["error", "warning", "info"]);
        assert_eq!(
            messages(LogLevel::HealthCheck),
            vec!["error", "warning", "info", "health"]
        );
        assert_eq!(
            messages(LogLevel::Debug),
            vec!["error", "warning", "info", "health", "debug", "trace"]
        );
    }

    #[test]
    fn utc_timestamps() {
        assert_eq!(timestamp(UNIX_EPOCH), "1970/01/01 00:00:00.000000");
        let t = UNIX_EPOCH + Duration::new(951_782_400 + 3_723, 456_789_000);
        assert_eq!(timestamp(t), "2000/02/29 01:02:03.456789");
        let t = UNIX_EPOCH + Duration::from_secs(1_798_761_599);
        assert_eq!(timestamp(t), "2026/12/31 23:59:59.000000");
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    }

    #[test]
    fn files_are_appended_and_created() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("daemon.log");
        std::fs::write(&path, "existing\n").unwrap();
        let sink = Sink::open(&LogDestination::File(path.clone())).unwrap();
        let subscriber = tracing_subscriber::registry().with(layer(sink, LogLevel::Info));
        tracing::subscriber::with_default(subscriber, || tracing::info!("appended"));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("existing\n"), "{text}");
        assert!(text.trim_end().ends_with("Info: appended"), "{text}");

        let missing = dir.path().join("no/such/dir.log");
        let err = Sink::open(&LogDestination::File(missing)).err().unwrap();
        assert!(err.to_string().contains("no/such/dir.log"), "{err}");
    }

    #[test]
    fn a_rotated_log_is_written_afresh_after_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("daemon.log");
        let Sink::File(file) = Sink::open(&LogDestination::File(path.clone())).unwrap() else {
            panic!("a file sink")
        };
        let sink = Sink::File(Arc::clone(&file));
        let subscriber = tracing_subscriber::registry().with(layer(sink, LogLevel::Info));
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("before");
            std::fs::rename(&path, dir.path().join("daemon.log.1")).unwrap();
            tracing::info!("still to the moved file");
            file.reopen().unwrap();
            tracing::info!("after");
        });
        let old = std::fs::read_to_string(dir.path().join("daemon.log.1")).unwrap();
        assert!(old.contains("before") && old.contains("still to the moved file"));
        let new = std::fs::read_to_string(&path).unwrap();
        assert!(new.contains("after") && !new.contains("before"), "{new}");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
    }

    #[test]
    fn default_location_error_names_the_directory() {
        assert!(LogError::NoDefault
            .to_string()
            .contains("/var/log/newrelic exists"));
    }
}
