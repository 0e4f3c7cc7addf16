//! Valgrind memcheck mode (tests/integration/README.md §4.5): the test
//! command runs under `valgrind --tool=memcheck --xml=yes`, and any
//! `<error>` in the XML report fails the test. Leaks are not requested.
//! Third-party false positives are suppressed by `valgrind.supp` (next to
//! this crate's Cargo.toml, built into the binary): glibc's loader, never
//! the extension.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The suppressions passed to every run (see the file for each reason).
pub const SUPPRESSIONS: &str = include_str!("../valgrind.supp");

/// Wraps `program args…` so valgrind runs it with [`SUPPRESSIONS`]
/// (written to `dir`) and writes its XML report(s) to `dir` (one file per
/// process, `%p` = pid).
pub fn wrap(
    valgrind: &Path,
    dir: &Path,
    program: &Path,
    args: Vec<OsString>,
) -> std::io::Result<(PathBuf, Vec<OsString>)> {
    let supp = dir.join("seraph.supp");
    std::fs::write(&supp, SUPPRESSIONS)?;
    let mut out: Vec<OsString> = vec![
        "--tool=memcheck".into(),
        "--quiet".into(),
        "--leak-check=no".into(),
        "--num-callers=40".into(),
        format!("--suppressions={}", supp.display()).into(),
        "--xml=yes".into(),
        format!("--xml-file={}/vg.%p.xml", dir.display()).into(),
        "--".into(),
        program.as_os_str().to_owned(),
    ];
    out.extend(args);
    Ok((valgrind.to_path_buf(), out))
}

/// One memcheck error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VgError {
    /// `<kind>`, e.g. `InvalidRead`.
    pub kind: String,
    /// `<what>` or `<xwhat><text>`.
    pub what: String,
    /// Innermost frames as `fn (file:line)` or `fn (obj)`.
    pub frames: Vec<String>,
}

fn tag<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&close)?;
    Some(&xml[start..end])
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// Every `<error>` of a memcheck XML report (top-level errors only; the
/// `<errorcounts>` summary and suppressions are not errors).
pub fn parse_errors(xml: &str) -> Vec<VgError> {
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(pos) = rest.find("<error>") {
        let body_start = pos + "<error>".len();
        let Some(len) = rest[body_start..].find("</error>") else {
            break;
        };
        let body = &rest[body_start..body_start + len];
        rest = &rest[body_start + len..];
        let kind = tag(body, "kind").map(unescape).unwrap_or_default();
        let what = tag(body, "what")
            .or_else(|| tag(body, "xwhat").and_then(|x| tag(x, "text")))
            .map(unescape)
            .unwrap_or_default();
        let mut frames = Vec::new();
        if let Some(stack) = tag(body, "stack") {
            let mut s = stack;
            while let Some(fpos) = s.find("<frame>") {
                let fstart = fpos + "<frame>".len();
                let Some(flen) = s[fstart..].find("</frame>") else {
                    break;
                };
                let frame = &s[fstart..fstart + flen];
                s = &s[fstart + flen..];
                let func = tag(frame, "fn")
                    .map(unescape)
                    .unwrap_or_else(|| "???".into());
                let place = match (tag(frame, "file"), tag(frame, "line")) {
                    (Some(f), Some(l)) => format!("{}:{l}", unescape(f)),
                    _ => tag(frame, "obj").map(unescape).unwrap_or_default(),
                };
                frames.push(format!("{func} ({place})"));
            }
        }
        out.push(VgError { kind, what, frames });
    }
    out
}

/// Reads every report in `dir` and returns their errors.
pub fn collect(dir: &Path) -> Vec<VgError> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .collect();
    files.sort();
    files
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .flat_map(|x| parse_errors(&x))
        .collect()
}

/// The text appended to a failing test's output.
pub fn render(errors: &[VgError]) -> String {
    let mut s = format!("detected {} memory errors\n", errors.len());
    for e in errors {
        s.push_str(&format!("  {}: {}\n", e.kind, e.what));
        for f in e.frames.iter().take(40) {
            s.push_str(&format!("    at {f}\n"));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = r#"<?xml version="1.0"?>
<valgrindoutput>
<protocolversion>4</protocolversion>
<error>
  <unique>0x1</unique>
  <tid>1</tid>
  <kind>InvalidRead</kind>
  <what>Invalid read of size 8</what>
  <stack>
    <frame><ip>0x1</ip><obj>/a/lib.so</obj><fn>nr_read&lt;T&gt;</fn><dir>/src</dir><file>read.rs</file><line>12</line></frame>
    <frame><ip>0x2</ip><obj>/usr/bin/php8.2</obj><fn>zend_execute</fn></frame>
  </stack>
</error>
<error>
  <kind>UninitCondition</kind>
  <xwhat><text>Conditional jump depends on uninitialised value(s)</text></xwhat>
  <stack><frame><ip>0x3</ip></frame></stack>
</error>
<errorcounts><pair><count>1</count><unique>0x1</unique></pair></errorcounts>
</valgrindoutput>"#;

    #[test]
    fn parses_errors_and_frames() {
        let errs = parse_errors(REPORT);
        assert_eq!(errs.len(), 2);
        assert_eq!(errs[0].kind, "InvalidRead");
        assert_eq!(errs[0].what, "Invalid read of size 8");
        assert_eq!(
            errs[0].frames,
            vec!["nr_read<T> (read.rs:12)", "zend_execute (/usr/bin/php8.2)"]
        );
        assert_eq!(
            errs[1].what,
            "Conditional jump depends on uninitialised value(s)"
        );
        assert_eq!(errs[1].frames, vec!["??? ()"]);
        assert!(render(&errs).starts_with(
            "detected 2 memory errors\n  InvalidRead: Invalid read of size 8\n    at nr_read<T>"
        ));
        assert!(parse_errors("<valgrindoutput></valgrindoutput>").is_empty());
    }

    #[test]
    fn wraps_the_command() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display();
        let (p, args) = wrap(
            Path::new("/usr/bin/valgrind"),
            dir.path(),
            Path::new("php"),
            vec!["-n".into()],
        )
        .unwrap();
        assert_eq!(p, PathBuf::from("/usr/bin/valgrind"));
        let args: Vec<String> = args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args.join(" "),
            format!(
                "--tool=memcheck --quiet --leak-check=no --num-callers=40 --suppressions={d}/seraph.supp \
                 --xml=yes --xml-file={d}/vg.%p.xml -- php -n"
            )
        );
        let supp = std::fs::read_to_string(dir.path().join("seraph.supp")).unwrap();
        assert_eq!(supp, SUPPRESSIONS);
    }

    #[test]
    fn suppressions_name_no_frame_of_the_extension() {
        // Each entry: a comment, then `{ name, Memcheck:kind, frames }`.
        let entries = SUPPRESSIONS.matches("\n{").count();
        assert!(entries >= 1, "{SUPPRESSIONS}");
        assert_eq!(entries, SUPPRESSIONS.matches("\n}").count());
        for line in SUPPRESSIONS.lines().filter(|l| !l.starts_with('#')) {
            assert!(
                !line.contains("newrelic") && !line.contains("seraph"),
                "a suppression names the extension: {line}"
            );
        }
    }

    #[test]
    fn collects_from_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("vg.1.xml"), REPORT).unwrap();
        std::fs::write(dir.path().join("vg.2.xml"), "<valgrindoutput/>").unwrap();
        assert_eq!(collect(dir.path()).len(), 2);
        assert!(collect(&dir.path().join("missing")).is_empty());
    }
}
