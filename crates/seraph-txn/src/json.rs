//! A tiny JSON writer that reproduces the New Relic agent's own encoder byte
//! for byte: `/` is escaped as `\/`, every non-ASCII character becomes a
//! `\uXXXX` escape (surrogate pairs above the BMP), doubles are printed with
//! exactly five decimals, and objects keep the order keys were written in.
//!
//! serde_json cannot be configured to do any of these, and the collector and
//! the integration tests compare the agent's strings as they are, so the
//! output has to be built by hand.

use std::fmt::Write as _;

/// Appends `s` as a quoted, escaped JSON string.
pub fn push_str(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' => out.push_str("\\/"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x80 => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{:04x}", unit);
                }
            }
        }
    }
    out.push('"');
}

/// Appends a double the way the agent prints it inside event JSON: `%.5f`.
/// Non-finite values cannot be represented in JSON; they become `0.00000`
/// (attribute validation rejects them before they get here).
pub fn push_f64(out: &mut String, v: f64) {
    let v = if v.is_finite() { v } else { 0.0 };
    let _ = write!(out, "{v:.5}");
}

/// Appends an integer.
pub fn push_i64(out: &mut String, v: i64) {
    let _ = write!(out, "{v}");
}

/// Appends an unsigned integer.
pub fn push_u64(out: &mut String, v: u64) {
    let _ = write!(out, "{v}");
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
