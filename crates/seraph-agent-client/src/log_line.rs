//! The agent log's line format, shared by the PHP extension's log and the
//! C SDK library's (each keeps its own level filter and sink):
//! `YYYY-MM-DD HH:MM:SS.mmm +0000 (<ids>) <level>: <message> k=v…`, where
//! `<ids>` is what the caller names its process and thread by.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};
use tracing::field::{Field, Visit};
use tracing::Event;

/// One log line for `event`, newline included, written as one `write` by
/// the caller so that lines from many processes or threads never
/// interleave.
pub fn format_line(ids: &str, level: &str, event: &Event<'_>) -> String {
    let mut message = Message(String::new());
    event.record(&mut message);
    format!(
        "{} ({ids}) {level}: {}\n",
        format_time(SystemTime::now()),
        message.0
    )
}

/// Formats a unix time as `YYYY-MM-DD HH:MM:SS.mmm +0000` (UTC).
pub fn format_time(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}.{:03} +0000",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60,
        d.subsec_millis()
    )
}

/// The event's message, then its other fields as ` name=value`.
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn time_format() {
        let t = UNIX_EPOCH + Duration::from_millis(1_795_424_121_330);
        assert_eq!(format_time(t), "2026-11-23 08:55:21.330 +0000");
        assert_eq!(format_time(UNIX_EPOCH), "1970-01-01 00:00:00.000 +0000");
    }
}
