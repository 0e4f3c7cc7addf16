//! PHP stack traces for errors and slow datastore calls, in New Relic's
//! format: `" in <Class::function> called at <file> (<line>)"`, innermost
//! first, `?` for a missing function, file or line (a function called by
//! internal code, such as an error handler, has no call site:
//! `" in handler called at ? (?)"`).
//!
//! The frames come from PHP's own `zend_fetch_debug_backtrace`, as New
//! Relic's agent takes them, so which frames appear and which call site
//! each gets follow `debug_backtrace()` exactly.

use super::ffi;
use super::zval::{array_each, Key, Val};

/// One `debug_backtrace()` frame (`function`, `class`, `file`, `line`) in
/// New Relic's words.
pub fn format_frame(function: &str, class: &str, file: &str, line: Option<i64>) -> String {
    let mut s = String::with_capacity(24 + function.len() + class.len() + file.len());
    s.push_str(" in ");
    if !class.is_empty() {
        s.push_str(class);
        s.push_str("::");
    }
    s.push_str(if function.is_empty() { "?" } else { function });
    s.push_str(" called at ");
    s.push_str(if file.is_empty() { "?" } else { file });
    match line {
        Some(l) => s.push_str(&format!(" ({l})")),
        None => s.push_str(" (?)"),
    }
    s
}

/// Formats the frames of a `debug_backtrace()`-shaped array (also an
/// exception's `trace`).
///
/// # Safety
/// `trace` must be null or a live array.
pub unsafe fn format_trace(trace: *mut ffi::HashTable, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    // SAFETY: caller's contract; the frames are arrays inside it.
    unsafe {
        array_each(trace, |_, frame| {
            let Val::Array(ht) = frame else { return };
            if out.len() >= limit {
                return;
            }
            let (mut function, mut class, mut file, mut line) =
                (String::new(), String::new(), String::new(), None);
            array_each(ht, |k, v| {
                if let Key::Str(k) = k {
                    match (k.as_str(), v) {
                        ("function", Val::Str(s)) => function = String::from_utf8_lossy(s).into(),
                        ("class", Val::Str(s)) => class = String::from_utf8_lossy(s).into(),
                        ("file", Val::Str(s)) => file = String::from_utf8_lossy(s).into(),
                        ("line", Val::Long(l)) => line = Some(l),
                        _ => {}
                    }
                }
            });
            out.push(format_frame(&function, &class, &file, line));
        });
    }
    out
}

/// The current PHP stack as New Relic formats it, at most `limit` frames.
pub fn current_stack(limit: usize) -> Vec<String> {
    // SAFETY: zeroed plain data; the shim initialises it.
    let mut bt: ffi::zval = unsafe { std::mem::zeroed() };
    let limit_c = i32::try_from(limit).unwrap_or(i32::MAX);
    // SAFETY: a request is active whenever errors or API calls happen; the
    // shim returns null otherwise. The array lives in `bt` until released.
    unsafe {
        let ht = ffi::seraph_backtrace(&mut bt, limit_c);
        let out = format_trace(ht, limit);
        ffi::seraph_zval_dtor(&mut bt);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_follow_new_relics_format() {
        assert_eq!(
            format_frame("a", "", "/w/s.php", Some(9)),
            " in a called at /w/s.php (9)"
        );
        assert_eq!(
            format_frame("run", "Worker", "/w/s.php", Some(3)),
            " in Worker::run called at /w/s.php (3)"
        );
        assert_eq!(
            format_frame("newrelic_notice_error", "", "", None),
            " in newrelic_notice_error called at ? (?)"
        );
        assert_eq!(format_frame("", "", "", None), " in ? called at ? (?)");
    }
}
