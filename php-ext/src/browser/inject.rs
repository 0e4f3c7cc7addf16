//! Where the browser scripts go in an HTML page, by New Relic's rules:
//! the header right after the later of an `X-UA-Compatible` or charset
//! `<meta>` tag (they must stay first), else right after `<head …>`, else
//! right before `<body`; the footer right before the last `</body>`.
//! Matching is case-insensitive. Pure text work: no PHP, no agent state.

use regex::bytes::Regex;
use std::sync::OnceLock;

struct Patterns {
    x_ua: Regex,
    charset: Regex,
    head: Regex,
    body: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| {
        // The patterns are constants; a failure to compile is a bug caught
        // by the unit tests, and leaves the page untouched.
        let re = |s: &str| Regex::new(s).unwrap_or_else(|_| Regex::new("$^").expect("trivial"));
        Patterns {
            x_ua: re(r#"(?i)<\s*meta[^>]+http-equiv\s*=\s*['"]x-ua-compatible['"][^>]*>"#),
            charset: re(r"(?i)<\s*meta[^>]+charset\s*=[^>]*>"),
            head: re(r"(?i)<head(\s+[^>]*>|>)"),
            body: re(r"(?i)<body[\s>]"),
        }
    })
}

/// Where the header script goes, as a byte offset; `None` when the text
/// has no place for it (pages shorter than 6 bytes never have).
pub fn header_position(html: &[u8]) -> Option<usize> {
    if html.len() < 6 {
        return None;
    }
    let p = patterns();
    let x_ua = p.x_ua.find(html).map(|m| m.end());
    let charset = p.charset.find(html).map(|m| m.end());
    if x_ua.is_some() || charset.is_some() {
        return x_ua.max(charset);
    }
    if let Some(m) = p.head.find(html) {
        return Some(m.end());
    }
    p.body.find(html).map(|m| m.start())
}

/// Where the footer script goes: before the last `</body>`.
pub fn footer_position(html: &[u8]) -> Option<usize> {
    const TAG: &[u8] = b"</body>";
    if html.len() < TAG.len() {
        return None;
    }
    (0..=html.len() - TAG.len())
        .rev()
        .find(|&i| html[i..i + TAG.len()].eq_ignore_ascii_case(TAG))
}

/// `html` with `insert` strings placed at their offsets (offsets into the
/// original text, in increasing order).
pub fn splice(html: &[u8], inserts: &[(usize, &str)]) -> Vec<u8> {
    let extra: usize = inserts.iter().map(|(_, s)| s.len()).sum();
    let mut out = Vec::with_capacity(html.len() + extra);
    let mut at = 0;
    for (pos, s) in inserts {
        let pos = (*pos).clamp(at, html.len());
        out.extend_from_slice(&html[at..pos]);
        out.extend_from_slice(s.as_bytes());
        at = pos;
    }
    out.extend_from_slice(&html[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(s: &str) -> Option<&str> {
        header_position(s.as_bytes()).map(|p| &s[..p])
    }

    #[test]
    fn header_goes_after_the_meta_tags_head_or_before_body() {
        assert_eq!(
            head("<html><HEAD><title>t</title>").unwrap(),
            "<html><HEAD>"
        );
        assert_eq!(
            head("<html><head lang=\"en\">\n<x>").unwrap(),
            "<html><head lang=\"en\">"
        );
        assert_eq!(
            head("<head><meta charset=\"utf-8\"><script src=a></script>").unwrap(),
            "<head><meta charset=\"utf-8\">"
        );
        assert_eq!(
            head("<head><meta http-equiv=\"X-UA-Compatible\" content=\"IE=edge\"><meta charset=utf-8><title>").unwrap(),
            "<head><meta http-equiv=\"X-UA-Compatible\" content=\"IE=edge\"><meta charset=utf-8>"
        );
        assert_eq!(
            head("<meta charset=utf-8><meta http-equiv='x-ua-compatible' content=x><head>")
                .unwrap(),
            "<meta charset=utf-8><meta http-equiv='x-ua-compatible' content=x>"
        );
        assert_eq!(head("<html><body class=x>hi").unwrap(), "<html>");
        assert_eq!(head("<header>not a head</header>"), None);
        assert_eq!(head("<html>"), None);
        assert_eq!(head("<b>"), None, "too short");
    }

    #[test]
    fn footer_goes_before_the_last_body_close() {
        let s = "<body>a</body> <!-- </BODY> -->";
        assert_eq!(
            footer_position(s.as_bytes()),
            Some(20),
            "the last one, even in a comment"
        );
        assert_eq!(footer_position(b"<body>no close"), None);
        assert_eq!(footer_position(b""), None);
    }

    #[test]
    fn splice_inserts_in_order() {
        let html = b"<head></head><body></body>";
        let out = splice(html, &[(6, "H"), (19, "F")]);
        assert_eq!(out, b"<head>H</head><body>F</body>");
        assert_eq!(splice(b"abc", &[]), b"abc");
    }
}
