//! Finding test files: explicit files as given, directories searched
//! recursively for names matching a glob (default `test_*.php`).

use regex::Regex;
use std::path::{Path, PathBuf};

/// A glob over base names: `*` any run, `?` one character, `[...]` a
/// class; everything else literal.
pub fn glob_to_regex(glob: &str) -> Result<Regex, regex::Error> {
    let mut re = String::from("^");
    let mut chars = glob.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            '[' => {
                let mut class = String::from("[");
                if chars.peek() == Some(&'!') {
                    chars.next();
                    class.push('^');
                }
                for c in chars.by_ref() {
                    if c == ']' {
                        break;
                    }
                    if c == '\\' || c == '[' {
                        class.push('\\');
                    }
                    class.push(c);
                }
                class.push(']');
                re.push_str(&class);
            }
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    Regex::new(&re)
}

fn walk(dir: &Path, pattern: &Regex, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, pattern, out)?;
        } else if path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| pattern.is_match(n))
        {
            out.push(path);
        }
    }
    Ok(())
}

/// `path` made absolute and cleaned lexically (`.` and `..` removed), as
/// Go's `filepath.Abs` does. php-cgi refuses a SCRIPT_FILENAME holding
/// `..` ("No input file specified"), and scrubbing matches the path as
/// text, so test paths are always clean.
pub fn clean_absolute(path: &Path) -> PathBuf {
    use std::path::Component;
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// The tests named by `paths`: files as given, directories searched. Each
/// test's name is its path as discovered (relative paths stay relative).
pub fn discover(paths: &[PathBuf], pattern: &str) -> Result<Vec<(String, PathBuf)>, String> {
    let re = glob_to_regex(pattern).map_err(|e| format!("bad --pattern {pattern:?}: {e}"))?;
    let mut found = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &re, &mut found).map_err(|e| format!("{}: {e}", p.display()))?;
        } else if p.is_file() {
            found.push(p.clone());
        } else {
            return Err(format!("{}: no such file or directory", p.display()));
        }
    }
    let mut out: Vec<(String, PathBuf)> = found
        .into_iter()
        .map(|p| (p.to_string_lossy().into_owned(), p))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out.dedup_by(|a, b| a.0 == b.0);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_paths() {
        assert_eq!(
            clean_absolute(Path::new("/a/b/../c/./d.php")),
            PathBuf::from("/a/c/d.php")
        );
        assert_eq!(clean_absolute(Path::new("/../x")), PathBuf::from("/x"));
        let rel = clean_absolute(Path::new("x/../y.php"));
        assert!(
            rel.is_absolute() && rel.ends_with("y.php") && !rel.to_string_lossy().contains("..")
        );
    }

    #[test]
    fn globs() {
        let re = glob_to_regex("test_*.php").unwrap();
        assert!(re.is_match("test_a.php"));
        assert!(!re.is_match("xtest_a.php"));
        assert!(!re.is_match("test_a.php8"));
        assert!(glob_to_regex("t?st_[ab].p*")
            .unwrap()
            .is_match("test_b.php"));
        assert!(!glob_to_regex("[!a]*").unwrap().is_match("abc"));
        assert!(glob_to_regex("a.b").unwrap().is_match("a.b"));
        assert!(!glob_to_regex("a.b").unwrap().is_match("axb"));
    }

    #[test]
    fn discovers_recursively_sorted() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("b/c")).unwrap();
        std::fs::create_dir_all(d.path().join("include")).unwrap();
        for f in [
            "b/c/test_2.php",
            "b/test_1.php",
            "include/helpers.php",
            "test_0.php",
            "notes.txt",
        ] {
            std::fs::write(d.path().join(f), "").unwrap();
        }
        let found = discover(&[d.path().to_path_buf()], "test_*.php").unwrap();
        let names: Vec<String> = found
            .iter()
            .map(|(_, p)| p.strip_prefix(d.path()).unwrap().display().to_string())
            .collect();
        assert_eq!(names, vec!["b/c/test_2.php", "b/test_1.php", "test_0.php"]);
        // An explicit file is taken whatever its name.
        let one = discover(&[d.path().join("include/helpers.php")], "test_*.php").unwrap();
        assert_eq!(one.len(), 1);
        assert!(discover(&[d.path().join("missing")], "*").is_err());
    }
}
