//! Scrubbing of actual payloads (and, for EXPECT_SCRUBBED, of output) so
//! expectations can be written without line numbers, paths or host names
//! (integration-format §3.2).

use regex::Regex;
use std::path::Path;
use std::sync::OnceLock;

fn line_scrubs() -> &'static [(Regex, &'static str)] {
    static SCRUBS: OnceLock<Vec<(Regex, &'static str)>> = OnceLock::new();
    SCRUBS.get_or_init(|| {
        [
            (r"line\s+\d+", "line ??"),
            (r"php\s+\(\d+\)", "php (??)"),
            (r"php\(\d+\)", "php(??)"),
            (r"\.inc\s\(\d+\)", ".inc (??)"),
            (r"php:\d+", "php:??"),
        ]
        .into_iter()
        .map(|(re, rep)| (Regex::new(re).expect("static scrub regex"), rep))
        .collect()
    })
}

/// `line 12` → `line ??`, `php (12)` → `php (??)`, `php(12)`, `.inc (12)`,
/// `php:12` → `php:??`.
pub fn line_numbers(text: &str) -> String {
    let mut out = text.to_owned();
    for (re, rep) in line_scrubs() {
        if re.is_match(&out) {
            out = re.replace_all(&out, *rep).into_owned();
        }
    }
    out
}

/// Replaces the test's absolute path (plain and JSON-escaped), then
/// `\/basename`, `/basename` and the bare basename by `__FILE__`.
pub fn file_name(text: &str, path: &Path) -> String {
    let full = path.to_string_lossy();
    let escaped = full.replace('/', "\\/");
    let base = path
        .file_name()
        .map(|b| b.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut out = text.replace(&*full, "__FILE__");
    out = out.replace(&escaped, "__FILE__");
    if !base.is_empty() {
        out = out.replace(&format!("\\/{base}"), "__FILE__");
        out = out.replace(&format!("/{base}"), "__FILE__");
        out = out.replace(&base, "__FILE__");
    }
    out
}

/// Replaces the host name (word-bounded) by `__HOST__`.
pub fn host(text: &str, hostname: &str) -> String {
    if hostname.is_empty() {
        return text.to_owned();
    }
    match Regex::new(&format!(r"\b{}\b", regex::escape(hostname))) {
        Ok(re) => re.replace_all(text, "__HOST__").into_owned(),
        Err(_) => text.to_owned(),
    }
}

/// All three, in New Relic's order: line numbers, file name, host.
pub fn payload(text: &str, path: &Path, hostname: &str) -> String {
    host(&file_name(&line_numbers(text), path), hostname)
}

/// This machine's host name (empty if unknown).
pub fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_numbers_in_every_form() {
        assert_eq!(
            line_numbers("in /a/b.php on line 12 and line\t3"),
            "in /a/b.php on line ?? and line ??"
        );
        assert_eq!(
            line_numbers(" in f called at /a/b.php (27)"),
            " in f called at /a/b.php (??)"
        );
        assert_eq!(
            line_numbers("b.php(9) x.inc (4) y.php:77"),
            "b.php(??) x.inc (??) y.php:??"
        );
        assert_eq!(line_numbers("nothing here 12"), "nothing here 12");
    }

    #[test]
    fn file_names_become_file() {
        let p = Path::new("/srv/app/tests/api/test_x.php");
        assert_eq!(
            file_name(r#""OtherTransaction\/php\/test_x.php""#, p),
            r#""OtherTransaction\/php__FILE__""#
        );
        assert_eq!(
            file_name("WebTransaction/Uri/test_x.php", p),
            "WebTransaction/Uri__FILE__"
        );
        assert_eq!(
            file_name(
                r#"" in f called at \/srv\/app\/tests\/api\/test_x.php (??)""#,
                p
            ),
            r#"" in f called at __FILE__ (??)""#
        );
        assert_eq!(
            file_name("/srv/app/tests/api/test_x.php:3", p),
            "__FILE__:3"
        );
        assert_eq!(file_name("test_x.php", p), "__FILE__");
        assert_eq!(file_name("other.php", p), "other.php");
    }

    #[test]
    fn host_is_word_bounded() {
        assert_eq!(
            host("vm and vms and vm.", "vm"),
            "__HOST__ and vms and __HOST__."
        );
        assert_eq!(host("a.b-c", "a.b-c"), "__HOST__");
        assert_eq!(host("x", ""), "x");
    }

    #[test]
    fn payload_scrubs_in_order() {
        let p = Path::new("/t/test_e.php");
        assert_eq!(
            payload(
                r#"["Uncaught exception in \/t\/test_e.php:3","box"]"#,
                p,
                "box"
            ),
            r#"["Uncaught exception in __FILE__:??","__HOST__"]"#
        );
    }
}
