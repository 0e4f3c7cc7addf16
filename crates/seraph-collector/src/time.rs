//! Calendar arithmetic for the two places that need wall-clock text:
//! `Retry-After` HTTP dates and the audit log's timestamps. Small enough
//! not to pull in a date crate; all in UTC.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];

/// `YYYY/MM/DD HH:MM:SS.micro` in UTC: the daemon log's timestamp layout.
pub fn log_timestamp(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs() as i64;
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    format!(
        "{y:04}/{mo:02}/{d:02} {:02}:{:02}:{:02}.{:06}",
        sod / 3600,
        sod / 60 % 60,
        sod % 60,
        since.subsec_micros()
    )
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), as HTTP headers carry.
pub fn http_date(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() as i64;
    let days = secs.div_euclid(86_400);
    let (y, mo, d) = civil_from_days(days);
    let sod = secs.rem_euclid(86_400);
    format!(
        "{}, {d:02} {} {y:04} {:02}:{:02}:{:02} GMT",
        WEEKDAYS[days.rem_euclid(7) as usize],
        MONTHS[(mo - 1) as usize],
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    )
}

/// Parses an HTTP date in any of the three forms RFC 9110 requires a
/// recipient to accept (IMF-fixdate, RFC 850, asctime). The weekday is not
/// checked.
pub fn parse_http_date(s: &str) -> Option<SystemTime> {
    let toks: Vec<&str> = s
        .split([' ', ',', '-', ':'])
        .filter(|t| !t.is_empty())
        .collect();
    let month = |t: &str| MONTHS.iter().position(|m| m.eq_ignore_ascii_case(t));
    let num = |t: &str| -> Option<u32> {
        if t.is_empty() || t.len() > 4 || !t.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    };
    let (year, mon, day, h, m, sec) = match toks.as_slice() {
        // Sun, 06 Nov 1994 08:49:37 GMT  /  Sunday, 06-Nov-94 08:49:37 GMT
        [_, d, mo, y, h, mi, s, tz] if tz.eq_ignore_ascii_case("GMT") => {
            let mut y = num(y)?;
            if y < 100 {
                y += if y < 70 { 2000 } else { 1900 };
            }
            (y, month(mo)?, num(d)?, num(h)?, num(mi)?, num(s)?)
        }
        // Sun Nov  6 08:49:37 1994
        [_, mo, d, h, mi, s, y] => (num(y)?, month(mo)?, num(d)?, num(h)?, num(mi)?, num(s)?),
        _ => return None,
    };
    if !(1..=31).contains(&day) || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    let days = days_from_civil(i64::from(year), mon as u32 + 1, day);
    let secs = days * 86_400 + i64::from(h * 3600 + m * 60 + sec);
    let secs = u64::try_from(secs).ok()?;
    Some(UNIX_EPOCH + Duration::from_secs(secs))
}

/// Parses a `Retry-After` value: delay seconds, or an HTTP date (a date in
/// the past means "now").
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        // Absurdly long numbers saturate rather than fail.
        return Some(Duration::from_secs(v.parse().unwrap_or(u64::MAX)));
    }
    let when = parse_http_date(v)?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_round_trips() {
        for days in [
            -800_000_i64,
            -1,
            0,
            1,
            59,
            365,
            10_957,
            11_016,
            20_000,
            2_932_896,
        ] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn http_dates() {
        let t = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(http_date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
        for s in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(parse_http_date(s), Some(t), "{s}");
        }
        for bad in [
            "",
            "yesterday",
            "Sun, 06 Nov 1994 08:49:37 CET",
            "Sun, 32 Nov 1994 08:49:37 GMT",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad}");
        }
        let now = SystemTime::now();
        let later = now + Duration::from_secs(90);
        assert_eq!(
            parse_http_date(&http_date(later)).map(|t| t <= later),
            Some(true)
        );
    }

    #[test]
    fn retry_after_forms() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("-5", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn log_timestamps() {
        let t = UNIX_EPOCH + Duration::from_micros(784_111_777_000_042);
        assert_eq!(log_timestamp(t), "1994/11/06 08:49:37.000042");
    }
}
