//! Where the browser scripts go in an HTML page, by New Relic's rules:
//! the header right after the later of an `X-UA-Compatible` or charset
//! `<meta>` tag (they must stay first), else right after `<head …>`, else
//! right before `<body`; the footer right before the last `</body>`.
//! Matching is case-insensitive. Pure text work: no PHP, no agent state.

/// PCRE's `\s` (New Relic compiles its patterns with PCRE): ASCII
/// whitespace, vertical tab included.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// Whether `html[at..]` starts with `word`, ignoring ASCII case.
fn has_at(html: &[u8], at: usize, word: &[u8]) -> bool {
    html.get(at..at + word.len())
        .is_some_and(|s| s.eq_ignore_ascii_case(word))
}

fn skip_spaces(html: &[u8], mut at: usize) -> usize {
    while html.get(at).copied().is_some_and(is_space) {
        at += 1;
    }
    at
}

/// The first `>` at or after `from`.
fn close_of(html: &[u8], from: usize) -> Option<usize> {
    html.get(from..)?
        .iter()
        .position(|&b| b == b'>')
        .map(|p| from + p)
}

/// The end (after its `>`) of the first tag matching
/// `<\s*meta[^>]+REST[^>]*>`, where `rest` says whether REST matches at a
/// position and where it ends; `None` when no tag does.
fn meta_tag_end(html: &[u8], rest: impl Fn(&[u8], usize) -> Option<usize>) -> Option<usize> {
    let mut i = 0;
    while let Some(p) = html.get(i..)?.iter().position(|&b| b == b'<') {
        let lt = i + p;
        i = lt + 1;
        let name = skip_spaces(html, lt + 1);
        if !has_at(html, name, b"meta") {
            continue;
        }
        let after = name + 4;
        // No `>` after this tag's name: none after any later one either.
        let close = close_of(html, after)?;
        // `[^>]+`: at least one byte of the tag before REST, which must
        // end inside the tag.
        if (after + 1..close).any(|at| rest(html, at).is_some_and(|end| end <= close)) {
            return Some(close + 1);
        }
    }
    None
}

/// `charset\s*=` at `at`: where it ends.
fn charset_at(html: &[u8], at: usize) -> Option<usize> {
    if !has_at(html, at, b"charset") {
        return None;
    }
    let eq = skip_spaces(html, at + 7);
    (html.get(eq) == Some(&b'=')).then_some(eq + 1)
}

/// `http-equiv\s*=\s*['"]x-ua-compatible['"]` at `at`: where it ends.
fn x_ua_at(html: &[u8], at: usize) -> Option<usize> {
    if !has_at(html, at, b"http-equiv") {
        return None;
    }
    let eq = skip_spaces(html, at + 10);
    if html.get(eq) != Some(&b'=') {
        return None;
    }
    let quote = skip_spaces(html, eq + 1);
    let is_quote = |b: Option<&u8>| matches!(b, Some(b'\'' | b'"'));
    if !is_quote(html.get(quote)) || !has_at(html, quote + 1, b"x-ua-compatible") {
        return None;
    }
    let end = quote + 1 + 15;
    is_quote(html.get(end)).then_some(end + 1)
}

/// The end of the first `<head>` or `<head …>` tag.
fn head_end(html: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(p) = html.get(i..)?.iter().position(|&b| b == b'<') {
        let lt = i + p;
        i = lt + 1;
        if !has_at(html, lt + 1, b"head") {
            continue;
        }
        match html.get(lt + 5) {
            Some(b'>') => return Some(lt + 6),
            Some(&b) if is_space(b) => {
                if let Some(close) = close_of(html, lt + 6) {
                    return Some(close + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// The start of the first `<body` followed by whitespace or `>`.
fn body_start(html: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(p) = html.get(i..)?.iter().position(|&b| b == b'<') {
        let lt = i + p;
        i = lt + 1;
        if has_at(html, lt + 1, b"body")
            && html.get(lt + 5).is_some_and(|&b| b == b'>' || is_space(b))
        {
            return Some(lt);
        }
    }
    None
}

/// Where the header script goes, as a byte offset; `None` when the text
/// has no place for it (pages shorter than 6 bytes never have).
pub fn header_position(html: &[u8]) -> Option<usize> {
    if html.len() < 6 {
        return None;
    }
    let x_ua = meta_tag_end(html, x_ua_at);
    let charset = meta_tag_end(html, charset_at);
    if x_ua.is_some() || charset.is_some() {
        return x_ua.max(charset);
    }
    head_end(html).or_else(|| body_start(html))
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
    fn hand_matching_follows_the_patterns() {
        // `[^>]+` needs a byte between `meta` and `charset`.
        assert_eq!(
            head("<metacharset=x><head>").unwrap(),
            "<metacharset=x><head>"
        );
        assert_eq!(
            head("< META  Charset = x >z").unwrap(),
            "< META  Charset = x >"
        );
        // Anywhere in the tag, even inside another attribute.
        assert_eq!(
            head("<meta name=a content=\"charset=x\"><p>").unwrap(),
            "<meta name=a content=\"charset=x\">"
        );
        // Not across a `>`.
        assert_eq!(head("<meta name=a>charset=x<p>"), None);
        assert_eq!(
            head("<meta http-equiv = \"X-UA-Compatible\" content=x>").unwrap(),
            "<meta http-equiv = \"X-UA-Compatible\" content=x>"
        );
        assert_eq!(
            head("<meta http-equiv=x-ua-compatible><p>"),
            None,
            "quotes required"
        );
        assert_eq!(head("<head\tid=x>a").unwrap(), "<head\tid=x>");
        assert_eq!(head("<head id=x"), None, "an unclosed head tag");
        assert_eq!(head("<bodyx><body>").unwrap(), "<bodyx>");
        assert_eq!(head("<body\n>x").unwrap(), "");
        assert_eq!(head("<meta charset=x"), None, "an unclosed meta tag");
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
