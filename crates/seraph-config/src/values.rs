//! Scalar value syntax shared by `newrelic.cfg`, `--define` and the flags.
//!
//! New Relic's daemon is written in Go and reads values with Go's `strconv`
//! and `time` packages, so a configuration that works there must read the
//! same here: booleans are `strconv.ParseBool` plus `y/yes/on/n/no/off`,
//! integers take Go's base prefixes, durations take Go's unit syntax (a bare
//! number meaning milliseconds, as the daemon's timeout type does).
//!
//! Every parser returns the reason as a plain `String`; the caller knows the
//! key and where the value came from and wraps both around it.

use std::fmt;
use std::time::Duration;

/// Parses a boolean as the daemon does: case-insensitive `y`, `yes`, `on`,
/// `n`, `no`, `off`, or anything Go's `strconv.ParseBool` accepts
/// (`1`, `t`, `true`, `0`, `f`, `false`).
pub fn parse_bool(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "y" | "yes" | "on" | "1" | "t" | "true" => Ok(true),
        "n" | "no" | "off" | "0" | "f" | "false" => Ok(false),
        _ => Err("expected a boolean (yes/no, on/off, true/false, 1/0)".to_string()),
    }
}

/// Parses a signed integer with Go's base-0 rules: optional sign, then
/// `0x`/`0o`/`0b` prefixes, a leading `0` meaning octal, `_` between digits.
pub fn parse_int(value: &str) -> Result<i64, String> {
    let (negative, rest) = match value.as_bytes().first() {
        Some(b'-') => (true, &value[1..]),
        Some(b'+') => (false, &value[1..]),
        _ => (false, value),
    };
    let magnitude = parse_magnitude(rest).ok_or_else(|| "expected an integer".to_string())?;
    if negative {
        if magnitude <= i64::MAX as u64 + 1 {
            Ok((magnitude as i64).wrapping_neg())
        } else {
            Err("integer out of range".to_string())
        }
    } else {
        i64::try_from(magnitude).map_err(|_| "integer out of range".to_string())
    }
}

/// Parses a non-negative integer with Go's base-0 rules (no sign allowed,
/// as with `strconv.ParseUint`).
pub fn parse_uint(value: &str) -> Result<u64, String> {
    parse_magnitude(value).ok_or_else(|| "expected a non-negative integer".to_string())
}

/// The digits of an integer literal after its sign. `None` on any syntax
/// error or overflow of `u64`.
fn parse_magnitude(s: &str) -> Option<u64> {
    let lower = s.to_ascii_lowercase();
    let (radix, digits, prefixed) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d, true)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d, true)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d, true)
    } else if lower.len() > 1 && lower.starts_with('0') {
        // Go keeps the leading zero as an octal digit, so "0_7" is legal.
        (8, lower.as_str(), false)
    } else {
        (10, lower.as_str(), false)
    };
    if digits.is_empty() || !underscores_ok(digits, prefixed) {
        return None;
    }
    let mut acc: u64 = 0;
    let mut seen_digit = false;
    for ch in digits.chars() {
        if ch == '_' {
            continue;
        }
        let d = ch.to_digit(radix)?;
        acc = acc
            .checked_mul(u64::from(radix))?
            .checked_add(u64::from(d))?;
        seen_digit = true;
    }
    seen_digit.then_some(acc)
}

/// Go's literal rule: `_` only between two digits, or right after a base
/// prefix and before a digit.
fn underscores_ok(digits: &str, prefixed: bool) -> bool {
    let bytes = digits.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b != b'_' {
            continue;
        }
        let before_ok = if i == 0 {
            prefixed
        } else {
            bytes[i - 1] != b'_'
        };
        let after_ok = bytes.get(i + 1).is_some_and(|&n| n != b'_');
        if !before_ok || !after_ok {
            return false;
        }
    }
    true
}

/// A Go `time.Duration`: signed nanoseconds. Kept signed because some keys
/// give negative values a meaning (`app_timeout` falls back to its default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct GoDuration(pub i64);

impl GoDuration {
    /// The magnitude as a `Duration`, or `None` when negative.
    pub fn to_std(self) -> Option<Duration> {
        u64::try_from(self.0).ok().map(Duration::from_nanos)
    }
}

impl fmt::Display for GoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let abs = Duration::from_nanos(self.0.unsigned_abs());
        let sign = if self.0 < 0 { "-" } else { "" };
        write!(f, "{sign}{abs:?}")
    }
}

/// Parses a duration in Go syntax (`1h30m`, `250ms`, `1.5s`, `-2m`). As in
/// New Relic's daemon, a value ending in a digit gets `ms` appended, so a
/// bare number is milliseconds (and `1h30` is one hour and 30 ms). An empty
/// value is an error.
pub fn parse_duration(value: &str) -> Result<GoDuration, String> {
    if value.is_empty() {
        return Err("expected a duration such as 500ms, 3s or 10m (empty value)".to_string());
    }
    let owned;
    let text = if value.ends_with(|c: char| c.is_ascii_digit()) {
        owned = format!("{value}ms");
        owned.as_str()
    } else {
        value
    };
    parse_go_duration(text).ok_or_else(|| {
        "expected a duration such as 500ms, 3s or 10m (units ns, us, ms, s, m, h)".to_string()
    })
}

/// Go's `time.ParseDuration`, returning `None` on any error.
fn parse_go_duration(s: &str) -> Option<GoDuration> {
    let (negative, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(GoDuration(0));
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let int_part = &rest[..int_len];
        rest = &rest[int_len..];
        let mut frac_part = "";
        if let Some(after_dot) = rest.strip_prefix('.') {
            let frac_len = after_dot.bytes().take_while(u8::is_ascii_digit).count();
            frac_part = &after_dot[..frac_len];
            rest = &after_dot[frac_len..];
        }
        if int_part.is_empty() && frac_part.is_empty() {
            return None;
        }
        let unit_len = rest
            .char_indices()
            .find(|&(_, c)| c == '.' || c.is_ascii_digit())
            .map_or(rest.len(), |(i, _)| i);
        let unit: u128 = match &rest[..unit_len] {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60 * 1_000_000_000,
            "h" => 3_600 * 1_000_000_000,
            _ => return None,
        };
        rest = &rest[unit_len..];
        let whole: u128 = if int_part.is_empty() {
            0
        } else {
            // Longer than any i64 nanosecond count: overflow.
            if int_part.len() > 20 {
                return None;
            }
            int_part.parse().ok()?
        };
        let mut component = whole.checked_mul(unit)?;
        if !frac_part.is_empty() {
            // Only the digits that can still matter at nanosecond scale.
            let digits = &frac_part[..frac_part.len().min(18)];
            let frac: u128 = digits.parse().ok()?;
            component += frac * unit / 10u128.pow(digits.len() as u32);
        }
        total = total.checked_add(component)?;
        if total > i64::MAX as u128 + 1 {
            return None;
        }
    }
    if negative {
        Some(GoDuration((total as i128).wrapping_neg() as i64))
    } else {
        i64::try_from(total).ok().map(GoDuration)
    }
}

/// New Relic's daemon log levels, least verbose first. `HealthCheck` is
/// *more* verbose than `Info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum LogLevel {
    /// Only messages that must always appear.
    Always,
    /// Errors.
    Error,
    /// Errors and warnings.
    Warning,
    /// The default.
    #[default]
    Info,
    /// Info plus periodic health-check lines.
    HealthCheck,
    /// Everything (`debug`, `verbose`, `verbosedebug`).
    Debug,
}

impl LogLevel {
    /// Parses a level in the Axiom syntax the daemon still accepts:
    /// clauses separated by `,` or `;`, each `level` or `subsystem=level`.
    /// A clause for `all`/`*` (or without a subsystem) sets the level; any
    /// other subsystem can only make it more verbose. Empty → `Info`.
    pub fn parse(value: &str) -> Result<LogLevel, String> {
        let mut level = LogLevel::Info;
        for clause in value.split([',', ';']).filter(|c| !c.is_empty()) {
            let (subsystem, name) = match clause.split_once('=') {
                Some((sub, name)) => (sub, name),
                None => ("all", clause),
            };
            let parsed = LogLevel::parse_one(name)?;
            if subsystem.eq_ignore_ascii_case("all") || subsystem == "*" {
                level = parsed;
            } else {
                level = level.max(parsed);
            }
        }
        Ok(level)
    }

    fn parse_one(name: &str) -> Result<LogLevel, String> {
        match name.to_ascii_lowercase().as_str() {
            "always" => Ok(LogLevel::Always),
            "error" => Ok(LogLevel::Error),
            "warning" => Ok(LogLevel::Warning),
            "info" | "" => Ok(LogLevel::Info),
            "healthcheck" => Ok(LogLevel::HealthCheck),
            "debug" | "verbose" | "verbosedebug" => Ok(LogLevel::Debug),
            _ => Err(format!(
                "unknown log level {name:?} (expected error, warning, info, healthcheck or debug)"
            )),
        }
    }

    /// The name New Relic prints in log lines (`Info`, `HealthCheck`...).
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Always => "Always",
            LogLevel::Error => "Error",
            LogLevel::Warning => "Warning",
            LogLevel::Info => "Info",
            LogLevel::HealthCheck => "HealthCheck",
            LogLevel::Debug => "Debug",
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bools_accept_go_and_word_forms_case_insensitively() {
        for yes in [
            "y", "YES", "On", "1", "t", "T", "true", "TRUE", "True", "tRuE",
        ] {
            assert_eq!(parse_bool(yes), Ok(true), "{yes}");
        }
        for no in ["n", "No", "OFF", "0", "f", "F", "false", "FALSE", "False"] {
            assert_eq!(parse_bool(no), Ok(false), "{no}");
        }
        for bad in ["", "2", "yess", "enabled", " yes"] {
            assert!(parse_bool(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ints_take_go_prefixes() {
        assert_eq!(parse_int("42"), Ok(42));
        assert_eq!(parse_int("-42"), Ok(-42));
        assert_eq!(parse_int("+7"), Ok(7));
        assert_eq!(parse_int("0x1F"), Ok(31));
        assert_eq!(parse_int("0X1f"), Ok(31));
        assert_eq!(parse_int("010"), Ok(8));
        assert_eq!(parse_int("0o17"), Ok(15));
        assert_eq!(parse_int("0b101"), Ok(5));
        assert_eq!(parse_int("0"), Ok(0));
        assert_eq!(parse_int("1_000"), Ok(1000));
        assert_eq!(parse_int("0x_ff"), Ok(255));
        assert_eq!(parse_int("0_7"), Ok(7));
        assert_eq!(parse_int("-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(parse_int("9223372036854775807"), Ok(i64::MAX));
    }

    #[test]
    fn bad_ints_are_rejected() {
        for bad in [
            "",
            "-",
            "0x",
            "08",
            "1__0",
            "_1",
            "1_",
            "12a",
            "1.5",
            " 1",
            "9223372036854775808",
            "0b2",
            "--1",
        ] {
            assert!(parse_int(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn uints_reject_signs() {
        assert_eq!(parse_uint("2048"), Ok(2048));
        assert_eq!(parse_uint("0x800"), Ok(2048));
        assert_eq!(parse_uint("18446744073709551615"), Ok(u64::MAX));
        assert!(parse_uint("-1").is_err());
        assert!(parse_uint("+1").is_err());
        assert!(parse_uint("18446744073709551616").is_err());
    }

    fn dur(s: &str) -> i64 {
        parse_duration(s).unwrap_or_else(|e| panic!("{s}: {e}")).0
    }

    #[test]
    fn durations_take_go_units() {
        const MS: i64 = 1_000_000;
        const S: i64 = 1_000 * MS;
        assert_eq!(dur("3s"), 3 * S);
        assert_eq!(dur("10m"), 600 * S);
        assert_eq!(dur("1h30m"), 5400 * S);
        assert_eq!(dur("250ms"), 250 * MS);
        assert_eq!(dur("1.5s"), 1500 * MS);
        assert_eq!(dur(".5s"), 500 * MS);
        assert_eq!(dur("1.s"), S);
        assert_eq!(dur("2us"), 2_000);
        assert_eq!(dur("2\u{b5}s"), 2_000);
        assert_eq!(dur("2\u{3bc}s"), 2_000);
        assert_eq!(dur("7ns"), 7);
        assert_eq!(dur("-2m"), -120 * S);
        assert_eq!(dur("+2m"), 120 * S);
        assert_eq!(dur("0s"), 0);
        assert_eq!(dur("2562047h47m16.854775807s"), i64::MAX);
    }

    #[test]
    fn bare_numbers_are_milliseconds() {
        assert_eq!(dur("0"), 0);
        assert_eq!(dur("500"), 500_000_000);
        assert_eq!(dur("-5"), -5_000_000);
        assert_eq!(dur("1.5"), 1_500_000);
        // Go's quirk, kept: the trailing number alone gets the ms unit.
        assert_eq!(dur("1h30"), 3_600_000_000_000 + 30_000_000);
    }

    #[test]
    fn bad_durations_are_rejected() {
        for bad in [
            "",
            "s",
            "3x",
            "3 s",
            "1h 30m",
            "-",
            ".s",
            "3S",
            "3sec",
            "1e3s",
            "2562047h47m16.854775808s",
            "99999999999999999999999h",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn duration_display_is_readable() {
        assert_eq!(GoDuration(3_000_000_000).to_string(), "3s");
        assert_eq!(GoDuration(-1_500_000).to_string(), "-1.5ms");
        assert_eq!(GoDuration(-1).to_std(), None);
        assert_eq!(GoDuration(5).to_std(), Some(Duration::from_nanos(5)));
    }

    #[test]
    fn log_levels_parse_all_names() {
        assert_eq!(LogLevel::parse("always"), Ok(LogLevel::Always));
        assert_eq!(LogLevel::parse("Error"), Ok(LogLevel::Error));
        assert_eq!(LogLevel::parse("warning"), Ok(LogLevel::Warning));
        assert_eq!(LogLevel::parse("info"), Ok(LogLevel::Info));
        assert_eq!(LogLevel::parse(""), Ok(LogLevel::Info));
        assert_eq!(LogLevel::parse("healthcheck"), Ok(LogLevel::HealthCheck));
        assert_eq!(LogLevel::parse("debug"), Ok(LogLevel::Debug));
        assert_eq!(LogLevel::parse("verbose"), Ok(LogLevel::Debug));
        assert_eq!(LogLevel::parse("verbosedebug"), Ok(LogLevel::Debug));
        assert!(LogLevel::parse("trace").is_err());
        assert!(LogLevel::parse("net=loud").is_err());
    }

    #[test]
    fn axiom_subsystems_only_raise_verbosity() {
        assert_eq!(LogLevel::parse("error,net=debug"), Ok(LogLevel::Debug));
        assert_eq!(LogLevel::parse("debug,net=error"), Ok(LogLevel::Debug));
        assert_eq!(LogLevel::parse("net=warning"), Ok(LogLevel::Info));
        assert_eq!(LogLevel::parse("net=debug,all=error"), Ok(LogLevel::Error));
        assert_eq!(LogLevel::parse("*=warning;net=info"), Ok(LogLevel::Info));
        assert_eq!(LogLevel::parse(",,"), Ok(LogLevel::Info));
        assert!(LogLevel::Info < LogLevel::HealthCheck);
    }
}
