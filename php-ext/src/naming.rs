//! Transaction naming from settings, with New Relic's semantics:
//!
//! * The initial name is the script: for a request, `SCRIPT_FILENAME` with
//!   `DOCUMENT_ROOT` removed from its front (else `SCRIPT_NAME`); for the
//!   CLI, the script as given. A query string is cut off, and with
//!   `webtransaction.name.remove_trailing_path` so is everything after the
//!   first `.php` (`/shop/index.php/item/3` → `/shop/index.php`).
//! * `webtransaction.name.files` is a comma-separated list of regular
//!   expressions. Each pattern `P` is searched case-insensitively as
//!   `.*(P)` (`.*(P\.*)` when `P` ends in `/`), so the name is the *last*
//!   occurrence of `P` in the file's full path, exactly the text matched
//!   (`alpha` names `/srv/alpha.php` `…/Action/alpha`). The patterns listed
//!   later are tried first; an invalid pattern is skipped with a warning.
//!   The first executed file that matches names the transaction.

use regex::Regex;

/// Cuts a path after its first `.php` (New Relic's
/// `remove_trailing_path`: a plain, case-sensitive substring search).
pub fn remove_trailing_path(path: &str) -> &str {
    match path.find(".php") {
        Some(i) => &path[..i + 4],
        None => path,
    }
}

/// The initial transaction path of a web request, from the `$_SERVER`
/// values New Relic's agent uses; `None` when neither script variable is
/// set.
pub fn web_initial_path(
    script_filename: Option<&str>,
    script_name: Option<&str>,
    document_root: Option<&str>,
    trailing: bool,
) -> Option<String> {
    let (raw, docroot) = match (script_filename, script_name) {
        (Some(f), _) => (f, document_root),
        (None, Some(n)) => (n, None),
        (None, None) => return None,
    };
    let mut s = raw.split('?').next().unwrap_or(raw);
    if trailing {
        s = remove_trailing_path(s);
    }
    if let Some(root) = docroot {
        s = s.strip_prefix(root).unwrap_or(s);
    }
    Some(s.to_owned())
}

/// The initial path of a CLI transaction (the script as given).
pub fn cli_initial_path(script: &str, trailing: bool) -> String {
    let s = script.split('?').next().unwrap_or(script);
    if trailing {
        remove_trailing_path(s).to_owned()
    } else {
        s.to_owned()
    }
}

/// One pattern as New Relic's agent compiles it: searched from the start
/// with a greedy `.*` (so the last occurrence wins), case-insensitive,
/// `.` matching newlines; a pattern ending in `/` may be followed by
/// literal dots.
fn compile(p: &str) -> Result<Regex, regex::Error> {
    if p.ends_with('/') {
        Regex::new(&format!(r"(?is)\A.*({p}\.*)"))
    } else {
        Regex::new(&format!(r"(?is)\A.*({p})"))
    }
}

/// The compiled `webtransaction.name.files` patterns.
#[derive(Debug, Default)]
pub struct FileNamer {
    /// The setting as given, to notice changes.
    source: String,
    /// In matching order (the last listed first).
    patterns: Vec<Regex>,
}

impl FileNamer {
    /// No patterns.
    pub const EMPTY: FileNamer = FileNamer {
        source: String::new(),
        patterns: Vec::new(),
    };

    /// Compiles a `name.files` value. Returns the namer and the patterns
    /// that are not valid regular expressions (skipped).
    pub fn new(list: &str) -> (FileNamer, Vec<String>) {
        let mut patterns = Vec::new();
        let mut bad = Vec::new();
        for p in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match compile(p) {
                Ok(r) => patterns.push(r),
                Err(_) => bad.push(p.to_owned()),
            }
        }
        patterns.reverse();
        (
            FileNamer {
                source: list.to_owned(),
                patterns,
            },
            bad,
        )
    }

    /// The setting this namer was compiled from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether no pattern is set.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// The name a file gives the transaction, if a pattern matches it.
    pub fn name_for(&self, filename: &str) -> Option<String> {
        if filename.is_empty() {
            return None;
        }
        self.patterns.iter().find_map(|r| {
            r.captures(filename)
                .and_then(|c| c.get(1))
                .map(|m| m.as_str().to_owned())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(patterns: &str, file: &str) -> Option<String> {
        FileNamer::new(patterns).0.name_for(file)
    }

    fn one(pattern: &str, file: &str) -> Option<String> {
        let c = compile(pattern).unwrap().captures(file)?;
        Some(c.get(1)?.as_str().to_owned())
    }

    #[test]
    fn file_patterns_name_by_the_text_they_match() {
        // New Relic's own unit cases for a single pattern.
        assert_eq!(one("alpha", "alpha.php").as_deref(), Some("alpha"));
        assert_eq!(
            one("[a-zA-Z]_?[0-9]{2,3}", "brain21").as_deref(),
            Some("n21")
        );
        assert_eq!(
            one("[a-zA-Z]+_?[0-9]{2,3}", "ab_3335/test.php").as_deref(),
            Some("b_333")
        );
        assert_eq!(one("test/", "tests/test/.").as_deref(), Some("test/."));
        assert_eq!(
            one("test/", "tests/test/.something.php").as_deref(),
            Some("test/.")
        );
        assert_eq!(one("test/", "tests/test/..").as_deref(), Some("test/.."));
    }

    #[test]
    fn the_setting_is_split_at_every_comma_as_new_relic_does() {
        // So a `{2,3}` quantifier cannot be written in the INI value.
        let (n, bad) = FileNamer::new("[0-9]{2,3}");
        assert_eq!(bad, ["[0-9]{2"]);
        assert_eq!(
            n.name_for("page42.php"),
            None,
            "only the literal `3}}` is left"
        );
        assert_eq!(name("[0-9]{2}", "page42.php").as_deref(), Some("42"));
    }

    #[test]
    fn matching_is_case_insensitive_and_finds_the_last_occurrence() {
        assert_eq!(
            name("admin", "/srv/Admin/tools/ADMIN.php").as_deref(),
            Some("ADMIN")
        );
        assert_eq!(
            name(r"pages/\w+\.php", "/srv/pages/a/pages/Login.php").as_deref(),
            Some("pages/Login.php")
        );
        assert_eq!(name("checkout", "/srv/cart.php"), None);
        assert_eq!(name("checkout", ""), None);
    }

    #[test]
    fn later_patterns_win_and_bad_ones_are_skipped() {
        assert_eq!(name("foo,bar", "foobar").as_deref(), Some("bar"));
        // New Relic's integration test mixes in invalid patterns.
        let (n, bad) = FileNamer::new(r".*exercise.php,**,[,bat/,baz,,,");
        assert_eq!(bad, ["**", "["]);
        // The outer `.*` is greedy, so the group starts as late as it can.
        assert_eq!(
            n.name_for("/t/exercise.php").as_deref(),
            Some("exercise.php")
        );
        assert!(FileNamer::new(" , ,").0.is_empty());
    }

    #[test]
    fn remove_trailing_path_cuts_after_the_first_php() {
        assert_eq!(
            remove_trailing_path("/path/to/foo.php/xyz/zy"),
            "/path/to/foo.php"
        );
        assert_eq!(remove_trailing_path("/a.phpx/b"), "/a.php");
        assert_eq!(remove_trailing_path("/index.PHP/x"), "/index.PHP/x");
        assert_eq!(remove_trailing_path("/no/script"), "/no/script");
    }

    #[test]
    fn web_initial_path_follows_new_relic() {
        let p = |f, n, r, t| web_initial_path(f, n, r, t);
        assert_eq!(
            p(
                Some("/srv/www/index.php"),
                Some("/index.php"),
                Some("/srv/www"),
                false
            )
            .as_deref(),
            Some("/index.php")
        );
        // PATH_INFO in SCRIPT_FILENAME (a common nginx setup).
        assert_eq!(
            p(
                Some("/srv/www/index.php/item/3"),
                None,
                Some("/srv/www"),
                false
            )
            .as_deref(),
            Some("/index.php/item/3")
        );
        assert_eq!(
            p(
                Some("/srv/www/index.php/item/3"),
                None,
                Some("/srv/www"),
                true
            )
            .as_deref(),
            Some("/index.php")
        );
        // No document root, or one that is not a prefix: the full path.
        assert_eq!(
            p(Some("/srv/www/a.php"), None, Some("/other"), false).as_deref(),
            Some("/srv/www/a.php")
        );
        // SCRIPT_NAME only: no document root removal.
        assert_eq!(
            p(None, Some("/app.php/x?y=1"), Some("/app"), true).as_deref(),
            Some("/app.php")
        );
        assert_eq!(p(None, None, Some("/srv"), true), None);
        assert_eq!(cli_initial_path("bin/run.php/x", true), "bin/run.php");
        assert_eq!(cli_initial_path("bin/run.php/x", false), "bin/run.php/x");
    }
}
