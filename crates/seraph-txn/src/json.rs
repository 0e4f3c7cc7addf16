//! A tiny JSON writer that reproduces the New Relic agent's own encoder byte
//! for byte: `/` is escaped as `\/`, every non-ASCII character becomes a
//! `\uXXXX` escape (surrogate pairs above the BMP), doubles are printed with
//! exactly five decimals, and objects keep the order keys were written in.
//!
//! serde_json cannot be configured to do any of these, and the collector and
//! the integration tests compare the agent's strings as they are, so the
//! output has to be built by hand.

use std::fmt::Write as _;

/// Whether a byte can be copied into a JSON string as it is: printable
/// ASCII other than `"`, `\\` and `/` (the agent escapes `/`).
#[inline]
fn plain(b: u8) -> bool {
    (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\' && b != b'/'
}

/// Whether none of 8 bytes needs escaping (a bit-parallel [`plain`]: no
/// byte below 0x20 or above 0x7e, and no `"`, `\\` or `/`). May answer
/// `false` for a plain chunk after a byte of 0xff, never `true` wrongly.
#[inline]
fn chunk_plain(x: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH != 0;
    let below_space = x.wrapping_sub(ONES * 0x20) & !x & HIGH != 0;
    let del_or_high = (x | x.wrapping_add(ONES)) & HIGH != 0;
    !(below_space
        || del_or_high
        || has_zero(x ^ (ONES * u64::from(b'"')))
        || has_zero(x ^ (ONES * u64::from(b'\\')))
        || has_zero(x ^ (ONES * u64::from(b'/'))))
}

/// The length of the plain (copyable) start of `bytes`, 8 bytes at a time.
fn plain_prefix(bytes: &[u8]) -> usize {
    let mut i = 0;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        if !chunk_plain(u64::from_le_bytes(word)) {
            break;
        }
        i += 8;
    }
    while i < bytes.len() && plain(bytes[i]) {
        i += 1;
    }
    i
}

/// Appends `s` as a quoted, escaped JSON string. Runs of plain ASCII are
/// copied whole: the end of every transaction writes thousands of span
/// names and attribute values, nearly all of them plain.
pub fn push_str(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let run = plain_prefix(&bytes[i..]);
        if run > 0 {
            // `i` and `i + run` are on char boundaries: plain bytes are ASCII.
            out.push_str(&s[i..i + run]);
            i += run;
            continue;
        }
        // A byte that needs escaping starts a char here.
        let c = s[i..].chars().next().unwrap_or_default();
        i += c.len_utf8().max(1);
        push_escaped(out, c);
    }
    out.push('"');
}

/// Appends one char that [`plain`] does not pass, escaped.
fn push_escaped(out: &mut String, c: char) {
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        '/' => out.push_str("\\/"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        c if (c as u32) < 0x20 || c as u32 == 0x7f => push_u_escape(out, c as u32 as u16),
        c if (c as u32) < 0x80 => out.push(c),
        c => {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                push_u_escape(out, *unit);
            }
        }
    }
}

/// `\\uXXXX` with lowercase hex digits.
fn push_u_escape(out: &mut String, unit: u16) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push_str("\\u");
    for shift in [12, 8, 4, 0] {
        out.push(char::from(HEX[usize::from((unit >> shift) & 0xf)]));
    }
}

/// Appends a double the way the agent prints it inside event JSON: `%.5f`.
/// Non-finite values cannot be represented in JSON; they become `0.00000`
/// (attribute validation rejects them before they get here).
///
/// Exact decimal formatting (`{:.5}`) costs about a thousand instructions;
/// every span has two doubles, so the common case takes a shortcut that
/// gives the same digits: `v * 1e5` is rounded to an integer, which is the
/// correctly rounded result unless the exact product lies so close to a
/// half that the multiplication's own rounding could have moved it across
/// (then, and for negative or huge values, the exact formatter runs).
pub fn push_f64(out: &mut String, v: f64) {
    let v = if v.is_finite() { v } else { 0.0 };
    if v.is_sign_positive() {
        let scaled = v * 100_000.0;
        // Below 2^51 the product's rounding error (half an ulp) is under
        // 1/4, and `scaled - floor` is exact.
        if scaled < (1u64 << 51) as f64 {
            let frac = scaled - scaled.floor();
            // An ulp of `scaled` is at most scaled * 2^-52; keep clear of
            // the half by more than that.
            if (frac - 0.5).abs() > scaled * 2.3e-16 + f64::MIN_POSITIVE {
                let n = scaled.round() as u64;
                push_u64(out, n / 100_000);
                out.push('.');
                let frac_digits = n % 100_000;
                let mut buf = [b'0'; 5];
                let mut f = frac_digits;
                for slot in buf.iter_mut().rev() {
                    *slot = b'0' + (f % 10) as u8;
                    f /= 10;
                }
                out.push_str(std::str::from_utf8(&buf).unwrap_or("00000"));
                return;
            }
        }
    }
    let _ = write!(out, "{v:.5}");
}

/// Appends an integer.
pub fn push_i64(out: &mut String, v: i64) {
    if v < 0 {
        out.push('-');
    }
    push_u64(out, v.unsigned_abs());
}

/// Appends an unsigned integer (without the formatting machinery, which
/// costs several times more for the many timestamps and ids written).
pub fn push_u64(out: &mut String, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(&buf[i..]).unwrap_or("0"));
}

/// Appends `true` or `false`.
pub fn push_bool(out: &mut String, v: bool) {
    out.push_str(if v { "true" } else { "false" });
}

/// An object being written into a string; close it with [`Obj::end`].
pub struct Obj<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> Obj<'a> {
    /// Writes `{` and returns the writer.
    pub fn begin(out: &'a mut String) -> Self {
        out.push('{');
        Obj { out, first: true }
    }

    /// Continues an object whose `{` and first members the caller wrote
    /// (span events write their fixed members as precomputed text).
    pub fn resume(out: &'a mut String) -> Self {
        Obj { out, first: false }
    }

    /// Writes the key and returns the buffer positioned for the value.
    pub fn key(&mut self, k: &str) -> &mut String {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        push_str(self.out, k);
        self.out.push(':');
        self.out
    }

    /// A string member.
    pub fn str(&mut self, k: &str, v: &str) -> &mut Self {
        push_str(self.key(k), v);
        self
    }

    /// A double member (`%.5f`).
    pub fn f64(&mut self, k: &str, v: f64) -> &mut Self {
        push_f64(self.key(k), v);
        self
    }

    /// An integer member.
    pub fn i64(&mut self, k: &str, v: i64) -> &mut Self {
        push_i64(self.key(k), v);
        self
    }

    /// An unsigned integer member.
    pub fn u64(&mut self, k: &str, v: u64) -> &mut Self {
        push_u64(self.key(k), v);
        self
    }

    /// A boolean member.
    pub fn bool(&mut self, k: &str, v: bool) -> &mut Self {
        push_bool(self.key(k), v);
        self
    }

    /// A member whose value is already JSON.
    pub fn raw(&mut self, k: &str, json: &str) -> &mut Self {
        self.key(k).push_str(json);
        self
    }

    /// Whether nothing has been written yet.
    pub fn is_empty(&self) -> bool {
        self.first
    }

    /// Writes `}`.
    pub fn end(self) {
        self.out.push('}');
    }
}

/// A JSON array of strings, as used for stack traces and backtraces.
pub fn string_array(items: &[String]) -> String {
    let mut out = String::with_capacity(items.iter().map(|s| s.len() + 3).sum::<usize>() + 2);
    out.push('[');
    for (i, s) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_str(&mut out, s);
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> String {
        let mut out = String::new();
        push_str(&mut out, v);
        out
    }

    #[test]
    fn slashes_and_controls_are_escaped_like_the_agent() {
        assert_eq!(s("a/b"), r#""a\/b""#);
        assert_eq!(s("q\"\\"), r#""q\"\\""#);
        assert_eq!(s("\n\r\t\u{8}\u{c}"), r#""\n\r\t\b\f""#);
        assert_eq!(s("\u{1}\u{7f}"), r#""\u0001\u007f""#);
    }

    #[test]
    fn non_ascii_becomes_lowercase_unicode_escapes() {
        assert_eq!(s("é"), r#""\u00e9""#);
        assert_eq!(s("€"), r#""\u20ac""#);
        assert_eq!(s("😂"), r#""\ud83d\ude02""#);
    }

    #[test]
    fn doubles_have_five_decimals() {
        let mut out = String::new();
        push_f64(&mut out, 0.25);
        out.push(' ');
        push_f64(&mut out, 0.020_704);
        out.push(' ');
        push_f64(&mut out, 1_795_424_121.330_884);
        out.push(' ');
        push_f64(&mut out, f64::NAN);
        assert_eq!(out, "0.25000 0.02070 1795424121.33088 0.00000");
    }

    #[test]
    fn the_double_shortcut_prints_what_the_exact_formatter_prints() {
        // Deterministic values of every magnitude the agent writes
        // (durations, priorities, timestamps), ties and near-ties included.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut values = vec![
            0.0, -0.0, 0.000_005, 0.000_015, 0.5, 1.234_565, 2.5e-6, 1e15, 4.5e15,
        ];
        for us in 0..20_000u64 {
            values.push(us as f64 / 1e6);
            values.push(us as f64 / 1e3);
        }
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mantissa = (x >> 11) as f64 / (1u64 << 53) as f64;
            let exp = (x % 40) as i32 - 20;
            values.push(mantissa * 10f64.powi(exp));
            values.push(-mantissa);
            values.push(1.7e9 + mantissa * 1e6);
        }
        for v in values {
            let mut out = String::new();
            push_f64(&mut out, v);
            assert_eq!(out, format!("{v:.5}"), "{v:e}");
        }
    }

    #[test]
    fn integers_print_as_the_formatter_does() {
        for v in [
            0i64,
            7,
            -7,
            10,
            99,
            100,
            i64::MIN,
            i64::MAX,
            1_700_000_000_000,
        ] {
            let mut out = String::new();
            push_i64(&mut out, v);
            assert_eq!(out, v.to_string());
        }
        let mut out = String::new();
        push_u64(&mut out, u64::MAX);
        assert_eq!(out, u64::MAX.to_string());
    }

    #[test]
    fn the_chunked_scan_agrees_with_the_byte_test() {
        // Every byte value at every position of 8- to 17-byte strings.
        for len in 8..18 {
            for pos in 0..len {
                for b in 0..=255u8 {
                    let mut bytes = vec![b'a'; len];
                    bytes[pos] = b;
                    let want = bytes.iter().take_while(|&&c| plain(c)).count();
                    assert_eq!(plain_prefix(&bytes), want, "byte {b:#x} at {pos} of {len}");
                }
            }
        }
    }

    #[test]
    fn mixed_strings_escape_only_what_needs_it() {
        assert_eq!(s("abc/é\u{1}x\"y"), r#""abc\/\u00e9\u0001x\"y""#);
        assert_eq!(s(""), r#""""#);
        assert_eq!(s("plain text"), r#""plain text""#);
    }

    #[test]
    fn objects_keep_insertion_order() {
        let mut out = String::new();
        let mut o = Obj::begin(&mut out);
        o.str("z", "1")
            .i64("a", -2)
            .bool("m", true)
            .f64("d", 1.5)
            .raw("r", "[]");
        o.end();
        assert_eq!(out, r#"{"z":"1","a":-2,"m":true,"d":1.50000,"r":[]}"#);
        assert_eq!(string_array(&["a/b".into(), "c".into()]), r#"["a\/b","c"]"#);
    }
}
