//! `metric_name_rules` from the connect reply, applied to metric names when
//! `metric_data` is built (protocol.md §4.4).
//!
//! Behaviour follows New Relic's Go daemon, quirks included:
//! * every expression is compiled case-insensitively;
//! * Perl-style `\N` back-references in the replacement become `${N}`; a
//!   rule whose replacement contains `\\N` (escaped backslash before digits)
//!   is ambiguous and skipped, as is a rule whose expression does not compile;
//! * rules run in ascending `eval_order` (stable for equal orders);
//! * `ignore: true` turns a matching name into `""` (it does not drop the
//!   metric), and only a non-empty match counts;
//! * `replace_all` replaces every match; `each_segment` splits on `/` and
//!   replaces the first match in each segment; otherwise only the first
//!   match is replaced — by running the replacement over the matched text
//!   alone, so anchors in the expression see only that text;
//! * `terminate_chain` stops after a rule that matched.

use regex::Regex;
use serde_json::Value;

/// Why a `metric_name_rules` value was rejected as a whole. (One bad rule is
/// skipped with a warning instead; the daemon then runs with no rules, as Go
/// does when unmarshalling fails.)
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RulesError {
    /// The value is not an array (or null).
    #[error("metric_name_rules is not an array")]
    NotAnArray,
    /// A rule is not an object.
    #[error("metric_name_rules[{0}] is not an object")]
    NotAnObject(usize),
    /// A field has the wrong JSON type.
    #[error("metric_name_rules[{index}].{field} has the wrong type")]
    WrongType {
        /// Rule index.
        index: usize,
        /// Field name.
        field: &'static str,
    },
}

/// The result of applying rules to a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleOutcome {
    /// No rule matched; the name is unchanged.
    Unmatched,
    /// At least one rule matched.
    Matched,
    /// An `ignore` rule matched; the name became `""`.
    Ignored,
}

#[derive(Debug, Clone)]
struct Rule {
    re: Regex,
    /// Replacement in `regex` syntax (`${N}`).
    replacement: String,
    ignore: bool,
    each_segment: bool,
    replace_all: bool,
    terminate: bool,
    order: i64,
}

/// An ordered, compiled set of metric name rules.
#[derive(Debug, Clone, Default)]
pub struct MetricRules {
    rules: Vec<Rule>,
}

fn field<'a>(obj: &'a serde_json::Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.get(name).filter(|v| !v.is_null())
}

fn bool_field(
    obj: &serde_json::Map<String, Value>,
    index: usize,
    name: &'static str,
) -> Result<bool, RulesError> {
    match field(obj, name) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(RulesError::WrongType { index, field: name }),
    }
}

fn str_field<'a>(
    obj: &'a serde_json::Map<String, Value>,
    index: usize,
    name: &'static str,
) -> Result<&'a str, RulesError> {
    match field(obj, name) {
        None => Ok(""),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(RulesError::WrongType { index, field: name }),
    }
}

/// True when `s` holds `\\` immediately followed by a digit: Go cannot tell
/// an escaped backslash from a back-reference there and skips the rule.
fn ambiguous_replacement(s: &str) -> bool {
    s.as_bytes()
        .windows(3)
        .any(|w| w[0] == b'\\' && w[1] == b'\\' && w[2].is_ascii_digit())
}

/// Rewrites `\N` back-references as `${N}` (everything else is kept).
fn transform_replacement(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len() + 4);
    let mut i = 0;
    let mut start = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
            out.push_str(&s[start..i]);
            let digits_start = i + 1;
            let mut j = digits_start;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            out.push_str("${");
            out.push_str(&s[digits_start..j]);
            out.push('}');
            i = j;
            start = j;
        } else {
            i += 1;
        }
    }
    out.push_str(&s[start..]);
    out
}

impl MetricRules {
    /// No rules: names pass through unchanged.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Parses the connect reply's `metric_name_rules` value (`null` means no
    /// rules). Rules that cannot be compiled are skipped with a warning.
    pub fn from_json(value: &Value) -> Result<Self, RulesError> {
        let items = match value {
            Value::Null => return Ok(Self::empty()),
            Value::Array(items) => items,
            _ => return Err(RulesError::NotAnArray),
        };
        let mut rules = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let obj = match item {
                // Go unmarshals a null element into a zero rule, which
                // matches everything with an empty expression.
                Value::Null => &serde_json::Map::new(),
                Value::Object(o) => o,
                _ => return Err(RulesError::NotAnObject(index)),
            };
            let expr = str_field(obj, index, "match_expression")?;
            let replacement = str_field(obj, index, "replacement")?;
            let order = match field(obj, "eval_order") {
                None => 0,
                Some(v) => v.as_i64().ok_or(RulesError::WrongType {
                    index,
                    field: "eval_order",
                })?,
            };
            let ignore = bool_field(obj, index, "ignore")?;
            let each_segment = bool_field(obj, index, "each_segment")?;
            let replace_all = bool_field(obj, index, "replace_all")?;
            let terminate = bool_field(obj, index, "terminate_chain")?;
            let re = match Regex::new(&format!("(?i){expr}")) {
                Ok(re) => re,
                Err(e) => {
                    tracing::warn!(expr, error = %e, "unable to compile metric name rule");
                    continue;
                }
            };
            if ambiguous_replacement(replacement) {
                tracing::warn!(
                    expr,
                    replacement,
                    "unable to transform metric rule replacement"
                );
                continue;
            }
            rules.push(Rule {
                re,
                replacement: transform_replacement(replacement),
                ignore,
                each_segment,
                replace_all,
                terminate,
                order,
            });
        }
        rules.sort_by_key(|r| r.order);
        Ok(MetricRules { rules })
    }

    /// True when there is nothing to apply.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Number of usable rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Applies the rules to `name`.
    pub fn apply(&self, name: &str) -> (RuleOutcome, String) {
        let mut s = name.to_owned();
        let mut matched = false;
        for rule in &self.rules {
            let (outcome, out) = rule.apply(&s);
            s = out;
            match outcome {
                RuleOutcome::Ignored => return (RuleOutcome::Ignored, String::new()),
                RuleOutcome::Matched => {
                    matched = true;
                    if rule.terminate {
                        break;
                    }
                }
                RuleOutcome::Unmatched => {}
            }
        }
        let outcome = if matched {
            RuleOutcome::Matched
        } else {
            RuleOutcome::Unmatched
        };
        (outcome, s)
    }
}

impl Rule {
    fn replace_first(&self, s: &str) -> (RuleOutcome, String) {
        let Some(m) = self.re.find(s) else {
            return (RuleOutcome::Unmatched, s.to_owned());
        };
        let replaced = self.re.replace_all(m.as_str(), self.replacement.as_str());
        let mut out = String::with_capacity(s.len() + replaced.len());
        out.push_str(&s[..m.start()]);
        out.push_str(&replaced);
        out.push_str(&s[m.end()..]);
        (RuleOutcome::Matched, out)
    }

    fn apply(&self, s: &str) -> (RuleOutcome, String) {
        if self.ignore {
            return match self.re.find(s) {
                Some(m) if !m.as_str().is_empty() => (RuleOutcome::Ignored, String::new()),
                _ => (RuleOutcome::Unmatched, s.to_owned()),
            };
        }
        if self.replace_all {
            if self.re.is_match(s) {
                let out = self.re.replace_all(s, self.replacement.as_str());
                return (RuleOutcome::Matched, out.into_owned());
            }
            return (RuleOutcome::Unmatched, s.to_owned());
        }
        if self.each_segment {
            let mut result = RuleOutcome::Unmatched;
            let mut out = String::with_capacity(s.len());
            for (i, segment) in s.split('/').enumerate() {
                if i > 0 {
                    out.push('/');
                }
                let (r, seg) = self.replace_first(segment);
                if r == RuleOutcome::Matched {
                    result = RuleOutcome::Matched;
                }
                out.push_str(&seg);
            }
            return (result, out);
        }
        self.replace_first(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules(v: Value) -> MetricRules {
        MetricRules::from_json(&v).unwrap()
    }

    fn apply(r: &MetricRules, s: &str) -> String {
        r.apply(s).1
    }

    #[test]
    fn null_and_empty_mean_no_rules() {
        assert!(rules(Value::Null).is_empty());
        assert!(rules(json!([])).is_empty());
        let (outcome, out) = MetricRules::empty().apply("hello");
        assert_eq!((outcome, out.as_str()), (RuleOutcome::Unmatched, "hello"));
    }

    #[test]
    fn malformed_input_is_an_error() {
        assert_eq!(
            MetricRules::from_json(&json!({})).unwrap_err(),
            RulesError::NotAnArray
        );
        assert_eq!(
            MetricRules::from_json(&json!([1])).unwrap_err(),
            RulesError::NotAnObject(0)
        );
        assert_eq!(
            MetricRules::from_json(&json!([{"match_expression": 3}])).unwrap_err(),
            RulesError::WrongType {
                index: 0,
                field: "match_expression"
            }
        );
        assert!(MetricRules::from_json(&json!([{"eval_order": 1.5}])).is_err());
    }

    #[test]
    fn first_match_replacement_is_case_insensitive() {
        let r = rules(json!([{"match_expression": "users", "replacement": "u", "eval_order": 0}]));
        assert_eq!(apply(&r, "Datastore/USERS/users"), "Datastore/u/users");
        assert_eq!(r.apply("none").0, RuleOutcome::Unmatched);
    }

    #[test]
    fn backreferences_are_rewritten() {
        let r = rules(json!([{
            "match_expression": "^(WebTransaction)/([^/]+)/.*$",
            "replacement": "\\1/\\2/*",
            "replace_all": true,
        }]));
        assert_eq!(apply(&r, "WebTransaction/Uri/a/b"), "WebTransaction/Uri/*");
        assert_eq!(transform_replacement("\\12x\\"), "${12}x\\");
    }

    #[test]
    fn ambiguous_replacement_skips_the_rule() {
        let r = rules(json!([{
            "match_expression": "(.*)/[^/]*.(bmp|css|gif|ico|jpg|jpeg|js|png)",
            "replacement": "\\\\1/*.\\2",
        }]));
        assert!(r.is_empty());
    }

    #[test]
    fn uncompilable_expression_skips_the_rule() {
        let r = rules(json!([
            {"match_expression": "^(?!account|application).*", "replacement": "*", "each_segment": true},
            {"match_expression": "a", "replacement": "b"},
        ]));
        assert_eq!(r.len(), 1);
        assert_eq!(apply(&r, "xa"), "xb");
    }

    #[test]
    fn ignore_renames_to_empty_only_on_non_empty_match() {
        let r = rules(json!([{"match_expression": "^Custom/", "ignore": true}]));
        assert_eq!(r.apply("Custom/x"), (RuleOutcome::Ignored, String::new()));
        assert_eq!(apply(&r, "Other/x"), "Other/x");
        let empty_match = rules(json!([{"match_expression": "z*", "ignore": true}]));
        assert_eq!(empty_match.apply("abc").0, RuleOutcome::Unmatched);
    }

    #[test]
    fn eval_order_and_terminate_chain() {
        let r = rules(json!([
            {"match_expression": "b", "replacement": "c", "eval_order": 2},
            {"match_expression": "a", "replacement": "b", "eval_order": 1},
        ]));
        assert_eq!(apply(&r, "a"), "c");
        let t = rules(json!([
            {"match_expression": "b", "replacement": "c", "eval_order": 2},
            {"match_expression": "a", "replacement": "b", "eval_order": 1, "terminate_chain": true},
        ]));
        assert_eq!(apply(&t, "a"), "b");
        // A terminating rule that does not match does not stop the chain.
        assert_eq!(apply(&t, "b"), "c");
    }

    #[test]
    fn each_segment_replaces_first_match_per_segment() {
        let r = rules(
            json!([{"match_expression": "[0-9]+", "replacement": "*", "each_segment": true}]),
        );
        assert_eq!(apply(&r, "a/12/b3c4/x"), "a/*/b*c4/x");
        assert_eq!(r.apply("a/b").0, RuleOutcome::Unmatched);
    }

    #[test]
    fn replace_all_vs_first() {
        let all =
            rules(json!([{"match_expression": "[0-9]", "replacement": "#", "replace_all": true}]));
        assert_eq!(apply(&all, "a1b2"), "a#b#");
        let first = rules(json!([{"match_expression": "[0-9]", "replacement": "#"}]));
        assert_eq!(apply(&first, "a1b2"), "a#b2");
    }

    /// Quirk: the replacement runs over the matched text alone, so `^` in
    /// the expression anchors to the start of the match.
    #[test]
    fn first_match_replacement_sees_only_the_match() {
        let r = rules(json!([{"match_expression": "x+", "replacement": "<$0>"}]));
        assert_eq!(apply(&r, "axxb"), "a<xx>b");
    }

    #[test]
    fn equal_orders_keep_input_order() {
        let r = rules(json!([
            {"match_expression": "a", "replacement": "b"},
            {"match_expression": "b", "replacement": "c"},
        ]));
        assert_eq!(apply(&r, "a"), "c");
    }
}
