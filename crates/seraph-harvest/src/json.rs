//! Byte-level JSON writing with New Relic's Go daemon's number formats.
//!
//! Payloads are assembled with a plain `Vec<u8>` writer rather than serde:
//! events arrive as finished JSON and are copied verbatim, and the numbers
//! must look exactly like the Go daemon's. Two float styles exist there:
//!
//! * metric data uses `strconv.AppendFloat(f, 'g', -1, 64)`: shortest
//!   round-trip digits, exponent form iff the decimal exponent of the first
//!   digit is `< -4` or `>= 6` (e.g. `6e+10`, `1e-05`, `100000`);
//! * values that went through Go's `encoding/json` (trace timestamps and
//!   durations, slow-SQL milliseconds) use fixed notation unless
//!   `|f| < 1e-6` or `|f| >= 1e21`, and the exponent loses its leading zero
//!   (`1e-7`, not `1e-07`).
//!
//! Both are derived from the shortest digits `ryu` produces, so only the
//! layout rules live here.

use std::fmt;

/// A NaN or infinity cannot be written as JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NonFinite;

impl fmt::Display for NonFinite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NaN or infinite value")
    }
}

impl std::error::Error for NonFinite {}

/// Shortest round-trip decimal digits of a finite float: the value is
/// `0.d1d2d3… × 10^dp` (Go's `decimalSlice` convention). Zero has no digits.
struct Digits {
    neg: bool,
    buf: [u8; 24],
    nd: usize,
    dp: i32,
}

impl Digits {
    fn digits(&self) -> &[u8] {
        &self.buf[..self.nd]
    }

    /// Parses `ryu`'s output, whatever layout it chose (`1.5`, `1e16`,
    /// `1.2345e-7`, `0.0001`), into digits and a decimal point position.
    fn from_ryu(text: &str) -> Self {
        let bytes = text.as_bytes();
        let (neg, rest) = match bytes.first() {
            Some(b'-') => (true, &bytes[1..]),
            _ => (false, bytes),
        };
        let (mantissa, exp) = match rest.iter().position(|&b| b == b'e' || b == b'E') {
            Some(i) => (&rest[..i], parse_exp(&rest[i + 1..])),
            None => (rest, 0),
        };
        let int_len = mantissa
            .iter()
            .position(|&b| b == b'.')
            .unwrap_or(mantissa.len());
        let mut out = Digits {
            neg,
            buf: [0; 24],
            nd: 0,
            dp: 0,
        };
        let mut leading = 0i32;
        for &b in mantissa.iter().filter(|b| b.is_ascii_digit()) {
            if out.nd == 0 && b == b'0' {
                leading += 1;
                continue;
            }
            if out.nd < out.buf.len() {
                out.buf[out.nd] = b;
                out.nd += 1;
            }
        }
        while out.nd > 0 && out.buf[out.nd - 1] == b'0' {
            out.nd -= 1;
        }
        if out.nd > 0 {
            out.dp = int_len as i32 + exp - leading;
        }
        out
    }

    fn of_f64(v: f64) -> Result<Self, NonFinite> {
        if !v.is_finite() {
            return Err(NonFinite);
        }
        let mut b = ryu::Buffer::new();
        Ok(Self::from_ryu(b.format_finite(v)))
    }

    fn of_f32(v: f32) -> Result<Self, NonFinite> {
        if !v.is_finite() {
            return Err(NonFinite);
        }
        let mut b = ryu::Buffer::new();
        Ok(Self::from_ryu(b.format_finite(v)))
    }

    /// Go's `%e` with all digits: `d[.ddd]e±XX` (at least two exponent digits).
    fn write_exp(&self, out: &mut Vec<u8>) {
        if self.neg {
            out.push(b'-');
        }
        let d = self.digits();
        out.push(d.first().copied().unwrap_or(b'0'));
        if d.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&d[1..]);
        }
        out.push(b'e');
        let exp = if d.is_empty() { 0 } else { self.dp - 1 };
        out.push(if exp < 0 { b'-' } else { b'+' });
        let exp = exp.unsigned_abs();
        if exp < 10 {
            out.push(b'0');
        }
        write_u64(out, u64::from(exp));
    }

    /// Go's `%f` with exactly the digits needed.
    fn write_fixed(&self, out: &mut Vec<u8>) {
        if self.neg {
            out.push(b'-');
        }
        let d = self.digits();
        let nd = d.len() as i32;
        if self.dp <= 0 {
            out.push(b'0');
            if nd > 0 {
                out.push(b'.');
                out.extend(std::iter::repeat_n(b'0', (-self.dp) as usize));
                out.extend_from_slice(d);
            }
        } else if self.dp >= nd {
            out.extend_from_slice(d);
            out.extend(std::iter::repeat_n(b'0', (self.dp - nd) as usize));
        } else {
            let dp = self.dp as usize;
            out.extend_from_slice(&d[..dp]);
            out.push(b'.');
            out.extend_from_slice(&d[dp..]);
        }
    }
}

fn parse_exp(b: &[u8]) -> i32 {
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    let mut v = 0i32;
    for &c in digits {
        v = v.saturating_mul(10).saturating_add(i32::from(c - b'0'));
    }
    if neg {
        -v
    } else {
        v
    }
}

/// Writes `v` like Go's `strconv.AppendFloat(buf, v, 'g', -1, 64)`.
pub fn write_go_g(out: &mut Vec<u8>, v: f64) -> Result<(), NonFinite> {
    let d = Digits::of_f64(v)?;
    let exp = if d.nd == 0 { -1 } else { d.dp - 1 };
    // Shortest 'g' decides with an exponent precision of 6.
    if !(-4..6).contains(&exp) {
        d.write_exp(out);
    } else {
        d.write_fixed(out);
    }
    Ok(())
}

/// Writes a float64 the way Go's `encoding/json` does.
pub fn write_json_f64(out: &mut Vec<u8>, v: f64) -> Result<(), NonFinite> {
    let d = Digits::of_f64(v)?;
    let abs = v.abs();
    write_json_digits(out, &d, abs != 0.0 && !(1e-6..1e21).contains(&abs));
    Ok(())
}

/// Writes a float32 the way Go's `encoding/json` does (shortest digits that
/// round-trip as a float32).
pub fn write_json_f32(out: &mut Vec<u8>, v: f32) -> Result<(), NonFinite> {
    let d = Digits::of_f32(v)?;
    let abs = v.abs();
    write_json_digits(out, &d, abs != 0.0 && !(1e-6..1e21).contains(&abs));
    Ok(())
}

fn write_json_digits(out: &mut Vec<u8>, d: &Digits, exponent: bool) {
    if !exponent {
        d.write_fixed(out);
        return;
    }
    let start = out.len();
    d.write_exp(out);
    // encoding/json turns `e-07` into `e-7`.
    let n = out.len();
    if n - start >= 4 && out[n - 4] == b'e' && out[n - 3] == b'-' && out[n - 2] == b'0' {
        out[n - 2] = out[n - 1];
        out.truncate(n - 1);
    }
}

/// Writes a decimal integer.
pub fn write_u64(out: &mut Vec<u8>, v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut v = v;
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// Writes a signed decimal integer.
pub fn write_i64(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    write_u64(out, v.unsigned_abs());
}

/// Writes `s` as a JSON string with the Go daemon's escaping: `"` and `\`,
/// control characters as `\u00XX` except `\n`, `\r`, `\t`, and U+2028/U+2029
/// escaped; everything else (including `/` and non-ASCII) verbatim.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let escape: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            0..=0x1f => None,
            // U+2028 / U+2029 are E2 80 A8 / E2 80 A9.
            0xe2 if bytes.get(i + 1) == Some(&0x80)
                && matches!(bytes.get(i + 2), Some(0xa8) | Some(0xa9)) =>
            {
                out.extend_from_slice(&bytes[start..i]);
                out.extend_from_slice(if bytes[i + 2] == 0xa8 {
                    b"\\u2028"
                } else {
                    b"\\u2029"
                });
                i += 3;
                start = i;
                continue;
            }
            _ => {
                i += 1;
                continue;
            }
        };
        out.extend_from_slice(&bytes[start..i]);
        match escape {
            Some(e) => out.extend_from_slice(e),
            None => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
            }
        }
        i += 1;
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(v: f64) -> String {
        let mut out = Vec::new();
        write_go_g(&mut out, v).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn j64(v: f64) -> String {
        let mut out = Vec::new();
        write_json_f64(&mut out, v).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn j32(v: f32) -> String {
        let mut out = Vec::new();
        write_json_f32(&mut out, v).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// Expected strings are what Go's `strconv.FormatFloat(v, 'g', -1, 64)`
    /// returns (shortest digits; `%e` iff exp < -4 || exp >= 6).
    #[test]
    fn go_g_matches_strconv() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "-0"),
            (1.0, "1"),
            (-1.0, "-1"),
            (0.5, "0.5"),
            (1.5, "1.5"),
            (2.75, "2.75"),
            (10.0, "10"),
            (100000.0, "100000"),
            (999999.0, "999999"),
            (1e6, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (123456789.0, "1.23456789e+08"),
            (6e10, "6e+10"),
            (1e21, "1e+21"),
            (1e100, "1e+100"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (0.0001, "0.0001"),
            (0.00012, "0.00012"),
            (0.00001, "1e-05"),
            (0.000012, "1.2e-05"),
            (3e-06, "3e-06"),
            (1.6e-10, "1.6e-10"),
            (5e-324, "5e-324"),
            (2.2250738585072014e-308, "2.2250738585072014e-308"),
            (0.1 + 0.2, "0.30000000000000004"),
            (0.171957, "0.171957"),
            (0.029569209849, "0.029569209849"),
            (18.589843, "18.589843"),
            (345.582262764649, "345.582262764649"),
            (1_679_616.0, "1.679616e+06"),
            (1_982_464.0, "1.982464e+06"),
            (1296.0, "1296"),
            (60_000_000_000.0, "6e+10"),
            (123456.7, "123456.7"),
            (1234567.8, "1.2345678e+06"),
            (-0.00001234, "-1.234e-05"),
            (9007199254740993.0, "9.007199254740992e+15"),
        ];
        for &(v, want) in cases {
            assert_eq!(g(v), want, "formatting {v:e}");
        }
    }

    #[test]
    fn non_finite_is_an_error() {
        let mut out = Vec::new();
        assert_eq!(write_go_g(&mut out, f64::NAN), Err(NonFinite));
        assert_eq!(write_go_g(&mut out, f64::INFINITY), Err(NonFinite));
        assert_eq!(write_json_f64(&mut out, f64::NEG_INFINITY), Err(NonFinite));
        assert_eq!(write_json_f32(&mut out, f32::NAN), Err(NonFinite));
        assert!(out.is_empty());
    }

    /// `encoding/json` float64: fixed unless |v| < 1e-6 or >= 1e21.
    #[test]
    fn json_f64_matches_encoding_json() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (1.0, "1"),
            (171.957, "171.957"),
            (1795424127907.174, "1795424127907.174"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (0.000001, "0.000001"),
            (0.0000001, "1e-7"),
            (1.5e-10, "1.5e-10"),
            (-2.5, "-2.5"),
        ];
        for &(v, want) in cases {
            assert_eq!(j64(v), want);
        }
    }

    /// `encoding/json` float32 after Go's `float32(micros) / 1000`.
    #[test]
    fn json_f32_matches_encoding_json() {
        let ms = |micros: u64| j32(micros as f32 / 1000.0);
        assert_eq!(ms(78643), "78.643");
        assert_eq!(ms(91988), "91.988");
        assert_eq!(ms(0), "0");
        assert_eq!(ms(1), "0.001");
        assert_eq!(ms(123_456_789), "123456.79");
        assert_eq!(j32(1e-7), "1e-7");
        assert_eq!(j32(0.1), "0.1");
    }

    #[test]
    fn strings_are_escaped_like_the_go_daemon() {
        let s = |v: &str| {
            let mut out = Vec::new();
            write_str(&mut out, v);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(s("plain/path"), r#""plain/path""#);
        assert_eq!(s("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(s("\t\n\r"), r#""\t\n\r""#);
        assert_eq!(s("\u{0}\u{8}\u{c}\u{1f}"), r#""\u0000\u0008\u000c\u001f""#);
        assert_eq!(
            s("the\u{2028}quick\u{2029}fox"),
            r#""the\u2028quick\u2029fox""#
        );
        assert_eq!(s("<é>&€"), "\"<é>&€\"");
    }

    #[test]
    fn integers() {
        let mut out = Vec::new();
        write_u64(&mut out, 0);
        out.push(b' ');
        write_u64(&mut out, u64::MAX);
        out.push(b' ');
        write_i64(&mut out, i64::MIN);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "0 18446744073709551615 -9223372036854775808"
        );
    }
}
