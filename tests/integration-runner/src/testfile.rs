//! Reading a PHP test file: the `/*KEYWORD ...*/` directives
//! (tests/integration/README.md §2).
//!
//! The scanner looks at every C-style comment in the file, PHP code
//! included, exactly like New Relic's runner, so its quirks carry over: a
//! PHP comment such as `/*Note: x*/` is an unknown directive and makes the
//! test fatal, while comments that start with a blank or `*`, or consist of
//! word characters only, are ignored.

use std::path::{Path, PathBuf};

/// Why a test file cannot be run. Each one makes the test fail as fatal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// A comment names a keyword the format does not know.
    #[error("directive '{0}' not supported")]
    Unsupported(String),
    /// An INI/PHPMODULES line has no `=` or an empty name.
    #[error("parsing '{directive}' directive failure: settings must have format NAME=VALUE (line {line:?})")]
    BadSetting {
        /// INI or PHPMODULES.
        directive: &'static str,
        /// The offending line.
        line: String,
    },
    /// An ENVIRONMENT line has an empty name.
    #[error(
        "parsing 'ENVIRONMENT' directive failure: invalid environment variable format (line {0:?})"
    )]
    BadEnvironment(String),
    /// The file cannot be read.
    #[error("cannot read {path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        message: String,
    },
}

/// One expected collector payload, as written in the file (unparsed: it
/// may hold `ENV[...]` that is substituted only at comparison time).
pub type RawExpectation = Option<String>;

/// Everything a test file declares.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TestFile {
    /// The test's name: its path as discovered. Also the application name
    /// and hence the run id its harvest is filed under.
    pub name: String,
    /// Absolute path.
    pub path: PathBuf,
    /// DESCRIPTION.
    pub description: String,
    /// SKIPIF (a PHP fragment).
    pub skipif: Option<String>,
    /// INI settings, in file order.
    pub ini: Vec<(String, String)>,
    /// ENVIRONMENT variables, in file order.
    pub env: Vec<(String, String)>,
    /// HEADERS: request headers for a web test.
    pub headers: Vec<(String, String)>,
    /// PHPMODULES entries.
    pub php_modules: Vec<(String, String)>,
    /// CONFIG (retired C tests; stored only).
    pub config: Option<String>,
    /// EXPECT: the whole output.
    pub expect: Option<String>,
    /// EXPECT_REGEX (trimmed).
    pub expect_regex: Option<String>,
    /// EXPECT_SCRUBBED.
    pub expect_scrubbed: Option<String>,
    /// EXPECT_ANALYTICS_EVENTS.
    pub analytic_events: RawExpectation,
    /// EXPECT_CUSTOM_EVENTS.
    pub custom_events: RawExpectation,
    /// EXPECT_ERROR_EVENTS.
    pub error_events: RawExpectation,
    /// EXPECT_SPAN_EVENTS.
    pub span_events: RawExpectation,
    /// EXPECT_SPAN_EVENTS_LIKE.
    pub span_events_like: RawExpectation,
    /// EXPECT_LOG_EVENTS.
    pub log_events: RawExpectation,
    /// EXPECT_METRICS.
    pub metrics: RawExpectation,
    /// EXPECT_METRICS_EXIST.
    pub metrics_exist: RawExpectation,
    /// EXPECT_METRICS_DONT_EXIST.
    pub metrics_dont_exist: RawExpectation,
    /// EXPECT_SLOW_SQLS.
    pub slow_sqls: RawExpectation,
    /// EXPECT_TRACED_ERRORS.
    pub traced_errors: RawExpectation,
    /// EXPECT_TXN_TRACES.
    pub txn_traces: RawExpectation,
    /// EXPECT_PHP_PACKAGES (raw `key=value` lines, or `null`).
    pub php_packages: RawExpectation,
    /// EXPECT_RESPONSE_HEADERS: `Some(empty)` means "the callee sent no
    /// extra headers".
    pub response_headers: Option<Vec<(String, String)>>,
    /// False with `EXPECT_HARVEST no`.
    pub expect_harvest: bool,
    /// XFAIL reason.
    pub xfail: Option<String>,
}

impl TestFile {
    /// Reads and parses `path`, naming the test `name`.
    pub fn load(name: &str, path: &Path) -> Result<TestFile, ParseError> {
        let bytes = std::fs::read(path).map_err(|e| ParseError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let abs = crate::discover::clean_absolute(path);
        parse(name, &abs, &String::from_utf8_lossy(&bytes))
    }

    /// True when the test runs as a CGI request (REQUEST_METHOD or any
    /// header given).
    pub fn is_web(&self) -> bool {
        self.env.iter().any(|(k, _)| k == "REQUEST_METHOD") || !self.headers.is_empty()
    }

    /// The value of an ENVIRONMENT variable.
    pub fn env_var(&self, key: &str) -> Option<&str> {
        self.env
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Every comment body (`/*` … `*/`) in `src`, in order. An unterminated
/// comment ends the scan.
fn comments(src: &str) -> impl Iterator<Item = &str> {
    let mut rest = src;
    std::iter::from_fn(move || {
        let open = rest.find("/*")?;
        let body_start = open + 2;
        let len = rest[body_start..].find("*/")?;
        let body = &rest[body_start..body_start + len];
        rest = &rest[body_start + len + 2..];
        Some(body)
    })
}

fn is_word(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// Parses `src` (the file's text) into a [`TestFile`].
pub fn parse(name: &str, path: &Path, src: &str) -> Result<TestFile, ParseError> {
    let mut t = TestFile {
        name: name.to_owned(),
        path: path.to_path_buf(),
        expect_harvest: true,
        ..Default::default()
    };
    for body in comments(src) {
        // The keyword ends at the first non-word character; a comment
        // without one, or starting with one, is not a directive.
        let Some(i) = body.find(|c: char| !is_word(c)) else {
            continue;
        };
        if i == 0 {
            continue;
        }
        let (keyword, content) = body.split_at(i);
        apply(&mut t, keyword, content)?;
    }
    Ok(t)
}

fn some_raw(content: &str) -> Option<String> {
    Some(content.to_owned())
}

fn apply(t: &mut TestFile, keyword: &str, content: &str) -> Result<(), ParseError> {
    match keyword {
        "DESCRIPTION" => t.description = content.trim().to_owned(),
        "SKIPIF" => t.skipif = Some(content.trim().to_owned()),
        "INI" => t.ini = parse_settings("INI", content)?,
        "PHPMODULES" => t.php_modules = parse_settings("PHPMODULES", content)?,
        "ENVIRONMENT" => t.env = parse_env(content)?,
        "HEADERS" => t.headers = parse_tokens(content),
        "CONFIG" => t.config = Some(content.trim().to_owned()),
        "EXPECT" => t.expect = some_raw(content),
        "EXPECT_REGEX" => t.expect_regex = Some(content.trim().to_owned()),
        "EXPECT_SCRUBBED" => t.expect_scrubbed = some_raw(content),
        "EXPECT_ANALYTICS_EVENTS" => t.analytic_events = some_raw(content),
        "EXPECT_CUSTOM_EVENTS" => t.custom_events = some_raw(content),
        "EXPECT_ERROR_EVENTS" => t.error_events = some_raw(content),
        "EXPECT_SPAN_EVENTS" => t.span_events = some_raw(content),
        "EXPECT_SPAN_EVENTS_LIKE" => t.span_events_like = some_raw(content),
        "EXPECT_LOG_EVENTS" => t.log_events = some_raw(content),
        "EXPECT_METRICS" => t.metrics = some_raw(content),
        "EXPECT_METRICS_EXIST" => t.metrics_exist = some_raw(content),
        "EXPECT_METRICS_DONT_EXIST" => t.metrics_dont_exist = some_raw(content),
        "EXPECT_SLOW_SQLS" => t.slow_sqls = some_raw(content),
        "EXPECT_TRACED_ERRORS" => t.traced_errors = some_raw(content),
        "EXPECT_TXN_TRACES" => t.txn_traces = some_raw(content),
        "EXPECT_PHP_PACKAGES" => t.php_packages = some_raw(content),
        "EXPECT_RESPONSE_HEADERS" => t.response_headers = Some(parse_tokens(content)),
        "EXPECT_HARVEST" => {
            if content.trim() == "no" {
                t.expect_harvest = false;
            }
        }
        "XFAIL" => {
            let reason = content.trim();
            t.xfail = Some(if reason.is_empty() {
                "expected failure".to_owned()
            } else {
                reason.to_owned()
            });
        }
        other => return Err(ParseError::Unsupported(other.to_owned())),
    }
    Ok(())
}

/// INI syntax: the block is trimmed, then every line must be `name=value`
/// (split at the first `=`, both sides trimmed, name non-empty); a blank
/// line inside the block is an error, as in New Relic's runner.
fn parse_settings(
    directive: &'static str,
    content: &str,
) -> Result<Vec<(String, String)>, ParseError> {
    let trimmed = content.trim();
    if trimmed.is_empty() {
        return Ok(Vec::new());
    }
    trimmed
        .lines()
        .map(|line| match line.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.trim().to_owned())),
            _ => Err(ParseError::BadSetting {
                directive,
                line: line.to_owned(),
            }),
        })
        .collect()
}

/// ENVIRONMENT: blank lines skipped, `KEY=VALUE` (value may be empty or
/// the `=` missing), key non-empty.
fn parse_env(content: &str) -> Result<Vec<(String, String)>, ParseError> {
    let mut out = Vec::new();
    for line in content.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (k, v) = line.split_once('=').unwrap_or((line, ""));
        let k = k.trim();
        if k.is_empty() {
            return Err(ParseError::BadEnvironment(line.to_owned()));
        }
        out.push((k.to_owned(), v.trim().to_owned()));
    }
    Ok(out)
}

/// HEADERS / EXPECT_RESPONSE_HEADERS: whitespace-separated `Name=Value`
/// tokens; tokens without `=` are dropped.
fn parse_tokens(content: &str) -> Vec<(String, String)> {
    content
        .split_whitespace()
        .filter_map(|tok| tok.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(src: &str) -> Result<TestFile, ParseError> {
        parse("t.php", Path::new("/x/t.php"), src)
    }

    #[test]
    fn reads_directives_anywhere_in_the_file() {
        let t = p(r#"<?php
/*DESCRIPTION
  A test.
*/
/*INI
newrelic.a = 1
 newrelic.b=x=y
*/
/*ENVIRONMENT
REQUEST_METHOD=GET
EMPTY=
BARE
*/
/*HEADERS
X-Request-Start=t=1368811467146000   Accept=text/html junk
*/
/*EXPECT
ok
*/
/*EXPECT_REGEX
  ^ok$
*/
/*XFAIL*/
/*XFAIL   */
/*EXPECT_HARVEST no*/
echo "ok"; /* a comment with a leading blank */ /** docblock */
/*EXPECT_METRICS null*/
"#)
        .unwrap();
        assert_eq!(t.description, "A test.");
        assert_eq!(
            t.ini,
            vec![
                ("newrelic.a".into(), "1".into()),
                ("newrelic.b".into(), "x=y".into())
            ]
        );
        assert_eq!(
            t.env,
            vec![
                ("REQUEST_METHOD".into(), "GET".into()),
                ("EMPTY".into(), "".into()),
                ("BARE".into(), "".into())
            ]
        );
        assert_eq!(
            t.headers,
            vec![
                ("X-Request-Start".into(), "t=1368811467146000".into()),
                ("Accept".into(), "text/html".into())
            ]
        );
        assert!(t.is_web());
        assert_eq!(t.expect.as_deref(), Some("\nok\n"));
        assert_eq!(t.expect_regex.as_deref(), Some("^ok$"));
        // `/*XFAIL*/` is all word characters: not a directive at all.
        assert_eq!(t.xfail.as_deref(), Some("expected failure"));
        assert!(!t.expect_harvest);
        assert_eq!(t.metrics.as_deref(), Some(" null"));
    }

    #[test]
    fn unknown_keyword_is_fatal_even_in_php_code() {
        let err = p("<?php /*Note: this is PHP*/ echo 1;").unwrap_err();
        assert_eq!(err, ParseError::Unsupported("Note".into()));
        assert_eq!(err.to_string(), "directive 'Note' not supported");
    }

    #[test]
    fn word_only_and_blank_led_comments_are_ignored() {
        let t = p("/*foo*/ /* Note: x */ /*\nNote: y*/ /**Note: z*/").unwrap();
        assert_eq!(
            t,
            TestFile {
                name: "t.php".into(),
                path: "/x/t.php".into(),
                expect_harvest: true,
                ..Default::default()
            }
        );
    }

    #[test]
    fn ini_with_blank_line_inside_is_an_error() {
        let err = p("/*INI\na=1\n\nb=2\n*/").unwrap_err();
        assert!(matches!(
            err,
            ParseError::BadSetting {
                directive: "INI",
                ..
            }
        ));
        assert!(p("/*INI\n\n  a=1\n\n*/").is_ok());
        assert!(p("/*INI\n=1\n*/").is_err());
        assert!(p("/*PHPMODULES\nzend_extension\n*/").is_err());
    }

    #[test]
    fn later_directive_overwrites_earlier_one() {
        let t = p("/*EXPECT\na\n*/ /*EXPECT\nb\n*/ /*XFAIL reason one*/").unwrap();
        assert_eq!(t.expect.as_deref(), Some("\nb\n"));
        assert_eq!(t.xfail.as_deref(), Some("reason one"));
    }

    #[test]
    fn unterminated_comment_ends_the_scan() {
        let t = p("/*EXPECT\na\n*/ /*EXPECT_REGEX x").unwrap();
        assert_eq!(t.expect.as_deref(), Some("\na\n"));
        assert!(t.expect_regex.is_none());
    }

    #[test]
    fn environment_key_must_not_be_empty() {
        assert!(matches!(
            p("/*ENVIRONMENT\n=x\n*/"),
            Err(ParseError::BadEnvironment(_))
        ));
    }

    #[test]
    fn empty_response_headers_means_none_expected() {
        let t = p("/*EXPECT_RESPONSE_HEADERS\n*/").unwrap();
        assert_eq!(t.response_headers, Some(vec![]));
        let t = p("/*EXPECT_RESPONSE_HEADERS\nX-A=?? X-A=b\n*/").unwrap();
        assert_eq!(
            t.response_headers,
            Some(vec![
                ("X-A".into(), "??".into()),
                ("X-A".into(), "b".into())
            ])
        );
    }
}
