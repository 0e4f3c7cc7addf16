//! Server-side naming rules from the connect reply: `url_rules` and
//! `transaction_name_rules` (regex rewrites) and
//! `transaction_segment_terms` (segment allow-lists).
//!
//! Semantics follow the agent: rules are sorted by `eval_order` (stable),
//! matched case-insensitively with `.` matching newlines and `$` only at the
//! very end; a rule either replaces its first match, every match
//! (`replace_all`) or is applied to each `/` segment (`each_segment`);
//! `\N` in the replacement is a capture reference; a matching `ignore` rule
//! drops the transaction; `terminate_chain` stops after a rule that changed
//! the name.

use regex::{Captures, Regex, RegexBuilder};
use serde_json::Value;

/// One compiled rule.
#[derive(Clone, Debug)]
pub struct Rule {
    regex: Regex,
    replacement: String,
    order: i64,
    ignore: bool,
    each_segment: bool,
    replace_all: bool,
    terminate_chain: bool,
}

/// What applying the rules did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleOutcome {
    /// No rule matched.
    Unchanged,
    /// The name was rewritten.
    Changed(String),
    /// An `ignore` rule matched: the transaction must not be reported.
    Ignore,
}

/// An ordered rule set.
#[derive(Clone, Debug, Default)]
pub struct Rules {
    rules: Vec<Rule>,
}

const DEFAULT_ORDER: i64 = 99_999;

fn bool_field(v: &Value, k: &str) -> bool {
    match v.get(k) {
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_i64().is_some_and(|n| n != 0),
        Some(Value::String(s)) => {
            matches!(s.to_ascii_lowercase().as_str(), "true" | "1" | "on" | "yes")
        }
        _ => false,
    }
}

impl Rules {
    /// Builds a rule set from the connect reply's JSON array; malformed
    /// rules are skipped (with a debug log), as the agent does.
    pub fn from_json(v: Option<&Value>) -> Self {
        let Some(Value::Array(items)) = v else {
            return Rules::default();
        };
        let mut rules: Vec<Rule> = items.iter().filter_map(Rule::from_json).collect();
        rules.sort_by_key(|r| r.order);
        Rules { rules }
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Applies the rules to `name`.
    pub fn apply(&self, name: &str) -> RuleOutcome {
        let mut current = name.to_owned();
        let mut changed = false;
        for rule in &self.rules {
            match rule.apply(&current) {
                RuleOutcome::Ignore => return RuleOutcome::Ignore,
                RuleOutcome::Changed(next) => {
                    current = next;
                    changed = true;
                    if rule.terminate_chain {
                        break;
                    }
                }
                RuleOutcome::Unchanged => {}
            }
        }
        if changed {
            RuleOutcome::Changed(current)
        } else {
            RuleOutcome::Unchanged
        }
    }
}

impl Rule {
    fn from_json(v: &Value) -> Option<Rule> {
        let pattern = v.get("match_expression")?.as_str()?;
        if pattern.is_empty() {
            return None;
        }
        let ignore = bool_field(v, "ignore");
        let replacement = match v.get("replacement").and_then(Value::as_str) {
            Some(r) => r.to_owned(),
            None if ignore => String::new(),
            None => return None,
        };
        let regex = match RegexBuilder::new(pattern)
            .case_insensitive(true)
            .dot_matches_new_line(true)
            .build()
        {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(pattern, error = %e, "naming rule does not compile; skipped");
                return None;
            }
        };
        Some(Rule {
            regex,
            replacement,
            order: v
                .get("eval_order")
                .and_then(Value::as_i64)
                .unwrap_or(DEFAULT_ORDER),
            ignore,
            each_segment: bool_field(v, "each_segment"),
            replace_all: bool_field(v, "replace_all"),
            terminate_chain: bool_field(v, "terminate_chain"),
        })
    }

    /// Expands `\N` references the way the agent does: a reference past the
    /// last group is kept literally, a group that did not participate is
    /// empty, and a backslash followed by another character swallows it
    /// (then reads any digits after it as the group number).
    fn expand(&self, caps: &Captures<'_>) -> String {
        let repl = self.replacement.as_bytes();
        let mut out = String::with_capacity(repl.len());
        let mut i = 0;
        while i < repl.len() {
            if repl[i] != b'\\' {
                let ch_len = utf8_len(repl[i]).min(repl.len() - i);
                out.push_str(&self.replacement[i..i + ch_len]);
                i += ch_len;
                continue;
            }
            let mut j = i + 1;
            if j >= repl.len() {
                break;
            }
            if !repl[j].is_ascii_digit() {
                j += utf8_len(repl[j]).min(repl.len() - j);
            }
            let mut num: usize = 0;
            while j < repl.len() && repl[j].is_ascii_digit() {
                num = num
                    .saturating_mul(10)
                    .saturating_add(usize::from(repl[j] - b'0'));
                j += 1;
            }
            if num >= caps.len() {
                out.push('\\');
                out.push_str(&num.to_string());
            } else if let Some(m) = caps.get(num) {
                out.push_str(m.as_str());
            }
            i = j;
        }
        out
    }

    fn apply(&self, s: &str) -> RuleOutcome {
        if self.ignore || !(self.each_segment || self.replace_all) {
            let Some(caps) = self.regex.captures(s) else {
                return RuleOutcome::Unchanged;
            };
            if self.ignore {
                return RuleOutcome::Ignore;
            }
            let m = caps.get(0).map_or(0..0, |m| m.range());
            let mut out = String::with_capacity(s.len());
            out.push_str(&s[..m.start]);
            out.push_str(&self.expand(&caps));
            out.push_str(&s[m.end..]);
            return RuleOutcome::Changed(out);
        }
        if self.each_segment {
            let body = s.strip_prefix('/').unwrap_or(s);
            let mut out = String::with_capacity(s.len());
            let mut changed = false;
            for seg in body.split('/') {
                out.push('/');
                match self.regex.captures(seg) {
                    Some(caps) => {
                        changed = true;
                        out.push_str(&self.expand(&caps));
                    }
                    None => out.push_str(seg),
                }
            }
            // The agent rewrites the string even when nothing matched (its
            // segment loop always re-emits a leading '/').
            return if changed {
                RuleOutcome::Changed(out)
            } else {
                RuleOutcome::Unchanged
            };
        }
        let mut out = String::with_capacity(s.len());
        let mut last = 0;
        let mut changed = false;
        for caps in self.regex.captures_iter(s) {
            let Some(m) = caps.get(0) else { continue };
            changed = true;
            out.push_str(&s[last..m.start()]);
            out.push_str(&self.expand(&caps));
            last = m.end();
        }
        if !changed {
            return RuleOutcome::Unchanged;
        }
        out.push_str(&s[last..]);
        RuleOutcome::Changed(out)
    }
}

fn utf8_len(first: u8) -> usize {
    match first {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xff => 4,
        _ => 1,
    }
}

/// One `transaction_segment_terms` entry.
#[derive(Clone, Debug)]
struct TermRule {
    /// Prefix with a trailing `/` (exactly two segments).
    prefix: String,
    /// Allowed terms, lower-cased.
    terms: Vec<String>,
}

/// The `transaction_segment_terms` rules.
#[derive(Clone, Debug, Default)]
pub struct SegmentTerms {
    rules: Vec<TermRule>,
}

impl SegmentTerms {
    /// Parses the connect reply's array; an invalid entry discards all of
    /// them, as the agent does.
    pub fn from_json(v: Option<&Value>) -> Self {
        let Some(Value::Array(items)) = v else {
            return SegmentTerms::default();
        };
        let mut rules = Vec::with_capacity(items.len());
        for item in items {
            let prefix = item
                .get("prefix")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let Some(Value::Array(terms)) = item.get("terms") else {
                return SegmentTerms::default();
            };
            if prefix.is_empty() {
                return SegmentTerms::default();
            }
            let prefix = if prefix.ends_with('/') {
                prefix.to_owned()
            } else {
                format!("{prefix}/")
            };
            if prefix.matches('/').count() != 2 {
                return SegmentTerms::default();
            }
            let terms = terms
                .iter()
                .filter_map(Value::as_str)
                .filter(|t| !t.is_empty())
                .map(str::to_lowercase)
                .collect();
            rules.push(TermRule { prefix, terms });
        }
        SegmentTerms { rules }
    }

    /// Rewrites `name` with the last rule whose prefix matches: segments
    /// after the prefix that do not start with an allowed term become `*`,
    /// and runs of `*` collapse into one.
    pub fn apply(&self, name: &str) -> String {
        for rule in self.rules.iter().rev() {
            if let Some(out) = rule.apply(name) {
                return out;
            }
        }
        name.to_owned()
    }
}

impl TermRule {
    fn apply(&self, name: &str) -> Option<String> {
        let plen = self.prefix.len();
        if name.len() < plen
            || !name.is_char_boundary(plen)
            || !name[..plen].eq_ignore_ascii_case(&self.prefix)
        {
            return None;
        }
        let rest = &name[plen..];
        if rest.is_empty() {
            return Some(name.to_owned());
        }
        let mut out = String::with_capacity(name.len());
        out.push_str(&name[..plen]);
        let mut previous_replaced = false;
        for (i, seg) in rest.split('/').enumerate() {
            let lower = seg.to_lowercase();
            let allowed =
                !seg.is_empty() && self.terms.iter().any(|t| lower.starts_with(t.as_str()));
            if !allowed {
                if !previous_replaced {
                    if i > 0 {
                        out.push('/');
                    }
                    out.push('*');
                }
                previous_replaced = true;
                continue;
            }
            if i > 0 {
                out.push('/');
            }
            out.push_str(seg);
            previous_replaced = false;
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn first_match_replacement_with_captures() {
        let rules = Rules::from_json(Some(&json!([
            {"match_expression": "^/users/([0-9]+)", "replacement": "/users/*\\9\\1", "eval_order": 1}
        ])));
        assert_eq!(
            rules.apply("/USERS/42/edit"),
            RuleOutcome::Changed("/users/*\\942/edit".into())
        );
        assert_eq!(rules.apply("/other"), RuleOutcome::Unchanged);
    }

    #[test]
    fn replace_all_each_segment_ignore_and_order() {
        let rules = Rules::from_json(Some(&json!([
            {"match_expression": "[0-9]+", "replacement": "N", "replace_all": true, "eval_order": 2},
            {"match_expression": "^x.*", "replacement": "y", "each_segment": true, "eval_order": 1},
        ])));
        assert_eq!(
            rules.apply("/x1/a2b3"),
            RuleOutcome::Changed("/y/aNbN".into())
        );
        let ignore = Rules::from_json(Some(&json!([
            {"match_expression": "health", "ignore": true}
        ])));
        assert_eq!(ignore.apply("/healthcheck"), RuleOutcome::Ignore);
    }

    #[test]
    fn terminate_chain_stops_after_a_change() {
        let rules = Rules::from_json(Some(&json!([
            {"match_expression": "a", "replacement": "b", "eval_order": 1, "terminate_chain": true},
            {"match_expression": "b", "replacement": "c", "eval_order": 2},
        ])));
        assert_eq!(rules.apply("a"), RuleOutcome::Changed("b".into()));
        assert_eq!(rules.apply("b"), RuleOutcome::Changed("c".into()));
    }

    #[test]
    fn bad_rules_are_skipped() {
        let rules = Rules::from_json(Some(&json!([
            {"match_expression": "(", "replacement": "x"},
            {"match_expression": "a"},
            {"replacement": "a"},
        ])));
        assert!(rules.is_empty());
    }

    #[test]
    fn segment_terms_collapse_unknown_segments() {
        let terms = SegmentTerms::from_json(Some(&json!([
            {"prefix": "WebTransaction/Custom", "terms": ["one", "two"]}
        ])));
        assert_eq!(
            terms.apply("WebTransaction/Custom/one/x/y/two/z"),
            "WebTransaction/Custom/one/*/two/*"
        );
        assert_eq!(terms.apply("WebTransaction/Uri/a"), "WebTransaction/Uri/a");
        assert_eq!(
            terms.apply("WebTransaction/Custom/"),
            "WebTransaction/Custom/"
        );
        assert!(
            SegmentTerms::from_json(Some(&json!([{"prefix": "a/b/c", "terms": []}])))
                .rules
                .is_empty()
        );
    }
}
