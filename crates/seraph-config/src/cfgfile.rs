//! The `newrelic.cfg` line syntax (also used by `--define`).
//!
//! This stage only splits text into `key = value` entries; it knows nothing
//! about which keys exist (see `settings.rs`). The grammar is New Relic's:
//!
//! ```text
//! file    = (entry | comment | whitespace)*
//! entry   = KEY ws* '=' ws* value
//! KEY     = letter (letter | digit | '_' | '.')*
//! value   = '\'' raw-text '\''          (no escapes, may span lines)
//!         | '"' escaped-text '"'        (\b \t \n \v \f \r \" \\)
//!         | unquoted text to end of line, cut at the first '#' or ';'
//!           after its first character, trailing whitespace removed
//! comment = ('#' | ';') text to end of line
//! ```
//!
//! Kept on purpose from the Go parser: the first character of an unquoted
//! value is never a comment start (`key = #x` gives `#x`); after a closing
//! quote parsing continues on the same line, so only a comment may follow
//! it; whitespace (even a newline) may separate a key from its `=`.
//! Differences: a `\"` inside double quotes is an escaped quote (Go's
//! reader stops at it and then fails on the rest of the line), and a key
//! with no `=` before the end of the file is an error (Go ignores it when
//! no newline follows).

/// One `key = value` entry and the line its key starts on (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The key exactly as written (keys are case-sensitive).
    pub key: String,
    /// The value after quote removal, escapes and comment stripping.
    pub value: String,
    /// 1-based line of the key.
    pub line: usize,
}

/// A syntax error and the 1-based line it was found on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// 1-based line number.
    pub line: usize,
    /// What was wrong.
    pub message: String,
}

struct Lexer<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    line: usize,
}

impl Lexer<'_> {
    fn next(&mut self) -> Option<char> {
        let ch = self.chars.next();
        if ch == Some('\n') {
            self.line += 1;
        }
        ch
    }

    fn peek(&mut self) -> Option<char> {
        self.chars.peek().copied()
    }

    fn error(&self, message: String) -> SyntaxError {
        SyntaxError {
            line: self.line,
            message,
        }
    }

    /// Consumes the rest of the current line including its newline and
    /// returns it without the newline.
    fn rest_of_line(&mut self) -> String {
        let mut out = String::new();
        while let Some(ch) = self.next() {
            if ch == '\n' {
                break;
            }
            out.push(ch);
        }
        out
    }
}

/// Splits configuration text into entries, in file order.
pub fn parse(text: &str) -> Result<Vec<Entry>, SyntaxError> {
    let mut lx = Lexer {
        chars: text.chars().peekable(),
        line: 1,
    };
    let mut entries = Vec::new();
    loop {
        // Between entries: whitespace, comments, or the start of a key.
        let Some(ch) = lx.next() else {
            return Ok(entries);
        };
        if ch.is_whitespace() {
            continue;
        }
        if ch == '#' || ch == ';' {
            lx.rest_of_line();
            continue;
        }
        if !ch.is_alphabetic() {
            return Err(lx.error(format!("expected a key or a comment, got {ch:?}")));
        }
        let line = lx.line;
        let key = lex_key(&mut lx, ch)?;
        let value = lex_value(&mut lx, &key)?;
        entries.push(Entry { key, value, line });
    }
}

/// Reads the rest of a key and the `=` after it.
fn lex_key(lx: &mut Lexer<'_>, first: char) -> Result<String, SyntaxError> {
    let mut key = String::from(first);
    loop {
        match lx.next() {
            Some(c) if c.is_alphanumeric() || c == '_' || c == '.' => key.push(c),
            Some('=') => return Ok(key),
            Some(c) if c.is_whitespace() => break,
            Some(c) => {
                return Err(lx.error(format!("invalid character {c:?} following key {key:?}")))
            }
            None => return Err(lx.error(format!("expected '=' after key {key:?}"))),
        }
    }
    loop {
        match lx.next() {
            Some(c) if c.is_whitespace() => {}
            Some('=') => return Ok(key),
            Some(c) => return Err(lx.error(format!("expected '=' after key {key:?}, got {c:?}"))),
            None => return Err(lx.error(format!("expected '=' after key {key:?}"))),
        }
    }
}

/// Reads a value (after the `=`).
fn lex_value(lx: &mut Lexer<'_>, key: &str) -> Result<String, SyntaxError> {
    // Leading whitespace, stopping at the end of the line: an empty value.
    let first = loop {
        match lx.next() {
            None | Some('\n') => return Ok(String::new()),
            Some(c) if c.is_whitespace() => {}
            Some(c) => break c,
        }
    };
    let open_line = lx.line;
    let unterminated = |quote: char| SyntaxError {
        line: open_line,
        message: format!("{key}: missing closing quote ({quote})"),
    };
    match first {
        '\'' => {
            let mut value = String::new();
            loop {
                match lx.next() {
                    Some('\'') => return Ok(value),
                    Some(c) => value.push(c),
                    None => return Err(unterminated('\'')),
                }
            }
        }
        '"' => {
            let mut value = String::new();
            loop {
                match lx.next() {
                    Some('"') => return Ok(value),
                    Some('\\') => {
                        let mapped = match lx.peek() {
                            Some('b') => Some('\u{8}'),
                            Some('t') => Some('\t'),
                            Some('n') => Some('\n'),
                            Some('v') => Some('\u{b}'),
                            Some('f') => Some('\u{c}'),
                            Some('r') => Some('\r'),
                            Some('"') => Some('"'),
                            Some('\\') => Some('\\'),
                            _ => None,
                        };
                        match mapped {
                            Some(c) => {
                                lx.next();
                                value.push(c);
                            }
                            // Unknown escapes stay as written.
                            None => value.push('\\'),
                        }
                    }
                    Some(c) => value.push(c),
                    None => return Err(unterminated('"')),
                }
            }
        }
        _ => {
            let rest = lx.rest_of_line();
            let rest = match rest.find(['#', ';']) {
                Some(i) => &rest[..i],
                None => rest.as_str(),
            };
            let mut value = String::with_capacity(rest.len() + 1);
            value.push(first);
            value.push_str(rest);
            let trimmed = value.trim_end().len();
            value.truncate(trimmed);
            Ok(value)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(text: &str) -> Vec<(String, String)> {
        parse(text)
            .unwrap_or_else(|e| panic!("{text:?}: {e:?}"))
            .into_iter()
            .map(|e| (e.key, e.value))
            .collect()
    }

    fn one(text: &str) -> String {
        let mut v = kv(text);
        assert_eq!(v.len(), 1, "{text:?} -> {v:?}");
        v.remove(0).1
    }

    fn err(text: &str) -> SyntaxError {
        parse(text).expect_err(text)
    }

    #[test]
    fn plain_entries_and_whitespace() {
        assert_eq!(one("port = 9000\n"), "9000");
        assert_eq!(one("port=9000"), "9000");
        assert_eq!(one("  port\t=\t9000   \n"), "9000");
        assert_eq!(one("logfile = /var/log/a b.log  \r\n"), "/var/log/a b.log");
        assert_eq!(
            kv("a = 1\nb = 2\n\n\nc.d_e = 3"),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "2".into()),
                ("c.d_e".into(), "3".into())
            ]
        );
    }

    #[test]
    fn comments_whole_line_and_trailing() {
        assert!(kv("# comment\n; another\n   # indented\n").is_empty());
        assert_eq!(one("# c\nport = 9000 # trailing\n"), "9000");
        assert_eq!(one("port = 9000; trailing\n"), "9000");
        // A ';' inside an unquoted value truncates it.
        assert_eq!(one("proxy = http://a;b\n"), "http://a");
        assert_eq!(one("proxy = a#b\n"), "a");
    }

    #[test]
    fn first_character_of_a_value_is_never_a_comment() {
        assert_eq!(one("pidfile = #x\n"), "#x");
        assert_eq!(one("pidfile = ;x # y\n"), ";x");
    }

    #[test]
    fn empty_values() {
        assert_eq!(one("logfile =\n"), "");
        assert_eq!(one("logfile =   \n"), "");
        assert_eq!(one("logfile ="), "");
        assert_eq!(one("logfile = ''"), "");
        assert_eq!(one("logfile = \"\""), "");
        assert_eq!(
            kv("a =\nb = 2"),
            vec![("a".into(), "".into()), ("b".into(), "2".into())]
        );
    }

    #[test]
    fn single_quotes_are_raw() {
        assert_eq!(one(r"proxy = 'http://u:p#w;d@h'"), "http://u:p#w;d@h");
        assert_eq!(one(r"a = 'x\ny'"), r"x\ny");
        assert_eq!(one("a = 'two\nlines'"), "two\nlines");
        assert_eq!(one("a = '  padded  ' # c"), "  padded  ");
    }

    #[test]
    fn double_quotes_unescape() {
        assert_eq!(
            one(r#"a = "\b\t\n\v\f\r\"\\""#),
            "\u{8}\t\n\u{b}\u{c}\r\"\\"
        );
        assert_eq!(one(r#"a = "x\qy""#), r"x\qy");
        assert_eq!(one(r#"a = "semi;hash#""#), "semi;hash#");
        assert_eq!(one(r#"a = "\\n""#), r"\n");
    }

    #[test]
    fn after_a_closing_quote_only_a_comment_or_next_key_may_follow() {
        assert_eq!(one("a = 'x' # fine\n"), "x");
        assert_eq!(
            kv("a = 'x' b = 'y'"),
            vec![("a".into(), "x".into()), ("b".into(), "y".into())]
        );
        assert!(parse("a = 'x' junk\n").is_err());
    }

    #[test]
    fn key_and_equals_may_be_split_by_whitespace() {
        assert_eq!(one("port\n= 9000"), "9000");
    }

    #[test]
    fn lines_are_counted() {
        let entries = parse("# c\n\nport = 1\n\n  address = 'a\nb'\nx = 3\n").unwrap();
        assert_eq!(
            entries.iter().map(|e| e.line).collect::<Vec<_>>(),
            vec![3, 5, 7]
        );
        assert_eq!(err("a = 1\n\n= 2\n").line, 3);
        assert_eq!(err("a = 1\nb = 'open\n\n").line, 2);
    }

    #[test]
    fn syntax_errors() {
        assert!(err("1port = 2").message.contains("expected a key"));
        assert!(err("_port = 2").message.contains("expected a key"));
        assert!(err("po-rt = 2").message.contains("invalid character '-'"));
        assert!(err("port 9000").message.contains("expected '='"));
        assert!(err("port").message.contains("expected '='"));
        assert!(err("port\n").message.contains("expected '='"));
        assert!(err("a = 'open").message.contains("missing closing quote"));
        assert!(err("a = \"open\\\"")
            .message
            .contains("missing closing quote"));
    }

    #[test]
    fn unicode_letters_are_key_characters() {
        assert_eq!(kv("clé = v"), vec![("clé".into(), "v".into())]);
    }
}
